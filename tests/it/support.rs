//! A fluent builder for temporary stacklet repos, and a `stack` command bound to one.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

pub struct Repo {
    dir: TempDir,
}

/// A minimal valid manifest for `id`, followed by `extra` TOML.
pub fn manifest(id: &str, extra: &str) -> String {
    format!(
        "id = \"{id}\"\nname = \"{}\"\ndescription = \"Test stacklet {id}\"\nversion = \"0.1.0\"\ncategory = \"infrastructure\"\n{extra}",
        id.to_uppercase()
    )
}

impl Repo {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("stack-it-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("stacklets")).expect("stacklets dir");
        // Keep data inside the temp repo, never in the real home directory.
        std::fs::write(
            dir.path().join("stack.toml"),
            "[core]\ndata_dir = \"data\"\n",
        )
        .expect("stack.toml");
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A stacklet with a valid manifest plus `extra` TOML lines.
    pub fn stacklet(self, id: &str, extra: &str) -> Self {
        self.file(
            &format!("stacklets/{id}/stacklet.toml"),
            &manifest(id, extra),
        )
    }

    /// A stacklet without a compose file, so `type = "host"` (a Docker stacklet without one is a
    /// manifest error): hooks, CLI commands, native services. `extra` may set `type` itself.
    pub fn host_stacklet(self, id: &str, extra: &str) -> Self {
        if extra.contains("type =") {
            return self.stacklet(id, extra);
        }
        self.stacklet(id, &format!("type = \"host\"\n{extra}"))
    }

    pub fn file(self, rel: &str, contents: &str) -> Self {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, contents).expect("write");
        self
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(rel))
            .unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The secret `key` of the repo's instance.
    pub fn secret(&self, key: &str) -> String {
        secret(self.path(), key)
    }

    /// `stack` with the repo as working directory and a clean, deterministic environment.
    pub fn stack(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stack"));
        cmd.current_dir(self.dir.path())
            .env_remove("STACK_DIR")
            .env_remove("STACK_ROOT")
            .env("NO_COLOR", "1")
            .env("STACK_LAN_IP", "192.0.2.10");
        cmd
    }
}

/// The secret `key` in the instance at `dir` (`.stack/secrets.toml`); panics when it is missing.
pub fn secret(dir: &Path, key: &str) -> String {
    let text = std::fs::read_to_string(dir.join(".stack/secrets.toml")).unwrap();
    let secrets: toml::Table = toml::from_str(&text).unwrap();
    secrets
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no secret {key}"))
        .to_string()
}

/// Run `cmd` and require success, showing its stdout and stderr otherwise.
pub fn ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// Run `cmd` and require exit code 1, showing its stdout and stderr otherwise.
pub fn fails(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// `GET /` on 127.0.0.1:`port`: the body, or `None` when nothing answers with 200.
pub fn get(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    (head.split_whitespace().nth(1) == Some("200")).then(|| body.to_string())
}

/// stderr of a finished command as text.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Make sure the local test images exist (no registry is reachable): runs
/// `scripts/test-images.sh` once per test process and panics loudly if it cannot, so a test that
/// needs Docker fails instead of passing vacuously.
pub fn ensure_test_images() {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let result = DONE.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-images.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .output()
            .map_err(|e| format!("cannot run `{}`: {e}", script.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`{}` failed ({}): {}{}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = result {
        panic!("test images are not available, so this Docker test cannot run: {e}");
    }
}

/// Options of [`Repo::web_stacklet`].
#[derive(Clone, Default)]
pub struct Web<'a> {
    /// TOML appended to the manifest (before `[health]`): `requires`, `[env]`, …
    pub manifest: &'a str,
    /// The `[health]` table's lines; default: `/` answers 200.
    pub health: Option<&'a str>,
    /// Extra flags for `httpd` (e.g. `-v` to log requests).
    pub httpd_flags: &'a str,
}

impl Repo {
    /// A stacklet `id` running busybox `httpd` on host port `port` in container `stack-<id>-web`,
    /// with a named volume `cache`, serving `index.html` and `health.json` (`{"res": "pong"}`) that
    /// the container writes itself (no bind mount, so no host directory is needed).
    pub fn web_stacklet(self, id: &str, port: u16, web: Web<'_>) -> Self {
        ensure_test_images();
        let default_health =
            format!("url = \"http://127.0.0.1:{port}/\"\nexpect = \"200\"\ntimeout = 30\n");
        let health = web.health.map(str::to_string).unwrap_or(default_health);
        let manifest = format!("port = {port}\n{}\n[health]\n{health}", web.manifest);
        let compose = format!(
            r#"name: stack-{id}
services:
  web:
    container_name: stack-{id}-web
    image: stack-test/busybox:1
    # busybox httpd as PID 1 ignores SIGTERM.
    init: true
    command:
      - sh
      - -c
      - 'mkdir -p /www && echo ok > /www/index.html && echo "{{\"res\": \"pong\"}}" > /www/health.json && exec httpd -f {flags} -p 8080 -h /www'
    volumes:
      - cache:/cache
    ports:
      - "127.0.0.1:{port}:8080"
volumes:
  cache:
"#,
            flags = web.httpd_flags
        );
        self.stacklet(id, &manifest)
            .file(&format!("stacklets/{id}/docker-compose.yml"), &compose)
    }

    /// Removes, when dropped, every container, network and volume of the given stacklets'
    /// compose projects (`stack-<id>`), whatever state a failed test left them in.
    pub fn cleanup(&self, ids: &[&str]) -> Cleanup {
        Cleanup {
            projects: ids.iter().map(|id| format!("stack-{id}")).collect(),
        }
    }
}

pub struct Cleanup {
    projects: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for project in &self.projects {
            let filter = format!("label=com.docker.compose.project={project}");
            for (list, remove) in [
                (&["ps", "-aq"][..], &["rm", "-f"][..]),
                (&["network", "ls", "-q"][..], &["network", "rm"][..]),
                (&["volume", "ls", "-q"][..], &["volume", "rm", "-f"][..]),
            ] {
                let ids =
                    try_docker_lines(&[list, &["--filter", &filter]].concat()).unwrap_or_default();
                if !ids.is_empty() {
                    let _ = std::process::Command::new("docker")
                        .args(remove)
                        .args(&ids)
                        .output();
                }
            }
        }
    }
}

/// `docker <args>` stdout as trimmed, non-empty lines; panics when `docker` fails, so a "no
/// containers" assertion cannot pass without Docker.
pub fn docker_lines(args: &[&str]) -> Vec<String> {
    try_docker_lines(args).unwrap_or_else(|e| panic!("{e}"))
}

/// [`docker_lines`] for clean-ups in `Drop`, which must not panic while a failed test unwinds.
pub fn try_docker_lines(args: &[&str]) -> Result<Vec<String>, String> {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `docker {}`: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "`docker {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// One field of `docker inspect` for a container (`{{.State.StartedAt}}`), panicking if absent.
pub fn inspect(container: &str, format: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["inspect", "--format", format, container])
        .output()
        .expect("run docker inspect");
    assert!(
        out.status.success(),
        "docker inspect {container}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Containers of compose project `stack-<id>` (names), running or not.
pub fn project_containers(id: &str) -> Vec<String> {
    docker_lines(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("label=com.docker.compose.project=stack-{id}"),
    ])
}
