//! `init`, `ps` and `logs`: the verbs that are mostly a view onto the Docker Engine.

use std::process::ExitCode;

use serde_json::json;

use crate::cli::{LogsArgs, PsArgs};
use crate::engine;
use crate::lifecycle::Session;
use crate::output::Printer;

pub async fn init(printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut session = Session::open_locked(printer, true)?;
    let docker = session.docker().await?;
    let version = docker.version().await.ok();
    printer.status(
        "Found",
        format!(
            "Docker Engine {}",
            version
                .as_ref()
                .and_then(|v| v.version.clone())
                .unwrap_or_else(|| "(version unknown)".into())
        ),
    );
    if engine::ensure_stack_network(&docker, &session.ws.namespace).await? {
        printer.status(
            "Created",
            format!("network `{}`", session.ws.namespace.network()),
        );
    }
    for dir in [
        session.ws.config.data_dir.clone(),
        session.ws.instance.state_dir(),
    ] {
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir)?;
            printer.status("Created", dir.display().to_string());
        }
    }
    printer.status(
        "Ready",
        format!("instance `{}`", session.ws.instance.dir.display()),
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn ps(printer: &Printer, args: &PsArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(printer)?;
    let only = match &args.id {
        Some(id) => Some(session.ws.catalog.require(id)?.id().to_string()),
        None => None,
    };
    let docker = session.docker().await?;
    let ns = &session.ws.namespace;
    let groups = match only {
        // One stacklet: inspect its containers for the full detail.
        Some(id) => {
            let containers = engine::ps(&docker, ns, &ns.project(&id)).await?;
            vec![(id, containers)]
        }
        // Every stacklet: one list query for the whole instance, not one per stacklet.
        None => {
            let mut by_project = engine::ps_all(&docker, ns).await?;
            session
                .ws
                .catalog
                .ids()
                .filter_map(|id| Some((id.to_string(), by_project.remove(&ns.project(id))?)))
                .collect()
        }
    };
    if args.json {
        let value: serde_json::Map<String, serde_json::Value> =
            groups.into_iter().map(|(id, c)| (id, json!(c))).collect();
        printer.json(&serde_json::Value::Object(value));
        return Ok(ExitCode::SUCCESS);
    }
    if groups.is_empty() {
        printer.note("No containers of this stack exist");
        return Ok(ExitCode::SUCCESS);
    }
    for (i, (id, containers)) in groups.iter().enumerate() {
        if i > 0 {
            printer.out("");
        }
        printer.out(printer.bold(id));
        if containers.is_empty() {
            printer.out("  (no containers)");
        }
        for c in containers {
            let ports = c
                .ports
                .iter()
                .map(|p| {
                    format!(
                        "{}:{}->{}/{}",
                        p.host_ip, p.host_port, p.container_port, p.protocol
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let state = match &c.health {
                Some(h) => format!("{} ({h})", c.state),
                None => c.state.clone(),
            };
            printer.out(
                format!("  {:<28} {:<22} {ports}", c.name, state)
                    .trim_end()
                    .to_string(),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn logs(printer: &Printer, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(printer)?;
    let stacklet = session.ws.catalog.require(&args.id)?.clone();
    let docker = session.docker().await?;
    let opts = engine::LogOptions {
        services: args.service.iter().cloned().collect(),
        tail: args.tail,
        follow: args.follow,
        timestamps: false,
    };
    let ns = &session.ws.namespace;
    let stream = engine::logs(&docker, ns, &ns.project(stacklet.id()), &opts).await?;
    if stream.services.is_empty() {
        let what = match &args.service {
            Some(s) => format!("service `{s}` of `{}`", stacklet.id()),
            None => format!("`{}`", stacklet.id()),
        };
        return Err(
            crate::error::UserError::new(format!("No containers for {what}"))
                .hint(format!("stack up {}", stacklet.id()))
                .into(),
        );
    }
    let mut out = std::io::stdout().lock();
    engine::write_logs(stream, &mut out).await?;
    Ok(ExitCode::SUCCESS)
}
