//! `stack history [<id>] [--json] [--limit N]`: the instance's events, newest first.

use std::process::ExitCode;

use crate::cli::HistoryArgs;
use crate::history::{self, Event};
use crate::lifecycle::Session;
use crate::output::Printer;

pub fn history(printer: &Printer, args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open(printer, None)?;
    let instance = &session.ws.instance;
    let path = history::file(instance);
    let log = history::read(instance).map_err(|e| {
        crate::error::UserError::new(format!("Cannot read `{}`", path.display())).because(e)
    })?;
    for skipped in &log.skipped {
        printer.warn(format!(
            "Skipped line {} of `{}`, which is not an event (torn by an interrupted write?): {}",
            skipped.line,
            path.display(),
            skipped.reason
        ));
    }
    if let Some(id) = &args.id
        && !log.events.iter().any(|e| &e.stacklet == id)
    {
        // A stacklet whose directory is gone may still have history; only an id that is
        // neither known nor in the history is an error.
        session.ws.catalog.require(id)?;
    }
    let events: Vec<&Event> = log
        .events
        .iter()
        .rev()
        .filter(|e| args.id.as_ref().is_none_or(|id| &e.stacklet == id))
        .take(args.limit.unwrap_or(usize::MAX))
        .collect();
    if args.json {
        printer.json(&serde_json::to_value(&events)?);
        return Ok(ExitCode::SUCCESS);
    }
    if events.is_empty() {
        printer.note("No events yet");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 5]> = events
        .iter()
        .map(|e| {
            [
                e.time.clone(),
                e.stacklet.clone(),
                e.action.as_str().to_string(),
                e.outcome.as_str().to_string(),
                detail(e),
            ]
        })
        .collect();
    printer.table(["TIME", "STACKLET", "ACTION", "OUTCOME", "DETAIL"], &rows);
    Ok(ExitCode::SUCCESS)
}

/// The detail, the actor and the image changes (`web sha256:1234567890ab→sha256:…`) on one line.
fn detail(event: &Event) -> String {
    let mut text = event.detail.clone();
    if let Some(actor) = &event.actor {
        text.push_str(&format!(" [by {actor}]"));
    }
    if let Some(images) = &event.images {
        for (service, after) in &images.after {
            let before = images.before.get(service).map_or("-", |b| short(b));
            if before != short(after) {
                text.push_str(&format!("; {service} {before}→{}", short(after)));
            }
        }
    }
    text
}

/// `sha256:` plus 12 hex digits: enough to tell digests apart in a table.
fn short(digest: &str) -> &str {
    let end = digest.find(':').map_or(12, |i| i + 13);
    digest.get(..end).unwrap_or(digest)
}
