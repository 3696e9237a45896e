//! The routing step near the end of `up` and `destroy` in domain mode (docs/domain-mode.md): collect the
//! `caddy.snippet` of every set-up stacklet (marker or containers, `state::of`), hand them to
//! `caddy::apply` and report what happened through the printer. Port mode: nothing at all — Caddy
//! does not run there and no Caddyfile is assembled.

use crate::caddy::{self, Applied, CaddyError, Snippet};
use crate::error::UserError;
use crate::lifecycle::Session;
use crate::lifecycle::target::Target;

pub async fn refresh(session: &mut Session) -> anyhow::Result<()> {
    if !session.ws.config.domain_mode() {
        return Ok(());
    }
    // Containers were just created or removed: read their state afresh.
    session.invalidate();
    let mut snippets = Vec::new();
    // Sorted by id, which is the order the Caddyfile promises. A broken stacklet that is set up
    // keeps its route: its service still runs (docs/robustness.md).
    let mut ids: Vec<String> = session.ws.catalog.all_ids().map(str::to_string).collect();
    ids.sort();
    for id in ids {
        let target = Target::resolve(&session.ws.catalog, &id)?;
        let snippet = match Snippet::read(&id, &target.dir) {
            Ok(Some(snippet)) => snippet,
            Ok(None) => continue,
            Err(e) => {
                let running = caddy_running(session).await;
                return Err(user_error(e, session, running).into());
            }
        };
        if target.state(session).await?.is_set_up() {
            snippets.push(snippet);
        }
    }
    let docker = session.try_docker().await;
    let dir = session.ws.instance.caddy_dir();
    let https = session.ws.config.core.https;
    let printer = session.printer.clone();
    let ns = session.ws.namespace.clone();
    let one_off = match &docker {
        Some(docker) => one_off_caddy(session, docker).await,
        None => None,
    };
    match caddy::apply(
        docker.as_ref(),
        &ns,
        &dir,
        &snippets,
        https,
        one_off.as_ref(),
    )
    .await
    {
        Ok(Applied::Reloaded { sites }) => {
            printer.status("Reloaded", format!("Caddy ({})", describe(&sites)));
            Ok(())
        }
        Ok(Applied::Written { sites, checked }) => {
            let how = if checked {
                "checked by the core image's Caddy; "
            } else {
                ""
            };
            printer.status("Wrote", format!("Caddyfile ({how}{})", describe(&sites)));
            printer.warn(format!(
                "Caddy (`{}`) is not running, so domain URLs do not answer yet; `stack up core` starts it",
                caddy::CONTAINER
            ));
            Ok(())
        }
        Err(e) => {
            let running = caddy_running(session).await;
            Err(user_error(e, session, running).into())
        }
    }
}

/// The Caddy that checks the Caddyfile when none runs: the existing (stopped) Caddy container's
/// image, else the image core's compose file gives its Caddy service. `None` when neither is
/// known (core was never set up).
async fn one_off_caddy(session: &Session, docker: &bollard::Docker) -> Option<caddy::OneOffCaddy> {
    let ns = &session.ws.namespace;
    if let Some(found) = caddy::OneOffCaddy::from_container(docker, ns).await {
        return Some(found);
    }
    let core = session.ws.catalog.get("core")?;
    let rendered = crate::render::env::render(&session.ws, core, &session.lan_ip).ok()?;
    let project =
        crate::lifecycle::project::load_project(&session.ws, core, &rendered, &session.printer)
            .ok()??;
    let names = [caddy::CONTAINER.to_string(), ns.container(caddy::CONTAINER)];
    let service = project
        .services
        .values()
        .find(|s| s.container_name.as_ref().is_some_and(|n| names.contains(n)))?;
    Some(caddy::OneOffCaddy {
        image: service.image.clone()?,
        env: service
            .environment
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect(),
    })
}

fn describe(sites: &[String]) -> String {
    match sites.len() {
        0 => "no routes".to_string(),
        _ => format!("routes of {}", sites.join(", ")),
    }
}

/// Whether the Caddy container runs now (its hints differ: only a running Caddy keeps serving).
async fn caddy_running(session: &mut Session) -> bool {
    let Some(docker) = session.try_docker().await else {
        return false;
    };
    let name = session.ws.namespace.container(caddy::CONTAINER);
    crate::engine::container_mounts(&docker, &name)
        .await
        .ok()
        .flatten()
        .is_some_and(|c| c.running)
}

fn user_error(e: CaddyError, session: &Session, running: bool) -> UserError {
    let caddyfile = session.ws.instance.caddy_dir().join("Caddyfile");
    let keeps_serving = if running {
        format!(
            "Caddy keeps serving its previous routes (`{}`)",
            caddyfile.display()
        )
    } else {
        format!("the Caddyfile (`{}`) was not changed", caddyfile.display())
    };
    let hints: Vec<String> = match &e {
        CaddyError::Snippet { id, path, .. } => vec![
            format!("{keeps_serving}; fix `{path}`, then `stack up {id}`"),
            format!("or remove the stacklet and its route: `stack destroy {id}`"),
        ],
        CaddyError::Conflict { id, other, .. } => vec![format!(
            "{keeps_serving}; give `stacklets/{id}/caddy.snippet` or `stacklets/{other}/caddy.snippet` other site addresses"
        )],
        CaddyError::Rejected { .. } | CaddyError::Reload { .. } => vec![format!(
            "{keeps_serving}; `stack logs core` shows Caddy's log"
        )],
        CaddyError::NotMounted { .. } => vec![
            "core's compose file must mount `${CADDY_CONFIG_DIR}` (rendered from `{caddy_dir}`) into the Caddy container".to_string(),
        ],
        CaddyError::Engine(engine) => engine.hint().into_iter().collect(),
        CaddyError::Unavailable { .. } => vec![format!(
            "the routes were not changed; check core's Caddy image (`stack ps core`, `stack logs core`), then `stack up core` (routes are in `{}`)",
            caddyfile.display()
        )],
        CaddyError::Io { .. } => Vec::new(),
    };
    hints
        .into_iter()
        .fold(UserError::wrap(e), |err, hint| err.hint(hint))
}
