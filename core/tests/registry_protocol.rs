//! The registry protocol, end to end: real commands (inspect, list-tags,
//! delete, copy) driven through the simulated registries of `sim`, with
//! assertions on what was requested, in which order, with which headers,
//! and on what the command printed or how it failed.

mod sim;

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{Value, json};
use sim::*;
use skiff_core::ErrorKind;
use skiff_core::engine::IoErrorKind;

const REG: &str = "https://reg.test";
/// The registry's token service: a name under the registry's (credentials go only to its own site).
const AUTH: &str = "https://auth.reg.test";
const CDN: &str = "https://cdn.test";
const DST: &str = "https://dst.test";

fn inspect_raw(extra: Value) -> Value {
    let mut job = json!({"command": "inspect", "image": "docker://reg.test/app:v1", "raw": true});
    merge(&mut job, inspect_side(extra));
    job
}

/// inspect's registry flags live in its `side`.
fn inspect_side(extra: Value) -> Value {
    match extra {
        Value::Object(mut m) => {
            if let Some(r) = m.remove("registry") {
                m.insert("side".into(), json!({ "registry": r }));
            }
            Value::Object(m)
        }
        other => other,
    }
}

fn list_tags(extra: Value) -> Value {
    let mut job = json!({"command": "list-tags", "repository": "docker://reg.test/app"});
    merge(&mut job, extra);
    job
}

fn copy(extra: Value) -> Value {
    let mut job = json!({
        "command": "copy",
        "source": "docker://reg.test/app:v1",
        "destination": "docker://dst.test/app:v1",
        "policy": {"insecure": true},
    });
    merge(&mut job, extra);
    job
}

fn merge(job: &mut Value, extra: Value) {
    if let Value::Object(m) = extra {
        for (k, v) in m {
            job[k] = v;
        }
    }
}

fn creds(user: &str, pass: &str) -> Value {
    json!({"credentials": {"username": user, "password": pass}})
}

/// A registry at `REG` holding `app:v1`.
fn registry(sim: &mut Sim, auth: Auth) -> (Rc<RefCell<Registry>>, Image) {
    let image = Image::new("app", &[300, 500]);
    let mut r = Registry::with_auth(auth);
    r.push("app", "v1", &image);
    (sim.host(REG, r), image)
}

fn bearer() -> Auth {
    Auth::Bearer { realm: format!("{AUTH}/token"), service: "reg.test".to_owned() }
}

fn lines_at(sim: &Sim, origin: &str) -> Vec<String> {
    sim.seen_at(origin).iter().map(|s| s.line()).collect()
}

// ---------------------------------------------------------------------------
// Authentication.

/// A client with no credentials sends its first call without a ping: the
/// call's own answer says what the ping would (the scheme, the challenge),
/// and a registry that needs no token answers it at once.
#[test]
fn an_anonymous_first_call_stands_in_for_the_ping() {
    let mut sim = Sim::default();
    let (_, image) = registry(&mut sim, Auth::Anonymous);
    let out = sim.run(inspect_raw(json!({}))).unwrap();
    assert_eq!(out.as_bytes(), image.manifest.as_slice());
    assert_eq!(lines_at(&sim, REG), ["GET /v2/app/manifests/v1"], "no ping");

    // A registry that wants a token: the refusal carries the challenge,
    // and the call goes again with the token.
    let mut sim = Sim::default();
    registry(&mut sim, bearer());
    sim.host(AUTH, TokenServer::default());
    let out = sim.run(inspect_raw(json!({}))).unwrap();
    assert_eq!(out.as_bytes(), image.manifest.as_slice());
    let seen: Vec<_> = sim.seen_at(REG).iter().map(|s| (s.line(), s.status, s.authorization().is_some())).collect();
    let get = "GET /v2/app/manifests/v1".to_owned();
    assert_eq!(seen, [(get.clone(), 401, false), (get, 200, true)]);
    assert_eq!(sim.seen_at(AUTH).len(), 1);

    // Basic only, and no credentials to give: the refusal is the answer.
    let mut sim = Sim::default();
    registry(&mut sim, Auth::Basic { user: "u".into(), pass: "p".into() });
    let e = sim.run(inspect_raw(json!({}))).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized, "{e}");
    assert_eq!(lines_at(&sim, REG), ["GET /v2/app/manifests/v1"], "asked once");

    // Plain HTTP allowed: over both schemes at once, the HTTP answer taken
    // when HTTPS fails.
    let mut sim = Sim::default();
    let image = Image::new("http", &[10]);
    let mut r = Registry::default();
    r.push("app", "v1", &image);
    sim.host("http://reg.test", r);
    let out = sim.run(inspect_raw(json!({"registry": {"tls_verify": false}}))).unwrap();
    assert_eq!(out.as_bytes(), image.manifest.as_slice());
    assert_eq!(sim.lines(), ["https://reg.test GET /v2/app/manifests/v1", "http://reg.test GET /v2/app/manifests/v1"]);

    // A registry that is not there: reported as skopeo reports a failed ping.
    let mut sim = Sim::default();
    let e = sim.run(inspect_raw(json!({}))).unwrap_err();
    assert!(e.message.starts_with("pinging container registry reg.test: "), "{e}");
}

#[test]
fn anonymous_registry_gets_no_authorization() {
    let mut sim = Sim::default();
    let (_, image) = registry(&mut sim, Auth::Anonymous);
    let out = sim.run(inspect_raw(json!({"registry": creds("u", "p")}))).unwrap();
    assert_eq!(out.as_bytes(), image.manifest.as_slice());
    assert_eq!(lines_at(&sim, REG), ["GET /v2/", "GET /v2/app/manifests/v1"]);
    assert!(sim.log.iter().all(|s| s.authorization().is_none()), "no challenge, no credentials");
    let accept = sim.log[1].header("accept").unwrap();
    assert!(accept.starts_with("application/vnd.docker.distribution.manifest.v2+json, "), "{accept}");
    assert!(accept.contains("application/vnd.oci.image.index.v1+json"));
}

#[test]
fn basic_challenge_sends_credentials_to_the_registry() {
    struct Case {
        creds: Option<(&'static str, &'static str)>,
        ok: bool,
    }
    let cases = [
        Case { creds: Some(("alice", "pw")), ok: true },
        Case { creds: Some(("alice", "wrong")), ok: false },
        Case { creds: None, ok: false },
    ];
    for c in cases {
        let mut sim = Sim::default();
        registry(&mut sim, Auth::Basic { user: "alice".into(), pass: "pw".into() });
        let opts = c.creds.map(|(u, p)| json!({"registry": creds(u, p)})).unwrap_or(json!({}));
        let result = sim.run(inspect_raw(opts));
        assert_eq!(result.is_ok(), c.ok, "{:?}: {result:?}", c.creds);
        let manifest_get = sim.log.last().unwrap();
        assert_eq!(manifest_get.line(), "GET /v2/app/manifests/v1");
        assert_eq!(manifest_get.authorization().map(str::to_owned), c.creds.map(|(u, p)| basic(u, p)));
        if c.creds.is_some() {
            assert_eq!(lines_at(&sim, REG), ["GET /v2/", "GET /v2/app/manifests/v1"]);
            assert_eq!(sim.log[0].authorization(), None, "the ping goes without");
        } else {
            assert_eq!(lines_at(&sim, REG), ["GET /v2/app/manifests/v1"], "nothing to send: no ping");
        }
        if !c.ok {
            let e = result.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Unauthorized, "{e}");
            assert!(
                e.message.contains("reading manifest v1 in reg.test/app: unauthorized: authentication required"),
                "{e}"
            );
        }
    }
}

#[test]
fn bearer_tokens_anonymous_and_credentialed() {
    struct Case {
        name: &'static str,
        user: Option<(&'static str, &'static str)>,
        anonymous_pull: bool,
        expect: Result<(), ErrorKind>,
        /// The token request's query, and whether it carried Basic credentials.
        token_query: &'static str,
        token_basic: bool,
        /// Token requests: a second after a token the registry refuses.
        tokens: usize,
    }
    let cases = [
        Case {
            name: "anonymous",
            user: None,
            anonymous_pull: true,
            expect: Ok(()),
            token_query: "service=reg.test&scope=repository%3Aapp%3Apull",
            token_basic: false,
            tokens: 1,
        },
        Case {
            name: "credentialed",
            user: Some(("bob", "pw")),
            anonymous_pull: false,
            expect: Ok(()),
            token_query: "service=reg.test&scope=repository%3Aapp%3Apull&account=bob",
            token_basic: true,
            tokens: 1,
        },
        Case {
            name: "wrong password",
            user: Some(("bob", "nope")),
            anonymous_pull: false,
            expect: Err(ErrorKind::Unauthorized),
            token_query: "service=reg.test&scope=repository%3Aapp%3Apull&account=bob",
            token_basic: true,
            tokens: 1,
        },
        Case {
            name: "anonymous, but pulls need an account",
            user: None,
            anonymous_pull: false,
            expect: Err(ErrorKind::Unauthorized),
            token_query: "service=reg.test&scope=repository%3Aapp%3Apull",
            token_basic: false,
            tokens: 2,
        },
    ];
    for c in cases {
        let mut sim = Sim::default();
        registry(&mut sim, bearer());
        sim.host(
            AUTH,
            TokenServer {
                user: Some(("bob".into(), "pw".into())),
                anonymous_pull: c.anonymous_pull,
                ..Default::default()
            },
        );
        let opts = c.user.map(|(u, p)| json!({"registry": creds(u, p)})).unwrap_or(json!({}));
        let result = sim.run(inspect_raw(opts));
        assert_eq!(result.as_ref().map(|_| ()).map_err(|e| e.kind), c.expect, "{}: {result:?}", c.name);
        let token_reqs = sim.seen_at(AUTH);
        assert_eq!(token_reqs.len(), c.tokens, "{}: token requests", c.name);
        assert_eq!(token_reqs[0].line(), format!("GET /token?{}", c.token_query), "{}", c.name);
        assert_eq!(token_reqs[0].authorization() == Some(&basic("bob", c.user.map_or("", |u| u.1))), c.token_basic);
        let reg = sim.seen_at(REG);
        assert_eq!(reg[0].authorization(), None, "{}: the ping goes without", c.name);
        if c.expect.is_ok() {
            let a = reg[1].authorization().unwrap();
            let token = SimToken::parse(a.strip_prefix("Bearer ").unwrap()).unwrap();
            assert_eq!(token.scopes, ["repository:app:pull"], "{}", c.name);
        }
    }
}

#[test]
fn registry_token_is_used_as_is() {
    let mut sim = Sim::default();
    registry(&mut sim, bearer());
    sim.host(AUTH, TokenServer::default());
    let result = sim.run(inspect_raw(json!({"registry": {"registry_token": "1.99999999999999.repository:app:pull"}})));
    assert!(result.is_ok(), "{result:?}");
    assert!(sim.seen_at(AUTH).is_empty(), "no token exchange");
    assert_eq!(sim.log[1].authorization(), Some("Bearer 1.99999999999999.repository:app:pull"));
}

#[test]
fn token_realm_over_plain_http_never_sees_credentials() {
    let mut sim = Sim::default();
    registry(&mut sim, Auth::Bearer { realm: "http://auth.test/token".into(), service: "reg.test".into() });
    sim.host("http://auth.test", TokenServer::default());
    let e = sim.run(inspect_raw(json!({"registry": creds("bob", "pw")}))).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert!(e.message.contains("refusing to send credentials for reg.test to token realm http://auth.test"), "{e}");
    assert!(sim.seen_at("http://auth.test").is_empty());
}

#[test]
fn a_plain_http_realm_on_another_port_of_the_registry_host_is_another_origin() {
    // A plain-HTTP registry whose token service is plain HTTP on another port.
    let mut sim = Sim::default();
    let image = Image::new("app", &[300]);
    let mut r =
        Registry::with_auth(Auth::Bearer { realm: "http://reg.test:5001/token".into(), service: "reg.test".into() });
    r.push("app", "v1", &image);
    sim.host("http://reg.test:5000", r);
    sim.host("http://reg.test:5001", TokenServer::default());
    let job = json!({"command": "inspect", "image": "docker://reg.test:5000/app:v1", "raw": true,
        "side": {"registry": {"tls_verify": false, "credentials": {"username": "bob", "password": "pw"}}}});
    let e = sim.run(job).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert!(e.message.contains("refusing to send credentials"), "{e}");
    assert!(sim.seen_at("http://reg.test:5001").is_empty(), "nothing went to the other port");
}

#[test]
fn token_expiry_mid_command() {
    // Each exchange takes 20 s of virtual time, so the client learns the time
    // one exchange late; the registry allows for that much clock skew. A
    // 60 s token then serves three requests and is renewed before the fourth.
    struct Case {
        expires_in: Option<u64>,
        issued_at: bool,
        tokens: usize,
    }
    let cases = [
        Case { expires_in: Some(60), issued_at: false, tokens: 2 },
        Case { expires_in: None, issued_at: false, tokens: 2 },
        Case { expires_in: Some(1), issued_at: true, tokens: 2 },
        Case { expires_in: Some(3600), issued_at: true, tokens: 1 },
    ];
    for c in cases {
        let mut sim = Sim::default();
        sim.latency_ms = 20_000;
        let mut r = Registry::with_auth(bearer());
        r.tags("app", &["a", "b", "c", "d", "e", "f"]);
        r.tags_page = Some(1);
        r.token_leeway_ms = 30_000;
        sim.host(REG, r);
        sim.host(AUTH, TokenServer { expires_in: c.expires_in, issued_at: c.issued_at, ..Default::default() });
        let out = sim.run(list_tags(json!({}))).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["Tags"], json!(["a", "b", "c", "d", "e", "f"]));
        assert_eq!(sim.seen_at(AUTH).len(), c.tokens, "expires_in {:?}: {:#?}", c.expires_in, sim.lines());
        // Never a refused request: the token was renewed before it expired on the registry.
        assert!(sim.seen_at(REG).iter().skip(1).all(|s| s.status == 200), "{:#?}", sim.lines());
    }
}

#[test]
fn a_401_after_a_token_fetches_a_fresh_one_once() {
    for (revoked_below, ok, tokens) in [(2, true, 2), (100, false, 2)] {
        let mut sim = Sim::default();
        let (reg, _) = registry(&mut sim, bearer());
        reg.borrow_mut().revoked_below = revoked_below;
        sim.host(AUTH, TokenServer::default());
        let result = sim.run(inspect_raw(json!({})));
        assert_eq!(result.is_ok(), ok, "{result:?}");
        assert_eq!(sim.seen_at(AUTH).len(), tokens, "{:#?}", sim.lines());
        let mut gets: Vec<_> =
            sim.seen_at(REG).into_iter().filter(|s| s.line() == "GET /v2/app/manifests/v1").collect();
        let first = gets.remove(0);
        assert_eq!((first.authorization(), first.status), (None, 401), "the first stands in for the ping");
        assert_eq!(gets.len(), 2, "retried once");
        assert_ne!(gets[0].authorization(), gets[1].authorization(), "with the fresh token");
        if !ok {
            assert_eq!(result.unwrap_err().kind, ErrorKind::Unauthorized);
        }
    }
}

// ---------------------------------------------------------------------------
// Retries.

#[test]
fn too_many_requests_waits_as_retry_after_says() {
    let now = Sim::default().now_ms;
    struct Case {
        retry_after: Option<String>,
        /// The waits asked for, in ms.
        waits: Vec<u64>,
    }
    let cases = [
        Case { retry_after: Some("3".into()), waits: vec![3000] },
        Case { retry_after: Some("0".into()), waits: vec![0] },
        Case { retry_after: Some(http_date(now + 7000)), waits: vec![7000] },
        Case { retry_after: Some(http_date(now - 7000)), waits: vec![1000] },
        Case { retry_after: Some("-5".into()), waits: vec![1000] },
        Case { retry_after: Some("soon, maybe".into()), waits: vec![1000] },
        Case { retry_after: Some("99999999999999999999".into()), waits: vec![60_000] },
        Case { retry_after: Some("86400".into()), waits: vec![60_000] },
        Case { retry_after: None, waits: vec![1000] },
    ];
    for c in cases {
        let mut sim = Sim::default();
        let (reg, _) = registry(&mut sim, Auth::Anonymous);
        let ra = c.retry_after.clone();
        reg.borrow_mut().script(
            1,
            |r| r.path() == "/v2/app/manifests/v1",
            move |_| {
                let resp = Resp::error(429, "TOOMANYREQUESTS", "slow down");
                match &ra {
                    Some(v) => resp.header("Retry-After", v.clone()),
                    None => resp,
                }
            },
        );
        let result = sim.run(inspect_raw(json!({})));
        assert!(result.is_ok(), "{:?}: {result:?}", c.retry_after);
        assert_eq!(sim.waits, c.waits, "Retry-After {:?}", c.retry_after);
    }
}

#[test]
fn too_many_requests_gives_up_after_five_tries() {
    for (retry_times, tries) in [(0, 5), (2, 5), (7, 8)] {
        let mut sim = Sim::default();
        let (reg, _) = registry(&mut sim, Auth::Anonymous);
        reg.borrow_mut().script(
            100,
            |r| r.path() == "/v2/app/manifests/v1",
            |_| Resp::error(429, "TOOMANYREQUESTS", "slow down").header("Retry-After", "2"),
        );
        let e = sim.run(inspect_raw(json!({"registry": {"retry_times": retry_times}}))).unwrap_err();
        assert!(e.message.contains("toomanyrequests: slow down"), "{e}");
        assert_eq!(lines_at(&sim, REG), vec!["GET /v2/app/manifests/v1"; tries], "retry_times {retry_times}");
        assert_eq!(sim.waits, vec![2000; tries - 1]);
    }
}

#[test]
fn gateway_errors_retry_only_with_retry_times() {
    for status in [502, 503, 504] {
        for (retry_times, delay, ok, waits) in
            [(0, None, false, vec![]), (2, None, true, vec![1000, 2000]), (3, Some(250), true, vec![250, 250])]
        {
            let mut sim = Sim::default();
            let (reg, _) = registry(&mut sim, Auth::Anonymous);
            reg.borrow_mut().script(2, |r| r.path() == "/v2/app/manifests/v1", move |_| Resp::status(status));
            let mut opts = json!({"retry_times": retry_times});
            if let Some(d) = delay {
                opts["retry_delay_ms"] = json!(d);
            }
            let result = sim.run(inspect_raw(json!({"registry": opts})));
            assert_eq!(result.is_ok(), ok, "{status} retry_times {retry_times}: {result:?}");
            assert_eq!(sim.waits, waits, "{status} retry_times {retry_times}");
            if !ok {
                let e = result.unwrap_err();
                assert!(e.message.ends_with(&format!("unexpected status {status}")), "{e}");
            }
        }
    }
}

#[test]
fn connection_failures_retry_but_tls_failures_do_not() {
    for (kind, tries) in [(IoErrorKind::Connect, 3), (IoErrorKind::Timeout, 3), (IoErrorKind::Tls, 1)] {
        let mut sim = Sim::default();
        let (reg, _) = registry(&mut sim, Auth::Anonymous);
        reg.borrow_mut().script(10, |r| r.path() == "/v2/app/manifests/v1", move |_| Resp::failure(kind));
        let e = sim.run(inspect_raw(json!({"registry": {"retry_times": 2}}))).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Io, "{kind:?}: {e}");
        assert_eq!(lines_at(&sim, REG), vec!["GET /v2/app/manifests/v1"; tries], "{kind:?}");
    }
}

#[test]
fn a_closed_kept_alive_connection_resends_a_get_once_and_nothing_else() {
    // A GET is sent again at once, without --retry-times, a bounded number of times.
    for (closes, ok) in [(1, true), (16, true), (17, false)] {
        let mut sim = Sim::default();
        let (reg, _) = registry(&mut sim, Auth::Anonymous);
        reg.borrow_mut().script(closes, |r| r.path() == "/v2/app/manifests/v1", |_| Resp::failure(IoErrorKind::Closed));
        let result = sim.run(inspect_raw(json!({})));
        assert_eq!(result.is_ok(), ok, "{closes} closes: {result:?}");
        let sent = closes.min(16) + 1;
        assert_eq!(lines_at(&sim, REG).iter().filter(|l| l.ends_with("/manifests/v1")).count(), sent);
        assert_eq!(sim.waits, vec![0; sent - 1], "sent again at once");
    }
    // A PUT is not replayable: the copy fails on the first close.
    let mut sim = Sim::default();
    let (_, dst, _) = two_registries(&mut sim, &[300]);
    dst.borrow_mut().script(
        1,
        |r| r.method == "PUT" && r.path() == "/v2/app/manifests/v1",
        |_| Resp::failure(IoErrorKind::Closed),
    );
    let e = sim.run(copy(dest_creds())).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io, "{e}");
    assert_eq!(lines_at(&sim, DST).iter().filter(|l| l.as_str() == "PUT /v2/app/manifests/v1").count(), 1);
}

// ---------------------------------------------------------------------------
// Redirects.

#[test]
fn redirects_keep_credentials_at_home() {
    struct Case {
        name: &'static str,
        location: &'static str,
        /// Whether the redirected request carries Authorization.
        authorized: bool,
    }
    let cases = [
        Case { name: "same origin, path", location: "/v2/app/manifests/v1?moved=1", authorized: true },
        Case {
            name: "same origin, absolute",
            location: "https://reg.test:443/v2/app/manifests/v1?moved=1",
            authorized: true,
        },
        Case { name: "other host", location: "https://mirror.test/v2/app/manifests/v1?moved=1", authorized: false },
        Case { name: "other port", location: "https://reg.test:8443/v2/app/manifests/v1?moved=1", authorized: false },
        Case { name: "other scheme", location: "http://reg.test/v2/app/manifests/v1?moved=1", authorized: false },
    ];
    for c in cases {
        let mut sim = Sim::default();
        let (reg, image) = registry(&mut sim, Auth::Basic { user: "u".into(), pass: "p".into() });
        let location = c.location;
        reg.borrow_mut().script(
            1,
            |r| r.query("moved").is_none() && r.path().contains("/manifests/"),
            move |_| Resp::redirect(307, location),
        );
        // Whoever serves the target answers from the same store, credentials or not.
        let target =
            url::Url::parse(c.location).unwrap_or_else(|_| url::Url::parse(REG).unwrap().join(c.location).unwrap());
        let origin = target.origin().ascii_serialization();
        let manifest = image.manifest.clone();
        if origin != REG {
            sim.host(&origin, move |_: &Req, _| {
                Resp::status(200).header("Content-Type", MT_V2S2).body(manifest.clone())
            });
        }
        let out = sim.run(inspect_raw(json!({"registry": creds("u", "p")}))).unwrap();
        assert_eq!(out.as_bytes(), image.manifest.as_slice(), "{}", c.name);
        let last = sim.log.last().unwrap();
        assert_eq!(last.origin(), origin, "{}", c.name);
        assert_eq!(last.authorization().is_some(), c.authorized, "{}: {:?}", c.name, last);
    }
}

#[test]
fn redirect_loops_and_bad_locations_are_clean_errors() {
    type Answer = Box<dyn Fn(&Req) -> Resp>;
    let cases: [(&str, Answer, &str); 4] = [
        ("loop", Box::new(|_| Resp::redirect(302, "/v2/app/manifests/v1")), "too many redirects"),
        ("no location", Box::new(|_| Resp::status(301)), "redirected without a Location"),
        (
            "ftp",
            Box::new(|_| Resp::redirect(302, "ftp://reg.test/x")),
            "redirected to an invalid location \"ftp://reg.test/x\"",
        ),
        ("userinfo", Box::new(|_| Resp::redirect(302, "https://u:p@evil.test/x")), "invalid location"),
    ];
    for (name, answer, message) in cases {
        let mut sim = Sim::default();
        let (reg, _) = registry(&mut sim, Auth::Anonymous);
        reg.borrow_mut().script(1000, |r| r.path().contains("/manifests/"), answer);
        let e = sim.run(inspect_raw(json!({}))).unwrap_err();
        assert!(e.message.contains(message), "{name}: {e}");
        assert!(e.message.contains("https://reg.test/v2/app/manifests/v1"), "{name}: names the request: {e}");
        let gets = sim.seen_at(REG).len() - 1;
        assert_eq!(gets, if name == "loop" { 11 } else { 1 }, "{name}");
    }
}

// ---------------------------------------------------------------------------
// Tag lists.

#[test]
fn tag_list_pagination() {
    let mut sim = Sim::default();
    let mut r = Registry::default();
    r.tags("app", &["a", "b", "c", "d", "e"]);
    r.tags_page = Some(2);
    sim.host(REG, r);
    let out = sim.run(list_tags(json!({}))).unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v, json!({"Repository": "reg.test/app", "Tags": ["a", "b", "c", "d", "e"]}));
    assert_eq!(
        lines_at(&sim, REG),
        ["GET /v2/app/tags/list", "GET /v2/app/tags/list?n=2&last=b", "GET /v2/app/tags/list?n=2&last=d"],
        "the first page stands in for the ping"
    );
}

#[test]
fn tag_list_links_that_loop_or_leave_are_refused() {
    let cases = [
        ("loop", "</v2/app/tags/list?page=1>; rel=\"next\"", "pagination links loop"),
        ("other host", "<https://evil.test/v2/app/tags/list>; rel=\"next\"", "pagination link leaves the registry"),
        ("other scheme", "<http://reg.test/v2/app/tags/list?x>; rel=\"next\"", "pagination link leaves the registry"),
        ("invalid", "<ftp://reg.test/x>; rel=\"next\"", "pagination link leaves the registry"),
    ];
    for (name, link, message) in cases {
        let mut sim = Sim::default();
        let (reg, _) = registry(&mut sim, Auth::Basic { user: "u".into(), pass: "p".into() });
        reg.borrow_mut().script(
            100,
            |r| r.path().ends_with("/tags/list"),
            move |_| Resp::status(200).json(json!({"name": "app", "tags": ["x"]})).header("Link", link),
        );
        sim.host("https://evil.test", |_: &Req, _| Resp::status(200).json(json!({"tags": ["evil"]})));
        let e = sim.run(list_tags(json!({"registry": creds("u", "p")}))).unwrap_err();
        assert!(e.message.contains(message), "{name}: {e}");
        assert!(sim.seen_at("https://evil.test").is_empty(), "{name}");
        assert!(sim.seen_at(REG).len() <= 4, "{name}: {:?}", sim.lines());
    }
}

/// Item 15: a registry whose every page links to a new one (no loop to
/// spot) is followed only so far: the listing fails after a bounded number
/// of pages, long before the simulation's step limit.
#[test]
fn an_endless_chain_of_tag_pages_is_cut_off() {
    let mut sim = Sim::default();
    let (reg, _) = registry(&mut sim, Auth::Anonymous);
    reg.borrow_mut().script(
        100_000,
        |r| r.path().ends_with("/tags/list"),
        |r| {
            let page: u64 = r.query("page").and_then(|p| p.parse().ok()).unwrap_or(0);
            Resp::status(200)
                .json(json!({"name": "app", "tags": [format!("t{page}")]}))
                .header("Link", format!("</v2/app/tags/list?page={}>; rel=\"next\"", page + 1))
        },
    );
    let e = sim.run(list_tags(json!({}))).unwrap_err();
    assert!(e.message.contains("pages"), "{e}");
    let pages = sim.seen_at(REG).iter().filter(|s| s.line().contains("/tags/list")).count();
    assert!((2..=1001).contains(&pages), "{pages} pages fetched");
}

// ---------------------------------------------------------------------------
// Error envelopes.

#[test]
fn error_envelopes_become_errors_of_the_right_kind() {
    let big = "x".repeat(5 << 20);
    let cases: Vec<(Resp, ErrorKind, &str)> = vec![
        (
            Resp::error(401, "UNAUTHORIZED", "authentication required"),
            ErrorKind::Unauthorized,
            "unauthorized: authentication required",
        ),
        (
            Resp::error(403, "DENIED", "requested access to the resource is denied"),
            ErrorKind::Unauthorized,
            "denied: requested access to the resource is denied",
        ),
        (
            Resp::error(404, "NAME_UNKNOWN", "repository name not known to registry"),
            ErrorKind::NotFound,
            "name unknown: repository name not known to registry",
        ),
        (
            Resp::error(404, "MANIFEST_UNKNOWN", "manifest unknown"),
            ErrorKind::NotFound,
            "manifest unknown: manifest unknown",
        ),
        (Resp::error(400, "DENIED", "no"), ErrorKind::Unauthorized, "denied: no"),
        (Resp::error(429, "TOOMANYREQUESTS", "rate limited"), ErrorKind::Other, "toomanyrequests: rate limited"),
        (
            Resp::status(404).body("<html>not here</html>"),
            ErrorKind::NotFound,
            "reading manifest v1 in reg.test/app: not found",
        ),
        (Resp::status(500).body("{\"errors\": [{\"code\": 7}"), ErrorKind::Other, "unexpected status 500"),
        (
            Resp::status(500).json(json!({"errors": [{"code": "X", "message": "a\u{1b}[31mred"}]})),
            ErrorKind::Other,
            "x: a [31mred",
        ),
        (Resp::status(404).body(big.clone()), ErrorKind::Integrity, "manifest is too large"),
        (Resp::status(200).header("Content-Type", MT_V2S2).body(big), ErrorKind::Integrity, "manifest is too large"),
    ];
    for (answer, kind, message) in cases {
        let mut sim = Sim::default();
        let (reg, _) = registry(&mut sim, Auth::Anonymous);
        let status = answer.status;
        reg.borrow_mut().script(100, |r| r.path().contains("/manifests/"), move |_| answer.clone());
        let e = sim.run(inspect_raw(json!({}))).unwrap_err();
        assert_eq!(e.kind, kind, "{status} {message}: {e}");
        assert!(e.message.contains(message), "{status}: {e}");
        assert!(e.message.len() < 2000, "a hostile body stays short");
    }
}

#[test]
fn delete_outcomes() {
    struct Case {
        deletes: bool,
        image: &'static str,
        ok: bool,
        kind: Option<ErrorKind>,
    }
    let cases = [
        Case { deletes: true, image: "docker://reg.test/app:v1", ok: true, kind: None },
        Case { deletes: false, image: "docker://reg.test/app:v1", ok: false, kind: Some(ErrorKind::Unsupported) },
        Case { deletes: true, image: "docker://reg.test/app:nope", ok: false, kind: Some(ErrorKind::NotFound) },
    ];
    for c in cases {
        let mut sim = Sim::default();
        let (reg, image) = registry(&mut sim, Auth::Anonymous);
        reg.borrow_mut().deletes = c.deletes;
        let result = sim.run(json!({"command": "delete", "image": c.image}));
        assert_eq!(result.is_ok(), c.ok, "{result:?}");
        assert_eq!(result.err().map(|e| e.kind), c.kind);
        if c.ok {
            assert_eq!(
                lines_at(&sim, REG),
                ["GET /v2/app/manifests/v1".to_owned(), format!("DELETE /v2/app/manifests/{}", image.digest())]
            );
            assert!(reg.borrow().repos["app"].tags.is_empty());
        }
    }
}

// ---------------------------------------------------------------------------
// Copies: pulls and pushes.

/// `REG` (bearer, anonymous pulls) holding `app:v1`, and `DST` (Basic) empty.
fn two_registries(sim: &mut Sim, layers: &[usize]) -> (Rc<RefCell<Registry>>, Rc<RefCell<Registry>>, Image) {
    let image = Image::new("copy", layers);
    let mut src = Registry::with_auth(bearer());
    src.push("app", "v1", &image);
    let src = sim.host(REG, src);
    sim.host(AUTH, TokenServer::default());
    let dst = sim.host(DST, Registry::with_auth(Auth::Basic { user: "d".into(), pass: "dpw".into() }));
    (src, dst, image)
}

fn dest_creds() -> Value {
    json!({"dest": {"registry": creds("d", "dpw")}})
}

#[test]
fn copy_between_registries() {
    let mut sim = Sim::default();
    let (_, dst, image) = two_registries(&mut sim, &[300, 500]);
    let out = sim.run(copy(dest_creds())).unwrap();
    assert_eq!(out, "");
    let d = dst.borrow();
    assert_eq!(d.repos["app"].tags["v1"], image.digest(), "the manifest is stored under its tag, bytes unchanged");
    assert_eq!(d.repos["app"].manifests[&image.digest()].0, image.manifest);
    for b in std::iter::once(&image.config).chain(&image.layers) {
        assert_eq!(d.blobs.get(&sha256(b)), Some(b), "every blob arrived intact");
    }
    // Each registry saw only its own credentials.
    for s in &sim.log {
        match s.origin().as_str() {
            REG => assert!(s.authorization().is_none_or(|a| a.starts_with("Bearer ")), "{s:?}"),
            AUTH => assert_eq!(s.authorization(), None),
            DST => assert!(s.authorization().is_none_or(|a| a == basic("d", "dpw")), "{s:?}"),
            other => panic!("unexpected origin {other}"),
        }
    }
    let dst_lines = lines_at(&sim, DST);
    assert_eq!(dst_lines[0], "GET /v2/");
    assert_eq!(dst_lines[1], "HEAD /v2/app/manifests/v1", "is the image there already?");
    assert_eq!(dst_lines.last().unwrap(), "PUT /v2/app/manifests/v1");
    for b in std::iter::once(&image.config).chain(&image.layers) {
        let digest = sha256(b);
        let mine: Vec<&String> = dst_lines.iter().filter(|l| l.contains(&digest[7..])).collect();
        assert_eq!(mine.len(), 2, "{digest}: {dst_lines:#?}");
        assert_eq!(mine[0], &format!("HEAD /v2/app/blobs/{digest}"));
        assert!(
            mine[1].starts_with("PUT /v2/app/blobs/uploads/")
                && mine[1].ends_with(&format!("digest={}", digest.replace(':', "%3A"))),
            "{}",
            mine[1]
        );
    }
    assert_eq!(dst_lines.iter().filter(|l| l.as_str() == "POST /v2/app/blobs/uploads/").count(), 3);
    // The uploads stream straight from the source registry.
    let streamed: Vec<_> = sim.log.iter().filter(|s| s.transfer && s.origin() == REG).collect();
    assert_eq!(streamed.len(), 3);
}

#[test]
fn copy_skips_blobs_and_images_already_there() {
    let mut sim = Sim::default();
    let (_, dst, image) = two_registries(&mut sim, &[300]);
    dst.borrow_mut().push("app", "v1", &image);
    sim.run(copy(dest_creds())).unwrap();
    assert_eq!(lines_at(&sim, DST), ["GET /v2/", "HEAD /v2/app/manifests/v1"]);
    assert!(sim.notes.iter().any(|n| n.contains("image already present")), "{:?}", sim.notes);

    let mut sim = Sim::default();
    let (_, dst, image) = two_registries(&mut sim, &[300]);
    dst.borrow_mut().push("app", "old", &image);
    sim.run(copy(dest_creds())).unwrap();
    let puts =
        lines_at(&sim, DST).into_iter().filter(|l| l.starts_with("PUT ") || l.starts_with("POST ")).collect::<Vec<_>>();
    assert_eq!(puts, ["PUT /v2/app/manifests/v1"], "the blobs were there: only the manifest is written");
}

#[test]
fn cross_repository_mounts() {
    for (mounts, mounted) in [(true, true), (false, false)] {
        let mut sim = Sim::default();
        let image = Image::new("mount", &[300]);
        let mut r = Registry::with_auth(Auth::Basic { user: "u".into(), pass: "p".into() });
        r.push("app", "v1", &image);
        r.mounts = mounts;
        let reg = sim.host(REG, r);
        let job = json!({
            "command": "copy", "source": "docker://reg.test/app:v1", "destination": "docker://reg.test/team/copy:v1",
            "policy": {"insecure": true}, "src": {"registry": creds("u", "p")}, "dest": {"registry": creds("u", "p")},
        });
        sim.run(job).unwrap();
        let lines = lines_at(&sim, REG);
        let layer = sha256(&image.layers[0]);
        let mount = format!("POST /v2/team/copy/blobs/uploads/?mount={}&from=app", layer.replace(':', "%3A"));
        assert!(lines.contains(&mount), "{lines:#?}");
        let uploads = lines.iter().filter(|l| l.starts_with("PUT /v2/team/copy/blobs/uploads/")).count();
        assert_eq!(uploads, if mounted { 0 } else { 2 }, "mounts {mounts}: {lines:#?}");
        assert!(reg.borrow().repos["team/copy"].blobs.contains(&layer));
        if mounted {
            assert!(sim.notes.iter().any(|n| n == &format!("Copying blob {layer}")), "{:?}", sim.notes);
        }
    }
}

#[test]
fn blob_redirects_to_a_cdn_go_without_credentials() {
    // Streamed to another registry (the destination client follows the
    // source's redirects), and pulled into a directory.
    for destination in ["docker://dst.test/app:v1", "dir:/out"] {
        let mut sim = Sim::default();
        let (src, _, image) = two_registries(&mut sim, &[300, 500]);
        src.borrow_mut().blob_redirect = Some(CDN.to_owned());
        sim.host(CDN, Cdn { registry: src.clone() });
        let mut job = copy(dest_creds());
        job["destination"] = json!(destination);
        sim.run(job).unwrap();
        let cdn = sim.seen_at(CDN);
        assert_eq!(cdn.len(), 3, "{destination}: config and two layers: {:#?}", sim.lines());
        assert!(cdn.iter().all(|s| s.authorization().is_none()), "{destination}: {cdn:#?}");
        let blob_gets: Vec<_> = sim.seen_at(REG).into_iter().filter(|s| s.line().contains("/blobs/")).collect();
        assert!(blob_gets.iter().all(|s| s.authorization().is_some_and(|a| a.starts_with("Bearer "))), "{destination}");
        if destination.starts_with("dir:") {
            for l in &image.layers {
                assert_eq!(sim.files.get(&format!("/out/{}", &sha256(l)[7..])), Some(l), "{destination}");
            }
        }
    }
}

/// Item 16: plain http on the registry's own host and a subdomain of it
/// are other origins: blob downloads sent there carry no credentials; and
/// a blob that redirects to itself forever is given up on.
#[test]
fn blob_redirects_to_the_hosts_other_origins_get_no_credentials_and_loops_end() {
    for other in ["http://reg.test", "https://cdn.reg.test"] {
        let mut sim = Sim::default();
        let (src, _, _) = two_registries(&mut sim, &[300]);
        src.borrow_mut().blob_redirect = Some(other.to_owned());
        sim.host(other, Cdn { registry: src.clone() });
        sim.run(copy(dest_creds())).unwrap();
        let hops = sim.seen_at(other);
        assert_eq!(hops.len(), 2, "{other}: config and layer: {:#?}", sim.lines());
        assert!(hops.iter().all(|s| s.authorization().is_none()), "{other}: {hops:#?}");
    }
    let mut sim = Sim::default();
    let (reg, image) = registry(&mut sim, Auth::Anonymous);
    let layer = sha256(&image.layers[0]);
    let path = format!("/v2/app/blobs/{layer}");
    let target = format!("{REG}{path}");
    reg.borrow_mut().script(
        1000,
        move |r| r.path() == path,
        move |_| Resp::status(302).header("Location", target.clone()),
    );
    let e = sim.run(copy_to_dir()).unwrap_err();
    assert!(e.message.contains("redirect"), "{e}");
    let gets = sim.seen_at(REG).iter().filter(|s| s.line().contains(&layer)).count();
    assert!(gets <= 11, "{gets} requests for the looping blob");
}

#[test]
fn a_redirect_back_home_gets_credentials_again() {
    // registry → cdn → registry: the last hop is the registry's own origin.
    let mut sim = Sim::default();
    let image = Image::new("home", &[300]);
    let mut r = Registry::with_auth(Auth::Basic { user: "u".into(), pass: "p".into() });
    r.push("app", "v1", &image);
    let layer = sha256(&image.layers[0]);
    let l = layer.clone();
    r.script(
        1,
        move |req| req.path().ends_with(&l) && req.query("back").is_none(),
        |req| Resp::redirect(307, &format!("{CDN}{}", req.path())),
    );
    sim.host(REG, r);
    sim.host(CDN, |req: &Req, _| Resp::redirect(302, &format!("{REG}{}?back=1", req.path())));
    let job = json!({
        "command": "copy", "source": "docker://reg.test/app:v1", "destination": "dir:/out",
        "policy": {"insecure": true}, "src": {"registry": creds("u", "p")},
    });
    sim.run(job).unwrap();
    let hops: Vec<_> = sim.log.iter().filter(|s| s.url.contains(&layer)).collect();
    assert_eq!(
        hops.iter().map(|s| (s.origin(), s.authorization().is_some())).collect::<Vec<_>>(),
        [(REG.to_owned(), true), (CDN.to_owned(), false), (REG.to_owned(), true)]
    );
    assert_eq!(sim.files.get(&format!("/out/{}", &layer[7..])), Some(&image.layers[0]));
}

#[test]
fn chunked_uploads_halve_on_413() {
    let mut sim = Sim::default();
    let (_, dst, image) = two_registries(&mut sim, &[300 << 10]);
    dst.borrow_mut().max_body = Some(100 << 10);
    sim.run(copy(dest_creds())).unwrap();
    let layer = &image.layers[0];
    assert_eq!(dst.borrow().blobs.get(&sha256(layer)), Some(layer), "assembled intact");
    let dst_log = sim.seen_at(DST);
    let hex = &sha256(layer)[7..];
    let sends: Vec<(String, Option<&str>, usize, u16)> = dst_log
        .iter()
        .filter(|s| s.method == "PATCH" || (s.method == "PUT" && s.url.contains(hex)))
        .map(|s| (s.method.clone(), s.header("content-range"), s.body_len, s.status))
        .collect();
    let k = 1024;
    assert_eq!(
        sends,
        [
            ("PUT".to_owned(), None, 300 * k, 413),
            ("PATCH".to_owned(), Some("0-307199"), 300 * k, 413),
            ("PATCH".to_owned(), Some("0-153599"), 150 * k, 413),
            ("PATCH".to_owned(), Some("0-76799"), 75 * k, 202),
            ("PATCH".to_owned(), Some("76800-153599"), 75 * k, 202),
            ("PATCH".to_owned(), Some("153600-230399"), 75 * k, 202),
            ("PATCH".to_owned(), Some("230400-307199"), 75 * k, 202),
            ("PUT".to_owned(), None, 0, 201),
        ],
        "{:#?}",
        sim.lines()
    );
    // Each chunk was a ranged read of the source registry.
    let ranges: Vec<_> = sim.seen_at(REG).into_iter().filter_map(|s| s.header("range").map(str::to_owned)).collect();
    assert_eq!(
        ranges,
        [
            "bytes=0-307199",
            "bytes=0-153599",
            "bytes=0-76799",
            "bytes=76800-153599",
            "bytes=153600-230399",
            "bytes=230400-307199"
        ]
    );
    // Each PATCH went to the Location the previous answer gave.
    let patches: Vec<_> =
        dst_log.iter().filter(|s| s.method == "PATCH" && s.status == 202).map(|s| s.url.clone()).collect();
    assert!(patches[1].contains("_state=p76800") && patches[3].contains("_state=p230400"), "{patches:#?}");
}

#[test]
fn chunked_uploads_give_up_below_the_smallest_chunk() {
    let mut sim = Sim::default();
    let (_, dst, _) = two_registries(&mut sim, &[300 << 10]);
    dst.borrow_mut().max_body = Some(1000);
    let e = sim.run(copy(dest_creds())).unwrap_err();
    assert!(e.message.contains("in chunks: size invalid: request entity too large"), "{e}");
    let smallest = sim.seen_at(DST).iter().filter(|s| s.method == "PATCH").map(|s| s.body_len).min().unwrap();
    assert_eq!(smallest, 75 << 10, "75 KiB halved would be under 64 KiB");
}

#[test]
fn chunked_uploads_from_a_local_directory_read_file_windows() {
    let mut sim = Sim::default();
    let image = Image::new("local", &[200 << 10]);
    sim.files.insert("/src/manifest.json".into(), image.manifest.clone());
    sim.files.insert("/src/version".into(), b"Directory Transport Version: 1.1\n".to_vec());
    for b in std::iter::once(&image.config).chain(&image.layers) {
        sim.files.insert(format!("/src/{}", &sha256(b)[7..]), b.clone());
    }
    let mut r = Registry::default();
    r.max_body = Some(120 << 10);
    let dst = sim.host(DST, r);
    let mut job = copy(json!({}));
    job["source"] = json!("dir:/src");
    sim.run(job).unwrap();
    let layer = &image.layers[0];
    assert_eq!(dst.borrow().blobs.get(&sha256(layer)), Some(layer));
    let patches: Vec<_> = sim
        .seen_at(DST)
        .into_iter()
        .filter(|s| s.method == "PATCH")
        .map(|s| (s.header("content-range").unwrap().to_owned(), s.status))
        .collect();
    assert_eq!(
        patches,
        [("0-204799".to_owned(), 413), ("0-102399".to_owned(), 202), ("102400-204799".to_owned(), 202)]
    );
}

#[test]
fn plain_http_fallback_only_without_tls_verification() {
    for (tls_verify, ok) in [(Some(false), true), (None, false)] {
        let mut sim = Sim::default();
        let image = Image::new("http", &[10]);
        let mut r = Registry::with_auth(Auth::Basic { user: "u".into(), pass: "p".into() });
        r.push("app", "v1", &image);
        sim.host("http://reg.test", r);
        let mut opts = creds("u", "p");
        if let Some(v) = tls_verify {
            opts["tls_verify"] = json!(v);
        }
        let result = sim.run(inspect_raw(json!({ "registry": opts })));
        assert_eq!(result.is_ok(), ok, "{result:?}");
        let lines = sim.lines();
        assert_eq!(lines[0], "https://reg.test GET /v2/", "HTTPS first");
        if ok {
            assert_eq!(lines[1..], ["http://reg.test GET /v2/", "http://reg.test GET /v2/app/manifests/v1"]);
            assert_eq!(sim.log[2].authorization(), Some(basic("u", "p").as_str()), "the registry's own origin");
        } else {
            let e = result.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Io);
            assert!(e.message.starts_with("pinging container registry reg.test: "), "{e}");
        }
    }
}

#[test]
fn token_endpoint_failures() {
    let big = format!("{{\"token\":\"{}\"}}", "t".repeat(2 << 20));
    let cases: Vec<(Resp, ErrorKind, &str)> = vec![
        (Resp::status(500).body("oops"), ErrorKind::Other, "requesting bearer token: unexpected status 500"),
        (Resp::status(200).body("{not json"), ErrorKind::Other, "invalid token response"),
        (Resp::status(200).json(json!({"expires_in": 60})), ErrorKind::Other, "token response has no token"),
        (Resp::status(200).body(big), ErrorKind::Integrity, "requesting bearer token from https://auth.reg.test"),
        (
            Resp::error(403, "DENIED", "no such user"),
            ErrorKind::Unauthorized,
            "unable to retrieve auth token: invalid username/password: denied: no such user",
        ),
    ];
    for (answer, kind, message) in cases {
        let mut sim = Sim::default();
        registry(&mut sim, bearer());
        let a = answer.clone();
        sim.host(AUTH, move |_: &Req, _| a.clone());
        let e = sim.run(inspect_raw(json!({}))).unwrap_err();
        assert_eq!(e.kind, kind, "{message}: {e}");
        assert!(e.message.contains(message), "{e}");
    }
}

#[test]
fn token_endpoint_rate_limits_are_waited_out() {
    let mut sim = Sim::default();
    registry(&mut sim, bearer());
    let mut tokens = TokenServer::default();
    let mut refused = 0;
    sim.host(AUTH, move |req: &Req, now| {
        refused += 1;
        if refused <= 2 { Resp::status(429).header("Retry-After", "4") } else { tokens.serve(req, now) }
    });
    sim.run(inspect_raw(json!({}))).unwrap();
    assert_eq!(sim.waits, [4000, 4000]);
    assert_eq!(sim.seen_at(AUTH).len(), 3);
}

#[test]
fn bad_token_realms_are_refused() {
    for realm in ["/token", "ftp://auth.test/token", "https://u:p@auth.test/token", ""] {
        let mut sim = Sim::default();
        registry(&mut sim, Auth::Bearer { realm: realm.into(), service: "reg.test".into() });
        let e = sim.run(inspect_raw(json!({}))).unwrap_err();
        assert!(e.message.contains("registry reg.test gave an invalid token realm"), "{realm:?}: {e}");
        assert_eq!(sim.log.len(), 1, "{realm:?}: nothing but the ping");
    }
}

/// Issue 15, item 17: a registry naming a metadata service, this machine
/// or an unspecified address as its token realm gets no credentials sent
/// there: the command fails saying why, before any request goes to it.
#[test]
fn credentials_never_go_to_realms_at_internal_addresses() {
    for (realm, why) in [
        ("https://169.254.169.254/latest/token", "at a link-local address"),
        ("https://0.0.0.0/token", "at an unspecified address"),
        ("https://127.0.0.1:9/token", "at a loopback address that is not the registry's"),
    ] {
        let mut sim = Sim::default();
        registry(&mut sim, Auth::Bearer { realm: realm.into(), service: "reg.test".into() });
        let e = sim.run(inspect_raw(json!({"registry": creds("bob", "pw")}))).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthorized, "{realm}");
        assert!(e.message.contains("refusing to send credentials for reg.test to token realm"), "{e}");
        assert!(e.message.ends_with(why), "{realm}: {e}");
        assert!(
            sim.log.iter().all(|s| s.url.starts_with(REG)),
            "{realm}: only the registry was asked: {:#?}",
            sim.lines()
        );
    }
}

#[test]
fn copy_to_a_bearer_registry_with_credentials() {
    let mut sim = Sim::default();
    let image = Image::new("push", &[100]);
    let mut src = Registry::default();
    src.push("app", "v1", &image);
    sim.host(REG, src);
    let dst_auth = Auth::Bearer { realm: "https://auth.dst.test/token".into(), service: "dst.test".into() };
    let dst = sim.host(DST, Registry::with_auth(dst_auth));
    sim.host(
        "https://auth.dst.test",
        TokenServer { user: Some(("d".into(), "dpw".into())), anonymous_pull: false, ..Default::default() },
    );
    sim.run(copy(dest_creds())).unwrap();
    assert_eq!(dst.borrow().repos["app"].tags["v1"], image.digest());
    let token_reqs = sim.seen_at("https://auth.dst.test");
    assert_eq!(token_reqs.len(), 1, "one push token serves the whole copy: {:#?}", sim.lines());
    assert_eq!(token_reqs[0].line(), "GET /token?service=dst.test&scope=repository%3Aapp%3Apull%2Cpush&account=d");
    assert!(sim.seen_at(REG).iter().all(|s| s.authorization().is_none()), "the source is anonymous");
}

/// A token service that answers only the OAuth2 form (its `GET` is a 404):
/// the credentials go in a password grant, once, to the realm only; wrong
/// ones are the same clear error as a refused `GET`.
#[test]
fn a_token_service_of_the_oauth2_form_only_gets_a_password_grant() {
    for (password, expect) in [("dpw", Ok(())), ("nope", Err(ErrorKind::Unauthorized))] {
        let mut sim = Sim::default();
        let image = Image::new("push", &[100]);
        let mut src = Registry::default();
        src.push("app", "v1", &image);
        sim.host(REG, src);
        let dst_auth = Auth::Bearer { realm: "https://auth.dst.test/token".into(), service: "dst.test".into() };
        let dst = sim.host(DST, Registry::with_auth(dst_auth));
        let server = TokenServer {
            user: Some(("d".into(), "dpw".into())),
            anonymous_pull: false,
            oauth_only: true,
            ..Default::default()
        };
        sim.host("https://auth.dst.test", server);
        let r = sim.run(copy(json!({"dest": {"registry": creds("d", password)}})));
        let token_reqs = sim.seen_at("https://auth.dst.test");
        if expect.is_ok() {
            assert_eq!(token_reqs.len(), 2, "a GET, then the form, once for the copy: {:#?}", sim.lines());
        }
        assert_eq!(token_reqs[0].line(), "GET /token?service=dst.test&scope=repository%3Aapp%3Apull%2Cpush&account=d");
        assert_eq!(token_reqs[1].line(), "POST /token");
        let form = String::from_utf8(token_reqs[1].body.clone()).unwrap();
        assert_eq!(
            form,
            format!(
                "grant_type=password&username=d&password={password}&client_id=skiff&service=dst.test&scope=repository%3Aapp%3Apull%2Cpush"
            )
        );
        assert_eq!(token_reqs[1].header("content-type"), Some("application/x-www-form-urlencoded"));
        assert_eq!(token_reqs[1].authorization(), None, "the password is in the form only");
        assert!(sim.seen_at(DST).iter().all(|s| s.authorization().is_none_or(|a| a.starts_with("Bearer "))));
        match expect {
            Ok(()) => {
                r.unwrap();
                assert_eq!(dst.borrow().repos["app"].tags["v1"], image.digest());
            }
            Err(kind) => {
                let e = r.unwrap_err();
                assert_eq!(e.kind, kind);
                assert!(e.message.contains("invalid username/password"), "{}", e.message);
            }
        }
    }
}

#[test]
fn manifest_digest_mismatch_is_an_integrity_error() {
    let mut sim = Sim::default();
    let (reg, image) = registry(&mut sim, Auth::Anonymous);
    let manifest = image.manifest.clone();
    reg.borrow_mut().script(
        1,
        |r| r.path().contains("/manifests/"),
        move |_| {
            Resp::status(200)
                .header("Content-Type", MT_V2S2)
                .header("Docker-Content-Digest", sha256(b"something else"))
                .body(manifest.clone())
        },
    );
    let e = sim.run(inspect_raw(json!({}))).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    assert!(e.message.contains("registry's Docker-Content-Digest does not match the manifest"), "{e}");
}

#[test]
fn upload_sessions_elsewhere_get_no_credentials() {
    // The registry hands uploads to a storage service on another origin.
    let mut sim = Sim::default();
    let (_, dst, image) = two_registries(&mut sim, &[100]);
    let store = Rc::new(RefCell::new(Vec::<(String, usize)>::new()));
    let seen = store.clone();
    dst.borrow_mut().script(
        10,
        |r| r.method == "POST" && r.path().ends_with("/blobs/uploads/"),
        |_| Resp::status(202).header("Location", "https://uploads.test/session?id=7"),
    );
    sim.host("https://uploads.test", move |r: &Req, _| {
        seen.borrow_mut().push((r.query("digest").unwrap_or_default(), r.body.len()));
        Resp::status(201)
    });
    sim.run(copy(dest_creds())).unwrap();
    let uploads = sim.seen_at("https://uploads.test");
    assert_eq!(uploads.len(), 2, "config and layer");
    assert!(uploads.iter().all(|s| s.authorization().is_none()), "{uploads:#?}");
    assert!(uploads.iter().all(|s| s.line().starts_with("PUT /session?id=7&digest=sha256%3A")));
    let got: Vec<usize> = store.borrow().iter().map(|(_, n)| *n).collect();
    assert_eq!(got.iter().sum::<usize>(), image.config.len() + image.layers[0].len());
    assert!(sim.seen_at(DST).iter().skip(1).all(|s| s.authorization() == Some(basic("d", "dpw").as_str())));
}

/// Item 18: an upload session handed to plain `http://` on the
/// registry's own host is another origin (the scheme differs): its PUTs
/// carry no credentials, which would otherwise cross the network in clear.
#[test]
fn an_upload_session_on_plain_http_gets_no_credentials() {
    let mut sim = Sim::default();
    let (_, dst, _) = two_registries(&mut sim, &[100]);
    dst.borrow_mut().script(
        10,
        |r| r.method == "POST" && r.path().ends_with("/blobs/uploads/"),
        |_| Resp::status(202).header("Location", "http://dst.test/upload?id=1"),
    );
    sim.host("http://dst.test", |_: &Req, _| Resp::status(201));
    let result = sim.run(copy(dest_creds()));
    let plain = sim.seen_at("http://dst.test");
    // Refusing the session is as safe as uploading there without credentials.
    assert!(result.is_err() || !plain.is_empty(), "{:#?}", sim.lines());
    assert!(plain.iter().all(|s| s.authorization().is_none()), "{plain:#?}");
}

#[test]
fn a_refused_blob_stream_is_retried_as_the_registry_asks() {
    for destination in ["dir:/out", "docker://dst.test/app:v1"] {
        let mut sim = Sim::default();
        let (src, _, image) = two_registries(&mut sim, &[100]);
        let layer = sha256(&image.layers[0]);
        src.borrow_mut().script(
            2,
            move |r| r.path().ends_with(&layer),
            |_| Resp::error(429, "TOOMANYREQUESTS", "slow down").header("Retry-After", "5"),
        );
        let mut job = copy(dest_creds());
        job["destination"] = json!(destination);
        sim.run(job).unwrap();
        assert_eq!(sim.waits, [5000, 5000], "{destination}");
    }
}

#[test]
fn a_registry_that_challenges_only_on_access() {
    // The ping is open; the repository asks for credentials.
    let mut sim = Sim::default();
    let (reg, image) = registry(&mut sim, Auth::Basic { user: "u".into(), pass: "p".into() });
    reg.borrow_mut().script(1, |r| r.path() == "/v2/", |_| Resp::status(200).json(json!({})));
    let out = sim.run(inspect_raw(json!({"registry": creds("u", "p")}))).unwrap();
    assert_eq!(out.as_bytes(), image.manifest.as_slice());
    let auths: Vec<_> = sim.log.iter().map(|s| (s.line(), s.authorization().is_some(), s.status)).collect();
    assert_eq!(
        auths,
        [
            ("GET /v2/".to_owned(), false, 200),
            ("GET /v2/app/manifests/v1".to_owned(), false, 401),
            ("GET /v2/app/manifests/v1".to_owned(), true, 200),
        ]
    );
}

/// Writes an auth file into the simulated file system; returns its path
/// (for `authfile`), which the core reads the way it reads a real one.
fn auth_file(sim: &mut Sim, entries: &[(&str, &str, &str)]) -> &'static str {
    let auths: serde_json::Map<String, Value> = entries
        .iter()
        .map(|(key, u, p)| ((*key).to_owned(), json!({"auth": basic(u, p).strip_prefix("Basic ").unwrap()})))
        .collect();
    let path = "/run/containers/auth.json";
    sim.files.insert(path.to_owned(), json!({ "auths": auths }).to_string().into_bytes());
    path
}

#[test]
fn auth_file_credentials_go_to_their_own_registry_only() {
    let mut sim = Sim::default();
    let image = Image::new("files", &[100]);
    let mut src = Registry::with_auth(Auth::Basic { user: "s".into(), pass: "spw".into() });
    src.push("app", "v1", &image);
    sim.host(REG, src);
    let dst = sim.host(DST, Registry::with_auth(Auth::Basic { user: "d".into(), pass: "dpw".into() }));
    let files = auth_file(&mut sim, &[("reg.test", "s", "spw"), ("dst.test", "d", "dpw"), ("other.test", "o", "opw")]);
    sim.run(copy(json!({"src": {"registry": {"authfile": files}}, "dest": {"registry": {"authfile": files}}})))
        .unwrap();
    assert_eq!(dst.borrow().repos["app"].tags["v1"], image.digest());
    for s in &sim.log {
        let expected = match s.origin().as_str() {
            REG => basic("s", "spw"),
            DST => basic("d", "dpw"),
            other => panic!("{other}"),
        };
        assert!(s.authorization().is_none_or(|a| a == expected), "{s:?}");
        assert!(s.line() == "GET /v2/" || s.authorization().is_some(), "{s:?}");
    }
}

#[test]
fn docker_hub_is_reached_at_its_api_host_with_its_credentials() {
    let mut sim = Sim::default();
    let image = Image::new("hub", &[10]);
    let mut hub = Registry::with_auth(Auth::Bearer {
        realm: "https://auth.docker.io/token".into(),
        service: "registry.docker.io".into(),
    });
    hub.push("library/busybox", "latest", &image);
    sim.host("https://registry-1.docker.io", hub);
    sim.host(
        "https://auth.docker.io",
        TokenServer { user: Some(("hubuser".into(), "hubpw".into())), ..Default::default() },
    );
    let files = auth_file(&mut sim, &[("https://index.docker.io/v1/", "hubuser", "hubpw")]);
    let job = json!({"command": "inspect", "image": "docker://busybox", "raw": true, "side": {"registry": {"authfile": files}}});
    let out = sim.run(job).unwrap();
    assert_eq!(out.as_bytes(), image.manifest.as_slice());
    assert_eq!(
        sim.lines(),
        [
            "https://registry-1.docker.io GET /v2/",
            "https://auth.docker.io GET /token?service=registry.docker.io&scope=repository%3Alibrary%2Fbusybox%3Apull&account=hubuser",
            "https://registry-1.docker.io GET /v2/library/busybox/manifests/latest",
        ]
    );
    assert_eq!(sim.log[1].authorization(), Some(basic("hubuser", "hubpw").as_str()));
}

#[test]
fn no_creds_means_anonymous() {
    let mut sim = Sim::default();
    registry(&mut sim, bearer());
    sim.host(AUTH, TokenServer::default());
    let files = auth_file(&mut sim, &[("reg.test", "s", "spw")]);
    sim.run(inspect_raw(json!({"registry": {"authfile": files, "no_creds": true}}))).unwrap();
    assert_eq!(sim.seen_at(AUTH)[0].authorization(), None);
    assert!(!sim.seen_at(AUTH)[0].url.contains("account="));
}

#[test]
fn token_endpoint_redirects_keep_credentials_at_the_realm() {
    for (location, authorized) in [("/token2", true), ("https://sso.test/token2", false)] {
        let mut sim = Sim::default();
        registry(&mut sim, bearer());
        let tokens =
            Rc::new(RefCell::new(TokenServer { user: Some(("bob".into(), "pw".into())), ..Default::default() }));
        let t = tokens.clone();
        let answer = move |req: &Req, now: u64| {
            if req.path() == "/token" {
                return Resp::redirect(307, &format!("{location}?{}", req.url.query().unwrap_or_default()));
            }
            // Wherever it lands, the token is granted as if asked at the realm.
            let mut r = req.clone();
            r.headers.push(("Authorization".into(), basic("bob", "pw")));
            t.borrow_mut().serve(&r, now)
        };
        let a = Rc::new(RefCell::new(answer));
        sim.shared(AUTH, &a);
        sim.shared("https://sso.test", &a);
        sim.run(inspect_raw(json!({"registry": creds("bob", "pw")}))).unwrap();
        let hops: Vec<_> = sim.log.iter().filter(|s| s.url.contains("/token")).collect();
        assert_eq!(hops.len(), 2, "{location}");
        assert_eq!(hops[0].authorization(), Some(basic("bob", "pw").as_str()));
        assert_eq!(hops[1].authorization().is_some(), authorized, "{location}");
    }
}

// ---------------------------------------------------------------------------
// The User-Agent.

#[test]
fn every_request_says_who_asks_with_the_users_prefix() {
    let mut sim = Sim::default();
    registry(&mut sim, bearer());
    sim.host(AUTH, TokenServer::default());
    sim.run(inspect_raw(json!({ "registry": {"user_agent_prefix": "ci-bot/1"} }))).unwrap();
    let expected = format!("ci-bot/1 skiff/{}", env!("CARGO_PKG_VERSION"));
    assert!(sim.log.len() >= 3, "the ping, the token and the manifest");
    for s in &sim.log {
        let ua: Vec<&str> =
            s.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("user-agent")).map(|(_, v)| v.as_str()).collect();
        assert_eq!(ua, [expected.as_str()], "{} {}", s.method, s.url);
    }
    let mut sim = Sim::default();
    registry(&mut sim, Auth::Anonymous);
    sim.run(inspect_raw(json!({}))).unwrap();
    let plain = format!("skiff/{}", env!("CARGO_PKG_VERSION"));
    assert!(sim.log.iter().all(|s| s.headers.iter().any(|(k, v)| k == "User-Agent" && *v == plain)));
}

// ---- hostile registries (issue 15, items 5, 14, 19, 21) ----

fn copy_to_dir() -> Value {
    json!({
        "command": "copy", "source": "docker://reg.test/app:v1", "destination": "dir:/out",
        "policy": {"insecure": true},
    })
}

/// Item 5: a 500 is an answer, not a hiccup: never retried, whatever
/// `--retry-times` says.
#[test]
fn a_500_is_not_retried() {
    let mut sim = Sim::default();
    let (reg, _) = registry(&mut sim, Auth::Anonymous);
    reg.borrow_mut().script(5, |r| r.path() == "/v2/app/manifests/v1", |_| Resp::status(500));
    let e = sim.run(inspect_raw(json!({"registry": {"retry_times": 3}}))).unwrap_err();
    assert!(e.message.ends_with("unexpected status 500"), "{e}");
    let gets = sim.log.iter().filter(|s| s.line().contains("/manifests/v1")).count();
    assert_eq!(gets, 1, "{:#?}", sim.lines());
    assert!(sim.waits.is_empty());
}

/// Item 14: digests that would build paths or URLs (`../`), empty, upper
/// case, short, unknown algorithms: the manifest is refused before any
/// blob is asked for or any file written.
#[test]
fn hostile_digests_in_a_manifest_build_no_url_and_no_path() {
    let hex = "a".repeat(64);
    for digest in [
        "sha256:../../x".to_owned(),
        "sha256:".to_owned(),
        format!("SHA256:{}", hex.to_uppercase()),
        format!("sha256:{}", &hex[..63]),
        "md5:0123456789abcdef0123456789abcdef".to_owned(),
        format!("sha256:{hex}/../.."),
    ] {
        // As a layer's digest, the config's, and an index entry's (item 14).
        for place in ["layer", "config", "index"] {
            let mut sim = Sim::default();
            let (reg, image) = registry(&mut sim, Auth::Anonymous);
            let mut m: Value = serde_json::from_slice(&image.manifest).unwrap();
            let (body, media_type) = match place {
                "layer" | "config" => {
                    match place {
                        "layer" => m["layers"][0]["digest"] = json!(digest),
                        _ => m["config"]["digest"] = json!(digest),
                    }
                    (m.to_string(), m["mediaType"].as_str().unwrap().to_owned())
                }
                _ => {
                    let list = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
                    "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 500,
                    "platform": {"architecture": "amd64", "os": "linux"}}]});
                    (list.to_string(), OCI_INDEX.to_owned())
                }
            };
            reg.borrow_mut().script(
                5,
                |r| r.path() == "/v2/app/manifests/v1",
                move |_| Resp::status(200).header("Content-Type", media_type.clone()).body(body.clone()),
            );
            let e = sim.run(copy_to_dir()).unwrap_err();
            assert!(e.message.contains("invalid digest"), "{place} {digest}: refused for its digest: {e}");
            if place == "layer" {
                assert!(e.message.contains(&format!("invalid digest {digest:?}")), "{digest}: {e}");
            }
            assert!(sim.log.iter().all(|s| !s.line().contains("/blobs/")), "{digest}: {:#?}", sim.lines());
            let manifests = sim.log.iter().filter(|s| s.line().contains("/manifests/")).count();
            assert_eq!(manifests, 1, "{place} {digest}: only the top manifest fetched: {:#?}", sim.lines());
            assert!(
                sim.files.keys().all(|p| !p.starts_with("/out") || p.ends_with("skiff-tmp")),
                "{digest}: {:?}",
                sim.files.keys()
            );
            assert!(!sim.files.contains_key("/out/manifest.json"), "{digest}");
        }
    }
}

/// Item 19: escape sequences in a registry's `Warning` header and error
/// messages never reach the terminal.
#[test]
fn control_bytes_from_a_registry_are_not_echoed() {
    let mut sim = Sim::default();
    let (reg, _) = registry(&mut sim, Auth::Anonymous);
    reg.borrow_mut().script(
        1,
        |r| r.path() == "/v2/app/manifests/v1",
        |_| {
            Resp::error(400, "MANIFEST_INVALID", "bad \u{1b}[31mPWNED\u{7} thing")
                .header("Warning", "299 - \"\u{1b}[31mPWNED\"")
        },
    );
    let e = sim.run(inspect_raw(json!({}))).unwrap_err();
    assert!(e.message.contains("PWNED") && !e.message.chars().any(|c| c.is_control()), "{e:?}");
    let shown = sim.warnings.iter().chain(&sim.notes);
    assert!(shown.clone().all(|w| !w.contains('\u{1b}')), "{:?} {:?}", sim.warnings, sim.notes);
}

/// Item 21: a lookaside that offers signatures without end is stopped at
/// containers/image's 128, after at most 129 requests.
#[test]
fn a_lookaside_offering_endless_signatures_is_cut_off() {
    let mut sim = Sim::default();
    registry(&mut sim, Auth::Anonymous);
    sim.host("https://sigs.test", |_: &Req, _| Resp::status(200).body(b"\xa3\x01simple signing".to_vec()));
    sim.files.insert("/etc/rd/sigs.yaml".into(), b"default-docker:\n  lookaside: https://sigs.test/\n".to_vec());
    let mut job = copy_to_dir();
    job["registries_d"] = json!("/etc/rd");
    let e = sim.run(job).unwrap_err();
    assert!(e.message.contains("more than 128 signatures"), "{e}");
    assert!(sim.seen_at("https://sigs.test").len() <= 129);
    assert!(!sim.files.contains_key("/out/manifest.json"));
}

/// Item 20: a foreign layer's `urls` (a local file, the metadata address,
/// another host asking for Basic credentials) are never fetched: the copy
/// stops with a sentence and no request leaves for them.
#[test]
fn foreign_layer_urls_are_never_followed() {
    let mut sim = Sim::default();
    let (reg, image) = registry(&mut sim, Auth::Anonymous);
    let evil = sim.host("https://evil.test", |_: &Req, _| {
        Resp::error(401, "UNAUTHORIZED", "who are you").header("WWW-Authenticate", r#"Basic realm="x""#)
    });
    let metadata = sim.host("http://169.254.169.254", |_: &Req, _| Resp::status(200).body("secrets"));
    let mut m: Value = serde_json::from_slice(&image.manifest).unwrap();
    m["layers"][0]["urls"] = json!(["file:///etc/shadow", "http://169.254.169.254/", "https://evil.test/layer"]);
    let (body, media_type) = (m.to_string(), m["mediaType"].as_str().unwrap().to_owned());
    reg.borrow_mut().script(
        5,
        |r| r.path() == "/v2/app/manifests/v1",
        move |_| Resp::status(200).header("Content-Type", media_type.clone()).body(body.clone()),
    );
    let mut job = copy_to_dir();
    job["src"] = json!({"registry": creds("u", "pw")});
    let e = sim.run(job).unwrap_err();
    assert!(e.message.contains("foreign layer"), "{e}");
    let _ = (evil, metadata);
    assert!(sim.seen_at("https://evil.test").is_empty() && sim.seen_at("http://169.254.169.254").is_empty());
    assert!(sim.log.iter().all(|s| s.origin() == REG), "{:#?}", sim.lines());
    assert!(!sim.files.contains_key("/out/manifest.json"));
}

/// Items 2 and 13: a layer that is not the size its manifest declares
/// (right digest, wrong size; a size of 2^62; wrong bytes of the right
/// size) commits nothing and allocates nothing by the declared size.
#[test]
fn a_layer_of_another_size_or_other_bytes_commits_nothing() {
    // Items 1, 2 and 13: a declared size too large, too small, zero, 2^62;
    // other bytes under the right size.
    for lie in ["size", "short", "zero", "huge", "bytes"] {
        let mut sim = Sim::default();
        let (reg, image) = registry(&mut sim, Auth::Anonymous);
        let layer = image.layers[0].clone();
        let digest = sha256(&layer);
        let mut m: Value = serde_json::from_slice(&image.manifest).unwrap();
        if lie == "size" {
            m["layers"][0]["size"] = json!(layer.len() + 7);
        } else if lie == "short" {
            m["layers"][0]["size"] = json!(layer.len() - 7);
        } else if lie == "zero" {
            m["layers"][0]["size"] = json!(0);
        } else if lie == "huge" {
            m["layers"][0]["size"] = json!(1u64 << 62);
        } else {
            let mut flipped = layer.clone();
            flipped[0] ^= 0xff;
            reg.borrow_mut().script(
                10,
                move |r| r.path().ends_with(&digest),
                move |_| Resp::status(200).body(flipped.clone()),
            );
        }
        let (body, media_type) = (m.to_string(), m["mediaType"].as_str().unwrap().to_owned());
        reg.borrow_mut().script(
            5,
            |r| r.path() == "/v2/app/manifests/v1",
            move |_| Resp::status(200).header("Content-Type", media_type.clone()).body(body.clone()),
        );
        let e = sim.run(copy_to_dir()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Integrity, "{lie}: {e}");
        assert!(!sim.files.contains_key("/out/manifest.json"), "{lie}");
        let committed: Vec<_> =
            sim.files.keys().filter(|p| p.starts_with("/out/") && !p.ends_with("skiff-tmp")).collect();
        assert!(committed.iter().all(|p| !p.contains(&sha256(&layer)[7..])), "{lie}: {committed:?}");
        if lie == "bytes" {
            assert!(e.message.contains("digest"), "{e}");
        }
    }
}

/// Item 8: a config far larger than a config may be is refused, not read.
#[test]
fn an_oversized_config_is_refused() {
    let mut sim = Sim::default();
    let (reg, image) = registry(&mut sim, Auth::Anonymous);
    let mut m: Value = serde_json::from_slice(&image.manifest).unwrap();
    m["config"]["size"] = json!(5u64 << 20);
    let (body, media_type) = (m.to_string(), m["mediaType"].as_str().unwrap().to_owned());
    reg.borrow_mut().script(
        5,
        |r| r.path() == "/v2/app/manifests/v1",
        move |_| Resp::status(200).header("Content-Type", media_type.clone()).body(body.clone()),
    );
    let e = sim
        .run(
            inspect_raw(json!({}))
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.remove("raw");
                    Value::Object(o)
                })
                .unwrap(),
        )
        .unwrap_err();
    assert!(e.message.contains("more than"), "{e}");
    assert!(sim.log.iter().all(|s| !s.line().contains("/blobs/")), "never fetched: {:#?}", sim.lines());
}

/// Item 16: a blob download redirected to another origin that serves other
/// bytes fails its digest check; the other origin never sees credentials.
#[test]
fn a_redirected_blob_with_other_bytes_fails_and_gets_no_credentials() {
    let mut sim = Sim::default();
    let image = Image::new("cdn", &[300]);
    let src = sim.host(REG, Registry::with_auth(Auth::Basic { user: "u".into(), pass: "pw".into() }));
    src.borrow_mut().push("app", "v1", &image);
    src.borrow_mut().blob_redirect = Some(CDN.to_owned());
    sim.host(CDN, |_: &Req, _| Resp::status(200).body(vec![0u8; 300]));
    let mut job = copy_to_dir();
    job["src"] = json!({"registry": creds("u", "pw")});
    let e = sim.run(job).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    assert!(sim.seen_at(CDN).iter().all(|s| s.authorization().is_none()), "{:#?}", sim.lines());
    assert!(!sim.files.contains_key("/out/manifest.json"));
    // Item 19: the signed URL's query (a credential of its own) is never printed.
    assert!(sim.seen_at(CDN).iter().all(|s| s.url.contains("s3cret")), "the CDN was asked with its signature");
    let printed = std::iter::once(&e.message).chain(&sim.warnings).chain(&sim.notes);
    assert!(printed.clone().all(|m| !m.contains("s3cret")), "{:?}", printed.collect::<Vec<_>>());
}

/// Item 19: a CDN that fails the download: the error names where it went
/// without the URL's signed query.
#[test]
fn a_failing_cdn_is_named_without_its_signed_query() {
    let mut sim = Sim::default();
    let image = Image::new("cdn", &[300]);
    let src = sim.host(REG, Registry::with_auth(Auth::Basic { user: "u".into(), pass: "pw".into() }));
    src.borrow_mut().push("app", "v1", &image);
    src.borrow_mut().blob_redirect = Some(CDN.to_owned());
    sim.host(CDN, |_: &Req, _| Resp::status(500).body("internal error"));
    let mut job = copy_to_dir();
    job["src"] = json!({"registry": creds("u", "pw")});
    let e = sim.run(job).unwrap_err();
    assert!(!sim.seen_at(CDN).is_empty());
    let printed = std::iter::once(&e.message).chain(&sim.warnings).chain(&sim.notes);
    assert!(printed.clone().all(|m| !m.contains("s3cret")), "{:?}", printed.collect::<Vec<_>>());
}

/// Item 6: a 429 on a request that carried a body (the manifest PUT) is
/// not sent again: the copy fails and the manifest was PUT once.
#[test]
fn a_request_with_a_body_is_not_repeated_on_429() {
    let mut sim = Sim::default();
    let (_, dst, _) = two_registries(&mut sim, &[300]);
    dst.borrow_mut().script(
        5,
        |r| r.method == "PUT" && r.path() == "/v2/app/manifests/v1",
        |_| Resp::error(429, "TOOMANYREQUESTS", "slow down").header("Retry-After", "1"),
    );
    let e = sim.run(copy(dest_creds())).unwrap_err();
    assert!(e.message.contains("429") || e.message.contains("slow down"), "{e}");
    let puts = sim.seen_at(DST).iter().filter(|s| s.line() == "PUT /v2/app/manifests/v1").count();
    assert_eq!(puts, 1, "{:#?}", sim.lines());
}

fn serve_manifest(reg: &Rc<RefCell<Registry>>, path: String, body: Vec<u8>, media_type: &'static str) {
    reg.borrow_mut().script(
        5,
        move |r| r.path() == path,
        move |_| Resp::status(200).header("Content-Type", media_type).body(body.clone()),
    );
}

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn index_of(entries: &[(String, usize, &str)]) -> Vec<u8> {
    let manifests: Vec<Value> = entries
        .iter()
        .map(|(digest, size, media_type)| {
            json!({"mediaType": media_type, "digest": digest, "size": size,
                   "platform": {"architecture": "amd64", "os": "linux"}})
        })
        .collect();
    json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}).to_string().into_bytes()
}

/// Item 9: a list instance fetched by digest whose bytes hash otherwise
/// is refused; nothing of the image is written.
#[test]
fn a_list_instance_with_other_bytes_is_refused() {
    let mut sim = Sim::default();
    let (reg, image) = registry(&mut sim, Auth::Anonymous);
    let other = Image::new("other", &[10]);
    let digest = image.digest();
    let index =
        index_of(&[(digest.clone(), image.manifest.len(), "application/vnd.docker.distribution.manifest.v2+json")]);
    serve_manifest(&reg, "/v2/app/manifests/v1".into(), index, OCI_INDEX);
    serve_manifest(
        &reg,
        format!("/v2/app/manifests/{digest}"),
        other.manifest.clone(),
        "application/vnd.docker.distribution.manifest.v2+json",
    );
    let e = sim.run(copy_to_dir()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    assert!(e.message.contains("digest mismatch"), "{e}");
    // Only the `version` a dir: destination gets when opened (skopeo writes it then too).
    let written: Vec<_> = sim.files.keys().filter(|p| p.starts_with("/out/") && !p.ends_with("skiff-tmp")).collect();
    assert_eq!(written, ["/out/version"], "nothing of the image");
}

/// Item 12: an index inside an index is refused, not followed; an index
/// of 50 000 entries stops at the 4 MiB a manifest may be.
#[test]
fn nested_and_enormous_lists_are_refused() {
    let mut sim = Sim::default();
    let (reg, image) = registry(&mut sim, Auth::Anonymous);
    let inner =
        index_of(&[(image.digest(), image.manifest.len(), "application/vnd.docker.distribution.manifest.v2+json")]);
    let inner_digest = sha256(&inner);
    let outer = index_of(&[(inner_digest.clone(), inner.len(), OCI_INDEX)]);
    serve_manifest(&reg, "/v2/app/manifests/v1".into(), outer, OCI_INDEX);
    serve_manifest(&reg, format!("/v2/app/manifests/{inner_digest}"), inner, OCI_INDEX);
    let e = sim.run(copy_to_dir()).unwrap_err();
    assert!(e.message.contains("nested indexes are not supported"), "{e}");
    assert!(!sim.files.contains_key("/out/manifest.json"));
    assert!(sim.log.iter().all(|s| !s.line().contains("/blobs/")), "nothing of the image fetched: {:#?}", sim.lines());

    let mut sim = Sim::default();
    let (reg, _) = registry(&mut sim, Auth::Anonymous);
    let entry = (format!("sha256:{}", "a".repeat(64)), 500, "application/vnd.oci.image.manifest.v1+json");
    let huge = index_of(&vec![entry; 50_000]);
    assert!(huge.len() > 4 << 20);
    serve_manifest(&reg, "/v2/app/manifests/v1".into(), huge, OCI_INDEX);
    let e = sim.run(copy_to_dir()).unwrap_err();
    assert!(
        e.message.contains("too large") || e.message.contains("larger than") || e.message.contains("more than"),
        "{e}"
    );
}

/// Item 15: a tag list with names that are not tags (a path, a slash, an
/// empty one, a digest, 200 characters): a sync into `dir:` skips them and
/// writes nothing outside its destination.
#[test]
fn hostile_tags_never_lead_a_sync_out_of_its_destination() {
    let mut sim = Sim::default();
    let (reg, _) = registry(&mut sim, Auth::Anonymous);
    let tags = json!({"name": "app", "tags": [
        "../../../../tmp/evil", "a/b", "", format!("sha256:{}", "a".repeat(64)), "x".repeat(200), "v1"
    ]});
    reg.borrow_mut().script(5, |r| r.path() == "/v2/app/tags/list", move |_| Resp::status(200).json(tags.clone()));
    let job = json!({
        "command": "sync", "source": "reg.test/app", "destination": "/out",
        "source_kind": "docker", "destination_kind": "dir", "policy": {"insecure": true},
    });
    sim.run(job).unwrap();
    let dirs: std::collections::BTreeSet<_> =
        sim.files.keys().map(|p| p.rsplit_once('/').map(|(d, _)| d.to_owned()).unwrap_or_default()).collect();
    assert_eq!(dirs.into_iter().collect::<Vec<_>>(), ["/out/app:v1"], "only the valid tag, inside the destination");
}

/// Item 15: a `null` in a tag list is no tag (Go reads it as ""): skipped,
/// and the list's real tags are still listed and synced.
#[test]
fn a_null_in_a_tag_list_is_skipped() {
    let mut sim = Sim::default();
    let (reg, _) = registry(&mut sim, Auth::Anonymous);
    let tags = json!({"name": "app", "tags": [null, "v1"]});
    reg.borrow_mut().script(5, |r| r.path() == "/v2/app/tags/list", move |_| Resp::status(200).json(tags.clone()));
    let job = json!({
        "command": "sync", "source": "reg.test/app", "destination": "/out",
        "source_kind": "docker", "destination_kind": "dir", "policy": {"insecure": true},
    });
    sim.run(job).unwrap();
    assert!(sim.files.contains_key("/out/app:v1/manifest.json"));
}

/// An image of 20,000 distinct layers (a 4 MiB manifest can list about
/// 30,000) copies whole: one HEAD per blob the destination already holds,
/// then the manifest, byte for byte. The linear bookkeeping itself is
/// checked in `copy::copier`'s unit test; here the bound only guards
/// against a hang.
#[test]
fn an_image_with_twenty_thousand_layers_copies_whole() {
    let mut sim = Sim::default();
    sim.max_steps = 200_000;
    let sizes = vec![8; 20_000];
    let (_, dst, image) = two_registries(&mut sim, &sizes);
    dst.borrow_mut().push("app", "old", &image);
    let started = std::time::Instant::now();
    sim.run(copy(dest_creds())).unwrap();
    let took = started.elapsed();
    let lines = lines_at(&sim, DST);
    assert_eq!(lines.iter().filter(|l| l.starts_with("HEAD /v2/app/blobs/")).count(), 20_001, "one HEAD per blob");
    assert_eq!(lines.last().unwrap(), "PUT /v2/app/manifests/v1");
    assert_eq!(dst.borrow().repos["app"].manifests[&image.digest()].0, image.manifest);
    assert!(took < std::time::Duration::from_secs(60), "20,000 layers took {took:?}");
}

// ---- resumed downloads (issue 15, item 3) ----

/// The blob GETs the run made for `digest`, with their Range header.
fn blob_gets(sim: &Sim, digest: &str) -> Vec<Option<String>> {
    sim.log
        .iter()
        .filter(|s| s.method == "GET" && s.url.ends_with(digest))
        .map(|s| s.header("range").map(str::to_owned))
        .collect()
}

/// A layer download that breaks off half way is carried on with `Range`
/// when `--retry-times` allows a retry: the bytes already in the file are
/// kept, the rest asked for, and the whole checked against the digest.
#[test]
fn a_broken_download_is_resumed_where_it_broke_off() {
    let mut sim = Sim::default();
    let (reg, image) = registry(&mut sim, Auth::Anonymous);
    let layer = image.layers[1].clone();
    let digest = sha256(&layer);
    let path = format!("/v2/app/blobs/{digest}");
    let blob = layer.clone();
    reg.borrow_mut().script(
        1,
        move |r| r.path() == path && r.header("range").is_none(),
        move |_| Resp::status(200).body(blob.clone()).cut_after(200),
    );
    let mut job = copy_to_dir();
    job["src"] = json!({"registry": {"retry_times": 2, "retry_delay_ms": 10}});
    sim.run(job).unwrap();
    assert_eq!(blob_gets(&sim, &digest), [None, Some("bytes=200-".to_owned())], "{:#?}", sim.lines());
    assert_eq!(sim.files[&format!("/out/{}", &digest[7..])], layer, "the whole layer, under its digest");

    // No retries asked for: the copy fails and nothing is resumed.
    let mut sim = Sim::default();
    let (reg, image) = registry(&mut sim, Auth::Anonymous);
    let digest = sha256(&image.layers[1]);
    let (path, blob) = (format!("/v2/app/blobs/{digest}"), image.layers[1].clone());
    reg.borrow_mut().script(1, move |r| r.path() == path, move |_| Resp::status(200).body(blob.clone()).cut_after(200));
    assert!(sim.run(copy_to_dir()).is_err());
    assert_eq!(blob_gets(&sim, &digest), [None]);
    assert!(!sim.files.contains_key(&format!("/out/{}", &digest[7..])));
}

/// A server that answers the `Range` request with the whole blob (200),
/// or with another range than the one asked for, is not trusted to have
/// resumed: the copy fails, saying so, and commits nothing.
#[test]
fn a_resume_the_server_does_not_honour_exactly_fails() {
    // Item 3: a whole answer, a range from elsewhere, another total, no Content-Range at all.
    for (status, content_range) in
        [(200, None), (206, Some("bytes 100-499/500")), (206, Some("bytes 200-499/999")), (206, None)]
    {
        let mut sim = Sim::default();
        let (reg, image) = registry(&mut sim, Auth::Anonymous);
        let layer = image.layers[1].clone();
        let digest = sha256(&layer);
        let path = format!("/v2/app/blobs/{digest}");
        let blob = layer.clone();
        let p = path.clone();
        reg.borrow_mut().script(
            1,
            move |r| r.path() == p,
            move |_| Resp::status(200).body(blob.clone()).cut_after(200),
        );
        let blob = layer.clone();
        reg.borrow_mut().script(
            1,
            move |r| r.path() == path,
            move |_| {
                let mut resp = Resp::status(status).body(match status {
                    200 => blob.clone(),
                    _ => blob[200..].to_vec(),
                });
                if let Some(c) = content_range {
                    resp = resp.header("Content-Range", c);
                }
                resp
            },
        );
        let mut job = copy_to_dir();
        job["src"] = json!({"registry": {"retry_times": 1, "retry_delay_ms": 10}});
        let e = sim.run(job).unwrap_err();
        assert!(e.message.contains("could not be resumed at byte 200"), "{status} {content_range:?}: {e}");
        assert!(!sim.files.contains_key(&format!("/out/{}", &digest[7..])), "nothing committed");
        assert!(!sim.files.contains_key("/out/manifest.json"));
    }
}

/// Item 3: a 206 that says exactly the range asked for but carries other
/// bytes: the whole blob is still checked against its digest, so the
/// resumed download fails and nothing is committed.
#[test]
fn a_resumed_download_with_other_bytes_is_still_refused() {
    let mut sim = Sim::default();
    let (reg, image) = registry(&mut sim, Auth::Anonymous);
    let layer = image.layers[1].clone();
    let digest = sha256(&layer);
    let size = layer.len();
    let path = format!("/v2/app/blobs/{digest}");
    let (blob, p) = (layer.clone(), path.clone());
    reg.borrow_mut().script(1, move |r| r.path() == p, move |_| Resp::status(200).body(blob.clone()).cut_after(200));
    let mut rest = layer[200..].to_vec();
    rest[10] ^= 0xff;
    reg.borrow_mut().script(
        1,
        move |r| r.path() == path,
        move |_| Resp::status(206).body(rest.clone()).header("Content-Range", format!("bytes 200-{}/{size}", size - 1)),
    );
    let mut job = copy_to_dir();
    job["src"] = json!({"registry": {"retry_times": 1, "retry_delay_ms": 10}});
    let e = sim.run(job).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    assert!(e.message.contains("digest"), "{e}");
    assert!(!sim.files.contains_key(&format!("/out/{}", &digest[7..])), "nothing committed");
    assert!(!sim.files.contains_key("/out/manifest.json"));
}

/// Item 36: an unsigned image under a policy that wants a sigstore
/// signature is refused before its config or any layer is fetched.
#[test]
fn an_unsigned_image_is_refused_before_any_blob_is_read() {
    let mut sim = Sim::default();
    let image = Image::new("unsigned", &[300]);
    let reg = sim.host(REG, Registry::default());
    reg.borrow_mut().push("app", "v1", &image);
    let key = include_bytes!("../../tests/fixtures/sigstore/cosign.pub").to_vec();
    sim.files.insert("/key.pub".into(), key);
    sim.files.insert(
        "/policy.json".into(),
        br#"{"default":[{"type":"sigstoreSigned","keyPath":"/key.pub","signedIdentity":{"type":"matchRepository"}}]}"#
            .to_vec(),
    );
    let mut job = copy_to_dir();
    job["policy"] = json!({"path": "/policy.json"});
    let e = sim.run(job).unwrap_err();
    assert!(e.message.contains("A signature was required, but no signature exists"), "{e}");
    let blobs: Vec<String> = sim.lines().into_iter().filter(|l| l.contains("/blobs/")).collect();
    assert!(blobs.is_empty(), "{blobs:?}");
    assert!(!sim.files.keys().any(|p| p.starts_with("/out/")), "nothing written");
}

/// Item 1, registry to registry: a source blob with other bytes fails the
/// copy before the destination is told of a manifest, and the destination
/// never holds the blob under that digest.
#[test]
fn a_lying_source_commits_nothing_at_the_destination() {
    let mut sim = Sim::default();
    let (src, dst, image) = two_registries(&mut sim, &[300]);
    let layer = sha256(&image.layers[0]);
    let mut flipped = image.layers[0].clone();
    flipped[7] ^= 0xff;
    let l = layer.clone();
    src.borrow_mut().script(10, move |r| r.path().ends_with(&l), move |_| Resp::status(200).body(flipped.clone()));
    // Caught by skiff's own hash or, streamed through, by the destination's check first.
    let e = sim.run(copy(dest_creds())).unwrap_err();
    assert!(e.message.contains("digest"), "{e}");
    assert!(sim.seen_at(DST).iter().all(|s| !s.line().starts_with("PUT /v2/app/manifests/")), "{:#?}", sim.lines());
    assert!(!dst.borrow().blobs.contains_key(&layer));
}

/// Item 11: a manifest served as `application/json`, `text/plain` or a
/// vendor type is recognised from its body: `inspect --raw` gives its
/// bytes and `inspect` reads the image.
#[test]
fn manifests_under_other_content_types_are_read_from_their_bodies() {
    for content_type in ["application/json", "text/plain", "application/vnd.evil+json"] {
        let mut sim = Sim::default();
        let (reg, image) = registry(&mut sim, Auth::Anonymous);
        let body = image.manifest.clone();
        reg.borrow_mut().script(
            10,
            |r| r.path() == "/v2/app/manifests/v1",
            move |_| Resp::status(200).header("Content-Type", content_type).body(body.clone()),
        );
        let raw = sim.run(inspect_raw(json!({}))).unwrap();
        assert_eq!(raw.as_bytes(), image.manifest.as_slice(), "{content_type}");
        let mut sim = Sim::default();
        let (reg, image) = registry(&mut sim, Auth::Anonymous);
        let body = image.manifest.clone();
        reg.borrow_mut().script(
            10,
            |r| r.path() == "/v2/app/manifests/v1",
            move |_| Resp::status(200).header("Content-Type", content_type).body(body.clone()),
        );
        let out = sim.run(json!({"command": "inspect", "image": "docker://reg.test/app:v1"})).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["Digest"], json!(image.digest()), "{content_type}");
    }
}

// ---- faults injected at every step (issue 15) ----

/// A copy registry → `dir:` and registry → registry, run once per request
/// it makes with that one request failing: every run ends (no panic, no
/// hang) with a clean error or a complete result, and never leaves a
/// manifest or a tag over missing or wrong blobs.
#[test]
fn a_fault_at_any_step_leaves_the_old_state_or_the_new_one() {
    let image = Image::new("copy", &[300, 500]);
    let blobs: Vec<(String, Vec<u8>)> =
        std::iter::once(&image.config).chain(&image.layers).map(|b| (sha256(b), b.clone())).collect();
    let to_dir = || {
        let mut sim = Sim::default();
        let mut r = Registry::default();
        r.push("app", "v1", &image);
        sim.host(REG, r);
        sim
    };
    let total = {
        let mut sim = to_dir();
        sim.run(copy_to_dir()).unwrap();
        sim.performed
    };
    assert!(total > 8, "a copy makes requests: {total}");
    let mut failed = 0;
    for n in 0..total {
        let mut sim = to_dir();
        sim.fail_request = Some(n);
        let result = sim.run(copy_to_dir());
        failed += usize::from(result.is_err());
        if let Err(e) = &result {
            assert!(!e.message.is_empty() && !e.message.contains("panicked"), "step {n}: {e:?}");
        }
        match sim.files.get("/out/manifest.json") {
            Some(m) => {
                assert!(result.is_ok(), "step {n}: a manifest after a failure: {result:?}");
                assert_eq!(m, &image.manifest, "step {n}");
                for (digest, bytes) in &blobs {
                    assert_eq!(sim.files.get(&format!("/out/{}", &digest[7..])), Some(bytes), "step {n}: {digest}");
                }
            }
            None => assert!(result.is_err(), "step {n}: success without a manifest"),
        }
        // Whatever is committed under a digest holds those bytes.
        for (path, bytes) in sim.files.iter().filter(|(p, _)| p.starts_with("/out/") && p.len() == 5 + 64) {
            assert_eq!(sha256(bytes)[7..], path[5..], "step {n}: {path}");
        }
    }
    assert!(failed * 2 > total, "most single faults fail a copy without retries: {failed} of {total}");

    let between = || {
        let mut sim = Sim::default();
        let (_, dst, _) = two_registries(&mut sim, &[300, 500]);
        (sim, dst)
    };
    let total = {
        let (mut sim, _) = between();
        sim.run(copy(dest_creds())).unwrap();
        sim.performed
    };
    for n in 0..total {
        let (mut sim, dst) = between();
        sim.fail_request = Some(n);
        let result = sim.run(copy(dest_creds()));
        let d = dst.borrow();
        match d.repos.get("app").and_then(|r| r.tags.get("v1")) {
            Some(tagged) => {
                assert!(result.is_ok(), "step {n}: tagged after a failure: {result:?}");
                assert_eq!(tagged, &image_digest_of(&d, tagged), "step {n}");
                for (digest, bytes) in &blobs {
                    assert_eq!(d.blobs.get(digest), Some(bytes), "step {n}: {digest}");
                }
            }
            None => assert!(result.is_err(), "step {n}: success without the tag"),
        }
    }
}

/// A layout already holding image `v0` (its index, manifest and config).
fn seed_layout(sim: &mut Sim) -> Vec<u8> {
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
    let manifest = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": []})).unwrap();
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256(&manifest), "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "v0"}}]}))
    .unwrap();
    for blob in [&config, &manifest] {
        sim.files.insert(format!("/out/blobs/sha256/{}", &sha256(blob)[7..]), blob.clone());
    }
    sim.files.insert("/out/oci-layout".into(), br#"{"imageLayoutVersion": "1.0.0"}"#.to_vec());
    sim.files.insert("/out/index.json".into(), index.clone());
    index
}

fn copy_to_layout() -> Value {
    json!({
        "command": "copy", "source": "docker://reg.test/app:v1", "destination": "oci:/out:v1",
        "policy": {"insecure": true},
    })
}

/// A copy into an OCI layout that already holds an image, with a fault at
/// each step (items 37-38): the layout's lock is released however the run
/// ends; `index.json` is either the old one, byte for byte, or names both
/// images, and then every blob the new one names is there.
#[test]
fn a_fault_during_a_copy_into_a_layout_keeps_its_index_and_releases_its_lock() {
    let image = Image::new("copy", &[300, 500]);
    let to_layout = || {
        let mut sim = Sim::default();
        let mut r = Registry::default();
        r.push("app", "v1", &image);
        sim.host(REG, r);
        let old = seed_layout(&mut sim);
        (sim, old)
    };
    let total = {
        let (mut sim, _) = to_layout();
        sim.run(copy_to_layout()).unwrap();
        sim.performed
    };
    let mut kept = 0;
    for n in 0..total {
        let (mut sim, old) = to_layout();
        sim.fail_request = Some(n);
        let result = sim.run(copy_to_layout());
        assert!(sim.locks.is_empty(), "step {n}: locks left held: {:?}", sim.locks);
        let index = &sim.files["/out/index.json"];
        if index == &old {
            assert!(result.is_err(), "step {n}: success without naming the image");
            kept += 1;
            continue;
        }
        assert!(result.is_ok(), "step {n}: a new index after a failure: {result:?}");
        let index: Value = serde_json::from_slice(index).unwrap();
        let names: Vec<&str> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["v0", "v1"], "step {n}");
        let blob = |d: &Value| sim.files.get(&format!("/out/blobs/sha256/{}", &d.as_str().unwrap()[7..]));
        let manifest: Value = serde_json::from_slice(blob(&index["manifests"][1]["digest"]).unwrap()).unwrap();
        for d in std::iter::once(&manifest["config"]).chain(manifest["layers"].as_array().unwrap()) {
            let bytes = blob(&d["digest"]).unwrap_or_else(|| panic!("step {n}: {d} missing"));
            assert_eq!(sha256(bytes), d["digest"].as_str().unwrap(), "step {n}");
        }
    }
    assert!(kept * 2 > total, "most single faults fail the copy: {kept} of {total}");
}

/// Item 40: a file already under a layer's name, of the right size but
/// other bytes (damaged, or left by hand), is not reused: it is checked,
/// found wrong, and replaced, with a warning.
#[test]
fn a_stored_blob_of_the_right_size_is_checked_before_it_is_reused() {
    let image = Image::new("reuse", &[300, 500]);
    let mut sim = Sim::default();
    let mut r = Registry::default();
    r.push("app", "v1", &image);
    sim.host(REG, r);
    seed_layout(&mut sim);
    let wrong = format!("/out/blobs/sha256/{}", &sha256(&image.layers[1])[7..]);
    sim.files.insert(wrong.clone(), vec![0; image.layers[1].len()]);
    let good = format!("/out/blobs/sha256/{}", &sha256(&image.layers[0])[7..]);
    sim.files.insert(good.clone(), image.layers[0].clone());
    sim.run(copy_to_layout()).unwrap();
    assert_eq!(sim.files[&wrong], image.layers[1], "the damaged blob was replaced");
    assert!(sim.warnings.iter().any(|w| w.contains(&wrong) && w.contains("copying it again")), "{:?}", sim.warnings);
    // The good one was reused: never downloaded.
    let fetched: Vec<String> = sim.lines().into_iter().filter(|l| l.contains("/blobs/")).collect();
    assert!(!fetched.iter().any(|l| l.contains(&sha256(&image.layers[0]))), "{fetched:?}");
    assert!(fetched.iter().any(|l| l.contains(&sha256(&image.layers[1]))), "{fetched:?}");
}

/// The digest a registry stores a manifest under (the tag points at it).
fn image_digest_of(r: &Registry, tagged: &str) -> String {
    let (bytes, _) = &r.repos["app"].manifests[tagged];
    sha256(bytes)
}

// ---- a sync's survey of its destination repository (issue 11) ----

/// Three images in `app` at the source, sharing none of their layers.
fn three_images(sim: &mut Sim) -> (Vec<Image>, Rc<RefCell<Registry>>) {
    let images: Vec<Image> = ["a", "bb", "ccc"].iter().map(|s| Image::new(s, &[300, 200])).collect();
    let mut src = Registry::default();
    for (i, image) in images.iter().enumerate() {
        src.push("app", &format!("v{i}"), image);
    }
    sim.host(REG, src);
    let dst = sim.host(DST, Registry::default());
    (images, dst)
}

fn sync_to_dst() -> Value {
    json!({
        "command": "sync", "source": "reg.test/app", "destination": "dst.test/mirror",
        "source_kind": "docker", "destination_kind": "docker", "policy": {"insecure": true},
    })
}

/// Into a repository the destination does not have, one tag list replaces
/// every per-image check: no manifest HEAD, no blob HEAD, and every image
/// arrives whole.
#[test]
fn a_sync_into_a_new_repository_lists_it_once_and_asks_nothing_else() {
    let mut sim = Sim::default();
    let (images, dst) = three_images(&mut sim);
    sim.run(sync_to_dst()).unwrap();
    let lines = lines_at(&sim, DST);
    assert_eq!(lines.iter().filter(|l| l.starts_with("GET /v2/mirror/app/tags/list")).count(), 1, "{lines:#?}");
    assert!(lines.iter().all(|l| !l.starts_with("HEAD ")), "no HEAD at the destination: {lines:#?}");
    let d = dst.borrow();
    for (i, image) in images.iter().enumerate() {
        assert_eq!(d.repos["mirror/app"].tags[&format!("v{i}")], image.digest());
        for b in std::iter::once(&image.config).chain(&image.layers) {
            assert_eq!(d.blobs.get(&sha256(b)), Some(b), "every blob arrived intact");
        }
    }
}

/// Into a repository that exists: a tag the list shows is compared (one
/// manifest HEAD, and an unchanged image costs nothing more); tags it does
/// not show get no manifest HEAD, but their blobs are still asked for,
/// since the repository may hold them.
#[test]
fn a_sync_into_an_existing_repository_checks_only_the_tags_it_lists() {
    let mut sim = Sim::default();
    let (images, dst) = three_images(&mut sim);
    dst.borrow_mut().push("mirror/app", "v0", &images[0]);
    dst.borrow_mut().tags("mirror/app", &["unrelated"]);
    sim.run(sync_to_dst()).unwrap();
    let lines = lines_at(&sim, DST);
    let manifest_heads: Vec<_> = lines.iter().filter(|l| l.starts_with("HEAD /v2/mirror/app/manifests/")).collect();
    assert_eq!(manifest_heads, ["HEAD /v2/mirror/app/manifests/v0"], "{lines:#?}");
    let blob_heads = lines.iter().filter(|l| l.starts_with("HEAD /v2/mirror/app/blobs/")).count();
    assert_eq!(blob_heads, 6, "the config and two layers of v1 and of v2: {lines:#?}");
    assert!(!lines.iter().any(|l| l == "PUT /v2/mirror/app/manifests/v0"), "v0 was there already: {lines:#?}");
    for (i, image) in images.iter().enumerate() {
        assert_eq!(dst.borrow().repos["mirror/app"].tags[&format!("v{i}")], image.digest());
    }
}

/// A destination that refuses to list tags (a push-only account): nothing
/// is assumed, every image is checked as a single copy checks it.
#[test]
fn a_sync_whose_destination_will_not_list_tags_checks_each_image() {
    let mut sim = Sim::default();
    let (images, dst) = three_images(&mut sim);
    dst.borrow_mut().push("mirror/app", "v0", &images[0]);
    dst.borrow_mut().script(5, |r| r.path().ends_with("/tags/list"), |_| Resp::error(403, "DENIED", "no listing"));
    sim.run(sync_to_dst()).unwrap();
    let lines = lines_at(&sim, DST);
    let manifest_heads = lines.iter().filter(|l| l.starts_with("HEAD /v2/mirror/app/manifests/")).count();
    assert_eq!(manifest_heads, 3, "{lines:#?}");
    for (i, image) in images.iter().enumerate() {
        assert_eq!(dst.borrow().repos["mirror/app"].tags[&format!("v{i}")], image.digest());
    }
}

// ---------------------------------------------------------------------------
// Configuration: how many rounds of requests it takes.

/// The path a file request names.
fn file_path(r: &skiff_core::engine::Request) -> Option<&str> {
    use skiff_core::engine::Request;
    match r {
        Request::ReadFile { path, .. } | Request::ListDir { path } | Request::Stat { path } => Some(path),
        _ => None,
    }
}

/// The round (by number) in which a request for `path` went out.
fn round_of(rounds: &[Vec<skiff_core::engine::Request>], path: &str) -> usize {
    rounds
        .iter()
        .position(|round| round.iter().any(|r| file_path(r) == Some(path)))
        .unwrap_or_else(|| panic!("{path} was never asked for"))
}

#[test]
fn independent_configuration_files_are_asked_for_in_the_same_round() {
    let mut sim = Sim::default();
    let (_, image) = registry(&mut sim, Auth::Anonymous);
    let conf = "/etc/containers/registries.conf";
    let dropins = "/etc/containers/registries.conf.d";
    sim.files.insert(conf.into(), b"unqualified-search-registries = [\"reg.test\"]\n".to_vec());
    // The later drop-in replaces the earlier one's table for the same
    // prefix: read at once, they must still be merged in name order.
    sim.files
        .insert(format!("{dropins}/10-a.conf"), b"[[registry]]\nlocation = \"reg.test\"\nblocked = true\n".to_vec());
    sim.files
        .insert(format!("{dropins}/20-b.conf"), b"[[registry]]\nlocation = \"reg.test\"\nblocked = false\n".to_vec());
    let authfile = auth_file(&mut sim, &[("other.test", "o", "opw")]);
    let (out, rounds) = sim.run_in_rounds(inspect_raw(json!({"registry": {"authfile": authfile}})));
    assert_eq!(out.unwrap().as_bytes(), image.manifest.as_slice(), "the drop-ins merged in order");
    assert_eq!(round_of(&rounds, conf), round_of(&rounds, dropins), "{rounds:#?}");
    let a = round_of(&rounds, &format!("{dropins}/10-a.conf"));
    assert_eq!(a, round_of(&rounds, &format!("{dropins}/20-b.conf")), "{rounds:#?}");
    let auth = round_of(&rounds, authfile);
    let certs = rounds
        .iter()
        .position(|round| round.iter().any(|r| file_path(r).is_some_and(|p| p.contains("certs.d"))))
        .expect("certs.d was looked up");
    assert_eq!(auth, certs, "credentials and certs.d in one round: {rounds:#?}");
}
