//! Stacklet hooks (`hooks/on_*.py|.sh`) and stacklet CLI commands (`cli/<name>.py`).
//!
//! This module owns finding a hook file, running it and turning its failure into a [`HookError`]
//! that names the file. It knows nothing about the lifecycle: the caller decides *when* a hook runs,
//! renders the environment and implements [`HookHost`] (secrets, `stack.toml`, `docker exec`).
//! Python hooks run in the embedded interpreter on a blocking thread, one at a time; shell hooks run
//! as `bash <file>` child processes that are killed if the caller stops waiting. All output reaches
//! the person through the [`Printer`]: hook output as indented detail lines under the step.

mod resolve;
mod shell;

#[cfg(feature = "python")]
mod python;

#[cfg(all(test, feature = "python"))]
mod stacklet_tests;
#[cfg(test)]
pub(crate) mod test_http;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::output::Printer;

#[cfg(feature = "python")]
pub use python::{Embedded, running_python};
pub use resolve::{HookKind, list_cli, resolve};
pub(crate) use shell::{describe_status, stream_command};

/// The lifecycle hooks of the stacklet reference, in the order a first `up` runs them.
// The variants mirror the file names (`on_install`), so the shared prefix is the point.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookName {
    OnConfigure,
    OnInstall,
    OnInstallSuccess,
    OnStart,
    OnStartReady,
    OnStop,
    OnDestroy,
    /// Before a backup reads the files: write a consistent dump into the data dir.
    OnBackup,
    /// After a restore's `up`: load the dump the backup wrote.
    OnRestore,
    /// In a restore drill, after the health gate: prove the restored data is there.
    OnVerify,
}

impl HookName {
    pub const ALL: [HookName; 10] = [
        HookName::OnConfigure,
        HookName::OnInstall,
        HookName::OnInstallSuccess,
        HookName::OnStart,
        HookName::OnStartReady,
        HookName::OnStop,
        HookName::OnDestroy,
        HookName::OnBackup,
        HookName::OnRestore,
        HookName::OnVerify,
    ];

    /// The file stem under `hooks/`, e.g. `on_install`.
    pub fn as_str(self) -> &'static str {
        match self {
            HookName::OnConfigure => "on_configure",
            HookName::OnInstall => "on_install",
            HookName::OnInstallSuccess => "on_install_success",
            HookName::OnStart => "on_start",
            HookName::OnStartReady => "on_start_ready",
            HookName::OnStop => "on_stop",
            HookName::OnDestroy => "on_destroy",
            HookName::OnBackup => "on_backup",
            HookName::OnRestore => "on_restore",
            HookName::OnVerify => "on_verify",
        }
    }
}

impl fmt::Display for HookName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a hook or CLI command sees of its stacklet; values are already rendered.
#[derive(Clone, Debug, Default)]
pub struct HookContext {
    pub stacklet_id: String,
    pub stacklet_dir: PathBuf,
    /// The rendered environment (`[env.defaults]` + secrets + runtime variables).
    pub env: BTreeMap<String, String>,
    /// The instance's data dir (`[core].data_dir`), not the stacklet's `<data>/<id>` subdirectory:
    /// hooks write `{FAMSTACK_DATA_DIR}/<id>/…` themselves.
    pub data_dir: PathBuf,
    /// `[core].domain`; empty in port mode.
    pub domain: String,
    /// `users.toml` users as a JSON list of objects.
    pub users: serde_json::Value,
    /// The whole `stack.toml` as JSON; passed to a CLI command's `run(args, stacklet, config)`.
    pub config: serde_json::Value,
}

impl HookContext {
    /// The environment a hook runs with: the rendered env plus the runtime's own variables. The
    /// runtime's variables win over a rendered key of the same name because they describe this run.
    pub fn hook_env(&self) -> BTreeMap<String, String> {
        let mut env = self.env.clone();
        let data_dir = self.data_dir.to_string_lossy().into_owned();
        // The running binary, so a hook can call `stack` itself (core installs `stack serve`).
        if let Ok(exe) = std::env::current_exe() {
            env.insert("STACK_BIN".to_string(), exe.to_string_lossy().into_owned());
        }
        for (key, value) in [
            ("FAMSTACK_DATA_DIR", data_dir.as_str()),
            ("FAMSTACK_DOMAIN", self.domain.as_str()),
            ("STACK_DATA_DIR", data_dir.as_str()),
            ("STACK_DOMAIN", self.domain.as_str()),
            ("STACKLET_ID", self.stacklet_id.as_str()),
        ] {
            env.insert(key.to_string(), value.to_string());
        }
        env
    }
}

/// What hooks may ask of the runtime. Implemented by the lifecycle; methods are synchronous because
/// Python callbacks call them from a blocking thread with the interpreter released.
pub trait HookHost: Send + Sync + 'static {
    /// A secret of this stacklet's namespace, else of `global`; `None` when neither exists.
    fn secret(&self, name: &str) -> anyhow::Result<Option<String>>;
    /// Store a secret in this stacklet's namespace.
    fn set_secret(&self, name: &str, value: &str) -> anyhow::Result<()>;
    /// `stack.toml` `[<id>].<key>`.
    fn cfg(&self, key: &str) -> anyhow::Result<Option<serde_json::Value>>;
    /// Set `stack.toml` `[<id>].<key>`, keeping the file's comments.
    fn set_cfg(&self, key: &str, value: serde_json::Value) -> anyhow::Result<()>;
    /// Run `argv` in one of this stacklet's containers, calling `on_line` for every output line;
    /// returns the exit code. May be called from a blocking (non-runtime) thread.
    fn exec(
        &self,
        container: &str,
        argv: &[String],
        on_line: &mut dyn FnMut(&str),
    ) -> anyhow::Result<i64>;
}

/// The outcome of [`run_hook`] when nothing failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookRun {
    /// The stacklet has no such hook; the step is skipped.
    NotPresent,
    Ran {
        path: PathBuf,
        elapsed: Duration,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("Cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("Cannot run `{}`: {reason}", file.display())]
    PythonUnavailable {
        file: PathBuf,
        reason: String,
        hint: Option<String>,
    },

    /// A Python exception; `traceback` holds the last frames (empty for a syntax error).
    #[error("`{}` failed{}: {exception}{}", file.display(), at_line(*line), indented(traceback))]
    Python {
        file: PathBuf,
        line: Option<usize>,
        exception: String,
        traceback: String,
    },

    #[error("Cannot start `bash` for `{}`", file.display())]
    Spawn {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `stack` was asked to stop (Ctrl-C, `kill`) while the hook ran; the hook's process group was
    /// signalled and has ended.
    #[error("`{}` was stopped by {stop}", file.display())]
    Interrupted {
        file: PathBuf,
        stop: crate::interrupt::Stop,
    },

    /// A shell hook exited non-zero (or was killed); `last_lines` is the tail of its output.
    #[error("`{}` failed with {status}{}", file.display(), last_output(last_lines))]
    Shell {
        file: PathBuf,
        /// `exit code 3` or `signal 9`.
        status: String,
        last_lines: Vec<String>,
    },

    #[error(
        "Unknown command `{command}` for `{stacklet}`{}",
        available_list(available)
    )]
    UnknownCommand {
        stacklet: String,
        command: String,
        available: Vec<String>,
    },

    /// A CLI command called `sys.exit(n)` with `n != 0`.
    #[error("`{}` exited with status {code}{}", file.display(), message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Exit {
        file: PathBuf,
        code: i32,
        message: Option<String>,
    },

    /// The thread running the hook panicked; a bug in `stack`, not in the hook.
    #[error("Running `{}` crashed: {reason}", file.display())]
    Crashed { file: PathBuf, reason: String },
}

impl HookError {
    /// The `hint:` line the failure carries, if any.
    pub fn hint(&self) -> Option<&str> {
        match self {
            HookError::PythonUnavailable { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(" at line {l}")).unwrap_or_default()
}

fn indented(text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n");
    for line in text.lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out.pop();
    out
}

fn last_output(lines: &[String]) -> String {
    if lines.is_empty() {
        return " and no output".to_string();
    }
    format!("; last output:{}", indented(&lines.join("\n")))
}

fn available_list(available: &[String]) -> String {
    if available.is_empty() {
        " (it has no commands)".to_string()
    } else {
        format!(" (available: {})", available.join(", "))
    }
}

/// Run one lifecycle hook of a stacklet if it has one.
///
/// Prints a `Running` status line, then the hook's output as detail lines. Python hooks run on a
/// blocking thread, so this future may be awaited on a current-thread runtime.
pub async fn run_hook(
    name: HookName,
    ctx: HookContext,
    host: Arc<dyn HookHost>,
    printer: Printer,
) -> Result<HookRun, HookError> {
    let Some(file) = resolve(&ctx.stacklet_dir, name)? else {
        return Ok(HookRun::NotPresent);
    };
    printer.status(
        "Running",
        format!(
            "{} ({})",
            relative(&file.path, &ctx.stacklet_dir),
            ctx.stacklet_id
        ),
    );
    let started = Instant::now();
    match file.kind {
        HookKind::Shell => shell::run_shell_hook(&file.path, &ctx, &printer).await?,
        HookKind::Python => run_python(file.path.clone(), ctx, host, printer).await?,
    }
    // A Python hook whose `ctx.shell` command was stopped may have carried on; it still counts as
    // interrupted.
    if let Some(stop) = crate::interrupt::signal_received() {
        return Err(HookError::Interrupted {
            file: file.path,
            stop,
        });
    }
    Ok(HookRun::Ran {
        path: file.path,
        elapsed: started.elapsed(),
    })
}

/// Run `cli/<command>.py` of a stacklet with `args`. `Err(HookError::Exit { code, .. })` carries a
/// non-zero `sys.exit(code)`; every other error means exit 1 (see [`HookError::exit_code`]).
pub async fn run_cli(
    stacklet_dir: &Path,
    command: &str,
    args: Vec<String>,
    ctx: HookContext,
    host: Arc<dyn HookHost>,
    printer: Printer,
) -> Result<(), HookError> {
    let file = resolve::cli_file(stacklet_dir, &ctx.stacklet_id, command)?;
    #[cfg(feature = "python")]
    {
        let handle = tokio::runtime::Handle::current();
        let command = command.to_string();
        let path = file.clone();
        join(
            &file,
            tokio::task::spawn_blocking(move || {
                python::run_cli_file(&path, &command, args, ctx, host, printer, handle)
            })
            .await,
        )
    }
    #[cfg(not(feature = "python"))]
    {
        let _ = (args, ctx, host, printer);
        Err(no_python(file))
    }
}

/// The embedded Python's version, or why hooks cannot run (no stdlib, a build without Python).
pub async fn python_version() -> Result<String, String> {
    #[cfg(feature = "python")]
    {
        match tokio::task::spawn_blocking(running_python).await {
            Ok(Ok(embedded)) => Ok(embedded.version),
            Ok(Err(e)) => Err(format!("{e}; {}", e.hint())),
            Err(e) => Err(format!("the interpreter check panicked: {e}")),
        }
    }
    #[cfg(not(feature = "python"))]
    {
        Err("this `stack` was built without the `python` feature".to_string())
    }
}

async fn run_python(
    file: PathBuf,
    ctx: HookContext,
    host: Arc<dyn HookHost>,
    printer: Printer,
) -> Result<(), HookError> {
    #[cfg(feature = "python")]
    {
        let handle = tokio::runtime::Handle::current();
        let path = file.clone();
        join(
            &file,
            tokio::task::spawn_blocking(move || {
                python::run_hook_file(&path, ctx, host, printer, handle)
            })
            .await,
        )
    }
    #[cfg(not(feature = "python"))]
    {
        let _ = (ctx, host, printer);
        Err(no_python(file))
    }
}

#[cfg(feature = "python")]
fn join(
    file: &Path,
    joined: Result<Result<(), HookError>, tokio::task::JoinError>,
) -> Result<(), HookError> {
    joined.unwrap_or_else(|e| {
        Err(HookError::Crashed {
            file: file.to_path_buf(),
            reason: e.to_string(),
        })
    })
}

#[cfg(not(feature = "python"))]
fn no_python(file: PathBuf) -> HookError {
    HookError::PythonUnavailable {
        file,
        reason: "this build of `stack` has no Python support (built without the `python` feature)"
            .to_string(),
        hint: Some("build with the default features: `cargo install --path .`".to_string()),
    }
}

/// `hooks/on_install.py` rather than the absolute path, for status lines.
fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}
