//! Keys and values on the command line and in the output: text (arguments byte for byte,
//! output escaped) or hexadecimal.

use std::ffi::OsStr;
use std::fmt::Write as _;

use crate::{CliResult, fail};

/// The bytes of a command-line argument: hex-decoded with `hex`, else taken as they are.
pub fn arg_bytes(arg: &OsStr, hex: bool, what: &str) -> CliResult<Vec<u8>> {
    let raw = os_bytes(arg, what)?;
    if !hex {
        return Ok(raw);
    }
    match from_hex(&raw) {
        Some(b) => Ok(b),
        None => fail!("{what} {:?} is not valid hex (an even number of 0-9a-f digits)", arg),
    }
}

#[cfg(unix)]
fn os_bytes(arg: &OsStr, _what: &str) -> CliResult<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    Ok(arg.as_bytes().to_vec())
}

#[cfg(not(unix))]
fn os_bytes(arg: &OsStr, what: &str) -> CliResult<Vec<u8>> {
    match arg.to_str() {
        Some(s) => Ok(s.as_bytes().to_vec()),
        None => fail!("{what} is not valid Unicode; use --hex"),
    }
}

/// Decodes hexadecimal digits (either case); `None` if any pair is not hex.
pub fn from_hex(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    text.chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

/// Lowercase hexadecimal.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Printable text: valid UTF-8 as is, except backslash (`\\`), tab, newline and return
/// (`\t`, `\n`, `\r`), other control characters and invalid bytes (`\xNN` per byte).
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '\t' => s.push_str("\\t"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(s, "\\x{b:02x}");
                    }
                }
                c => s.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s
}

/// Bytes as the output shows them: hex with `hex`, else escaped text.
pub fn show(bytes: &[u8], hex: bool) -> String {
    if hex { to_hex(bytes) } else { escape(bytes) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_text_and_marks_the_rest() {
        assert_eq!(escape(b"plain text"), "plain text");
        assert_eq!(escape("é".as_bytes()), "é");
        assert_eq!(escape(b"a\\b\tc\nd\x00\xff\x7f"), "a\\\\b\\tc\\nd\\x00\\xff\\x7f");
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(to_hex(b"\x00\xffA"), "00ff41");
        assert_eq!(from_hex(b"00FF41"), Some(b"\x00\xffA".to_vec()));
        assert_eq!(from_hex(b""), Some(vec![]));
        assert_eq!(from_hex(b"0"), None);
        assert_eq!(from_hex(b"zz"), None);
    }
}
