//! Timestamps as Go prints them: a config's `created` is parsed into a
//! `time.Time` by skopeo and printed again, which normalises it.

/// An RFC 3339 timestamp split into the parts Go keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoTime {
    /// `YYYY-MM-DDTHH:MM:SS`
    date_time: String,
    /// Fraction digits without trailing zeros (may be empty).
    fraction: String,
    /// Offset in minutes east of UTC.
    offset_min: i32,
}

impl GoTime {
    /// Parses RFC 3339 as Go's `time.Time.UnmarshalJSON` accepts it.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() < 20 {
            return None;
        }
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if !(digits(0..4)
            && b[4] == b'-'
            && digits(5..7)
            && b[7] == b'-'
            && digits(8..10)
            && b[10] == b'T'
            && digits(11..13)
            && b[13] == b':'
            && digits(14..16)
            && b[16] == b':'
            && digits(17..19))
        {
            return None;
        }
        let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
        let (mo, d, h, mi, se) = (num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 59 {
            return None;
        }
        let mut i = 19;
        let mut fraction = String::new();
        if b[i] == b'.' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start || i - start > 9 {
                return None;
            }
            fraction = s[start..i].trim_end_matches('0').to_owned();
        }
        // Offsets are compared byte by byte: a timestamp is untrusted input
        // and may hold multi-byte characters where digits belong.
        let offset_min = match &b[i..] {
            b"Z" => 0,
            &[sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(u8::is_ascii_digit) => {
                let digit = |d: u8| i32::from(d - b'0');
                let (hh, mm) = (digit(h1) * 10 + digit(h2), digit(m1) * 10 + digit(m2));
                if hh > 23 || mm > 59 {
                    return None;
                }
                let v = hh * 60 + mm;
                if sign == b'-' { -v } else { v }
            }
            _ => return None,
        };
        Some(GoTime { date_time: s[..19].to_owned(), fraction, offset_min })
    }

    /// The zero `time.Time`, which Docker configs without `created` decode to.
    /// A Unix time in nanoseconds, as Go marshals it in UTC.
    pub fn from_unix_nanos(ns: i128) -> Option<Self> {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(ns).ok()?;
        GoTime::parse(&t.format(&time::format_description::well_known::Rfc3339).ok()?)
    }

    pub fn zero() -> Self {
        GoTime { date_time: "0001-01-01T00:00:00".to_owned(), fraction: String::new(), offset_min: 0 }
    }

    fn offset(&self, colon: bool) -> String {
        let sign = if self.offset_min < 0 { '-' } else { '+' };
        let m = self.offset_min.abs();
        if colon { format!("{sign}{:02}:{:02}", m / 60, m % 60) } else { format!("{sign}{:02}{:02}", m / 60, m % 60) }
    }

    fn frac(&self) -> String {
        if self.fraction.is_empty() { String::new() } else { format!(".{}", self.fraction) }
    }

    /// `time.RFC3339Nano`, as `MarshalJSON` writes it.
    pub fn rfc3339(&self) -> String {
        let zone = if self.offset_min == 0 { "Z".to_owned() } else { self.offset(true) };
        format!("{}{}{zone}", self.date_time, self.frac())
    }

    /// `time.Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
    pub fn go_string(&self) -> String {
        let zone = if self.offset_min == 0 { "UTC".to_owned() } else { self.offset(false) };
        format!("{}{} {} {zone}", self.date_time.replace('T', " "), self.frac(), self.offset(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_go() {
        let cases = [
            ("2023-01-01T00:00:00Z", "2023-01-01T00:00:00Z"),
            ("2023-01-01T00:00:00.000000000Z", "2023-01-01T00:00:00Z"),
            ("2023-06-14T20:41:59.0797951Z", "2023-06-14T20:41:59.0797951Z"),
            ("2023-06-14T20:41:59.50+00:00", "2023-06-14T20:41:59.5Z"),
            ("2023-06-14T20:41:59+02:00", "2023-06-14T20:41:59+02:00"),
        ];
        for (i, want) in cases {
            assert_eq!(GoTime::parse(i).unwrap().rfc3339(), want, "{i}");
        }
        assert_eq!(GoTime::parse("2023-01-01T00:00:00.5Z").unwrap().go_string(), "2023-01-01 00:00:00.5 +0000 UTC");
        for bad in [
            "",
            "2023-01-01",
            "2023-13-01T00:00:00Z",
            "2023-01-01T00:00:00",
            "2023-01-01T00:00:00.Z",
            // A multi-byte character where the offset's colon belongs (used to panic).
            "2023-01-01T00:00:00+0\u{e9}00",
            "2023-01-01T00:00:00+\u{e9}:00",
            "2023-01-01T00:00:00\u{e9}",
            "2023-01-01T00:00:00.5\u{e9}",
        ] {
            assert!(GoTime::parse(bad).is_none(), "{bad}");
        }
    }
}
