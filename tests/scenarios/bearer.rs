//! Bearer-token auth: the real registry verifies tokens from the harness's
//! issuer; skiff must do the challenge and token exchange itself.

use std::sync::OnceLock;

use base64::Engine as _;

use skiff_tests::harness::fixtures::{push, world};
use skiff_tests::harness::registry::{Options, PASSWORD, Registry, USER};
use skiff_tests::harness::token::TokenIssuer;
use skiff_tests::harness::tools::{skiff, skopeo};

use super::assert_inspect_matches;

pub struct TokenWorld {
    pub issuer: TokenIssuer,
    pub registry: Registry,
}

/// A registry using token auth, with `test/oci:v1` pushed; shared with the JavaScript tests.
pub fn token_world() -> &'static TokenWorld {
    static W: OnceLock<TokenWorld> = OnceLock::new();
    W.get_or_init(|| {
        let dir = world().root.join("token");
        // Over HTTPS, as real token services are: credentials may go there.
        let issuer = TokenIssuer::start(&dir.join("issuer"), true);
        let registry = Registry::start(
            &dir.join("registry"),
            Options { token_auth: Some(issuer.registry_config()), ..Options::default() },
        );
        let creds = format!("{USER}:{PASSWORD}");
        push(&world().single, "v1", &format!("docker://{}/test/oci:v1", registry.host()), &["--dest-creds", &creds]);
        TokenWorld { issuer, registry }
    })
}

/// The token requests made by runs with `--user-agent-prefix prefix` (other
/// tests use the same issuer at the same time).
fn seen_from(w: &TokenWorld, prefix: &str) -> Vec<skiff_tests::harness::token::Seen> {
    let seen = w.issuer.seen.lock().unwrap();
    seen.iter().filter(|s| s.user_agent.as_deref().is_some_and(|ua| ua.starts_with(prefix))).cloned().collect()
}

fn image(host: &str) -> String {
    format!("docker://{host}/test/oci:v1")
}

#[test]
fn anonymous_bearer_token_matches_skopeo() {
    let w = token_world();
    let img = image(&w.registry.host());
    let ours = skiff(&["inspect", "--tls-verify=false", &img]).ok().json();
    let theirs = skopeo(&["inspect", "--tls-verify=false", &img]).ok().json();
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &img]).ok().stdout;
    assert_inspect_matches(&ours, &theirs, &raw);
    let repo = format!("docker://{}/test/oci", w.registry.host());
    assert_eq!(
        skiff(&["list-tags", "--tls-verify=false", &repo]).ok().stdout,
        skopeo(&["list-tags", "--tls-verify=false", &repo]).ok().stdout
    );
}

#[test]
fn credentials_go_to_the_token_endpoint() {
    let w = token_world();
    let img = image(&w.registry.host());
    let ua = "test-credentials-to-token";
    let r = skiff(&[
        "--user-agent-prefix",
        ua,
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        &format!("{USER}:{PASSWORD}"),
        &img,
    ])
    .ok();
    assert!(r.stdout_str().contains("schemaVersion"));
    let seen = seen_from(w, ua);
    assert!(!seen.is_empty(), "the token requests carry the User-Agent");
    assert!(
        seen.iter().any(|s| s.authorization.as_deref().is_some_and(|a| a.starts_with("Basic "))
            && s.query.contains(&format!("account={USER}"))),
        "{seen:?}"
    );
    assert!(seen.iter().all(|s| s.query.contains("scope=repository%3Atest%2Foci%3Apull")), "{seen:?}");

    let wrong = skiff(&["inspect", "--tls-verify=false", "--creds", &format!("{USER}:nope"), &img]);
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(wrong.stderr.contains("unable to retrieve auth token"), "{}", wrong.stderr);
}

/// A token service that takes only the OAuth2 form (its `GET` answers 404):
/// skiff falls back to the password grant of the distribution token spec,
/// so a push and an inspect with credentials work; containers/image knows
/// only the `GET`, so skopeo cannot log in there (shown, as the reference).
#[test]
fn an_oauth2_only_token_service_gets_the_password_grant() {
    let dir = world().root.join("oauth-only");
    let issuer = TokenIssuer::start_oauth_only(&dir.join("issuer"));
    let registry = Registry::start(
        &dir.join("registry"),
        Options { token_auth: Some(issuer.registry_config()), ..Options::default() },
    );
    let creds = format!("{USER}:{PASSWORD}");
    let dest = format!("docker://{}/test/oauth:v1", registry.host());
    let src = format!("oci:{}:v1", world().single.display());
    let r = skiff(&["--insecure-policy", "copy", "-q", "--dest-tls-verify=false", "--dest-creds", &creds, &src, &dest]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ours = skiff(&["inspect", "--raw", "--tls-verify=false", "--creds", &creds, &dest]).ok();
    let local = skiff(&["inspect", "--raw", &src]).ok();
    assert_eq!(ours.stdout, local.stdout, "the manifest arrived as it was");
    let seen = issuer.seen.lock().unwrap().clone();
    let posts: Vec<_> = seen.iter().filter(|s| s.method == "POST").collect();
    assert!(!posts.is_empty(), "{seen:?}");
    for p in &posts {
        assert!(p.body.starts_with("grant_type=password&username=") && p.body.contains("scope="), "{p:?}");
        assert!(p.authorization.is_none(), "the password is in the form only: {p:?}");
    }
    assert!(seen.iter().all(|s| s.method == "POST" || s.method == "GET"), "{seen:?}");

    let wrong = skiff(&["inspect", "--tls-verify=false", "--creds", &format!("{USER}:nope"), &dest]);
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(wrong.stderr.contains("unable to retrieve auth token: invalid username/password"), "{}", wrong.stderr);

    // `login` verifies the credentials the same way; `--debug` shows no secret.
    let tmp = tempfile::tempdir().unwrap();
    let authfile = tmp.path().join("auth.json");
    let authfile = authfile.to_str().unwrap();
    let host = registry.host();
    let login =
        skiff(&["--debug", "login", "--tls-verify=false", "--authfile", authfile, "-u", USER, "-p", PASSWORD, &host]);
    assert_eq!(login.code, 0, "{}", login.stderr);
    assert!(!login.stderr.contains(PASSWORD) && !login.stdout_str().contains(PASSWORD), "{}", login.stderr);
    skiff(&["inspect", "--raw", "--tls-verify=false", "--authfile", authfile, &dest]).ok();

    let theirs = skopeo(&["inspect", "--raw", "--tls-verify=false", "--creds", &creds, &dest]);
    assert_ne!(theirs.code, 0, "skopeo has no OAuth2 form: {}", theirs.stdout_str());
}

/// A registry whose token realm is plain HTTP on the same host, another port.
fn plain_realm_world() -> &'static TokenWorld {
    static W: OnceLock<TokenWorld> = OnceLock::new();
    W.get_or_init(|| {
        let dir = world().root.join("plain-realm");
        let issuer = TokenIssuer::start(&dir.join("issuer"), false);
        let registry = Registry::start(
            &dir.join("registry"),
            Options { token_auth: Some(issuer.registry_config()), ..Options::default() },
        );
        TokenWorld { issuer, registry }
    })
}

#[test]
fn credentials_never_go_to_a_plain_http_realm_on_another_origin() {
    // Same host, another port: another origin, and plain HTTP.
    let w = plain_realm_world();
    for img in [image(&w.registry.host()), image(&format!("localhost:{}", w.registry.port))] {
        let before = w.issuer.seen.lock().unwrap().len();
        let r = skiff(&["inspect", "--tls-verify=false", "--creds", &format!("{USER}:{PASSWORD}"), &img]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains("refusing to send credentials"), "{}", r.stderr);
        let seen = w.issuer.seen.lock().unwrap()[before..].to_vec();
        assert!(seen.iter().all(|s| s.authorization.is_none()), "credentials leaked: {seen:?}");
    }
    // Anonymous access still works there.
    let anonymous = skiff(&["inspect", "--raw", "--tls-verify=false", &image(&w.registry.host())]);
    assert!(
        anonymous.stderr.contains("MANIFEST_UNKNOWN") || anonymous.stderr.contains("manifest unknown"),
        "{}",
        anonymous.stderr
    );
}

/// A pull token for `test/oci`, fetched beforehand (curl, trusting the issuer's certificate).
fn fetched_token(w: &TokenWorld) -> String {
    let out = std::process::Command::new("curl")
        .args(["-sf", "--cacert", w.issuer.tls_cert.to_str().unwrap(), "-u", &format!("{USER}:{PASSWORD}")])
        .arg(format!(
            "https://127.0.0.1:{}/token?service=skiff-registry&scope=repository%3Atest%2Foci%3Apull",
            w.issuer.port
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["token"].as_str().unwrap().to_owned()
}

#[test]
fn registry_token_is_used_as_given() {
    let w = token_world();
    let img = image(&w.registry.host());
    let token = fetched_token(w);
    let ua = "test-registry-token";
    let r =
        skiff(&["--user-agent-prefix", ua, "inspect", "--raw", "--tls-verify=false", "--registry-token", &token, &img])
            .ok();
    assert!(r.stdout_str().contains("schemaVersion"));
    assert!(seen_from(w, ua).is_empty(), "no token request when a token is given");
    let bad = skiff(&["inspect", "--tls-verify=false", "--registry-token", "not-a-token", &img]);
    assert_eq!(bad.code, 1, "{}", bad.stderr);
}

/// `login` to a token registry: the credentials go to the token endpoint
/// (no scope), the token to the registry's `/v2/`, then to the auth file;
/// a wrong password stores nothing. skopeo does the same with the same result.
#[test]
fn login_through_the_token_endpoint() {
    let w = token_world();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("auth.json");
    let f = file.display().to_string();
    let host = w.registry.host();
    let ua = "test-login-token";
    let args =
        ["--user-agent-prefix", ua, "login", "--tls-verify=false", "--authfile", &f, "-u", USER, "-p", PASSWORD, &host];
    let ours = skiff(&args).ok();
    let seen = seen_from(w, ua);
    assert!(
        seen.iter().any(|s| s.authorization.as_deref().is_some_and(|a| a.starts_with("Basic "))
            && s.query.contains(&format!("account={USER}"))),
        "{seen:?}"
    );
    let stored: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(stored["auths"][&host]["auth"].is_string(), "{stored}");
    let theirs_file = tmp.path().join("skopeo.json");
    let t = theirs_file.display().to_string();
    let theirs = skopeo(&["login", "--tls-verify=false", "--authfile", &t, "-u", USER, "-p", PASSWORD, &host]).ok();
    assert_eq!(ours.stdout_str(), theirs.stdout_str());
    let theirs_stored: serde_json::Value = serde_json::from_slice(&std::fs::read(&theirs_file).unwrap()).unwrap();
    assert_eq!(stored["auths"][&host], theirs_stored["auths"][&host]);
    let wrong = tmp.path().join("wrong.json");
    let r =
        skiff(&["login", "--tls-verify=false", "--authfile", wrong.to_str().unwrap(), "-u", USER, "-p", "nope", &host]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!wrong.exists());
}

/// Docker's `registrytoken` entry in an auth file: sent to the registry as
/// it is, with no token request.
#[test]
fn a_registrytoken_entry_is_used_as_given() {
    let w = token_world();
    let token = fetched_token(w);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("config.json");
    let entry = serde_json::json!({"auths": {w.registry.host(): {"registrytoken": token}}});
    std::fs::write(&file, entry.to_string()).unwrap();
    let img = image(&w.registry.host());
    let ua = "test-registrytoken-entry";
    let authfile = file.to_str().unwrap();
    let r = skiff(&["--user-agent-prefix", ua, "inspect", "--raw", "--tls-verify=false", "--authfile", authfile, &img])
        .ok();
    assert!(r.stdout_str().contains("schemaVersion"));
    assert!(seen_from(w, ua).is_empty(), "no token request");
}

/// An auth file's `identitytoken` (an OAuth2 refresh token) is traded for
/// an access token with the distribution token spec's POST form, as
/// containers/image does; it is never sent as Basic credentials.
#[test]
fn an_identity_token_is_traded_with_the_oauth2_form_as_skopeo_does() {
    use skiff_tests::harness::token::REFRESH_TOKEN;
    let w = token_world();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("auth.json");
    let entry = serde_json::json!({"auths": {w.registry.host(): {"identitytoken": REFRESH_TOKEN}}});
    std::fs::write(&file, entry.to_string()).unwrap();
    let authfile = file.to_str().unwrap();
    // Pushing needs the test user: only the refresh token can give it here.
    let dest = format!("docker://{}/test/identity:v1", w.registry.host());
    let src = format!("oci:{}:v1", world().single.display());
    let ua = "test-identity-token";
    let r = skiff(&[
        "--user-agent-prefix",
        ua,
        "--insecure-policy",
        "copy",
        "-q",
        "--dest-tls-verify=false",
        "--dest-authfile",
        authfile,
        &src,
        &dest,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let seen = seen_from(w, ua);
    assert!(!seen.is_empty());
    for s in &seen {
        assert_eq!(s.method, "POST", "{s:?}");
        assert!(s.body.contains("grant_type=refresh_token") && s.body.contains("scope="), "{s:?}");
        assert!(s.authorization.is_none(), "no Basic credentials: {s:?}");
    }
    // skopeo reads the image back with the same auth file.
    let theirs = skopeo(&["inspect", "--raw", "--tls-verify=false", "--authfile", authfile, &dest]).ok();
    let ours = skiff(&["inspect", "--raw", "--tls-verify=false", "--authfile", authfile, &dest]).ok();
    assert_eq!(ours.stdout, theirs.stdout);
    // A refresh token the service refuses is a clear error.
    std::fs::write(&file, serde_json::json!({"auths": {w.registry.host(): {"identitytoken": "wrong"}}}).to_string())
        .unwrap();
    let bad =
        skiff(&["--insecure-policy", "copy", "--dest-tls-verify=false", "--dest-authfile", authfile, &src, &dest]);
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(bad.stderr.contains("identity token") && bad.stderr.contains("refused"), "{}", bad.stderr);
}

/// `--debug` traces every request, and never a secret: no password, no
/// Basic credentials, no token.
#[test]
fn debug_output_shows_no_secret() {
    let w = token_world();
    let img = image(&w.registry.host());
    let r =
        skiff(&["--debug", "inspect", "--raw", "--tls-verify=false", "--creds", &format!("{USER}:{PASSWORD}"), &img])
            .ok();
    assert!(r.stderr.contains("DEBU"), "the requests are traced: {}", r.stderr);
    assert!(r.stderr.contains("/token"), "the token request too: {}", r.stderr);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    for secret in [PASSWORD, basic.as_str(), "Bearer ", "eyJ", "Authorization"] {
        assert!(!r.stderr.contains(secret), "{secret:?} in the debug output:\n{}", r.stderr);
    }
}

/// A push that outlives its token: tokens good for 3 s at the registry, a
/// source that streams a 20 MB layer at ~3 MB/s. The manifest PUT at the
/// end meets an expired token; skiff asks for a fresh one and finishes.
#[test]
fn a_push_outlives_its_token() {
    use skiff_tests::harness::images::noisy_layout;
    use skiff_tests::harness::proxy::{Mode, Proxy};
    let dir = world().root.join("token-short");
    let issuer = TokenIssuer::start_with_lifetime(&dir.join("issuer"), true, 3);
    let registry = Registry::start(
        &dir.join("registry"),
        Options { token_auth: Some(issuer.registry_config()), ..Options::default() },
    );
    let layout = dir.join("layout");
    noisy_layout(&layout, "slow", 20 << 20, 7);
    push(&layout, "v1", &format!("docker://{}/test/slow:v1", world().plain.host()), &[]);
    let slow = Proxy::start(world().plain.port, Mode::SlowBlobs);
    let started = std::time::Instant::now();
    let r = skiff(&[
        "--insecure-policy",
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--dest-creds",
        &format!("{USER}:{PASSWORD}"),
        &format!("docker://127.0.0.1:{}/test/slow:v1", slow.port),
        &format!("docker://{}/test/slow:v1", registry.host()),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(started.elapsed() > std::time::Duration::from_secs(3), "the push outlived the token");
    let pushes = issuer
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.query.contains("pull%2Cpush") || s.query.contains("pull,push"))
        .count();
    assert!(pushes >= 2, "a fresh token was fetched: {pushes}");
    let digest = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--creds",
        &format!("{USER}:{PASSWORD}"),
        &format!("docker://{}/test/slow:v1", registry.host()),
    ])
    .ok()
    .json()["Digest"]
        .clone();
    let source = skopeo(&["inspect", "--tls-verify=false", &format!("docker://{}/test/slow:v1", world().plain.host())])
        .ok()
        .json()["Digest"]
        .clone();
    assert_eq!(digest, source);
}

/// A registry (reached at 127.0.0.1) whose token realm names another host,
/// `localhost`, over HTTPS.
fn other_host_realm_world() -> &'static TokenWorld {
    static W: OnceLock<TokenWorld> = OnceLock::new();
    W.get_or_init(|| {
        let dir = world().root.join("other-host-realm");
        let issuer = TokenIssuer::start(&dir.join("issuer"), true);
        let registry = Registry::start(
            &dir.join("registry"),
            Options { token_auth: Some(issuer.registry_config_at("localhost")), ..Options::default() },
        );
        TokenWorld { issuer, registry }
    })
}

/// Issue 15, item 17: credentials go only to the registry's own site, a
/// known token service of it, or a host the user allowed. skopeo sends them
/// wherever the realm says.
#[test]
fn credentials_go_to_a_token_service_on_another_host_only_when_allowed() {
    let w = other_host_realm_world();
    let creds = format!("{USER}:{PASSWORD}");
    let img = image(&w.registry.host());
    let r = skiff(&["--user-agent-prefix", "realm-refused", "inspect", "--tls-verify=false", "--creds", &creds, &img]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("refusing to send credentials")
            && r.stderr.contains("another domain than the registry's")
            && r.stderr.contains("--allow-token-host localhost"),
        "{}",
        r.stderr
    );
    assert!(seen_from(w, "realm-refused").iter().all(|s| s.authorization.is_none()), "credentials leaked");

    // skopeo 1.9.3 hands them over (it has no --user-agent-prefix; its own
    // user agent tells its requests apart).
    let theirs = skopeo(&["inspect", "--raw", "--tls-verify=false", "--creds", &creds, &img]);
    let seen = seen_from(w, "skopeo/");
    assert!(seen.iter().any(|s| s.authorization.is_some()), "skopeo sent no credentials: {seen:?} {}", theirs.stderr);

    // Allowed by name, they go, and the registry takes the token.
    let allowed = skiff(&[
        "--user-agent-prefix",
        "realm-allowed",
        "--allow-token-host",
        "localhost",
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        &creds,
        &img,
    ]);
    assert!(seen_from(w, "realm-allowed").iter().any(|s| s.authorization.is_some()), "{}", allowed.stderr);
    assert!(
        allowed.stderr.contains("MANIFEST_UNKNOWN") || allowed.stderr.contains("manifest unknown"),
        "authorised, the registry answers for the image itself: {}",
        allowed.stderr
    );
}
