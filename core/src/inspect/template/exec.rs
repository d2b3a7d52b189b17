//! Execution: walks the parse tree over the data, calling functions and printing values
//! (Go's `text/template/exec.go`).

use std::borrow::Cow;

use super::fmt::sprint;
use super::funcs::call;
use super::node::{Arg, ArgKind, Cmd, Node, Number, Pipe};
use super::{IFACE, MAX_OUTPUT, MAX_STEPS, NAME, Template, V, Value, default_ty};
use crate::error::{Error, Result};

/// Runs `tmpl` with `root` as both `.` and `$`, returning the output.
pub(super) fn execute<'a>(tmpl: &'a Template, root: &V<'a>) -> Result<String> {
    let mut s = State { tmpl, vars: vec![("$", root.clone())], at: At::None, out: String::new(), steps: 0 };
    s.walk(root, &tmpl.nodes)?;
    Ok(s.out)
}

/// The node an error is reported at.
#[derive(Clone, Copy)]
enum At<'a> {
    None,
    Arg(&'a Arg),
    Cmd(&'a Cmd),
    Pipe(&'a Pipe),
}

enum Flow {
    Normal,
    Break,
    Continue,
}

/// A function's parameter type.
#[derive(Clone, Copy, PartialEq)]
enum P {
    /// `any`
    Any,
    /// `reflect.Value`: anything, including the invalid value.
    Value,
    Str,
    Int,
    StrList,
}

impl P {
    fn name(self) -> &'static str {
        match self {
            P::Any => IFACE,
            P::Value => "reflect.Value",
            P::Str => "string",
            P::Int => "int",
            P::StrList => "[]string",
        }
    }
}

/// A function's fixed parameters, and the type of its variadic ones.
fn signature(name: &str) -> (&'static [P], Option<P>) {
    match name {
        "and" | "or" | "eq" | "index" | "slice" | "call" => (&[P::Value], Some(P::Value)),
        "not" | "len" => (&[P::Value], None),
        "ne" | "lt" | "le" | "gt" | "ge" => (&[P::Value, P::Value], None),
        "print" | "println" | "html" | "js" | "urlquery" => (&[], Some(P::Any)),
        "printf" => (&[P::Str], Some(P::Any)),
        "json" => (&[P::Any], None),
        "join" => (&[P::StrList, P::Str], None),
        "lower" | "upper" | "title" => (&[P::Str], None),
        "split" => (&[P::Str, P::Str], None),
        "pad" => (&[P::Str, P::Int, P::Int], None),
        "truncate" => (&[P::Str, P::Int], None),
        _ => (&[], None),
    }
}

struct State<'a> {
    tmpl: &'a Template,
    vars: Vec<(&'a str, V<'a>)>,
    at: At<'a>,
    out: String,
    steps: u64,
}

impl<'a> State<'a> {
    fn errorf(&self, msg: impl std::fmt::Display) -> Error {
        let (pos, context) = match self.at {
            At::None => return Error::invalid(format!("template: {NAME}: {msg}")),
            At::Arg(a) => (a.pos, a.to_string()),
            At::Cmd(c) => (c.pos, c.to_string()),
            At::Pipe(p) => (p.pos, p.to_string()),
        };
        let before = &self.tmpl.text[..pos];
        let line = 1 + before.matches('\n').count();
        let col = before.rfind('\n').map_or(pos, |nl| pos - nl - 1);
        Error::invalid(format!("template: {NAME}:{line}:{col}: executing \"{NAME}\" at <{context}>: {msg}"))
    }

    fn step(&mut self) -> Result<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(self.errorf(format_args!("execution takes more than {MAX_STEPS} steps")));
        }
        Ok(())
    }

    fn write(&mut self, s: &str) -> Result<()> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return Err(self.errorf(format_args!("output is larger than {MAX_OUTPUT} bytes")));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn walk(&mut self, dot: &V<'a>, nodes: &'a [Node]) -> Result<Flow> {
        for node in nodes {
            self.step()?;
            let flow = match node {
                Node::Text(t) => {
                    self.write(t)?;
                    Flow::Normal
                }
                Node::Action(pipe) => {
                    let v = self.eval_pipeline(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        let s = match v {
                            V::Invalid => "<no value>".to_owned(),
                            v => sprint(&[v], false),
                        };
                        self.write(&s)?;
                    }
                    Flow::Normal
                }
                Node::If { with, branches, else_list } => {
                    let mark = self.vars.len();
                    let mut flow = None;
                    for (pipe, list) in branches {
                        let v = self.eval_pipeline(dot, pipe)?;
                        if v.is_true() {
                            flow = Some(if *with { self.walk(&v, list)? } else { self.walk(dot, list)? });
                            break;
                        }
                    }
                    let flow = match (flow, else_list) {
                        (Some(f), _) => f,
                        (None, Some(list)) => self.walk(dot, list)?,
                        (None, None) => Flow::Normal,
                    };
                    self.vars.truncate(mark);
                    flow
                }
                Node::Range { pipe, list, else_list } => {
                    self.walk_range(dot, pipe, list, else_list.as_deref())?;
                    Flow::Normal
                }
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk_range(
        &mut self,
        dot: &V<'a>,
        pipe: &'a Pipe,
        list: &'a [Node],
        else_list: Option<&'a [Node]>,
    ) -> Result<()> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, pipe)?;
        let inner = self.vars.len();
        let items: Vec<(V<'a>, V<'a>)> = match val.value() {
            None | Some(Value::NilList | Value::NilMap) => vec![],
            Some(Value::List(l)) => (0..l.len())
                .map(|i| {
                    let elem = val.child(|v| if let Value::List(l) = v { l.get(i) } else { None });
                    (V::int(i as i64), elem.expect("in range"))
                })
                .collect(),
            Some(Value::Map(m)) => m
                .keys()
                .map(|k| {
                    let elem = val.child(|v| if let Value::Map(m) = v { m.get(k) } else { None });
                    (V::str(k.clone()), elem.expect("present"))
                })
                .collect(),
            Some(Value::Int(n)) => {
                if pipe.decl.len() > 1 {
                    return Err(self.errorf(format_args!(
                        "can't use {} to iterate over more than one variable",
                        sprint(&[val], false)
                    )));
                }
                let ty = val.ty();
                (0..*n).map(|i| (V::Invalid, V::Val(Cow::Owned(Value::Int(i)), ty))).collect()
            }
            Some(_) => return Err(self.errorf(format_args!("range can't iterate over {}", sprint(&[val], false)))),
        };
        let ran = !items.is_empty();
        for (index, elem) in items {
            self.step()?;
            if let Some(first) = pipe.decl.first() {
                if pipe.is_assign {
                    let v = if pipe.decl.len() > 1 { index.clone() } else { elem.clone() };
                    self.set_var(first, v)?;
                } else {
                    let top = self.vars.len() - 1;
                    self.vars[top].1 = elem.clone();
                }
            }
            if pipe.decl.len() > 1 {
                if pipe.is_assign {
                    self.set_var(&pipe.decl[1], elem.clone())?;
                } else {
                    let second = self.vars.len() - 2;
                    self.vars[second].1 = index;
                }
            }
            let flow = self.walk(&elem, list)?;
            self.vars.truncate(inner);
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        if !ran && let Some(list) = else_list {
            self.walk(dot, list)?;
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn set_var(&mut self, name: &str, v: V<'a>) -> Result<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(self.errorf(format_args!("undefined variable: {name}"))),
        }
    }

    fn var_value(&self, name: &str) -> Result<V<'a>> {
        match self.vars.iter().rev().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.errorf(format_args!("undefined variable: {name}"))),
        }
    }

    fn eval_pipeline(&mut self, dot: &V<'a>, pipe: &'a Pipe) -> Result<V<'a>> {
        self.at = At::Pipe(pipe);
        let mut value = None;
        for cmd in &pipe.cmds {
            let v = self.eval_command(dot, cmd, value.take())?;
            // An interface value is replaced by what it holds.
            value = Some(match v {
                V::Val(v, IFACE) => {
                    let ty = default_ty(&v);
                    V::Val(v, ty)
                }
                v => v,
            });
        }
        let value = value.expect("pipelines have commands");
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone())?;
            } else {
                self.vars.push((name, value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], fin: &Option<V<'a>>) -> Result<()> {
        if args.len() > 1 || fin.is_some() {
            return Err(self.errorf(format_args!("can't give argument to non-function {}", args[0])));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &V<'a>, cmd: &'a Cmd, fin: Option<V<'a>>) -> Result<V<'a>> {
        let first = &cmd.args[0];
        match &first.kind {
            ArgKind::Field(ids) => {
                self.at = At::Arg(first);
                return self.eval_field_chain(dot, dot.clone(), ids, &cmd.args, fin);
            }
            ArgKind::Chain(node, fields) => return self.eval_chain(dot, first, node, fields, &cmd.args, fin),
            ArgKind::Ident(name) => {
                self.at = At::Arg(first);
                return self.eval_call(dot, name, At::Cmd(cmd), &cmd.args[1..], fin);
            }
            ArgKind::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                return self.eval_pipeline(dot, p);
            }
            ArgKind::Var(ids) => return self.eval_variable(dot, first, ids, &cmd.args, fin),
            _ => {}
        }
        self.at = At::Arg(first);
        self.not_a_function(&cmd.args, &fin)?;
        match &first.kind {
            ArgKind::Bool(b) => Ok(V::bool(*b)),
            ArgKind::Dot => Ok(dot.clone()),
            ArgKind::Nil => Err(self.errorf("nil is not a command")),
            ArgKind::Number(n) => self.ideal_constant(n),
            ArgKind::Str(_, s) => Ok(V::str(s.clone())),
            _ => unreachable!("handled above"),
        }
    }

    fn ideal_constant(&self, n: &Number) -> Result<V<'a>> {
        let rune_or_hex = n.text.starts_with('\'')
            || (n.text.len() > 2 && n.text[..2].eq_ignore_ascii_case("0x") && !n.text.contains(['p', 'P']));
        if let Some(f) = n.float
            && !rune_or_hex
            && n.text.contains(['.', 'e', 'E', 'p', 'P'])
        {
            return Ok(V::Val(Cow::Owned(Value::Float(f)), "float64"));
        }
        if let Some(i) = n.int {
            return Ok(V::int(i));
        }
        if n.uint {
            return Err(self.errorf(format_args!("{} overflows int", n.text)));
        }
        Ok(V::Invalid)
    }

    fn eval_chain(
        &mut self,
        dot: &V<'a>,
        chain: &'a Arg,
        node: &'a Arg,
        fields: &'a [String],
        args: &'a [Arg],
        fin: Option<V<'a>>,
    ) -> Result<V<'a>> {
        self.at = At::Arg(chain);
        if matches!(node.kind, ArgKind::Nil) {
            return Err(self.errorf(format_args!("indirection through explicit nil in {chain}")));
        }
        // Errors in the fields are reported at the last node evaluated, as Go does.
        let receiver = self.eval_arg(dot, P::Value, node)?;
        self.eval_field_chain(dot, receiver, fields, args, fin)
    }

    fn eval_variable(
        &mut self,
        dot: &V<'a>,
        node: &'a Arg,
        ids: &'a [String],
        args: &'a [Arg],
        fin: Option<V<'a>>,
    ) -> Result<V<'a>> {
        self.at = At::Arg(node);
        let value = self.var_value(&ids[0])?;
        if ids.len() == 1 {
            self.not_a_function(args, &fin)?;
            return Ok(value);
        }
        self.eval_field_chain(dot, value, &ids[1..], args, fin)
    }

    fn eval_field_chain(
        &mut self,
        dot: &V<'a>,
        mut receiver: V<'a>,
        ids: &'a [String],
        args: &'a [Arg],
        fin: Option<V<'a>>,
    ) -> Result<V<'a>> {
        let (last, init) = ids.split_last().expect("fields");
        for id in init {
            receiver = self.eval_field(dot, id, &[], None, receiver)?;
        }
        self.eval_field(dot, last, args, fin, receiver)
    }

    fn eval_field(
        &mut self,
        _dot: &V<'a>,
        name: &str,
        args: &[Arg],
        fin: Option<V<'a>>,
        receiver: V<'a>,
    ) -> Result<V<'a>> {
        let V::Val(value, typ) = &receiver else { return Ok(V::Invalid) };
        let has_args = args.len() > 1 || fin.is_some();
        match &**value {
            Value::Struct(_) => {
                if let Some(f) = receiver.field(name) {
                    if has_args {
                        return Err(self.errorf(format_args!("{name} has arguments but cannot be invoked as function")));
                    }
                    return Ok(f);
                }
            }
            Value::Map(_) | Value::NilMap => {
                if has_args {
                    return Err(self.errorf(format_args!("{name} is not a method but has arguments")));
                }
                let v = receiver.child(|v| if let Value::Map(m) = v { m.get(name) } else { None });
                return Ok(v.unwrap_or(V::Invalid));
            }
            _ => {}
        }
        Err(self.errorf(format_args!("can't evaluate field {name} in type {typ}")))
    }

    fn eval_call(
        &mut self,
        dot: &V<'a>,
        name: &str,
        node: At<'a>,
        args: &'a [Arg],
        fin: Option<V<'a>>,
    ) -> Result<V<'a>> {
        let (fixed, variadic) = signature(name);
        let num_in = args.len() + usize::from(fin.is_some());
        if variadic.is_some() {
            if num_in < fixed.len() {
                return Err(self.errorf(format_args!(
                    "wrong number of args for {name}: want at least {} got {}",
                    fixed.len(),
                    args.len()
                )));
            }
        } else if num_in != fixed.len() {
            return Err(self.errorf(format_args!("wrong number of args for {name}: want {} got {num_in}", fixed.len())));
        }
        if name == "and" || name == "or" {
            // They stop at the first argument that decides the result.
            let mut v = V::Invalid;
            for a in args {
                v = self.eval_arg(dot, P::Value, a)?;
                if v.is_true() == (name == "or") {
                    return Ok(v);
                }
            }
            return Ok(fin.unwrap_or(v));
        }
        let mut argv = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            let p = fixed.get(i).copied().or(variadic).expect("checked arity");
            argv.push(self.eval_arg(dot, p, a)?);
        }
        if let Some(f) = fin {
            let p = fixed.get(num_in - 1).copied().or(variadic).expect("checked arity");
            argv.push(self.validate_type(f, p)?);
        }
        let callee = args.first().map(ToString::to_string).unwrap_or_default();
        call(name, argv, &callee).map_err(|e| {
            self.at = node;
            self.errorf(format_args!("error calling {name}: {e}"))
        })
    }

    fn eval_arg(&mut self, dot: &V<'a>, p: P, arg: &'a Arg) -> Result<V<'a>> {
        self.at = At::Arg(arg);
        let v = match &arg.kind {
            ArgKind::Dot => dot.clone(),
            ArgKind::Nil => {
                return match p {
                    P::Any | P::Value => Ok(V::Invalid),
                    P::StrList => Ok(V::Val(Cow::Owned(Value::NilList), "[]string")),
                    _ => Err(self.errorf(format_args!("cannot assign nil to {}", p.name()))),
                };
            }
            ArgKind::Field(ids) => self.eval_field_chain(dot, dot.clone(), ids, std::slice::from_ref(arg), None)?,
            ArgKind::Var(ids) => self.eval_variable(dot, arg, ids, &[], None)?,
            ArgKind::Pipe(pipe) => self.eval_pipeline(dot, pipe)?,
            ArgKind::Ident(name) => {
                self.at = At::Arg(arg);
                self.eval_call(dot, name, At::Arg(arg), &[], None)?
            }
            ArgKind::Chain(node, fields) => self.eval_chain(dot, arg, node, fields, &[], None)?,
            ArgKind::Bool(b) => match p {
                P::Any | P::Value => return Ok(V::bool(*b)),
                _ => return Err(self.literal_mismatch(p, arg)),
            },
            ArgKind::Number(n) => match p {
                P::Any | P::Value => return self.ideal_constant(n),
                P::Int => match n.int {
                    Some(i) => return Ok(V::int(i)),
                    None => return Err(self.literal_mismatch(p, arg)),
                },
                _ => return Err(self.literal_mismatch(p, arg)),
            },
            ArgKind::Str(_, s) => match p {
                P::Any | P::Value | P::Str => return Ok(V::str(s.clone())),
                _ => return Err(self.literal_mismatch(p, arg)),
            },
        };
        self.validate_type(v, p)
    }

    fn literal_mismatch(&self, p: P, arg: &Arg) -> Error {
        match p {
            P::Str => self.errorf(format_args!("expected string; found {arg}")),
            P::Int => self.errorf(format_args!("expected integer; found {arg}")),
            _ => self.errorf(format_args!("can't handle {arg} for arg of type {}", p.name())),
        }
    }

    fn validate_type(&self, v: V<'a>, p: P) -> Result<V<'a>> {
        let want = match p {
            P::Any | P::Value => return Ok(v),
            P::Str => "string",
            P::Int => "int",
            P::StrList => "[]string",
        };
        match &v {
            V::Invalid if p == P::StrList => Ok(V::Val(Cow::Owned(Value::NilList), "[]string")),
            V::Invalid => Err(self.errorf(format_args!("invalid value; expected {want}"))),
            _ if v.ty() == want => Ok(v),
            _ => Err(self.errorf(format_args!("wrong type for value; expected {want}; got {}", v.ty()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::inspect::template::tests::{err, exec, ok};

    #[test]
    fn truthiness_follows_go() {
        // Empty string, 0, false, nil, empty list/map and a missing key are false.
        for f in
            ["\"\"", "0", "false", ".Env", ".RepoTags", ".Created", ".Labels.x", ".Tag", "(index .LayersData 1).Size"]
        {
            let t = format!("{{{{if {f}}}}}T{{{{else}}}}F{{{{end}}}}");
            assert_eq!(exec(&t).map_err(|e| e.message), Ok("F\n".to_owned()), "{t}");
        }
        for f in ["\"0\"", "1", "-1", "0.5", "true", ".Labels", ".Layers", ".LayersData", "(index .LayersData 0)", "."]
        {
            let t = format!("{{{{if {f}}}}}T{{{{else}}}}F{{{{end}}}}");
            assert_eq!(exec(&t).map_err(|e| e.message), Ok("T\n".to_owned()), "{t}");
        }
        assert_eq!(ok("{{if .Labels.empty}}e{{else if .Labels.k}}{{.Labels.k}}{{else}}n{{end}}"), "v");
        assert_eq!(ok(r#"{{if eq .Os "windows"}}w{{else if eq .Os "darwin"}}d{{else}}other{{end}}"#), "other");
        assert_eq!(ok("{{with .Labels}}{{.k}}{{end}}|{{with .Env}}{{len .}}{{else}}none{{end}}"), "v|none");
        assert_eq!(ok("{{with .Labels.x}}x{{else with .Os}}{{.}}{{end}}"), "linux");
        assert_eq!(ok("{{with .Created}}{{.}}{{else}}no date{{end}}"), "no date");
        assert_eq!(ok("{{range .RepoTags}}{{.}}{{else}}no tags{{end}}"), "no tags");
        assert_eq!(ok("{{range .Labels.x}}{{.}}{{else}}nothing{{end}}"), "nothing");
    }

    #[test]
    fn parenthesised_pipelines_and_chains() {
        assert_eq!(ok("{{(index .LayersData 0).Digest}} {{(index .LayersData 1).Size}}"), "sha256:l1 0");
        assert_eq!(ok(r#"{{(index .Labels "k") | len}} {{(eq .Os "linux")}} {{len (index .Layers 0)}}"#), "1 true 9");
        assert_eq!(ok(r#"{{printf "%s-%s" (upper .Os) (printf "%d" (len (slice .Layers 1)))}}"#), "LINUX-1");
        assert_eq!(
            ok(r#"{{if not (or (eq .Os "windows") (and (eq .Os "linux") (eq .Architecture "s390x")))}}ok{{end}}"#),
            "ok"
        );
        assert_eq!(ok(r#"{{.Os | printf "%s-%s" "a"}} {{.Layers | len | printf "%03d"}}"#), "a-linux 002");
        // Go reports a failing chain at the last node it evaluated.
        assert_eq!(
            err("{{(index .Layers 0).Nope}}"),
            "template: skopeo inspect:1:28: executing \"skopeo inspect\" at <0>: can't evaluate field Nope in type string"
        );
    }

    #[test]
    fn variables_range_break_continue() {
        assert_eq!(ok("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}"), "empty=;k=v;");
        assert_eq!(ok("{{range $i, $l := .Layers}}{{$i}}:{{$l}} {{end}}"), "0:sha256:l1 1:sha256:l2 ");
        assert_eq!(ok("{{range $l := .Layers}}{{$l}},{{end}}"), "sha256:l1,sha256:l2,");
        assert_eq!(ok("{{$x := 1}}{{$x}}{{$x = 2}}{{$x}}{{if .Os}}{{$x = 3}}{{end}}{{$x}}"), "123");
        assert_eq!(ok("{{with $os := .Os}}{{$os}}/{{.}}{{end}}"), "linux/linux");
        // `$` is the list skopeo ranges over.
        assert_eq!(ok("{{range $}}{{.Os}}{{end}} {{len $}}"), "linux 1");
        assert_eq!(ok("{{range $i, $e := .LayersData}}{{if eq $i 1}}{{$e.Digest}}{{end}}{{end}}"), "sha256:l2");
        assert_eq!(ok("{{range .Layers}}{{if eq . \"sha256:l2\"}}{{break}}{{end}}{{.}};{{end}}"), "sha256:l1;");
        assert_eq!(ok("{{range .Layers}}{{if eq . \"sha256:l1\"}}{{continue}}{{end}}{{.}};{{end}}"), "sha256:l2;");
        assert_eq!(ok("{{range 3}}{{.}}{{end}}|{{range $i := 2}}{{$i}}{{end}}"), "012|01");
        // An explicit `{{range .}}` replaces skopeo's implicit one.
        assert_eq!(ok("{{range .}}{{.Os}}{{end}}"), "linux");
        assert!(err("{{if .Os}}{{$y := 1}}{{end}}{{$y}}").ends_with("undefined variable \"$y\""));
        assert!(err("{{range $a, $b, $c := .Layers}}{{end}}").ends_with("too many declarations in range"));
        assert!(err("{{$x, $y := 1}}").ends_with("too many declarations in command"));
        assert!(err("{{.Os}}{{break}}{{end}}{{break}}").ends_with("{{break}} outside {{range}}"));
    }
}
