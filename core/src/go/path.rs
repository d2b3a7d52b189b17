//! Go's `path` package (slash-separated paths): skopeo names sync
//! destinations with `path.Join` and `path.Base`, so the same names need the
//! same cleaning rules (`..`, `//`, a trailing `/`).

/// `path.Clean`: the shortest equivalent path.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// `path.Join`: the non-empty elements joined by `/`, cleaned.
pub fn join(elements: &[&str]) -> String {
    let kept: Vec<&str> = elements.iter().copied().filter(|e| !e.is_empty()).collect();
    if kept.is_empty() {
        return String::new();
    }
    clean(&kept.join("/"))
}

/// `path.Base`: the last element, trailing slashes removed.
pub fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_owned();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_go_does() {
        // Cases from Go's path_test.go.
        for (input, want) in [
            ("", "."),
            ("abc/def/../ghi", "abc/ghi"),
            ("/../abc", "/abc"),
            ("../../abc", "../../abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("abc/./def/", "abc/def"),
            ("/", "/"),
            ("abc/..", "."),
        ] {
            assert_eq!(clean(input), want, "{input}");
        }
        assert_eq!(join(&["/media/usb/", "app:v1"]), "/media/usb/app:v1");
        assert_eq!(join(&["reg:5000/mirror", "/lib/app:v1"]), "reg:5000/mirror/lib/app:v1");
        assert_eq!(join(&["", ""]), "");
        assert_eq!(base("reg:5000/lib/app:v1"), "app:v1");
        assert_eq!(base("a/b/"), "b");
        assert_eq!(base("/"), "/");
        assert_eq!(base(""), ".");
    }
}
