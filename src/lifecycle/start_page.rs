//! Keeping the family start page (`start_page`) current: after every `up`, `down`, `destroy`,
//! `restart` and `uninstall` the command layer calls [`refresh`], which asks Docker which
//! stacklets run and rewrites `.stack/start/index.html`.
//!
//! For `stack serve` (`GET /`, docs/start-page.md): [`render_current`] renders the page from the live
//! state without writing it, and [`crate::start_page::path`] names the file the last state change
//! wrote. Either is safe to serve without authentication: the page holds no secret.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::error::UserError;
use crate::lifecycle::{Session, state::State};
use crate::render::vars::stacklet_url;
use crate::start_page::{self, Entry, Login};

/// Every running (or starting) stacklet that has a URL, in id order.
pub async fn entries(session: &mut Session) -> Result<Vec<Entry>, UserError> {
    // Containers were just created or removed: read their state afresh.
    session.invalidate();
    let mut entries = Vec::new();
    for stacklet in session.ws.catalog.stacklets.clone() {
        let m = &stacklet.manifest;
        let Some(url) = stacklet_url(
            &session.ws.config,
            &session.ws.namespace,
            m,
            &session.lan_ip,
        ) else {
            continue;
        };
        let current = crate::lifecycle::state::of(session, &stacklet).await?;
        if !matches!(
            current,
            State::Running | State::Starting | State::Degraded(_)
        ) {
            continue;
        }
        let login = m.login_field.as_ref().map(|field| Login {
            field: field.clone(),
            identifiers: session
                .ws
                .users
                .for_stacklet(&m.id)
                .iter()
                .map(|u| {
                    if field == "email" {
                        u.email.clone()
                    } else {
                        u.id.clone()
                    }
                })
                .filter(|i| !i.is_empty())
                .collect(),
        });
        entries.push(Entry {
            id: m.id.to_string(),
            name: m.name.clone(),
            description: m.description.clone(),
            url,
            login,
        });
    }
    Ok(entries)
}

/// The page for the current state, rendered but not written.
pub async fn render_current(session: &mut Session) -> Result<String, UserError> {
    let entries = entries(session).await?;
    let family = session.ws.config.core.family.clone().unwrap_or_default();
    Ok(start_page::render(&family, &entries))
}

/// Render the page for the current state and replace `.stack/start/index.html`; returns its path.
pub async fn refresh(session: &mut Session) -> anyhow::Result<PathBuf> {
    let html = render_current(session).await?;
    let path = start_page::path(&session.ws.instance);
    start_page::write(&path, &html)
        .with_context(|| format!("Cannot write the start page `{}`", path.display()))?;
    Ok(path)
}
