//! `init`, `ps` and `logs`: the verbs that are mostly a view onto the Docker Engine.

use std::process::ExitCode;

use serde_json::json;

use crate::cli::{LogsArgs, PsArgs};
use crate::engine;
use crate::error::{UserError, closest};
use crate::lifecycle::Session;
use crate::lifecycle::target::Target;
use crate::output::Printer;
use crate::render::env;

pub async fn init(printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut session = Session::open_locked(printer, None, true)?;
    let docker = session.docker().await?;
    let version = session.engine_release().await;
    printer.status(
        "Found",
        format!(
            "Docker Engine {}",
            version.unwrap_or_else(|| "(version unknown)".into())
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
    let mut session = Session::open(printer, args.id.as_deref())?;
    // Containers are found by label: a broken stacklet's are listed too.
    let only = match &args.id {
        Some(id) => {
            session.ws.catalog.entry(id)?;
            Some(id.clone())
        }
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
            let mut ids: Vec<&str> = session.ws.catalog.all_ids().collect();
            ids.sort_unstable();
            ids.into_iter()
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
    let mut session = Session::open(printer, Some(&args.id))?;
    // Containers are found by label: a broken stacklet's logs are readable too (issue 10 §1).
    let target = Target::resolve(&session.ws.catalog, &args.id)?;
    let id = target.id.clone();
    let docker = session.docker().await?;
    let project = session.ws.namespace.project(&id);
    let opts = engine::LogOptions {
        services: args.service.iter().cloned().collect(),
        tail: args.tail,
        follow: args.follow,
        timestamps: false,
    };
    let ns = session.ws.namespace.clone();
    let stream = engine::logs(&docker, &ns, &project, &opts).await?;
    if stream.services.is_empty() {
        let Some(service) = &args.service else {
            return Err(UserError::new(format!("No containers for `{id}`"))
                .hint(format!("stack up {id}"))
                .into());
        };
        let known = known_services(&session, &target, &docker, &project).await;
        if known.contains(service) {
            return Err(
                UserError::new(format!("No containers for service `{service}` of `{id}`"))
                    .hint(format!("stack up {id}"))
                    .into(),
            );
        }
        let err = UserError::new(format!("`{id}` has no service `{service}`"));
        let err = match closest(service, known.iter().map(String::as_str)) {
            Some(c) => err.hint(format!("did you mean `{c}`?")),
            None => err,
        };
        let listed = known
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(if known.is_empty() {
            err.hint(format!(
                "`{id}` has no services with containers yet: `stack up {id}`"
            ))
        } else {
            err.hint(format!("its services: {listed}"))
        }
        .into());
    }
    let mut out = std::io::stdout().lock();
    engine::write_logs(stream, &mut out).await?;
    Ok(ExitCode::SUCCESS)
}

/// The services of a stacklet: its compose file's (when it still reads) and those its containers
/// carry, sorted and unique.
async fn known_services(
    session: &Session,
    target: &Target,
    docker: &bollard::Docker,
    project: &str,
) -> Vec<String> {
    let mut names: Vec<String> = engine::ps(docker, &session.ws.namespace, project)
        .await
        .map(|cs| cs.into_iter().map(|c| c.service).collect())
        .unwrap_or_default();
    if let Some(stacklet) = &target.stacklet
        && let Ok(rendered) = env::render_with(
            &session.ws,
            stacklet,
            &session.lan_ip,
            env::SecretPolicy::ReadOnly,
        )
        && let Ok(Some(p)) = crate::lifecycle::project::load_project(
            &session.ws,
            stacklet,
            &rendered,
            &session.printer,
        )
    {
        names.extend(p.services.into_keys());
    }
    names.sort();
    names.dedup();
    names
}
