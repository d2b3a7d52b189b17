//! The subset of Go's `text/template` that `skopeo inspect --format` users
//! write: `{{.Field}}`, `{{.A.B}}`, `{{json .X}}`, `{{index .Labels "k"}}`,
//! `{{range .X}}…{{else}}…{{end}}`, `{{if …}}`, pipes, and the `len`,
//! `upper`, `lower` and `join` helpers. Values print as Go's `fmt` does.

use std::collections::BTreeMap;

use super::time::GoTime;
use crate::error::{Error, Result};

/// A value as the template sees it, keeping Go's nil/empty distinctions.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<Value>),
    NilList,
    Map(BTreeMap<String, Value>),
    NilMap,
    /// Fields in declaration order, with their `omitempty` flag for `json`.
    Struct(Vec<(String, Value, bool)>),
    Time(GoTime),
    /// A nil pointer.
    Nil,
}

impl Value {
    fn truthy(&self) -> bool {
        match self {
            Value::Str(s) => !s.is_empty(),
            Value::Int(i) => *i != 0,
            Value::Bool(b) => *b,
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Struct(_) | Value::Time(_) => true,
            Value::NilList | Value::NilMap | Value::Nil => false,
        }
    }

    /// `fmt.Sprint(v)`.
    fn print(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::List(l) => format!("[{}]", l.iter().map(Value::print).collect::<Vec<_>>().join(" ")),
            Value::NilList => "[]".into(),
            Value::Map(m) => {
                format!("map[{}]", m.iter().map(|(k, v)| format!("{k}:{}", v.print())).collect::<Vec<_>>().join(" "))
            }
            Value::NilMap => "map[]".into(),
            Value::Struct(f) => format!("{{{}}}", f.iter().map(|(_, v, _)| v.print()).collect::<Vec<_>>().join(" ")),
            Value::Time(t) => t.go_string(),
            Value::Nil => "<nil>".into(),
        }
    }

    /// `json.Marshal(v)` without HTML escaping, as containers/common's `json` helper.
    fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Str(s) => J::String(s.clone()),
            Value::Int(i) => J::from(*i),
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

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Dot,
    Field(Vec<String>),
    Func(String),
    Str(String),
    Int(i64),
}

type Pipeline = Vec<Vec<Arg>>;

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Print(Pipeline),
    Range(Pipeline, Vec<Node>, Vec<Node>),
    If(Pipeline, Vec<Node>, Vec<Node>),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

/// Nesting limit for `range`/`if`, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

impl Template {
    pub fn parse(src: &str) -> Result<Self> {
        let mut tokens = lex(src)?.into_iter().peekable();
        let (nodes, end) = parse_nodes(&mut tokens, 0)?;
        if let Some(e) = end {
            return Err(bad(&format!("unexpected {{{{{e}}}}}")));
        }
        Ok(Template { nodes })
    }

    pub fn execute(&self, dot: &Value) -> Result<String> {
        let mut out = String::new();
        exec(&self.nodes, dot, &mut out)?;
        Ok(out)
    }
}

fn bad(msg: &str) -> Error {
    Error::invalid(format!("template: {msg}"))
}

enum Tok {
    Text(String),
    Action(String),
}

fn lex(src: &str) -> Result<Vec<Tok>> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        let mut inner = &rest[start + 2..];
        if let Some(trimmed) = inner.strip_prefix("- ") {
            text = text.trim_end();
            inner = trimmed;
        }
        if !text.is_empty() {
            out.push(Tok::Text(text.to_owned()));
        }
        let end = find_close(inner).ok_or_else(|| bad("unclosed action"))?;
        let mut action = &inner[..end];
        rest = &inner[end + 2..];
        if let Some(a) = action.strip_suffix(" -") {
            action = a;
            rest = rest.trim_start();
        }
        out.push(Tok::Action(action.trim().to_owned()));
    }
    if !rest.is_empty() {
        out.push(Tok::Text(rest.to_owned()));
    }
    Ok(out)
}

/// The `}}` that closes an action, skipping any inside string literals.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b[i + 1] == b'}' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

type Tokens = std::iter::Peekable<std::vec::IntoIter<Tok>>;

/// Parses nodes until `{{end}}` or `{{else}}` (returned) or the end of input.
fn parse_nodes(tokens: &mut Tokens, depth: usize) -> Result<(Vec<Node>, Option<String>)> {
    if depth > MAX_DEPTH {
        return Err(bad("too deeply nested"));
    }
    let mut nodes = Vec::new();
    while let Some(t) = tokens.next() {
        let action = match t {
            Tok::Text(s) => {
                nodes.push(Node::Text(s));
                continue;
            }
            Tok::Action(a) => a,
        };
        if action.starts_with("/*") {
            continue;
        }
        if action == "end" || action == "else" {
            return Ok((nodes, Some(action)));
        }
        let (keyword, rest) = action.split_once(char::is_whitespace).unwrap_or((action.as_str(), ""));
        match keyword {
            "range" | "if" => {
                let pipe = parse_pipeline(rest)?;
                let (body, end) = parse_nodes(tokens, depth + 1)?;
                let else_body = match end.as_deref() {
                    Some("end") => vec![],
                    Some("else") => match parse_nodes(tokens, depth + 1)? {
                        (b, Some(e)) if e == "end" => b,
                        _ => return Err(bad(&format!("missing {{{{end}}}} for {keyword}"))),
                    },
                    _ => return Err(bad(&format!("missing {{{{end}}}} for {keyword}"))),
                };
                nodes.push(if keyword == "range" {
                    Node::Range(pipe, body, else_body)
                } else {
                    Node::If(pipe, body, else_body)
                });
            }
            "with" | "define" | "template" | "block" => {
                return Err(bad(&format!("{keyword:?} is not supported")));
            }
            _ => nodes.push(Node::Print(parse_pipeline(&action)?)),
        }
    }
    Ok((nodes, None))
}

fn parse_pipeline(s: &str) -> Result<Pipeline> {
    let mut cmds = vec![Vec::new()];
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '|' => {
                chars.next();
                cmds.push(Vec::new());
            }
            '"' | '`' => {
                chars.next();
                let mut lit = String::new();
                let mut closed = false;
                while let Some((_, ch)) = chars.next() {
                    if ch == c {
                        closed = true;
                        break;
                    }
                    if ch == '\\' && c == '"' {
                        match chars.next().map(|x| x.1) {
                            Some('n') => lit.push('\n'),
                            Some('t') => lit.push('\t'),
                            Some(other) => lit.push(other),
                            None => break,
                        }
                    } else {
                        lit.push(ch);
                    }
                }
                if !closed {
                    return Err(bad("unterminated string"));
                }
                cmds.last_mut().unwrap().push(Arg::Str(lit));
            }
            _ => {
                let start = i;
                let mut end = s.len();
                while let Some(&(j, ch)) = chars.peek() {
                    if ch.is_whitespace() || ch == '|' {
                        end = j;
                        break;
                    }
                    chars.next();
                }
                let word = &s[start..end];
                let arg = if word == "." {
                    Arg::Dot
                } else if let Some(path) = word.strip_prefix('.') {
                    let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
                    if parts.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_alphanumeric() || c == '_')) {
                        return Err(bad(&format!("bad field {word:?}")));
                    }
                    Arg::Field(parts)
                } else if let Ok(n) = word.parse::<i64>() {
                    Arg::Int(n)
                } else if word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    Arg::Func(word.to_owned())
                } else {
                    return Err(bad(&format!("unexpected {word:?}")));
                };
                cmds.last_mut().unwrap().push(arg);
            }
        }
    }
    if cmds.iter().any(Vec::is_empty) {
        return Err(bad("empty command"));
    }
    Ok(cmds)
}

fn exec(nodes: &[Node], dot: &Value, out: &mut String) -> Result<()> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Print(p) => out.push_str(&eval_pipeline(p, dot)?.print()),
            Node::If(p, body, els) => exec(if eval_pipeline(p, dot)?.truthy() { body } else { els }, dot, out)?,
            Node::Range(p, body, els) => {
                let items: Vec<Value> = match eval_pipeline(p, dot)? {
                    Value::List(l) => l,
                    Value::Map(m) => m.into_values().collect(),
                    Value::NilList | Value::NilMap | Value::Nil => vec![],
                    other => {
                        return Err(bad(&format!("range can't iterate over {}", other.print())));
                    }
                };
                if items.is_empty() {
                    exec(els, dot, out)?;
                }
                for item in &items {
                    exec(body, item, out)?;
                }
            }
        }
    }
    Ok(())
}

fn eval_pipeline(p: &Pipeline, dot: &Value) -> Result<Value> {
    let mut piped: Option<Value> = None;
    for cmd in p {
        piped = Some(eval_command(cmd, dot, piped.take())?);
    }
    piped.ok_or_else(|| bad("empty pipeline"))
}

fn eval_arg(a: &Arg, dot: &Value) -> Result<Value> {
    match a {
        Arg::Dot => Ok(dot.clone()),
        Arg::Str(s) => Ok(Value::Str(s.clone())),
        Arg::Int(i) => Ok(Value::Int(*i)),
        Arg::Field(path) => {
            let mut v = dot.clone();
            for name in path {
                v = match v {
                    Value::Struct(fields) => fields
                        .into_iter()
                        .find(|(k, _, _)| k == name)
                        .map(|(_, v, _)| v)
                        .ok_or_else(|| bad(&format!("can't evaluate field {name}")))?,
                    Value::Map(mut m) => m.remove(name).unwrap_or(Value::Str("<no value>".into())),
                    Value::NilMap => Value::Str("<no value>".into()),
                    other => {
                        return Err(bad(&format!("can't evaluate field {name} in {}", other.print())));
                    }
                };
            }
            Ok(v)
        }
        Arg::Func(f) => Err(bad(&format!("function {f:?} used as a value"))),
    }
}

fn eval_command(cmd: &[Arg], dot: &Value, piped: Option<Value>) -> Result<Value> {
    let Arg::Func(name) = &cmd[0] else {
        if cmd.len() > 1 || piped.is_some() {
            return Err(bad("can't give arguments to a non-function"));
        }
        return eval_arg(&cmd[0], dot);
    };
    let mut args = cmd[1..].iter().map(|a| eval_arg(a, dot)).collect::<Result<Vec<_>>>()?;
    args.extend(piped);
    let want = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(bad(&format!("wrong number of args for {name}: want {n} got {}", args.len())))
        }
    };
    match name.as_str() {
        "json" => {
            want(1)?;
            Ok(Value::Str(serde_json::to_string(&args[0].to_json()).map_err(|e| bad(&e.to_string()))?))
        }
        "len" => {
            want(1)?;
            Ok(Value::Int(match &args[0] {
                Value::Str(s) => s.len() as i64,
                Value::List(l) => l.len() as i64,
                Value::Map(m) => m.len() as i64,
                Value::NilList | Value::NilMap => 0,
                other => return Err(bad(&format!("len of {}", other.print()))),
            }))
        }
        "upper" | "lower" => {
            want(1)?;
            let s = args[0].print();
            Ok(Value::Str(if name == "upper" { s.to_uppercase() } else { s.to_lowercase() }))
        }
        "join" => {
            want(2)?;
            let sep = args[1].print();
            match &args[0] {
                Value::List(l) => Ok(Value::Str(l.iter().map(Value::print).collect::<Vec<_>>().join(&sep))),
                Value::NilList => Ok(Value::Str(String::new())),
                other => Err(bad(&format!("join of {}", other.print()))),
            }
        }
        "index" => {
            if args.len() < 2 {
                return Err(bad("index needs a collection and a key"));
            }
            let mut v = args[0].clone();
            for key in &args[1..] {
                v = match (v, key) {
                    (Value::Map(mut m), Value::Str(k)) => m.remove(k).unwrap_or(Value::Str(String::new())),
                    (Value::NilMap, Value::Str(_)) => Value::Str(String::new()),
                    (Value::List(l), Value::Int(i)) => l
                        .get(usize::try_from(*i).map_err(|_| bad("negative index"))?)
                        .cloned()
                        .ok_or_else(|| bad(&format!("index out of range: {i}")))?,
                    (Value::NilList, Value::Int(i)) => {
                        return Err(bad(&format!("index out of range: {i}")));
                    }
                    (other, _) => return Err(bad(&format!("can't index {}", other.print()))),
                };
            }
            Ok(v)
        }
        "print" => Ok(Value::Str(sprint(&args))),
        "println" => Ok(Value::Str(args.iter().map(Value::print).collect::<Vec<_>>().join(" ") + "\n")),
        other => Err(bad(&format!("function {other:?} not defined"))),
    }
}

/// `fmt.Sprint`: operands are separated by a space only when neither side is a string.
fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&a.print());
    }
    out
}

#[cfg(test)]
mod tests {
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

    fn run(t: &str) -> String {
        Template::parse(t).unwrap().execute(&sample()).unwrap()
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
    fn print_spaces_operands_as_go_sprint() {
        // fmt.Sprint: a space only between operands when neither is a string.
        assert_eq!(run(r#"{{print "a" "b"}}"#), "ab");
        assert_eq!(run("{{print 1 2}}"), "1 2");
        assert_eq!(run(r#"{{print "a" 1 2 "b"}}"#), "a1 2b");
        assert_eq!(run(r#"{{print .Size .Name .Size}}"#), "3r/a3");
        assert_eq!(run("{{print .Layers .Size}}"), "[l1 l2] 3");
        // fmt.Sprintln: always spaces, and a final newline.
        assert_eq!(run(r#"{{println "a" "b" 1}}"#), "a b 1\n");
    }

    #[test]
    fn errors_are_clean() {
        for bad in [
            "{{.Nope}}",
            "{{range .Layers}}",
            "{{end}}",
            "{{nofunc .Name}}",
            "{{.Name",
            "{{index .Layers 9}}",
            "{{with .X}}{{end}}",
        ] {
            let r = Template::parse(bad).and_then(|t| t.execute(&sample()));
            assert!(r.is_err(), "{bad} accepted");
        }
        let deep = "{{if .Name}}".repeat(100) + &"{{end}}".repeat(100);
        assert!(Template::parse(&deep).is_err());
    }
}
