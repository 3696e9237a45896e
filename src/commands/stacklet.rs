//! `stack <id> <command> [args…]` and `stack <id> --help`: a stacklet's own `cli/<command>.py`.
//!
//! The command gets what a hook gets (rendered env, secrets, `stack.toml`, users, `exec`), through
//! the same `Session::hook_context` and `Session::host`. It runs without the instance lock: a command
//! may run for a long time (sending messages, importing photos) and must not block `up` meanwhile;
//! secrets and `stack.toml` writes are atomic on their own. Exit codes: the command's own
//! `sys.exit(n)`, 1 for an exception, 2 for an unknown command (a usage error).

use std::process::ExitCode;
use std::sync::Arc;

use crate::error::{UserError, closest};
use crate::hooks::{self, HookError};
use crate::lifecycle::Session;
use crate::output::Printer;
use crate::render::env;
use crate::stacklet::Stacklet;

/// Words that ask for the listing instead of running a command.
const HELP_WORDS: &[&str] = &["--help", "-h", "help"];

pub async fn run(
    session: &mut Session,
    stacklet: &Stacklet,
    args: &[String],
) -> anyhow::Result<ExitCode> {
    let printer = session.printer.clone();
    let commands = hooks::list_cli(&stacklet.dir);
    let Some(command) = args.first().filter(|a| !HELP_WORDS.contains(&a.as_str())) else {
        listing(&printer, stacklet, &commands);
        return Ok(ExitCode::SUCCESS);
    };
    let id = stacklet.id();
    if !commands.iter().any(|(name, _)| name == command) {
        let names = commands.iter().map(|(n, _)| n.as_str());
        let err = UserError::usage(format!("Unknown command `{command}` for `{id}`"));
        let err = match closest(command, names) {
            Some(c) => err.hint(format!("did you mean `stack {id} {c}`?")),
            None if commands.is_empty() => err.hint(format!("`{id}` has no commands")),
            None => err.hint(format!("`stack {id} --help` lists its commands")),
        };
        return Err(err.into());
    }
    let rendered = env::render(&session.ws, stacklet, &session.lan_ip)?;
    // `ctx.exec` needs Docker; a command that does not use it must still run without Docker.
    let _ = session.try_docker().await;
    let ctx = session.hook_context(stacklet, &rendered);
    let host = Arc::new(session.host(id));
    let result = hooks::run_cli(
        &stacklet.dir,
        command,
        args[1..].to_vec(),
        ctx,
        host,
        printer.clone(),
    )
    .await;
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // `sys.exit(n)`: the command already said what it had to say; only a message passed to
        // `sys.exit("…")` is shown.
        Err(HookError::Exit { code, message, .. }) => {
            if let Some(message) = message {
                printer.error(message, &[]);
            }
            Ok(exit_code(code))
        }
        Err(e) => {
            let hint = e.hint().map(str::to_string);
            Err(UserError::wrap(e).maybe_hint(hint).into())
        }
    }
}

/// A process exit status from `sys.exit(n)`: the low byte, as a shell would see it, except that a
/// failure never wraps round to success (`sys.exit(256)` exits 1).
fn exit_code(code: i32) -> ExitCode {
    match (code & 0xff) as u8 {
        0 if code != 0 => ExitCode::FAILURE,
        byte => ExitCode::from(byte),
    }
}

/// The stacklet's commands with the first line of each `HELP` string, on stdout.
fn listing(printer: &Printer, stacklet: &Stacklet, commands: &[(String, Option<String>)]) {
    let id = stacklet.id();
    if commands.is_empty() {
        printer.note(format!(
            "`{id}` ({}) has no commands (`stacklets/{id}/cli/<command>.py`)",
            stacklet.manifest.name
        ));
        return;
    }
    printer.out(format!("{} ({id}) commands:", stacklet.manifest.name));
    printer.out("");
    let width = commands.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, help) in commands {
        let summary = help.as_deref().and_then(|h| h.lines().next()).unwrap_or("");
        printer.out(
            format!("  {name:<width$}  {summary}")
                .trim_end()
                .to_string(),
        );
    }
    printer.out("");
    printer.out(format!("Usage: stack {id} <command> [args…]"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_keep_failures_failures() {
        assert_eq!(exit_code(3), ExitCode::from(3));
        assert_eq!(exit_code(256), ExitCode::FAILURE);
        assert_eq!(exit_code(-1), ExitCode::from(255));
    }
}
