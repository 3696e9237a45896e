//! Issue 3 through the binary: converge, labels that Docker Compose v2 understands, the pull
//! failure path, `init`, `ps`, `logs`, and an unreachable engine.

use std::process::Command;
use std::sync::OnceLock;

use predicates::prelude::*;
use predicates::str::contains;

use crate::support::{Repo, stdout};

/// The local test image (no registry here), built once per test run.
fn busybox() -> &'static str {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test-images.sh");
        let out = Command::new("bash")
            .arg(script)
            .output()
            .expect("run test-images.sh");
        assert!(
            out.status.success(),
            "scripts/test-images.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    "stack-test/busybox:1"
}

/// A three-service stacklet: `db` (healthcheck) ← `api` (waits for healthy) and `web`.
fn three_services(id: &str, port: u16, web_image: &str) -> Repo {
    let image = busybox();
    Repo::new().stacklet(id, &format!("port = {port}\n")).file(
        &format!("stacklets/{id}/docker-compose.yml"),
        &format!(
            r#"name: stack-{id}
x-common: &common
  image: {image}
  init: true
  restart: unless-stopped
  networks: [stack]
  labels:
    - "com.centurylinklabs.watchtower.enable=${{WATCHTOWER_ENABLE:-true}}"
services:
  stack-{id}-db:
    <<: *common
    container_name: stack-{id}-db
    command: ["sh", "-c", "echo db up; touch /tmp/ready; exec sleep 3600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      retries: 10
  stack-{id}-api:
    <<: *common
    container_name: stack-{id}-api
    command: ["sh", "-c", "echo api up; exec sleep 3600"]
    depends_on:
      stack-{id}-db:
        condition: service_healthy
  stack-{id}-web:
    <<: *common
    image: {web_image}
    container_name: stack-{id}-web
    command: ["httpd", "-f", "-p", "8080"]
    ports:
      - "${{PORT_BIND_IP:-127.0.0.1}}:{port}:8080"
networks:
  stack:
    external: true
"#
        ),
    )
}

/// Removes the project's containers when the test ends, whatever happened.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("label=com.docker.compose.project={}", self.0))
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&ids)
                .output();
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &format!("{}_default", self.0)])
            .output();
    }
}

fn container_ids(project: &str) -> Vec<(String, String)> {
    let out = Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}} {{.ID}}", "--filter"])
        .arg(format!("label=com.docker.compose.project={project}"))
        .output()
        .unwrap();
    let mut ids: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.split_once(' ')
                .map(|(n, i)| (n.to_string(), i.to_string()))
        })
        .collect();
    ids.sort();
    ids
}

fn inspect(name: &str, format: &str) -> String {
    let out = Command::new("docker")
        .args(["inspect", "-f", format, name])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn converge_is_idempotent_and_recreates_only_what_changed() {
    let repo = three_services("eng1", 42911, busybox());
    let _cleanup = Cleanup("stack-eng1".into());
    repo.stack().args(["up", "eng1"]).assert().success();
    let first = container_ids("stack-eng1");
    assert_eq!(first.len(), 3, "{first:?}");
    // `service_healthy`: api started after db became healthy.
    let db_healthy = inspect(
        "stack-eng1-db",
        "{{range .State.Health.Log}}{{if eq .ExitCode 0}}{{.End}}\n{{end}}{{end}}",
    );
    let db_first_ok = db_healthy.lines().next().unwrap_or_default().to_string();
    let api_started = inspect("stack-eng1-api", "{{.State.StartedAt}}");
    assert!(!db_first_ok.is_empty(), "db never passed its healthcheck");
    assert!(
        api_started[..23] >= db_first_ok[..23],
        "api started {api_started} before db was healthy {db_first_ok}"
    );

    repo.stack().args(["up", "eng1"]).assert().success();
    assert_eq!(
        container_ids("stack-eng1"),
        first,
        "a no-op up replaced containers"
    );

    // Change one service: only it is recreated.
    let compose = repo
        .read("stacklets/eng1/docker-compose.yml")
        .replace("echo api up", "echo api v2");
    std::fs::write(repo.join("stacklets/eng1/docker-compose.yml"), compose).unwrap();
    let out = repo.stack().args(["up", "eng1"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Recreating stack-eng1-api"));
    let second = container_ids("stack-eng1");
    for ((name, before), (_, after)) in first.iter().zip(&second) {
        if name == "stack-eng1-api" {
            assert_ne!(before, after, "api was not recreated");
        } else {
            assert_eq!(before, after, "{name} was recreated");
        }
    }
}

#[test]
fn docker_compose_v2_sees_and_removes_our_containers() {
    let compose = "/usr/local/bin/docker-compose-v2";
    assert!(
        std::path::Path::new(compose).exists(),
        "Docker Compose v2 missing: run scripts/install-compose.sh"
    );
    let repo = three_services("eng2", 42912, busybox());
    let _cleanup = Cleanup("stack-eng2".into());
    repo.stack().args(["up", "eng2"]).assert().success();
    let ps = Command::new(compose)
        .args(["-p", "stack-eng2", "ps", "--format", "{{.Name}}"])
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&ps.stdout);
    for svc in ["db", "api", "web"] {
        assert!(
            names.contains(&format!("stack-eng2-{svc}")),
            "compose ps: {names}"
        );
    }
    let down = Command::new(compose)
        .args(["-p", "stack-eng2", "down"])
        .output()
        .unwrap();
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(container_ids("stack-eng2").is_empty());
}

#[test]
fn a_missing_image_fails_before_anything_is_stopped() {
    let repo = three_services("eng3", 42913, busybox());
    let _cleanup = Cleanup("stack-eng3".into());
    repo.stack().args(["up", "eng3"]).assert().success();
    let before = container_ids("stack-eng3");
    let compose = repo.read("stacklets/eng3/docker-compose.yml").replace(
        &format!("image: {}\n    container_name: stack-eng3-web", busybox()),
        "image: stack-test/nowhere:404\n    container_name: stack-eng3-web",
    );
    assert!(compose.contains("stack-test/nowhere:404"));
    std::fs::write(repo.join("stacklets/eng3/docker-compose.yml"), compose).unwrap();
    repo.stack()
        .args(["up", "eng3"])
        .assert()
        .code(1)
        .stderr(contains("stack-test/nowhere:404").and(contains("hint:")));
    assert_eq!(container_ids("stack-eng3"), before);
    for (name, _) in &before {
        assert_eq!(
            inspect(name, "{{.State.Running}}"),
            "true",
            "{name} was stopped"
        );
    }
}

#[test]
fn ps_and_logs_show_the_stacklet() {
    let repo = three_services("eng4", 42914, busybox());
    let _cleanup = Cleanup("stack-eng4".into());
    repo.stack().args(["up", "eng4"]).assert().success();
    let out = repo.stack().args(["ps", "eng4"]).output().unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("stack-eng4-db") && text.contains("running (healthy)"),
        "{text}"
    );
    assert!(text.contains("0.0.0.0:42914->8080/tcp"), "{text}");
    let out = repo.stack().args(["ps", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["eng4"].as_array().map(Vec::len), Some(3));
    // Without an id, `ps` reads every stacklet from one list query: the same services, health
    // and published ports as the inspecting form.
    let db = v["eng4"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "stack-eng4-db")
        .expect("the db container");
    assert_eq!(db["health"], "healthy", "{db}");
    let all = stdout(&repo.stack().arg("ps").output().unwrap());
    let one_line = |text: &str| {
        text.lines()
            .find(|l| l.contains("stack-eng4-db"))
            .map(str::to_string)
    };
    assert_eq!(one_line(&all), one_line(&text), "{all}");
    assert!(all.contains("0.0.0.0:42914->8080/tcp"), "{all}");

    let out = repo
        .stack()
        .args(["logs", "eng4", "--tail", "5"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("stack-eng4-db  | db up"), "{text}");
    assert!(text.contains("stack-eng4-api | api up"), "{text}");
    let out = repo
        .stack()
        .args(["logs", "eng4", "stack-eng4-api"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "api up");
    repo.stack()
        .args(["logs", "eng4", "nope"])
        .assert()
        .code(1)
        // Issue 10 §13: an unknown service lists the services instead of suggesting `up`.
        .stderr(
            contains("error: `eng4` has no service `nope`")
                .and(contains(
                    "hint: its services: `stack-eng4-api`, `stack-eng4-db`, `stack-eng4-web`",
                ))
                .and(contains("stack up").not()),
        );
}

#[test]
fn init_creates_network_data_dir_and_state() {
    let repo = Repo::new();
    repo.stack()
        .arg("init")
        .assert()
        .success()
        .stderr(contains("Docker Engine"));
    assert!(repo.join("data").is_dir());
    assert!(repo.join(".stack").is_dir());
    assert_eq!(inspect("stack", "{{.Name}}"), "stack");
}

#[test]
fn unreachable_docker_is_a_clear_error() {
    let repo = Repo::new().host_stacklet("eng5", "");
    let started = std::time::Instant::now();
    repo.stack()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .arg("init")
        .assert()
        .code(1)
        .stderr(
            contains("Cannot reach the Docker engine")
                .and(contains("/nonexistent/docker.sock"))
                .and(contains("hint:")),
        );
    assert!(
        started.elapsed().as_secs() < 3,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_renamed_service_keeping_its_container_name_converges() {
    let repo = three_services("eng6", 42916, busybox());
    let _cleanup = Cleanup("stack-eng6".into());
    repo.stack().args(["up", "eng6"]).assert().success();
    let compose = repo
        .read("stacklets/eng6/docker-compose.yml")
        .replace("  stack-eng6-web:\n", "  web:\n");
    std::fs::write(repo.join("stacklets/eng6/docker-compose.yml"), compose).unwrap();
    for _ in 0..2 {
        let out = repo.stack().args(["up", "eng6"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        inspect(
            "stack-eng6-web",
            "{{index .Config.Labels \"com.docker.compose.service\"}}"
        ),
        "web"
    );
    assert_eq!(container_ids("stack-eng6").len(), 3);
}

#[test]
fn a_container_that_cannot_join_its_networks_is_not_left_for_the_next_up() {
    let image = busybox();
    let repo = Repo::new().stacklet("eng7", "").file(
        "stacklets/eng7/docker-compose.yml",
        &format!(
            r#"name: stack-eng7
services:
  stack-eng7:
    container_name: stack-eng7
    image: {image}
    init: true
    command: ["sleep", "3600"]
    networks:
      stack: {{}}
      zback:
        ipv4_address: 10.199.0.5
networks:
  stack:
    external: true
  zback: {{}}
"#
        ),
    );
    let _cleanup = Cleanup("stack-eng7".into());
    for _ in 0..2 {
        repo.stack()
            .args(["up", "eng7"])
            .assert()
            .code(1)
            .stderr(contains("connect `stack-eng7` to network"));
        assert!(
            container_ids("stack-eng7").is_empty(),
            "a half-made container was left"
        );
    }
}

/// `ctx.exec` works in a hook that runs before `up` first needed Docker itself (`on_install` of a
/// stacklet without containers).
#[test]
fn exec_from_a_hook_before_the_pipeline_touched_docker() {
    let target = "stack-it-exec-target";
    let _ = Command::new("docker").args(["rm", "-f", target]).output();
    let started = Command::new("docker")
        .args([
            "run",
            "-d",
            "--init",
            "--name",
            target,
            busybox(),
            "sleep",
            "600",
        ])
        .output()
        .unwrap();
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    struct Gone(&'static str);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = Command::new("docker").args(["rm", "-f", self.0]).output();
        }
    }
    let _gone = Gone(target);
    let repo = Repo::new().host_stacklet("eng8", "").file(
        "stacklets/eng8/hooks/on_install.py",
        &format!(
            "def run(ctx):\n    out = ctx.exec(\"{target}\", [\"echo\", \"from inside\"])\n    print(\"got:\", out.strip())\n"
        ),
    );
    repo.stack()
        .args(["up", "eng8"])
        .assert()
        .success()
        .stderr(contains("got: from inside"));
}
