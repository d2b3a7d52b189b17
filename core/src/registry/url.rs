//! The little URL handling the protocol needs: origins, relative `Location`
//! and `Link` targets, and query encoding.

/// `scheme://host[:port]` of an absolute http(s) URL, lowercased.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority).to_owned();
    Some(format!("{scheme}://{authority}"))
}

/// The host name of an absolute http(s) URL, without scheme or port.
pub fn host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next();
    }
    authority.split(':').next()
}

/// Resolves `target` (absolute, host-relative `/path`, or path-relative) against `base`.
pub fn resolve(base: &str, target: &str) -> Option<String> {
    if target.starts_with("http://") || target.starts_with("https://") {
        return origin(target).map(|_| target.to_owned());
    }
    // Any other scheme (`ftp:`, `file:`) is not somewhere a registry may send us.
    let scheme = target.split(['/', '?', '#']).next().unwrap_or("");
    if scheme.contains(':') {
        return None;
    }
    let base_origin = origin(base)?;
    if let Some(rest) = target.strip_prefix("//") {
        let scheme = base_origin.split("://").next()?;
        return Some(format!("{scheme}://{rest}"));
    }
    if target.starts_with('/') {
        return Some(format!("{base_origin}{target}"));
    }
    let after_scheme = &base[base.find("://")? + 3..];
    let path = match after_scheme.find('/') {
        Some(i) => after_scheme[i..].split(['?', '#']).next().unwrap_or("/"),
        None => "/",
    };
    let dir = &path[..=path.rfind('/').unwrap_or(0)];
    Some(format!("{base_origin}{dir}{target}"))
}

/// Percent-encodes a query component.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(origin("https://Reg.io:443/v2/").as_deref(), Some("https://reg.io"));
        assert_eq!(origin("http://127.0.0.1:5000/v2/x?y").as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(origin("ftp://x/"), None);
        assert_eq!(origin("https://user@evil/"), None);
        assert_eq!(host("http://127.0.0.1:5000/v2/"), Some("127.0.0.1"));
        assert_eq!(host("https://[::1]:5000/x"), Some("::1"));
    }

    #[test]
    fn resolves_relative_targets() {
        let base = "http://r:5000/v2/a/tags/list?n=2";
        assert_eq!(resolve(base, "/v2/a/tags/list?last=b").as_deref(), Some("http://r:5000/v2/a/tags/list?last=b"));
        assert_eq!(resolve(base, "https://cdn/x").as_deref(), Some("https://cdn/x"));
        assert_eq!(resolve(base, "list?n=3").as_deref(), Some("http://r:5000/v2/a/tags/list?n=3"));
        assert_eq!(resolve(base, "//other/p").as_deref(), Some("http://other/p"));
    }

    #[test]
    fn encodes_queries() {
        assert_eq!(encode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
    }
}
