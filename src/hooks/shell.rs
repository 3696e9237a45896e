//! Shell hooks (`bash <file>`) and the one way `stack` streams a child process's output.
//!
//! A hook's stdout and stderr are read concurrently, line by line, and each line becomes a detail
//! line under the current step as soon as it arrives. The child is killed if the future is dropped
//! (Ctrl-C, a failed sibling), so an abandoned hook never keeps running behind `stack`'s back.

use std::collections::VecDeque;
use std::path::Path;
use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use super::{HookContext, HookError};
use crate::output::Printer;

/// How many trailing output lines a failure report carries.
const TAIL_LINES: usize = 10;

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
    let status = stream_command(&mut command, &mut |line| {
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
    if status.success() {
        return Ok(());
    }
    Err(HookError::Shell {
        file: file.to_path_buf(),
        status: describe_status(status),
        last_lines: tail.into(),
    })
}

/// Spawn `command` with stdin closed and both output streams piped, call `on_line` for every line
/// of either stream (invalid UTF-8 replaced, `\r\n` trimmed) and wait for it to exit.
pub(crate) async fn stream_command(
    command: &mut Command,
    on_line: &mut dyn FnMut(&str),
) -> std::io::Result<ExitStatus> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        unreachable!("both streams were configured as piped");
    };
    let mut out = LineReader::new(stdout);
    let mut err = LineReader::new(stderr);
    while !(out.done && err.done) {
        // `read_until` is cancel-safe with a persistent buffer, so losing the race loses no bytes.
        tokio::select! {
            line = out.next_line(), if !out.done => if let Some(line) = line? { on_line(&line) },
            line = err.next_line(), if !err.done => if let Some(line) = line? { on_line(&line) },
        }
    }
    child.wait().await
}

struct LineReader<R> {
    reader: BufReader<R>,
    buf: Vec<u8>,
    done: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    fn new(reader: R) -> Self {
        Self {
            reader: BufReader::new(reader),
            buf: Vec::new(),
            done: false,
        }
    }

    async fn next_line(&mut self) -> std::io::Result<Option<String>> {
        let n = self.reader.read_until(b'\n', &mut self.buf).await?;
        if n == 0 && self.buf.is_empty() {
            self.done = true;
            return Ok(None);
        }
        let line = String::from_utf8_lossy(&self.buf)
            .trim_end_matches(['\n', '\r'])
            .to_string();
        self.buf.clear();
        Ok(Some(line))
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
