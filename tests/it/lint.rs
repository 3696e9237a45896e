//! `stack lint` through the real binary: the shipped stacklets pass (this is how CI lints them),
//! and a broken stacklet yields `file:line:` findings on stdout, a summary on stderr and exit 1.

use crate::support::{Repo, stderr, stdout};

/// The repo this test binary was built from, linted with an empty instance (no local
/// `stack.toml` can change the outcome).
#[test]
fn shipped_stacklets_pass_lint() {
    let instance = tempfile::tempdir().expect("temp dir");
    let repo = env!("CARGO_MANIFEST_DIR");
    let out = Repo::new()
        .stack()
        .env("STACK_ROOT", repo)
        .env("STACK_DIR", instance.path())
        .arg("lint")
        .output()
        .expect("run stack lint");
    assert!(
        out.status.success(),
        "stack lint failed on the shipped stacklets:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("Checked 8 stacklets: no errors"),
        "{}",
        stderr(&out)
    );

    let out = Repo::new()
        .stack()
        .env("STACK_ROOT", repo)
        .env("STACK_DIR", instance.path())
        .args(["lint", "--json"])
        .output()
        .expect("run stack lint --json");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["errors"], 0, "{doc:#}");
    assert!(doc["stacklets"].as_array().unwrap().len() >= 8, "{doc:#}");
}

const BROKEN: &str =
    "name: web\nservices:\n  web:\n    image: busybox:1.36.1\n    ports:\n      - \"8080:80\"\n";

#[test]
fn findings_go_to_stdout_and_errors_exit_1() {
    let repo = Repo::new()
        .stacklet("web", "port = 42090\n")
        .file("stacklets/web/docker-compose.yml", BROKEN);
    let out = repo.stack().args(["lint", "web"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let lines = stdout(&out);
    for expected in [
        "stacklets/web/docker-compose.yml:1: error: Project name `web` must be `stack-web`",
        "stacklets/web/docker-compose.yml:3: error: Service `web` has no `container_name`; set `container_name: web`",
        "stacklets/web/docker-compose.yml:6: error: Port `8080:80` of service `web` must be exactly `${PORT_BIND_IP:-127.0.0.1}:<host>:<container>`",
        "stacklets/web/docker-compose.yml:3: error: Service `web` has no `restart: unless-stopped`",
        "stacklets/web/stacklet.toml:6: warning: `port` = 42090 is not published by any service of the compose file",
    ] {
        assert!(
            lines.lines().any(|l| l == expected),
            "missing {expected:?} in:\n{lines}"
        );
    }
    assert!(
        lines.lines().all(|l| l.starts_with("stacklets/web/")),
        "only findings on stdout:\n{lines}"
    );
    let err = stderr(&out);
    assert!(
        err.trim_end()
            .ends_with("errors and 1 warning in 1 stacklet"),
        "{err}"
    );

    let out = repo.stack().args(["lint", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["warnings"], 1);
    assert_eq!(doc["findings"][0]["rule"], "project-name");
    assert_eq!(doc["findings"][0]["severity"], "error");
}

#[test]
fn warnings_alone_do_not_fail() {
    let compose = "name: stack-web\nservices:\n  stack-web:\n    container_name: stack-web\n    image: busybox:1.36.1\n    volumes:\n      - cache:/cache\n    labels:\n      - \"com.centurylinklabs.watchtower.enable=${WATCHTOWER_ENABLE:-true}\"\n    networks: [stack]\n    restart: unless-stopped\nnetworks:\n  stack:\n    external: true\nvolumes:\n  cache: {}\n";
    let repo = Repo::new()
        .stacklet("web", "")
        .file("stacklets/web/docker-compose.yml", compose);
    let out = repo.stack().arg("lint").output().unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "stacklets/web/docker-compose.yml:7: warning: Service `stack-web` uses the named volume `cache`; bind mounts below `{data_dir}/web/` are visible and easy to back up"
    );
    assert!(stderr(&out).contains("Checked 1 stacklet: no errors, 1 warning"));
}

#[test]
fn unknown_stacklet_is_exit_1_with_a_hint() {
    let repo = Repo::new().host_stacklet("web", "");
    let out = repo.stack().args(["lint", "wbe"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("did you mean `web`?"),
        "{}",
        stderr(&out)
    );
}
