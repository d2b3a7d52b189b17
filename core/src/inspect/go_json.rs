//! JSON written the way Go's `encoding/json` writes it, so output compares
//! byte for byte with skopeo's: 4-space `MarshalIndent`, and `<`, `>`, `&`,
//! U+2028 and U+2029 escaped inside strings.

use serde::Serialize;

use crate::error::{Error, Result};

/// `json.MarshalIndent(v, "", "    ")` followed by a newline.
pub fn to_indented<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser).map_err(|e| Error::other(format!("encoding JSON: {e}")))?;
    let mut s = html_escape(&String::from_utf8(out).map_err(|e| Error::other(e.to_string()))?);
    s.push('\n');
    Ok(s.into_bytes())
}

/// Go's HTML-safe escaping. These characters can only occur inside strings
/// in serde_json's output, so replacing them everywhere is exact.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_layout() {
        #[derive(Serialize)]
        struct T {
            #[serde(rename = "A")]
            a: Vec<String>,
            #[serde(rename = "B")]
            b: Option<u8>,
            #[serde(rename = "C")]
            c: &'static str,
        }
        let out = to_indented(&T { a: vec![], b: None, c: "<a&b>" }).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n    \"A\": [],\n    \"B\": null,\n    \"C\": \"\\u003ca\\u0026b\\u003e\"\n}\n"
        );
    }
}
