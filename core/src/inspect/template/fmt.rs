//! Values printed as Go's `fmt` prints them (`fmt/print.go`, `fmt/format.go`), with the `strconv`
//! quoting and float formatting and the `unicode.IsPrint` it relies on.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::{Ty, V, Value, elem_ty, field_ty};
use crate::go::strconv::{is_print, quote, quote_rune};
use crate::go::time::GoTime;

/// `fmt.Sprint` (operands spaced only between two non-strings), or `fmt.Sprintln`.
pub(super) fn sprint(args: &[V], ln: bool) -> String {
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
pub(super) fn sprintf(format: &str, args: &[V]) -> String {
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

fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| c != '`' && c != '\u{FEFF}' && c != '\x7f' && (c >= ' ' || c == '\t'))
}

#[cfg(test)]
mod tests {
    use crate::go::time::GoTime;
    use crate::inspect::template::tests::{err, ok, run};
    use crate::inspect::template::{Template, Value};

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
}
