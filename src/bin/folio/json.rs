//! A small JSON object writer for `--json` outputs (numbers, booleans, strings, arrays of
//! strings, nested objects): enough for folio's reports without a serialization crate.

use std::fmt::Write as _;

/// A JSON string literal.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Builds one JSON object, field by field.
#[derive(Default)]
pub struct Object {
    body: String,
}

impl Object {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field whose value is already JSON text.
    pub fn raw(mut self, key: &str, json: &str) -> Self {
        if !self.body.is_empty() {
            self.body.push_str(", ");
        }
        let _ = write!(self.body, "{}: {json}", string(key));
        self
    }

    /// Adds a number.
    pub fn num(self, key: &str, n: impl Into<u64>) -> Self {
        let n: u64 = n.into();
        self.raw(key, &n.to_string())
    }

    /// Adds a floating-point number (finite; written with up to 3 decimals).
    pub fn float(self, key: &str, x: f64) -> Self {
        let x = if x.is_finite() { x } else { 0.0 };
        let text = format!("{x:.3}");
        self.raw(key, text.trim_end_matches('0').trim_end_matches('.'))
    }

    /// Adds a boolean.
    pub fn bool(self, key: &str, b: bool) -> Self {
        self.raw(key, if b { "true" } else { "false" })
    }

    /// Adds a string.
    pub fn str(self, key: &str, s: &str) -> Self {
        self.raw(key, &string(s))
    }

    /// Adds an array of strings.
    pub fn strs(self, key: &str, items: &[String]) -> Self {
        let parts: Vec<String> = items.iter().map(|s| string(s)).collect();
        self.raw(key, &format!("[{}]", parts.join(", ")))
    }

    /// Adds a nested object.
    pub fn obj(self, key: &str, o: Object) -> Self {
        self.raw(key, &o.finish())
    }

    /// The object's JSON text.
    pub fn finish(self) -> String {
        format!("{{{}}}", self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_json() {
        let o = Object::new()
            .num("n", 3u64)
            .float("f", 2.50)
            .bool("ok", true)
            .str("s", "a\"b\\\n\u{1}")
            .strs("l", &["x".into()])
            .obj("o", Object::new());
        assert_eq!(
            o.finish(),
            r#"{"n": 3, "f": 2.5, "ok": true, "s": "a\"b\\\n\u0001", "l": ["x"], "o": {}}"#
        );
    }
}
