//! `stack update [<id>|all] [--check] [--json]`: recorded images moved to what their tags point
//! to now, health-gated with rollback (`lifecycle/update.rs`); `--check` only asks.

use std::process::ExitCode;

use serde_json::json;

use crate::cli::UpdateArgs;
use crate::lifecycle::update::{self, Updated};
use crate::lifecycle::{Session, state};
use crate::output::Printer;
use crate::schedule::Schedules;
use crate::stacklet::graph;

pub async fn update_cmd(printer: &Printer, args: &UpdateArgs) -> anyhow::Result<ExitCode> {
    if args.install_schedule || args.remove_schedule {
        return super::schedule::schedule(printer, Schedules::Updates, args.install_schedule);
    }
    let target = args.target.as_deref().unwrap_or("all");
    // `--check` changes nothing, so it needs no lock; an update holds it for the whole run.
    let focus = (target != "all").then_some(target);
    let mut session = if args.check {
        Session::open(printer, focus)?
    } else {
        Session::open_locked(printer, focus, !args.lock.no_wait)?
    };
    let ids = if target == "all" {
        let mut ids = Vec::new();
        for id in graph::order(&session.ws.catalog.stacklets)? {
            let stacklet = session.ws.catalog.require(&id)?.clone();
            if state::of(&mut session, &stacklet).await?.is_set_up() {
                ids.push(id);
            }
        }
        ids
    } else {
        session.ws.catalog.require(target)?;
        vec![target.to_string()]
    };

    if args.check {
        return check(printer, &mut session, &ids, args.json).await;
    }
    update_each(printer, &mut session, &ids, args.json).await
}

/// `--check`: one entry per service, nothing changed.
async fn check(
    printer: &Printer,
    session: &mut Session,
    ids: &[String],
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut all = Vec::new();
    for id in ids {
        all.extend(update::check(session, id).await?);
    }
    if json {
        printer.json(&serde_json::to_value(&all)?);
    } else if all.is_empty() {
        printer.note("No services to check");
    } else {
        let short = |d: &Option<String>| {
            d.as_deref()
                .map_or("-".to_string(), |d| d.chars().take(19).collect())
        };
        let rows: Vec<[String; 6]> = all
            .iter()
            .map(|c| {
                [
                    c.stacklet.clone(),
                    c.service.clone(),
                    c.image.clone(),
                    short(&c.running),
                    c.note.clone().unwrap_or_else(|| short(&c.available)),
                    if c.update { "yes" } else { "no" }.to_string(),
                ]
            })
            .collect();
        printer.table(
            [
                "STACKLET",
                "SERVICE",
                "IMAGE",
                "RUNNING",
                "AVAILABLE",
                "UPDATE",
            ],
            &rows,
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Update each stacklet in turn, reporting each; exit 1 if any failed.
async fn update_each(
    printer: &Printer,
    session: &mut Session,
    ids: &[String],
    json: bool,
) -> anyhow::Result<ExitCode> {
    // One by one in dependency order; a failure is reported and the next stacklet still runs.
    let mut report = Vec::new();
    let mut failed = 0;
    for id in ids {
        let _ = session.try_docker().await;
        let mut one = session.fork();
        let name = one.ws.catalog.require(id)?.manifest.name.clone();
        match update::update(&mut one, id).await {
            Ok(Updated::Current) => {
                printer.status("Current", format!("{name} runs the newest images"));
                report.push(json!({"stacklet": id, "outcome": "current"}));
            }
            Ok(Updated::Moved(images)) => {
                printer.status("Updated", format!("{name} ({})", changes(&images)));
                report.push(json!({"stacklet": id, "outcome": "updated", "images": images}));
            }
            Err(e) => {
                failed += 1;
                let detail = crate::history::error_detail(&e);
                let outcome = if detail.contains("rolled back to the previous images") {
                    "rolled-back"
                } else {
                    "failed"
                };
                report.push(json!({"stacklet": id, "outcome": outcome, "error": detail}));
                super::exit(Err(e), printer);
            }
        }
    }
    if json {
        printer.json(&serde_json::Value::Array(report));
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn changes(images: &crate::history::Images) -> String {
    images
        .after
        .iter()
        .map(|(service, after)| {
            let before = images.before.get(service).map_or("-", String::as_str);
            format!("{service} {}→{}", short(before), short(after))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn short(digest: &str) -> String {
    digest.chars().take(19).collect()
}
