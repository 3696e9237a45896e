//! Issue 10: one broken thing never blocks the rest, nothing is lost silently, every error says
//! why. Each test drives the binary through one numbered case of the issue (ids `rb1-*`, host
//! ports 44500–44699).

use predicates::str::contains;

use crate::support::{Repo, Web, docker_lines, project_containers, stderr, stdout};

/// Run `stack <args>` and require success, showing stderr otherwise.
fn ok(repo: &Repo, args: &[&str]) -> std::process::Output {
    let out = repo.stack().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "`stack {}` failed:\n{}",
        args.join(" "),
        stderr(&out)
    );
    out
}

/// Run `stack <args>` and require exit code 1; returns stderr.
fn fails(repo: &Repo, args: &[&str]) -> String {
    let out = repo.stack().args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "`stack {}` should fail:\n{}{}",
        args.join(" "),
        stdout(&out),
        stderr(&out)
    );
    stderr(&out)
}

fn volumes_of(id: &str) -> Vec<String> {
    docker_lines(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project=stack-{id}"),
    ])
}

/// §1: a stacklet whose manifest breaks after it was started blocks nothing: the others list,
/// start, stop and get destroyed; it shows as broken; `up` of it names its problem; `down` and
/// `destroy` of it work from Docker's labels and `.stack/`; `lint` reports it.
#[test]
fn a_broken_stacklet_never_blocks_the_others() {
    let (a, b) = ("rb1-iso-a", "rb1-iso-b");
    let repo = Repo::new()
        .web_stacklet(
            a,
            44500,
            Web {
                manifest: "[env]\ngenerate = [\"TOKEN\"]\n",
                ..Web::default()
            },
        )
        .web_stacklet(b, 44501, Web::default());
    let _cleanup = repo.cleanup(&[a, b]);
    ok(&repo, &["up", a]);
    std::fs::create_dir_all(repo.join(&format!("data/{a}"))).unwrap();
    std::fs::write(repo.join(&format!("data/{a}/db")), "rows").unwrap();
    // Break A: a wrong type in its manifest.
    let manifest = repo.read(&format!("stacklets/{a}/stacklet.toml"));
    std::fs::write(
        repo.join(&format!("stacklets/{a}/stacklet.toml")),
        manifest.replace("port = 44500", "port = \"44500\""),
    )
    .unwrap();
    let problem = format!("Invalid `stacklets/{a}/stacklet.toml`: invalid type: string \"44500\"");

    let out = ok(&repo, &["list"]);
    assert!(
        stderr(&out).contains(&format!("warning: {problem}")),
        "{}",
        stderr(&out)
    );
    let table = stdout(&out);
    let row = table.lines().find(|l| l.starts_with(a)).expect("A's row");
    assert!(row.contains("broken (running)"), "{table}");
    let out = ok(&repo, &["list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("pure JSON");
    let row_a = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == a)
        .unwrap();
    assert_eq!(row_a["state"], "broken");
    assert!(row_a["problem"].as_str().unwrap().contains(&problem));
    ok(&repo, &["status"]);
    let out = ok(&repo, &["ps"]);
    assert!(
        stdout(&out).contains(&format!("stack-{a}-web")),
        "{}",
        stdout(&out)
    );

    ok(&repo, &["up", b]);
    ok(&repo, &["down", b]);
    ok(&repo, &["destroy", b, "--yes"]);
    assert!(project_containers(b).is_empty());

    let err = fails(&repo, &["up", a]);
    assert!(err.contains(&format!("error: {problem}")), "{err}");

    let out = repo.stack().arg("lint").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(&format!("stacklets/{a}/stacklet.toml:6: error: {problem}")),
        "{}",
        stdout(&out)
    );

    let out = ok(&repo, &["down", a]);
    assert!(
        stderr(&out).contains("without a valid manifest its `on_stop` hook cannot run"),
        "{}",
        stderr(&out)
    );
    let running = docker_lines(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project=stack-{a}"),
    ]);
    assert!(running.is_empty(), "A still runs: {running:?}");

    assert!(repo.join(&format!("stacklets/{a}/.env")).exists());
    ok(&repo, &["destroy", a, "--yes"]);
    assert!(project_containers(a).is_empty());
    assert!(volumes_of(a).is_empty(), "{:?}", volumes_of(a));
    assert!(!repo.join(&format!("stacklets/{a}/.env")).exists());
    assert!(!repo.join(&format!(".stack/{a}.setup-done")).exists());
    assert!(!repo.join(&format!("data/{a}")).exists());
    assert!(
        !repo
            .read(".stack/secrets.toml")
            .contains(&format!("{a}__TOKEN"))
    );
}

/// §1: a port claimed twice breaks both claimants (each names both) and nothing else.
#[test]
fn a_port_clash_blocks_only_the_two_claimants() {
    let repo = Repo::new()
        .host_stacklet("rb1-clash-a", "port = 44510\n")
        .host_stacklet("rb1-clash-b", "[ports]\nweb = 44510\n")
        .host_stacklet("rb1-clash-c", "port = 44511\n");
    for id in ["rb1-clash-a", "rb1-clash-b"] {
        let err = fails(&repo, &["up", id]);
        assert!(
            err.contains(
                "Port 44510 is claimed twice: by `rb1-clash-a` (port) and by `rb1-clash-b` (ports.web)"
            ),
            "{err}"
        );
    }
    let out = ok(&repo, &["up", "rb1-clash-c"]);
    assert!(stderr(&out).contains("warning: Port 44510 is claimed twice"));
    ok(&repo, &["destroy", "rb1-clash-c", "--yes"]);
}

/// §2: `destroy` removes everything `up` created even when the compose file no longer parses.
#[test]
fn destroy_works_when_the_compose_file_is_now_invalid() {
    let id = "rb1-destroy";
    let repo = Repo::new().web_stacklet(
        id,
        44520,
        Web {
            manifest: "[env]\ngenerate = [\"DB_PASSWORD\"]\n",
            ..Web::default()
        },
    );
    let _cleanup = repo.cleanup(&[id]);
    ok(&repo, &["up", id]);
    std::fs::create_dir_all(repo.join(&format!("data/{id}"))).unwrap();
    assert_eq!(volumes_of(id).len(), 1);
    std::fs::write(
        repo.join(&format!("stacklets/{id}/docker-compose.yml")),
        "services:\n  web: [this is not a service\n",
    )
    .unwrap();
    ok(&repo, &["destroy", id, "--yes"]);
    assert!(project_containers(id).is_empty());
    assert!(volumes_of(id).is_empty());
    assert!(!repo.join(&format!("stacklets/{id}/.env")).exists());
    assert!(!repo.join(&format!("data/{id}")).exists());
    assert!(!repo.join(&format!(".stack/{id}.setup-done")).exists());
    assert!(!repo.read(".stack/secrets.toml").contains("DB_PASSWORD"));
}

/// §2: the compose file is checked before any hook runs.
#[test]
fn a_broken_compose_file_is_reported_before_on_install_runs() {
    let id = "rb1-early";
    let repo = Repo::new()
        .stacklet(id, "")
        .file(
            &format!("stacklets/{id}/docker-compose.yml"),
            &format!("name: stack-{id}\nservices:\n  web:\n    image: stack-test/busybox:1\n    frobnicate: true\n"),
        )
        .file(
            &format!("stacklets/{id}/hooks/on_install.sh"),
            "mkdir -p \"$STACK_DATA_DIR\"\ntouch \"$STACK_DATA_DIR/installed\"\n",
        );
    let err = fails(&repo, &["up", id]);
    assert!(err.contains("frobnicate"), "{err}");
    assert!(!repo.join("data/installed").exists(), "on_install ran");
}

/// §3: ids longer than 32 characters are a manifest error; the stacklet is listed as broken.
#[test]
fn an_over_long_id_is_a_manifest_error() {
    let long = format!("rb1-{}", "x".repeat(29));
    assert_eq!(long.len(), 33);
    let repo = Repo::new()
        .host_stacklet(&long, "")
        .host_stacklet(&long[..32], "");
    let err = fails(&repo, &["up", &long]);
    assert!(
        err.contains(&format!(
            "key `id`: `{long}` is 33 characters long (line 1); an id may have at most 32"
        )),
        "{err}"
    );
    ok(&repo, &["up", &long[..32]]);
    ok(&repo, &["list"]);
}

/// §4: a generated secret missing for a set-up stacklet is refused, not regenerated; the flag
/// regenerates it on purpose.
#[test]
fn a_missing_secret_of_a_set_up_stacklet_is_refused() {
    let id = "rb1-secret";
    let repo = Repo::new().host_stacklet(id, "[env]\ngenerate = [\"DB_PASSWORD\"]\n");
    ok(&repo, &["up", id]);
    let before = repo.read(".stack/secrets.toml");
    assert!(before.contains("rb1-secret__DB_PASSWORD"));
    std::fs::remove_file(repo.join(".stack/secrets.toml")).unwrap();

    let err = fails(&repo, &["up", id]);
    assert!(
        err.contains(
            "error: The generated secret `rb1-secret__DB_PASSWORD` of `rb1-secret` is missing from `.stack/secrets.toml`, but `rb1-secret` is already set up (its setup marker `.stack/rb1-secret.setup-done` exists)"
        ),
        "{err}"
    );
    assert!(
        err.contains("restore `.stack/secrets.toml` from a backup"),
        "{err}"
    );
    assert!(
        err.contains("stack up rb1-secret --regenerate-secrets"),
        "{err}"
    );
    assert!(
        !repo.join(".stack/secrets.toml").exists(),
        "a secret was generated"
    );
    // `env` would generate it too: refused the same way.
    let err = fails(&repo, &["env", id]);
    assert!(err.contains("is already set up"), "{err}");
    // `down` and `destroy` never need the secret.
    ok(&repo, &["down", id]);

    ok(&repo, &["up", id, "--regenerate-secrets"]);
    let after = repo.read(".stack/secrets.toml");
    assert!(after.contains("rb1-secret__DB_PASSWORD"));
    assert_ne!(before, after);
}

/// §4: data in `<data>/<id>/` also counts as set up (an interrupted first run left data).
#[test]
fn data_without_a_marker_also_guards_secrets() {
    let id = "rb1-secret-data";
    let repo = Repo::new()
        .host_stacklet(id, "[env]\ngenerate = [\"DB_PASSWORD\"]\n")
        .file(&format!("data/{id}/pgdata"), "old database");
    let err = fails(&repo, &["up", id]);
    assert!(
        err.contains(&format!(
            "it has data in `{}",
            repo.join(&format!("data/{id}")).display()
        )),
        "{err}"
    );
}

/// §7: a container that keeps crashing fails `up` at once with the exit code and its log, instead
/// of waiting out the health timeout.
#[test]
fn a_crash_loop_fails_up_with_the_exit_code_and_log() {
    let id = "rb1-crash";
    let compose = format!(
        r#"name: stack-{id}
services:
  web:
    container_name: stack-{id}-web
    image: stack-test/busybox:1
    restart: unless-stopped
    command: ["sh", "-c", "echo cannot open /config/app.ini; exit 3"]
"#
    );
    let repo = Repo::new()
        .stacklet(
            id,
            "port = 44530\n[health]\nurl = \"http://127.0.0.1:44530/\"\ntimeout = 600\n",
        )
        .file(&format!("stacklets/{id}/docker-compose.yml"), &compose);
    crate::support::ensure_test_images();
    let _cleanup = repo.cleanup(&[id]);
    let err = fails(&repo, &["up", id]);
    assert!(
        err.contains(&format!(
            "`{id}` cannot become healthy: container `stack-{id}-web` (service `web`)"
        )),
        "{err}"
    );
    assert!(err.contains("exit code 3"), "{err}");
    assert!(err.contains("cannot open /config/app.ini"), "{err}");
    assert!(!err.contains("did not become healthy within"), "{err}");
}

/// §7: a container that exits with an error and is not restarted fails `up` at once too.
#[test]
fn an_exited_container_fails_up_with_its_exit_code() {
    let id = "rb1-exit";
    let compose = format!(
        r#"name: stack-{id}
services:
  web:
    image: stack-test/busybox:1
    command: ["sh", "-c", "echo bad config; exit 7"]
"#
    );
    let repo = Repo::new()
        .stacklet(
            id,
            "port = 44531\n[health]\nurl = \"http://127.0.0.1:44531/\"\ntimeout = 600\n",
        )
        .file(&format!("stacklets/{id}/docker-compose.yml"), &compose);
    crate::support::ensure_test_images();
    let _cleanup = repo.cleanup(&[id]);
    let err = fails(&repo, &["up", id]);
    assert!(err.contains("exited with code 7"), "{err}");
    assert!(err.contains("bad config"), "{err}");
}

/// §7: an env value no process can be given fails before anything is created.
#[test]
fn an_env_value_over_the_kernel_limit_fails_before_anything_is_created() {
    let id = "rb1-bigenv";
    let compose = format!(
        "name: stack-{id}\nservices:\n  web:\n    image: stack-test/busybox:1\n    environment:\n      BIG: ${{BIG}}\n"
    );
    let repo = Repo::new()
        .stacklet(
            id,
            &format!("[env.defaults]\nBIG = \"{}\"\n", "a".repeat(140_000)),
        )
        .file(&format!("stacklets/{id}/docker-compose.yml"), &compose)
        .file(
            &format!("stacklets/{id}/hooks/on_install.sh"),
            "mkdir -p \"$STACK_DATA_DIR\"\ntouch \"$STACK_DATA_DIR/installed\"\n",
        );
    let _cleanup = repo.cleanup(&[id]);
    let err = fails(&repo, &["up", id]);
    assert!(
        err.contains(
            "Service `web` can never start: its environment variable `BIG` is 140004 bytes, over the 131071 bytes a process can be given"
        ),
        "{err}"
    );
    assert!(project_containers(id).is_empty());
    assert!(!repo.join("data/installed").exists(), "on_install ran");
}

/// §8: a Docker stacklet without a compose file is a manifest error and a lint error.
#[test]
fn a_docker_stacklet_without_a_compose_file_is_an_error() {
    let repo = Repo::new().stacklet("rb1-empty", "[health]\nurl = \"http://127.0.0.1:44540/\"\n");
    let err = fails(&repo, &["up", "rb1-empty"]);
    assert!(
        err.contains("key `type`: `rb1-empty` is a Docker stacklet (the default `type`) but has no `docker-compose.yml`"),
        "{err}"
    );
    assert!(err.contains("set `type = \"host\"`"), "{err}");
    repo.stack()
        .args(["lint", "rb1-empty"])
        .assert()
        .code(1)
        .stdout(contains(
            "stacklets/rb1-empty/stacklet.toml:1: error: Invalid `stacklets/rb1-empty/stacklet.toml` key `type`",
        ));
}

/// §13: `STACK_DIR` naming a file says so, and suggests the directory holding it.
#[test]
fn stack_dir_pointing_at_a_file_says_so() {
    let repo = Repo::new().host_stacklet("rb1-dir", "");
    let err = repo
        .stack()
        .env("STACK_DIR", repo.join("stack.toml"))
        .arg("list")
        .output()
        .unwrap();
    let text = stderr(&err);
    assert_eq!(err.status.code(), Some(1));
    assert!(
        text.contains("stack.toml`, which is a file, not a directory"),
        "{text}"
    );
    assert!(
        text.contains(&format!("`STACK_DIR={}`", repo.path().display()))
            || text.contains("`STACK_DIR=/"),
        "{text}"
    );
    assert!(!text.contains("mkdir"), "{text}");
}

/// §13: huge and negative durations are clear errors, never a panic.
#[test]
fn huge_and_negative_durations_are_clear_errors() {
    for (value, id) in [
        ("9223372036854775807", "rb1-dur-huge"),
        ("-1", "rb1-dur-neg"),
    ] {
        let repo = Repo::new().host_stacklet(
            id,
            &format!("[health]\nurl = \"http://127.0.0.1:44550/\"\ntimeout = {value}\n"),
        );
        let out = repo.stack().args(["up", id]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!(
                "`timeout = {value}` must be a positive number of seconds, at most 86400 (one day) (line 9)"
            )),
            "{}",
            stderr(&out)
        );
    }
    let id = "rb1-dur-compose";
    let repo = Repo::new().stacklet(id, "").file(
        &format!("stacklets/{id}/docker-compose.yml"),
        &format!(
            "name: stack-{id}\nservices:\n  web:\n    image: stack-test/busybox:1\n    stop_grace_period: 99999999999999h\n"
        ),
    );
    let err = fails(&repo, &["up", id]);
    assert!(
        err.contains("`99999999999999h` is longer than Docker can represent"),
        "{err}"
    );
}

/// §13: a hook writing `ctx.cfg` edits an inline `[<id>]` table in place, keeping the user's keys.
#[test]
fn ctx_cfg_edits_an_inline_table_in_place() {
    let id = "rb1-cfg";
    let repo = Repo::new()
        .host_stacklet(id, "")
        .file(
            "stack.toml",
            "rb1-cfg = { albums = 3, owner = \"ann\" }\n\n[core]\ndata_dir = \"data\"\n",
        )
        .file(
            &format!("stacklets/{id}/hooks/on_install.py"),
            "def run(ctx):\n    ctx.cfg('workers', 4)\n",
        );
    ok(&repo, &["up", id]);
    let text = repo.read("stack.toml");
    assert!(
        text.contains("rb1-cfg = { albums = 3, owner = \"ann\", workers = 4 }"),
        "{text}"
    );
}
