//! `stack new`: stacklets scaffolded from real local images pass `stack lint` and come up healthy
//! as written; bad ids, taken ports and existing stacklets are refused without writing anything.
//!
//! Host ports are in 428xx: `stack lint` (rightly) requires scaffolded ports in 42000–42999.

use std::process::Command as Process;
use std::time::{Duration, Instant};

use crate::registry_support::{Registry, remove_images_of};
use crate::support::{Repo, ensure_test_images, inspect, stderr, stdout};

/// An image with what `stack new` reads: an exposed port, a volume and an HTTP healthcheck. Built
/// locally from `stack-test/busybox:1` with the classic builder (no registry is reachable).
const WEB_IMAGE: &str = "stack-test/new-web:1";

fn ensure_web_image() {
    ensure_test_images();
    let dockerfile = r#"FROM stack-test/busybox:1
RUN mkdir -p /www && echo hello-from-new-web > /www/index.html
EXPOSE 8080
VOLUME /var/lib/app
HEALTHCHECK --interval=1s --timeout=3s --retries=30 CMD wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
"#;
    let mut child = Process::new("docker")
        .args(["build", "-q", "-t", WEB_IMAGE, "-"])
        .env("DOCKER_BUILDKIT", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run docker build");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dockerfile.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "docker build {WEB_IMAGE}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run(repo: &Repo, args: &[&str]) -> std::process::Output {
    repo.stack().args(args).output().expect("run stack")
}

fn ok(repo: &Repo, args: &[&str]) -> std::process::Output {
    let out = run(repo, args);
    assert!(
        out.status.success(),
        "stack {args:?}:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// `stack list --json` state of `id`.
fn state(repo: &Repo, id: &str) -> String {
    let out = ok(repo, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("status --json");
    status["stacklets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .map(|s| s["state"].as_str().unwrap_or_default().to_string())
        .expect("listed")
}

/// Polls the container's Docker health until it is `healthy` or 60 s pass; returns the last one.
fn docker_health(container: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = inspect(container, "{{.State.Health.Status}}");
        if health == "healthy" || Instant::now() > deadline {
            return health;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn scaffold_from_busybox_passes_lint_and_comes_up_healthy() {
    ensure_test_images();
    let repo = Repo::new();
    let _cleanup = repo.cleanup(&["new-bbox"]);
    let out = ok(
        &repo,
        &[
            "new",
            "new-bbox",
            "--image",
            "stack-test/busybox:1",
            "--port",
            "42830:8080",
            "--category",
            "media",
            "--",
            "sh",
            "-c",
            "mkdir -p /www && echo busybox-ok > /www/index.html && exec httpd -f -p 8080 -h /www",
        ],
    );
    assert!(
        stderr(&out).contains("Created stacklets/new-bbox/"),
        "{}",
        stderr(&out)
    );
    let manifest = repo.read("stacklets/new-bbox/stacklet.toml");
    assert!(manifest.contains("category    = \"media\""), "{manifest}");
    assert!(manifest.contains("url    = \"http://localhost:42830/\""));
    let compose = repo.read("stacklets/new-bbox/docker-compose.yml");
    assert!(compose.contains(r#"command: ["sh", "-c", "mkdir -p /www && echo busybox-ok > /www/index.html && exec httpd -f -p 8080 -h /www"]"#), "{compose}");
    assert!(compose.contains("\"${PORT_BIND_IP:-127.0.0.1}:42830:8080\""));
    assert!(repo.join("stacklets/new-bbox/caddy.snippet").exists());
    assert!(repo.join("stacklets/new-bbox/hooks/on_install.py").exists());

    let out = ok(&repo, &["lint", "new-bbox"]);
    assert!(
        stderr(&out).contains("no errors, no warnings"),
        "{}",
        stderr(&out)
    );
    // The scaffolded on_install hook runs (and does nothing) on the first `up`.
    let out = ok(&repo, &["up", "new-bbox"]);
    assert!(
        stderr(&out).contains("hooks/on_install.py"),
        "{}",
        stderr(&out)
    );
    assert_eq!(state(&repo, "new-bbox"), "running");
    ok(&repo, &["destroy", "new-bbox", "--yes"]);
}

#[test]
fn scaffold_from_an_image_with_volume_and_healthcheck_comes_up_healthy() {
    ensure_web_image();
    let repo = Repo::new();
    let _cleanup = repo.cleanup(&["new-vol"]);
    ok(
        &repo,
        &["new", "new-vol", "--image", WEB_IMAGE, "--port", "42840"],
    );
    let manifest = repo.read("stacklets/new-vol/stacklet.toml");
    assert!(
        manifest.contains("NEW_VOL_APP_DIR = \"{data_dir}/new-vol/app\"   # → /var/lib/app"),
        "{manifest}"
    );
    let compose = repo.read("stacklets/new-vol/docker-compose.yml");
    for line in [
        "      - ${NEW_VOL_APP_DIR}:/var/lib/app",
        "      - \"${PORT_BIND_IP:-127.0.0.1}:42840:8080\"",
        "      test: [\"CMD-SHELL\", \"wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1\"]",
        "      interval: 1s",
    ] {
        assert!(compose.contains(line), "missing {line:?}:\n{compose}");
    }
    ok(&repo, &["lint", "new-vol"]);
    ok(&repo, &["up", "new-vol"]);
    assert_eq!(docker_health("stack-new-vol"), "healthy");
    assert_eq!(state(&repo, "new-vol"), "running");
    assert!(
        repo.join("data/new-vol/app").is_dir(),
        "the image volume is a bind mount under the data dir"
    );
    ok(&repo, &["destroy", "new-vol", "--yes"]);
}

#[test]
fn new_takes_the_next_free_port_block_and_refuses_what_it_must_not_write() {
    ensure_web_image();
    let repo = Repo::new()
        .host_stacklet("new-one", "port = 42000\n")
        .host_stacklet("new-two", "port = 42010\n\n[ports]\nextra = 42015\n");
    ok(&repo, &["new", "new-three", "--image", WEB_IMAGE]);
    let manifest = repo.read("stacklets/new-three/stacklet.toml");
    assert!(manifest.contains("port        = 42020"), "{manifest}");

    // An existing stacklet is never overwritten.
    let before = repo.read("stacklets/new-three/stacklet.toml");
    let out = run(&repo, &["new", "new-three", "--image", WEB_IMAGE]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(repo.read("stacklets/new-three/stacklet.toml"), before);

    // A port another stacklet declares.
    let out = run(
        &repo,
        &["new", "new-four", "--image", WEB_IMAGE, "--port", "42015"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Port 42015 is already used by stacklet `new-two`"),
        "{}",
        stderr(&out)
    );
    assert!(!repo.join("stacklets/new-four").exists());

    // Usage errors: a bad id, a bad port.
    let out = run(&repo, &["new", "New_Four", "--image", WEB_IMAGE]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run(
        &repo,
        &["new", "new-four", "--image", WEB_IMAGE, "--port", "x"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!repo.join("stacklets/new-four").exists());
}

#[test]
fn an_image_only_in_a_registry_is_pulled_then_scaffolded() {
    ensure_web_image();
    let registry = Registry::start();
    let image = registry.image("new/web", "1");
    for args in [
        vec!["tag", WEB_IMAGE, image.as_str()],
        vec!["push", image.as_str()],
    ] {
        let out = registry.docker().args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    registry.forget_local(&image);
    let repo = Repo::new();
    let out = ok(&repo, &["new", "new-reg", "--image", &image]);
    assert!(
        stderr(&out).contains(&format!("Pulling {image}")),
        "{}",
        stderr(&out)
    );
    let manifest = repo.read("stacklets/new-reg/stacklet.toml");
    assert!(manifest.contains("port        = 42000"), "{manifest}");
    assert!(
        manifest.contains("NEW_REG_APP_DIR = \"{data_dir}/new-reg/app\""),
        "{manifest}"
    );
    assert!(
        manifest.contains(&format!("image   = \"{}/new/web\"", registry.host())),
        "{manifest}"
    );
    remove_images_of(&registry.host());
}
