//! The dump format's lines and tokens (DUMP.md is its specification).
//!
//! A token is a byte string written either quoted, `"text"`, where printable ASCII stands for
//! itself and `\\`, `\"` and `\xNN` escape the rest, or as hex, `x"00ff"`, which the writer
//! picks when it is the shorter of the two. A line is a header, a comment, a `table` line,
//! an entry (`KEY VALUE`) or the closing `end N`.

use std::fmt::Write as _;

/// The first line of every dump.
pub const HEADER: &str = "folio-dump 1";

/// One parsed line.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// Blank or `#` comment.
    Skip,
    /// `table NAME`: later entries belong to NAME (empty: the default table).
    Table(Vec<u8>),
    /// `KEY VALUE`.
    Entry(Vec<u8>, Vec<u8>),
    /// `end N`: the dump held N entries.
    End(u64),
}

fn needs_escape(b: u8) -> bool {
    !(0x20..=0x7e).contains(&b) || b == b'"' || b == b'\\'
}

/// Characters the quoted form spends on `b`.
fn quoted_len(b: u8) -> usize {
    match b {
        b'"' | b'\\' => 2,
        b if needs_escape(b) => 4,
        _ => 1,
    }
}

/// Appends `bytes` as a token, in whichever form is shorter (quoted on a tie).
pub fn write_token(out: &mut String, bytes: &[u8]) {
    let quoted: usize = bytes.iter().map(|&b| quoted_len(b)).sum();
    if quoted > 2 * bytes.len() + 1 {
        out.push_str("x\"");
        for b in bytes {
            let _ = write!(out, "{b:02x}");
        }
        out.push('"');
        return;
    }
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b if needs_escape(b) => {
                let _ = write!(out, "\\x{b:02x}");
            }
            b => out.push(b as char),
        }
    }
    out.push('"');
}

/// Reads a token starting at `line[*pos]`, leaving `*pos` just past it.
fn read_token(line: &[u8], pos: &mut usize) -> Result<Vec<u8>, String> {
    let hex = line.get(*pos) == Some(&b'x');
    if hex {
        *pos += 1;
    }
    if line.get(*pos) != Some(&b'"') {
        return Err(format!("expected a quoted token at column {}", *pos + 1));
    }
    *pos += 1;
    let mut out = Vec::new();
    loop {
        let Some(&b) = line.get(*pos) else {
            return Err("a quoted token is not closed".into());
        };
        *pos += 1;
        match b {
            b'"' => return Ok(out),
            _ if hex => out.push(hex_byte(line, *pos - 1)?),
            b'\\' => out.push(escaped(line, pos)?),
            _ => out.push(b),
        }
        if hex {
            *pos += 1;
        }
    }
}

fn hex_byte(line: &[u8], at: usize) -> Result<u8, String> {
    let pair = line.get(at..at + 2).and_then(|p| std::str::from_utf8(p).ok());
    pair.and_then(|p| u8::from_str_radix(p, 16).ok())
        .ok_or_else(|| format!("bad hex digits at column {}", at + 1))
}

fn escaped(line: &[u8], pos: &mut usize) -> Result<u8, String> {
    let at = *pos;
    match line.get(at) {
        Some(b'\\') | Some(b'"') => {
            *pos += 1;
            Ok(line[at])
        }
        Some(b'x') => {
            *pos += 3;
            hex_byte(line, at + 1)
        }
        _ => Err(format!("unknown escape at column {at}")),
    }
}

fn expect_end(line: &[u8], pos: usize) -> Result<(), String> {
    if pos == line.len() { Ok(()) } else { Err(format!("unexpected text at column {}", pos + 1)) }
}

/// Parses one line (without its newline; a trailing `\r` is ignored).
pub fn parse_line(line: &[u8]) -> Result<Line, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() || line.starts_with(b"#") {
        return Ok(Line::Skip);
    }
    if let Some(rest) = line.strip_prefix(b"end ") {
        let n = std::str::from_utf8(rest).ok().and_then(|s| s.parse().ok());
        return n.map(Line::End).ok_or_else(|| "`end` needs an entry count".to_string());
    }
    if let Some(rest) = line.strip_prefix(b"table ") {
        let mut pos = 0;
        let name = read_token(rest, &mut pos)?;
        expect_end(rest, pos)?;
        return Ok(Line::Table(name));
    }
    let mut pos = 0;
    let key = read_token(line, &mut pos)?;
    if line.get(pos) != Some(&b' ') {
        return Err(format!("expected one space after the key at column {}", pos + 1));
    }
    pos += 1;
    let value = read_token(line, &mut pos)?;
    expect_end(line, pos)?;
    Ok(Line::Entry(key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(b: &[u8]) -> String {
        let mut s = String::new();
        write_token(&mut s, b);
        s
    }

    #[test]
    fn tokens_pick_the_shorter_form_and_round_trip() {
        assert_eq!(token(b"Ada"), r#""Ada""#);
        assert_eq!(token(b"a \"q\" \\"), r#""a \"q\" \\""#);
        assert_eq!(token(b"\x00\x01\x02"), r#"x"000102""#);
        assert_eq!(token(b""), r#""""#);
        let samples: [&[u8]; 5] = [b"", b"plain", b"\n\t\"\\", b"\xff\xfe", b"mixed\x00text"];
        for k in samples {
            for v in samples {
                let line = format!("{} {}", token(k), token(v));
                assert_eq!(parse_line(line.as_bytes()), Ok(Line::Entry(k.to_vec(), v.to_vec())));
            }
        }
    }

    #[test]
    fn other_lines_parse() {
        assert_eq!(parse_line(b""), Ok(Line::Skip));
        assert_eq!(parse_line(b"# note"), Ok(Line::Skip));
        assert_eq!(parse_line(b"end 42\r"), Ok(Line::End(42)));
        assert_eq!(parse_line(b"table \"users\""), Ok(Line::Table(b"users".to_vec())));
    }

    #[test]
    fn malformed_lines_are_errors() {
        for bad in [
            &b"\"k\""[..],
            b"\"k\"  \"v\"",
            b"\"k\" \"v",
            b"\"k\" \"v\" extra",
            b"k v",
            b"\"k\\q\" \"v\"",
            b"x\"0\" \"v\"",
            b"\"k\" x\"zz\"",
            b"end",
            b"end x",
            b"table users",
        ] {
            assert!(parse_line(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
