//! Which `Authorization` a request for a scope carries: a bearer token
//! (from `--registry-token`, the cache while it lives, or the token
//! endpoint the registry's challenge names), Basic credentials when the
//! registry asks for those, or nothing. Also which credentials the token
//! endpoint may receive (and, by [`Home`], only at its own origin).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::error::{describe_body, sanitize};
use super::request::{Home, MAX_SMALL_BODY};
use super::{RegistryClient, url};
use crate::engine::HttpResponse;
use crate::error::{Error, ErrorKind, Result};
use crate::registry::auth::{self, Challenge, Credentials};
use url::Url;

/// `Basic base64(user:password)`.
fn basic(c: &Credentials) -> String {
    format!("Basic {}", STANDARD.encode(format!("{}:{}", c.username, c.password)))
}

/// What an OAuth2 token request trades for an access token.
#[derive(Clone, Copy)]
enum Grant<'a> {
    RefreshToken(&'a str),
    Password(&'a Credentials),
}

/// Token services on another domain than their registry's that are known
/// to be its own: (registry host, realm host).
const KNOWN_TOKEN_HOSTS: [(&str, &str); 1] = [("nvcr.io", "authn.nvidia.com")];

/// Whether realm host `realm` belongs with registry host `registry`: the
/// same host, a name under it, or — for a registry named below a domain of
/// its own (`registry-1.docker.io`, `registry.gitlab.com`) — that domain or
/// a name under it (`auth.docker.io`, `gitlab.com`).
fn same_site(realm: &str, registry: &str) -> bool {
    let under = |host: &str, domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    if under(realm, registry) {
        return true;
    }
    match registry.split_once('.') {
        Some((_, parent)) if parent.contains('.') && registry.parse::<std::net::IpAddr>().is_err() => {
            under(realm, parent)
        }
        _ => false,
    }
}

/// Why credentials for the registry at `base` (`registry` its host when
/// there is no base yet) may not go to token endpoint `realm` (None: they
/// may). They go to the registry's own origin; else only over HTTPS, to a
/// name of the registry's own site ([`same_site`]), a known token service
/// of it, or a host the user allowed (`--allow-token-host`) — never to a
/// loopback, link-local or unspecified address (a metadata service, this
/// machine) or a private one unless the registry is at that host or in a
/// private network itself.
fn realm_refusal(realm: &Url, base: Option<&Url>, registry: &str, allowed: &[String]) -> Option<String> {
    if base.is_some_and(|b| url::same_origin(b, realm)) {
        return None;
    }
    if realm.scheme() != "https" {
        return Some("over plain HTTP".to_owned());
    }
    let registry_host = base.and_then(|b| b.host_str()).unwrap_or(registry).to_ascii_lowercase();
    let realm_host = realm.host_str()?.to_ascii_lowercase();
    let bare = |h: &str| h.trim_start_matches('[').trim_end_matches(']').to_owned();
    if allowed.iter().any(|a| bare(&a.to_ascii_lowercase()) == bare(&realm_host))
        || KNOWN_TOKEN_HOSTS.contains(&(registry_host.as_str(), realm_host.as_str()))
    {
        return None;
    }
    let same_host = registry_host == realm_host;
    let base_private = base.and_then(|b| b.host()).is_some_and(|h| match h {
        ::url::Host::Ipv4(ip) => ip.is_private() || ip.is_loopback(),
        ::url::Host::Ipv6(ip) => ip.is_loopback() || (ip.segments()[0] & 0xfe00) == 0xfc00,
        ::url::Host::Domain(_) => false,
    });
    let why = match realm.host()? {
        ::url::Host::Domain(d) if same_site(&d.to_ascii_lowercase(), &registry_host) => return None,
        ::url::Host::Domain(_) => {
            return Some(format!(
                "on another domain than the registry's (if it is the registry's token service, allow it with --allow-token-host {realm_host})"
            ));
        }
        _ if same_host => return None,
        ::url::Host::Ipv4(ip) if ip.is_loopback() => "at a loopback address that is not the registry's",
        ::url::Host::Ipv4(ip) if ip.is_link_local() => "at a link-local address",
        ::url::Host::Ipv4(ip) if ip.is_unspecified() || ip.is_broadcast() => "at an unspecified address",
        ::url::Host::Ipv4(ip) if ip.is_private() && !base_private => "at a private address",
        ::url::Host::Ipv6(ip) if ip.is_loopback() => "at a loopback address that is not the registry's",
        ::url::Host::Ipv6(ip) if (ip.segments()[0] & 0xffc0) == 0xfe80 => "at a link-local address",
        ::url::Host::Ipv6(ip) if ip.is_unspecified() => "at an unspecified address",
        ::url::Host::Ipv6(ip) if (ip.segments()[0] & 0xfe00) == 0xfc00 && !base_private => "at a private address",
        _ => return None,
    };
    Some(why.to_owned())
}

impl RegistryClient {
    /// The `Authorization` header for `scope`, if the registry asks for one.
    pub(super) async fn authorization(&self, scope: &str) -> Result<Option<String>> {
        let (bearer, basic_challenge) = {
            let session = self.session.borrow();
            let bearer = session.challenges.iter().find(|c| c.scheme == "bearer").cloned();
            (bearer, session.challenges.iter().any(|c| c.scheme == "basic"))
        };
        if let Some(ch) = bearer {
            return Ok(Some(format!("Bearer {}", self.bearer_token(&ch, scope).await?)));
        }
        if basic_challenge {
            return Ok(self.credentials.as_ref().map(basic));
        }
        Ok(None)
    }

    /// After a 401 to a request for `scope`: takes up the challenges it
    /// carries, and forgets the token fetched for `scope`. True if asking
    /// again may help: a token we fetched was refused (it may have expired
    /// or been revoked: a fresh one is fetched), or the registry challenges
    /// only now (its ping was open, so the request went without credentials).
    pub(super) fn retry_after_401(&self, scope: &str, resp: &HttpResponse) -> bool {
        let challenges = auth::parse_challenges(resp.headers_named("www-authenticate"));
        let mut session = self.session.borrow_mut();
        let first_challenge = session.challenges.is_empty() && !challenges.is_empty();
        if !challenges.is_empty() {
            session.challenges = challenges;
        }
        // `--registry-token` is used as given: there is nothing fresher.
        let dropped = self.opts.registry_token.is_none() && session.tokens.remove(scope).is_some();
        first_challenge || dropped
    }

    /// A token for `scope`: the cached one while it lives, else a new one
    /// from the endpoint challenge `ch` names.
    async fn bearer_token(&self, ch: &Challenge, scope: &str) -> Result<String> {
        if let Some(t) = &self.opts.registry_token {
            return Ok(t.clone());
        }
        let now = self.io.now_ms();
        if let Some(t) = self.session.borrow().tokens.get(scope).filter(|t| !t.expired(now)) {
            return Ok(t.value.clone());
        }
        let realm = ch.params.get("realm").map(String::as_str).unwrap_or_default();
        let realm_url = url::parse(realm).ok_or_else(|| {
            Error::other(format!("registry {} gave an invalid token realm {:?}", self.registry, sanitize(realm)))
        })?;
        let realm_origin = url::origin_of(&realm_url);
        let mut query = Vec::new();
        if let Some(service) = ch.params.get("service") {
            query.push(format!("service={}", url::encode(service)));
        }
        // A login asks for no scope: a token that says the credentials are good.
        if !scope.is_empty() {
            query.push(format!("scope={}", url::encode(scope)));
        }
        if let Some(refresh) = self.opts.identity_token.clone() {
            return self.oauth2_token(ch, scope, &realm_url, Grant::RefreshToken(&refresh)).await;
        }
        let mut authorization = None;
        if let Some(c) = &self.credentials {
            let base = self.session.borrow().base.clone();
            if let Some(why) = realm_refusal(&realm_url, base.as_ref(), &self.registry, &self.opts.token_hosts) {
                return Err(Error::new(
                    ErrorKind::Unauthorized,
                    format!("refusing to send credentials for {} to token realm {realm_origin} {why}", self.registry),
                ));
            }
            query.push(format!("account={}", url::encode(&c.username)));
            authorization = Some(basic(c));
        }
        let request = self.get(&url::with_query(&realm_url, &query), Vec::new(), MAX_SMALL_BODY);
        let resp = self
            .send_elsewhere(&Home::new(realm_url.clone(), authorization), request)
            .await
            .map_err(|e| e.context(format!("requesting bearer token from {realm_origin}")))?;
        match resp.status {
            200 => {}
            // A token service that implements only the OAuth2 form of the
            // distribution token spec: the password grant, as Docker sends it.
            404 | 405 if let Some(c) = &self.credentials => {
                return self.oauth2_token(ch, scope, &realm_url, Grant::Password(c)).await;
            }
            401 | 403 => {
                return Err(Error::new(
                    ErrorKind::Unauthorized,
                    format!("unable to retrieve auth token: invalid username/password{}", describe_body(&resp)),
                ));
            }
            s => {
                return Err(Error::other(format!(
                    "requesting bearer token: unexpected status {s}{}",
                    describe_body(&resp)
                )));
            }
        }
        self.keep_token(scope, &resp.body)
    }

    /// Caches the token a token service answered for `scope`.
    fn keep_token(&self, scope: &str, body: &[u8]) -> Result<String> {
        let token = auth::parse_token_response(body, self.io.now_ms())?;
        let value = token.value.clone();
        self.session.borrow_mut().tokens.insert(scope.to_owned(), token);
        Ok(value)
    }

    /// An access token for `scope` from the OAuth2 `POST` of the distribution
    /// token spec: traded for the refresh token an auth file holds
    /// (`identitytoken`, as containers/image sends it), or for the
    /// credentials when the service answers no `GET`. Both are secrets: they
    /// go only over HTTPS or to the registry's own origin.
    async fn oauth2_token(&self, ch: &Challenge, scope: &str, realm: &Url, grant: Grant<'_>) -> Result<String> {
        let base = self.session.borrow().base.clone();
        let realm_origin = url::origin_of(realm);
        let what = match grant {
            Grant::RefreshToken(_) => "the identity token",
            Grant::Password(_) => "credentials",
        };
        if let Some(why) = realm_refusal(realm, base.as_ref(), &self.registry, &self.opts.token_hosts) {
            return Err(Error::new(
                ErrorKind::Unauthorized,
                format!("refusing to send {what} for {} to token realm {realm_origin} {why}", self.registry),
            ));
        }
        let mut form = match grant {
            Grant::RefreshToken(refresh) => {
                vec!["grant_type=refresh_token".to_owned(), format!("refresh_token={}", url::encode(refresh))]
            }
            Grant::Password(c) => vec![
                "grant_type=password".to_owned(),
                format!("username={}", url::encode(&c.username)),
                format!("password={}", url::encode(&c.password)),
            ],
        };
        form.push("client_id=skiff".to_owned());
        if let Some(service) = ch.params.get("service") {
            form.push(format!("service={}", url::encode(service)));
        }
        if !scope.is_empty() {
            form.push(format!("scope={}", url::encode(scope)));
        }
        let mut request = self.get(realm, vec![], MAX_SMALL_BODY);
        request.method = "POST".to_owned();
        request.headers.push(("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned()));
        request.body = Some(form.join("&").into_bytes());
        let resp = self
            .send_elsewhere(&Home::new(realm.clone(), None), request)
            .await
            .map_err(|e| e.context(format!("requesting an access token from {realm_origin}")))?;
        match (resp.status, grant) {
            (200, _) => self.keep_token(scope, &resp.body),
            // RFC 6749 §5.2 refuses a grant with a 400 (`invalid_grant`).
            (400 | 401 | 403, Grant::RefreshToken(_)) => Err(Error::new(
                ErrorKind::Unauthorized,
                format!("the identity token for {} was refused{}", self.registry, describe_body(&resp)),
            )),
            (400 | 401 | 403, Grant::Password(_)) => Err(Error::new(
                ErrorKind::Unauthorized,
                format!("unable to retrieve auth token: invalid username/password{}", describe_body(&resp)),
            )),
            (404 | 405, Grant::RefreshToken(_)) => Err(Error::new(
                ErrorKind::Unauthorized,
                format!(
                    "the token service at {realm_origin} does not take the OAuth2 form (status {}): the identity token for {} cannot be used there; log in with a username and password",
                    resp.status, self.registry
                ),
            )),
            (s, _) => {
                Err(Error::other(format!("requesting an access token: unexpected status {s}{}", describe_body(&resp))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_realm_credentials_go() {
        let base = url::parse("http://reg.local:5000/").unwrap();
        let realm = |s: &str| url::parse(s).unwrap();
        let refusal = |r: &str, b: &Url| realm_refusal(&realm(r), Some(b), "reg.local:5000", &[]);
        let ok = |r: &str, b: &Url| refusal(r, b).is_none();
        assert!(ok("http://reg.local:5000/token", &base), "the same origin");
        assert!(ok("https://reg.local:5443/token", &base), "the same host over HTTPS");
        assert!(!ok("http://reg.local:5001/token", &base), "another port");
        assert!(!ok("http://auth.example/token", &base));
        assert!(realm_refusal(&realm("http://auth.example/token"), None, "reg.local", &[]).is_some());
        // Issue 15, item 17: realms a hostile registry names to reach what it should not.
        for (r, why) in [
            ("https://169.254.169.254/latest/meta-data", "at a link-local address"),
            ("https://[fe80::1]/token", "at a link-local address"),
            ("https://0.0.0.0/token", "at an unspecified address"),
            ("https://127.0.0.1:9/token", "at a loopback address that is not the registry's"),
            ("https://10.1.2.3/token", "at a private address"),
        ] {
            assert_eq!(refusal(r, &base).as_deref(), Some(why), "{r}");
        }
        let other = refusal("https://auth.example/token", &base).unwrap();
        assert!(other.contains("another domain") && other.contains("--allow-token-host auth.example"), "{other}");
        // Allowed by the user, by name.
        let allowed = ["auth.example".to_owned()];
        assert!(realm_refusal(&realm("https://auth.example/token"), Some(&base), "reg.local", &allowed).is_none());
        assert!(realm_refusal(&realm("http://auth.example/token"), Some(&base), "reg.local", &allowed).is_some());
        // A realm with its own user name is no realm at all (refused when parsed).
        assert!(url::parse("https://user:pw@evil.example/token").is_none());
        // The registry's own host on another port (a token service beside
        // it), and private realms for a registry in a private network.
        let local = url::parse("http://127.0.0.1:5000/").unwrap();
        assert!(ok("https://127.0.0.1:5001/token", &local));
        assert!(!ok("https://localhost:5001/token", &local), "another name is another host");
        let private = url::parse("https://10.0.0.5/").unwrap();
        assert!(ok("https://10.0.0.6/token", &private));
        assert!(!ok("https://169.254.169.254/token", &private));
    }

    #[test]
    fn the_token_services_of_public_registries_are_their_own() {
        let realm = |s: &str| url::parse(s).unwrap();
        for (registry, r) in [
            ("https://registry-1.docker.io/", "https://auth.docker.io/token"),
            ("https://registry.gitlab.com/", "https://gitlab.com/jwt/auth"),
            ("https://quay.io/", "https://quay.io/v2/auth"),
            ("https://ghcr.io/", "https://ghcr.io/token"),
            ("https://myreg.azurecr.io/", "https://myreg.azurecr.io/oauth2/token"),
            ("https://nvcr.io/", "https://authn.nvidia.com/token"),
            ("https://registry.example.com/", "https://auth.registry.example.com/token"),
        ] {
            let base = url::parse(registry).unwrap();
            let host = base.host_str().unwrap().to_owned();
            assert_eq!(realm_refusal(&realm(r), Some(&base), &host, &[]), None, "{registry} → {r}");
        }
        for (registry, r) in [
            ("https://quay.io/", "https://evil.io/token"),
            ("https://ghcr.io/", "https://auth.docker.io/token"),
            ("https://registry.example.com/", "https://example.com.evil.net/token"),
            ("https://registry.example.com/", "https://notexample.com/token"),
            ("https://10.0.0.1/", "https://evil.example/token"),
        ] {
            let base = url::parse(registry).unwrap();
            let host = base.host_str().unwrap().to_owned();
            assert!(realm_refusal(&realm(r), Some(&base), &host, &[]).is_some(), "{registry} → {r}");
        }
    }
}
