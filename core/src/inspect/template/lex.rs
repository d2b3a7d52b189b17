//! The lexer: template text to a list of items (Go's `text/template/parse/lex.go`).

use crate::go::strconv::{is_print, quote};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum It {
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
pub(super) struct Item {
    pub(super) typ: It,
    pub(super) pos: usize,
    pub(super) val: String,
    pub(super) line: usize,
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

pub(super) struct Lexer<'a> {
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
    pub(super) fn lex(input: &'a str) -> Vec<Item> {
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

#[cfg(test)]
mod tests {
    use crate::inspect::template::tests::{err, ok};

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
}
