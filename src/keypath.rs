//! Structured keys: [`KeyPath`], a path of byte segments (`users/1/name`) with an
//! order-preserving byte encoding, and [`OrderedInt`], order-preserving encodings of integers.
//!
//! # The encoding
//!
//! Each segment is written byte for byte, except that a `0x00` byte becomes `0x00 0xFF`, and
//! every segment ends with the terminator `0x00 0x01`. Comparing two encodings as plain bytes
//! (which is how folio orders keys) then gives exactly the order of the paths compared as
//! tuples of byte strings:
//!
//! * inside a segment, ordinary bytes compare as themselves, and an escaped `0x00` (`00 FF`)
//!   still sorts below every byte from `0x01` up;
//! * a segment that ends sorts before any longer segment with the same start, because the
//!   terminator `00 01` sorts below both an ordinary byte and an escaped `00 FF`;
//! * so `users/1/...` (any length) sorts before `users/10` and before `users/2`, and the
//!   encoding of a path is a byte prefix of the encoding of every path below it: a prefix scan
//!   over [`KeyPath::prefix_bytes`] returns the path itself and all of its descendants.
//!
//! # The text form
//!
//! [`Display`](fmt::Display) joins segments with `/`. Inside a segment, `/`, `%`, control
//! characters and bytes that are not valid UTF-8 are written as `%XX` (two uppercase hex
//! digits); everything else is written as is. [`KeyPath::parse`] reverses it. One ambiguity
//! is left: the empty path and the path holding one empty segment both display as the empty
//! string, which parses as the empty path.

use std::fmt;
use std::str::FromStr;

/// Escape byte: introduces an escaped `0x00` or a segment terminator.
const ESC: u8 = 0x00;
/// Follows [`ESC`] for a literal `0x00` inside a segment.
const ESC_ZERO: u8 = 0xFF;
/// Follows [`ESC`] to end a segment.
const ESC_END: u8 = 0x01;

/// A malformed encoded key path, integer or text path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPathError {
    /// Byte offset in the input where decoding failed.
    pub offset: usize,
    /// What was wrong there.
    pub reason: &'static str,
}

impl fmt::Display for KeyPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed key path at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for KeyPathError {}

impl From<KeyPathError> for crate::Error {
    fn from(e: KeyPathError) -> Self {
        crate::Error::InvalidArgument(e.to_string())
    }
}

fn malformed<T>(offset: usize, reason: &'static str) -> Result<T, KeyPathError> {
    Err(KeyPathError { offset, reason })
}

/// A key made of segments, like `users/1/name`, that encodes to bytes in tuple order.
///
/// ```
/// use folio::{Database, KeyPath, OrderedInt};
///
/// # fn main() -> folio::Result<()> {
/// let db = Database::memory()?;
/// let name = KeyPath::from(["users", "1", "name"]);
/// assert_eq!(name.to_string(), "users/1/name");
/// db.put(&name.to_bytes(), b"Ada")?;
/// db.put(&KeyPath::from(["users", "1", "email"]).to_bytes(), b"ada@example.com")?;
/// db.put(&KeyPath::from(["users", "10", "name"]).to_bytes(), b"Grace")?;
///
/// // Everything under users/1, and nothing under users/10.
/// let rx = db.begin_read()?;
/// let user1 = KeyPath::from(["users", "1"]);
/// let mut fields = Vec::new();
/// for item in rx.prefix(&user1.prefix_bytes())? {
///     let (key, _) = item?;
///     fields.push(KeyPath::decode(key)?.to_string());
/// }
/// assert_eq!(fields, ["users/1/email", "users/1/name"]);
///
/// // Integers as segments keep numeric order.
/// let a = KeyPath::from(["orders"]).child(9u64.to_ordered_bytes());
/// let b = KeyPath::from(["orders"]).child(10u64.to_ordered_bytes());
/// assert!(a.to_bytes() < b.to_bytes());
/// assert_eq!(b.segment_as::<u64>(1)?, 10);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyPath {
    segments: Vec<Vec<u8>>,
}

impl KeyPath {
    /// The empty path (no segments); its encoding is empty and prefixes every path.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    /// Whether the path has no segments.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The segments, in order.
    pub fn segments(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        self.segments.iter().map(Vec::as_slice)
    }

    /// Segment `i`, if the path has that many.
    pub fn segment(&self, i: usize) -> Option<&[u8]> {
        self.segments.get(i).map(Vec::as_slice)
    }

    /// Segment `i` decoded as an integer written with [`OrderedInt::to_ordered_bytes`].
    ///
    /// # Errors
    ///
    /// [`KeyPathError`] if there is no segment `i` or it is not the encoding of a `T`.
    pub fn segment_as<T: OrderedInt>(&self, i: usize) -> Result<T, KeyPathError> {
        match self.segment(i) {
            Some(seg) => T::from_ordered_bytes(seg),
            None => malformed(0, "the path has no segment at that index"),
        }
    }

    /// Appends a segment.
    pub fn push(&mut self, segment: impl AsRef<[u8]>) {
        self.segments.push(segment.as_ref().to_vec());
    }

    /// Removes and returns the last segment.
    pub fn pop(&mut self) -> Option<Vec<u8>> {
        self.segments.pop()
    }

    /// This path with one more segment (a builder-style [`push`](Self::push)).
    pub fn child(mut self, segment: impl AsRef<[u8]>) -> Self {
        self.push(segment);
        self
    }

    /// The path without its last segment (`None` for the empty path).
    pub fn parent(&self) -> Option<KeyPath> {
        let n = self.segments.len().checked_sub(1)?;
        Some(KeyPath { segments: self.segments[..n].to_vec() })
    }

    /// Whether `ancestor`'s segments begin this path (a path starts with itself).
    pub fn starts_with(&self, ancestor: &KeyPath) -> bool {
        self.segments.starts_with(&ancestor.segments)
    }

    /// Appends the encoding of this path to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        for seg in &self.segments {
            for &b in seg {
                out.push(b);
                if b == ESC {
                    out.push(ESC_ZERO);
                }
            }
            out.extend_from_slice(&[ESC, ESC_END]);
        }
    }

    /// The order-preserving encoding: use it as a key with any get, put or range call.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.segments.iter().map(|s| s.len() + 2).sum());
        self.encode_into(&mut out);
        out
    }

    /// The bytes that begin the encoding of this path and of every path below it, for
    /// `prefix` scans. (It equals [`to_bytes`](Self::to_bytes): the encoding is built so that
    /// a path's bytes prefix its descendants' and no one else's.)
    pub fn prefix_bytes(&self) -> Vec<u8> {
        self.to_bytes()
    }

    /// Decodes bytes written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    ///
    /// [`KeyPathError`] if the bytes are not a key path's encoding (a bad escape, or a segment that does not end).
    pub fn decode(bytes: &[u8]) -> Result<KeyPath, KeyPathError> {
        let mut segments = Vec::new();
        let mut seg = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b != ESC {
                seg.push(b);
                i += 1;
                continue;
            }
            match bytes.get(i + 1) {
                Some(&ESC_ZERO) => seg.push(0),
                Some(&ESC_END) => segments.push(std::mem::take(&mut seg)),
                Some(_) => return malformed(i + 1, "0x00 must be followed by 0x01 or 0xFF"),
                None => return malformed(i, "input ends inside an escape"),
            }
            i += 2;
        }
        if !seg.is_empty() {
            return malformed(bytes.len(), "the last segment has no terminator");
        }
        Ok(KeyPath { segments })
    }

    /// Parses the text form written by `Display` (`users/1/name`, `%XX` escapes).
    ///
    /// # Errors
    ///
    /// [`KeyPathError`] if a `%` escape is not two hex digits.
    pub fn parse(text: &str) -> Result<KeyPath, KeyPathError> {
        if text.is_empty() {
            return Ok(KeyPath::new());
        }
        let mut segments = Vec::new();
        let mut offset = 0;
        for part in text.split('/') {
            segments.push(unescape_segment(part.as_bytes(), offset)?);
            offset += part.len() + 1;
        }
        Ok(KeyPath { segments })
    }
}

fn unescape_segment(part: &[u8], base: usize) -> Result<Vec<u8>, KeyPathError> {
    let mut out = Vec::with_capacity(part.len());
    let mut i = 0;
    while i < part.len() {
        if part[i] != b'%' {
            out.push(part[i]);
            i += 1;
            continue;
        }
        let hex = part.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) => out.push(b),
            None => return malformed(base + i, "'%' must be followed by two hex digits"),
        }
        i += 3;
    }
    Ok(out)
}

fn write_segment(f: &mut fmt::Formatter<'_>, seg: &[u8]) -> fmt::Result {
    for chunk in seg.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '/' || c == '%' || c.is_control() {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    write!(f, "%{b:02X}")?;
                }
            } else {
                write!(f, "{c}")?;
            }
        }
        for b in chunk.invalid() {
            write!(f, "%{b:02X}")?;
        }
    }
    Ok(())
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            write_segment(f, seg)?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPath({:?})", self.to_string())
    }
}

impl FromStr for KeyPath {
    type Err = KeyPathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyPath::parse(s)
    }
}

impl<S: AsRef<[u8]>, const N: usize> From<[S; N]> for KeyPath {
    fn from(segments: [S; N]) -> Self {
        segments.into_iter().collect()
    }
}

impl<S: AsRef<[u8]>, const N: usize> From<&[S; N]> for KeyPath {
    fn from(segments: &[S; N]) -> Self {
        segments.iter().collect()
    }
}

impl<S: AsRef<[u8]>> From<&[S]> for KeyPath {
    fn from(segments: &[S]) -> Self {
        segments.iter().collect()
    }
}

impl<S: AsRef<[u8]>> From<Vec<S>> for KeyPath {
    fn from(segments: Vec<S>) -> Self {
        segments.into_iter().collect()
    }
}

impl<S: AsRef<[u8]>> FromIterator<S> for KeyPath {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        KeyPath { segments: iter.into_iter().map(|s| s.as_ref().to_vec()).collect() }
    }
}

impl<S: AsRef<[u8]>> Extend<S> for KeyPath {
    fn extend<I: IntoIterator<Item = S>>(&mut self, iter: I) {
        self.segments.extend(iter.into_iter().map(|s| s.as_ref().to_vec()));
    }
}

/// Integers encoded so that byte order equals numeric order: big-endian, with the sign bit
/// flipped for signed types (so negative numbers sort before positive ones).
///
/// Use them as whole keys or as [`KeyPath`] segments:
///
/// ```
/// use folio::OrderedInt;
///
/// assert!((-5i64).to_ordered_bytes() < 3i64.to_ordered_bytes());
/// assert!(255u32.to_ordered_bytes() < 256u32.to_ordered_bytes());
/// assert_eq!(i32::from_ordered_bytes(&(-7i32).to_ordered_bytes()), Ok(-7));
/// assert!(u64::from_ordered_bytes(b"short").is_err());
/// ```
pub trait OrderedInt: Sized + Copy {
    /// The encoded form (a fixed-size byte array).
    type Bytes: AsRef<[u8]> + Copy;
    /// Encodes `self` in order-preserving bytes.
    fn to_ordered_bytes(self) -> Self::Bytes;
    /// Decodes bytes written by [`to_ordered_bytes`](Self::to_ordered_bytes); the length
    /// must match exactly.
    ///
    /// # Errors
    ///
    /// [`KeyPathError`] if `bytes` is not the encoding of a `Self` (wrong length).
    fn from_ordered_bytes(bytes: &[u8]) -> Result<Self, KeyPathError>;
}

macro_rules! ordered_int {
    ($($t:ty, $flip:expr);* $(;)?) => {$(
        impl OrderedInt for $t {
            type Bytes = [u8; size_of::<$t>()];
            fn to_ordered_bytes(self) -> Self::Bytes {
                (self ^ $flip).to_be_bytes()
            }
            fn from_ordered_bytes(bytes: &[u8]) -> Result<Self, KeyPathError> {
                match <Self::Bytes>::try_from(bytes) {
                    Ok(b) => Ok(<$t>::from_be_bytes(b) ^ $flip),
                    Err(_) => malformed(0, "an encoded integer has the wrong length"),
                }
            }
        }
    )*};
}

ordered_int! {
    u8, 0; u16, 0; u32, 0; u64, 0; u128, 0;
    i8, i8::MIN; i16, i16::MIN; i32, i32::MIN; i64, i64::MIN; i128, i128::MIN;
}

#[cfg(test)]
mod tests;
