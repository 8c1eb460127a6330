//! Digest authentication (src/digest.rs) against REAL clients: `curl
//! --digest` and Python `requests` with `HTTPDigestAuth`, talking to a
//! tiny HTTP/1.1 server made here (std only, a thread per connection)
//! that answers 401 with `Nonces::challenge` or 200 `ok <username>`.
//!
//! Without curl, python3 or requests the tests are skipped with a message,
//! unless CI is set, when they fail.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use logpack_server::digest::{Nonces, Offer, Verdict};

const USER: &str = "abcdefgh";
const PASS: &str = "5c1d4e2f-8a9b-4c3d-9e0f-a1b2c3d4e5f6";
const TARGET: &str = "/api/public/v1.0/groups/x?pretty=true";

/// What the test server saw.
#[derive(Default)]
struct Log {
    /// Every Authorization header, in order of arrival.
    auth: Vec<String>,
    /// "ok", "stale" or "denied: reason", for each request with a header.
    verdicts: Vec<String>,
    /// Headers taken by capture mode, not verified.
    captured: Vec<String>,
}

struct TestServer {
    port: u16,
    log: Arc<Mutex<Log>>,
    /// When set, the next request with an Authorization header is answered
    /// 200 `captured` without verifying it (so its nc stays unused).
    capture_next: Arc<AtomicBool>,
}

impl TestServer {
    fn start(nonces: Nonces) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let nonces = Arc::new(nonces);
        let log = Arc::new(Mutex::new(Log::default()));
        let capture_next = Arc::new(AtomicBool::new(false));
        let (l, c) = (log.clone(), capture_next.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (n, l, c) = (nonces.clone(), l.clone(), c.clone());
                thread::spawn(move || {
                    let _ = serve(stream, &n, &l, &c);
                });
            }
        });
        TestServer {
            port,
            log,
            capture_next,
        }
    }

    fn url(&self, target: &str) -> String {
        format!("http://127.0.0.1:{}{target}", self.port)
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap()
    }
}

fn password_of(user: &str) -> Option<String> {
    (user == USER).then(|| PASS.to_string())
}

/// One connection: requests in turn until the client closes (or asks to).
fn serve(
    stream: TcpStream,
    nonces: &Nonces,
    log: &Mutex<Log>,
    capture_next: &AtomicBool,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let request_line = String::from_utf8_lossy(&line).trim_end().to_string();
        let mut parts = request_line.split(' ');
        let (Some(method), Some(target), Some(_version)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Ok(());
        };
        let (method, target) = (method.to_string(), target.to_string());
        let mut headers: HashMap<String, String> = HashMap::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            let h = String::from_utf8_lossy(&line).trim_end().to_string();
            if h.is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
            }
        }
        if let Some(len) = headers.get("content-length") {
            let len: u64 = len.parse().unwrap_or(0);
            std::io::copy(&mut (&mut reader).take(len), &mut std::io::sink())?;
        }
        let close = headers
            .get("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));

        let auth = headers.get("authorization").cloned();
        let (status, www, body) = match auth {
            Some(a) if capture_next.swap(false, Ordering::SeqCst) => {
                log.lock().unwrap().captured.push(a);
                (200, vec![], "captured".to_string())
            }
            Some(a) => {
                let verdict =
                    nonces.check_header(&method, &target, &a, password_of, Instant::now());
                let mut log = log.lock().unwrap();
                log.auth.push(a);
                match verdict {
                    Verdict::Ok { username } => {
                        log.verdicts.push("ok".into());
                        (200, vec![], format!("ok {username}"))
                    }
                    Verdict::Stale => {
                        log.verdicts.push("stale".into());
                        (401, nonces.challenge(true), String::new())
                    }
                    Verdict::Denied(reason) => {
                        log.verdicts.push(format!("denied: {reason}"));
                        (401, nonces.challenge(false), String::new())
                    }
                }
            }
            None => (401, nonces.challenge(false), String::new()),
        };
        let mut response = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n",
            if status == 200 { "OK" } else { "Unauthorized" },
            body.len()
        );
        for w in www {
            response.push_str(&format!("WWW-Authenticate: {w}\r\n"));
        }
        if close {
            response.push_str("Connection: close\r\n");
        }
        response.push_str("\r\n");
        response.push_str(&body);
        out.write_all(response.as_bytes())?;
        out.flush()?;
        if close {
            return Ok(());
        }
    }
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// True when `what` is there; otherwise fails under CI, else skips.
fn require(what: &str, present: bool) -> bool {
    if present {
        return true;
    }
    assert!(
        !ci(),
        "{what} is required for the Digest client tests when CI is set"
    );
    eprintln!("skipping: {what} not found (with CI=1 this is a failure)");
    false
}

fn have_curl() -> bool {
    require(
        "curl",
        Command::new("curl")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
    )
}

fn have_requests() -> bool {
    require(
        "python3 with the requests package",
        Command::new("python3")
            .args(["-c", "import requests"])
            .output()
            .is_ok_and(|o| o.status.success()),
    )
}

/// Runs curl with `--digest -u user:pass` and `args`; gives the bodies and
/// the status code of each transfer.
fn curl(user: &str, pass: &str, args: &[&str]) -> (String, Vec<u16>) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--digest", "-u"])
        .arg(format!("{user}:{pass}"))
        .args(["-w", "\n@@CODE=%{http_code}\n"])
        .args(args)
        .output()
        .expect("run curl");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "curl failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let codes = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("@@CODE="))
        .map(|c| c.parse().unwrap())
        .collect();
    (stdout, codes)
}

const REQUESTS_SCRIPT: &str = r#"
import sys, time, requests
from requests.auth import HTTPDigestAuth
url, user, pw, n, pause = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
s = requests.Session()
s.auth = HTTPDigestAuth(user, pw)
for i in range(n):
    r = s.get(url, timeout=20) if i % 2 == 0 else s.post(url, json={"i": i}, timeout=20)
    print(r.status_code, r.text)
if pause > 0:
    time.sleep(pause)
    r = s.get(url, timeout=20)
    print(r.status_code, r.text)
"#;

/// Runs the requests script: `n` requests in one Session (GET and POST in
/// turn), then, if `pause` > 0, one more after sleeping `pause` seconds.
/// Gives one "status body" line per request.
fn python_requests(url: &str, user: &str, pass: &str, n: u32, pause: f64) -> Vec<String> {
    let out = Command::new("python3")
        .args(["-c", REQUESTS_SCRIPT, url, user, pass])
        .arg(n.to_string())
        .arg(pause.to_string())
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Sends one GET with `auth` on a new connection; gives the status code.
fn raw_get(port: u16, target: &str, auth: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap_or("");
    status
        .parse()
        .unwrap_or_else(|_| panic!("bad response {response:?}"))
}

fn param<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    // " name=", so that "nonce" does not find "cnonce".
    let at = header.find(&format!(" {name}="))? + name.len() + 2;
    let rest = header[at..].trim_start_matches('"');
    let end = rest.find(['"', ',']).unwrap_or(rest.len());
    Some(&rest[..end])
}

#[test]
fn curl_digest_each_offer() {
    if !have_curl() {
        return;
    }
    for offer in [Offer::Md5, Offer::Sha256, Offer::Sha256AndMd5] {
        let server = TestServer::start(Nonces::new().offer(offer));
        let (out, codes) = curl(USER, PASS, &[&server.url(TARGET)]);
        assert_eq!(codes, [200], "{offer:?}: {out}");
        assert!(out.starts_with(&format!("ok {USER}\n")), "{out}");
        let log = server.log();
        assert_eq!(log.verdicts, ["ok"], "{offer:?}");
        let alg = param(&log.auth[0], "algorithm").unwrap_or("MD5");
        eprintln!("curl, {offer:?}: answered with {alg}");
        let expected = match offer {
            Offer::Md5 => "MD5",
            // curl takes the first challenge.
            Offer::Sha256 | Offer::Sha256AndMd5 => "SHA-256",
        };
        assert_eq!(alg, expected, "{offer:?}");
        assert_eq!(param(&log.auth[0], "uri"), Some(TARGET));
    }
}

#[test]
fn curl_two_transfers_and_a_post() {
    if !have_curl() {
        return;
    }
    let server = TestServer::start(Nonces::new());
    let url = server.url(TARGET);
    let (out, codes) = curl(USER, PASS, &[&url, &url]);
    assert_eq!(codes, [200, 200], "{out}");
    let (out, codes) = curl(USER, PASS, &["-X", "POST", "-d", "{\"a\":1}", &url]);
    assert_eq!(codes, [200], "{out}");
    let log = server.log();
    assert!(log.verdicts.iter().all(|v| v == "ok"), "{:?}", log.verdicts);
}

#[test]
fn curl_wrong_password_and_unknown_user() {
    if !have_curl() {
        return;
    }
    let server = TestServer::start(Nonces::new());
    let (out, codes) = curl(USER, "not-the-password", &[&server.url(TARGET)]);
    assert_eq!(codes, [401], "{out}");
    let (out, codes) = curl("someone", PASS, &[&server.url(TARGET)]);
    assert_eq!(codes, [401], "{out}");
    let log = server.log();
    assert_eq!(log.verdicts.len(), 2);
    assert!(log
        .verdicts
        .iter()
        .all(|v| v.starts_with("denied: username/password")));
}

#[test]
fn curl_header_replayed_is_refused() {
    if !have_curl() {
        return;
    }
    let server = TestServer::start(Nonces::new());
    // A header curl sent, taken before the server used it: the first replay
    // goes through, the second is refused.
    server.capture_next.store(true, Ordering::SeqCst);
    let (_, codes) = curl(USER, PASS, &[&server.url(TARGET)]);
    assert_eq!(codes, [200]);
    let captured = server.log().captured[0].clone();
    assert_eq!(raw_get(server.port, TARGET, &captured), 200);
    assert_eq!(raw_get(server.port, TARGET, &captured), 401);
    assert_eq!(raw_get(server.port, TARGET, &captured), 401);
    // A header the server already accepted is refused at once.
    let (_, codes) = curl(USER, PASS, &[&server.url(TARGET)]);
    assert_eq!(codes, [200]);
    let used = server.log().auth.last().unwrap().clone();
    assert_eq!(raw_get(server.port, TARGET, &used), 401);
    // An unused header for another target is refused too.
    let captured = {
        server.capture_next.store(true, Ordering::SeqCst);
        curl(USER, PASS, &[&server.url(TARGET)]);
        server.log().captured[1].clone()
    };
    assert_eq!(
        raw_get(
            server.port,
            "/api/public/v1.0/groups/y?pretty=true",
            &captured
        ),
        401
    );
    let log = server.log();
    let replays = log
        .verdicts
        .iter()
        .filter(|v| v.contains("nc: replayed"))
        .count();
    assert_eq!(replays, 3, "{:?}", log.verdicts);
    assert!(
        log.verdicts.last().unwrap().contains("uri:"),
        "{:?}",
        log.verdicts
    );
}

#[test]
fn python_requests_session_increments_nc() {
    if !have_requests() {
        return;
    }
    for offer in [Offer::Md5, Offer::Sha256, Offer::Sha256AndMd5] {
        let server = TestServer::start(Nonces::new().offer(offer));
        let lines = python_requests(&server.url(TARGET), USER, PASS, 4, 0.0);
        assert_eq!(lines, vec![format!("200 ok {USER}"); 4], "{offer:?}");
        let log = server.log();
        assert_eq!(log.verdicts, ["ok"; 4], "{offer:?}");
        // One nonce, nc 1 to 4.
        let nonce = param(&log.auth[0], "nonce").unwrap();
        for (i, a) in log.auth.iter().enumerate() {
            assert_eq!(param(a, "nonce"), Some(nonce));
            assert_eq!(param(a, "nc"), Some(format!("{:08x}", i + 1).as_str()));
        }
        let alg = param(&log.auth[0], "algorithm").unwrap_or("MD5");
        eprintln!("requests, {offer:?}: answered with {alg}");
        let expected = match offer {
            // requests keeps the last challenge's parameters.
            Offer::Md5 | Offer::Sha256AndMd5 => "MD5",
            Offer::Sha256 => "SHA-256",
        };
        assert_eq!(alg, expected, "{offer:?}");
    }
}

#[test]
fn python_requests_after_the_nonce_expired() {
    if !have_requests() {
        return;
    }
    let server = TestServer::start(Nonces::with_lifetime(Duration::from_millis(1000)));
    let lines = python_requests(&server.url(TARGET), USER, PASS, 2, 1.5);
    assert_eq!(lines, vec![format!("200 ok {USER}"); 3]);
    let log = server.log();
    assert_eq!(log.verdicts, ["ok", "ok", "stale", "ok"]);
    let (n0, n3) = (param(&log.auth[0], "nonce"), param(&log.auth[3], "nonce"));
    assert_ne!(n0, n3);
    assert_eq!(param(&log.auth[3], "nc"), Some("00000001"));
}

#[test]
fn python_requests_wrong_password() {
    if !have_requests() {
        return;
    }
    let server = TestServer::start(Nonces::new());
    let lines = python_requests(&server.url(TARGET), USER, "wrong", 1, 0.0);
    assert_eq!(lines, ["401 "]);
    let lines = python_requests(&server.url(TARGET), "nobody", PASS, 1, 0.0);
    assert_eq!(lines, ["401 "]);
    assert!(server
        .log()
        .verdicts
        .iter()
        .all(|v| v.starts_with("denied: username/password")));
}
