//! `WWW-Authenticate` challenges (RFC 7235): `Bearer realm="…",service="…"`.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Lower-cased scheme: `basic` or `bearer` (others are ignored by callers).
    pub scheme: String,
    /// Parameters with lower-cased names.
    pub params: BTreeMap<String, String>,
}

/// Parses every challenge in every `WWW-Authenticate` value. Malformed parts
/// are skipped rather than trusted.
pub fn parse_challenges<'a>(values: impl Iterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out = Vec::new();
    for v in values {
        parse_one_header(v, &mut out);
    }
    out
}

fn parse_one_header(v: &str, out: &mut Vec<Challenge>) {
    let mut p = Parser { s: v.as_bytes(), i: 0 };
    loop {
        p.skip_separators();
        let Some(scheme) = p.token() else { return };
        let mut ch = Challenge { scheme: scheme.to_ascii_lowercase(), params: BTreeMap::new() };
        loop {
            p.skip_separators();
            let save = p.i;
            let Some(name) = p.token() else { break };
            p.skip_spaces();
            if !p.eat(b'=') {
                // A token not followed by '=' starts the next challenge.
                p.i = save;
                break;
            }
            p.skip_spaces();
            let value = if p.peek() == Some(b'"') { p.quoted() } else { p.token() };
            match value {
                Some(val) => {
                    ch.params.insert(name.to_ascii_lowercase(), val);
                }
                None => return,
            }
        }
        out.push(ch);
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/:".contains(&c) {
                self.i += 1;
            } else {
                break;
            }
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn quoted(&mut self) -> Option<String> {
        self.i += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    out.push(self.peek()?);
                    self.i += 1;
                }
                c => out.push(c),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic() {
        let v =
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#;
        let c = parse_challenges([v].into_iter());
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].params["realm"], "https://auth.example/token");
        assert_eq!(c[0].params["scope"], "repository:a/b:pull,push");
        let c = parse_challenges([r#"Basic realm="Registry Realm""#, "Bearer realm=\"x\", Basic realm=y"].into_iter());
        assert_eq!(c.iter().map(|c| c.scheme.as_str()).collect::<Vec<_>>(), ["basic", "bearer", "basic"]);
        assert_eq!(c[2].params["realm"], "y");
    }

    #[test]
    fn survives_garbage() {
        assert!(parse_challenges(["\"".repeat(10).as_str()].into_iter()).is_empty());
        let c = parse_challenges([r#"Bearer realm="unterminated"#].into_iter());
        assert!(c.is_empty() || c[0].params.is_empty());
    }
}
