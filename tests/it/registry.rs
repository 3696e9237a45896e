//! Issue 13 against a real registry (`registry_support`): pulls with progress and credentials,
//! clear pull errors, recorded digests. Ids `reg-*`, host ports 451xx–452xx.

use crate::registry_support::{PASSWORD, Registry, USER};
use crate::support::{Repo, inspect, stderr};

/// A stacklet `id` running `image` (built by [`Registry::push`]): busybox httpd on host `port`
/// serves `/version` at `/`; `/health` answers only when the version is not "broken".
pub fn app_stacklet(repo: Repo, id: &str, port: u16, image: &str, extra_env: &str) -> Repo {
    let manifest = format!(
        "port = {port}\n[env.defaults]\nGREETING = \"hello\"\n{extra_env}\n[health]\nurl = \"http://127.0.0.1:{port}/health\"\nexpect = \"200\"\ntimeout = 8\n"
    );
    let compose = format!(
        r#"name: stack-{id}
services:
  web:
    container_name: stack-{id}-web
    image: {image}
    init: true
    environment:
      GREETING: ${{GREETING}}
    command:
      - sh
      - -c
      - 'echo "serving $$(cat /version)" && mkdir -p /www && cp /version /www/index.html && (grep -q broken /version || echo ok > /www/health) && exec httpd -f -p 8080 -h /www'
    ports:
      - "127.0.0.1:{port}:8080"
"#
    );
    repo.stacklet(id, &manifest)
        .file(&format!("stacklets/{id}/docker-compose.yml"), &compose)
}

/// What the stacklet's web server answers at `/`.
pub fn served(port: u16) -> String {
    let out = std::process::Command::new("busybox")
        .args([
            "wget",
            "-q",
            "-O",
            "-",
            &format!("http://127.0.0.1:{port}/"),
        ])
        .output()
        .expect("busybox wget");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn recorded(repo: &Repo, id: &str) -> serde_json::Value {
    serde_json::from_str(&repo.read(&format!(".stack/state/{id}/images.json"))).unwrap()
}

#[test]
fn pull_records_the_digest_and_later_ups_run_it_after_the_tag_moved() {
    let registry = Registry::start();
    let image = registry.image("reg/app", "1");
    let first = registry.push("reg/app", "1", "pin-one");
    let repo = app_stacklet(Repo::new(), "reg-pin", 45110, &image, "");
    let _cleanup = repo.cleanup(&["reg-pin"]);

    let out = repo.stack().args(["up", "reg-pin"]).output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    // Not a terminal: plain lines per layer and one summary line.
    assert!(err.contains("Pulling"), "{err}");
    assert!(err.contains("layer "), "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("Pulled") && l.contains("layers") && l.contains("downloaded")),
        "{err}"
    );
    assert_eq!(served(45110), "pin-one");
    let pins = recorded(&repo, "reg-pin");
    assert_eq!(pins["web"]["digest"], first.as_str());
    assert_eq!(pins["web"]["image"], image.as_str());

    // The tag moves on the registry and the local tag is gone; a config change recreates the
    // container: it still runs the recorded digest.
    let second = registry.push("reg/app", "1", "pin-two");
    assert_ne!(first, second);
    registry.forget_local(&image);
    let manifest = repo.read("stacklets/reg-pin/stacklet.toml");
    let repo = repo.file(
        "stacklets/reg-pin/stacklet.toml",
        &manifest.replace("GREETING = \"hello\"", "GREETING = \"hi\""),
    );
    let out = repo.stack().args(["up", "reg-pin"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        inspect(
            "stack-reg-pin-web",
            "{{range .Config.Env}}{{println .}}{{end}}"
        )
        .lines()
        .find(|l| l.starts_with("GREETING="))
        .unwrap(),
        "GREETING=hi",
        "the container was recreated"
    );
    assert_eq!(
        served(45110),
        "pin-one",
        "the recorded digest runs, not the moved tag"
    );
    assert_eq!(recorded(&repo, "reg-pin")["web"]["digest"], first.as_str());

    // destroy forgets the record.
    let out = repo
        .stack()
        .args(["destroy", "reg-pin", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!repo.join(".stack/state/reg-pin/images.json").exists());
}

#[test]
fn pull_errors_are_clear() {
    let registry = Registry::start();
    registry.push("reg/errs", "1", "errs-one");
    let cases = [
        (
            registry.image("reg/nothing", "1"),
            "does not exist on",
            45111,
        ),
        (registry.image("reg/errs", "9"), "has no tag `9`", 45112),
        (
            "127.0.0.1:1/reg/errs:1".to_string(),
            "cannot be reached",
            45113,
        ),
    ];
    for (image, expected, port) in cases {
        let repo = app_stacklet(Repo::new(), "reg-err", port, &image, "");
        let _cleanup = repo.cleanup(&["reg-err"]);
        let out = repo.stack().args(["up", "reg-err"]).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(expected),
            "{image}: expected `{expected}` in:\n{err}"
        );
        assert!(err.contains("hint:"), "{err}");
        assert!(
            crate::support::project_containers("reg-err").is_empty(),
            "nothing is created when the image cannot be had"
        );
    }
}

#[test]
fn credentials_come_from_the_docker_config() {
    let registry = Registry::start_with_auth();
    let image = registry.image("reg/private", "1");
    registry.push("reg/private", "1", "private");
    let repo = app_stacklet(Repo::new(), "reg-auth", 45114, &image, "");
    let _cleanup = repo.cleanup(&["reg-auth"]);

    // Wrong credentials: the registry's refusal, named, with the login hint.
    let wrong = tempfile::tempdir().unwrap();
    let auth = base64(&format!("{USER}:not-{PASSWORD}"));
    std::fs::write(
        wrong.path().join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#,
            registry.host()
        ),
    )
    .unwrap();
    let out = repo
        .stack()
        .args(["up", "reg-auth"])
        .env("DOCKER_CONFIG", wrong.path())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("refused the credentials"), "{err}");
    assert!(err.contains("docker login"), "{err}");

    // The login `docker login` wrote.
    let out = repo
        .stack()
        .args(["up", "reg-auth"])
        .env(
            "DOCKER_CONFIG",
            registry.docker_config.as_ref().unwrap().path(),
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(served(45114), "private");
}

fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn history(repo: &Repo) -> Vec<serde_json::Value> {
    let out = repo.stack().args(["history", "--json"]).output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn update_checks_moves_and_rolls_back() {
    let registry = Registry::start();
    let image = registry.image("reg/upd", "1");
    let first = registry.push("reg/upd", "1", "upd-one");
    let repo = app_stacklet(Repo::new(), "reg-upd", 45120, &image, "");
    let _cleanup = repo.cleanup(&["reg-upd"]);
    let out = repo.stack().args(["up", "reg-upd"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    // Nothing new yet.
    let out = repo
        .stack()
        .args(["update", "reg-upd", "--check", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let checks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(checks[0]["update"], false);
    assert_eq!(checks[0]["running"], first.as_str());

    // A new digest on the registry: --check sees it and changes nothing.
    let second = registry.push("reg/upd", "1", "upd-two");
    let before_events = history(&repo).len();
    let out = repo
        .stack()
        .args(["update", "reg-upd", "--check", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let checks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        checks,
        serde_json::json!([{"stacklet": "reg-upd", "service": "web", "image": image, "running": first, "available": second, "update": true}])
    );
    assert_eq!(served(45120), "upd-one");
    assert_eq!(recorded(&repo, "reg-upd")["web"]["digest"], first.as_str());
    assert_eq!(
        history(&repo).len(),
        before_events,
        "--check records nothing"
    );

    // The update moves the record and the running service.
    let out = repo.stack().args(["update", "reg-upd"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("Updated"), "{}", stderr(&out));
    assert_eq!(served(45120), "upd-two");
    assert_eq!(recorded(&repo, "reg-upd")["web"]["digest"], second.as_str());
    let events = history(&repo);
    assert_eq!(events[0]["action"], "update");
    assert_eq!(events[0]["outcome"], "ok");
    assert_eq!(events[0]["images"]["before"]["web"], first.as_str());
    assert_eq!(events[0]["images"]["after"]["web"], second.as_str());

    // A broken release: the health gate fails, the update rolls back, the old version serves.
    let broken = registry.push("reg/upd", "1", "upd-broken");
    let out = repo.stack().args(["update", "reg-upd"]).output().unwrap();
    let err = stderr(&out);
    eprintln!("--- rollback output ---\n{err}--- end ---");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("rolled back"), "{err}");
    assert!(err.contains("/health"), "names the failing check: {err}");
    assert!(
        err.contains("serving upd-broken"),
        "shows the log tail: {err}"
    );
    assert_eq!(
        served(45120),
        "upd-two",
        "the previous version serves again"
    );
    assert_eq!(recorded(&repo, "reg-upd")["web"]["digest"], second.as_str());
    let events = history(&repo);
    assert_eq!(events[0]["action"], "rollback");
    assert_eq!(events[0]["outcome"], "ok");
    assert_eq!(events[1]["action"], "update");
    assert_eq!(events[1]["outcome"], "rolled-back");
    assert_eq!(events[1]["images"]["after"]["web"], broken.as_str());

    // `up` after all this still runs the recorded digest, not the (broken) tag.
    let out = repo.stack().args(["up", "reg-upd"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(served(45120), "upd-two");
}

#[test]
fn doctor_finds_a_missing_tag_and_a_missing_platform_variant() {
    let registry = Registry::start();
    let image = registry.image("reg/doc", "1");
    registry.push("reg/doc", "1", "doc-one");
    let repo = app_stacklet(Repo::new(), "reg-doc", 45130, &image, "");

    let doctor = |args: &[&str]| {
        let out = repo
            .stack()
            .args([&["doctor", "reg-doc", "--json"], args].concat())
            .output()
            .unwrap();
        let checks: Vec<serde_json::Value> =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        (out.status.code(), checks)
    };
    let find = |checks: &[serde_json::Value], name: &str| {
        checks
            .iter()
            .find(|c| c["check"].as_str().unwrap().starts_with(name))
            .cloned()
            .unwrap_or_else(|| panic!("no `{name}` check in {checks:?}"))
    };

    // The single-arch image (the engine's own platform) passes, as do engine, Python, data dir.
    let (code, checks) = doctor(&[]);
    assert_eq!(code, Some(0), "{checks:?}");
    for name in [
        "engine",
        "python",
        "data dir",
        "reg-doc: image",
        "reg-doc: ports",
    ] {
        assert_eq!(find(&checks, name)["status"], "ok", "{checks:?}");
    }

    // Another platform: no variant.
    let (code, checks) = doctor(&["--platform", "linux/s390x"]);
    assert_eq!(code, Some(1));
    let c = find(&checks, "reg-doc: image");
    assert_eq!(c["status"], "fail");
    assert_eq!(c["detail"], "no variant for linux/s390x");
    assert!(c["hint"].as_str().unwrap().contains("offers linux/"), "{c}");

    // A tag the registry does not have.
    let compose = repo.read("stacklets/reg-doc/docker-compose.yml");
    let repo = repo.file(
        "stacklets/reg-doc/docker-compose.yml",
        &compose.replace("reg/doc:1", "reg/doc:2"),
    );
    let (code, checks) = {
        let out = repo
            .stack()
            .args(["doctor", "reg-doc", "--json"])
            .output()
            .unwrap();
        (
            out.status.code(),
            serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap(),
        )
    };
    assert_eq!(code, Some(1));
    let c = find(&checks, "reg-doc: image");
    assert_eq!(c["status"], "fail");
    assert!(
        c["detail"].as_str().unwrap().contains("has no tag `2`"),
        "{c}"
    );
    assert!(
        c["hint"].as_str().unwrap().contains("`1`"),
        "lists the tags: {c}"
    );
    // Doctor changes nothing: no container, no record.
    assert!(crate::support::project_containers("reg-doc").is_empty());
    assert!(!repo.join(".stack/state/reg-doc/images.json").exists());
}

#[test]
fn update_all_goes_on_past_a_failed_stacklet() {
    let registry = Registry::start();
    let bad = registry.image("reg/ua-bad", "1");
    let good = registry.image("reg/ua-good", "1");
    registry.push("reg/ua-bad", "1", "ua-bad-one");
    registry.push("reg/ua-good", "1", "ua-good-one");
    let repo = app_stacklet(Repo::new(), "reg-ua1", 45140, &bad, "");
    let repo = app_stacklet(repo, "reg-ua2", 45141, &good, "");
    let _cleanup = repo.cleanup(&["reg-ua1", "reg-ua2"]);
    for id in ["reg-ua1", "reg-ua2"] {
        let out = repo.stack().args(["up", id]).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    registry.push("reg/ua-bad", "1", "ua-bad-broken");
    let second = registry.push("reg/ua-good", "1", "ua-good-two");

    let out = repo
        .stack()
        .args(["update", "all", "--json"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["stacklet"], "reg-ua1");
    assert_eq!(report[0]["outcome"], "rolled-back");
    assert_eq!(report[1]["stacklet"], "reg-ua2");
    assert_eq!(report[1]["outcome"], "updated");
    assert_eq!(served(45140), "ua-bad-one");
    assert_eq!(served(45141), "ua-good-two");
    assert_eq!(recorded(&repo, "reg-ua2")["web"]["digest"], second.as_str());
}

#[test]
fn doctor_checks_host_gateway_in_a_container_and_dockers_disk() {
    let repo = crate::support::Repo::new().web_stacklet(
        "reg-doc-hg",
        45290,
        crate::support::Web::default(),
    );
    let out = repo
        .stack()
        .args(["doctor", "reg-doc-hg", "--json"])
        .output()
        .unwrap();
    let checks: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", crate::support::stderr(&out)));
    let find = |name: &str| {
        checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("no `{name}` check in {checks}"))
            .clone()
    };
    let hg = find("host.docker.internal");
    assert_eq!(hg["status"], "ok", "{hg}");
    // The stacklet's own (local) image ran the probe; the address is the bridge gateway.
    assert!(
        hg["detail"]
            .as_str()
            .unwrap()
            .contains("(stack-test/busybox:1)"),
        "{hg}"
    );
    let root = find("docker root");
    assert_eq!(root["status"], "ok", "{root}");
    assert!(root["detail"].as_str().unwrap().contains("free"), "{root}");
}
