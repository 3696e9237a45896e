//! A real Synapse homeserver for tests, one per test-binary run, shared by every test that needs
//! one (`shared()`): the `messages` hooks today, and whatever else talks Matrix (bots, chat
//! commands, notifications) tomorrow.
//!
//! Synapse runs from the virtualenv that `scripts/test-synapse.sh` prepares (`scripts/test.sh`
//! calls it), at exactly the version `stacklets/messages/docker-compose.yml` pins, on loopback
//! with SQLite, a `registration_shared_secret` and rate limits out of the way. The venv also has
//! matrix-nio, for tests that act as a Matrix client (`Synapse::python`). A missing or outdated
//! venv fails every test that asks for the server, loudly, with the command that fixes it.
//!
//! The server outlives no test run: a small shell watchdog kills it and deletes its folder once
//! the test process is gone. Tests share it, so each test uses user names of its own.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Loopback ports this harness may use (the `stk` range of the test suite).
const PORTS: std::ops::RangeInclusive<u16> = 44990..=44999;
const STARTUP: Duration = Duration::from_secs(180);

pub struct Synapse {
    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub url: String,
    pub server_name: String,
    pub shared_secret: String,
    venv: PathBuf,
}

/// The one Synapse of this test run, started on first use.
pub fn shared() -> &'static Synapse {
    static SYNAPSE: OnceLock<Result<Synapse, String>> = OnceLock::new();
    match SYNAPSE.get_or_init(Synapse::start) {
        Ok(synapse) => synapse,
        Err(e) => panic!("the real Synapse for this test could not start: {e}"),
    }
}

/// A Synapse of the caller's own, for a test whose bots may not meet another test's: bot
/// accounts are fixed names (`@stacker-bot:stk.test`) and keep the password of whoever registered
/// them first, and their rooms (`#server`) would be shared. Ends with the test process.
pub fn own() -> Synapse {
    Synapse::start().unwrap_or_else(|e| panic!("a real Synapse for this test could not start: {e}"))
}

/// The Synapse version the `messages` stacklet runs (its image tag without the `v`).
pub fn pinned_version() -> String {
    let compose =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("stacklets/messages/docker-compose.yml");
    let text = std::fs::read_to_string(&compose).expect("read the messages compose file");
    text.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("image: docker.io/matrixdotorg/synapse:v")
        })
        .unwrap_or_else(|| {
            panic!(
                "no matrixdotorg/synapse:v<version> image in {}",
                compose.display()
            )
        })
        .trim()
        .to_string()
}

impl Synapse {
    fn start() -> Result<Self, String> {
        let venv = std::env::var_os("STACK_TEST_VENV")
            .map(PathBuf::from)
            .or_else(|| std::env::home_dir().map(|h| h.join(".cache/stack-test/venv")))
            .ok_or("no home directory for the test venv; set STACK_TEST_VENV")?;
        let python = venv.join("bin/python");
        let hint = "run `scripts/test-synapse.sh` (scripts/test.sh runs it)";
        let probe = Command::new(&python)
            .args(["-c", "import nio, synapse; print(synapse.__version__)"])
            .output()
            .map_err(|e| format!("no Python at `{}` ({e}); {hint}", python.display()))?;
        let installed = String::from_utf8_lossy(&probe.stdout).trim().to_string();
        let pinned = pinned_version();
        if !probe.status.success() || installed != pinned {
            return Err(format!(
                "`{}` has Synapse `{installed}` (+ matrix-nio?), the messages stacklet pins `{pinned}`: {}; {hint}",
                venv.display(),
                String::from_utf8_lossy(&probe.stderr).trim()
            ));
        }

        let dir = tempfile::Builder::new()
            .prefix("stk-synapse-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?
            .keep();
        // Two servers of this process may start at once (`shared()` and `own()`), each before
        // the other has bound its port: a port is claimed here first.
        static CLAIMED: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
        let port = {
            let mut claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
            let port = PORTS
                .clone()
                .filter(|p| !claimed.contains(p))
                .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
                .ok_or("every port of 44990-44999 is taken")?;
            claimed.push(port);
            port
        };
        let synapse = Self {
            url: format!("http://127.0.0.1:{port}"),
            server_name: "stk.test".into(),
            shared_secret: format!("stk-shared-secret-{}-{port}", std::process::id()),
            venv,
        };
        let key = synapse.run_python(&[
            "-m",
            "synapse._scripts.generate_signing_key",
            "-o",
            &dir.join("signing.key").display().to_string(),
        ]);
        if !key.status.success() {
            return Err(format!(
                "generate_signing_key failed: {}",
                String::from_utf8_lossy(&key.stderr)
            ));
        }
        let config = dir.join("homeserver.yaml");
        std::fs::write(&config, synapse.homeserver_yaml(&dir, port)).map_err(|e| e.to_string())?;

        // The watchdog ends Synapse (and removes its folder) when this test process is gone.
        let log = dir.join("synapse.log");
        Command::new("sh")
            .arg("-c")
            .arg(
                r#""$PY" -m synapse.app.homeserver -c "$CFG" >"$LOG" 2>&1 & pid=$!
while kill -0 "$PARENT" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
kill "$pid" 2>/dev/null; wait "$pid"; rm -rf "$DIR""#,
            )
            .env("PY", &python)
            .env("CFG", &config)
            .env("LOG", &log)
            .env("DIR", &dir)
            .env("PARENT", std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start sh: {e}"))?;

        let started = Instant::now();
        loop {
            if let Ok((200, _)) = synapse.request("GET", "/health", None, None) {
                return Ok(synapse);
            }
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            let tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
            if started.elapsed() > STARTUP || text.contains("Traceback") {
                return Err(format!(
                    "Synapse did not answer {}/health; its log ends:\n{tail}",
                    synapse.url
                ));
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn homeserver_yaml(&self, dir: &Path, port: u16) -> String {
        let unlimited = "{per_second: 10000, burst_count: 10000}";
        format!(
            r#"server_name: "{name}"
public_baseurl: "{url}/"
report_stats: false
listeners:
  - port: {port}
    type: http
    tls: false
    bind_addresses: ["127.0.0.1"]
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "{dir}/homeserver.db"
media_store_path: "{dir}/media_store"
signing_key_path: "{dir}/signing.key"
registration_shared_secret: "{secret}"
macaroon_secret_key: "stk-macaroon-{secret}"
form_secret: "stk-form-{secret}"
enable_registration: false
trusted_key_servers: []
suppress_key_server_warning: true
url_preview_enabled: false
# Tests log in and register far faster than people do.
rc_message: {unlimited}
rc_registration: {unlimited}
rc_room_creation: {unlimited}
rc_login:
  address: {unlimited}
  account: {unlimited}
  failed_attempts: {unlimited}
rc_joins:
  local: {unlimited}
  remote: {unlimited}
rc_invites:
  per_room: {unlimited}
  per_user: {unlimited}
  per_issuer: {unlimited}
"#,
            name = self.server_name,
            url = self.url,
            dir = dir.display(),
            secret = self.shared_secret,
        )
    }

    /// The virtualenv's Python (with matrix-nio), for client-side scripts.
    pub fn python(&self) -> PathBuf {
        self.venv.join("bin/python")
    }

    pub fn run_python(&self, args: &[&str]) -> Output {
        Command::new(self.python())
            .args(args)
            .output()
            .expect("run the test venv's python")
    }

    /// `@<localpart>:<server name>`.
    pub fn mxid(&self, localpart: &str) -> String {
        format!("@{localpart}:{}", self.server_name)
    }

    /// One HTTP/1.0 request (so the answer is never chunked): status and JSON body (`Null` when
    /// the body is not JSON).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> std::io::Result<(u16, Value)> {
        let address = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: {address}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let json = answer
            .split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        Ok((status, json))
    }

    /// An access token for `user`/`password`, or Synapse's status and answer.
    pub fn login(&self, user: &str, password: &str) -> Result<String, (u16, Value)> {
        let body = serde_json::json!({
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
        });
        let (status, answer) = self
            .request("POST", "/_matrix/client/v3/login", Some(&body), None)
            .expect("reach Synapse");
        match answer["access_token"].as_str() {
            Some(token) if status == 200 => Ok(token.to_string()),
            _ => Err((status, answer)),
        }
    }

    /// Registers an account the way an admin does by hand, with Synapse's own
    /// `register_new_matrix_user` and the shared secret.
    pub fn register_by_hand(&self, user: &str, password: &str, admin: bool) {
        let out = Command::new(self.venv.join("bin/register_new_matrix_user"))
            .args(["-u", user, "-p", password, "-k", &self.shared_secret])
            .arg(if admin { "--admin" } else { "--no-admin" })
            .arg(&self.url)
            .output()
            .expect("run register_new_matrix_user");
        assert!(
            out.status.success(),
            "register_new_matrix_user {user}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The admin API's view of `mxid` (status 404 when it does not exist).
    pub fn admin_user(&self, admin_token: &str, mxid: &str) -> (u16, Value) {
        self.request(
            "GET",
            &format!("/_synapse/admin/v2/users/{mxid}"),
            None,
            Some(admin_token),
        )
        .expect("reach Synapse")
    }
}
