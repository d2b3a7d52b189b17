//! Background services that die with the test process: each runs under a
//! shell watchdog that kills it when the test binary exits, even when Rust
//! never runs the destructors of shared fixtures.

use std::process::{Child, Command, Stdio};

/// A running background service; killed on drop, and when the tests exit.
pub struct Service {
    child: Child,
    pub name: String,
}

impl Service {
    /// Starts `program args…` under a watchdog tied to this process.
    pub fn start(name: &str, program: &str, args: &[&str], log: &std::path::Path) -> Service {
        let script = r#"
            "$@" &
            child=$!
            trap 'kill $child 2>/dev/null' EXIT TERM INT
            while kill -0 $WATCH_PID 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.2; done
        "#;
        let log_file = std::fs::File::create(log).expect("creating service log");
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("watchdog")
            .arg(program)
            .args(args)
            .env("WATCH_PID", std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} ({program}): {e}"));
        Service { child, name: name.to_owned() }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // SIGTERM to the watchdog shell makes it kill the service.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}
