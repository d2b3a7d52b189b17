//! The parser: items to a tree of nodes, with Go's checks and messages, and the literals' values
//! (Go's `text/template/parse/parse.go`).

use super::lex::{It, Item, Lexer};
use super::node::{Arg, ArgKind, Cmd, Node, Number, Pipe};
use super::{MAX_DEPTH, NAME};
use crate::error::{Error, Result};
use crate::go::strconv::quote;

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

pub(super) struct Parser {
    items: Vec<Item>,
    next: usize,
    /// The furthest item read: Go reports parse errors at its line.
    seen: usize,
    vars: Vec<String>,
    range_depth: usize,
    action_line: usize,
}

impl Parser {
    pub(super) fn new(text: &str) -> Self {
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

    pub(super) fn parse(mut self) -> Result<Vec<Node>> {
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
