//! Discovery of real processes named `mongod` and `mongos`, through the real
//! `/proc`, with config files the tests write.
//!
//! The fake server is this test binary itself, started through a symlink
//! named `mongod` (or `mongos`): the kernel takes a process's `comm` from
//! the name it was executed by, so it is a "mongod" to /proc, with whatever
//! command line the test gives it (`--config FILE --port N`). A program
//! that already exists would not do: `sleep` and its kind refuse unknown
//! options, and `exec -a mongod` changes argv\[0\] but not `comm`. So that
//! the test harness never sees mongod's options, the fake's work happens
//! before `main`, in a function in `.init_array` that runs only when
//! `LOGPACK_DISCOVER_FAKE` is set: it waits until the test closes its
//! stdin (or, with `exit`, exits at once), then exits. A test that dies
//! closes the pipe, so no fake outlives it.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use logpack_discover::{discover, Discovery, FoundProcess, Kind, Roots};

const FAKE: &str = "LOGPACK_DISCOVER_FAKE";
/// Set (to a file path) for a child that runs discovery and writes the
/// result there, as whatever user it was started as.
const RUN_AS: &str = "LOGPACK_DISCOVER_REPORT_TO";

#[used]
#[link_section = ".init_array"]
static BEFORE_MAIN: extern "C" fn() = before_main;

extern "C" fn before_main() {
    if let Some(mode) = std::env::var_os(FAKE) {
        if mode != "exit" {
            let mut buf = [0u8; 64];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        }
        std::process::exit(0);
    }
    if let Some(out) = std::env::var_os(RUN_AS) {
        let d = discover(&Roots {
            etc_root: PathBuf::from("/nonexistent-etc"),
            opt_root: PathBuf::from("/nonexistent-opt"),
            ..Roots::default()
        });
        let lines: Vec<String> = d
            .processes
            .iter()
            .map(|p| format!("found {} {}", p.pid, p.port))
            .chain(d.notes.iter().map(|n| format!("note {n}")))
            .collect();
        let code = if fs::write(&out, lines.join("\n")).is_ok() {
            0
        } else {
            1
        };
        std::process::exit(code);
    }
}

/// A fake server: killed and reaped when dropped.
struct Fake {
    child: Child,
}

impl Fake {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory with `bin/mongod` and `bin/mongos` linking to this binary.
struct Place {
    dir: tempfile::TempDir,
}

impl Place {
    fn new() -> Place {
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        fs::create_dir(dir.path().join("bin")).unwrap();
        for name in ["mongod", "mongos"] {
            symlink(&exe, dir.path().join("bin").join(name)).unwrap();
        }
        Place { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }

    fn start(&self, name: &str, cwd: &Path, args: &[&str]) -> Fake {
        self.start_with(name, cwd, args, "wait", |_| {})
    }

    fn start_with(
        &self,
        name: &str,
        cwd: &Path,
        args: &[&str],
        mode: &str,
        adjust: impl FnOnce(&mut Command),
    ) -> Fake {
        fs::create_dir_all(cwd).unwrap();
        let mut cmd = Command::new(self.path("bin").join(name));
        cmd.args(args)
            .current_dir(cwd)
            .env(FAKE, mode)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        adjust(&mut cmd);
        let fake = Fake {
            child: cmd.spawn().unwrap(),
        };
        wait_until_visible(fake.pid(), name);
        fake
    }
}

/// Until the child has exec'd, /proc shows the test's own name.
fn wait_until_visible(pid: u32, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(comm) = fs::read_to_string(format!("/proc/{pid}/comm")) {
            if comm.trim_end() == name {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("pid {pid} never became {name}");
}

fn check(d: &Discovery) {
    if let Some(json) = d.request_json(true) {
        let parsed = logpack::Request::from_json(&json, Path::new("/"));
        assert!(parsed.is_ok(), "{json}\n{:?}", parsed.err());
    } else {
        assert_eq!(d.found, 0);
    }
}

fn live() -> Discovery {
    // Real /proc; /etc and /opt redirected so that the machine's own
    // agents or Ops Manager, if any, do not matter.
    let d = discover(&Roots {
        etc_root: PathBuf::from("/nonexistent-etc"),
        opt_root: PathBuf::from("/nonexistent-opt"),
        ..Roots::default()
    });
    check(&d);
    d
}

fn ours(d: &Discovery, pid: u32) -> &FoundProcess {
    d.processes
        .iter()
        .find(|p| p.pid == pid)
        .unwrap_or_else(|| panic!("pid {pid} not found:\n{}", d.summary()))
}

fn note_for(d: &Discovery, pid: u32) -> &str {
    let prefix = format!("pid {pid} ");
    d.notes
        .iter()
        .find(|n| n.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no note for pid {pid}:\n{}", d.summary()))
}

/// A port for this run: other runs (or other programs' fakes) on the
/// machine use others, so "keep the first of two on one port" never drops
/// ours.
fn port(offset: u16) -> u16 {
    20000 + (std::process::id() % 2000) as u16 * 10 + offset
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn real_mongod_and_mongos_with_config_files() {
    let place = Place::new();
    // YAML, relative to the working directory, with a multi-byte name.
    let work = place.path("wörk-東京");
    place.write(
        "wörk-東京/mongod.yaml",
        "# written by the test\nsystemLog:\n  destination: file\n  logAppend: true\n  path: logs/mongod.log\n\
         storage:\n  dbPath: db\nnet:\n  port: 1111   # the command line's --port wins\n  bindIp: 127.0.0.1\n\
         replication:\n  replSetName: rsLive\nauditLog:\n  destination: file\n  format: JSON\n  path: audit/audit.json\n",
    );
    let mongod = place.start(
        "mongod",
        &work,
        &["--config", "mongod.yaml", "--port", &port(0).to_string()],
    );

    // The legacy form, absolute, for a mongos.
    let legacy = place.write(
        "etc/mongos.conf",
        &format!(
            "# legacy\nport = {}\nlogpath = {}\nconfigdb = cfg/localhost:27019\nfork = true\n",
            port(1),
            place.path("log/mongos.log").display()
        ),
    );
    let mongos = place.start(
        "mongos",
        &place.path("s"),
        &["-f", legacy.to_str().unwrap()],
    );

    // No config file at all, `--opt=value` forms and a shard's seed-list replSet.
    let plain = place.start(
        "mongod",
        &place.path("plain"),
        &[
            "--shardsvr",
            "--replSet=shard01/h1:27018,h2:27018",
            "--dbpath=/tmp/none/db",
            "--logpath=m.log",
            &format!("--port={}", port(2)),
            "--fork",
        ],
    );

    let d = live();
    let p = ours(&d, mongod.pid());
    assert_eq!(p.kind, Kind::Mongod);
    assert!(p.exe.ends_with("bin/mongod"), "{}", p.exe);
    assert_eq!(p.port, port(0));
    assert_eq!(Path::new(&p.log_path), work.join("logs/mongod.log"));
    assert_eq!(
        p.db_path.as_deref().map(Path::new),
        Some(work.join("db").as_path())
    );
    assert_eq!(p.replica_set.as_deref(), Some("rsLive"));
    assert_eq!(
        p.audit_log_path.as_deref().map(Path::new),
        Some(work.join("audit/audit.json").as_path())
    );
    assert_eq!(
        p.config.as_deref().map(Path::new),
        Some(work.join("mongod.yaml").as_path())
    );

    let s = ours(&d, mongos.pid());
    assert_eq!((s.kind, s.port), (Kind::Mongos, port(1)));
    assert_eq!(Path::new(&s.log_path), place.path("log/mongos.log"));
    assert!(s.legacy_config);

    let q = ours(&d, plain.pid());
    assert_eq!(q.replica_set.as_deref(), Some("shard01"));
    assert_eq!(Path::new(&q.log_path), place.path("plain/m.log"));
    assert_eq!(q.port, port(2));

    // Just ours, as a request of their own: collect accepts it.
    let mine = Discovery {
        processes: d
            .processes
            .iter()
            .filter(|p| [mongod.pid(), mongos.pid(), plain.pid()].contains(&p.pid))
            .cloned()
            .collect(),
        found: 3,
        hostname: d.hostname.clone(),
        ..Discovery::default()
    };
    check(&mine);
    assert!(d
        .summary()
        .contains(&format!("mongod pid {}", mongod.pid())));
}

#[test]
fn real_processes_that_cannot_be_collected() {
    let place = Place::new();
    let cwd = place.path("run");
    let bad = place.write("run/bad.yaml", "systemLog:\n  path: [oops\n");
    let syslog = place.write(
        "run/syslog.yaml",
        &format!(
            "systemLog:\n  destination: syslog\nnet:\n  port: {}\n",
            port(4)
        ),
    );
    let locked = place.write(
        "run/locked.yaml",
        &format!(
            "systemLog:\n  destination: file\n  path: /tmp/locked.log\nnet:\n  port: {}\n",
            port(5)
        ),
    );
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();

    let invalid = place.start(
        "mongod",
        &cwd,
        &[
            "--config",
            bad.to_str().unwrap(),
            "--port",
            &port(3).to_string(),
        ],
    );
    let to_syslog = place.start("mongod", &cwd, &["-f", syslog.to_str().unwrap()]);
    let unreadable = place.start("mongod", &cwd, &["--config", locked.to_str().unwrap()]);
    let stdout = place.start("mongos", &cwd, &["--port", &port(6).to_string()]);
    let missing = place.start(
        "mongod",
        &cwd,
        &["--config", "nope.yaml", "--port", &port(7).to_string()],
    );

    let d = live();
    assert!(note_for(&d, invalid.pid()).contains("not valid YAML"));
    assert!(note_for(&d, to_syslog.pid()).contains("syslog"));
    if is_root() {
        // chmod 000 does not stop root: the file is read.
        assert_eq!(ours(&d, unreadable.pid()).port, port(5));
    } else {
        assert!(note_for(&d, unreadable.pid()).contains("permission denied"));
    }
    assert!(note_for(&d, stdout.pid()).contains("stdout"));
    assert!(note_for(&d, missing.pid()).contains("not found"));
    assert!(!d.processes.iter().any(|p| [
        invalid.pid(),
        to_syslog.pid(),
        stdout.pid(),
        missing.pid()
    ]
    .contains(&p.pid)));
}

/// Processes that exit while discovery reads them: never a panic, every
/// request still valid, and each of ours either found or noted.
#[test]
fn processes_exiting_during_discovery() {
    let place = Place::new();
    let conf = place.write(
        "c/m.yaml",
        "systemLog:\n  destination: file\n  path: /tmp/x.log\n",
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let spawner = {
        let stop = stop.clone();
        let pids = pids.clone();
        let bin = place.path("bin/mongod");
        let cwd = place.path("c");
        let conf = conf.clone();
        std::thread::spawn(move || {
            let mut reapers = Vec::new();
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 400 {
                // Ports outside this run's ten: these may collide with each other.
                let port = (40000 + n % 500).to_string();
                if let Ok(mut c) = Command::new(&bin)
                    .args(["--config", conf.to_str().unwrap(), "--port", &port])
                    .current_dir(&cwd)
                    .env(FAKE, "exit")
                    .stdin(Stdio::null())
                    .spawn()
                {
                    pids.lock().unwrap().push(c.id());
                    // Reap some at once and leave others as zombies a while.
                    if n % 3 == 0 {
                        let _ = c.wait();
                    } else {
                        reapers.push(std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_millis(20));
                            let _ = c.wait();
                        }));
                    }
                }
                n += 1;
            }
            // Every child reaped before the test ends: none is left a
            // zombie for init (or a later discovery) to find.
            for r in reapers {
                let _ = r.join();
            }
        })
    };
    let mut seen = 0;
    for round in 0.. {
        let d = live();
        assert!(
            !d.notes.iter().any(|n| n.contains("internal error")),
            "{:?}",
            d.notes
        );
        let spawned = pids.lock().unwrap().clone();
        seen += d
            .processes
            .iter()
            .filter(|p| spawned.contains(&p.pid))
            .count();
        seen += d
            .notes
            .iter()
            .filter(|n| {
                spawned
                    .iter()
                    .any(|pid| n.starts_with(&format!("pid {pid} ")))
            })
            .count();
        if (round >= 30 && seen > 0) || round >= 3000 {
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    spawner.join().unwrap();
    // Discovery did meet them (found, or noted as exited or zombie).
    assert!(seen > 0, "none of the short-lived processes was ever seen");
}

/// Another user's process: as an unprivileged user, discovery cannot read
/// a root process's working directory (needed for a relative config path)
/// nor a config file only root may read. Needs root to set up; skipped
/// otherwise.
#[test]
fn other_users_processes_as_an_unprivileged_user() {
    use std::os::unix::process::CommandExt;
    if !is_root() {
        eprintln!("skipped: needs root to start processes as root and read them as nobody");
        return;
    }
    let place = Place::new();
    let private = place.path("private");
    fs::create_dir_all(&private).unwrap();
    let conf = place.write(
        "private/m.yaml",
        "systemLog:\n  destination: file\n  path: /tmp/p.log\n",
    );
    fs::set_permissions(&conf, fs::Permissions::from_mode(0o600)).unwrap();
    let relative = place.start(
        "mongod",
        &private,
        &["--config", "m.yaml", "--port", &port(8).to_string()],
    );
    let absolute = place.start(
        "mongod",
        &private,
        &[
            "--config",
            conf.to_str().unwrap(),
            "--port",
            &port(9).to_string(),
        ],
    );
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();

    // The reporter: this binary again, as nobody, writing to a file nobody may write.
    let out_dir = tempfile::tempdir().unwrap();
    fs::set_permissions(out_dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let out = out_dir.path().join("report.txt");
    let exe = std::env::current_exe().unwrap();
    let status = Command::new(&exe)
        .env(RUN_AS, &out)
        .uid(65534)
        .gid(65534)
        .current_dir("/")
        .stdin(Stdio::null())
        .status();
    let report = match status {
        Ok(s) if s.success() => fs::read_to_string(&out).unwrap(),
        other => {
            // The test binary must be reachable by nobody; in a private
            // target directory it is not, and this check cannot run.
            eprintln!("skipped: the reporter could not run as nobody ({other:?})");
            return;
        }
    };
    let line = |pid: u32| {
        report
            .lines()
            .find(|l| l.starts_with(&format!("note pid {pid} ")))
            .unwrap_or_else(|| panic!("no note for {pid}:\n{report}"))
            .to_string()
    };
    let l = line(relative.pid());
    assert!(
        l.contains("working directory cannot be read") && l.contains("permission denied"),
        "{l}"
    );
    // The reporter reads no passwd (its /etc is redirected): the uid is shown.
    assert!(l.contains("user uid 0"), "{l}");
    let l = line(absolute.pid());
    assert!(l.contains("permission denied"), "{l}");
    assert!(!report.contains(&format!("found {} ", relative.pid())));
}
