//! A token issuer for the registry's bearer-token auth (the docker token
//! spec): Distribution does token *verification* itself, so the only
//! stand-in here is the small service that signs tokens. Tokens are ES256
//! JWTs carrying their certificate in `x5c`, which the registry checks
//! against the `rootcertbundle` it is configured with.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;

use super::registry::{PASSWORD, USER};

pub const SERVICE: &str = "skiff-registry";
/// The OAuth2 refresh token (an auth file's `identitytoken`) the issuer accepts for the test user.
pub const REFRESH_TOKEN: &str = "skiff-refresh-token";
pub const ISSUER: &str = "skiff-issuer";

/// What one token request looked like, for assertions about credentials.
#[derive(Debug, Clone)]
pub struct Seen {
    pub query: String,
    pub authorization: Option<String>,
    /// Tests tell their own requests apart by a `--user-agent-prefix`.
    pub user_agent: Option<String>,
    /// `GET`, or `POST` for the OAuth2 form.
    pub method: String,
    /// The form of a `POST`.
    pub body: String,
}

pub struct TokenIssuer {
    pub port: u16,
    /// The certificate the registry must trust (`rootcertbundle`).
    pub cert: PathBuf,
    /// The issuer's TLS certificate (self-signed, for 127.0.0.1), when it serves HTTPS.
    pub tls_cert: PathBuf,
    /// `https` or `http`.
    pub scheme: &'static str,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

/// A stream to talk HTTP over: plain TCP or TLS.
trait ReadWrite: std::io::Read + Write + Send {}
impl<T: std::io::Read + Write + Send> ReadWrite for T {}

/// A self-signed certificate for 127.0.0.1 and the TLS server using it.
fn server_config(dir: &Path) -> rustls::ServerConfig {
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &p("tls.key"),
        "-out",
        &p("tls.crt"),
        "-days",
        "2",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]);
    use rustls::pki_types::pem::PemObject as _;
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(dir.join("tls.crt"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join("tls.key")).unwrap();
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap()
}

impl TokenIssuer {
    /// A token issuer on a free loopback port, over HTTPS when `with_tls`.
    pub fn start(dir: &Path, with_tls: bool) -> TokenIssuer {
        Self::start_with_lifetime(dir, with_tls, 600)
    }

    /// The same, its tokens good for `lifetime` seconds at the registry
    /// (Distribution accepts a token 60 s past its `exp`, so `exp` is set
    /// that much earlier) and announced with that `expires_in`.
    pub fn start_with_lifetime(dir: &Path, with_tls: bool, lifetime: u64) -> TokenIssuer {
        Self::start_full(dir, with_tls, lifetime, false)
    }

    /// An issuer that takes only the OAuth2 form (a `GET` is a 404), as some
    /// token services do: the password grant or a refresh token.
    pub fn start_oauth_only(dir: &Path) -> TokenIssuer {
        Self::start_full(dir, true, 600, true)
    }

    fn start_full(dir: &Path, with_tls: bool, lifetime: u64, oauth_only: bool) -> TokenIssuer {
        let tls = with_tls;
        std::fs::create_dir_all(dir).unwrap();
        let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
        openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &p("issuer.pem")]);
        openssl(&["pkcs8", "-topk8", "-nocrypt", "-in", &p("issuer.pem"), "-outform", "DER", "-out", &p("issuer.p8")]);
        openssl(&[
            "req",
            "-x509",
            "-key",
            &p("issuer.pem"),
            "-subj",
            "/CN=skiff token issuer",
            "-days",
            "2",
            "-out",
            &p("issuer.crt"),
        ]);
        openssl(&["x509", "-in", &p("issuer.crt"), "-outform", "DER", "-out", &p("issuer.der")]);
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &std::fs::read(dir.join("issuer.p8")).unwrap(),
            &SystemRandom::new(),
        )
        .unwrap();
        let x5c = STANDARD.encode(std::fs::read(dir.join("issuer.der")).unwrap());
        let tls = tls.then(|| Arc::new(server_config(dir)));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let key = Arc::new(key);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (key, x5c, log, tls) = (key.clone(), x5c.clone(), log.clone(), tls.clone());
                let answer =
                    move |query: &str, authorization: Option<&str>| answer(&key, &x5c, query, authorization, lifetime);
                std::thread::spawn(move || {
                    let mut conn: Box<dyn ReadWrite> = match tls {
                        Some(config) => {
                            let Ok(server) = rustls::ServerConnection::new(config) else { return };
                            Box::new(rustls::StreamOwned::new(server, stream))
                        }
                        None => Box::new(stream),
                    };
                    let (method, target, authorization, user_agent, body) = {
                        let mut reader = BufReader::new(&mut conn);
                        let mut line = String::new();
                        if reader.read_line(&mut line).is_err() {
                            return;
                        }
                        let method = line.split(' ').next().unwrap_or("").to_owned();
                        let target = line.split(' ').nth(1).unwrap_or("").to_owned();
                        let mut authorization = None;
                        let mut user_agent = None;
                        let mut length = 0usize;
                        loop {
                            let mut h = String::new();
                            if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                                break;
                            }
                            if let Some((k, v)) = h.split_once(':') {
                                if k.eq_ignore_ascii_case("authorization") {
                                    authorization = Some(v.trim().to_owned());
                                } else if k.eq_ignore_ascii_case("user-agent") {
                                    user_agent = Some(v.trim().to_owned());
                                } else if k.eq_ignore_ascii_case("content-length") {
                                    length = v.trim().parse().unwrap_or(0);
                                }
                            }
                        }
                        let mut body = vec![0u8; length.min(1 << 16)];
                        if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
                            return;
                        }
                        (method, target, authorization, user_agent, String::from_utf8_lossy(&body).into_owned())
                    };
                    let mut query = target.split_once('?').map(|(_, q)| q.to_owned()).unwrap_or_default();
                    log.lock().unwrap().push(Seen {
                        query: query.clone(),
                        authorization: authorization.clone(),
                        user_agent,
                        method: method.clone(),
                        body: body.clone(),
                    });
                    let (status, body) = if method == "POST" {
                        // The OAuth2 form: a refresh token, or the password grant, stands for the test user.
                        let field = |name: &str| {
                            body.split('&').find_map(|kv| kv.strip_prefix(&format!("{name}="))).map(percent_decode)
                        };
                        let granted = match field("grant_type").as_deref() {
                            Some("refresh_token") => field("refresh_token").as_deref() == Some(REFRESH_TOKEN),
                            Some("password") => {
                                field("username").as_deref() == Some(USER)
                                    && field("password").as_deref() == Some(PASSWORD)
                            }
                            _ => false,
                        };
                        match granted {
                            true => {
                                query = body.clone();
                                let basic = format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}")));
                                let (status, token) = answer(&query, Some(&basic));
                                let v: serde_json::Value = serde_json::from_str(&token).unwrap_or_default();
                                (status, json!({"access_token": v["token"], "expires_in": lifetime}).to_string())
                            }
                            // RFC 6749 §5.2.
                            false => ("400 Bad Request", r#"{"error":"invalid_grant"}"#.to_owned()),
                        }
                    } else if oauth_only {
                        ("404 Not Found", r#"{"error":"not found"}"#.to_owned())
                    } else {
                        answer(&query, authorization.as_deref())
                    };
                    let _ = write!(
                        conn,
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.flush();
                });
            }
        });
        let scheme = if with_tls { "https" } else { "http" };
        TokenIssuer { port, cert: dir.join("issuer.crt"), tls_cert: dir.join("tls.crt"), scheme, seen }
    }

    /// The registry config block that delegates auth to this issuer.
    pub fn registry_config(&self) -> String {
        self.registry_config_at("127.0.0.1")
    }

    /// The same, the realm naming this issuer by `host` (`localhost`: another
    /// host than a registry reached at 127.0.0.1).
    pub fn registry_config_at(&self, host: &str) -> String {
        format!(
            "auth:\n  token:\n    realm: {}://{host}:{}/token\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            self.scheme,
            self.port,
            self.cert.display()
        )
    }
}

/// Distribution's leeway for a token's `exp`.
const LEEWAY_S: u64 = 60;

fn answer(
    key: &EcdsaKeyPair,
    x5c: &str,
    query: &str,
    authorization: Option<&str>,
    lifetime: u64,
) -> (&'static str, String) {
    let expected = format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}")));
    let (subject, full) = match authorization {
        None => ("", false),
        Some(a) if a == expected => (USER, true),
        Some(_) => return ("401 Unauthorized", r#"{"details":"invalid username or password"}"#.to_owned()),
    };
    let mut access = vec![];
    for kv in query.split('&') {
        if let Some(scope) = kv.strip_prefix("scope=") {
            let scope = percent_decode(scope);
            let mut parts = scope.splitn(3, ':');
            let (Some(kind), Some(name), Some(actions)) = (parts.next(), parts.next(), parts.next()) else { continue };
            // Anonymous users may pull; the test user may do anything asked.
            let granted: Vec<&str> = actions.split(',').filter(|a| full || *a == "pull").collect();
            access.push(json!({"type": kind, "name": name, "actions": granted}));
        }
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [x5c]});
    let exp = (now + lifetime).saturating_sub(LEEWAY_S);
    let claims = json!({"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": exp, "nbf": now - 120, "iat": now, "jti": format!("{now}-{}", access.len()), "access": access});
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = key.sign(&SystemRandom::new(), signing_input.as_bytes()).unwrap();
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()));
    ("200 OK", json!({"token": token, "expires_in": lifetime}).to_string())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().expect("running openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}
