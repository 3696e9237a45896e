//! Host stacklets (`type = "host"`): native services checked, started and stopped by `up`, `down`
//! and `destroy`, and their state in `status`. The native service is a real local process
//! (`python3 -m http.server`) on a port of its own per test.

use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use predicates::str::contains;

use crate::support::{Repo, stderr, stdout};

/// Kills the process whose pid is in `pidfile` (if any) when dropped, so a failing assertion never
/// leaves a server behind.
struct KillOnDrop(PathBuf);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// A server the test runs itself, as if the person had started it before `stack up`.
struct OwnServer(std::process::Child);

impl OwnServer {
    fn start(port: u16) -> Self {
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 must be installed for host stacklet tests");
        assert!(wait_for(port, true), "own server on {port} did not start");
        Self(child)
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn answering(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Wait (up to 10 s) until the port answers (`true`) or refuses (`false`).
fn wait_for(port: u16, up: bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if answering(port) == up {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn assert_free(port: u16) {
    assert!(
        !answering(port),
        "port {port} is already in use; the test needs it free"
    );
}

/// A host stacklet `id` whose service `web` is `python3 -m http.server <port>`, started in the
/// background with its pid in `stacklets/<id>/web.pid`. The check URL is a template.
fn host_repo(id: &str, port: u16) -> Repo {
    Repo::new()
        .file(
            "stack.toml",
            &format!(
                "[core]\ndata_dir = \"data\"\n\n[ai]\nopenai_url = \"http://127.0.0.1:{port}/v1\"\n"
            ),
        )
        .stacklet(
            id,
            &format!(
                r#"type = "host"

[services.web]
name      = "Web"
check_url = "{{ai_openai_url}}/models"
start     = "python3 -m http.server {port} --bind 127.0.0.1 >/dev/null 2>&1 & echo $! > web.pid"
stop      = "touch stop-ran; kill $(cat web.pid) && rm web.pid"
"#
            ),
        )
}

fn status_json(repo: &Repo, id: &str) -> serde_json::Value {
    let out = repo.stack().args(["status", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["stacklets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .cloned()
        .expect("stacklet in status")
}

#[test]
fn up_starts_a_service_status_shows_it_and_down_stops_it() {
    let port = 47311;
    assert_free(port);
    let repo = host_repo("hostweb", port);
    let _guard = KillOnDrop(repo.join("stacklets/hostweb/web.pid"));

    let s = status_json(&repo, "hostweb");
    assert_eq!(s["state"], "available");
    assert_eq!(s["type"], "host");

    let out = repo.stack().args(["up", "hostweb"]).output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Starting Web"), "{err}");
    assert!(answering(port));
    assert!(
        repo.join(".stack/state/hostweb/services/web.started")
            .is_file()
    );

    let s = status_json(&repo, "hostweb");
    assert_eq!(s["state"], "running", "{s}");
    assert_eq!(s["services"][0]["key"], "web");
    assert_eq!(s["services"][0]["state"], "up");
    assert_eq!(
        s["services"][0]["url"],
        format!("http://127.0.0.1:{port}/v1/models")
    );
    // http.server answers 404 for that path: any answer below 500 means the service is up.
    assert_eq!(s["services"][0]["observed"], "HTTP 404");
    assert_eq!(s["services"][0]["started_by_stack"], true);

    // A second `up` finds it running and starts nothing.
    let out = repo.stack().args(["up", "hostweb"]).output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Found Web"), "{err}");
    assert!(!err.contains("Starting Web"), "{err}");

    let out = repo.stack().args(["down", "hostweb"]).output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Stopping Web"), "{err}");
    assert!(wait_for(port, false), "the service is still answering");
    assert!(
        !repo
            .join(".stack/state/hostweb/services/web.started")
            .exists()
    );

    let s = status_json(&repo, "hostweb");
    assert_eq!(s["state"], "stopped", "{s}");
    assert_eq!(s["services"][0]["state"], "down");
    assert_eq!(s["services"][0]["observed"], "connection refused");

    // `list` shows it too.
    let out = repo.stack().arg("list").output().unwrap();
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("hostweb") && l.contains("stopped")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_service_running_before_up_is_not_stopped_by_down() {
    let port = 47312;
    assert_free(port);
    let repo = host_repo("hostown", port);
    let _guard = KillOnDrop(repo.join("stacklets/hostown/web.pid"));
    let _server = OwnServer::start(port);

    let out = repo.stack().args(["up", "hostown"]).output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Found Web"), "{err}");
    assert!(!repo.join(".stack/state/hostown/services").exists());
    assert_eq!(
        status_json(&repo, "hostown")["services"][0]["started_by_stack"],
        false
    );

    let out = repo.stack().args(["down", "hostown"]).output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("Stopping Web"), "{err}");
    // `down` runs a `stop` command before it returns; this one leaves a file behind when it runs.
    assert!(
        !repo.join("stacklets/hostown/stop-ran").exists(),
        "down ran `stop` for a service it did not start"
    );
    assert!(answering(port), "down stopped a service it did not start");
}

#[test]
fn destroy_stops_what_up_started() {
    let port = 47313;
    assert_free(port);
    let repo = host_repo("hostgone", port);
    let _guard = KillOnDrop(repo.join("stacklets/hostgone/web.pid"));
    repo.stack().args(["up", "hostgone"]).assert().success();
    assert!(answering(port));
    repo.stack()
        .args(["destroy", "hostgone", "--yes"])
        .assert()
        .success()
        .stderr(contains("Stopping Web"));
    assert!(wait_for(port, false), "destroy left the service running");
    assert!(
        repo.join("stacklets/hostgone/stop-ran").exists(),
        "`stop` ran"
    );
    assert!(!repo.join(".stack/state/hostgone").exists());
    assert_eq!(status_json(&repo, "hostgone")["state"], "available");
}

#[test]
fn a_start_command_whose_program_is_missing_says_so_plainly() {
    let repo = Repo::new().host_stacklet(
        "hostbrew",
        r#"type = "host"

[services.omlx]
name      = "oMLX"
check_url = "http://127.0.0.1:47314/v1/models"
start     = "brew services start omlx"
stop      = "brew services stop omlx"
"#,
    );
    // A PATH without Homebrew, whatever the machine running the tests has.
    let out = repo
        .stack()
        .env("PATH", "/usr/bin:/bin")
        .args(["up", "hostbrew"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(
            "error: `brew` is not installed on this machine; the `hostbrew` stacklet needs macOS with Homebrew to start `oMLX` (`brew services start omlx`)"
        ),
        "{err}"
    );
    assert!(!repo.join(".stack/hostbrew.setup-done").exists());
    assert!(!repo.join(".stack/state/hostbrew/services").exists());
}

#[test]
fn other_missing_programs_are_named_too() {
    let repo = Repo::new().host_stacklet("hostnone",
        "type = \"host\"\n\n[services.x]\ncheck_url = \"http://127.0.0.1:47315/\"\nstart = \"nosuch-server-xyz --port 47315\"\n",
    );
    repo.stack().args(["up", "hostnone"]).assert().code(1).stderr(contains(
        "error: `nosuch-server-xyz` is not installed on this machine; the `hostnone` stacklet needs `nosuch-server-xyz` to start `x`",
    ));
}

#[test]
fn a_failing_start_command_shows_its_exit_code_and_output() {
    let repo = Repo::new().host_stacklet("hostfail",
        "type = \"host\"\n\n[services.x]\nname = \"X\"\ncheck_url = \"http://127.0.0.1:47316/\"\nstart = \"echo cannot bind; exit 3\"\n",
    );
    repo.stack().args(["up", "hostfail"]).assert().code(1).stderr(
        contains("error: Starting `X` of `hostfail` failed: `echo cannot bind; exit 3` ended with exit code 3; last output:")
            .and(contains("cannot bind")),
    );
}

#[test]
fn a_service_that_never_answers_times_out_naming_it_and_down_still_stops_it() {
    let repo = Repo::new().host_stacklet("hostslow",
        "type = \"host\"\n\n[services.x]\nname = \"Slow\"\ncheck_url = \"http://127.0.0.1:47317/\"\nstart = \"touch started-once\"\nstop = \"rm started-once\"\n",
    );
    repo.stack()
        .env("STACK_SERVICE_TIMEOUT", "1")
        .args(["up", "hostslow"])
        .assert()
        .code(1)
        .stderr(contains(
            "error: `Slow` of `hostslow` was started but did not answer at http://127.0.0.1:47317/ within 1s: last saw connection refused",
        ));
    assert!(repo.join("stacklets/hostslow/started-once").exists());
    // Not set up (no marker), but what `up` started is remembered, so `down` reaches it.
    assert_eq!(status_json(&repo, "hostslow")["state"], "stopped");
    repo.stack()
        .args(["down", "hostslow"])
        .assert()
        .success()
        .stderr(contains("Stopping Slow"));
    assert!(!repo.join("stacklets/hostslow/started-once").exists());
    assert_eq!(status_json(&repo, "hostslow")["state"], "available");
}

#[test]
fn a_down_service_without_start_fails_up() {
    let repo = Repo::new().host_stacklet("hostext",
        "type = \"host\"\n\n[services.llm]\nname = \"LLM\"\ncheck_url = \"http://127.0.0.1:47318/\"\n",
    );
    repo.stack().args(["up", "hostext"]).assert().code(1).stderr(
        contains("error: `LLM` of `hostext` is not answering at http://127.0.0.1:47318/ (connection refused) and has no `start` command")
            .and(contains("hint: start it yourself")),
    );
}

#[test]
fn an_unknown_variable_in_check_url_names_the_key() {
    let repo = Repo::new().host_stacklet(
        "hostbad",
        "type = \"host\"\n\n[services.llm]\ncheck_url = \"{ai_openai_ur}/models\"\n",
    );
    repo.stack()
        .args(["up", "hostbad"])
        .assert()
        .code(1)
        .stderr(
            contains("Unknown template variable `ai_openai_ur`")
                .and(contains("[services.llm].check_url"))
                .and(contains("hint: did you mean `ai_openai_url`?")),
        );
}

/// Runs `stack destroy <id> --yes` when dropped, so containers never outlive a failed test.
struct DestroyOnDrop<'a>(&'a Repo, &'a str);

impl Drop for DestroyOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.stack().args(["destroy", self.1, "--yes"]).output();
    }
}

#[test]
fn a_host_stacklet_with_containers_is_running_only_when_both_hold() {
    let port = 47320;
    assert_free(port);
    let repo = host_repo("hostmix", port).file(
        "stacklets/hostmix/docker-compose.yml",
        "name: stack-hostmix\nservices:\n  app:\n    image: stack-test/busybox:1\n    command: [\"sleep\", \"3600\"]\n    stop_grace_period: 1s\n",
    );
    let _pid = KillOnDrop(repo.join("stacklets/hostmix/web.pid"));
    let _destroy = DestroyOnDrop(&repo, "hostmix");

    let out = repo.stack().args(["up", "hostmix"]).output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    // The service starts before the containers.
    let starting = err.find("Starting Web").expect("service started");
    let app = err.find("stack-hostmix-app").expect("container created");
    assert!(starting < app, "{err}");
    assert_eq!(status_json(&repo, "hostmix")["state"], "running");

    // The service goes away behind stack's back: the containers alone do not make it running.
    std::process::Command::new("bash")
        .args(["-c", "kill $(cat web.pid) && rm web.pid"])
        .current_dir(repo.join("stacklets/hostmix"))
        .status()
        .unwrap();
    assert!(wait_for(port, false));
    let s = status_json(&repo, "hostmix");
    assert_eq!(s["state"], "degraded", "{s}");
    assert_eq!(s["state_detail"], "service Web: connection refused");

    // `up` brings it back, `down` stops both.
    repo.stack().args(["up", "hostmix"]).assert().success();
    assert!(answering(port));
    repo.stack().args(["down", "hostmix"]).assert().success();
    assert!(wait_for(port, false));
    assert_eq!(status_json(&repo, "hostmix")["state"], "stopped");
}

#[test]
fn down_all_still_stops_a_host_stacklet_whose_service_died() {
    let port = 47321;
    assert_free(port);
    let repo = host_repo("hostdied", port);
    let pidfile = repo.join("stacklets/hostdied/web.pid");
    let _guard = KillOnDrop(pidfile.clone());
    repo.stack().args(["up", "hostdied"]).assert().success();
    // The service dies behind stack's back: the stacklet now reads as stopped.
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    std::process::Command::new("kill")
        .arg(pid.trim())
        .status()
        .unwrap();
    assert!(wait_for(port, false));
    assert_eq!(status_json(&repo, "hostdied")["state"], "stopped");
    // `down all` still runs its `down` (on_stop and the remembered service's `stop`).
    repo.stack()
        .args(["down", "all"])
        .assert()
        .success()
        .stderr(contains("Stopping HOSTDIED").and(contains("Nothing is running").not()));
}
