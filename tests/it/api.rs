//! `stack serve`: the signed local API against a real `stack serve` process, real containers and
//! the real history. Requests are signed here independently (hmac + sha2) from the documented
//! canonical text, so a server that signed something else would be refused.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::support::{Repo, Web};

struct Server {
    child: Child,
    port: u16,
    key: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(repo: &Repo, port: u16) -> Server {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_stack"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(repo.path())
        .env_remove("STACK_DIR")
        .env_remove("STACK_ROOT")
        .env("NO_COLOR", "1")
        .env("STACK_LAN_IP", "192.0.2.10")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn stack serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "stack serve did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let secrets: toml::Table = toml::from_str(&repo.read(".stack/secrets.toml")).expect("secrets");
    let key = secrets["global__API_KEY"]
        .as_str()
        .expect("API key")
        .to_string();
    assert_eq!(key.len(), 32);
    Server { child, port, key }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn signature(key: &str, method: &str, pq: &str, ts: &str, nonce: &str, body: &[u8]) -> String {
    let text = format!(
        "{method}\n{pq}\n{ts}\n{nonce}\n{}",
        hex::encode(Sha256::digest(body))
    );
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn fresh_nonce() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "it-{}-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// One raw HTTP/1.1 exchange; returns (status, body).
fn raw(
    port: u16,
    method: &str,
    pq: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut head = format!(
        "{method} {pq} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

struct Signed<'a> {
    key: &'a str,
    ts: i64,
    nonce: String,
    actor: Option<&'a str>,
}

impl<'a> Signed<'a> {
    fn new(key: &'a str) -> Self {
        Self {
            key,
            ts: now(),
            nonce: fresh_nonce(),
            actor: None,
        }
    }

    fn headers(&self, method: &str, pq: &str, body: &[u8]) -> Vec<(&'static str, String)> {
        let ts = self.ts.to_string();
        let mut headers = vec![
            ("X-Stack-Timestamp", ts.clone()),
            ("X-Stack-Nonce", self.nonce.clone()),
            (
                "X-Stack-Signature",
                signature(self.key, method, pq, &ts, &self.nonce, body),
            ),
        ];
        if let Some(actor) = self.actor {
            headers.push(("X-Stack-Actor", actor.to_string()));
        }
        headers
    }
}

fn call(server: &Server, method: &str, pq: &str, body: &[u8]) -> (u16, String) {
    let headers = Signed::new(&server.key).headers(method, pq, body);
    raw(server.port, method, pq, &headers, body)
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn unsigned_forged_stale_future_replayed_and_tampered_requests_are_refused() {
    let repo = Repo::new().host_stacklet("api-plain", "");
    let server = start(&repo, 45501);
    let pq = "/v1/status";

    let (status, body) = raw(server.port, "GET", pq, &[], b"");
    assert_eq!(status, 401, "unsigned: {body}");
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("X-Stack-Timestamp")
    );

    let forged = Signed::new("not-the-key").headers("GET", pq, b"");
    assert_eq!(raw(server.port, "GET", pq, &forged, b"").0, 401, "forged");

    for skew in [-120, 120] {
        let mut s = Signed::new(&server.key);
        s.ts += skew;
        let (status, body) = raw(server.port, "GET", pq, &s.headers("GET", pq, b""), b"");
        assert_eq!(status, 401, "skew {skew}: {body}");
        assert!(body.contains("away from the server's clock"), "{body}");
    }

    // Signed for one body, sent with another.
    let s = Signed::new(&server.key);
    let headers = s.headers("POST", "/v1/stacklets/api-plain/up", b"{}");
    let (status, body) = raw(
        server.port,
        "POST",
        "/v1/stacklets/api-plain/up",
        &headers,
        b"{\"x\":1}",
    );
    assert_eq!(
        (status, json(&body)["error"].as_str().unwrap()),
        (401, "Bad signature")
    );

    // Signed for one path, sent to another.
    let headers = Signed::new(&server.key).headers("GET", "/v1/events", b"");
    assert_eq!(
        raw(server.port, "GET", pq, &headers, b"").0,
        401,
        "path swapped"
    );

    // The same signed request twice: the second is a replay, also after a restart.
    let s = Signed::new(&server.key);
    let headers = s.headers("GET", pq, b"");
    let (status, body) = raw(server.port, "GET", pq, &headers, b"");
    assert_eq!(status, 200, "first use: {body}");
    assert!(
        json(&body)["stacklets"].is_array() || json(&body).is_object(),
        "{body}"
    );
    let (status, body) = raw(server.port, "GET", pq, &headers, b"");
    assert_eq!(
        (status, json(&body)["error"].as_str().unwrap()),
        (401, "Nonce already used")
    );
    drop(server);
    let server = start(&repo, 45502);
    let (status, body) = raw(server.port, "GET", pq, &headers, b"");
    assert_eq!(status, 401, "replay after restart: {body}");

    // Not under /v1 and not the start page: 404 without a signature check.
    assert_eq!(raw(server.port, "GET", "/secrets", &[], b"").0, 404);
}

#[test]
fn lifecycle_calls_drive_a_real_container_and_record_the_actor() {
    let id = "api-web";
    let port = 45511;
    let repo = Repo::new().web_stacklet(id, port, Web::default());
    let _cleanup = repo.cleanup(&[id]);
    let server = start(&repo, 45512);

    // Unknown ids, and a path that is not an id at all.
    assert_eq!(call(&server, "POST", "/v1/stacklets/nope/up", b"").0, 404);
    assert_eq!(call(&server, "POST", "/v1/stacklets/..%2f/up", b"").0, 404);
    assert_eq!(call(&server, "GET", "/v1/stacklets/api-web/up", b"").0, 405);

    let mut s = Signed::new(&server.key);
    s.actor = Some("@arthur:home");
    let pq = format!("/v1/stacklets/{id}/up");
    let (status, body) = raw(server.port, "POST", &pq, &s.headers("POST", &pq, b""), b"");
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["id"], id);
    assert_eq!(v["state"], "running", "{body}");
    assert!(v["log"].as_str().unwrap().contains("Ready"), "{body}");
    let page = reqwest_free_get(port);
    assert_eq!(page.trim(), "ok");

    // The list the API answers is the list the command line prints.
    let (status, body) = call(&server, "GET", "/v1/stacklets", b"");
    assert_eq!(status, 200, "{body}");
    let cli = repo.stack().args(["list", "--json"]).output().unwrap();
    assert_eq!(json(&body), json(&String::from_utf8_lossy(&cli.stdout)));

    // While another command holds the instance lock: 409, and nothing happens.
    {
        let lock = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(repo.join(".stack/stack.lock"))
            .expect("lock file");
        lock.lock().unwrap();
        let (status, body) = call(&server, "POST", &format!("/v1/stacklets/{id}/down"), b"");
        assert_eq!(status, 409, "{body}");
        assert_eq!(reqwest_free_get(port).trim(), "ok", "still serving");
    }

    let (status, body) = call(&server, "POST", &format!("/v1/stacklets/{id}/down"), b"");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["state"], "stopped", "{body}");

    // The history has both events, the first with the actor; `since` skips what was seen.
    let (status, body) = call(&server, "GET", "/v1/events?since=0", b"");
    assert_eq!(status, 200, "{body}");
    let events = json(&body);
    let events = events.as_array().unwrap();
    let up = events
        .iter()
        .find(|e| e["action"] == "up")
        .expect("up event");
    assert_eq!(up["actor"], "@arthur:home");
    assert_eq!(up["outcome"], "ok");
    let last = events.last().unwrap();
    assert_eq!(last["action"], "down");
    let seq = last["seq"].as_u64().unwrap();
    let (_, body) = call(&server, "GET", &format!("/v1/events?since={seq}"), b"");
    assert_eq!(json(&body), serde_json::json!([]));
    assert_eq!(call(&server, "GET", "/v1/events?since=x", b"").0, 400);

    // The start page needs no signature and lists what runs.
    let (status, body) = raw(server.port, "GET", "/", &[], b"");
    assert_eq!(status, 200);
    assert!(body.contains("<html"), "{body}");
}

#[test]
fn a_failing_command_answers_500_with_its_error() {
    let id = "api-broken";
    // A compose file naming an image that exists nowhere: `up` fails before any container.
    let repo = Repo::new()
        .stacklet(id, "port = 45521\n")
        .file(
            &format!("stacklets/{id}/docker-compose.yml"),
            "services:\n  web:\n    image: stack-test/does-not-exist:1\n    ports:\n      - \"127.0.0.1:45521:80\"\n",
        );
    let _cleanup = repo.cleanup(&[id]);
    let server = start(&repo, 45522);
    let (status, body) = call(&server, "POST", &format!("/v1/stacklets/{id}/up"), b"");
    assert_eq!(status, 500, "{body}");
    let v = json(&body);
    assert!(
        v["error"].as_str().unwrap().contains("does-not-exist"),
        "{body}"
    );
    assert!(!v["log"].as_str().unwrap().is_empty());
}

/// GET http://127.0.0.1:<port>/ with the test's raw client, retrying while the server starts.
fn reqwest_free_get(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let (status, body) = raw(port, "GET", "/", &[], b"");
            if status == 200 {
                return body;
            }
        }
        assert!(Instant::now() < deadline, "nothing answers on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn install_writes_a_unit_running_this_binary_and_uninstall_removes_it() {
    let repo = Repo::new().host_stacklet("api-plain", "");
    let units = tempfile::tempdir().unwrap();
    let out = repo
        .stack()
        .args(["serve", "--install"])
        .env("STACK_SERVICE_DIR", units.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    let files: Vec<_> = std::fs::read_dir(units.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let unit = std::fs::read_to_string(&files[0]).unwrap();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_stack")).unwrap();
    assert!(unit.contains(&exe.display().to_string()), "{unit}");
    assert!(
        unit.contains(&format!(
            "STACK_ROOT={}",
            std::fs::canonicalize(repo.path()).unwrap().display()
        )),
        "{unit}"
    );
    // This machine runs no service manager that could start it, and says so instead of failing.
    let err = crate::support::stderr(&out);
    assert!(
        err.contains("Installed") || err.contains("could not start it"),
        "{err}"
    );

    let out = repo
        .stack()
        .args(["serve", "--uninstall"])
        .env("STACK_SERVICE_DIR", units.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    assert!(!files[0].exists(), "unit left behind");
    let out = repo
        .stack()
        .args(["serve", "--uninstall"])
        .env("STACK_SERVICE_DIR", units.path())
        .output()
        .unwrap();
    assert!(crate::support::stderr(&out).contains("not installed"));
}
