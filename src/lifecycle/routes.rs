//! The routing step near the end of `up` and `destroy` in domain mode (docs/domain-mode.md): collect the
//! `caddy.snippet` of every set-up stacklet (marker or containers, `state::of`), hand them to
//! `caddy::apply` and report what happened through the printer. Port mode: nothing at all — Caddy
//! does not run there and no Caddyfile is assembled.

use crate::caddy::{self, Applied, CaddyError, Snippet};
use crate::error::UserError;
use crate::lifecycle::{Session, state};

pub async fn refresh(session: &mut Session) -> anyhow::Result<()> {
    if !session.ws.config.domain_mode() {
        return Ok(());
    }
    // Containers were just created or removed: read their state afresh.
    session.invalidate();
    let mut snippets = Vec::new();
    // The catalog is sorted by id, which is the order the Caddyfile promises.
    for stacklet in session.ws.catalog.stacklets.clone() {
        let Some(snippet) =
            Snippet::read(stacklet.id(), &stacklet.dir).map_err(|e| user_error(e, session))?
        else {
            continue;
        };
        if state::of(session, &stacklet).await?.is_set_up() {
            snippets.push(snippet);
        }
    }
    let docker = session.try_docker().await;
    let dir = session.ws.instance.caddy_dir();
    let https = session.ws.config.core.https;
    let printer = session.printer.clone();
    let ns = session.ws.namespace.clone();
    match caddy::apply(docker.as_ref(), &ns, &dir, &snippets, https).await {
        Ok(Applied::Reloaded { sites }) => {
            printer.status("Reloaded", format!("Caddy ({})", describe(&sites)));
            Ok(())
        }
        Ok(Applied::Written { sites }) => {
            printer.status("Wrote", format!("Caddyfile ({})", describe(&sites)));
            printer.warn(format!(
                "Caddy (`{}`) is not running, so domain URLs do not answer yet; `stack up core` starts it",
                caddy::CONTAINER
            ));
            Ok(())
        }
        Err(e) => Err(user_error(e, session).into()),
    }
}

fn describe(sites: &[String]) -> String {
    match sites.len() {
        0 => "no routes".to_string(),
        _ => format!("routes of {}", sites.join(", ")),
    }
}

fn user_error(e: CaddyError, session: &Session) -> UserError {
    let caddyfile = session.ws.instance.caddy_dir().join("Caddyfile");
    let keeps_serving = format!(
        "Caddy keeps serving its previous routes (`{}`)",
        caddyfile.display()
    );
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
