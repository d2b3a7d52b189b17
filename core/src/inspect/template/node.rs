//! The parse tree: nodes, pipelines, commands and their arguments, printed as Go prints them in
//! messages (Go's `text/template/parse/node.go`).

#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(String),
    /// An action; variables it declares live until the enclosing `{{end}}`.
    Action(Pipe),
    /// `if`/`with` with their `else if`/`else with` chain.
    If {
        with: bool,
        branches: Vec<(Pipe, Vec<Node>)>,
        else_list: Option<Vec<Node>>,
    },
    Range {
        pipe: Pipe,
        list: Vec<Node>,
        else_list: Option<Vec<Node>>,
    },
    Break,
    Continue,
}

#[derive(Debug, Clone)]
pub(super) struct Pipe {
    pub(super) pos: usize,
    pub(super) is_assign: bool,
    pub(super) decl: Vec<String>,
    pub(super) cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
pub(super) struct Cmd {
    pub(super) pos: usize,
    pub(super) args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(super) struct Arg {
    pub(super) pos: usize,
    pub(super) kind: ArgKind,
}

#[derive(Debug, Clone)]
pub(super) enum ArgKind {
    Dot,
    Nil,
    Bool(bool),
    Number(Number),
    /// The quoted text and its value.
    Str(String, String),
    /// `.A.B`.
    Field(Vec<String>),
    /// `$x.A.B`: the variable, then fields.
    Var(Vec<String>),
    Ident(String),
    Pipe(Box<Pipe>),
    /// `(pipe).A.B`.
    Chain(Box<Arg>, Vec<String>),
}

#[derive(Debug, Clone)]
pub(super) struct Number {
    pub(super) text: String,
    pub(super) int: Option<i64>,
    pub(super) uint: bool,
    pub(super) float: Option<f64>,
}

impl std::fmt::Display for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            ArgKind::Dot => f.write_str("."),
            ArgKind::Nil => f.write_str("nil"),
            ArgKind::Bool(b) => write!(f, "{b}"),
            ArgKind::Number(n) => f.write_str(&n.text),
            ArgKind::Str(q, _) => f.write_str(q),
            ArgKind::Field(ids) => ids.iter().try_for_each(|i| write!(f, ".{i}")),
            ArgKind::Var(ids) => f.write_str(&ids.join(".")),
            ArgKind::Ident(i) => f.write_str(i),
            ArgKind::Pipe(p) => write!(f, "{p}"),
            ArgKind::Chain(node, fields) => {
                match &node.kind {
                    ArgKind::Pipe(p) => write!(f, "({p})")?,
                    _ => write!(f, "{node}")?,
                }
                fields.iter().try_for_each(|i| write!(f, ".{i}"))
            }
        }
    }
}

impl std::fmt::Display for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match &a.kind {
                ArgKind::Pipe(p) => write!(f, "({p})")?,
                _ => write!(f, "{a}")?,
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.decl.is_empty() {
            write!(f, "{} := ", self.decl.join(", "))?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}
