//! `stack list` and `stack status`: every stacklet with its state and where to reach it.

use std::process::ExitCode;

use serde_json::json;

use crate::engine::plan::Action;
use crate::lifecycle::Session;
use crate::lifecycle::state::{self, State};
use crate::lifecycle::target::Target;
use crate::output::Printer;
use crate::render::env;
use crate::render::vars::public_url;

struct Row {
    id: String,
    name: String,
    category: String,
    state: String,
    url: String,
    json: serde_json::Value,
}

/// One row per stacklet. With `probe`, running stacklets get their `[health]` checks probed once
/// and show as degraded when one fails (`status`); `list` stays a cheap view.
async fn rows(session: &mut Session, probe: bool) -> anyhow::Result<Vec<Row>> {
    let ip = session.lan_ip.clone();
    let stacklets = session.ws.catalog.stacklets.clone();
    let client = crate::health::client();
    let mut rows = Vec::new();
    for s in &stacklets {
        let mut current = state::of(session, s).await?;
        if probe && current == State::Running && !s.manifest.health.is_empty() {
            let rendered = env::render(&session.ws, s, &ip)?;
            for check in state::render_checks(&session.ws.namespace, s, &rendered)? {
                let result = crate::health::probe(&client, &check).await;
                if !result.passed {
                    current = State::Degraded(format!("{}: {}", check.name, result.observed));
                    break;
                }
            }
        }
        // Drift: `status` only, since it costs a compose load per running stacklet
        // (docs/engine.md, "Plan").
        let mut drifted = false;
        if probe && current == State::Running {
            let (quiet, _) = Printer::capturing(crate::output::Verbosity::Quiet);
            drifted = super::plan::plan_of(session, s.id(), &quiet)
                .await
                .ok()
                .flatten()
                .is_some_and(|plans| plans.iter().any(|p| p.action != Action::Keep));
        }
        // Native services of host stacklets, each with what its check saw (empty otherwise).
        let services = crate::lifecycle::native::states(session, s).await?;
        let ws = &session.ws;
        rows.push({
            let m = &s.manifest;
            let url = m
                .port
                .map(|p| public_url(&ws.config, &ws.namespace, &m.id, None, p, &ip))
                .unwrap_or_default();
            let set_up = ws.instance.is_set_up(&m.id);
            let state = if drifted {
                "drifted".to_string()
            } else {
                current.label().to_string()
            };
            let json = json!({
                "id": m.id,
                "name": m.name,
                "description": m.description,
                "version": m.version,
                "category": m.category,
                "type": match m.kind { crate::stacklet::manifest::StackletType::Docker => "docker", crate::stacklet::manifest::StackletType::Host => "host" },
                "port": m.port.and_then(|p| ws.namespace.host_port(p)),
                "ports": m.ports.iter().map(|(n, p)| (n.clone(), json!(ws.namespace.host_port(*p)))).collect::<serde_json::Map<_, _>>(),
                "requires": m.requires,
                "always_on": m.always_on,
                "upstream": m.upstream.as_ref().map(|u| json!({
                    "image": u.image,
                    "channel": if m.watchtower_enabled() { "patch" } else { "none" },
                })),
                "set_up": set_up,
                "state": state,
                "state_detail": current.detail(),
                "drifted": drifted,
                "url": if url.is_empty() { serde_json::Value::Null } else { json!(url) },
                "services": services,
            });
            Row {
                id: m.id.to_string(),
                name: m.name.clone(),
                category: m.category.clone(),
                state: match current.detail() {
                    Some(d) => format!("{state} ({d})"),
                    None => state,
                },
                url,
                json,
            }
        });
    }
    for broken in session.ws.catalog.broken.clone() {
        rows.push(broken_row(session, &broken).await?);
    }
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(rows)
}

/// A broken stacklet's row (issue 10 §1): the state Docker and the marker give, marked broken,
/// with the problem in the JSON (the full message is also printed as a warning).
async fn broken_row(
    session: &mut Session,
    broken: &crate::stacklet::discover::Broken,
) -> anyhow::Result<Row> {
    let target = Target::resolve(&session.ws.catalog, &broken.id)?;
    let current = target.state(session).await?;
    let category = broken
        .stacklet
        .as_ref()
        .map(|s| s.manifest.category.clone())
        .unwrap_or_default();
    Ok(Row {
        id: broken.id.clone(),
        name: target.name.clone(),
        category: category.clone(),
        state: format!("broken ({})", current.label()),
        url: String::new(),
        json: json!({
            "id": broken.id,
            "name": target.name,
            "category": if category.is_empty() { serde_json::Value::Null } else { json!(category) },
            "set_up": current.is_set_up(),
            "state": "broken",
            "state_detail": current.label(),
            "problem": broken.problem.message,
            "url": serde_json::Value::Null,
        }),
    })
}

fn table(printer: &Printer, rows: &[Row]) {
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| [&r.id, &r.name, &r.category, &r.state, &r.url].map(|c| c.clone()))
        .collect();
    printer.table(["ID", "NAME", "CATEGORY", "STATE", "URL"], &cells);
}

pub async fn list(printer: &Printer, json: bool) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(printer, None)?;
    warn_if_no_docker(&mut session).await;
    let rows = rows(&mut session, false).await?;
    if json {
        printer.json(&serde_json::Value::Array(
            rows.into_iter().map(|r| r.json).collect(),
        ));
    } else if rows.is_empty() {
        printer.note("No stacklets in this repo yet (`stacklets/<id>/stacklet.toml`)");
    } else {
        table(printer, &rows);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn status(printer: &Printer, json: bool) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(printer, None)?;
    // The engine's release as its ping named it when connecting: no request of its own.
    let docker_version = session.engine_release().await;
    warn_if_no_docker(&mut session).await;
    let rows = rows(&mut session, true).await?;
    let ws = &session.ws;
    let mode = if ws.config.domain_mode() {
        "domain"
    } else {
        "port"
    };
    let data_dir = ws.config.data_dir.display().to_string();
    let free = crate::disk::free(&ws.config.data_dir);
    if json {
        printer.json(&json!({
            "system": {
                "mode": mode,
                "domain": ws.config.core.domain,
                "data_dir": data_dir,
                "data_dir_free_bytes": free,
                "instance_dir": ws.instance.dir.display().to_string(),
                "instance": ws.namespace.name(),
                "port_offset": ws.namespace.port_offset(),
                "docker": docker_version,
            },
            "stacklets": rows.into_iter().map(|r| r.json).collect::<Vec<_>>(),
        }));
        return Ok(ExitCode::SUCCESS);
    }
    printer.out(format!(
        "Mode:      {mode}{}",
        if ws.config.domain_mode() {
            format!(" ({})", ws.config.core.domain)
        } else {
            String::new()
        }
    ));
    let ns = &ws.namespace;
    printer.out(format!(
        "Instance:  {} ({}{})",
        ws.instance.dir.display(),
        if ns.is_default() {
            "default".to_string()
        } else {
            format!("`{}`", ns.name())
        },
        match ns.port_offset() {
            0 => String::new(),
            offset => format!(", ports +{offset}"),
        }
    ));
    printer.out(format!(
        "Docker:    {}",
        docker_version.unwrap_or_else(|| "not reachable".into())
    ));
    printer.out(format!(
        "Data:      {data_dir}{}",
        free.map(|b| format!(" ({} free)", human_bytes(b)))
            .unwrap_or_default()
    ));
    printer.out("");
    table(printer, &rows);
    for row in rows.iter().filter(|r| r.json["drifted"] == true) {
        printer.note(format!(
            "`{}` has drifted: its containers differ from what `stack up` would create; see `stack plan {}`",
            row.id, row.id
        ));
    }
    Ok(ExitCode::SUCCESS)
}

async fn warn_if_no_docker(session: &mut Session) {
    if let Err(e) = session.docker().await {
        session
            .printer
            .warn(format!("{}; container states are unknown", e.message));
    }
}

/// Sizes for people; `output.rs` owns the format (pull summaries use it too).
pub use crate::output::human_bytes;
