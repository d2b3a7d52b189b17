//! `images-by-semver`: tags matched against a constraint as skopeo matches
//! them, with Masterminds/semver v3's rules. Hand-written because no Rust
//! crate has those rules: Cargo's `semver` reads `>= 3.12` and `1.2.x`
//! otherwise, and knows neither `||` nor `1.2 - 1.4`. Versions may be short
//! (`3`, `v3.12`); a pre-release matches only a constraint that names one.

use std::cmp::Ordering;

use crate::error::{Error, Result};

/// A version as Masterminds parses one (`v` prefix and short forms allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Vec<String>,
}

/// A part of a version that may be missing or a wildcard (`x`, `X`, `*`).
fn part(s: Option<&str>) -> Option<Option<u64>> {
    match s {
        None => Some(None),
        Some("x" | "X" | "*") => Some(None),
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => n.parse().ok().map(Some),
        Some(_) => None,
    }
}

fn identifiers_ok(s: &str) -> bool {
    s.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// The parts of `s`: numbers (None where missing or a wildcard) and the
/// pre-release identifiers; None if it is not a version.
fn parse_parts(s: &str) -> Option<([Option<u64>; 3], Vec<String>)> {
    let s = s.strip_prefix('v').unwrap_or(s);
    let (s, meta) = s.split_once('+').map_or((s, None), |(a, b)| (a, Some(b)));
    if meta.is_some_and(|m| !identifiers_ok(m)) {
        return None;
    }
    let (core, pre) = s.split_once('-').map_or((s, None), |(a, b)| (a, Some(b)));
    if pre.is_some_and(|p| !identifiers_ok(p)) {
        return None;
    }
    let mut nums = core.split('.');
    let major = part(nums.next())?;
    let minor = part(nums.next())?;
    let patch = part(nums.next())?;
    if nums.next().is_some() || core.is_empty() {
        return None;
    }
    let pre = pre.map(|p| p.split('.').map(str::to_owned).collect()).unwrap_or_default();
    Some(([major, minor, patch], pre))
}

impl Version {
    /// A tag as a version; None (the tag is skipped) if it is not one.
    pub fn parse(s: &str) -> Option<Version> {
        let ([major, minor, patch], pre) = parse_parts(s)?;
        // Wildcards belong to constraints, not tags.
        if s.contains(['x', 'X', '*']) && pre.is_empty() {
            return None;
        }
        Some(Version { major: major?, minor: minor.unwrap_or(0), patch: patch.unwrap_or(0), pre })
    }

    fn triple(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }
}

/// Pre-release precedence (semver §11): numeric identifiers numerically and
/// below alphanumeric ones; a release above any of its pre-releases.
fn compare_pre(a: &[String], b: &[String]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    for (x, y) in a.iter().zip(b) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.triple().cmp(&other.triple()).then_with(|| compare_pre(&self.pre, &other.pre))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Tilde,
    Caret,
}

/// One comparison: the version with its missing or wildcard parts as 0 and
/// how many parts were given.
#[derive(Debug, Clone)]
struct Comparison {
    op: Op,
    version: Version,
    /// Parts given before the first missing or wildcard one (0–3).
    given: usize,
}

impl Comparison {
    fn parse(op: Op, s: &str) -> Option<Comparison> {
        let (parts, pre) = parse_parts(s)?;
        let given = parts.iter().take_while(|p| p.is_some()).count();
        let [major, minor, patch] = parts.map(|p| p.unwrap_or(0));
        Some(Comparison { op, version: Version { major, minor, patch, pre }, given })
    }

    /// The range `[low, high)` a wildcard or short version stands for.
    fn upper(&self) -> Option<Version> {
        let c = &self.version;
        let bump = |major, minor, patch| Version { major, minor, patch, pre: vec![] };
        match self.given {
            0 => None,
            1 => Some(bump(c.major + 1, 0, 0)),
            2 => Some(bump(c.major, c.minor + 1, 0)),
            _ => Some(bump(c.major, c.minor, c.patch + 1)),
        }
    }

    fn in_wildcard(&self, v: &Version) -> bool {
        let low = Version { pre: vec![], ..self.version.clone() };
        match self.given {
            3 => v == &self.version || (v.triple() == self.version.triple() && v.pre == self.version.pre),
            _ => v >= &low && self.upper().is_none_or(|up| v < &up),
        }
    }

    fn check(&self, v: &Version) -> bool {
        // Masterminds: a pre-release only satisfies a constraint naming one.
        if !v.pre.is_empty() && self.version.pre.is_empty() {
            return false;
        }
        let c = &self.version;
        match self.op {
            Op::Eq => self.in_wildcard(v),
            Op::Ne => !self.in_wildcard(v),
            Op::Gt => match self.given {
                3 => v > c,
                0 => false,
                // `>1` needs 2.0.0; `>1.2` needs 1.3.0.
                _ => self.upper().is_some_and(|up| v >= &up),
            },
            Op::Lt => v < c,
            Op::Ge => v >= c,
            Op::Le => match self.given {
                3 => v <= c,
                _ => self.upper().is_none_or(|up| v < &up),
            },
            Op::Tilde => {
                // ~1.2.3 is [1.2.3, 1.3.0); ~1 and ~1.x are [1.0.0, 2.0.0).
                let up = if self.given >= 2 {
                    Version { major: c.major, minor: c.minor + 1, patch: 0, pre: vec![] }
                } else {
                    Version { major: c.major + 1, minor: 0, patch: 0, pre: vec![] }
                };
                v >= c && v < &up
            }
            Op::Caret => {
                // The left-most non-zero part given may not change.
                let up = if c.major > 0 || self.given == 1 {
                    Version { major: c.major + 1, minor: 0, patch: 0, pre: vec![] }
                } else if c.minor > 0 || self.given == 2 {
                    Version { major: 0, minor: c.minor + 1, patch: 0, pre: vec![] }
                } else {
                    Version { major: 0, minor: 0, patch: c.patch + 1, pre: vec![] }
                };
                v >= c && v < &up
            }
        }
    }
}

/// A whole constraint: `||`-separated alternatives of comparisons that must
/// all hold (separated by commas or spaces; `A - B` is a range).
#[derive(Debug, Clone)]
pub struct Constraint {
    any_of: Vec<Vec<Comparison>>,
}

const OPERATORS: [(&str, Op); 12] = [
    ("!=", Op::Ne),
    (">=", Op::Ge),
    ("=>", Op::Ge),
    ("<=", Op::Le),
    ("=<", Op::Le),
    ("~>", Op::Tilde),
    ("==", Op::Eq),
    (">", Op::Gt),
    ("<", Op::Lt),
    ("~", Op::Tilde),
    ("^", Op::Caret),
    ("=", Op::Eq),
];

impl Constraint {
    pub fn parse(text: &str) -> Result<Constraint> {
        let bad = || Error::invalid(format!("improper constraint: {text}"));
        let mut any_of = Vec::new();
        for alternative in text.split("||") {
            let tokens: Vec<&str> = alternative.split([',', ' ', '\t']).filter(|t| !t.is_empty()).collect();
            let mut all = Vec::new();
            let mut i = 0;
            while i < tokens.len() {
                // `A - B`: from A up to and including B.
                if tokens.get(i + 1) == Some(&"-") {
                    let (low, high) = (tokens[i], *tokens.get(i + 2).ok_or_else(bad)?);
                    all.push(Comparison::parse(Op::Ge, low).ok_or_else(bad)?);
                    all.push(Comparison::parse(Op::Le, high).ok_or_else(bad)?);
                    i += 3;
                    continue;
                }
                let mut token = tokens[i].to_owned();
                // An operator alone (`>= 3.12.0`) takes the next token.
                if OPERATORS.iter().any(|(o, _)| *o == token) {
                    i += 1;
                    token.push_str(tokens.get(i).ok_or_else(bad)?);
                }
                let (op, version) = OPERATORS
                    .iter()
                    .find_map(|(o, op)| token.strip_prefix(o).map(|rest| (*op, rest)))
                    .unwrap_or((Op::Eq, token.as_str()));
                all.push(Comparison::parse(op, version).ok_or_else(bad)?);
                i += 1;
            }
            if all.is_empty() {
                return Err(bad());
            }
            any_of.push(all);
        }
        Ok(Constraint { any_of })
    }

    pub fn matches(&self, v: &Version) -> bool {
        self.any_of.iter().any(|all| all.iter().all(|c| c.check(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(constraint: &str, version: &str) -> bool {
        Constraint::parse(constraint).unwrap().matches(&Version::parse(version).unwrap())
    }

    #[test]
    fn masterminds_cases() {
        // From Masterminds/semver v3's constraints_test.go.
        for (c, v, want) in [
            (">= 3.12.0", "3.12.1", true),
            (">= 3.12.0", "3.11", false),
            ("=2.0.0", "2.0.0", true),
            ("2.0", "2.0.9", true),
            ("2.x", "2.9.0", true),
            ("2.x", "3.0.0", false),
            ("*", "1.2.3", true),
            ("*", "1.2.3-beta", false),
            (">1.1", "1.1.5", false),
            (">1.1", "1.2.0", true),
            (">1", "1.9.0", false),
            (">1", "2.0.0", true),
            ("<1.1", "1.0.9", true),
            ("<1.1", "1.1.0", false),
            ("<=1.1", "1.1.9", true),
            ("<=1.1", "1.2.0", false),
            ("!=4.1", "4.1.5", false),
            ("!=4.1", "4.2.0", true),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("~1", "1.9.9", true),
            ("~1", "2.0.0", false),
            ("^1.2.3", "1.9.0", true),
            ("^1.2.3", "2.0.0", false),
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("^0.0.3", "0.0.4", false),
            ("^0", "0.9.0", true),
            ("1.2 - 1.4.5", "1.3.0", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            (">=1.1, <2", "1.5.0", true),
            (">=1.1 <2", "2.0.0", false),
            ("<1 || >=3", "3.1.0", true),
            ("<1 || >=3", "2.0.0", false),
            (">=1.0.0-alpha", "1.0.0-beta", true),
            (">=1.0.0", "1.0.1-beta", false),
            ("v1.2.3", "1.2.3", true),
        ] {
            assert_eq!(check(c, v), want, "{c} {v}");
        }
    }

    #[test]
    fn tags_that_are_not_versions_and_bad_constraints() {
        for tag in ["latest", "1.2.3.4", "stable-1.2", "", "v", "1..2"] {
            assert_eq!(Version::parse(tag), None, "{tag}");
        }
        assert_eq!(Version::parse("v3.12").map(|v| v.triple()), Some((3, 12, 0)));
        for c in ["", ">=", "foo", "1.2 -", "|| 1.2"] {
            assert!(Constraint::parse(c).is_err(), "{c}");
        }
    }
}
