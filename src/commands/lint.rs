//! `stack lint [<id>] [--json]`: the findings are the command's data (stdout, one per line as
//! `<file>:<line>: error|warning: <message>`, or one JSON document); the summary goes to stderr.
//! Exit 1 when any finding is an error; warnings do not fail.

use std::process::ExitCode;

use crate::cli::LintArgs;
use crate::lint;
use crate::output::Printer;
use crate::workspace::{BrokenWarnings, Workspace};

pub fn lint(printer: &Printer, args: &LintArgs) -> anyhow::Result<ExitCode> {
    // Broken stacklets are findings here, not warnings (issue 10 §1: lint reports everything).
    let ws = Workspace::load_with(printer, BrokenWarnings::None)?;
    if let Some(id) = &args.id {
        ws.catalog.entry(id)?;
    }
    let report = lint::lint(&ws, args.id.as_deref());
    if args.json {
        printer.json(&serde_json::json!({
            "stacklets": report.stacklets,
            "errors": report.errors(),
            "warnings": report.warnings(),
            "findings": report.findings,
        }));
    } else {
        for finding in &report.findings {
            printer.out(finding);
        }
    }
    let errors = counted(report.errors(), "error");
    let warnings = counted(report.warnings(), "warning");
    let stacklets = counted(report.stacklets.len(), "stacklet");
    if report.errors() > 0 {
        printer.error(
            format!("Lint found {errors} and {warnings} in {stacklets}"),
            &[],
        );
        Ok(ExitCode::FAILURE)
    } else {
        printer.status("Checked", format!("{stacklets}: {errors}, {warnings}"));
        Ok(ExitCode::SUCCESS)
    }
}

fn counted(n: usize, noun: &str) -> String {
    match n {
        0 => format!("no {noun}s"),
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}
