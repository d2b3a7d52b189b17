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

/// Why credentials for the registry at `base` may not go to token endpoint
/// `realm` (None: they may). They go to the registry's own origin (scheme,
/// host and port: another port of the same host is another service), or
/// over HTTPS to a name or a public address — not to a loopback,
/// link-local or unspecified address (a
/// metadata service, this machine) or a private one unless the registry is
/// at that host or in a private network itself.
fn realm_refusal(realm: &Url, base: Option<&Url>) -> Option<&'static str> {
    if base.is_some_and(|b| url::same_origin(b, realm)) {
        return None;
    }
    if realm.scheme() != "https" {
        return Some("over plain HTTP");
    }
    let same_host = base.is_some_and(|b| b.host() == realm.host());
    let base_private = base.and_then(|b| b.host()).is_some_and(|h| match h {
        ::url::Host::Ipv4(ip) => ip.is_private() || ip.is_loopback(),
        ::url::Host::Ipv6(ip) => ip.is_loopback() || (ip.segments()[0] & 0xfe00) == 0xfc00,
        ::url::Host::Domain(_) => false,
    });
    match realm.host()? {
        ::url::Host::Domain(_) => None,
        _ if same_host => None,
        ::url::Host::Ipv4(ip) if ip.is_loopback() => Some("at a loopback address that is not the registry's"),
        ::url::Host::Ipv4(ip) if ip.is_link_local() => Some("at a link-local address"),
        ::url::Host::Ipv4(ip) if ip.is_unspecified() || ip.is_broadcast() => Some("at an unspecified address"),
        ::url::Host::Ipv4(ip) if ip.is_private() && !base_private => Some("at a private address"),
        ::url::Host::Ipv6(ip) if ip.is_loopback() => Some("at a loopback address that is not the registry's"),
        ::url::Host::Ipv6(ip) if (ip.segments()[0] & 0xffc0) == 0xfe80 => Some("at a link-local address"),
        ::url::Host::Ipv6(ip) if ip.is_unspecified() => Some("at an unspecified address"),
        ::url::Host::Ipv6(ip) if (ip.segments()[0] & 0xfe00) == 0xfc00 && !base_private => Some("at a private address"),
        _ => None,
    }
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
            if let Some(why) = realm_refusal(&realm_url, base.as_ref()) {
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
        if let Some(why) = realm_refusal(realm, base.as_ref()) {
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
        let ok = |r: &str, b: &Url| realm_refusal(&realm(r), Some(b)).is_none();
        assert!(ok("https://auth.example/token", &base));
        assert!(ok("http://reg.local:5000/token", &base), "the same origin");
        assert!(!ok("http://reg.local:5001/token", &base), "another port");
        assert!(!ok("http://auth.example/token", &base));
        assert!(realm_refusal(&realm("http://auth.example/token"), None).is_some());
        // Issue 15, item 17: realms a hostile registry names to reach what it should not.
        for (r, why) in [
            ("https://169.254.169.254/latest/meta-data", "at a link-local address"),
            ("https://[fe80::1]/token", "at a link-local address"),
            ("https://0.0.0.0/token", "at an unspecified address"),
            ("https://127.0.0.1:9/token", "at a loopback address that is not the registry's"),
            ("https://10.1.2.3/token", "at a private address"),
        ] {
            assert_eq!(realm_refusal(&realm(r), Some(&base)), Some(why), "{r}");
        }
        // A realm with its own user name is no realm at all (refused when parsed).
        assert!(url::parse("https://user:pw@evil.example/token").is_none());
        // The registry's own host on another port (a token service beside
        // it), and private realms for a registry in a private network.
        let local = url::parse("http://127.0.0.1:5000/").unwrap();
        assert!(ok("https://127.0.0.1:5001/token", &local));
        let private = url::parse("https://10.0.0.5/").unwrap();
        assert!(ok("https://10.0.0.6/token", &private));
        assert!(!ok("https://169.254.169.254/token", &private));
    }
}
