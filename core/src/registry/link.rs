//! `Link: <url>; rel="next"` headers (RFC 8288), as registries use them to
//! paginate tag lists.

/// The target of the `rel="next"` link among `values`, if any.
pub fn next_link<'a>(values: impl Iterator<Item = &'a str>) -> Option<String> {
    for value in values {
        for link in value.split(',') {
            let link = link.trim();
            let Some(rest) = link.strip_prefix('<') else {
                continue;
            };
            let Some((target, params)) = rest.split_once('>') else {
                continue;
            };
            let is_next = params.split(';').any(|p| {
                let p = p.trim();
                p.split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("rel") && v.trim().trim_matches('"').split(' ').any(|r| r == "next")
                })
            });
            if is_next {
                return Some(target.to_owned());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next() {
        assert_eq!(
            next_link(["</v2/a/tags/list?n=2&last=b>; rel=\"next\""].into_iter()).as_deref(),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(next_link(["<x>; rel=\"prev\", <y>; rel=next"].into_iter()).as_deref(), Some("y"));
        assert_eq!(next_link(["garbage"].into_iter()), None);
        assert_eq!(next_link(std::iter::empty()), None);
    }
}
