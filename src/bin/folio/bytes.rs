//! Keys and values on the command line and in the output: text (output escaped, arguments
//! unescaped the same way, so what `scan` prints can be typed back) or hexadecimal.

use std::ffi::OsStr;
use std::fmt::Write as _;

use crate::{CliError, CliResult};

/// The bytes of a command-line argument: hex-decoded with `hex`, else unescaped. Input that
/// does not decode is a usage error.
pub fn arg_bytes(arg: &OsStr, hex: bool, what: &str) -> CliResult<Vec<u8>> {
    let raw = os_bytes(arg, what)?;
    let decoded = if hex {
        from_hex(&raw).ok_or_else(|| "is not valid hex (an even number of 0-9a-f digits)".into())
    } else {
        unescape(&raw)
    };
    decoded.map_err(|why: String| {
        CliError::Usage(format!("{what} \"{}\" {why}", String::from_utf8_lossy(&raw)))
    })
}

/// Reverses [`escape`]: `\\`, `\t`, `\n`, `\r` and `\xNN` stand for their bytes; every other
/// byte for itself. Any other backslash sequence is an error, so no input is ambiguous.
pub fn unescape(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'\\' {
            out.push(text[i]);
            i += 1;
            continue;
        }
        let (byte, len) = match text.get(i + 1) {
            Some(b'\\') => (b'\\', 2),
            Some(b't') => (b'\t', 2),
            Some(b'n') => (b'\n', 2),
            Some(b'r') => (b'\r', 2),
            Some(b'x') => match text.get(i + 2..i + 4).and_then(from_hex) {
                Some(b) => (b[0], 4),
                None => {
                    return Err(format!(
                        "has a bad \\x escape at byte {}: \\x needs two hex digits",
                        i + 1
                    ));
                }
            },
            _ => {
                return Err(format!(
                    "has an unknown escape at byte {}: write a backslash as \\\\ (escapes: \\\\ \\t \\n \\r \\xNN)",
                    i + 1
                ));
            }
        };
        out.push(byte);
        i += len;
    }
    Ok(out)
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
        None => Err(CliError::Usage(format!("{what} is not valid Unicode; use --hex"))),
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
    fn unescape_reverses_escape() {
        let samples: [&[u8]; 6] =
            [b"plain", b"a\\b\tc\nd\re", b"\x00\xff\x7f\x1b", "é\u{1}".as_bytes(), b"", b"\\\\x41"];
        for s in samples {
            assert_eq!(unescape(escape(s).as_bytes()).unwrap(), s, "{}", escape(s));
        }
        assert!(unescape(br"\x41\X").unwrap_err().contains("byte 5"));
        assert!(unescape(br"back\slash").is_err());
        assert!(unescape(br"\x4").is_err());
        assert!(unescape(br"trailing\").is_err());
        assert_eq!(unescape(br"C:\\dir").unwrap(), br"C:\dir");
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
