//! Go's `text/template` as `skopeo inspect --format` runs it: containers/common's
//! report formatter wraps the format in `{{range .}}…{{end -}}` (unless it already
//! ranges over `.`), names the template "skopeo inspect", adds the `join`, `json`,
//! `lower`, `pad`, `split`, `title`, `truncate` and `upper` helpers, and executes
//! it over a one-element list holding the inspect output.
//!
//! Supported: text and trim markers, comments, `if`/`else if`/`with`/`else
//! with`/`range` (with variables, `break`, `continue`), pipelines, parenthesised
//! pipelines and field chains on them, variables, literals, and all of Go's
//! builtins (`and`, `or`, `not`, `eq`…`ge`, `index`, `slice`, `len`, `print`,
//! `printf`, `println`, `html`, `js`, `urlquery`; `call` always fails since the
//! data holds no functions). Values print as Go's `fmt` prints them. Not
//! supported: `define`/`template`/`block`, and methods (`.Created.Year`).
//!
//! Errors are Go's messages (`template: skopeo inspect:1:13: executing …`).
//! Nesting is bounded (100 levels) so no input can exhaust the stack, and
//! execution is bounded in steps and output size.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::error::Result;
use crate::go::time::GoTime;

mod exec;
mod fmt;
mod funcs;
mod lex;
mod node;
mod parse;

use node::Node;
use parse::Parser;

/// A value as the template sees it, keeping Go's nil/empty distinctions.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<Value>),
    NilList,
    Map(BTreeMap<String, Value>),
    NilMap,
    /// Fields in declaration order, with their `omitempty` flag for `json`.
    Struct(Vec<(String, Value, bool)>),
    /// A non-nil `*time.Time`.
    Time(GoTime),
    /// A nil pointer (`*time.Time`).
    Nil,
}

impl Value {
    /// Go's `template.IsTrue`: the zero value of its type is false.
    fn truthy(&self) -> bool {
        match self {
            Value::Str(s) => !s.is_empty(),
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Bool(b) => *b,
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Struct(_) | Value::Time(_) => true,
            Value::NilList | Value::NilMap | Value::Nil => false,
        }
    }

    /// `json.Marshal(v)` without HTML escaping, as containers/common's `json` helper.
    fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Str(s) => J::String(s.clone()),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Bool(b) => J::Bool(*b),
            Value::List(l) => J::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
            Value::Struct(f) => J::Object(
                f.iter()
                    .filter(|(_, v, omit)| !*omit || v.truthy())
                    .map(|(k, v, _)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Value::Time(t) => J::String(t.rfc3339()),
            Value::NilList | Value::NilMap | Value::Nil => J::Null,
        }
    }
}

/// The name containers/common's formatter gives skopeo's template.
const NAME: &str = "skopeo inspect";
/// Most nested control structures and parentheses a template may have.
const MAX_DEPTH: usize = 100;
/// Most actions and iterations one execution may take.
const MAX_STEPS: u64 = 1_000_000;
/// Largest output one execution may produce.
const MAX_OUTPUT: usize = 64 << 20;

// ---------------------------------------------------------------------------
// Go types
// ---------------------------------------------------------------------------

/// A Go type name, as Go's messages print it.
type Ty = &'static str;

const IFACE: Ty = "interface {}";

/// The Go type of a value the data or a function produced, where nothing more
/// specific is known (see [`field_ty`]).
fn default_ty(v: &Value) -> Ty {
    match v {
        Value::Str(_) => "string",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Bool(_) => "bool",
        Value::List(l) if matches!(l.first(), Some(Value::Struct(_))) => "[]types.ImageInspectLayer",
        Value::List(_) | Value::NilList => "[]string",
        Value::Map(_) | Value::NilMap => "map[string]string",
        Value::Struct(f) if f.iter().any(|(k, _, _)| k == "MIMEType") => "types.ImageInspectLayer",
        Value::Struct(_) => "inspect.Output",
        Value::Time(_) | Value::Nil => "*time.Time",
    }
}

/// The declared type of a field of skopeo's `inspect.Output` or `types.ImageInspectLayer`.
fn field_ty(name: &str, v: &Value) -> Ty {
    match (name, v) {
        ("Digest", Value::Str(_)) => "digest.Digest",
        ("Size", Value::Int(_)) => "int64",
        ("LayersData", Value::List(_) | Value::NilList) => "[]types.ImageInspectLayer",
        _ => default_ty(v),
    }
}

/// The element type of a slice or map type.
fn elem_ty(container: Ty, v: &Value) -> Ty {
    if let Some(e) = container.strip_prefix("[]") {
        return e;
    }
    if let Some(e) = container.strip_prefix("map[string]") {
        return e;
    }
    default_ty(v)
}

/// A value during execution: Go's `reflect.Value`.
#[derive(Debug, Clone)]
enum V<'a> {
    /// The invalid value: a map's missing key, or an untyped nil.
    Invalid,
    /// A value and its static Go type.
    Val(Cow<'a, Value>, Ty),
}

impl<'a> V<'a> {
    fn str(s: impl Into<String>) -> Self {
        V::Val(Cow::Owned(Value::Str(s.into())), "string")
    }
    fn int(i: i64) -> Self {
        V::Val(Cow::Owned(Value::Int(i)), "int")
    }
    fn bool(b: bool) -> Self {
        V::Val(Cow::Owned(Value::Bool(b)), "bool")
    }
    fn value(&self) -> Option<&Value> {
        match self {
            V::Invalid => None,
            V::Val(v, _) => Some(v),
        }
    }
    /// The concrete type: what an `interface {}` holds.
    fn ty(&self) -> Ty {
        match self {
            V::Invalid => "<nil>",
            V::Val(v, IFACE) => default_ty(v),
            V::Val(_, t) => t,
        }
    }
    fn is_true(&self) -> bool {
        self.value().is_some_and(Value::truthy)
    }
    /// The element `i` of a list value, or the value at `key` of a map.
    fn child(&self, pick: impl FnOnce(&Value) -> Option<&Value>) -> Option<V<'a>> {
        let V::Val(cow, ty) = self else { return None };
        match cow {
            Cow::Borrowed(v) => pick(v).map(|c| V::Val(Cow::Borrowed(c), elem_ty(ty, c))),
            Cow::Owned(v) => pick(v).map(|c| V::Val(Cow::Owned(c.clone()), elem_ty(ty, c))),
        }
    }
    fn field(&self, name: &str) -> Option<V<'a>> {
        let V::Val(cow, _) = self else { return None };
        let find = |v: &Value| match v {
            Value::Struct(f) => f.iter().position(|(k, _, _)| k == name),
            _ => None,
        };
        match cow {
            Cow::Borrowed(v) => {
                let Value::Struct(f) = v else { return None };
                find(v).map(|i| V::Val(Cow::Borrowed(&f[i].1), field_ty(name, &f[i].1)))
            }
            Cow::Owned(v) => {
                let Value::Struct(f) = v else { return None };
                find(v).map(|i| V::Val(Cow::Owned(f[i].1.clone()), field_ty(name, &f[i].1)))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Template
// ---------------------------------------------------------------------------

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    /// The text as parsed (after containers/common's wrapping), for error positions.
    text: String,
    nodes: Vec<Node>,
}

impl Template {
    /// Parses `--format` as containers/common's `report.Formatter.Parse`
    /// (`OriginUser`) does: normalised and wrapped in a range over `.`, or if
    /// that does not parse, only wrapped (the error is then this second parse's).
    pub fn parse(src: &str) -> Result<Self> {
        let text = enforce_range(&normalize_format(src));
        if let Ok(nodes) = Parser::new(&text).parse() {
            return Ok(Template { text, nodes });
        }
        let text = enforce_range(src);
        let nodes = Parser::new(&text).parse()?;
        Ok(Template { text, nodes })
    }

    /// Runs the template over the inspect output `dot`. The output ends with
    /// the newline normalisation added, if it could be normalised.
    pub fn execute(&self, dot: &Value) -> Result<String> {
        let data = Value::List(vec![dot.clone()]);
        let root = V::Val(Cow::Borrowed(&data), "[]interface {}");
        exec::execute(self, &root)
    }
}

/// containers/common's `NormalizeFormat`: the escapes `\t` and `\n` become a
/// tab and a newline, and the format ends with a newline. (Its `table ` mode,
/// which also aligns columns with a tabwriter, is not supported.)
fn normalize_format(format: &str) -> String {
    let mut out = String::with_capacity(format.len() + 1);
    let mut rest = format;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let (replacement, len) = match tail.as_bytes().get(1) {
            Some(b't') => ('\t', 2),
            Some(b'n') => ('\n', 2),
            _ => ('\\', 1),
        };
        out.push(replacement);
        rest = &tail[len..];
    }
    out.push_str(rest);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// containers/common's `EnforceRange`: `{{range .}}FORMAT{{end -}}` unless the
/// format matches `(?s){{\s*range\s*\.\s*}}.*{{\s*end\s*-?\s*}}`.
fn enforce_range(format: &str) -> String {
    // Go's regexp `\s`: [\t\n\f\r ].
    fn ws(s: &str) -> &str {
        s.trim_start_matches(['\t', '\n', '\x0c', '\r', ' '])
    }
    let range_at = |i: usize| -> Option<usize> {
        let rest = ws(format[i..].strip_prefix("{{")?);
        let rest = ws(rest.strip_prefix("range")?);
        let rest = ws(rest.strip_prefix('.')?);
        rest.strip_prefix("}}").map(|r| format.len() - r.len())
    };
    let end_at = |i: usize| -> bool {
        let Some(rest) = format[i..].strip_prefix("{{") else { return false };
        let Some(rest) = ws(rest).strip_prefix("end") else { return false };
        let rest = ws(rest);
        let rest = ws(rest.strip_prefix('-').unwrap_or(rest));
        rest.starts_with("}}")
    };
    let wrapped = format
        .match_indices("{{")
        .find_map(|(i, _)| range_at(i))
        .is_some_and(|after| format[after..].match_indices("{{").any(|(j, _)| end_at(after + j)));
    if wrapped { format.to_owned() } else { format!("{{{{range .}}}}{format}{{{{end -}}}}") }
}

#[cfg(test)]
mod tests {
    //! End-to-end tests, and the fixtures the other modules' tests share.

    use super::*;

    fn sample() -> Value {
        Value::Struct(vec![
            ("Name".into(), Value::Str("r/a".into()), true),
            ("Tag".into(), Value::Str(String::new()), true),
            ("Layers".into(), Value::List(vec![Value::Str("l1".into()), Value::Str("l2".into())]), false),
            ("Labels".into(), Value::Map([("k".to_owned(), Value::Str("v".into()))].into()), false),
            ("Env".into(), Value::NilList, false),
            ("Created".into(), Value::Time(GoTime::parse("2024-05-06T07:08:09Z").unwrap()), false),
            ("Size".into(), Value::Int(3), false),
        ])
    }

    /// The output without the newline containers/common's normalisation adds.
    fn strip_newline(out: String) -> String {
        match out.strip_suffix('\n') {
            Some(s) => s.to_owned(),
            None => panic!("no final newline in {out:?}"),
        }
    }

    pub(super) fn run(t: &str) -> String {
        strip_newline(Template::parse(t).unwrap().execute(&sample()).unwrap())
    }

    /// An inspect output shaped like skopeo's `inspect.Output`.
    fn image() -> Value {
        let s = |v: &str| Value::Str(v.to_owned());
        let layer = |d: &str, size: i64| {
            Value::Struct(vec![
                ("MIMEType".into(), s("application/vnd.oci.image.layer.v1.tar+gzip"), false),
                ("Digest".into(), s(d), false),
                ("Size".into(), Value::Int(size), false),
                ("Annotations".into(), Value::NilMap, false),
            ])
        };
        Value::Struct(vec![
            ("Name".into(), s("quay.io/r/a"), true),
            ("Tag".into(), s(""), true),
            ("Digest".into(), s("sha256:abc"), false),
            ("RepoTags".into(), Value::List(vec![]), false),
            ("Created".into(), Value::Nil, false),
            ("DockerVersion".into(), s(""), false),
            ("Labels".into(), Value::Map([("k".to_owned(), s("v")), ("empty".to_owned(), s(""))].into()), false),
            ("Architecture".into(), s("amd64"), false),
            ("Os".into(), s("linux"), false),
            ("Layers".into(), Value::List(vec![s("sha256:l1"), s("sha256:l2")]), false),
            ("LayersData".into(), Value::List(vec![layer("sha256:l1", 10), layer("sha256:l2", 0)]), false),
            ("Env".into(), Value::NilList, false),
        ])
    }

    pub(super) fn exec(t: &str) -> Result<String> {
        Template::parse(t).and_then(|t| t.execute(&image()))
    }

    fn raw(t: &str) -> String {
        exec(t).unwrap_or_else(|e| panic!("{t}: {}", e.message))
    }

    pub(super) fn ok(t: &str) -> String {
        strip_newline(raw(t))
    }

    pub(super) fn err(t: &str) -> String {
        match exec(t) {
            Ok(out) => panic!("{t} accepted: {out:?}"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn fields_functions_and_ranges() {
        assert_eq!(run("{{.Name}} {{.Size}}"), "r/a 3");
        assert_eq!(run("{{json .Layers}}"), r#"["l1","l2"]"#);
        assert_eq!(run("{{json .Env}}"), "null");
        assert_eq!(run("{{.Env}} {{.Labels}} {{.Layers}}"), "[] map[k:v] [l1 l2]");
        assert_eq!(run(r#"{{index .Labels "k"}}|{{index .Labels "x"}}|{{.Labels.k}}"#), "v||v");
        assert_eq!(run("{{range .Layers}}<{{.}}>{{end}}"), "<l1><l2>");
        assert_eq!(run("{{range .Env}}x{{else}}none{{end}}"), "none");
        assert_eq!(run("{{if .Tag}}t{{else}}no tag{{end}}"), "no tag");
        assert_eq!(run("{{.Created}}"), "2024-05-06 07:08:09 +0000 UTC");
        assert_eq!(run("{{.Name | upper}} {{len .Layers}} {{join .Layers \",\"}}"), "R/A 2 l1,l2");
        assert_eq!(
            run("{{json .}}"),
            r#"{"Name":"r/a","Layers":["l1","l2"],"Labels":{"k":"v"},"Env":null,"Created":"2024-05-06T07:08:09Z","Size":3}"#
        );
        assert_eq!(run("a {{- \" b \" -}} c"), "a b c");
    }

    #[test]
    fn errors_are_go_sentences() {
        let line = |n: usize, msg: &str| format!("template: skopeo inspect:{n}: {msg}");
        assert_eq!(err("{{nofunc .Os}}"), line(1, "function \"nofunc\" not defined"));
        assert_eq!(err("{{range .Layers}}"), line(1, "unexpected EOF"));
        assert_eq!(err("x\n{{end}}"), line(2, "unexpected {{end}}"));
        assert_eq!(err("{{if}}"), line(1, "missing value for if"));
        assert_eq!(err("{{.Os | \"x\"}}"), line(1, "non executable command in pipeline stage 2"));
        assert_eq!(err("{{(.Os}}"), line(1, "unclosed left paren"));
        assert_eq!(err("{{.Os)}}"), line(1, "unexpected \")\" in command"));
        assert_eq!(err("{{\"abc\".x}}"), line(1, "unexpected . after term \"\\\"abc\\\"\""));
        assert_eq!(err("{{$x}}"), line(1, "undefined variable \"$x\""));
        assert_eq!(err("{{range .Layers}}{{else if .Os}}{{end}}"), line(1, "unexpected <if> in input"));
        assert_eq!(err("{{if .Os}}{{else}}{{else}}{{end}}"), line(1, "expected end; found {{else}}"));
        // skopeo's wrapping makes the `{{` of `{{end}}` follow the field.
        assert_eq!(err("{{.Os"), line(1, "bad character U+007B '{'"));
        assert_eq!(err("{{.Os "), line(1, "unexpected \"{\" in operand"));
        assert_eq!(err("{{template \"x\"}}"), line(1, "{{template}} is not supported"));
        let at = |pos: &str, node: &str, msg: &str| {
            format!("template: skopeo inspect:{pos}: executing \"skopeo inspect\" at <{node}>: {msg}")
        };
        assert_eq!(err("{{.Nope}}"), at("1:13", ".Nope", "can't evaluate field Nope in type interface {}"));
        assert_eq!(err("{{.Os}}\n {{.Nope}}"), at("2:3", ".Nope", "can't evaluate field Nope in type interface {}"));
        assert_eq!(err("{{.Os.x}}"), at("1:16", ".Os.x", "can't evaluate field x in type string"));
        assert_eq!(
            err("{{with .}}{{.Nope}}{{end}}"),
            at("1:23", ".Nope", "can't evaluate field Nope in type inspect.Output")
        );
        assert_eq!(
            err("{{.Created.Year}}"),
            at("1:21", ".Created.Year", "can't evaluate field Year in type *time.Time")
        );
        assert_eq!(err("{{$.Os}}"), at("1:14", "$.Os", "can't evaluate field Os in type []interface {}"));
        assert_eq!(err("{{.Os 1}}"), at("1:13", ".Os", "Os has arguments but cannot be invoked as function"));
        assert_eq!(err("{{\"x\" 1}}"), at("1:13", "\"x\"", "can't give argument to non-function \"x\""));
        assert_eq!(err("{{nil}}"), at("1:13", "nil", "nil is not a command"));
        assert_eq!(err("{{range .Os}}x{{end}}"), at("1:19", ".Os", "range can't iterate over linux"));
        // No message is a Rust Debug dump.
        for bad in ["{{.Nope}}", "{{index .Layers 9}}", "{{printf 1}}", "{{with .X}}{{end}}", "{{.Name"] {
            let m = err(bad);
            assert!(m.starts_with("template: skopeo inspect:") && !m.contains("Some(") && !m.contains("Err("), "{m}");
        }
    }

    #[test]
    fn format_is_normalised_as_containers_common() {
        // Literal `\t` and `\n` become a tab and a newline, and a final newline is added.
        assert_eq!(raw(r"{{.Os}}\t{{.Architecture}}\n"), "linux\tamd64\n");
        assert_eq!(raw("{{.Os}}"), "linux\n");
        assert_eq!(raw("{{.Os}}\n"), "linux\n");
        assert_eq!(raw(r"{{.Os}}\\n"), "linux\\\n");
        assert_eq!(raw(r#"{{"\t"}}"#), "\t\n");
        // When that breaks the template (a newline in a string), the format is used as given.
        assert_eq!(raw(r#"{{printf "a\nb"}}"#), "a\nb");
        assert_eq!(raw("{{range .}}{{.Os}}{{end}}"), "linux\n");
    }

    #[test]
    fn random_templates_never_panic() {
        const PIECES: &[&str] = &[
            "{{",
            "}}",
            "{{- ",
            " -}}",
            "{{/*",
            "*/}}",
            " ",
            "\n",
            ".",
            ".Os",
            ".Labels",
            ".k",
            ".Nope",
            ".LayersData",
            ".Size",
            ".Created",
            ".Digest",
            "$",
            "$x",
            "$x :=",
            " = ",
            ",",
            "|",
            "(",
            ")",
            "\"",
            "\"a\\\"é\\é\"",
            "`r`",
            "'a'",
            "'\\é'",
            "0",
            "-1",
            "1.5",
            "0x1p",
            "1e",
            "08",
            "9999999999999999999999",
            "true",
            "nil",
            "if",
            "else",
            "end",
            "range",
            "with",
            "break",
            "continue",
            "define",
            "template",
            "eq",
            "ne",
            "lt",
            "and",
            "or",
            "not",
            "len",
            "index",
            "slice",
            "print",
            "printf",
            "println",
            "html",
            "js",
            "urlquery",
            "call",
            "json",
            "join",
            "split",
            "pad",
            "truncate",
            "title",
            "upper",
            "\"%d %s %v %x %q %T %5.2f %[2]d %*d %!\"",
            "é",
            "{",
            "}",
            "-",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..std::env::var("TPL_FUZZ").ok().and_then(|n| n.parse().ok()).unwrap_or(20_000) {
            let n = 1 + next() % 12;
            let mut t = String::new();
            for _ in 0..n {
                t.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
                if next() % 3 != 0 {
                    t.push(' ');
                }
            }
            // Mostly well-formed actions, so that execution is reached.
            if next() % 2 == 0 {
                t = format!("{{{{{}}}}}", t.replace("{{", "").replace("}}", ""));
            }
            if let Ok(tmpl) = Template::parse(&t) {
                let _ = tmpl.execute(&image());
            }
        }
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        fn nested(n: usize, open: &str, close: &str) -> String {
            open.repeat(n) + "x" + &close.repeat(n)
        }
        // Run where a stack overflow would show up: a small thread stack.
        let check = || {
            let limit = "template: skopeo inspect:1: actions nested deeper than 100 levels";
            assert_eq!(ok(&nested(100, "{{if .Os}}", "{{end}}")), "x");
            assert_eq!(err(&nested(101, "{{if .Os}}", "{{end}}")), limit);
            assert_eq!(err(&nested(5000, "{{with .}}", "{{end}}")), limit);
            let parens = format!("{{{{{}.Os{}}}}}", "(".repeat(100), ")".repeat(100));
            assert_eq!(ok(&parens), "linux");
            let parens = format!("{{{{{}.Os{}}}}}", "(".repeat(101), ")".repeat(101));
            assert_eq!(err(&parens), limit);
            assert_eq!(err(&format!("{{{{{}", "(".repeat(100_000))), limit);
            // Long else-if chains and long pipelines are not nesting.
            let chain =
                "{{if eq .Os \"a\"}}a".to_owned() + &"{{else if eq .Os \"b\"}}b".repeat(500) + "{{else}}c{{end}}";
            assert_eq!(ok(&chain), "c");
            assert_eq!(ok(&("{{.Os".to_owned() + &" | len | printf \"%d\"".repeat(1000) + "}}")), "1");
        };
        std::thread::Builder::new().stack_size(1 << 20).spawn(check).unwrap().join().unwrap();
        // A huge template is fine.
        assert_eq!(ok(&"{{.Os}}".repeat(100_000)).len(), 500_000);
        // Runaway loops stop with an error.
        let loops = "{{$l := .Layers}}".to_owned() + &"{{range $l}}".repeat(40) + &"{{end}}".repeat(40);
        assert!(err(&loops).ends_with("execution takes more than 1000000 steps"));
        assert!(
            err(&format!("{{{{printf \"%999999d\" 1}}}}{}", "{{printf \"%999999d\" 1}}".repeat(100)))
                .contains("output is larger than")
        );
    }
}
