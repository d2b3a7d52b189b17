//! HTTP proxies from the environment, with the rules of Go's
//! `http.ProxyFromEnvironment` (golang.org/x/net/http/httpproxy), which
//! skopeo uses: `HTTPS_PROXY` for https URLs, `HTTP_PROXY` for http ones
//! (upper or lower case, upper first), never for `localhost` or a loopback
//! address, and not for hosts `NO_PROXY` names.

use super::Environment;

/// The proxy settings of the user's environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    https: Option<String>,
    http: Option<String>,
    no_proxy: Vec<String>,
}

fn either(env: &Environment, upper: &str, lower: &str) -> Option<String> {
    env.var(upper).or_else(|| env.var(lower)).map(str::to_owned)
}

/// A proxy address as Go reads it: a bare `host:port` means `http://host:port`.
fn proxy_url(value: &str) -> String {
    if value.contains("://") { value.to_owned() } else { format!("http://{value}") }
}

impl ProxyConfig {
    pub fn from_env(env: &Environment) -> Self {
        let no_proxy = either(env, "NO_PROXY", "no_proxy").unwrap_or_default();
        ProxyConfig {
            https: either(env, "HTTPS_PROXY", "https_proxy").map(|v| proxy_url(&v)),
            http: either(env, "HTTP_PROXY", "http_proxy").map(|v| proxy_url(&v)),
            no_proxy: no_proxy.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect(),
        }
    }

    /// The proxy to send a request for `url` through, if any.
    pub fn for_url(&self, url: &str) -> Option<String> {
        let u = ::url::Url::parse(url).ok()?;
        let proxy = match u.scheme() {
            "https" => self.https.as_ref(),
            "http" => self.http.as_ref(),
            _ => None,
        }?;
        let port = u.port_or_known_default()?;
        self.uses_proxy(u.host()?, port).then(|| proxy.clone())
    }

    fn uses_proxy(&self, host: ::url::Host<&str>, port: u16) -> bool {
        let name = match host {
            ::url::Host::Domain(d) => d.to_ascii_lowercase(),
            ::url::Host::Ipv4(ip) => ip.to_string(),
            ::url::Host::Ipv6(ip) => ip.to_string(),
        };
        let ip: Option<std::net::IpAddr> = match host {
            ::url::Host::Ipv4(ip) => Some(ip.into()),
            ::url::Host::Ipv6(ip) => Some(ip.into()),
            ::url::Host::Domain(_) => None,
        };
        if name == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
            return false;
        }
        !self.no_proxy.iter().any(|entry| no_proxy_matches(entry, &name, ip, port))
    }
}

/// One `NO_PROXY` entry: `*`, an IP, a CIDR block, or a domain (`foo.com`
/// is foo.com and its subdomains, `.foo.com` and `*.foo.com` only the
/// subdomains), each optionally with `:port`.
fn no_proxy_matches(entry: &str, host: &str, ip: Option<std::net::IpAddr>, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    if let Some((addr, bits)) = entry.split_once('/') {
        return match (addr.parse::<std::net::IpAddr>(), bits.parse::<u32>(), ip) {
            (Ok(net), Ok(bits), Some(ip)) => in_block(ip, net, bits),
            _ => false,
        };
    }
    let (name, entry_port) = match entry.rsplit_once(':') {
        Some((n, p)) if !n.contains(':') || n.ends_with(']') => (n.trim_matches(['[', ']']), p.parse::<u16>().ok()),
        _ => (entry.trim_matches(['[', ']']), None),
    };
    if entry_port.is_some_and(|p| p != port) {
        return false;
    }
    if let Ok(entry_ip) = name.parse::<std::net::IpAddr>() {
        return ip == Some(entry_ip);
    }
    let name = name.strip_prefix('*').unwrap_or(name);
    match name.strip_prefix('.') {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => host == name || host.ends_with(&format!(".{name}")),
    }
}

fn in_block(ip: std::net::IpAddr, net: std::net::IpAddr, bits: u32) -> bool {
    let mask = |len: u32, bits: u32| if bits == 0 { 0u128 } else { (!0u128) << (len - bits.min(len)) };
    match (ip, net) {
        (std::net::IpAddr::V4(a), std::net::IpAddr::V4(b)) => {
            let m = mask(32, bits) as u32;
            u32::from(a) & m == u32::from(b) & m
        }
        (std::net::IpAddr::V6(a), std::net::IpAddr::V6(b)) => {
            let m = mask(128, bits);
            u128::from(a) & m == u128::from(b) & m
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> ProxyConfig {
        ProxyConfig::from_env(&Environment {
            variables: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Environment::default()
        })
    }

    #[test]
    fn as_go_picks_a_proxy() {
        let c = config(&[("HTTPS_PROXY", "proxy.corp:3128"), ("http_proxy", "http://p2:8080")]);
        assert_eq!(c.for_url("https://quay.io/v2/").as_deref(), Some("http://proxy.corp:3128"));
        assert_eq!(c.for_url("http://reg.corp:5000/v2/").as_deref(), Some("http://p2:8080"));
        // Never for the loopback.
        assert_eq!(c.for_url("https://localhost:5000/v2/"), None);
        assert_eq!(c.for_url("https://127.0.0.1:5000/v2/"), None);
        assert_eq!(c.for_url("https://[::1]:5000/v2/"), None);
        assert_eq!(config(&[]).for_url("https://quay.io/"), None);
        // Upper case first.
        let both = config(&[("HTTPS_PROXY", "http://upper:1"), ("https_proxy", "http://lower:1")]);
        assert_eq!(both.for_url("https://x.io/").as_deref(), Some("http://upper:1"));
    }

    #[test]
    fn no_proxy_entries() {
        let c = config(&[
            ("HTTPS_PROXY", "http://p:1"),
            ("NO_PROXY", "corp.example, .internal,*.lab, 10.0.0.0/8, 192.168.1.5, mirror.io:5000"),
        ]);
        let proxied = |u: &str| c.for_url(u).is_some();
        assert!(!proxied("https://corp.example/"));
        assert!(!proxied("https://reg.corp.example/"));
        assert!(proxied("https://notcorp.example/"));
        assert!(proxied("https://internal/"), ".internal names only subdomains");
        assert!(!proxied("https://a.internal/"));
        assert!(!proxied("https://a.lab/"));
        assert!(!proxied("https://10.2.3.4/"));
        assert!(proxied("https://11.2.3.4/"));
        assert!(!proxied("https://192.168.1.5/"));
        assert!(!proxied("https://mirror.io:5000/"));
        assert!(proxied("https://mirror.io/"), "another port");
        assert!(config(&[("HTTPS_PROXY", "http://p:1"), ("no_proxy", "*")]).for_url("https://x.io/").is_none());
    }
}
