//! A running `logpack serve` over a copy of the sample deployment, for the
//! tests that drive the HTTP API with outside clients.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{bin, sample_dir, Tree};

/// The sample deployment's project (examples/sample/deployment.json).
pub const GROUP: &str = "5f3c2a1b9d8e7f6a5b4c3d2e";

/// `logpack serve` and the copy of the sample it serves.
pub struct Server {
    child: Mutex<Option<Child>>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Holds `sample/` (the copy), `spool/` and `keys.json`.
    pub tree: Tree,
    /// What the server wrote on stderr after its listening line.
    pub stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Serves a copy of the sample deployment plus `extra_hosts`, with the
    /// keys file `keys` (mode 0600), on a free loopback port.
    pub fn start(extra_hosts: &[Value], keys: &Value, args: &[&str]) -> Server {
        let tree = Tree::new();
        let copied = Command::new("cp")
            .arg("-R")
            .arg(sample_dir())
            .arg(tree.path("sample"))
            .status()
            .unwrap()
            .success();
        assert!(copied, "cp -R examples/sample");
        let deployment_path = tree.path("sample/deployment.json");
        let mut deployment: Value =
            serde_json::from_slice(&std::fs::read(&deployment_path).unwrap()).unwrap();
        for h in extra_hosts {
            deployment["hosts"].as_array_mut().unwrap().push(h.clone());
        }
        std::fs::write(&deployment_path, deployment.to_string()).unwrap();
        let keys = tree.file("keys.json", keys.to_string());
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut child = Command::new(bin())
            .arg("serve")
            .arg("--spool")
            .arg(tree.path("spool"))
            .arg("--deployment")
            .arg(&deployment_path)
            .arg("--keys")
            .arg(&keys)
            .args(["--listen", "127.0.0.1:0", "--threads", "2"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let first = lines.next().expect("serve prints a line").unwrap();
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("not a listening line: {first}"))
            .to_string();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(l + "\n"));
            }
        });
        Server {
            child: Mutex::new(Some(child)),
            base: format!("http://{addr}"),
            tree,
            stderr,
        }
    }

    /// `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The project's job routes, then `rest`.
    pub fn jobs_url(&self, rest: &str) -> String {
        self.url(&format!(
            "/api/public/v1.0/groups/{GROUP}/logCollectionJobs{rest}"
        ))
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().as_ref().unwrap().id()
    }

    /// SIGTERM, then the exit code. The files stay until the drop.
    pub fn stop(&self) -> i32 {
        let mut child = self.child.lock().unwrap().take().unwrap();
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
