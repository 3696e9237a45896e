//! Shell hooks (`bash <file>`) and the one way `stack` streams a child process's output.
//!
//! A hook's stdout and stderr share one pipe, so lines arrive in the order the hook wrote them, and
//! each line becomes a detail line under the current step as soon as it arrives. The child is killed if the future is dropped
//! (a failed sibling), so an abandoned hook never keeps running behind `stack`'s back. A hook runs
//! in a process group of its own, which `crate::interrupt` signals when `stack` is asked to stop:
//! the hook and everything it started end before `stack` does.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::Command;

use super::{HookContext, HookError};
use crate::output::Printer;

/// How many trailing output lines a failure report carries.
const TAIL_LINES: usize = 10;
/// After the child exits, how long the output may stay silent before we stop reading it.
const DRAIN_QUIET: Duration = Duration::from_millis(150);

/// `bash <file>` with cwd = the stacklet dir and env = process env + [`HookContext::hook_env`].
pub(super) async fn run_shell_hook(
    file: &Path,
    ctx: &HookContext,
    printer: &Printer,
) -> Result<(), HookError> {
    let mut command = Command::new("bash");
    command
        .arg(file)
        .current_dir(&ctx.stacklet_dir)
        .envs(ctx.hook_env());
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    let status = stream(&mut command, true, &mut |line| {
        printer.detail(line);
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.to_string());
    })
    .await
    .map_err(|source| HookError::Spawn {
        file: file.to_path_buf(),
        source,
    })?;
    if let Some(stop) = crate::interrupt::signal_received() {
        return Err(HookError::Interrupted {
            file: file.to_path_buf(),
            stop,
        });
    }
    if status.success() {
        return Ok(());
    }
    Err(HookError::Shell {
        file: file.to_path_buf(),
        status: describe_status(status),
        last_lines: tail.into(),
    })
}

/// Spawn `command` with stdin closed and stdout and stderr on one pipe (so lines keep the order
/// the child wrote them in), call `on_line` for every line (invalid UTF-8 replaced, `\r\n`
/// trimmed) and wait for it to exit.
pub(crate) async fn stream_command(
    command: &mut Command,
    on_line: &mut dyn FnMut(&str),
) -> std::io::Result<ExitStatus> {
    stream(command, false, on_line).await
}

/// [`stream_command`] for a hook's own commands (`ctx.shell`): the child leads a process group of its
/// own, which `stack` stops with itself.
pub(crate) async fn stream_hook_command(
    command: &mut Command,
    on_line: &mut dyn FnMut(&str),
) -> std::io::Result<ExitStatus> {
    stream(command, true, on_line).await
}

/// [`stream_command`]; with `own_group`, the child leads a new process group that is registered
/// with `crate::interrupt` while it runs.
async fn stream(
    command: &mut Command,
    own_group: bool,
    on_line: &mut dyn FnMut(&str),
) -> std::io::Result<ExitStatus> {
    if own_group {
        command.process_group(0);
    }
    let (reader, writer) = std::io::pipe()?;
    command
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .kill_on_drop(true);
    let spawned = command.spawn();
    // The command keeps its copies of the write end until they are replaced; left open, the reader
    // would never see end-of-file.
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = spawned?;
    let _group = child
        .id()
        .filter(|_| own_group)
        .and_then(crate::interrupt::register);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // A plain thread, not `spawn_blocking`: if a background process started by the hook inherits
    // the pipe, this read never ends, and a runtime shutting down would wait for it forever.
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(reader);
        let mut buf = Vec::new();
        while matches!(reader.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
            let line = String::from_utf8_lossy(&buf)
                .trim_end_matches(['\n', '\r'])
                .to_string();
            buf.clear();
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        tokio::select! {
            line = rx.recv() => match line {
                Some(line) => on_line(&line),
                None => return child.wait().await,
            },
            status = child.wait() => {
                // Take what the child wrote before exiting, but do not wait for a background
                // process that holds the pipe open: stop after a short quiet period.
                while let Ok(Some(line)) = tokio::time::timeout(DRAIN_QUIET, rx.recv()).await {
                    on_line(&line);
                }
                return status;
            }
        }
    }
}

/// `exit code 3`, or `signal 9` when the process was killed.
pub(crate) fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => status.to_string(),
    }
}
