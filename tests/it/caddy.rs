//! Domain mode end to end: the real binary, the real engine and a real Caddy (`stack-test/caddy:1`)
//! routing by `Host` to a busybox httpd stacklet, and port mode starting no Caddy at all.
//!
//! The Caddy container has a fixed name (`stack-core-caddy`, the runtime's contract with core) and
//! the project `stack-core`, so these tests take a lock and never overlap; everything else uses
//! ids of its own (`cdy*`) and high ports. Cleanup runs even when an assertion fails.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command as Process;
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use crate::support::{Repo, stderr, stdout};

/// Only one test at a time may own `stack-core-caddy`.
static CORE: Mutex<()> = Mutex::new(());
static IMAGES: Once = Once::new();

const CADDY_PORT: u16 = 42981;
const DOMAIN: &str = "example.test";

/// `scripts/test-images.sh` is idempotent; a missing tool there must fail the test, not skip it.
fn ensure_images() {
    IMAGES.call_once(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test-images.sh");
        let out = Process::new("bash")
            .arg(script)
            .output()
            .expect("run scripts/test-images.sh");
        assert!(
            out.status.success(),
            "scripts/test-images.sh failed; the caddy tests need stack-test/busybox:1 and stack-test/caddy:1:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// A `core` like the shipped one (same container name, env defaults, mounts and hooks), but on
/// the local test images, with Caddy on a high loopback port and an idle stand-in for Watchtower.
fn with_core(repo: Repo) -> Repo {
    let hooks = concat!(env!("CARGO_MANIFEST_DIR"), "/stacklets/core/hooks");
    let mut repo = repo
        .stacklet(
            "core",
            r#"
[env.defaults]
CADDY_CONFIG_DIR = "{caddy_dir}"
CADDY_DATA_DIR   = "{data_dir}/core/caddy/data"
CADDY_STATE_DIR  = "{data_dir}/core/caddy/state"
START_PAGE_DIR   = "{start_page_dir}"
FAMSTACK_DOMAIN  = "{domain}"
"#,
        )
        .file(
            "stacklets/core/docker-compose.yml",
            &format!(
                r#"name: stack-core
services:
  stack-core-caddy:
    container_name: stack-core-caddy
    image: stack-test/caddy:1
    profiles: ["domain"]
    environment:
      FAMSTACK_DOMAIN: ${{FAMSTACK_DOMAIN}}
    volumes:
      - ${{CADDY_CONFIG_DIR}}:/etc/caddy:ro
      - ${{CADDY_DATA_DIR}}:/data
      - ${{CADDY_STATE_DIR}}:/config
      - ${{START_PAGE_DIR}}:/srv/start:ro
    ports:
      - "127.0.0.1:{CADDY_PORT}:80"
    networks: [stack]
    restart: unless-stopped
  stack-core-idle:
    container_name: stack-core-idle
    image: stack-test/busybox:1
    init: true
    command: ["sleep", "3600"]
    networks: [stack]
    restart: unless-stopped
networks:
  stack:
    external: true
"#
            ),
        );
    for entry in std::fs::read_dir(hooks).expect("stacklets/core/hooks") {
        let path = entry.expect("hook").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        repo = repo.file(
            &format!("stacklets/core/hooks/{name}"),
            &std::fs::read_to_string(&path).expect("read hook"),
        );
    }
    repo
}

/// A repo in domain mode with the core-like Caddy stacklet.
fn domain_repo() -> Repo {
    with_core(Repo::new().file(
        "stack.toml",
        &format!("[core]\ndata_dir = \"data\"\ndomain = \"{DOMAIN}\"\n"),
    ))
}

/// A busybox httpd stacklet `id` on host port `port` serving `page`, with `snippet` as its
/// `caddy.snippet`.
fn with_web(repo: Repo, id: &str, port: u16, page: &str, snippet: &str) -> Repo {
    repo.stacklet(
        id,
        &format!(
            "port = {port}\n\n[env.defaults]\nWWW = \"{{data_dir}}/{id}/www\"\n\n[health]\nurl = \"http://localhost:{port}/\"\nexpect = \"200\"\n"
        ),
    )
    .file(
        &format!("stacklets/{id}/docker-compose.yml"),
        &format!(
            r#"name: stack-{id}
services:
  stack-{id}:
    container_name: stack-{id}
    image: stack-test/busybox:1
    init: true
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    volumes:
      - ${{WWW}}:/www:ro
    ports:
      - "${{PORT_BIND_IP:-127.0.0.1}}:{port}:8080"
    networks: [stack]
    restart: unless-stopped
networks:
  stack:
    external: true
"#
        ),
    )
    .file(&format!("data/{id}/www/index.html"), page)
    .file(&format!("stacklets/{id}/caddy.snippet"), snippet)
}

fn route(id: &str) -> String {
    format!("{id}.{{$FAMSTACK_DOMAIN}} {{\n    reverse_proxy stack-{id}:8080\n}}\n")
}

/// Destroys the given stacklets when dropped, then removes anything left by project label.
struct Cleanup<'a> {
    repo: &'a Repo,
    ids: Vec<&'static str>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = self.repo.stack().args(["destroy", id, "--yes"]).output();
            let label = format!("label=com.docker.compose.project=stack-{id}");
            if let Ok(out) = Process::new("docker")
                .args(["ps", "-aq", "--filter", &label])
                .output()
            {
                let ids = String::from_utf8_lossy(&out.stdout).into_owned();
                let ids: Vec<&str> = ids.split_whitespace().collect();
                if !ids.is_empty() {
                    let _ = Process::new("docker")
                        .args(["rm", "-f", "-v"])
                        .args(ids)
                        .output();
                }
            }
        }
    }
}

/// `GET /` through Caddy with `Host: host`: the response text, or `None` when Caddy does not
/// answer at all.
fn through_caddy(host: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", CADDY_PORT)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// Polls until `want` holds for the response (Caddy applies a reload within moments), returning
/// the last response seen.
fn eventually(host: &str, want: impl Fn(&Option<String>) -> bool) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = through_caddy(host);
        if want(&response) || Instant::now() > deadline {
            return response;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn serves(page: &'static str) -> impl Fn(&Option<String>) -> bool {
    move |r| r.as_deref().is_some_and(|r| r.contains(page))
}

/// `stack ps <id> --json`: the host IPs the stacklet's ports are published on.
fn bind_ips(repo: &Repo, id: &str) -> Vec<String> {
    let out = repo.stack().args(["ps", id, "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("ps --json");
    value[id]
        .as_array()
        .expect("containers")
        .iter()
        .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
        .map(|p| p["host_ip"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn up(repo: &Repo, id: &str) -> std::process::Output {
    repo.stack()
        .args(["up", id])
        .output()
        .expect("run stack up")
}

#[test]
fn domain_mode_routes_through_caddy_and_survives_a_broken_snippet() {
    ensure_images();
    let _core = CORE.lock().unwrap_or_else(|e| e.into_inner());
    let repo = domain_repo();
    let repo = with_web(repo, "cdyweb", 42982, "hello from cdyweb", &route("cdyweb"));
    let repo = with_web(
        repo,
        "cdybad",
        42983,
        "hello from cdybad",
        "cdybad.{$FAMSTACK_DOMAIN} {\n    reverse_prox stack-cdybad:8080\n}\n",
    );
    // Claims cdyweb's site: fine alone, a conflict together (Caddy gives no line for that).
    let repo = with_web(
        repo,
        "cdydup",
        42985,
        "hello from cdydup",
        "cdyweb.{$FAMSTACK_DOMAIN} {\n    reverse_proxy stack-cdydup:8080\n}\n",
    );
    let _cleanup = Cleanup {
        repo: &repo,
        ids: vec!["cdydup", "cdybad", "cdyweb", "core"],
    };

    let out = up(&repo, "core");
    assert!(out.status.success(), "up core:\n{}", stderr(&out));
    assert!(
        stderr(&out).contains("Reloaded Caddy (no routes)"),
        "{}",
        stderr(&out)
    );

    let out = up(&repo, "cdyweb");
    assert!(out.status.success(), "up cdyweb:\n{}", stderr(&out));
    assert!(
        stderr(&out).contains("Reloaded Caddy (routes of cdyweb)"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("URL:    http://cdyweb.example.test"),
        "{}",
        stderr(&out)
    );
    let host = format!("cdyweb.{DOMAIN}");
    let response = eventually(&host, serves("hello from cdyweb"));
    assert!(
        serves("hello from cdyweb")(&response),
        "Caddy did not route {host}: {response:?}"
    );
    // The bare domain serves the family start page, which now links to cdyweb.
    let start_link = r#"<a class="url" href="http://cdyweb.example.test">"#;
    let response = eventually(DOMAIN, serves(start_link));
    assert!(
        serves(start_link)(&response),
        "Caddy did not serve the start page at {DOMAIN}: {response:?}"
    );
    // Only Caddy is meant to reach services in domain mode.
    assert_eq!(bind_ips(&repo, "cdyweb"), ["127.0.0.1"]);
    let caddyfile = repo.read(".stack/caddy/Caddyfile");
    assert!(
        caddyfile.contains(
            "# ── cdyweb ── stacklets/cdyweb/caddy.snippet\nhttp://cdyweb.{$FAMSTACK_DOMAIN} {"
        ),
        "{caddyfile}"
    );
    assert_eq!(
        repo.read(".stack/caddy/conf.d/cdyweb.snippet"),
        format!("http://{}", route("cdyweb"))
    );
    let list = repo.stack().args(["list", "--json"]).output().unwrap();
    let list: serde_json::Value = serde_json::from_str(&stdout(&list)).expect("list --json");
    let web = list
        .as_array()
        .expect("stacklets")
        .iter()
        .find(|s| s["id"] == "cdyweb")
        .expect("cdyweb listed");
    assert_eq!(web["url"], "http://cdyweb.example.test");

    // A broken snippet fails its own `up`, named, and the working routes stay live.
    let out = up(&repo, "cdybad");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "error: The Caddy snippet of `cdybad` (`stacklets/cdybad/caddy.snippet`) is invalid: \
             stacklets/cdybad/caddy.snippet:2: unrecognized directive: reverse_prox\n"
        ),
        "{err}"
    );
    assert!(
        err.contains("hint: Caddy keeps serving its previous routes"),
        "{err}"
    );
    assert_eq!(repo.read(".stack/caddy/Caddyfile"), caddyfile);
    assert!(!repo.join(".stack/caddy/Caddyfile.candidate").exists());
    assert!(!repo.join(".stack/caddy/conf.d/cdybad.snippet").exists());
    let response = through_caddy(&host);
    assert!(serves("hello from cdyweb")(&response), "{response:?}");

    // Destroying the broken one removes it from the assembly, and everything applies again.
    let out = repo
        .stack()
        .args(["destroy", "cdybad", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "destroy cdybad:\n{}", stderr(&out));
    assert!(
        stderr(&out).contains("Reloaded Caddy (routes of cdyweb)"),
        "{}",
        stderr(&out)
    );

    // Two stacklets claiming one site: both are named, the live route stays.
    let out = up(&repo, "cdydup");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "error: The Caddy snippets of `cdydup` and `cdyweb` conflict: ambiguous site definition: http://cdyweb.example.test\n"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(repo.read(".stack/caddy/Caddyfile"), caddyfile);
    let out = repo
        .stack()
        .args(["destroy", "cdydup", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "destroy cdydup:\n{}", stderr(&out));
    let response = through_caddy(&host);
    assert!(serves("hello from cdyweb")(&response), "{response:?}");

    // After destroy the route is gone.
    let out = repo
        .stack()
        .args(["destroy", "cdyweb", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "destroy cdyweb:\n{}", stderr(&out));
    assert!(
        stderr(&out).contains("Reloaded Caddy (no routes)"),
        "{}",
        stderr(&out)
    );
    let response = eventually(&host, |r| !serves("hello from cdyweb")(r));
    assert!(
        !serves("hello from cdyweb")(&response),
        "route still live: {response:?}"
    );
    assert!(
        !repo
            .read(".stack/caddy/Caddyfile")
            .contains("cdyweb.{$FAMSTACK_DOMAIN}")
    );
    assert!(!repo.join(".stack/caddy/conf.d/cdyweb.snippet").exists());
}

#[test]
fn port_mode_assembles_nothing_and_starts_no_caddy() {
    ensure_images();
    let _core = CORE.lock().unwrap_or_else(|e| e.into_inner());
    let repo = with_core(Repo::new());
    let repo = with_web(
        repo,
        "cdyport",
        42984,
        "hello from cdyport",
        &route("cdyport"),
    );
    let _cleanup = Cleanup {
        repo: &repo,
        ids: vec!["cdyport", "core"],
    };

    let out = up(&repo, "core");
    assert!(out.status.success(), "up core:\n{}", stderr(&out));
    let out = up(&repo, "cdyport");
    assert!(out.status.success(), "up cdyport:\n{}", stderr(&out));
    assert!(!stderr(&out).contains("Caddy"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("URL:    http://192.0.2.10:42984"),
        "{}",
        stderr(&out)
    );

    let out = repo
        .stack()
        .args(["ps", "core", "--json"])
        .output()
        .unwrap();
    let ps: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("ps --json");
    let names: Vec<&str> = ps["core"]
        .as_array()
        .expect("core containers")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["stack-core-idle"]);
    assert!(!repo.join(".stack/caddy/Caddyfile").exists());
    assert!(!repo.join(".stack/caddy/conf.d").exists());
    assert_eq!(bind_ips(&repo, "cdyport"), ["0.0.0.0"]);
}

/// `up all` brings up independent stacklets concurrently; each reassembles the routes, and they
/// must not trip over one another's candidate Caddyfile.
#[test]
fn up_all_with_two_routed_stacklets_in_one_level() {
    ensure_images();
    let _core = CORE.lock().unwrap_or_else(|e| e.into_inner());
    let repo = domain_repo();
    let repo = with_web(repo, "cdyone", 42988, "hello from cdyone", &route("cdyone"));
    let repo = with_web(repo, "cdytwo", 42989, "hello from cdytwo", &route("cdytwo"));
    let _cleanup = Cleanup {
        repo: &repo,
        ids: vec!["cdyone", "cdytwo", "core"],
    };
    for id in ["core", "cdyone", "cdytwo"] {
        let out = up(&repo, id);
        assert!(out.status.success(), "up {id}:\n{}", stderr(&out));
    }
    for _ in 0..2 {
        let out = up(&repo, "all");
        assert!(out.status.success(), "up all:\n{}", stderr(&out));
    }
    for id in ["cdyone", "cdytwo"] {
        let host = format!("{id}.{DOMAIN}");
        let want = format!("hello from {id}");
        let seen = eventually(&host, |r| r.as_deref().is_some_and(|t| t.contains(&want)));
        assert!(
            seen.as_deref().is_some_and(|t| t.contains(&want)),
            "{host}: {seen:?}"
        );
    }
}

/// A Caddy container that cannot run `caddy` is reported as such — no snippet is blamed.
#[test]
fn a_caddy_container_without_caddy_blames_no_snippet() {
    ensure_images();
    let _core = CORE.lock().unwrap_or_else(|e| e.into_inner());
    let repo = domain_repo();
    let compose = repo.read("stacklets/core/docker-compose.yml").replace(
        "    image: stack-test/caddy:1\n",
        "    image: stack-test/busybox:1\n    init: true\n    command: [\"sleep\", \"3600\"]\n",
    );
    let repo = repo.file("stacklets/core/docker-compose.yml", &compose);
    let repo = with_web(repo, "cdynone", 42991, "hello", &route("cdynone"));
    let _cleanup = Cleanup {
        repo: &repo,
        ids: vec!["cdynone", "core"],
    };
    let out = up(&repo, "core");
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("Cannot run `caddy` in `stack-core-caddy`"),
        "{err}"
    );
    // With a routed stacklet in the assembly, still nobody's snippet is blamed.
    let out = up(&repo, "cdynone");
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("Cannot run `caddy` in `stack-core-caddy`"),
        "{err}"
    );
    assert!(!err.contains("snippet of"), "{err}");
}

/// Domain mode before `stack up core`: no Caddy runs, yet a snippet with an unknown directive is
/// caught by a one-off Caddy of core's image and never reaches the live Caddyfile (which would make
/// the next `stack up core` fail). The hint does not claim that a Caddy keeps serving.
#[test]
fn without_a_running_caddy_a_broken_snippet_is_still_validated() {
    ensure_images();
    let _core = CORE.lock().unwrap_or_else(|e| e.into_inner());
    let repo = domain_repo();
    let repo = with_web(
        repo,
        "rb2cdy",
        44710,
        "hello from rb2cdy",
        "rb2cdy.{$FAMSTACK_DOMAIN} {\n    no_such_directive on\n}\n",
    );
    let _cleanup = Cleanup {
        repo: &repo,
        ids: vec!["rb2cdy", "core"],
    };
    let out = up(&repo, "rb2cdy");
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("error: ") && err.contains("stacklets/rb2cdy/caddy.snippet"),
        "{err}"
    );
    assert!(err.contains("no_such_directive"), "{err}");
    assert!(!err.contains("keeps serving"), "{err}");
    assert!(err.contains("was not changed"), "{err}");
    assert!(
        !repo.join(".stack/caddy/Caddyfile").exists(),
        "the broken route reached the live Caddyfile"
    );

    // Fixed, it is checked the same way and written.
    std::fs::write(repo.join("stacklets/rb2cdy/caddy.snippet"), route("rb2cdy")).unwrap();
    let out = up(&repo, "rb2cdy");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Wrote Caddyfile (checked by the core image's Caddy; routes of rb2cdy)"),
        "{err}"
    );
    assert!(repo.read(".stack/caddy/Caddyfile").contains("rb2cdy."));
}
