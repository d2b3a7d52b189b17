//! The functions a template calls: Go's builtins (`text/template/funcs.go`) and containers/common's
//! report helpers (`join`, `json`, `lower`, `pad`, `split`, `title`, `truncate`, `upper`).

use std::borrow::Cow;
use std::fmt::Write as _;

use super::fmt::{sprint, sprintf};
use super::{MAX_OUTPUT, V, Value};
use crate::go::strconv::is_print;

type FnResult<'a> = std::result::Result<V<'a>, String>;

pub(super) fn call<'a>(name: &str, mut a: Vec<V<'a>>, callee: &str) -> FnResult<'a> {
    let s = |v: &V| match v.value() {
        Some(Value::Str(s)) => s.clone(),
        _ => String::new(),
    };
    let n = |v: &V| match v.value() {
        Some(Value::Int(i)) => *i,
        _ => 0,
    };
    Ok(match name {
        "not" => V::bool(!a[0].is_true()),
        "eq" => V::bool(eq(&a[0], &a[1..])?),
        "ne" => V::bool(!eq(&a[0], &a[1..])?),
        "lt" => V::bool(lt(&a[0], &a[1])?),
        "le" => V::bool(lt(&a[0], &a[1])? || eq(&a[0], &a[1..])?),
        "gt" => V::bool(!(lt(&a[0], &a[1])? || eq(&a[0], &a[1..])?)),
        "ge" => V::bool(!lt(&a[0], &a[1])?),
        "index" => {
            let idx = a.split_off(1);
            index(a.pop().expect("item"), idx)?
        }
        "slice" => {
            let idx = a.split_off(1);
            slice(a.pop().expect("item"), &idx)?
        }
        "len" => V::int(length(&a[0])?),
        "call" => {
            return Err(match &a[0] {
                V::Invalid => "call of nil".to_owned(),
                f => format!("non-function {callee} of type {}", f.ty()),
            });
        }
        "print" => V::str(sprint(&a, false)),
        "println" => V::str(sprint(&a, true)),
        "printf" => {
            let format = s(&a[0]);
            V::str(sprintf(&format, &a[1..]))
        }
        "html" => V::str(html_escape(&eval_args(a))),
        "js" => V::str(js_escape(&eval_args(a))),
        "urlquery" => V::str(query_escape(&eval_args(a))),
        "json" => {
            let j = a[0].value().map_or(serde_json::Value::Null, Value::to_json);
            V::str(serde_json::to_string(&j).map_err(|e| e.to_string())?)
        }
        "join" => {
            let items: Vec<String> = match a[0].value() {
                Some(Value::List(l)) => {
                    l.iter().map(|v| if let Value::Str(s) = v { s.clone() } else { String::new() }).collect()
                }
                _ => vec![],
            };
            V::str(items.join(&s(&a[1])))
        }
        "lower" => V::str(s(&a[0]).to_lowercase()),
        "upper" => V::str(s(&a[0]).to_uppercase()),
        "title" => V::str(title(&s(&a[0]))),
        "split" => {
            let (text, sep) = (s(&a[0]), s(&a[1]));
            let parts: Vec<Value> = if sep.is_empty() {
                text.chars().map(|c| Value::Str(c.to_string())).collect()
            } else {
                text.split(sep.as_str()).map(|p| Value::Str(p.to_owned())).collect()
            };
            V::Val(Cow::Owned(Value::List(parts)), "[]string")
        }
        "pad" => {
            let (text, pre, post) = (s(&a[0]), n(&a[1]), n(&a[2]));
            if text.is_empty() {
                V::str(text)
            } else if pre < 0 || post < 0 {
                return Err("strings: negative Repeat count".to_owned());
            } else if (pre as u64).saturating_add(post as u64) > MAX_OUTPUT as u64 {
                return Err("strings: Repeat output length overflow".to_owned());
            } else {
                V::str(format!("{}{text}{}", " ".repeat(pre as usize), " ".repeat(post as usize)))
            }
        }
        "truncate" => {
            let (text, len) = (s(&a[0]), n(&a[1]));
            if (text.len() as i64) < len {
                V::str(text)
            } else if len < 0 {
                return Err(format!("runtime error: slice bounds out of range [:{len}]"));
            } else {
                V::str(String::from_utf8_lossy(&text.as_bytes()[..len as usize]).into_owned())
            }
        }
        other => return Err(format!("function {other:?} not defined")),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    Str,
}

fn basic_kind(v: &V) -> Kind {
    match v.value() {
        Some(Value::Bool(_)) => Kind::Bool,
        Some(Value::Int(_)) if v.ty().starts_with("uint") => Kind::Uint,
        Some(Value::Int(_)) => Kind::Int,
        Some(Value::Float(_)) => Kind::Float,
        Some(Value::Str(_)) => Kind::Str,
        _ => Kind::Invalid,
    }
}

/// Go's reflect kind names, for comparing non-basic values.
fn reflect_kind(v: &V) -> &'static str {
    match v.value() {
        None => "invalid",
        Some(Value::List(_) | Value::NilList) => "slice",
        Some(Value::Map(_) | Value::NilMap) => "map",
        Some(Value::Struct(_)) => "struct",
        Some(Value::Time(_) | Value::Nil) => "ptr",
        Some(_) => "basic",
    }
}

fn is_nil(v: &V) -> bool {
    matches!(v.value(), None | Some(Value::NilList | Value::NilMap | Value::Nil))
}

/// `eq`: whether `a` equals any of `rest`.
fn eq(a: &V, rest: &[V]) -> std::result::Result<bool, String> {
    if rest.is_empty() {
        return Err("missing argument for comparison".to_owned());
    }
    let k1 = basic_kind(a);
    for b in rest {
        let k2 = basic_kind(b);
        let truth = if k1 != k2 {
            match (k1, k2) {
                (Kind::Int, Kind::Uint) | (Kind::Uint, Kind::Int) => a.value() == b.value(),
                _ if a.value().is_some() && b.value().is_some() => {
                    return Err(format!("incompatible types for comparison: {} and {}", a.ty(), b.ty()));
                }
                _ => false,
            }
        } else if k1 != Kind::Invalid {
            a.value() == b.value()
        } else {
            let (r1, r2) = (reflect_kind(a), reflect_kind(b));
            if r1 != r2 && r1 != "invalid" && r2 != "invalid" {
                return Err(format!(
                    "non-comparable types {}: {}, {}: {}",
                    sprintf("%s", std::slice::from_ref(a)),
                    a.ty(),
                    b.ty(),
                    sprint(std::slice::from_ref(b), false)
                ));
            }
            if is_nil(a) || is_nil(b) {
                is_nil(a) == is_nil(b)
            } else if r2 != "ptr" {
                return Err(format!("non-comparable type {}: {}", sprintf("%s", std::slice::from_ref(b)), b.ty()));
            } else {
                a.value() == b.value()
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &V, b: &V) -> std::result::Result<bool, String> {
    let (k1, k2) = (basic_kind(a), basic_kind(b));
    if k1 == Kind::Invalid || k2 == Kind::Invalid {
        return Err("invalid type for comparison".to_owned());
    }
    match (a.value(), b.value()) {
        _ if k1 != k2 && !matches!((k1, k2), (Kind::Int, Kind::Uint) | (Kind::Uint, Kind::Int)) => {
            Err(format!("incompatible types for comparison: {} and {}", a.ty(), b.ty()))
        }
        (Some(Value::Int(x)), Some(Value::Int(y))) => Ok(x < y),
        (Some(Value::Float(x)), Some(Value::Float(y))) => Ok(x < y),
        (Some(Value::Str(x)), Some(Value::Str(y))) => Ok(x < y),
        _ => Err("invalid type for comparison".to_owned()),
    }
}

/// Go's `indexArg`.
fn index_arg(i: &V, cap: usize) -> std::result::Result<usize, String> {
    let x = match i.value() {
        Some(Value::Int(x)) => *x,
        None => return Err("cannot index slice/array with nil".to_owned()),
        Some(_) => return Err(format!("cannot index slice/array with type {}", i.ty())),
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index<'a>(item: V<'a>, indexes: Vec<V<'a>>) -> FnResult<'a> {
    let mut item = item;
    if matches!(item, V::Invalid) {
        return Err("index of untyped nil".to_owned());
    }
    for i in indexes {
        let next = match item.value().expect("valid") {
            Value::Nil => return Err("index of nil pointer".to_owned()),
            Value::Str(s) => {
                let x = index_arg(&i, s.len())?;
                let b = *s.as_bytes().get(x).ok_or("reflect: string index out of range")?;
                V::Val(Cow::Owned(Value::Int(i64::from(b))), "uint8")
            }
            Value::List(_) | Value::NilList => {
                let len = if let Some(Value::List(l)) = item.value() { l.len() } else { 0 };
                let x = index_arg(&i, len)?;
                item.child(|v| if let Value::List(l) = v { l.get(x) } else { None })
                    .ok_or("reflect: slice index out of range")?
            }
            Value::Map(_) | Value::NilMap => {
                let key = match (&i, i.value()) {
                    (_, None) => return Err("value is nil; should be of type string".to_owned()),
                    (k, Some(Value::Str(key))) if k.ty() == "string" => key.clone(),
                    (k, _) => return Err(format!("value has type {}; should be string", k.ty())),
                };
                item.child(|v| if let Value::Map(m) = v { m.get(&key) } else { None }).unwrap_or_else(|| V::str(""))
            }
            Value::Time(_) => return Err("can't index item of type time.Time".to_owned()),
            _ => return Err(format!("can't index item of type {}", item.ty())),
        };
        item = next;
    }
    Ok(item)
}

fn slice<'a>(item: V<'a>, indexes: &[V<'a>]) -> FnResult<'a> {
    let Some(value) = item.value() else { return Err("slice of untyped nil".to_owned()) };
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match value {
        Value::Str(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".to_owned());
            }
            s.len()
        }
        Value::List(l) => l.len(),
        Value::NilList => 0,
        _ => return Err(format!("can't slice item of type {}", item.ty())),
    };
    let mut idx = [0, len, len];
    for (k, i) in indexes.iter().enumerate() {
        idx[k] = index_arg(i, len)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    let out = match value {
        Value::Str(s) => Value::Str(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned()),
        Value::List(l) => Value::List(l[idx[0]..idx[1]].to_vec()),
        _ => Value::NilList,
    };
    Ok(V::Val(Cow::Owned(out), item.ty()))
}

fn length(v: &V) -> std::result::Result<i64, String> {
    Ok(match v.value() {
        None => return Err("reflect: call of reflect.Value.Type on zero Value".to_owned()),
        Some(Value::Nil) => return Err("len of nil pointer".to_owned()),
        Some(Value::Str(s)) => s.len() as i64,
        Some(Value::List(l)) => l.len() as i64,
        Some(Value::Map(m)) => m.len() as i64,
        Some(Value::NilList | Value::NilMap) => 0,
        Some(Value::Time(_)) => return Err("len of type time.Time".to_owned()),
        Some(_) => return Err(format!("len of type {}", v.ty())),
    })
}

/// `strings.Title`: upper-cases the first letter of each word.
fn title(s: &str) -> String {
    let is_separator = |c: char| {
        if c.is_ascii() { !(c.is_ascii_alphanumeric() || c == '_') } else { !c.is_alphanumeric() && c.is_whitespace() }
    };
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        if is_separator(prev) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// text/template's `evalArgs`: `fmt.Sprint` of the arguments, a missing value printing as `<no value>`.
fn eval_args(args: Vec<V>) -> String {
    if let [V::Val(v, "string")] = args.as_slice()
        && let Value::Str(s) = &**v
    {
        return s.clone();
    }
    let args: Vec<V> =
        args.into_iter().map(|a| if matches!(a, V::Invalid) { V::str("<no value>") } else { a }).collect();
    sprint(&args, false)
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c if c.is_ascii() || is_print(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
        }
    }
    out
}

/// `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::inspect::template::tests::{err, ok};

    #[test]
    fn comparison_builtins_follow_go() {
        assert_eq!(ok(r#"{{eq .Os "linux"}} {{eq .Os "x" "y" "linux"}} {{eq .Os "x" "y"}}"#), "true true false");
        assert_eq!(
            ok(r#"{{ne .Os "linux"}} {{ne 1 2}} {{eq .Digest "sha256:abc"}} {{eq 2 (len .Layers)}}"#),
            "false true true true"
        );
        assert_eq!(
            ok(r#"{{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}} {{lt "B" "a"}} {{lt 1.5 2.5}}"#),
            "true true true false true true"
        );
        // Bytes of a string are uint8 and compare with ints.
        assert_eq!(ok("{{eq (index .Os 0) 108}} {{lt (index .Os 0) 200}}"), "true true");
        // Sizes are int64 and compare with int literals.
        assert_eq!(ok("{{range .LayersData}}{{if gt .Size 5}}{{.Digest}}{{end}}{{end}}"), "sha256:l1");
        // nil-able values compare with nil and each other.
        assert_eq!(
            ok(
                "{{eq .Env nil}} {{eq .Created nil}} {{eq .Labels.x nil}} {{eq .Labels.x .Labels.y}} {{eq .Labels.x \"\"}}"
            ),
            "true true true true false"
        );
        let at = |node: &str, msg: &str| {
            format!("template: skopeo inspect:1:13: executing \"skopeo inspect\" at <{node}>: {msg}")
        };
        assert_eq!(
            err("{{eq .Os 1}}"),
            at("eq .Os 1", "error calling eq: incompatible types for comparison: string and int")
        );
        assert_eq!(
            err("{{eq 1 1.0}}"),
            at("eq 1 1.0", "error calling eq: incompatible types for comparison: int and float64")
        );
        assert_eq!(err("{{eq .Os}}"), at("eq .Os", "error calling eq: missing argument for comparison"));
        assert_eq!(err("{{eq}}"), at("eq", "wrong number of args for eq: want at least 1 got 0"));
        assert_eq!(err("{{ne 1}}"), at("ne", "wrong number of args for ne: want 2 got 1"));
        assert_eq!(
            err("{{eq .Layers .Layers}}"),
            at("eq .Layers .Layers", "error calling eq: non-comparable type [sha256:l1 sha256:l2]: []string")
        );
        assert_eq!(
            err("{{eq .Layers .Labels}}"),
            at(
                "eq .Layers .Labels",
                "error calling eq: non-comparable types [sha256:l1 sha256:l2]: []string, map[string]string: map[empty: k:v]"
            )
        );
        assert_eq!(err("{{lt true false}}"), at("lt true false", "error calling lt: invalid type for comparison"));
        assert_eq!(err("{{lt .Layers 1}}"), at("lt .Layers 1", "error calling lt: invalid type for comparison"));
        assert_eq!(
            err("{{lt 1 2.5}}"),
            at("lt 1 2.5", "error calling lt: incompatible types for comparison: int and float64")
        );
        assert_eq!(err("{{gt .Labels.x 1}}"), at("gt .Labels.x 1", "error calling gt: invalid type for comparison"));
    }

    #[test]
    fn and_or_not_return_go_values() {
        assert_eq!(
            ok(r#"{{and 1 0 2}}|{{and 1 2}}|{{or 0 "" "x"}}|{{or 0 ""}}|{{or .Labels.x "default"}}"#),
            "0|2|x||default"
        );
        // Evaluation stops at the deciding argument: later ones are never evaluated.
        assert_eq!(ok("{{and .Os 0 .Nope}}|{{or .Os .Nope}}"), "0|linux");
        assert!(err("{{and .Os 1 .Nope}}").contains("can't evaluate field Nope"));
        // A piped value is the last argument.
        assert_eq!(ok("{{.Os | and 1}} {{.Os | or 0}} {{\"\" | and 1}}"), "linux linux ");
        assert_eq!(
            ok(
                r#"{{not .Os}} {{not ""}} {{not .Env}} {{not .Labels.x}} {{not 0}} {{not .Created}} {{not .LayersData}}"#
            ),
            "false true true true true true false"
        );
        assert_eq!(ok(r#"{{if and (eq .Os "linux") (ne .Architecture "arm")}}yes{{end}}"#), "yes");
        assert_eq!(
            ok(r#"{{if or (eq .Architecture "arm64") (eq .Architecture "amd64")}}supported{{end}}"#),
            "supported"
        );
        assert!(err("{{and}}").ends_with("wrong number of args for and: want at least 1 got 0"));
    }

    #[test]
    fn builtin_and_helper_functions() {
        assert_eq!(
            ok(r#"{{html "<a href='x'>&\"</a>"}}|{{html .Labels.x}}|{{html 1 "a" 2}}"#),
            "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;|&lt;no value&gt;|1a2"
        );
        assert_eq!(
            ok(r#"{{js "<a href='x'>&\"=\\</a> é"}}"#),
            r#"\u003Ca href\u003D\'x\'\u003E\u0026\"\u003D\\\u003C/a\u003E é"#
        );
        assert_eq!(ok(r#"{{urlquery "a b&c=d/é~"}}"#), "a+b%26c%3Dd%2F%C3%A9~");
        assert_eq!(
            ok(
                r#"{{slice .Os 1 3}} {{slice .Layers 1}} {{len (slice .Os 5)}} {{index .Layers 1}} {{index .Labels "nope"}}|"#
            ),
            "in [sha256:l2] 0 sha256:l2 |"
        );
        assert_eq!(
            ok(
                r#"{{split "a,b" ","}} {{join (split .Os "n") "N"}} {{title "hello wORLD-x"}} {{truncate .Os 3}} {{truncate .Os 9}} {{pad .Os 1 2}}|{{pad "" 1 2}}|"#
            ),
            "[a b] liNux Hello WORLD-X lin linux  linux  ||"
        );
        assert_eq!(
            ok(r#"{{json .Labels}} {{json .Labels.x}} {{json (index .LayersData 0).Annotations}} {{lower "ÀB"}}"#),
            r#"{"empty":"","k":"v"} null null àb"#
        );
        let at = |node: &str, msg: &str| {
            format!("template: skopeo inspect:1:13: executing \"skopeo inspect\" at <{node}>: {msg}")
        };
        assert_eq!(
            err("{{index .Layers 2}}"),
            at("index .Layers 2", "error calling index: reflect: slice index out of range")
        );
        assert_eq!(err("{{index .Layers 3}}"), at("index .Layers 3", "error calling index: index out of range: 3"));
        assert_eq!(
            err("{{index .Labels 1}}"),
            at("index .Labels 1", "error calling index: value has type int; should be string")
        );
        assert_eq!(
            err("{{len .Labels.x}}"),
            at("len .Labels.x", "error calling len: reflect: call of reflect.Value.Type on zero Value")
        );
        assert_eq!(err("{{len .Created}}"), at("len .Created", "error calling len: len of nil pointer"));
        assert_eq!(err("{{slice .Os 3 1}}"), at("slice .Os 3 1", "error calling slice: invalid slice index: 3 > 1"));
        assert_eq!(err("{{call .Os}}"), at("call .Os", "error calling call: non-function .Os of type string"));
        assert_eq!(
            err("{{truncate .Os -1}}"),
            at("truncate .Os -1", "error calling truncate: runtime error: slice bounds out of range [:-1]")
        );
        assert!(
            err("{{upper .Digest}}")
                .ends_with("at <.Digest>: wrong type for value; expected string; got digest.Digest")
        );
        assert!(err("{{upper 1}}").ends_with("at <1>: expected string; found 1"));
        assert!(
            err("{{join .LayersData \",\"}}")
                .ends_with("wrong type for value; expected []string; got []types.ImageInspectLayer")
        );
    }
}
