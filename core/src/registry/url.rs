//! URLs, read the way the host's HTTP stack reads them (the `url` crate's
//! WHATWG parsing, which reqwest uses too), so that the core and the host
//! never disagree on where a request goes — in particular on its origin,
//! which decides whether credentials go with it.

pub use ::url::Url;

/// An absolute http(s) URL with no user name or password in it, without
/// its fragment (which never goes on the wire).
pub fn parse(s: &str) -> Option<Url> {
    acceptable(Url::parse(s).ok()?)
}

/// `target` (a `Location` or `Link` target: absolute, `//host/…`, `/path`
/// or path-relative) resolved against `base`, if it is somewhere a registry
/// may send us: http(s), without user information.
pub fn join(base: &Url, target: &str) -> Option<Url> {
    acceptable(base.join(target).ok()?)
}

fn acceptable(mut url: Url) -> Option<Url> {
    let http = matches!(url.scheme(), "http" | "https");
    if !http || url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    url.set_fragment(None);
    Some(url)
}

/// Whether `a` and `b` have the same origin: scheme, host and port (a
/// default port spelled out or not).
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// `scheme://host[:port]`, for messages.
pub fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// `url` with `pairs` (already encoded with [`encode`]) appended to its query.
pub fn with_query(url: &Url, pairs: &[String]) -> Url {
    let mut url = url.clone();
    let query: Vec<String> =
        url.query().filter(|q| !q.is_empty()).into_iter().map(str::to_owned).chain(pairs.iter().cloned()).collect();
    url.set_query((!query.is_empty()).then(|| query.join("&")).as_deref());
    url
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

    fn u(s: &str) -> Url {
        parse(s).unwrap()
    }

    #[test]
    fn origins() {
        assert!(same_origin(&u("https://Reg.io:443/v2/"), &u("https://reg.io/x")));
        assert!(same_origin(&u("http://127.0.0.1:5000/v2/x?y"), &u("http://127.0.0.1:5000/")));
        assert!(!same_origin(&u("http://reg.io/"), &u("https://reg.io/")));
        assert!(!same_origin(&u("https://reg.io/"), &u("https://reg.io:444/")));
        // What the host's stack would make of them: the same address.
        assert!(same_origin(&u("http://0x7f.1:5000/"), &u("http://127.0.0.1:5000/")));
        assert_eq!(origin_of(&u("https://Reg.io:443/v2/")), "https://reg.io");
        assert!(parse("ftp://x/").is_none());
        assert!(parse("https://user@evil/").is_none());
        assert!(parse("https://:pw@evil/").is_none());
        assert!(parse("/relative").is_none());
        assert_eq!(u("https://r/p#frag").as_str(), "https://r/p");
    }

    #[test]
    fn resolves_relative_targets() {
        let base = u("http://r:5000/v2/a/tags/list?n=2");
        let j = |t: &str| join(&base, t).map(|u| u.to_string());
        assert_eq!(j("/v2/a/tags/list?last=b").as_deref(), Some("http://r:5000/v2/a/tags/list?last=b"));
        assert_eq!(j("https://cdn/x").as_deref(), Some("https://cdn/x"));
        assert_eq!(j("list?n=3").as_deref(), Some("http://r:5000/v2/a/tags/list?n=3"));
        assert_eq!(j("//other/p").as_deref(), Some("http://other/p"));
        assert_eq!(j("../../b/tags/list").as_deref(), Some("http://r:5000/v2/b/tags/list"));
        assert_eq!(j("ftp://x/y"), None);
        assert_eq!(j("file:///etc/passwd"), None);
        assert_eq!(j("https://u:p@cdn/x"), None);
    }

    #[test]
    fn appends_queries() {
        let realm = u("https://auth.io/token?a=1");
        assert_eq!(with_query(&realm, &["b=2".into()]).as_str(), "https://auth.io/token?a=1&b=2");
        assert_eq!(with_query(&u("https://auth.io/token"), &["b=2".into()]).as_str(), "https://auth.io/token?b=2");
        assert_eq!(with_query(&u("https://up.io/s?_state=x"), &[]).as_str(), "https://up.io/s?_state=x");
        assert_eq!(with_query(&u("https://up.io/s"), &[]).as_str(), "https://up.io/s");
    }

    #[test]
    fn encodes_queries() {
        assert_eq!(encode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
    }
}
