//! `stack completions <shell>` prints the shell's registration script; `stack man [dir]` writes the
//! man pages. The work is `completion`'s.

use std::process::ExitCode;

use crate::cli::{CompletionsArgs, ManArgs};
use crate::completion;
use crate::error::UserError;
use crate::output::Printer;

pub fn completions(printer: &Printer, args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let script = completion::registration(&args.shell)
        .ok_or_else(|| UserError::usage(format!("No completion script for `{}`", args.shell)))?;
    printer.out(script.trim_end());
    Ok(ExitCode::SUCCESS)
}

pub fn man(printer: &Printer, args: &ManArgs) -> anyhow::Result<ExitCode> {
    let pages = completion::write_man_pages(&args.dir).map_err(|e| {
        UserError::new(format!(
            "Cannot write the man pages into `{}`",
            args.dir.display()
        ))
        .because(e)
    })?;
    printer.status(
        "Wrote",
        format!("{} man pages into `{}`", pages.len(), args.dir.display()),
    );
    Ok(ExitCode::SUCCESS)
}
