//! HTTP proxies from the environment, through a real proxy (Debian's
//! tinyproxy) on loopback. Go never proxies `localhost` or loopback IP
//! literals, so the registry is reached by a name of its own that
//! /etc/hosts maps to 127.0.0.1; skiff and skopeo are run alike.

use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::free_port;
use skiff_tests::harness::process::Service;
use skiff_tests::harness::tools::{Run, run, skiff_cmd, test_home};

/// A name for 127.0.0.1 that is not `localhost`.
const NAME: &str = "skiff-proxied.test";

struct Tinyproxy {
    _service: Service,
    port: u16,
    log: std::path::PathBuf,
}

fn proxy() -> &'static Tinyproxy {
    static P: OnceLock<Tinyproxy> = OnceLock::new();
    P.get_or_init(|| {
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        if !hosts.lines().any(|l| l.split_whitespace().skip(1).any(|n| n == NAME)) {
            let mut with = hosts.clone();
            if !with.ends_with('\n') && !with.is_empty() {
                with.push('\n');
            }
            with.push_str(&format!("127.0.0.1 {NAME}\n"));
            std::fs::write("/etc/hosts", with).expect("the proxy tests name 127.0.0.1 in /etc/hosts (run as root)");
        }
        let dir = world().root.join("tinyproxy");
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let log = dir.join("tinyproxy.log");
        let conf = dir.join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{}\"\nLogLevel Info\nMaxClients 20\nAllow 127.0.0.1\nConnectPort {}\n",
                log.display(),
                world().plain.port
            ),
        )
        .unwrap();
        let service = Service::start("tinyproxy", "tinyproxy", &["-d", "-c", conf.to_str().unwrap()], &dir.join("out.log"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tinyproxy did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Tinyproxy { _service: service, port, log }
    })
}

fn image() -> String {
    format!("docker://{NAME}:{}/test/oci:v1", world().plain.port)
}

/// `tool inspect --raw` with `env` set; the lines the proxy logged meanwhile.
fn through(mut cmd: Command, env: &[(&str, String)]) -> (Run, Vec<String>) {
    // One run at a time: the proxy's log is shared.
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let p = proxy();
    let before = std::fs::read_to_string(&p.log).unwrap_or_default().lines().count();
    for var in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(["inspect", "--raw", "--tls-verify=false", &image()]);
    let r = run(cmd);
    let log = std::fs::read_to_string(&p.log).unwrap_or_default();
    let lines = log.lines().skip(before).filter(|l| l.contains(NAME)).map(str::to_owned).collect();
    (r, lines)
}

fn skopeo_cmd() -> Command {
    let mut cmd = Command::new("skopeo");
    cmd.env("HOME", test_home());
    cmd
}

#[test]
fn requests_go_through_the_environments_proxy_as_with_skopeo() {
    let url = format!("http://127.0.0.1:{}", proxy().port);
    let env = [("HTTP_PROXY", url.clone()), ("HTTPS_PROXY", url)];
    let (ours, our_lines) = through(skiff_cmd(), &env);
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    let (theirs, their_lines) = through(skopeo_cmd(), &env);
    assert_eq!(theirs.code, 0, "{}", theirs.stderr);
    assert_eq!(ours.stdout, theirs.stdout);
    for (who, lines) in [("skiff", &our_lines), ("skopeo", &their_lines)] {
        assert!(
            lines.iter().any(|l| l.contains("/v2/test/oci/manifests/v1")),
            "{who} went through the proxy: {lines:?}"
        );
    }
}

#[test]
fn no_proxy_and_a_dead_proxy() {
    let url = format!("http://127.0.0.1:{}", proxy().port);
    // NO_PROXY names the registry: straight there.
    let env = [("HTTP_PROXY", url.clone()), ("HTTPS_PROXY", url), ("NO_PROXY", format!("other.test,{NAME}"))];
    let (ours, lines) = through(skiff_cmd(), &env);
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    assert!(lines.is_empty(), "nothing through the proxy: {lines:?}");
    // A proxy that is not there: the request fails, it does not go around it.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (r, _) = through(skiff_cmd(), &[("HTTP_PROXY", dead.clone()), ("https_proxy", dead)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains(NAME), "{}", r.stderr);
}
