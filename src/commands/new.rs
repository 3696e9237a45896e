//! `stack new <id> --image <ref> [--port N[:C]] [--category C] [-- command…]`: read the image's
//! metadata from the engine, plan the stacklet (`scaffold`), write `stacklets/<id>/` whole, then
//! lint it as the user would.

use std::process::ExitCode;

use crate::cli::NewArgs;
use crate::error::UserError;
use crate::lifecycle::Session;
use crate::output::Printer;
use crate::scaffold::{self, Request, ScaffoldError};
use crate::stacklet::StackletId;
use crate::stacklet::id::ID_RULE;

// Long by design: the command's steps in order (arguments, refusals, scaffold, report), each a
// short block with the message the person sees.
pub async fn new(printer: &Printer, args: &NewArgs) -> anyhow::Result<ExitCode> {
    let (host_port, container_port) = parse_port(args.port.as_deref())?;
    let mut session = Session::open(printer, Some(&args.id))?;
    let id = args.id.as_str();
    if !StackletId::is_valid(id) {
        return Err(UserError::usage(format!(
            "`{id}` is not a valid stacklet id; expected {ID_RULE}"
        ))
        .into());
    }
    let dir = session.ws.instance.stacklet_dir(id);
    if session.ws.catalog.get(id).is_some() || dir.exists() {
        return Err(UserError::new(format!(
            "`stacklets/{id}` already exists; `stack new` never overwrites a stacklet"
        ))
        .hint("choose another id, or edit the existing stacklet")
        .into());
    }
    let taken: Vec<(u16, String)> = session
        .ws
        .catalog
        .stacklets
        .iter()
        .flat_map(|s| {
            let m = &s.manifest;
            m.port
                .into_iter()
                .chain(m.ports.iter().map(|(_, p)| *p))
                .map(|p| (p, m.id.to_string()))
        })
        .collect();

    let docker = session.docker().await?;
    printer.status("Inspecting", &args.image);
    let facts = crate::engine::image_facts(&docker, &args.image, printer).await?;
    let request = Request {
        id: id.to_string(),
        host_port,
        container_port,
        category: args.category.clone(),
        command: args.command.clone(),
    };
    let plan = scaffold::plan(&request, &facts, &taken).map_err(|e| plan_error(e, id))?;
    scaffold::write(&dir, &plan).map_err(|e| {
        UserError::new(format!("Cannot write `stacklets/{id}`: {e}"))
            .hint("nothing was left behind; check that `stacklets/` is writable")
    })?;
    printer.status("Created", format!("stacklets/{id}/"));
    for (file, _) in &plan.files {
        printer.detail(format!("stacklets/{id}/{}", file.display()));
    }
    if let (Some(host), Some(container)) = (plan.host_port, plan.container_port) {
        printer.detail(format!("port {host} → {container} in the container"));
    }
    for m in &plan.mounts {
        printer.detail(format!(
            "volume {} → {{data_dir}}/{id}/{} (`{}`)",
            m.path, m.folder, m.variable
        ));
    }
    if let Some(source) = &plan.health {
        printer.detail(format!("[health] from {source}"));
    }

    // Lint what was written, exactly as `stack lint <id>` would.
    session.reload()?;
    // A scaffold that does not load is a broken stacklet: lint reports its problem too.
    session.ws.catalog.entry(id)?;
    let report = crate::lint::lint(&session.ws, Some(id));
    for finding in &report.findings {
        printer.note(finding);
    }
    if report.errors() > 0 {
        return Err(
            UserError::new(format!("The scaffold of `{id}` does not pass `stack lint`"))
                .hint(format!("fix the findings above in `stacklets/{id}/`"))
                .into(),
        );
    }
    printer.note(format!(
        "\nNext: edit `stacklets/{id}/stacklet.toml` (name, description, login_field), then `stack up {id}`."
    ));
    Ok(ExitCode::SUCCESS)
}

/// `N` or `N:C` → (host, container).
fn parse_port(raw: Option<&str>) -> Result<(Option<u16>, Option<u16>), UserError> {
    let Some(raw) = raw else {
        return Ok((None, None));
    };
    let number = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| {
                UserError::usage(format!(
                    "Invalid `--port {raw}`: expected a port (1–65535) or `HOST:CONTAINER`"
                ))
            })
    };
    match raw.split_once(':') {
        Some((host, container)) => Ok((Some(number(host)?), Some(number(container)?))),
        None => Ok((Some(number(raw)?), None)),
    }
}

fn plan_error(e: ScaffoldError, id: &str) -> UserError {
    let message = e.to_string();
    match e {
        ScaffoldError::PortTaken { .. } => UserError::new(message)
            .hint("leave out `--port` to take the next free block, or choose another port"),
        ScaffoldError::NoContainerPort { .. } => UserError::new(message).hint(format!(
            "give the port it listens on: `stack new {id} --image … --port <host>:<container>`"
        )),
        ScaffoldError::NoFreePort => UserError::new(message).hint("give one with `--port`"),
    }
}
