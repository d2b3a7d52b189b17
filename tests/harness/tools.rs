//! Running the tools under test: the `skiff` binary and Debian's `skopeo`,
//! both with a private HOME so no user configuration leaks in.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout_str(), self.stderr))
    }
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "command failed: {}", self.stderr);
        self
    }
}

/// The `skiff` binary built next to the test binary (same profile).
pub fn skiff_path() -> PathBuf {
    if let Some(p) = std::env::var_os("SKIFF_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let p = profile_dir.join("skiff");
    assert!(p.exists(), "{} not found: build it first (cargo build --release -p skiff)", p.display());
    p
}

/// A HOME shared by every tool run in this test process (keeps the compiled
/// component cache warm and user config out).
pub fn test_home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("skiff-test-home-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

/// The environment every tool run gets: the shared test HOME and cache, no user config.
pub fn isolate(cmd: &mut Command) {
    cmd.env("HOME", test_home())
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("DOCKER_CONFIG")
        .env("XDG_CACHE_HOME", test_home().join("cache"));
}

pub fn skiff(args: &[&str]) -> Run {
    let mut cmd = Command::new(skiff_path());
    cmd.args(args);
    isolate(&mut cmd);
    run(cmd)
}

pub fn skopeo(args: &[&str]) -> Run {
    let mut cmd = Command::new("skopeo");
    cmd.args(args);
    isolate(&mut cmd);
    run(cmd)
}

/// Runs a prepared command (for extra environment).
pub fn run(mut cmd: Command) -> Run {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn skiff_cmd() -> Command {
    let mut cmd = Command::new(skiff_path());
    isolate(&mut cmd);
    cmd
}

/// `skiff` or `skopeo` (by name), isolated, for a test that adds input or
/// environment.
pub fn tool_cmd(name: &str) -> Command {
    match name {
        "skiff" => skiff_cmd(),
        _ => {
            let mut cmd = Command::new("skopeo");
            isolate(&mut cmd);
            cmd
        }
    }
}
