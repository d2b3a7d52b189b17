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

/// `json.Marshal`: compact, HTML characters escaped.
pub fn marshal<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let s = serde_json::to_string(v).map_err(|e| Error::other(format!("encoding JSON: {e}")))?;
    Ok(html_escape(&s).into_bytes())
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

/// JSON without insignificant whitespace (Go's `json.Compact`), strings untouched.
pub fn compact(raw: &str) -> String {
    let (mut out, mut in_string, mut escaped) = (String::with_capacity(raw.len()), false, false);
    for c in raw.chars() {
        if in_string {
            in_string = escaped || c != '"';
            escaped = !escaped && c == '\\';
        } else if c.is_ascii_whitespace() {
            continue;
        } else {
            in_string = c == '"';
        }
        out.push(c);
    }
    out
}

/// `json.Marshal` of a Go `map[string]*json.RawMessage`: keys sorted, each
/// value (raw JSON text; `null` for None) compacted, HTML-escaped.
pub fn marshal_raw_map(fields: &std::collections::BTreeMap<String, Option<String>>) -> Result<String> {
    let members = fields
        .iter()
        .map(|(k, v)| Ok(format!("{}:{}", serde_json::to_string(k)?, v.as_deref().map_or("null".to_owned(), compact))))
        .collect::<Result<Vec<_>>>()?;
    Ok(html_escape(&format!("{{{}}}", members.join(","))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_maps_as_go_marshals_them() {
        assert_eq!(compact("{ \"a b\" : [1, 2],\n \"c\\\"\": \" x \" }"), "{\"a b\":[1,2],\"c\\\"\":\" x \"}");
        let fields =
            [("z".to_owned(), Some("{ \"k\": \"<\" }".to_owned())), ("a".to_owned(), None)].into_iter().collect();
        assert_eq!(marshal_raw_map(&fields).unwrap(), "{\"a\":null,\"z\":{\"k\":\"\\u003c\"}}");
    }

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
