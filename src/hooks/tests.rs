//! Hook tests against the real embedded interpreter and real `bash`; only the lifecycle side
//! ([`HookHost`]) is a test double.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tempfile::TempDir;

use super::test_http::{Reply, TestServer};
use super::*;
use crate::output::{Capture, Printer, Verbosity};

/// Secrets and `stack.toml` in memory; `exec` pretends to run in a container.
#[derive(Default)]
pub(super) struct FakeHost {
    id: String,
    pub secrets: Mutex<BTreeMap<String, String>>,
    cfg: Mutex<BTreeMap<String, Value>>,
    execs: Mutex<Vec<(String, Vec<String>)>>,
}

impl FakeHost {
    pub(super) fn new(id: &str) -> Arc<Self> {
        let host = Self {
            id: id.to_string(),
            ..Self::default()
        };
        host.secrets
            .lock()
            .unwrap()
            .insert("global__ADMIN_PASSWORD".into(), "global-pw".into());
        Arc::new(host)
    }
}

impl HookHost for FakeHost {
    fn secret(&self, name: &str) -> anyhow::Result<Option<String>> {
        let secrets = self.secrets.lock().unwrap();
        Ok(secrets
            .get(&format!("{}__{name}", self.id))
            .or_else(|| secrets.get(&format!("global__{name}")))
            .cloned())
    }

    fn set_secret(&self, name: &str, value: &str) -> anyhow::Result<()> {
        self.secrets
            .lock()
            .unwrap()
            .insert(format!("{}__{name}", self.id), value.to_string());
        Ok(())
    }

    fn cfg(&self, key: &str) -> anyhow::Result<Option<Value>> {
        Ok(self.cfg.lock().unwrap().get(key).cloned())
    }

    fn set_cfg(&self, key: &str, value: Value) -> anyhow::Result<()> {
        self.cfg.lock().unwrap().insert(key.to_string(), value);
        Ok(())
    }

    fn exec(
        &self,
        container: &str,
        argv: &[String],
        on_line: &mut dyn FnMut(&str),
    ) -> anyhow::Result<i64> {
        self.execs
            .lock()
            .unwrap()
            .push((container.to_string(), argv.to_vec()));
        on_line(&format!("ran {}", argv.join(" ")));
        Ok(if argv.first().map(String::as_str) == Some("fail") {
            3
        } else {
            0
        })
    }
}

/// A stacklet directory with `files` (relative path, content) and a context for it.
fn stacklet(id: &str, files: &[(&str, &str)]) -> (TempDir, HookContext) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(id);
    for (path, content) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    let ctx = HookContext {
        stacklet_id: id.to_string(),
        stacklet_dir: dir,
        env: BTreeMap::from([("GREETING".to_string(), "hi".to_string())]),
        data_dir: tmp.path().join("data"),
        domain: "example.org".to_string(),
        users: json!([{"id": "alice", "name": "Alice", "role": "admin"}]),
        config: json!({"core": {"domain": "example.org"}}),
    };
    (tmp, ctx)
}

fn printer() -> (Printer, Capture) {
    Printer::capturing(Verbosity::Normal)
}

/// The detail lines (hook output) without the `│` gutter.
fn details(capture: &Capture) -> Vec<String> {
    capture
        .stderr()
        .iter()
        .filter_map(|l| l.trim_start().strip_prefix("│ ").map(str::to_string))
        .collect()
}

#[test]
fn resolver_prefers_nothing_and_refuses_both() {
    let (_tmp, ctx) = stacklet(
        "demo",
        &[
            ("hooks/on_install.py", ""),
            ("hooks/on_start.sh", ""),
            ("hooks/on_stop.py", ""),
            ("hooks/on_stop.sh", ""),
        ],
    );
    let dir = &ctx.stacklet_dir;
    let install = resolve(dir, HookName::OnInstall).unwrap().unwrap();
    assert_eq!(install.kind, HookKind::Python);
    assert_eq!(install.path, dir.join("hooks/on_install.py"));
    assert_eq!(
        resolve(dir, HookName::OnStart).unwrap().unwrap().kind,
        HookKind::Shell
    );
    assert_eq!(resolve(dir, HookName::OnDestroy).unwrap(), None);
    // Both present: `.py` wins (docs/hooks.md).
    let stop = resolve(dir, HookName::OnStop).unwrap().unwrap();
    assert_eq!(stop.kind, HookKind::Python);
    assert_eq!(stop.path, dir.join("hooks/on_stop.py"));
}

#[tokio::test]
async fn missing_hook_is_not_present_and_prints_nothing() {
    let (_tmp, ctx) = stacklet("demo", &[]);
    let (printer, capture) = printer();
    let run = run_hook(HookName::OnInstall, ctx, FakeHost::new("demo"), printer)
        .await
        .unwrap();
    assert_eq!(run, HookRun::NotPresent);
    assert!(capture.stderr().is_empty());
}

#[tokio::test]
async fn shell_hook_gets_env_and_streams_both_streams() {
    let script = r#"echo "data=$FAMSTACK_DATA_DIR domain=$FAMSTACK_DOMAIN"
echo "sdata=$STACK_DATA_DIR sdomain=$STACK_DOMAIN id=$STACKLET_ID"
echo "greeting=$GREETING cwd=$(pwd) path-set=${PATH:+yes}"
echo "to stderr" >&2
"#;
    let (tmp, ctx) = stacklet("demo", &[("hooks/on_start.sh", script)]);
    let dir = ctx.stacklet_dir.clone();
    let (printer, capture) = printer();
    let run = run_hook(HookName::OnStart, ctx, FakeHost::new("demo"), printer)
        .await
        .unwrap();
    assert!(matches!(run, HookRun::Ran { ref path, .. } if path == &dir.join("hooks/on_start.sh")));
    let data = tmp.path().join("data");
    let data = data.display();
    let lines = details(&capture);
    assert!(
        lines.contains(&format!("data={data} domain=example.org")),
        "{lines:?}"
    );
    assert!(
        lines.contains(&format!("sdata={data} sdomain=example.org id=demo")),
        "{lines:?}"
    );
    assert!(
        lines.contains(&format!("greeting=hi cwd={} path-set=yes", dir.display())),
        "{lines:?}"
    );
    assert!(lines.contains(&"to stderr".to_string()), "{lines:?}");
    assert_eq!(
        capture.stderr()[0].trim(),
        "Running hooks/on_start.sh (demo)"
    );
}

#[tokio::test]
async fn failing_shell_hook_reports_exit_code_and_last_lines() {
    let script = "for i in $(seq 1 12); do echo line $i; done\necho boom >&2\nexit 3\n";
    let (_tmp, ctx) = stacklet("demo", &[("hooks/on_stop.sh", script)]);
    let (printer, _capture) = printer();
    let err = run_hook(HookName::OnStop, ctx, FakeHost::new("demo"), printer)
        .await
        .unwrap_err();
    let HookError::Shell {
        file,
        status,
        last_lines,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(file.ends_with("hooks/on_stop.sh"));
    assert_eq!(status, "exit code 3");
    assert_eq!(last_lines.len(), 10);
    assert_eq!(last_lines.last().unwrap(), "boom");
    assert_eq!(last_lines[0], "line 4");
    let message = err.to_string();
    assert!(
        message.contains("on_stop.sh` failed with exit code 3; last output:"),
        "{message}"
    );
}

#[tokio::test]
async fn shell_hook_that_leaves_a_background_process_still_finishes() {
    // `nohup service &` in an on_start hook inherits the output pipe; the hook is done when bash
    // exits, not when the service closes the pipe. The timeout only guards against a hang.
    let script = "sleep 5 &\necho started\n";
    let (_tmp, ctx) = stacklet("demo", &[("hooks/on_start.sh", script)]);
    let (printer, capture) = printer();
    let run = tokio::time::timeout(
        std::time::Duration::from_secs(4),
        run_hook(HookName::OnStart, ctx, FakeHost::new("demo"), printer),
    )
    .await
    .expect("the hook returned before its background process ended");
    assert!(run.is_ok(), "{}", run.unwrap_err());
    assert_eq!(details(&capture), vec!["started"]);
}

#[cfg(not(feature = "python"))]
#[tokio::test]
async fn python_hook_without_the_python_feature_fails_clearly() {
    let (_tmp, ctx) = stacklet("demo", &[("hooks/on_install.py", "def run(ctx): pass\n")]);
    let (printer, _capture) = printer();
    let err = run_hook(HookName::OnInstall, ctx, FakeHost::new("demo"), printer)
        .await
        .unwrap_err();
    assert!(matches!(err, HookError::PythonUnavailable { .. }));
    assert!(
        err.to_string()
            .contains("built without the `python` feature"),
        "{err}"
    );
}

#[cfg(feature = "python")]
mod python {
    use super::*;

    const EVERY_MEMBER: &str = r#"
import sys
import stack

def run(ctx):
    # Both access styles, and mixes of them.
    assert ctx.stacklet_id == "demo" and ctx["stacklet_id"] == "demo"
    assert ctx.env["GREETING"] == "hi" and ctx["env"]["GREETING"] == "hi"
    assert ctx.env.GREETING == "hi" and ctx["env"].GREETING == "hi"
    assert ctx.env["FAMSTACK_DATA_DIR"] == ctx.data_dir == ctx.env.STACK_DATA_DIR
    assert ctx.env.FAMSTACK_DOMAIN == "example.org" and ctx.env.STACKLET_ID == "demo"
    assert "env" in ctx and "http_get" in ctx and callable(ctx["http_put"])
    assert stack.ctx is ctx

    assert ctx.secret("API_TOKEN") is None
    ctx.secret("API_TOKEN", "t0k")
    assert ctx["secret"]("API_TOKEN") == "t0k"
    assert ctx.secret("ADMIN_PASSWORD") == "global-pw"

    ctx.step("Configuring")
    ctx["step"]("Second step")
    ctx.warn("careful")
    ctx["warn"]("very careful")

    out = ctx.shell("echo from-shell; echo to-stderr >&2; echo $GREETING $STACKLET_ID $(basename $PWD)")
    assert out == "from-shell\nto-stderr\nhi demo demo", repr(out)
    try:
        ctx["shell"]("echo failing; exit 7")
    except stack.CommandError as e:
        assert "echo failing; exit 7" in str(e) and "exit code 7" in str(e), str(e)
        assert e.code == 7 and e.output == "failing"
    else:
        raise AssertionError("shell() did not raise")

    print("printed line")
    print("multi\nline", end="")
    print(" continued")
    print("to stderr", file=sys.stderr)
    sys.stdout.write("no newline at the end")

    assert ctx.users[0]["id"] == "alice" and ctx["users"][0].name == "Alice"

    assert ctx.cfg("server_name") is None
    ctx.cfg("server_name", "home")
    assert ctx["cfg"]("server_name") == "home"
    ctx.cfg("limits", {"max": 3, "on": True})
    assert ctx.cfg("limits") == {"max": 3, "on": True}

    assert ctx.exec("demo-db", ["psql", "-c", "select 1"]) == "ran psql -c select 1"
    try:
        ctx["exec"]("demo-db", ["fail", "now"])
    except stack.CommandError as e:
        assert e.code == 3 and "fail now" in str(e) and "demo-db" in str(e), str(e)
    else:
        raise AssertionError("exec() did not raise")
    try:
        ctx.exec("demo-db", "psql")
    except TypeError as e:
        assert "list of strings" in str(e)
    else:
        raise AssertionError("exec() accepted a str")
"#;

    #[tokio::test]
    async fn python_hook_every_ctx_member_in_both_styles() {
        let (_tmp, ctx) = stacklet("demo", &[("hooks/on_install.py", EVERY_MEMBER)]);
        let host = FakeHost::new("demo");
        let (printer, capture) = printer();
        let run = run_hook(HookName::OnInstall, ctx, host.clone(), printer).await;
        assert!(run.is_ok(), "{}", run.unwrap_err());

        let stderr = capture.stderr();
        let lines = details(&capture);
        for expected in [
            "printed line",
            "multi",
            "line continued",
            "to stderr",
            "no newline at the end",
            "from-shell",
            "to-stderr",
            "hi demo demo",
            "failing",
            "ran psql -c select 1",
        ] {
            assert!(
                lines.contains(&expected.to_string()),
                "{expected:?} in {stderr:#?}"
            );
        }
        for expected in [
            "→ Configuring",
            "→ Second step",
            "warning: careful",
            "warning: very careful",
        ] {
            assert!(
                stderr.iter().any(|l| l.trim() == expected),
                "{expected:?} in {stderr:#?}"
            );
        }
        assert_eq!(
            host.secrets
                .lock()
                .unwrap()
                .get("demo__API_TOKEN")
                .map(String::as_str),
            Some("t0k")
        );
        assert_eq!(
            host.cfg.lock().unwrap()["limits"],
            json!({"max": 3, "on": true})
        );
        assert_eq!(host.execs.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn python_exception_names_file_line_and_traceback() {
        let hook = "def helper(d):\n    return d[\"missing\"]\n\n\ndef run(ctx):\n    helper({})\n";
        let (_tmp, ctx) = stacklet("demo", &[("hooks/on_start_ready.py", hook)]);
        let path = ctx.stacklet_dir.join("hooks/on_start_ready.py");
        let (printer, _capture) = printer();
        let err = run_hook(HookName::OnStartReady, ctx, FakeHost::new("demo"), printer)
            .await
            .unwrap_err();
        let HookError::Python {
            file,
            line,
            exception,
            traceback,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(file, &path);
        assert_eq!(*line, Some(2));
        assert_eq!(exception, "KeyError: 'missing'");
        let p = path.display();
        assert!(
            traceback.starts_with("Traceback (most recent call last):"),
            "{traceback}"
        );
        assert!(
            traceback.contains(&format!("File \"{p}\", line 6, in run")),
            "{traceback}"
        );
        assert!(
            traceback.contains(&format!("File \"{p}\", line 2, in helper")),
            "{traceback}"
        );
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("`{p}` failed at line 2: KeyError: 'missing'\n")),
            "{message}"
        );
    }

    #[tokio::test]
    async fn python_syntax_error_and_missing_run() {
        let (_tmp, ctx) = stacklet(
            "demo",
            &[
                ("hooks/on_install.py", "x = 1\ndef run(ctx)\n    pass\n"),
                ("hooks/on_start.py", "X = 1\n"),
            ],
        );
        let (printer, _capture) = printer();
        let host = FakeHost::new("demo");
        let err = run_hook(
            HookName::OnInstall,
            ctx.clone(),
            host.clone(),
            printer.clone(),
        )
        .await
        .unwrap_err();
        let HookError::Python {
            line, exception, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(*line, Some(2));
        assert!(exception.contains("SyntaxError"), "{exception}");

        let err = run_hook(HookName::OnStart, ctx, host, printer)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("the hook defines no `run(ctx)` function"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn sys_exit_in_a_hook() {
        let (_tmp, ctx) = stacklet(
            "demo",
            &[
                (
                    "hooks/on_start.py",
                    "import sys\n\ndef run(ctx):\n    sys.exit(0)\n",
                ),
                (
                    "hooks/on_stop.py",
                    "import sys\n\ndef run(ctx):\n    sys.exit(5)\n",
                ),
            ],
        );
        let (printer, _capture) = printer();
        let host = FakeHost::new("demo");
        let started = run_hook(
            HookName::OnStart,
            ctx.clone(),
            host.clone(),
            printer.clone(),
        )
        .await;
        assert!(started.is_ok(), "{}", started.unwrap_err());
        let err = run_hook(HookName::OnStop, ctx, host, printer)
            .await
            .unwrap_err();
        assert!(matches!(err, HookError::Exit { code: 5, .. }), "{err:?}");
    }

    #[tokio::test]
    async fn helper_modules_do_not_leak_between_stacklets() {
        let hook = "from _shared import VALUE\n\ndef run(ctx):\n    assert VALUE == ctx.stacklet_id, (VALUE, ctx.stacklet_id)\n";
        for id in ["one", "two"] {
            let helper = format!("VALUE = {id:?}\n");
            let (_tmp, ctx) = stacklet(
                id,
                &[
                    ("hooks/on_start.py", hook),
                    ("hooks/_shared.py", helper.as_str()),
                ],
            );
            let (printer, _capture) = printer();
            let run = run_hook(HookName::OnStart, ctx, FakeHost::new(id), printer).await;
            assert!(run.is_ok(), "{}", run.unwrap_err());
        }
    }

    fn echo_server() -> TestServer {
        TestServer::start(|req| match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/json") => Reply::json(200, json!({"token": "abc", "n": 1})),
            ("GET", "/text") => Reply::text(200, "plain"),
            ("GET", "/empty") => Reply::text(204, ""),
            (_, "/echo") => Reply::json(
                200,
                json!({
                    "method": req.method,
                    "content_type": req.header("content-type"),
                    "auth": req.header("authorization"),
                    "body": req.body,
                }),
            ),
            _ => Reply::text(404, "not here"),
        })
    }

    const HTTP_HOOK: &str = r#"
import json
import stack

def run(ctx):
    base = ctx.env.BASE
    assert ctx.http_get(base + "/json") == {"token": "abc", "n": 1}
    assert ctx["http_get"](base + "/text") == "plain"
    assert ctx.http_get(base + "/empty") is None

    r = ctx["http_post"](base + "/echo", "username=a&password=b")
    assert r["content_type"] == "application/x-www-form-urlencoded", r
    assert r["body"] == "username=a&password=b" and r["method"] == "POST", r

    r = ctx.http_post(base + "/echo", {"a": 1}, headers={"Authorization": "Token t"})
    assert r["content_type"] == "application/json" and r["auth"] == "Token t", r
    assert json.loads(r["body"]) == {"a": 1}, r

    r = ctx.http_post(base + "/echo", {"a": "b c"}, content_type="application/x-www-form-urlencoded")
    assert r["body"] == "a=b+c", r

    r = ctx.http_put(base + "/echo", {"x": [1, 2]})
    assert r["method"] == "PUT" and r["content_type"] == "application/json", r
    assert json.loads(r["body"]) == {"x": [1, 2]}, r

    try:
        ctx.http_get(base + "/missing")
    except stack.HttpError as e:
        assert e.status == 404 and e.body == "not here", (e.status, e.body)
        assert "HTTP 404" in str(e) and "not here" in str(e) and "/missing" in str(e), str(e)
    else:
        raise AssertionError("no HttpError")

    try:
        ctx.http_get("https://example.org/")
    except RuntimeError as e:
        assert "HTTPS" in str(e), str(e)
    else:
        raise AssertionError("https accepted")

    try:
        ctx.http_get(base + "/json", nope=1)
    except TypeError as e:
        assert "unexpected keyword argument 'nope'" in str(e), str(e)
    else:
        raise AssertionError("bad keyword accepted")
"#;

    #[tokio::test]
    async fn python_http_get_post_put_against_a_local_server() {
        let server = echo_server();
        let (_tmp, mut ctx) = stacklet("demo", &[("hooks/on_install_success.py", HTTP_HOOK)]);
        ctx.env.insert("BASE".into(), server.url.clone());
        let (printer, _capture) = printer();
        let run = run_hook(
            HookName::OnInstallSuccess,
            ctx,
            FakeHost::new("demo"),
            printer,
        )
        .await;
        assert!(run.is_ok(), "{}", run.unwrap_err());
        let requests = server.requests();
        assert_eq!(requests.len(), 8, "{requests:#?}");
        assert_eq!(requests[4].header("authorization"), Some("Token t"));
    }

    const GREET: &str = r#"import sys
from _helpers import shout

HELP = "Greet someone"

print("argv", sys.argv)

def run(args, stacklet, config):
    print(shout(args[0]), stacklet["id"], stacklet.env.GREETING, config["core"]["domain"])
    stacklet.step("greeted")
    print("to stderr", file=sys.stderr)
"#;

    fn cli_stacklet() -> (TempDir, HookContext) {
        stacklet(
            "demo",
            &[
                ("cli/greet.py", GREET),
                ("cli/_helpers.py", "def shout(s):\n    return s.upper()\n"),
                ("cli/post_setup.py", "HELP = 'not a command'\n"),
                (
                    "cli/quit.py",
                    "import sys\nHELP = '''Exit with\n  a code'''\nsys.exit(int(sys.argv[1]) if sys.argv[1:] else None)\n",
                ),
                ("cli/boom.py", "raise ValueError('bad input')\n"),
                (
                    "cli/say.py",
                    "import sys\nHELP = 'Say it'\nsys.exit('said ' + sys.argv[1])\n",
                ),
            ],
        )
    }

    #[test]
    fn cli_listing_skips_private_files_and_reads_help() {
        let (_tmp, ctx) = cli_stacklet();
        assert_eq!(
            list_cli(&ctx.stacklet_dir),
            vec![
                ("boom".to_string(), None),
                ("greet".to_string(), Some("Greet someone".to_string())),
                ("quit".to_string(), Some("Exit with\n  a code".to_string())),
                ("say".to_string(), Some("Say it".to_string())),
            ]
        );
    }

    async fn cli(
        ctx: &HookContext,
        command: &str,
        args: &[&str],
    ) -> (Result<(), HookError>, Capture) {
        let (printer, capture) = printer();
        let args = args.iter().map(|a| a.to_string()).collect();
        let result = run_cli(
            &ctx.stacklet_dir,
            command,
            args,
            ctx.clone(),
            FakeHost::new("demo"),
            printer,
        )
        .await;
        (result, capture)
    }

    #[tokio::test]
    async fn cli_command_gets_argv_helpers_and_run_arguments() {
        let (_tmp, ctx) = cli_stacklet();
        let (result, capture) = cli(&ctx, "greet", &["bob"]).await;
        assert!(result.is_ok(), "{}", result.unwrap_err());
        assert_eq!(
            capture.stdout(),
            vec!["argv ['greet', 'bob']", "BOB demo hi example.org"]
        );
        let stderr = capture.stderr();
        assert!(stderr.iter().any(|l| l.trim() == "→ greeted"), "{stderr:?}");
        assert!(stderr.iter().any(|l| l == "to stderr"), "{stderr:?}");
    }

    #[tokio::test]
    async fn cli_system_exit_codes() {
        let (_tmp, ctx) = cli_stacklet();
        assert!(cli(&ctx, "quit", &["0"]).await.0.is_ok());
        assert!(cli(&ctx, "quit", &[]).await.0.is_ok());
        let err = cli(&ctx, "quit", &["4"]).await.0.unwrap_err();
        assert!(matches!(err, HookError::Exit { code: 4, .. }), "{err:?}");
        assert!(
            err.to_string().ends_with("quit.py` exited with status 4"),
            "{err}"
        );
        let err = cli(&ctx, "say", &["hello"]).await.0.unwrap_err();
        assert!(matches!(err, HookError::Exit { code: 1, .. }), "{err:?}");
        assert!(
            err.to_string()
                .ends_with("exited with status 1: said hello"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn cli_exception_and_unknown_commands() {
        let (_tmp, ctx) = cli_stacklet();
        let err = cli(&ctx, "boom", &[]).await.0.unwrap_err();
        let HookError::Python {
            line, exception, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(
            (*line, exception.as_str()),
            (Some(1), "ValueError: bad input")
        );

        for name in ["nope", "_helpers", "post_setup", "../cli/greet", ""] {
            let err = cli(&ctx, name, &[]).await.0.unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("Unknown command `{name}` for `demo` (available: boom, greet, quit, say)")
            );
        }
    }
}

#[test]
fn hook_env_adds_runtime_variables_over_rendered_ones() {
    let (_tmp, mut ctx) = stacklet("demo", &[]);
    ctx.env.insert("STACKLET_ID".into(), "spoofed".into());
    let env = ctx.hook_env();
    assert_eq!(env["STACKLET_ID"], "demo");
    assert_eq!(env["GREETING"], "hi");
    assert_eq!(env["FAMSTACK_DOMAIN"], "example.org");
    assert_eq!(Path::new(&env["STACK_DATA_DIR"]), ctx.data_dir);
}
