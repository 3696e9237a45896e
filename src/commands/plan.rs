//! `stack plan [<id>|all]`: what `up` would do to each service, and why. Changes nothing: it
//! renders the environment as `stack env` does, loads the compose file, and reads the engine.

use std::process::ExitCode;

use crate::cli::PlanArgs;
use crate::engine::{self, plan::Action, plan::ServicePlan};
use crate::lifecycle::project::load_project;
use crate::lifecycle::{Session, all};
use crate::output::Printer;
use crate::render::env;

pub async fn plan(printer: &Printer, args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let focus = (args.target != "all").then_some(args.target.as_str());
    let mut session = Session::open(printer, focus)?;
    let ids: Vec<String> = if args.target == "all" {
        all::up_plan(&mut session).await?.concat()
    } else {
        session.ws.catalog.require(&args.target)?;
        vec![args.target.clone()]
    };
    if ids.is_empty() {
        printer.note("Nothing is set up yet: start with `stack up <id>`");
    }
    for id in ids {
        let Some(plans) = plan_of(&mut session, &id, printer).await? else {
            printer.out(format!("{id}: no containers (host stacklet)"));
            continue;
        };
        let changes = plans.iter().filter(|p| p.action != Action::Keep).count();
        printer.out(format!(
            "{id}: {}",
            if changes == 0 {
                "up to date".to_string()
            } else {
                format!("{changes} change(s)")
            }
        ));
        for p in plans {
            let reasons = if p.reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", p.reasons.join(", "))
            };
            printer.out(format!(
                "  {:<8} {} [{}]{reasons}",
                p.action.word(),
                p.service,
                p.container
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `up <id>` would do to the stacklet's containers; `None` without a compose file. Compose
/// warnings go to `printer`. Shared by `plan` and `status` (drift).
pub(super) async fn plan_of(
    session: &mut Session,
    id: &str,
    printer: &Printer,
) -> anyhow::Result<Option<Vec<ServicePlan>>> {
    let stacklet = session.ws.catalog.require(id)?.clone();
    let rendered = env::render(&session.ws, &stacklet, &session.lan_ip)?;
    let Some(project) = load_project(&session.ws, &stacklet, &rendered, printer)? else {
        return Ok(None);
    };
    let docker = session.docker().await?;
    let pins = crate::pins::load(&session.ws.instance, id)?;
    let ids = engine::local_ids(&docker, &project, &pins).await?;
    let plans = engine::plan::plan(&docker, &session.ws.namespace, &project, &ids).await?;
    Ok(Some(plans))
}
