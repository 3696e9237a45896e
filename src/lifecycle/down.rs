//! `down`, `destroy` and `uninstall`: the transitions back towards available.
//!
//! `destroy` deletes only what belongs to the stacklet: its containers and volumes, its `.env`, its
//! `<id>__*` secrets, its marker and `<data>/<id>/` (checked by `paths::deletable_data_dir`).
//! `global__*` secrets survive.

use crate::engine;
use crate::error::UserError;
use crate::hooks::HookName;
use crate::lifecycle::up::{load_project, run_hook};
use crate::lifecycle::{Session, paths, state};
use crate::render::env;
use crate::secrets::Secrets;
use crate::stacklet::{Stacklet, graph};

/// `on_stop`, then stop the containers. Data, containers and marker stay.
pub async fn down(session: &mut Session, id: &str) -> anyhow::Result<bool> {
    let stacklet = session.ws.catalog.require(id)?.clone();
    let current = state::of(session, &stacklet).await?;
    if !current.is_set_up() {
        session
            .printer
            .status("Skipping", format!("{} (not set up)", stacklet.manifest.name));
        return Ok(false);
    }
    let rendered = env::render(&session.ws, &stacklet, &session.lan_ip)?;
    session
        .printer
        .status("Stopping", stacklet.manifest.name.to_string());
    run_hook(session, &stacklet, HookName::OnStop, &rendered).await?;
    if let Some(project) = load_project(&session.ws, &stacklet, &rendered)? {
        let docker = session.docker().await?;
        engine::stop(&docker, &project, &session.printer).await?;
    }
    Ok(true)
}

/// Refusals of contract §4: `always_on`, and a dependency of a set-up stacklet.
pub async fn check_destroyable(session: &mut Session, stacklet: &Stacklet) -> anyhow::Result<()> {
    if stacklet.manifest.always_on {
        return Err(UserError::new(format!(
            "`{}` is always on and cannot be destroyed",
            stacklet.id()
        ))
        .hint(format!("`stack down {}` stops it", stacklet.id()))
        .into());
    }
    let mut blocking = Vec::new();
    for dependent in graph::dependents(&session.ws.catalog.stacklets, stacklet.id()) {
        let dep = session.ws.catalog.require(&dependent)?.clone();
        if state::of(session, &dep).await?.is_set_up() {
            blocking.push(dependent);
        }
    }
    if !blocking.is_empty() {
        let names = blocking
            .iter()
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(UserError::new(format!(
            "`{}` is required by {names}, which {} set up",
            stacklet.id(),
            if blocking.len() == 1 { "is" } else { "are" }
        ))
        .hint(format!(
            "destroy {} first: {}",
            if blocking.len() == 1 { "it" } else { "them" },
            blocking
                .iter()
                .map(|d| format!("`stack destroy {d}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    Ok(())
}

/// Tear one stacklet down to available. Confirmation is the caller's job.
pub async fn destroy(session: &mut Session, id: &str) -> anyhow::Result<()> {
    let stacklet = session.ws.catalog.require(id)?.clone();
    let printer = session.printer.clone();
    printer.status("Destroying", stacklet.manifest.name.to_string());
    // Compose needs the env to parse volume definitions, and hooks get it too.
    let rendered = env::render(&session.ws, &stacklet, &session.lan_ip)?;
    run_hook(session, &stacklet, HookName::OnStop, &rendered).await?;
    run_hook(session, &stacklet, HookName::OnDestroy, &rendered).await?;
    if let Some(project) = load_project(&session.ws, &stacklet, &rendered)? {
        let docker = session.docker().await?;
        engine::down(&docker, &project, true, &printer).await?;
    }
    let instance = session.ws.instance.clone();
    remove_file(&instance.env_file(id))?;
    let removed = Secrets::remove_namespace(&instance.secrets_file(), id)
        .map_err(|e| UserError::new(e.to_string()))?;
    if !removed.is_empty() {
        printer.status("Removing", format!("{} secrets of `{id}`", removed.len()));
    }
    remove_file(&instance.marker_file(id))?;
    let state_dir = instance.stacklet_state_dir(id);
    if state_dir.is_dir() {
        std::fs::remove_dir_all(&state_dir).map_err(|e| {
            UserError::new(format!("Cannot remove `{}`: {e}", state_dir.display()))
        })?;
    }
    if let Some(data) = paths::deletable_data_dir(&session.ws.config.data_dir, id)? {
        printer.status("Removing", data.display().to_string());
        std::fs::remove_dir_all(&data)
            .map_err(|e| UserError::new(format!("Cannot remove `{}`: {e}", data.display())))?;
    }
    Ok(())
}

fn remove_file(path: &std::path::Path) -> Result<(), UserError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(UserError::new(format!(
            "Cannot remove `{}`: {e}",
            path.display()
        ))),
    }
}
