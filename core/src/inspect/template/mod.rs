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
use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::go::time::GoTime;

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
        let mut s = State { tmpl: self, vars: vec![("$", root.clone())], at: At::None, out: String::new(), steps: 0 };
        s.walk(&root, &self.nodes)?;
        Ok(s.out)
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

// ---------------------------------------------------------------------------
// Lexer (text/template/parse/lex.go)
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum It {
    Error,
    Bool,
    Char,
    CharConst,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Ident,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    // Keywords.
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl It {
    fn is_keyword(self) -> bool {
        matches!(
            self,
            It::Block
                | It::Break
                | It::Continue
                | It::Dot
                | It::Define
                | It::Else
                | It::End
                | It::If
                | It::Nil
                | It::Range
                | It::Template
                | It::With
        )
    }
}

#[derive(Debug, Clone)]
struct Item {
    typ: It,
    pos: usize,
    val: String,
    line: usize,
}

impl std::fmt::Display for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.typ {
            It::Eof => f.write_str("EOF"),
            It::Error => f.write_str(&self.val),
            t if t.is_keyword() => write!(f, "<{}>", self.val),
            _ if self.val.chars().count() > 10 => {
                write!(f, "{}...", quote(&self.val.chars().take(10).collect::<String>(), false))
            }
            _ => f.write_str(&quote(&self.val, false)),
        }
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

fn has_left_trim(s: &str) -> bool {
    let mut c = s.chars();
    c.next() == Some('-') && c.next().is_some_and(is_space)
}

fn has_right_trim(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(is_space) && c.next() == Some('-')
}

fn trim_space(s: &str) -> &str {
    s.trim_start_matches(is_space)
}

/// `%#U`: `U+0041 'A'`.
fn sharp_u(c: char) -> String {
    if is_print(c) { format!("U+{:04X} '{c}'", c as u32) } else { format!("U+{:04X}", c as u32) }
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    paren_depth: i64,
    items: Vec<Item>,
    /// Newlines counted up to `line_pos`.
    line: usize,
    line_pos: usize,
}

impl<'a> Lexer<'a> {
    fn lex(input: &'a str) -> Vec<Item> {
        let mut l = Lexer { input, pos: 0, start: 0, paren_depth: 0, items: Vec::new(), line: 1, line_pos: 0 };
        let mut inside = false;
        loop {
            let more = if inside { l.inside_action() } else { l.text() };
            match more {
                Some(next_inside) => inside = next_inside,
                None => break,
            }
        }
        l.items
    }

    fn line_at(&mut self, pos: usize) -> usize {
        if pos >= self.line_pos {
            self.line += self.input[self.line_pos..pos].matches('\n').count();
        } else {
            self.line -= self.input[pos..self.line_pos].matches('\n').count();
        }
        self.line_pos = pos;
        self.line
    }

    fn emit(&mut self, typ: It) {
        let line = self.line_at(self.start);
        self.items.push(Item { typ, pos: self.start, val: self.input[self.start..self.pos].to_owned(), line });
        self.start = self.pos;
    }

    /// Ends the scan with an error item.
    fn error(&mut self, msg: String) -> Option<bool> {
        let line = self.line_at(self.start);
        self.items.push(Item { typ: It::Error, pos: self.start, val: msg, line });
        None
    }

    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }

    fn next(&mut self) -> Option<char> {
        let c = self.rest().chars().next()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn backup(&mut self, c: Option<char>) {
        if let Some(c) = c {
            self.pos -= c.len_utf8();
        }
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    /// Returns whether the next state is inside an action; `None` at the end.
    fn text(&mut self) -> Option<bool> {
        if let Some(x) = self.rest().find("{{") {
            let delim = self.pos + x;
            let mut end = delim;
            if has_left_trim(&self.input[delim + 2..]) {
                end = self.start + self.input[self.start..delim].trim_end_matches(is_space).len();
            }
            if end > self.start {
                self.pos = end;
                self.emit(It::Text);
            }
            self.pos = delim;
            self.start = delim;
            return self.left_delim();
        }
        self.pos = self.input.len();
        if self.pos > self.start {
            self.emit(It::Text);
        }
        self.emit(It::Eof);
        None
    }

    fn left_delim(&mut self) -> Option<bool> {
        self.pos += 2;
        let after = if has_left_trim(self.rest()) { 2 } else { 0 };
        if self.input[self.pos + after..].starts_with("/*") {
            self.pos += after;
            self.start = self.pos;
            return self.comment();
        }
        self.emit(It::LeftDelim);
        self.pos += after;
        self.start = self.pos;
        self.paren_depth = 0;
        Some(true)
    }

    fn comment(&mut self) -> Option<bool> {
        self.pos += 2;
        let Some(i) = self.rest().find("*/") else { return self.error("unclosed comment".into()) };
        self.pos += i + 2;
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.error("comment ends before closing delimiter".into());
        }
        if trim {
            self.pos += 2;
        }
        self.pos += 2;
        if trim {
            self.pos = self.input.len() - trim_space(self.rest()).len();
        }
        self.start = self.pos;
        Some(false)
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest();
        if rest.starts_with("}}") {
            return (true, false);
        }
        if has_right_trim(rest) && rest[2..].starts_with("}}") {
            return (true, true);
        }
        (false, false)
    }

    fn right_delim(&mut self) -> Option<bool> {
        let (_, trim) = self.at_right_delim();
        if trim {
            self.pos += 2;
            self.start = self.pos;
        }
        self.pos += 2;
        self.emit(It::RightDelim);
        if trim {
            self.pos = self.input.len() - trim_space(self.rest()).len();
            self.start = self.pos;
        }
        Some(false)
    }

    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) => is_space(c) || matches!(c, '.' | ',' | '|' | ':' | ')' | '(' | '}'),
        }
    }

    fn inside_action(&mut self) -> Option<bool> {
        if self.at_right_delim().0 {
            if self.paren_depth == 0 {
                return self.right_delim();
            }
            return self.error("unclosed left paren".into());
        }
        let Some(c) = self.next() else { return self.error("unclosed action".into()) };
        match c {
            c if is_space(c) => {
                self.backup(Some(c));
                return self.space();
            }
            '=' => self.emit(It::Assign),
            ':' => {
                if self.next() != Some('=') {
                    return self.error("expected :=".into());
                }
                self.emit(It::Declare);
            }
            '|' => self.emit(It::Pipe),
            '"' => return self.quote(),
            '`' => return self.raw_quote(),
            '$' => return self.variable(),
            '\'' => return self.char_const(),
            '.' if self.peek().is_none_or(|n| !n.is_ascii_digit()) => return self.field_or_variable(It::Field),
            '.' | '+' | '-' | '0'..='9' => {
                self.backup(Some(c));
                return self.number();
            }
            c if is_alnum(c) => {
                self.backup(Some(c));
                return self.identifier();
            }
            '(' => {
                self.emit(It::LeftParen);
                self.paren_depth += 1;
            }
            ')' => {
                self.emit(It::RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.error(format!("unexpected right paren {}", sharp_u(c)));
                }
            }
            c if c.is_ascii() && !c.is_ascii_control() => self.emit(It::Char),
            c => return self.error(format!("unrecognized character in action: {}", sharp_u(c))),
        }
        Some(true)
    }

    fn space(&mut self) -> Option<bool> {
        let mut n = 0;
        while self.peek().is_some_and(is_space) {
            self.next();
            n += 1;
        }
        // A space may start a trim-marked right delimiter.
        let before = self.pos - 1;
        if has_right_trim(&self.input[before..]) && self.input[before + 2..].starts_with("}}") {
            self.pos = before;
            if n == 1 {
                return self.right_delim();
            }
        }
        self.emit(It::Space);
        Some(true)
    }

    fn identifier(&mut self) -> Option<bool> {
        while self.peek().is_some_and(is_alnum) {
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            return self.error(format!("bad character {}", sharp_u(c)));
        }
        let typ = match &self.input[self.start..self.pos] {
            "block" => It::Block,
            "break" => It::Break,
            "continue" => It::Continue,
            "define" => It::Define,
            "else" => It::Else,
            "end" => It::End,
            "if" => It::If,
            "range" => It::Range,
            "nil" => It::Nil,
            "template" => It::Template,
            "with" => It::With,
            "true" | "false" => It::Bool,
            _ => It::Ident,
        };
        self.emit(typ);
        Some(true)
    }

    fn variable(&mut self) -> Option<bool> {
        if self.at_terminator() {
            self.emit(It::Variable);
            return Some(true);
        }
        self.field_or_variable(It::Variable)
    }

    fn field_or_variable(&mut self, typ: It) -> Option<bool> {
        if self.at_terminator() {
            self.emit(if typ == It::Variable { It::Variable } else { It::Dot });
            return Some(true);
        }
        while self.peek().is_some_and(is_alnum) {
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            return self.error(format!("bad character {}", sharp_u(c)));
        }
        self.emit(typ);
        Some(true)
    }

    fn char_const(&mut self) -> Option<bool> {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some(c) if c != '\n' => {}
                    _ => return self.error("unterminated character constant".into()),
                },
                None | Some('\n') => return self.error("unterminated character constant".into()),
                Some('\'') => break,
                Some(_) => {}
            }
        }
        self.emit(It::CharConst);
        Some(true)
    }

    fn number(&mut self) -> Option<bool> {
        if !self.scan_number() {
            return self.error(format!("bad number syntax: {}", quote(&self.input[self.start..self.pos], false)));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                return self.error(format!("bad number syntax: {}", quote(&self.input[self.start..self.pos], false)));
            }
            self.emit(It::Complex);
        } else {
            self.emit(It::Number);
        }
        Some(true)
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if self.peek().is_some_and(is_alnum) {
            self.next();
            return false;
        }
        true
    }

    fn quote(&mut self) -> Option<bool> {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some(c) if c != '\n' => {}
                    _ => return self.error("unterminated quoted string".into()),
                },
                None | Some('\n') => return self.error("unterminated quoted string".into()),
                Some('"') => break,
                Some(_) => {}
            }
        }
        self.emit(It::String);
        Some(true)
    }

    fn raw_quote(&mut self) -> Option<bool> {
        let Some(i) = self.rest().find('`') else { return self.error("unterminated raw quoted string".into()) };
        self.pos += i + 1;
        self.emit(It::RawString);
        Some(true)
    }
}

// ---------------------------------------------------------------------------
// Parse tree (text/template/parse/node.go)
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Node {
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
struct Pipe {
    pos: usize,
    is_assign: bool,
    decl: Vec<String>,
    cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
struct Cmd {
    pos: usize,
    args: Vec<Arg>,
}

#[derive(Debug, Clone)]
struct Arg {
    pos: usize,
    kind: ArgKind,
}

#[derive(Debug, Clone)]
enum ArgKind {
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
struct Number {
    text: String,
    int: Option<i64>,
    uint: bool,
    float: Option<f64>,
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

// ---------------------------------------------------------------------------
// Parser (text/template/parse/parse.go)
// ---------------------------------------------------------------------------

/// The functions a template may call: Go's builtins and containers/common's.
const FUNCS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf", "println", "urlquery", "eq",
    "ge", "gt", "le", "lt", "ne", "join", "json", "lower", "pad", "split", "title", "truncate", "upper",
];

enum Parsed {
    Node(Node),
    End,
    Else,
}

struct Parser {
    items: Vec<Item>,
    next: usize,
    /// The furthest item read: Go reports parse errors at its line.
    seen: usize,
    vars: Vec<String>,
    range_depth: usize,
    action_line: usize,
}

impl Parser {
    fn new(text: &str) -> Self {
        Parser { items: Lexer::lex(text), next: 0, seen: 0, vars: vec!["$".to_owned()], range_depth: 0, action_line: 0 }
    }

    fn errorf(&self, msg: impl std::fmt::Display) -> Error {
        Error::invalid(format!("template: {NAME}:{}: {msg}", self.items[self.seen].line))
    }

    fn unexpected(&self, token: &Item, context: &str) -> Error {
        if token.typ == It::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(" in action started at {NAME}:{}", self.action_line);
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_owned();
                }
            }
            return self.errorf(format_args!("{token}{extra}"));
        }
        self.errorf(format_args!("unexpected {token} in {context}"))
    }

    fn next(&mut self) -> Item {
        let i = self.next.min(self.items.len() - 1);
        self.next = i + 1;
        self.seen = self.seen.max(i);
        self.items[i].clone()
    }

    fn backup(&mut self) {
        self.next -= 1;
    }

    fn peek(&mut self) -> Item {
        let t = self.next();
        self.backup();
        t
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let t = self.next();
            if t.typ != It::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn expect(&mut self, typ: It, context: &str) -> Result<Item> {
        let t = self.next_non_space();
        if t.typ != typ {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn parse(mut self) -> Result<Vec<Node>> {
        let mut nodes = Vec::new();
        while self.peek().typ != It::Eof {
            if self.peek().typ == It::LeftDelim {
                let save = self.next;
                self.next();
                if self.next_non_space().typ == It::Define {
                    return Err(self.errorf("{{define}} is not supported"));
                }
                self.next = save;
            }
            match self.text_or_action(0)? {
                Parsed::Node(n) => nodes.push(n),
                Parsed::End => return Err(self.errorf("unexpected {{end}}")),
                Parsed::Else => return Err(self.errorf("unexpected {{else}}")),
            }
        }
        Ok(nodes)
    }

    /// Nodes up to `{{end}}` or `{{else}}`, which is returned separately.
    fn item_list(&mut self, depth: usize) -> Result<(Vec<Node>, Parsed)> {
        let mut list = Vec::new();
        while self.peek_non_space().typ != It::Eof {
            match self.text_or_action(depth)? {
                Parsed::Node(n) => list.push(n),
                end => return Ok((list, end)),
            }
        }
        Err(self.errorf("unexpected EOF"))
    }

    fn text_or_action(&mut self, depth: usize) -> Result<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            It::Text => Ok(Parsed::Node(Node::Text(token.val))),
            It::LeftDelim => {
                self.action_line = token.line;
                let r = self.action(depth);
                self.action_line = 0;
                r
            }
            _ => Err(self.unexpected(&token, "input")),
        }
    }

    fn action(&mut self, depth: usize) -> Result<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            It::Block | It::Template => Err(self.errorf(format_args!("{{{{{}}}}} is not supported", token.val))),
            It::Break | It::Continue => {
                let t = self.next_non_space();
                if t.typ != It::RightDelim {
                    return Err(self.unexpected(&t, &format!("{{{{{}}}}}", token.val)));
                }
                if self.range_depth == 0 {
                    return Err(self.errorf(format_args!("{{{{{}}}}} outside {{{{range}}}}", token.val)));
                }
                Ok(Parsed::Node(if token.typ == It::Break { Node::Break } else { Node::Continue }))
            }
            It::Else => {
                let peek = self.peek_non_space();
                if !matches!(peek.typ, It::If | It::With) {
                    self.expect(It::RightDelim, "else")?;
                }
                Ok(Parsed::Else)
            }
            It::End => {
                self.expect(It::RightDelim, "end")?;
                Ok(Parsed::End)
            }
            It::If | It::Range | It::With => self.control(token.typ, self.deeper(depth)?).map(Parsed::Node),
            _ => {
                self.backup();
                Ok(Parsed::Node(Node::Action(self.pipeline("command", It::RightDelim, depth)?)))
            }
        }
    }

    /// One more level of nesting; skopeo's implicit `{{range .}}` is not counted.
    fn deeper(&self, depth: usize) -> Result<usize> {
        if depth > MAX_DEPTH {
            return Err(self.errorf(format_args!("actions nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(depth + 1)
    }

    fn control(&mut self, kind: It, depth: usize) -> Result<Node> {
        let context = match kind {
            It::If => "if",
            It::With => "with",
            _ => "range",
        };
        let mark = self.vars.len();
        let mut branches = Vec::new();
        let else_list = loop {
            let pipe = self.pipeline(context, It::RightDelim, depth)?;
            if kind == It::Range {
                self.range_depth += 1;
            }
            let (list, next) = self.item_list(depth)?;
            if kind == It::Range {
                self.range_depth -= 1;
            }
            branches.push((pipe, list));
            match next {
                Parsed::Else => {
                    // `{{else if …}}` / `{{else with …}}` continue the chain.
                    if kind != It::Range && self.peek().typ == kind {
                        self.next();
                        continue;
                    }
                    let (list, next) = self.item_list(depth)?;
                    if !matches!(next, Parsed::End) {
                        return Err(self.errorf("expected end; found {{else}}"));
                    }
                    break Some(list);
                }
                _ => break None,
            }
        };
        self.vars.truncate(mark);
        Ok(match kind {
            It::Range => {
                let (pipe, list) = branches.pop().expect("one branch");
                Node::Range { pipe, list, else_list }
            }
            _ => Node::If { with: kind == It::With, branches, else_list },
        })
    }

    fn pipeline(&mut self, context: &str, end: It, depth: usize) -> Result<Pipe> {
        let token = self.peek_non_space();
        let mut pipe = Pipe { pos: token.pos, is_assign: false, decl: Vec::new(), cmds: Vec::new() };
        'decls: loop {
            let save = self.next;
            let v = self.peek_non_space();
            if v.typ != It::Variable {
                break;
            }
            self.next_non_space();
            let next = self.peek_non_space();
            match next.typ {
                It::Assign | It::Declare => {
                    pipe.is_assign = next.typ == It::Assign;
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    break;
                }
                It::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().typ {
                            It::Variable | It::RightDelim | It::RightParen => continue 'decls,
                            _ => return Err(self.errorf("range can only initialize variables")),
                        }
                    }
                    return Err(self.errorf(format_args!("too many declarations in {context}")));
                }
                _ => {
                    self.next = save;
                    break;
                }
            }
        }
        loop {
            let token = self.next_non_space();
            match token.typ {
                t if t == end => {
                    if pipe.cmds.is_empty() {
                        return Err(self.errorf(format_args!("missing value for {context}")));
                    }
                    for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
                        if matches!(
                            c.args[0].kind,
                            ArgKind::Bool(_) | ArgKind::Dot | ArgKind::Nil | ArgKind::Number(_) | ArgKind::Str(..)
                        ) {
                            return Err(self.errorf(format_args!("non executable command in pipeline stage {}", i + 1)));
                        }
                    }
                    return Ok(pipe);
                }
                It::Bool
                | It::CharConst
                | It::Complex
                | It::Dot
                | It::Field
                | It::Ident
                | It::Number
                | It::Nil
                | It::RawString
                | It::String
                | It::Variable
                | It::LeftParen => {
                    self.backup();
                    pipe.cmds.push(self.command(depth)?);
                }
                _ => return Err(self.unexpected(&token, context)),
            }
        }
    }

    fn command(&mut self, depth: usize) -> Result<Cmd> {
        let mut cmd = Cmd { pos: self.peek_non_space().pos, args: Vec::new() };
        loop {
            self.peek_non_space();
            if let Some(a) = self.operand(depth)? {
                cmd.args.push(a);
            }
            let token = self.next();
            match token.typ {
                It::Space => continue,
                It::RightDelim | It::RightParen => self.backup(),
                It::Pipe => {}
                _ => return Err(self.unexpected(&token, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.errorf("empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self, depth: usize) -> Result<Option<Arg>> {
        let Some(node) = self.term(depth)? else { return Ok(None) };
        if self.peek().typ != It::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == It::Field {
            fields.push(self.next().val[1..].to_owned());
        }
        if matches!(node.kind, ArgKind::Bool(_) | ArgKind::Str(..) | ArgKind::Number(_) | ArgKind::Nil | ArgKind::Dot) {
            return Err(self.errorf(format_args!("unexpected . after term {}", quote(&node.to_string(), false))));
        }
        let kind = match node.kind {
            ArgKind::Field(mut ids) => {
                ids.extend(fields);
                ArgKind::Field(ids)
            }
            ArgKind::Var(mut ids) => {
                ids.extend(fields);
                ArgKind::Var(ids)
            }
            _ => ArgKind::Chain(Box::new(node), fields),
        };
        Ok(Some(Arg { pos, kind }))
    }

    fn term(&mut self, depth: usize) -> Result<Option<Arg>> {
        let token = self.next_non_space();
        let kind = match token.typ {
            It::Ident => {
                if !FUNCS.contains(&token.val.as_str()) {
                    return Err(self.errorf(format_args!("function {} not defined", quote(&token.val, false))));
                }
                ArgKind::Ident(token.val)
            }
            It::Dot => ArgKind::Dot,
            It::Nil => ArgKind::Nil,
            It::Variable => {
                if !self.vars.contains(&token.val) {
                    return Err(self.errorf(format_args!("undefined variable {}", quote(&token.val, false))));
                }
                ArgKind::Var(vec![token.val])
            }
            It::Field => ArgKind::Field(vec![token.val[1..].to_owned()]),
            It::Bool => ArgKind::Bool(token.val == "true"),
            It::CharConst | It::Complex | It::Number => {
                ArgKind::Number(parse_number(&token.val, token.typ).map_err(|e| self.errorf(e))?)
            }
            It::LeftParen => {
                let depth = self.deeper(depth)?;
                ArgKind::Pipe(Box::new(self.pipeline("parenthesized pipeline", It::RightParen, depth)?))
            }
            It::String | It::RawString => {
                let s = unquote(&token.val).ok_or_else(|| self.errorf("invalid syntax"))?;
                ArgKind::Str(token.val, s)
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        };
        Ok(Some(Arg { pos: token.pos, kind }))
    }
}

/// Go's `parse.NumberNode`: what a number literal can be used as.
fn parse_number(text: &str, typ: It) -> std::result::Result<Number, String> {
    let mut n = Number { text: text.to_owned(), int: None, uint: false, float: None };
    if typ == It::CharConst {
        let inner = text.strip_prefix('\'').unwrap_or(text);
        let (c, tail) = unquote_char(inner, '\'').ok_or("invalid syntax")?;
        if tail != "'" {
            return Err(format!("malformed character constant: {text}"));
        }
        n.int = Some(i64::from(u32::from(c)));
        n.uint = true;
        n.float = Some(f64::from(u32::from(c)));
        return Ok(n);
    }
    if typ == It::Complex || text.ends_with('i') {
        return Err(format!("complex constant {text} is not supported"));
    }
    let int = parse_go_int(text);
    n.int = int.and_then(|i| i64::try_from(i).ok());
    n.uint = int.is_some_and(|i| u64::try_from(i).is_ok());
    if let Some(i) = int.filter(|_| n.int.is_some() || n.uint) {
        n.float = Some(i as f64);
    } else if let Some(f) = text.replace('_', "").parse::<f64>().ok().filter(|f| f.is_finite()) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!("integer overflow: {}", quote(text, false)));
        }
        n.float = Some(f);
        if f.fract() == 0.0 && f.abs() < 9.2e18 {
            n.int = Some(f as i64);
            n.uint = f >= 0.0;
        }
    }
    if n.int.is_none() && !n.uint && n.float.is_none() {
        return Err(format!("illegal number syntax: {}", quote(text, false)));
    }
    Ok(n)
}

/// `strconv.ParseInt(text, 0, 64)` without the range check.
fn parse_go_int(text: &str) -> Option<i128> {
    let (neg, t) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = t.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_owned())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_owned())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_owned())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_owned())
    } else {
        (10, lower.clone())
    };
    let digits = digits.trim_start_matches('_').replace('_', "");
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = u128::from_str_radix(&digits, radix).ok().filter(|v| *v <= u128::from(u64::MAX))?;
    let v = v as i128;
    Some(if neg { -v } else { v })
}

/// `strconv.Unquote` of a Go string literal.
fn unquote(s: &str) -> Option<String> {
    if let Some(raw) = s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        return Some(raw.replace('\r', ""));
    }
    let mut rest = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut bytes = Vec::new();
    while !rest.is_empty() {
        if rest.starts_with('"') {
            return None;
        }
        if let Some(esc) = rest.strip_prefix('\\') {
            // \x and octal escapes are single bytes.
            let hex = esc.strip_prefix('x').map(|h| (h, 16, 2));
            let oct = esc.starts_with(|c: char| c.is_digit(8)).then_some((esc, 8, 3));
            if let Some((digits, radix, n)) = hex.or(oct) {
                let d = digits.get(..n)?;
                let b =
                    u32::from_str_radix(d, radix).ok().filter(|b| *b < 256 && d.chars().all(|c| c.is_digit(radix)))?;
                bytes.push(b as u8);
                rest = &digits[n..];
                continue;
            }
        }
        let (c, tail) = unquote_char(rest, '"')?;
        let mut buf = [0; 4];
        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        rest = tail;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// `strconv.UnquoteChar`: the first character of a literal's body, decoded.
fn unquote_char(s: &str, quote: char) -> Option<(char, &str)> {
    let c = s.chars().next()?;
    if c == quote && (quote == '\'' || quote == '"') {
        return None;
    }
    if c != '\\' {
        return Some((c, &s[c.len_utf8()..]));
    }
    let s = &s[1..];
    let e = s.chars().next()?;
    let rest = &s[e.len_utf8()..];
    let simple = match e {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        '\\' => Some('\\'),
        '\'' | '"' if e == quote => Some(e),
        _ => None,
    };
    if let Some(c) = simple {
        return Some((c, rest));
    }
    let (n, radix, rest) = match e {
        'x' => (2, 16, rest),
        'u' => (4, 16, rest),
        'U' => (8, 16, rest),
        '0'..='7' => (3, 8, s),
        _ => return None,
    };
    let digits = rest.get(..n)?;
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = u32::from_str_radix(digits, radix).ok()?;
    if radix == 8 && v > 255 {
        return None;
    }
    Some((char::from_u32(v)?, &rest[n..]))
}

// ---------------------------------------------------------------------------
// Execution (text/template/exec.go)
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Functions (text/template/funcs.go, containers/common's report funcs)
// ---------------------------------------------------------------------------

type FnResult<'a> = std::result::Result<V<'a>, String>;

fn call<'a>(name: &str, mut a: Vec<V<'a>>, callee: &str) -> FnResult<'a> {
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

// ---------------------------------------------------------------------------
// fmt (Go's fmt/print.go and fmt/format.go)
// ---------------------------------------------------------------------------

/// `fmt.Sprint` (operands spaced only between two non-strings), or `fmt.Sprintln`.
fn sprint(args: &[V], ln: bool) -> String {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a.value(), Some(Value::Str(_)));
        if i > 0 && (ln || (!is_string && !prev_string)) {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v');
        prev_string = is_string;
    }
    if ln {
        p.buf.push('\n');
    }
    p.buf
}

/// `fmt.Sprintf`.
fn sprintf(format: &str, args: &[V]) -> String {
    let mut p = Printer::default();
    let f = format.as_bytes();
    let end = f.len();
    let mut arg_num = 0;
    let mut reordered = false;
    let mut i = 0;
    while i < end {
        let mut good_arg_num = true;
        let lasti = i;
        while i < end && f[i] != b'%' {
            i += 1;
        }
        p.buf.push_str(&format[lasti..i]);
        if i >= end {
            break;
        }
        i += 1;
        p.f = Flags::default();
        while i < end {
            match f[i] {
                b'#' => p.f.sharp = true,
                b'0' => p.f.zero = !p.f.minus,
                b'+' => p.f.plus = true,
                b'-' => {
                    p.f.minus = true;
                    p.f.zero = false;
                }
                b' ' => p.f.space = true,
                _ => break,
            }
            i += 1;
        }
        // An explicit argument index: %[n]d.
        let mut arg_number = |i: &mut usize, arg_num: &mut usize, good: &mut bool| -> bool {
            if *i >= end || f[*i] != b'[' {
                return false;
            }
            reordered = true;
            if end - *i < 3 {
                *i += 1;
                *good = false;
                return false;
            }
            match format[*i..].find(']') {
                Some(close) => {
                    let n = format[*i + 1..*i + close].parse::<usize>().ok();
                    *i += close + 1;
                    match n {
                        Some(n) if n >= 1 && n <= args.len() => {
                            *arg_num = n - 1;
                            true
                        }
                        Some(_) => {
                            *good = false;
                            true
                        }
                        None => {
                            *good = false;
                            false
                        }
                    }
                }
                None => {
                    *i += 1;
                    *good = false;
                    false
                }
            }
        };
        let mut after_index = arg_number(&mut i, &mut arg_num, &mut good_arg_num);
        // Width.
        if i < end && f[i] == b'*' {
            i += 1;
            match int_from_arg(args, &mut arg_num) {
                Some(w) => {
                    if w < 0 {
                        p.f.minus = true;
                        p.f.zero = false;
                    }
                    p.f.wid = Some(w.unsigned_abs() as usize);
                }
                None => p.buf.push_str("%!(BADWIDTH)"),
            }
            after_index = false;
        } else {
            let (w, ni) = parse_num(f, i);
            p.f.wid = w;
            i = ni;
            if after_index && w.is_some() {
                good_arg_num = false;
            }
        }
        // Precision.
        if i + 1 < end && f[i] == b'.' {
            i += 1;
            if after_index {
                good_arg_num = false;
            }
            after_index = arg_number(&mut i, &mut arg_num, &mut good_arg_num);
            if i < end && f[i] == b'*' {
                i += 1;
                match int_from_arg(args, &mut arg_num) {
                    Some(pr) if pr >= 0 => p.f.prec = Some(pr as usize),
                    _ => p.buf.push_str("%!(BADPREC)"),
                }
                after_index = false;
            } else {
                let (pr, ni) = parse_num(f, i);
                p.f.prec = Some(pr.unwrap_or(0));
                i = ni;
            }
        }
        if !after_index {
            arg_number(&mut i, &mut arg_num, &mut good_arg_num);
        }
        if i >= end {
            p.buf.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().expect("in range");
        i += verb.len_utf8();
        match verb {
            '%' => p.buf.push('%'),
            _ if !good_arg_num => {
                let _ = write!(p.buf, "%!{verb}(BADINDEX)");
            }
            _ if arg_num >= args.len() => {
                let _ = write!(p.buf, "%!{verb}(MISSING)");
            }
            _ => {
                if verb == 'v' {
                    p.f.sharp_v = p.f.sharp;
                    p.f.sharp = false;
                    p.f.plus_v = p.f.plus;
                    p.f.plus = false;
                }
                p.print_arg(&args[arg_num], verb);
                arg_num += 1;
            }
        }
    }
    if !reordered && arg_num < args.len() {
        p.f = Flags::default();
        p.buf.push_str("%!(EXTRA ");
        for (k, a) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                p.buf.push_str(", ");
            }
            match a {
                V::Invalid => p.buf.push_str("<nil>"),
                a => {
                    p.buf.push_str(a.ty());
                    p.buf.push('=');
                    p.print_arg(a, 'v');
                }
            }
        }
        p.buf.push(')');
    }
    p.buf
}

fn too_large(n: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&n)
}

fn int_from_arg(args: &[V], arg_num: &mut usize) -> Option<i64> {
    let a = args.get(*arg_num)?;
    *arg_num += 1;
    match a.value() {
        Some(Value::Int(n)) if !too_large(*n) => Some(*n),
        _ => None,
    }
}

fn parse_num(f: &[u8], mut i: usize) -> (Option<usize>, usize) {
    let start = i;
    let mut n: i64 = 0;
    while i < f.len() && f[i].is_ascii_digit() {
        n = n * 10 + i64::from(f[i] - b'0');
        if too_large(n) {
            return (None, f.len());
        }
        i += 1;
    }
    (if i > start { Some(n as usize) } else { None }, i)
}

#[derive(Default, Clone, Copy)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

#[derive(Default)]
struct Printer {
    buf: String,
    f: Flags,
    erroring: bool,
}

const LDIGITS: &[u8] = b"0123456789abcdefx";
const UDIGITS: &[u8] = b"0123456789ABCDEFX";

impl Printer {
    fn print_arg(&mut self, a: &V, verb: char) {
        let V::Val(v, _) = a else {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, None),
            }
            return;
        };
        let ty = a.ty();
        if verb == 'T' {
            self.fmt_s(ty);
            return;
        }
        match &**v {
            Value::Bool(b) => self.fmt_bool(*b, verb, v, ty),
            Value::Float(x) => self.fmt_float(*x, verb, v, ty),
            Value::Int(i) => self.fmt_integer(*i, !ty.starts_with("uint"), verb, v, ty),
            Value::Str(s) if ty == "string" => self.fmt_string(s, verb, v, ty),
            _ => {
                if !self.handle_methods(v, ty, verb) {
                    self.print_value(v, ty, verb, 0);
                }
            }
        }
    }

    /// Calls `String()` / `GoString()` where Go's fmt would.
    fn handle_methods(&mut self, v: &Value, ty: Ty, verb: char) -> bool {
        if self.erroring {
            return false;
        }
        let stringer = match v {
            Value::Time(t) => Some(t.go_string()),
            Value::Nil => None,
            Value::Str(s) if ty == "digest.Digest" => Some(s.clone()),
            _ => return false,
        };
        let is_time = matches!(v, Value::Time(_) | Value::Nil);
        if self.f.sharp_v {
            if !is_time {
                return false;
            }
            match v {
                Value::Time(t) => self.buf.push_str(&go_time_gostring(t)),
                _ => self.buf.push_str("<nil>"),
            }
            return true;
        }
        if !matches!(verb, 'v' | 's' | 'x' | 'X' | 'q') {
            return false;
        }
        match stringer {
            Some(s) => self.fmt_string(&s, verb, v, ty),
            // String() on a nil *time.Time panics; fmt prints <nil>.
            None => self.buf.push_str("<nil>"),
        }
        true
    }

    fn print_value(&mut self, v: &Value, ty: Ty, verb: char, depth: usize) {
        if depth > 0 && self.handle_methods(v, ty, verb) {
            return;
        }
        match v {
            Value::Bool(b) => self.fmt_bool(*b, verb, v, ty),
            Value::Int(i) => self.fmt_integer(*i, !ty.starts_with("uint"), verb, v, ty),
            Value::Float(x) => self.fmt_float(*x, verb, v, ty),
            Value::Str(s) => self.fmt_string(s, verb, v, ty),
            Value::Map(_) | Value::NilMap => {
                if self.f.sharp_v {
                    self.buf.push_str(ty);
                    if matches!(v, Value::NilMap) {
                        self.buf.push_str("(nil)");
                        return;
                    }
                    self.buf.push('{');
                } else {
                    self.buf.push_str("map[");
                }
                if let Value::Map(m) = v {
                    let et = elem_ty(ty, &Value::Str(String::new()));
                    for (i, (k, e)) in m.iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                        }
                        self.print_value(&Value::Str(k.clone()), "string", verb, depth + 1);
                        self.buf.push(':');
                        self.print_value(e, et, verb, depth + 1);
                    }
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Value::Struct(fields) => {
                if self.f.sharp_v {
                    self.buf.push_str(ty);
                }
                self.buf.push('{');
                for (i, (name, e, _)) in fields.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    if self.f.plus_v || self.f.sharp_v {
                        self.buf.push_str(name);
                        self.buf.push(':');
                    }
                    self.print_value(e, field_ty(name, e), verb, depth + 1);
                }
                self.buf.push('}');
            }
            Value::List(_) | Value::NilList => {
                if self.f.sharp_v {
                    self.buf.push_str(ty);
                    if matches!(v, Value::NilList) {
                        self.buf.push_str("(nil)");
                        return;
                    }
                    self.buf.push('{');
                } else {
                    self.buf.push('[');
                }
                if let Value::List(l) = v {
                    for (i, e) in l.iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                        }
                        self.print_value(e, elem_ty(ty, e), verb, depth + 1);
                    }
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
            // A nil pointer prints as the number 0 for integer verbs.
            Value::Nil if matches!(verb, 'b' | 'o' | 'd' | 'x' | 'X') => self.fmt_integer(0, false, verb, v, ty),
            // Reached for %v only inside a bad-verb report, where Go prints the
            // struct's private fields; other verbs would print the pointer.
            Value::Time(t) if verb == 'v' => self.buf.push_str(&t.go_string()),
            Value::Nil if verb == 'v' => self.buf.push_str("<nil>"),
            Value::Time(_) | Value::Nil => self.bad_verb(verb, Some((v, ty))),
        }
    }

    fn bad_verb(&mut self, verb: char, arg: Option<(&Value, Ty)>) {
        self.erroring = true;
        let _ = write!(self.buf, "%!{verb}(");
        match arg {
            Some((v, ty)) => {
                self.buf.push_str(ty);
                self.buf.push('=');
                self.print_arg(&V::Val(Cow::Borrowed(v), ty), 'v');
            }
            None => self.buf.push_str("<nil>"),
        }
        self.buf.push(')');
        self.erroring = false;
    }

    fn fmt_bool(&mut self, b: bool, verb: char, v: &Value, ty: Ty) {
        match verb {
            't' | 'v' => self.pad(if b { "true" } else { "false" }),
            _ => self.bad_verb(verb, Some((v, ty))),
        }
    }

    fn fmt_string(&mut self, s: &str, verb: char, v: &Value, ty: Ty) {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, LDIGITS),
            'X' => self.fmt_sx(s, UDIGITS),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, Some((v, ty))),
        }
    }

    fn fmt_integer(&mut self, i: i64, signed: bool, verb: char, v: &Value, ty: Ty) {
        match verb {
            'v' if self.f.sharp_v && !signed => {
                let sharp = self.f.sharp;
                self.f.sharp = true;
                self.fmt_int(i, 16, signed, 'v', LDIGITS);
                self.f.sharp = sharp;
            }
            'v' | 'd' => self.fmt_int(i, 10, signed, verb, LDIGITS),
            'b' => self.fmt_int(i, 2, signed, verb, LDIGITS),
            'o' | 'O' => self.fmt_int(i, 8, signed, verb, LDIGITS),
            'x' => self.fmt_int(i, 16, signed, verb, LDIGITS),
            'X' => self.fmt_int(i, 16, signed, verb, UDIGITS),
            'c' => {
                let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
                self.pad(&c.to_string());
            }
            'q' => {
                let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
                let q = quote_rune(c, self.f.plus);
                self.pad(&q);
            }
            'U' => {
                let prec = self.f.prec.filter(|p| *p > 4).unwrap_or(4);
                let mut s = format!("U+{:0prec$X}", i as u64);
                if self.f.sharp
                    && let Some(c) = u32::try_from(i).ok().and_then(char::from_u32)
                    && is_print(c)
                {
                    let _ = write!(s, " '{c}'");
                }
                let zero = self.f.zero;
                self.f.zero = false;
                self.pad(&s);
                self.f.zero = zero;
            }
            _ => self.bad_verb(verb, Some((v, ty))),
        }
    }

    /// Go's `fmt.fmtInteger`.
    fn fmt_int(&mut self, i: i64, base: u32, signed: bool, verb: char, digits: &[u8]) {
        let negative = signed && i < 0;
        let mut u = if negative { i.unsigned_abs() } else { i as u64 };
        let mut prec = 0;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let zero = self.f.zero;
                self.f.zero = false;
                let w = self.f.wid.unwrap_or(0);
                self.write_padding(w);
                self.f.zero = zero;
                return;
            }
        } else if self.f.zero
            && let Some(w) = self.f.wid
        {
            prec = w;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut out = Vec::new();
        loop {
            out.push(digits[(u % u64::from(base)) as usize]);
            u /= u64::from(base);
            if u == 0 {
                break;
            }
        }
        while out.len() < prec {
            out.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => out.extend_from_slice(b"b0"),
                8 if out.last() != Some(&b'0') => out.push(b'0'),
                16 => {
                    out.push(digits[16]);
                    out.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            out.extend_from_slice(b"o0");
        }
        if negative {
            out.push(b'-');
        } else if self.f.plus {
            out.push(b'+');
        } else if self.f.space {
            out.push(b' ');
        }
        out.reverse();
        let zero = self.f.zero;
        self.f.zero = false;
        self.pad(std::str::from_utf8(&out).expect("ascii"));
        self.f.zero = zero;
    }

    fn fmt_float(&mut self, x: f64, verb: char, v: &Value, ty: Ty) {
        let (verb, prec) = match verb {
            'v' => ('g', -1),
            'b' | 'g' | 'G' | 'x' | 'X' => (verb, -1),
            'e' | 'E' | 'f' | 'F' => (verb, 6),
            _ => return self.bad_verb(verb, Some((v, ty))),
        };
        let prec = self.f.prec.map_or(prec, |p| p as i64);
        let mut num = format_float(x, verb, prec);
        if !num.starts_with(['-', '+']) {
            num.insert(0, '+');
        }
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(..1, " ");
        }
        if self.f.plus || !num.starts_with('+') {
            if self.f.zero
                && let Some(w) = self.f.wid
                && w > num.len()
            {
                self.buf.push_str(&num[..1]);
                self.write_padding(w - num.len());
                self.buf.push_str(&num[1..]);
                return;
            }
            self.pad(&num);
            return;
        }
        self.pad(&num[1..]);
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        match self.f.prec {
            Some(p) => s.char_indices().nth(p).map_or(s, |(i, _)| &s[..i]),
            None => s,
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            self.pad(&format!("`{s}`"));
            return;
        }
        let q = quote(s, self.f.plus);
        self.pad(&q);
    }

    fn fmt_sx(&mut self, s: &str, digits: &[u8]) {
        let b = s.as_bytes();
        let length = self.f.prec.map_or(b.len(), |p| p.min(b.len()));
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if let Some(w) = self.f.wid {
                self.write_padding(w);
            }
            return;
        }
        let wid = self.f.wid.unwrap_or(0);
        if wid > width && !self.f.minus {
            self.write_padding(wid - width);
        }
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(digits[16] as char);
        }
        for (i, c) in b[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(digits[16] as char);
                }
            }
            self.buf.push(digits[usize::from(c >> 4)] as char);
            self.buf.push(digits[usize::from(c & 0xF)] as char);
        }
        if wid > width && self.f.minus {
            self.write_padding(wid - width);
        }
    }

    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero { '0' } else { ' ' };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    fn pad(&mut self, s: &str) {
        let Some(w) = self.f.wid else {
            self.buf.push_str(s);
            return;
        };
        let n = w.saturating_sub(s.chars().count());
        if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(n);
        } else {
            self.write_padding(n);
            self.buf.push_str(s);
        }
    }
}

/// `strconv.FormatFloat(x, verb, prec, 64)` for the verbs e, E, f, F, g, G.
fn format_float(x: f64, verb: char, prec: i64) -> String {
    let sign = if x.is_sign_negative() { "-" } else { "" };
    let a = x.abs();
    let exp_form = |mantissa: &str, exp: i64, upper: bool| {
        let e = if upper { 'E' } else { 'e' };
        let s = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}{e}{s}{:02}", exp.abs())
    };
    // Decimal digits and exponent: a = 0.d1d2… × 10^dp.
    let digits = |p: Option<usize>| -> (String, i64) {
        let e = match p {
            Some(p) => format!("{a:.p$e}"),
            None => format!("{a:e}"),
        };
        let (m, exp) = e.split_once('e').expect("exponent");
        (m.replace('.', ""), exp.parse::<i64>().expect("exponent") + 1)
    };
    match verb {
        'b' | 'x' | 'X' => format!("{sign}{}", format_float_bits(a, verb, prec)),
        'f' | 'F' => format!("{sign}{a:.*}", prec.max(0) as usize),
        'e' | 'E' => {
            let e = if prec < 0 { format!("{a:e}") } else { format!("{a:.*e}", prec as usize) };
            let (m, exp) = e.split_once('e').expect("exponent");
            exp_form(m, exp.parse().expect("exponent"), verb == 'E')
        }
        _ => {
            let shortest = prec < 0;
            let (mut d, dp) = digits(if shortest { None } else { Some((prec.max(1) - 1) as usize) });
            if a == 0.0 {
                d = "0".into();
            }
            let trimmed = d.trim_end_matches('0');
            let d = if trimmed.is_empty() { "0" } else { trimmed };
            let nd = d.len() as i64;
            let mut p = if shortest { nd } else { prec.max(1) };
            let mut eprec = p;
            if eprec > nd && nd >= dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            if exp < -4 || exp >= eprec {
                p = p.min(nd);
                let frac = &d[1..(p as usize).max(1).min(d.len())];
                let m = if frac.is_empty() { d[..1].to_owned() } else { format!("{}.{frac}", &d[..1]) };
                return exp_form(&m, exp, verb == 'G');
            }
            if p > dp {
                p = nd;
            }
            let frac_digits = (p - dp).max(0) as usize;
            let mut out = String::from(sign);
            if dp <= 0 {
                out.push('0');
            } else {
                for k in 0..dp as usize {
                    out.push(d.as_bytes().get(k).map_or('0', |b| *b as char));
                }
            }
            if frac_digits > 0 {
                out.push('.');
                for k in 0..frac_digits as i64 {
                    let idx = dp + k;
                    out.push(if idx < 0 { '0' } else { d.as_bytes().get(idx as usize).map_or('0', |b| *b as char) });
                }
            }
            out
        }
    }
}

/// `strconv.FormatFloat` of a non-negative float with `b` (decimal mantissa,
/// binary exponent) or `x`/`X` (hexadecimal mantissa, binary exponent).
fn format_float_bits(a: f64, verb: char, prec: i64) -> String {
    let bits = a.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1 << 52) - 1);
    if exp == 0 {
        exp = 1; // subnormal
    } else {
        mant |= 1 << 52;
    }
    exp -= 1023 + 52;
    if verb == 'b' {
        let sign = if exp < 0 { "" } else { "+" };
        return format!("{mant}p{sign}{exp}");
    }
    // Normalise to 1.xxx × 2^e, the leading bit at position 60.
    if mant == 0 {
        exp = 0;
    } else {
        while mant & (1 << 52) == 0 {
            mant <<= 1;
            exp -= 1;
        }
        exp += 52;
    }
    let mut mant = mant << 8; // leading 1 at bit 60
    // Round to `prec` hex digits (4 bits each) after the point, half to even.
    if (0..15).contains(&prec) {
        let shift = 60 - 4 * prec as u32;
        let half = 1u64 << (shift - 1);
        let rem = mant & ((1u64 << shift) - 1);
        mant >>= shift;
        if rem > half || (rem == half && mant & 1 == 1) {
            mant += 1;
        }
        mant <<= shift;
        if mant >> 61 != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let digits: &[u8] = if verb == 'X' { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    let mut out = String::from(if verb == 'X' { "0X" } else { "0x" });
    out.push(char::from(b'0' + (mant >> 60) as u8));
    mant <<= 4;
    let mut frac = String::new();
    let wanted = if prec < 0 { None } else { Some(prec as usize) };
    while wanted.map_or(mant != 0, |w| frac.len() < w) {
        frac.push(char::from(digits[(mant >> 60) as usize]));
        mant <<= 4;
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(&frac);
    }
    out.push(if verb == 'X' { 'P' } else { 'p' });
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", exp.abs());
    out
}

/// `time.Time.GoString()`.
fn go_time_gostring(t: &GoTime) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    // The RFC 3339 form: YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm).
    let s = t.rfc3339();
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok()).unwrap_or(0);
    let month = MONTHS.get(num(5..7).saturating_sub(1) as usize).unwrap_or(&"January");
    let rest = &s[19..];
    let (frac, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            (&r[..end], &r[end..])
        }
        None => ("", rest),
    };
    let nanos: u64 = format!("{frac:0<9}").parse().unwrap_or(0);
    let loc = if zone == "Z" { "time.UTC" } else { "time.Location(\"\")" };
    format!(
        "time.Date({}, time.{month}, {}, {}, {}, {}, {nanos}, {loc})",
        num(0..4),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19)
    )
}

/// An approximation of Go's `unicode.IsPrint`.
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF | 0xE0001..=0xE007F)
}

fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| c != '`' && c != '\u{FEFF}' && c != '\x7f' && (c >= ' ' || c == '\t'))
}

fn escape_rune(out: &mut String, c: char, q: char, ascii: bool) {
    if c == q || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if if ascii { c.is_ascii() && is_print(c) } else { is_print(c) } {
        out.push(c);
        return;
    }
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// `strconv.Quote`, or `strconv.QuoteToASCII`.
fn quote(s: &str, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escape_rune(&mut out, c, '"', ascii);
    }
    out.push('"');
    out
}

/// `strconv.QuoteRune`, or `strconv.QuoteRuneToASCII`.
fn quote_rune(c: char, ascii: bool) -> String {
    let mut out = String::from("'");
    escape_rune(&mut out, c, '\'', ascii);
    out.push('\'');
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

    /// The output without the newline containers/common's normalisation adds.
    fn strip_newline(out: String) -> String {
        match out.strip_suffix('\n') {
            Some(s) => s.to_owned(),
            None => panic!("no final newline in {out:?}"),
        }
    }

    fn run(t: &str) -> String {
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

    fn exec(t: &str) -> Result<String> {
        Template::parse(t).and_then(|t| t.execute(&image()))
    }

    fn raw(t: &str) -> String {
        exec(t).unwrap_or_else(|e| panic!("{t}: {}", e.message))
    }

    fn ok(t: &str) -> String {
        strip_newline(raw(t))
    }

    fn err(t: &str) -> String {
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
    fn print_spaces_operands_as_go_sprint() {
        // fmt.Sprint: a space only between operands when neither is a string.
        assert_eq!(run(r#"{{print "a" "b"}}"#), "ab");
        assert_eq!(run("{{print 1 2}}"), "1 2");
        assert_eq!(run(r#"{{print "a" 1 2 "b"}}"#), "a1 2b");
        assert_eq!(run(r#"{{print .Size .Name .Size}}"#), "3r/a3");
        assert_eq!(run("{{print .Layers .Size}}"), "[l1 l2] 3");
        // fmt.Sprintln: always spaces, and a final newline.
        assert_eq!(run(r#"{{println "a" "b" 1}}"#), "a b 1\n");
        // A missing map key is a nil operand (not a string) for print, `<no value>` when printed directly.
        assert_eq!(
            ok("{{print .Labels.x .Os}}|{{.Labels.x}}|{{println .Os 1 .Labels.x}}"),
            "<nil>linux|<no value>|linux 1 <nil>\n"
        );
        assert_eq!(ok("{{print true false 1.5 \"x\" nil}}"), "true false 1.5x<nil>");
    }

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
    fn printf_formats_as_go() {
        assert_eq!(
            ok(r#"{{printf "%s|%d|%v|%q|%x|%t|%%" .Os 42 .Layers .Os .Os true}}"#),
            r#"linux|42|[sha256:l1 sha256:l2]|"linux"|6c696e7578|true|%"#
        );
        assert_eq!(
            ok(r#"{{printf "%d|%t|%s|%d" .Os .Os 3 .Digest}}"#),
            "%!d(string=linux)|%!t(string=linux)|%!s(int=3)|%!d(digest.Digest=sha256:abc)"
        );
        assert_eq!(ok(r#"{{printf "%5s|%-5s|%.2s|%5.1s|" "ab" "cd" "xyz" "xyz"}}"#), "   ab|cd   |xy|    x|");
        assert_eq!(
            ok(
                r#"{{printf "%05d|%-5d|%+d|% d|%x|%X|%#x|%o|%#o|%O|%b|%c|%q|%U|%#U" 42 42 42 42 -255 255 255 8 8 8 5 65 65 233 233}}"#
            ),
            "00042|42   |+42| 42|-ff|FF|0xff|10|010|0o10|101|A|'A'|U+00E9|U+00E9 'é'"
        );
        assert_eq!(
            ok(r#"{{printf "%.0d|%5.0d|%.3d|%08.3d|%-010d|%+05d" 0 0 7 7 42 42}}"#),
            "|     |007|     007|42        |+0042"
        );
        assert_eq!(
            ok(
                r#"{{printf "%5.2f|%e|%g|%v|%v|%v|%.3g|%G|%E|%08.3f" 3.14159 1234.5 0.00001 1e6 100000.0 2.5 1234.0 1e-10 123456.0 -3.14159}}"#
            ),
            " 3.14|1.234500e+03|1e-05|1e+06|100000|2.5|1.23e+03|1E-10|1.234560E+05|-003.142"
        );
        assert_eq!(
            ok(r#"{{printf "%x|%X|%b|%.2x" 3.5 3.5 3.5 3.14159}}"#),
            "0x1.cp+01|0X1.CP+01|7881299347898368p-51|0x1.92p+01"
        );
        assert_eq!(
            ok(r#"{{printf "%x|% x|%#x|%X|%q|%#q|%+q" "hé" "ab" "ab" "aB" "a\"é\x01" "ab" "é"}}"#),
            r#"68c3a9|61 62|0x6162|6142|"a\"é\x01"|`ab`|"\u00e9""#
        );
        assert_eq!(
            ok(r#"{{printf "%v|%+v|%s|%d" .Labels (index .LayersData 0) .Layers .Layers}}"#),
            "map[empty: k:v]|{MIMEType:application/vnd.oci.image.layer.v1.tar+gzip Digest:sha256:l1 Size:10 Annotations:map[]}|[sha256:l1 sha256:l2]|[%!d(string=sha256:l1) %!d(string=sha256:l2)]"
        );
        assert_eq!(
            ok(r#"{{printf "%#v|%#v|%#v|%#v|%#v" .Labels .Env .Os 3 .Created}}"#),
            r#"map[string]string{"empty":"", "k":"v"}|[]string(nil)|"linux"|3|<nil>"#
        );
        assert_eq!(
            ok(r#"{{printf "%T %T %T %T %T %T %T" .Digest .Labels .Env .Created 1 .Labels.x (index .LayersData 0)}}"#),
            "digest.Digest map[string]string []string *time.Time int <nil> types.ImageInspectLayer"
        );
        assert_eq!(
            ok(r#"{{printf "%s|%v|%d|%s" .Labels.x .Labels.x .Labels.x .Created}}"#),
            "%!s(<nil>)|<nil>|%!d(<nil>)|<nil>"
        );
        // Argument errors.
        assert_eq!(
            ok(r#"{{printf "%d %d" 1}}|{{printf "%d" 1 2 "x"}}|{{printf "%"}}|{{printf "%z" 1}}|{{printf "%!" 1}}"#),
            "1 %!d(MISSING)|1%!(EXTRA int=2, string=x)|%!(NOVERB)|%!z(int=1)|%!!(int=1)"
        );
        assert_eq!(
            ok(
                r#"{{printf "%[2]d %[1]d" 1 2}}|{{printf "%[3]d" 1 2}}|{{printf "%*d|%-*d|%.*f" 5 1 5 1 2 3.14159}}|{{printf "%*d" "x" 1}}"#
            ),
            "2 1|%!d(BADINDEX)|    1|1    |3.14|%!(BADWIDTH)1"
        );
        assert_eq!(ok(r#"{{printf "%s" (printf "%d" 3)}} {{"x" | printf "%s%s" "y"}}"#), "3 yx");
        let created = Value::Struct(vec![(
            "Created".into(),
            Value::Time(GoTime::parse("2024-05-06T07:08:09.5Z").unwrap()),
            false,
        )]);
        let t = Template::parse(r#"{{printf "%s|%v|%q|%#v" .Created .Created .Created .Created}}"#).unwrap();
        assert_eq!(
            t.execute(&created).unwrap(),
            r#"2024-05-06 07:08:09.5 +0000 UTC|2024-05-06 07:08:09.5 +0000 UTC|"2024-05-06 07:08:09.5 +0000 UTC"|time.Date(2024, time.May, 6, 7, 8, 9, 500000000, time.UTC)
"#
        );
        assert!(
            err("{{printf .Digest}}")
                .ends_with("at <.Digest>: wrong type for value; expected string; got digest.Digest")
        );
        assert!(err("{{printf}}").ends_with("at <printf>: wrong number of args for printf: want at least 1 got 0"));
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

    #[test]
    fn literals_and_lexing() {
        assert_eq!(
            ok(r#"{{'a'}} {{0x1F}} {{1_000}} {{1e3}} {{-2}} {{'\x41'}} {{0o17}} {{0b101}} {{true}}"#),
            "97 31 1000 1000 -2 65 15 5 true"
        );
        // Normalisation applies inside actions too: `\n` in a raw string is a newline.
        assert_eq!(ok(r#"{{"\x41\u00e9\t|"}}{{`raw\n`}}"#), "Aé\t|raw\n");
        assert_eq!(ok("{{- /* comment */ -}} x {{- \" y \" -}} z {{/* c */}}"), "x y z ");
        assert_eq!(ok("{{ .Os\t}}|{{\n.Os\n}}|{{.Os -}}\n  x|x\n {{- .Os}}"), "linux|linux|linuxx|xlinux");
        assert_eq!(ok("{{.Os}} {{- 3 -}} {{-3}}"), "linux3-3");
        let line = |msg: &str| format!("template: skopeo inspect:1: {msg}");
        assert_eq!(err("{{08}}"), line("integer overflow: \"08\""));
        assert_eq!(err("{{99999999999999999999}}"), line("integer overflow: \"99999999999999999999\""));
        assert_eq!(err(r#"{{"\q"}}"#), line("invalid syntax"));
        assert_eq!(err("{{/* unclosed"), line("unclosed comment"));
        assert_eq!(err("{{/* a */ x}}"), line("comment ends before closing delimiter"));
        assert_eq!(err("{{\"abc}}"), line("unterminated quoted string"));
        assert!(err("{{18446744073709551615}}").ends_with("18446744073709551615 overflows int"));
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
