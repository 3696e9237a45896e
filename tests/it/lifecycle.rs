//! Issue 4: the lifecycle through the real binary and the real Docker Engine — first and later
//! runs, `requires`, `up all`/`down all` order, destroy, hooks and their `ctx`, health, STACK_DIR
//! isolation, the instance lock, and the small Docker verbs.
//!
//! Every test uses its own stacklet ids (`lc-*`), host ports (431xx) and container names, so they
//! run in parallel, and holds a `Cleanup` that removes its compose projects whatever happens.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Repo, Web, inspect, project_containers, stderr, stdout};

/// Shell hooks `hooks/<name>.sh` for `names`, each appending its name to `data/<id>-hooks.log`.
fn counting_hooks(mut repo: Repo, id: &str, names: &[&str]) -> Repo {
    for name in names {
        repo = repo.file(
            &format!("stacklets/{id}/hooks/{name}.sh"),
            &format!(
                "mkdir -p \"$STACK_DATA_DIR\"\necho {name} >> \"$STACK_DATA_DIR/{id}-hooks.log\"\n"
            ),
        );
    }
    repo
}

fn hook_log(repo: &Repo, id: &str) -> Vec<String> {
    std::fs::read_to_string(repo.join(&format!("data/{id}-hooks.log")))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

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

/// Run `stack <args>` and require exit code 1.
fn fails(repo: &Repo, args: &[&str]) -> String {
    let out = repo.stack().args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "`stack {}` should fail:\n{}",
        args.join(" "),
        stderr(&out)
    );
    stderr(&out)
}

/// A Docker timestamp (RFC 3339 with up to nine fraction digits, trailing zeros trimmed) in a form
/// that sorts correctly as text.
fn sortable_time(ts: &str) -> String {
    let ts = ts.trim_end_matches('Z');
    let (whole, frac) = ts.split_once('.').unwrap_or((ts, ""));
    format!("{whole}.{frac:0<9}")
}

fn started_at(container: &str) -> String {
    sortable_time(&inspect(container, "{{.State.StartedAt}}"))
}

fn finished_at(container: &str) -> String {
    sortable_time(&inspect(container, "{{.State.FinishedAt}}"))
}

const ALL_HOOKS: [&str; 5] = [
    "on_configure",
    "on_install",
    "on_start",
    "on_install_success",
    "on_start_ready",
];

#[test]
fn first_run_hooks_run_once_and_marker_follows_install_success() {
    let id = "lc-first";
    let repo = Repo::new().web_stacklet(id, 43101, Web::default());
    let _cleanup = repo.cleanup(&[id]);
    let repo = counting_hooks(repo, id, &ALL_HOOKS)
        // Replaces the counting on_install_success: it also checks that the marker is not written
        // before it ran.
        .file(
            &format!("stacklets/{id}/hooks/on_install_success.sh"),
            &format!(
                "test ! -e ../../.stack/{id}.setup-done || {{ echo marker too early; exit 1; }}\necho on_install_success >> \"$STACK_DATA_DIR/{id}-hooks.log\"\n"
            ),
        );
    ok(&repo, &["up", id]);
    assert!(repo.join(&format!(".stack/{id}.setup-done")).is_file());
    ok(&repo, &["up", id]);
    assert_eq!(
        hook_log(&repo, id),
        [
            "on_configure",
            "on_install",
            "on_start",
            "on_install_success",
            "on_start_ready",
            "on_start",
            "on_start_ready"
        ]
    );
    assert_eq!(
        inspect(&format!("stack-{id}-web"), "{{.State.Running}}"),
        "true"
    );
}

#[test]
fn failing_install_success_leaves_no_marker_and_next_up_configures_again() {
    let id = "lc-retry";
    let repo = Repo::new().web_stacklet(id, 43102, Web::default());
    let _cleanup = repo.cleanup(&[id]);
    let repo = counting_hooks(repo, id, &ALL_HOOKS).file(
        &format!("stacklets/{id}/hooks/on_install_success.sh"),
        &format!(
            "echo on_install_success >> \"$STACK_DATA_DIR/{id}-hooks.log\"\nif [ -e \"$STACK_DATA_DIR/fail\" ]; then echo 'token endpoint down'; exit 3; fi\n"
        ),
    );
    std::fs::create_dir_all(repo.join("data")).unwrap();
    std::fs::write(repo.join("data/fail"), "").unwrap();
    let err = fails(&repo, &["up", id]);
    assert!(
        err.contains("on_install_success.sh` failed with exit code 3")
            && err.contains("token endpoint down"),
        "{err}"
    );
    assert!(!repo.join(&format!(".stack/{id}.setup-done")).exists());
    // on_start_ready never ran after the failure.
    assert_eq!(
        hook_log(&repo, id),
        [
            "on_configure",
            "on_install",
            "on_start",
            "on_install_success"
        ]
    );

    std::fs::remove_file(repo.join("data/fail")).unwrap();
    ok(&repo, &["up", id]);
    assert!(repo.join(&format!(".stack/{id}.setup-done")).is_file());
    assert_eq!(
        hook_log(&repo, id)[4..],
        [
            "on_configure",
            "on_install",
            "on_start",
            "on_install_success",
            "on_start_ready"
        ]
    );
}

#[test]
fn requires_available_fails_with_hint_and_stopped_warns() {
    let (dep, app) = ("lc-req-db", "lc-req-app");
    let repo = Repo::new()
        .web_stacklet(dep, 43103, Web::default())
        .host_stacklet(app, &format!("requires = [\"{dep}\"]\n"));
    let _cleanup = repo.cleanup(&[dep, app]);
    let err = fails(&repo, &["up", app]);
    assert!(
        err.contains(&format!("`{app}` requires `{dep}`, which is not set up"))
            && err.contains(&format!("hint: stack up {dep}")),
        "{err}"
    );
    assert!(!repo.join(&format!(".stack/{app}.setup-done")).exists());

    ok(&repo, &["up", dep]);
    ok(&repo, &["down", dep]);
    assert_eq!(
        inspect(&format!("stack-{dep}-web"), "{{.State.Running}}"),
        "false"
    );
    let out = ok(&repo, &["up", app]);
    let err = stderr(&out);
    assert!(
        err.contains("warning:") && err.contains(&format!("`{dep}`, which is stopped")),
        "{err}"
    );
    assert!(repo.join(&format!(".stack/{app}.setup-done")).is_file());
}

#[test]
fn up_all_and_down_all_follow_dependency_order() {
    let (base, left, right) = ("lc-ord-base", "lc-ord-left", "lc-ord-right");
    let needs_base = format!("requires = [\"{base}\"]\n");
    let repo = Repo::new()
        .web_stacklet(base, 43104, Web::default())
        .web_stacklet(
            left,
            43105,
            Web {
                manifest: &needs_base,
                ..Web::default()
            },
        )
        .web_stacklet(
            right,
            43106,
            Web {
                manifest: &needs_base,
                ..Web::default()
            },
        )
        // Available, never set up: `up all` must leave it alone.
        .web_stacklet("lc-ord-unused", 43107, Web::default());
    // Each dependent's on_start takes a second and records when it ran, to show that the two
    // independent dependents start concurrently.
    let timed = "mkdir -p \"$STACK_DATA_DIR\"\nlog=\"$STACK_DATA_DIR/timing.log\"\necho \"$STACKLET_ID start $(date +%s%N)\" >> \"$log\"\nsleep 1\necho \"$STACKLET_ID end $(date +%s%N)\" >> \"$log\"\n";
    let repo = repo
        .file(&format!("stacklets/{left}/hooks/on_start.sh"), timed)
        .file(&format!("stacklets/{right}/hooks/on_start.sh"), timed);
    let _cleanup = repo.cleanup(&[base, left, right, "lc-ord-unused"]);
    for id in [base, left, right] {
        ok(&repo, &["up", id]);
    }
    let container = |id: &str| format!("stack-{id}-web");

    ok(&repo, &["down", "all"]);
    for id in [base, left, right] {
        assert_eq!(inspect(&container(id), "{{.State.Running}}"), "false");
    }
    // Dependents stop before their dependency.
    let base_stopped = finished_at(&container(base));
    for id in [left, right] {
        assert!(
            finished_at(&container(id)) < base_stopped,
            "{id} stopped after {base}"
        );
    }

    std::fs::remove_file(repo.join("data/timing.log")).unwrap();
    let out = ok(&repo, &["up", "all"]);
    let timing = repo.read("data/timing.log");
    let at = |id: &str, what: &str| -> u128 {
        timing
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{id} {what} ")))
            .unwrap_or_else(|| panic!("no {id} {what} in {timing}"))
            .parse()
            .unwrap()
    };
    assert!(
        at(left, "start") < at(right, "end") && at(right, "start") < at(left, "end"),
        "the dependents' on_start did not overlap:\n{timing}"
    );
    for id in [base, left, right] {
        assert_eq!(inspect(&container(id), "{{.State.Running}}"), "true");
    }
    // The dependency starts (and is healthy) before its dependents.
    let base_started = started_at(&container(base));
    for id in [left, right] {
        assert!(
            started_at(&container(id)) > base_started,
            "{id} started before {base}:\n{}",
            stderr(&out)
        );
    }
    assert!(project_containers("lc-ord-unused").is_empty());
}

#[test]
fn destroy_refusals() {
    let repo = Repo::new()
        .host_stacklet("lc-ref-core", "always_on = true\n")
        .host_stacklet("lc-ref-db", "")
        .host_stacklet("lc-ref-app", "requires = [\"lc-ref-db\"]\n")
        .host_stacklet("lc-ref-other", "requires = [\"lc-ref-db\"]\n");
    let _cleanup = repo.cleanup(&["lc-ref-core", "lc-ref-db", "lc-ref-app", "lc-ref-other"]);
    for id in ["lc-ref-core", "lc-ref-db", "lc-ref-app"] {
        ok(&repo, &["up", id]);
    }
    let err = fails(&repo, &["destroy", "lc-ref-core", "--yes"]);
    assert!(
        err.contains("`lc-ref-core` is always on and cannot be destroyed"),
        "{err}"
    );
    // Only the set-up dependent is named.
    let err = fails(&repo, &["destroy", "lc-ref-db", "--yes"]);
    assert!(
        err.contains("`lc-ref-db` is required by `lc-ref-app`, which is set up")
            && err.contains("stack destroy lc-ref-app")
            && !err.contains("lc-ref-other"),
        "{err}"
    );
    // stdin is not a terminal: no prompt, a refusal that says how to force it.
    let out = repo
        .stack()
        .args(["destroy", "lc-ref-app"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("Refusing to destroy `lc-ref-app` without confirmation")
            && err.contains("stack destroy lc-ref-app --yes"),
        "{err}"
    );
    for id in ["lc-ref-core", "lc-ref-db", "lc-ref-app"] {
        assert!(repo.join(&format!(".stack/{id}.setup-done")).is_file());
    }
    // Once the dependent is gone, the dependency may go.
    ok(&repo, &["destroy", "lc-ref-app", "--yes"]);
    ok(&repo, &["destroy", "lc-ref-db", "--yes"]);
}

#[test]
fn destroy_removes_only_what_belongs_to_the_stacklet() {
    let id = "lc-destroy";
    let repo = Repo::new()
        .web_stacklet(
            id,
            43108,
            Web {
                manifest: "[env]\ngenerate = [\"DB_PASSWORD\"]\n[env.defaults]\nADMIN = \"{admin_password}\"\n",
                ..Web::default()
            },
        )
        .host_stacklet("lc-destroy-keep", "")
        .file(
            "stacklets/lc-destroy/hooks/on_install.sh",
            "mkdir -p \"$STACK_DATA_DIR/$STACKLET_ID/db\" && echo x > \"$STACK_DATA_DIR/$STACKLET_ID/db/file\"\n",
        );
    let _cleanup = repo.cleanup(&[id]);
    std::fs::create_dir_all(repo.join(".stack")).unwrap();
    std::fs::write(
        repo.join(".stack/secrets.toml"),
        "lc-destroy-keep__TOKEN = \"other\"\n",
    )
    .unwrap();
    ok(&repo, &["up", id]);
    ok(&repo, &["up", "lc-destroy-keep"]);
    let secrets = repo.read(".stack/secrets.toml");
    assert!(secrets.contains(&format!("{id}__DB_PASSWORD")), "{secrets}");
    let admin_line = secrets
        .lines()
        .find(|l| l.starts_with("global__ADMIN_PASSWORD"))
        .expect("admin password generated")
        .to_string();
    assert!(repo.join(&format!("stacklets/{id}/.env")).is_file());
    assert!(repo.join(&format!("data/{id}/db/file")).is_file());
    let volumes = crate::support::docker_lines(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project=stack-{id}"),
    ]);
    assert_eq!(volumes, [format!("stack-{id}_cache")]);

    ok(&repo, &["destroy", id, "--yes"]);
    assert!(project_containers(id).is_empty());
    let volumes = crate::support::docker_lines(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("name=stack-{id}_cache"),
    ]);
    assert!(volumes.is_empty(), "{volumes:?}");
    assert!(!repo.join(&format!("stacklets/{id}/.env")).exists());
    assert!(!repo.join(&format!(".stack/{id}.setup-done")).exists());
    assert!(!repo.join(&format!("data/{id}")).exists());
    let secrets = repo.read(".stack/secrets.toml");
    assert!(!secrets.contains(&format!("{id}__")), "{secrets}");
    assert!(secrets.contains(&admin_line), "{secrets}");
    assert!(secrets.contains("lc-destroy-keep__TOKEN = \"other\""));
    assert!(repo.join(".stack/lc-destroy-keep.setup-done").is_file());
    assert!(repo.join("data").is_dir());
}

#[test]
fn destroy_refuses_a_data_dir_that_links_outside() {
    let id = "lc-link";
    let repo = Repo::new().host_stacklet(id, "[env]\ngenerate = [\"KEY\"]\n");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("precious"), "keep me").unwrap();
    ok(&repo, &["up", id]);
    std::fs::create_dir_all(repo.join("data")).unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.join(&format!("data/{id}"))).unwrap();

    let err = fails(&repo, &["destroy", id, "--yes"]);
    assert!(
        err.contains("Refusing to delete `")
            && err.contains("symlink")
            && err.contains(&outside.path().display().to_string()),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(outside.path().join("precious")).unwrap(),
        "keep me"
    );
    assert!(repo.join(&format!("data/{id}")).is_symlink());
    // Refused before anything was removed: the stacklet is still set up with its secret.
    assert!(repo.join(&format!(".stack/{id}.setup-done")).is_file());
    assert!(
        repo.read(".stack/secrets.toml")
            .contains(&format!("{id}__KEY"))
    );
}

const CTX_HOOK: &str = r#"import json, os

def run(ctx):
    out = {}
    out["attr_env"] = ctx.env["GREETING"]
    out["item_env"] = ctx["env"]["GREETING"]
    out["id"] = ctx.stacklet_id
    out["data_dir_env"] = ctx.env["STACK_DATA_DIR"]
    out["generated"] = len(ctx.secret("DB_PASSWORD") or "")
    out["admin"] = len(ctx["secret"]("ADMIN_PASSWORD") or "")
    ctx.secret("API_TOKEN", "tok-$'\"1")
    out["token"] = ctx["secret"]("API_TOKEN")
    out["missing"] = ctx.secret("NOPE")
    ctx.step("stepping along")
    ctx["step"]("stepping by key")
    ctx.warn("careful now")
    out["shell"] = ctx.shell("echo shell-out; echo $STACKLET_ID")
    out["shell_key"] = ctx["shell"]("printf %s \"$GREETING\"")
    ctx.cfg("mode", "fast")
    ctx["cfg"]("count", 3)
    out["cfg"] = [ctx.cfg("mode"), ctx["cfg"]("count"), ctx.cfg("absent")]
    out["users"] = [u.id for u in ctx.users] + [u["role"] for u in ctx["users"]]
    port = ctx.env["WEB_PORT"]
    out["http"] = ctx.http_get(f"http://127.0.0.1:{port}/health.json")["res"]
    out["http_key"] = ctx["http_get"](f"http://127.0.0.1:{port}/health.json", headers={"X-Test": "1"})["res"]
    out["exec"] = ctx.exec(ctx.env["CONTAINER"], ["cat", "/www/health.json"])
    out["exec_key"] = ctx["exec"](ctx.env["CONTAINER"], ["sh", "-c", "echo $((6 * 7))"])
    print("printed by the hook")
    os.makedirs(ctx.env["STACK_DATA_DIR"], exist_ok=True)
    with open(os.path.join(ctx.env["STACK_DATA_DIR"], "ctx.json"), "w") as f:
        json.dump(out, f)
"#;

#[test]
fn python_ctx_members_work_through_the_binary() {
    let id = "lc-ctx";
    let manifest = format!(
        "[env]\ngenerate = [\"DB_PASSWORD\"]\n[env.defaults]\nGREETING = \"hi there\"\nWEB_PORT = \"43109\"\nCONTAINER = \"stack-{id}-web\"\nADMIN = \"{{admin_password}}\"\n"
    );
    let repo = Repo::new()
        .web_stacklet(
            id,
            43109,
            Web {
                manifest: &manifest,
                ..Web::default()
            },
        )
        .file(&format!("stacklets/{id}/hooks/on_install_success.py"), CTX_HOOK)
        .file(
            "stack.toml",
            "# my settings\n[core]\ndata_dir = \"data\" # keep data here\n\n# the ctx stacklet\n[lc-ctx]\nmode = \"slow\" # speed\n",
        )
        .file(
            "users.toml",
            "[[users]]\nid = \"arthur\"\nname = \"Arthur\"\nrole = \"admin\"\n",
        );
    let _cleanup = repo.cleanup(&[id]);
    // Pipes on both streams: print() output must still reach stderr.
    let out = ok(&repo, &["up", id]);
    let err = stderr(&out);
    for expected in [
        "→ stepping along",
        "→ stepping by key",
        "warning: careful now",
        "shell-out",
        "printed by the hook",
        "{\"res\": \"pong\"}",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(!stdout(&out).contains("printed by the hook"));
    let v: serde_json::Value = serde_json::from_str(&repo.read("data/ctx.json")).unwrap();
    let data = repo.path().canonicalize().unwrap().join("data");
    assert_eq!(v["attr_env"], "hi there");
    assert_eq!(v["item_env"], "hi there");
    assert_eq!(v["id"], id);
    assert_eq!(v["data_dir_env"], data.display().to_string());
    assert_eq!(v["generated"], 32);
    assert_eq!(v["admin"], 8);
    assert_eq!(v["token"], "tok-$'\"1");
    assert_eq!(v["missing"], serde_json::Value::Null);
    assert_eq!(v["shell"], format!("shell-out\n{id}"));
    assert_eq!(v["shell_key"], "hi there");
    assert_eq!(v["cfg"], serde_json::json!(["fast", 3, null]));
    assert_eq!(v["users"], serde_json::json!(["arthur", "admin"]));
    assert_eq!(v["http"], "pong");
    assert_eq!(v["http_key"], "pong");
    assert_eq!(v["exec"], "{\"res\": \"pong\"}");
    assert_eq!(v["exec_key"], "42");
    let toml = repo.read("stack.toml");
    for kept in [
        "# my settings",
        "data_dir = \"data\" # keep data here",
        "# the ctx stacklet",
        "mode = \"fast\" # speed",
        "count = 3",
    ] {
        assert!(toml.contains(kept), "missing {kept:?} in:\n{toml}");
    }
    assert!(
        repo.read(".stack/secrets.toml")
            .contains(&format!("{id}__API_TOKEN"))
    );
}

#[test]
fn raising_hook_stops_the_pipeline() {
    let id = "lc-raise";
    let repo = counting_hooks(Repo::new().host_stacklet(id, ""), id, &["on_start"]).file(
        &format!("stacklets/{id}/hooks/on_install.py"),
        "def run(ctx):\n    ctx.step('about to fail')\n    raise ValueError('boom in install')\n",
    );
    let err = fails(&repo, &["up", id]);
    assert!(
        err.contains("hooks/on_install.py")
            && err.contains("line 3")
            && err.contains("ValueError: boom in install"),
        "{err}"
    );
    assert!(hook_log(&repo, id).is_empty(), "on_start ran");
    assert!(!repo.join(&format!("stacklets/{id}/.env")).exists());
    assert!(!repo.join(&format!(".stack/{id}.setup-done")).exists());
}

#[test]
fn shell_hooks_get_the_rendered_env_and_runtime_vars() {
    let id = "lc-shenv";
    let repo = Repo::new()
        .host_stacklet(
            id,
            "[env.defaults]\nGREETING = \"hello $world 'q'\"\nTZ = \"{timezone}\"\n",
        )
        .file(
            &format!("stacklets/{id}/hooks/on_install.sh"),
            "mkdir -p \"$STACK_DATA_DIR\"\nout=\"$STACK_DATA_DIR/env.txt\"\nfor v in FAMSTACK_DATA_DIR STACK_DATA_DIR FAMSTACK_DOMAIN STACK_DOMAIN STACKLET_ID GREETING TZ PORT_BIND_IP; do\n  if [ \"${!v+set}\" = set ]; then echo \"$v=${!v}\"; else echo \"$v unset\"; fi\ndone > \"$out\"\necho \"cwd=$(pwd)\" >> \"$out\"\n",
        );
    ok(&repo, &["up", id]);
    let data = repo.path().canonicalize().unwrap().join("data");
    let stacklet_dir = repo
        .path()
        .canonicalize()
        .unwrap()
        .join(format!("stacklets/{id}"));
    let expected = format!(
        "FAMSTACK_DATA_DIR={d}\nSTACK_DATA_DIR={d}\nFAMSTACK_DOMAIN=\nSTACK_DOMAIN=\nSTACKLET_ID={id}\nGREETING=hello $world 'q'\nTZ=UTC\nPORT_BIND_IP=0.0.0.0\ncwd={}\n",
        stacklet_dir.display(),
        d = data.display()
    );
    assert_eq!(repo.read("data/env.txt"), expected);
}

#[test]
fn health_by_json_path_passes() {
    let id = "lc-jpath";
    let repo = Repo::new().web_stacklet(
        id,
        43110,
        Web {
            health: Some(
                "url = \"http://127.0.0.1:43110/health.json\"\npath = \"$.res\"\nexpect = \"pong\"\ntimeout = 30\n",
            ),
            ..Web::default()
        },
    );
    let _cleanup = repo.cleanup(&[id]);
    let out = ok(&repo, &["up", id]);
    assert!(stderr(&out).contains("Ready"), "{}", stderr(&out));
    assert!(repo.join(&format!(".stack/{id}.setup-done")).is_file());
}

#[test]
fn health_timeout_fails_naming_the_check_and_leaves_containers() {
    let id = "lc-unhealthy";
    let repo = counting_hooks(
        Repo::new().web_stacklet(
            id,
            43111,
            Web {
                health: Some(
                    "url = \"http://127.0.0.1:43111/health.json\"\npath = \"$.res\"\nexpect = \"ping\"\ntimeout = 3\n",
                ),
                httpd_flags: "-v",
                ..Web::default()
            },
        ),
        id,
        &["on_install_success", "on_start_ready"],
    );
    let _cleanup = repo.cleanup(&[id]);
    let started = Instant::now();
    let err = fails(&repo, &["up", id]);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        err.contains("did not become healthy within 3s")
            && err.contains("check `health`")
            && err.contains(&format!("last lines of `stack-{id}-web`"))
            && err.contains("response:200")
            && err.contains("http://127.0.0.1:43111/health.json")
            && err.contains("$.res = \"pong\"")
            && err.contains(&format!("stack logs {id}")),
        "{err}"
    );
    assert_eq!(
        inspect(&format!("stack-{id}-web"), "{{.State.Running}}"),
        "true"
    );
    assert!(!repo.join(&format!(".stack/{id}.setup-done")).exists());
    assert!(hook_log(&repo, id).is_empty());
}

/// Start `stack up <id>` in the background and wait until it holds the lock (its pid is in the
/// lock file).
// On the panic path the test fails anyway; the child dies with the test process group.
#[allow(clippy::zombie_processes)]
fn start_holding(repo: &Repo, id: &str) -> std::process::Child {
    let mut cmd: Command = Command::new(env!("CARGO_BIN_EXE_stack"));
    cmd.current_dir(repo.path())
        .env_remove("STACK_DIR")
        .env_remove("STACK_ROOT")
        .env("NO_COLOR", "1")
        .env("STACK_LAN_IP", "192.0.2.10")
        .args(["up", id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let started = repo.join("data/started");
    loop {
        let holder = std::fs::read_to_string(repo.join(".stack/stack.lock")).unwrap_or_default();
        if holder.trim() == pid && started.exists() {
            return child;
        }
        assert!(
            Instant::now() < deadline,
            "the first `stack up` never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn concurrent_ups_serialise_and_no_wait_names_the_holder() {
    let id = "lc-lock";
    let repo = Repo::new()
        .host_stacklet(id, "[env]\ngenerate = [\"A\", \"B\"]\n")
        .file(
            &format!("stacklets/{id}/hooks/on_start.sh"),
            "mkdir -p \"$STACK_DATA_DIR\"\ntouch \"$STACK_DATA_DIR/started\"\nsleep 2\n",
        );
    let first = start_holding(&repo, id);
    let pid = first.id();

    let out = repo.stack().args(["up", id, "--no-wait"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "Another `stack` command is changing this instance (pid {pid})"
        )),
        "{err}"
    );

    let second = repo.stack().args(["up", id]).output().unwrap();
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(second.status.success(), "{}", stderr(&second));
    let err = stderr(&second);
    assert!(
        err.contains("Waiting") && err.contains(&format!("(pid {pid})")),
        "{err}"
    );
    let secrets: toml::Table = toml::from_str(&repo.read(".stack/secrets.toml")).unwrap();
    let keys: Vec<&String> = secrets.keys().collect();
    assert_eq!(keys, [&format!("{id}__A"), &format!("{id}__B")]);
}

#[test]
fn ps_logs_restart_and_setup() {
    let id = "lc-verbs";
    let repo = counting_hooks(
        Repo::new().web_stacklet(
            id,
            43112,
            Web {
                httpd_flags: "-v",
                ..Web::default()
            },
        ),
        id,
        &["on_install_success", "on_stop"],
    );
    let _cleanup = repo.cleanup(&[id]);
    let container = format!("stack-{id}-web");
    ok(&repo, &["up", id]);

    let out = ok(&repo, &["ps", id]);
    let text = stdout(&out);
    assert!(
        text.contains(id) && text.contains(&container) && text.contains("running"),
        "{text}"
    );
    assert!(text.contains("127.0.0.1:43112->8080/tcp"), "{text}");

    // The health probe made at least one request, which `httpd -v` logs.
    let mut lines = Vec::new();
    for _ in 0..50 {
        let out = ok(&repo, &["logs", id, "--tail", "1"]);
        lines = stdout(&out).lines().map(str::to_string).collect::<Vec<_>>();
        if !lines.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(lines.len(), 1, "{lines:?}");

    let before = started_at(&container);
    ok(&repo, &["restart", id]);
    assert!(started_at(&container) > before);
    assert_eq!(inspect(&container, "{{.State.Running}}"), "true");

    ok(&repo, &["setup", id]);
    assert_eq!(
        hook_log(&repo, id),
        ["on_install_success", "on_stop", "on_install_success"]
    );
}

#[test]
fn up_all_failure_lets_its_level_finish_and_stops_before_dependents() {
    let (bad, good, later) = ("lc-fail-bad", "lc-fail-good", "lc-fail-later");
    let repo = counting_hooks(
        Repo::new()
            .host_stacklet(bad, "")
            .host_stacklet(good, "")
            .host_stacklet(later, &format!("requires = [\"{bad}\"]\n")),
        good,
        &["on_start_ready"],
    )
    .file(
        &format!("stacklets/{bad}/hooks/on_start.sh"),
        "if [ -e \"$STACK_DATA_DIR/fail\" ]; then echo 'bad config'; exit 1; fi\n",
    )
    .file(
        &format!("stacklets/{good}/hooks/on_start.sh"),
        "sleep 0.5\n",
    );
    let repo = counting_hooks(repo, later, &["on_start"]);
    for id in [bad, good, later] {
        ok(&repo, &["up", id]);
    }
    std::fs::write(repo.join("data/fail"), "").unwrap();
    let err = fails(&repo, &["up", "all"]);
    assert!(
        err.contains(&format!(
            "stacklets/{bad}/hooks/on_start.sh` failed with exit code 1"
        )) && err.contains("bad config"),
        "{err}"
    );
    // The sibling in the failing level finished; the dependent never started.
    assert_eq!(hook_log(&repo, good), ["on_start_ready", "on_start_ready"]);
    assert_eq!(hook_log(&repo, later), ["on_start"]);
}
