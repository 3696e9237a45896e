//! `stack doctor [<id>] [--json]`: preflight checks, one line each; exit 1 on any fail.

use std::process::ExitCode;

use crate::cli::DoctorArgs;
use crate::lifecycle::doctor::{self, Status};
use crate::lifecycle::{Session, state};
use crate::output::Printer;
use crate::stacklet::graph;

pub async fn doctor(printer: &Printer, args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(printer, None)?;
    // Without an id: every set-up stacklet (the ones `up all` would start).
    let ids = match &args.id {
        Some(id) => {
            session.ws.catalog.require(id)?;
            vec![id.clone()]
        }
        None => {
            let mut ids = Vec::new();
            for id in graph::order(&session.ws.catalog.stacklets)? {
                let stacklet = session.ws.catalog.require(&id)?.clone();
                if state::of(&mut session, &stacklet)
                    .await
                    .is_ok_and(|s| s.is_set_up())
                {
                    ids.push(id);
                }
            }
            ids
        }
    };
    let checks = doctor::run(&mut session, &ids, args.platform.as_deref()).await;
    let failed = checks.iter().any(|c| c.status == Status::Fail);
    if args.json {
        printer.json(&serde_json::to_value(&checks)?);
    } else {
        let rows: Vec<[String; 3]> = checks
            .iter()
            .map(|c| {
                let status = match c.status {
                    Status::Ok => "ok",
                    Status::Warn => "warn",
                    Status::Fail => "fail",
                };
                let detail = match &c.hint {
                    Some(h) => format!("{} (hint: {h})", c.detail),
                    None => c.detail.clone(),
                };
                [status.to_string(), c.check.clone(), detail]
            })
            .collect();
        printer.table(["STATUS", "CHECK", "DETAIL"], &rows);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
