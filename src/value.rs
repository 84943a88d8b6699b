//! Values handed to readers: borrowed straight from a mapped page when the bytes are
//! contiguous, owned when they had to be gathered from an overflow chain.

use std::fmt;
use std::ops::Deref;

/// A value read from the database. Dereferences to `[u8]`.
#[derive(Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// Bytes inside a page of the snapshot (no copy was made).
    Borrowed(&'a [u8]),
    /// Bytes gathered from an overflow chain.
    Owned(Vec<u8>),
}

impl Value<'_> {
    /// Copies the value into a `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        self.deref().to_vec()
    }

    /// Converts into an owned `Vec`, copying only if the value is borrowed.
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            Value::Borrowed(b) => b.to_vec(),
            Value::Owned(v) => v,
        }
    }
}

impl Deref for Value<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Value::Borrowed(b) => b,
            Value::Owned(v) => v,
        }
    }
}

impl AsRef<[u8]> for Value<'_> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl PartialEq<[u8]> for Value<'_> {
    fn eq(&self, other: &[u8]) -> bool {
        self.deref() == other
    }
}

impl PartialEq<&[u8]> for Value<'_> {
    fn eq(&self, other: &&[u8]) -> bool {
        self.deref() == *other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Value<'_> {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.deref() == &other[..]
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self) {
            Ok(s) => write!(f, "{s:?}"),
            Err(_) => write!(f, "{:x?}", self.deref()),
        }
    }
}
