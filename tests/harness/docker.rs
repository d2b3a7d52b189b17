//! A real Docker Engine (Debian's `docker.io`): `dockerd` with the vfs
//! storage driver, no networking of its own, on a private socket, data and
//! exec roots, started once per test process and stopped with it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::process::Service;
use super::tools::{Run, run};

pub struct Docker {
    _service: Service,
    pub socket: PathBuf,
}

/// The engine shared by this test process.
pub fn docker() -> &'static Docker {
    static DOCKER: OnceLock<Docker> = OnceLock::new();
    DOCKER.get_or_init(|| Docker::start(&super::fixtures::world().root.join("docker")))
}

impl Docker {
    fn start(dir: &Path) -> Docker {
        std::fs::create_dir_all(dir).unwrap();
        let socket = dir.join("docker.sock");
        let host = format!("unix://{}", socket.display());
        let (data, exec, pid) = (dir.join("data"), dir.join("exec"), dir.join("docker.pid"));
        let args = [
            "--storage-driver=vfs",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            "--host",
            &host,
            "--data-root",
            data.to_str().unwrap(),
            "--exec-root",
            exec.to_str().unwrap(),
            "--pidfile",
            pid.to_str().unwrap(),
        ];
        let program = if Path::new("/usr/sbin/dockerd").exists() { "/usr/sbin/dockerd" } else { "dockerd" };
        let service = Service::start("dockerd", program, &args, &dir.join("dockerd.log"));
        let started = Instant::now();
        while !ping(&socket) {
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "dockerd did not answer on {}; see {}",
                socket.display(),
                dir.join("dockerd.log").display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Docker { _service: service, socket }
    }

    /// `unix:///…/docker.sock`, for `--*-daemon-host` and `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The docker CLI against this engine.
    pub fn cli(&self, args: &[&str]) -> Run {
        // Debian's client (same release as the engine) when present.
        let program = if Path::new("/usr/bin/docker").exists() { "/usr/bin/docker" } else { "docker" };
        let mut cmd = Command::new(program);
        cmd.arg("--host").arg(self.host()).args(args).env("DOCKER_CONFIG", self.socket.with_file_name("config"));
        run(cmd)
    }

    /// The image ID (config digest) the engine has for `name`.
    pub fn image_id(&self, name: &str) -> String {
        let r = self.cli(&["image", "inspect", "--format", "{{.Id}}", name]).ok();
        r.stdout_str().trim().to_owned()
    }
}

/// `GET /_ping` over the socket answers `OK`.
fn ping(socket: &Path) -> bool {
    let Ok(mut s) = UnixStream::connect(socket) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}
