//! `down`, `destroy` and `uninstall`: the transitions back towards available.
//!
//! `destroy` deletes only what belongs to the stacklet: its containers and volumes, its `.env`, its
//! `<id>__*` secrets, its marker and `<data>/<id>/` (checked by `paths::deletable_data_dir`).
//! `global__*` secrets survive.

use crate::engine;
use crate::error::UserError;
use crate::hooks::HookName;
use crate::lifecycle::project::load_project;
use crate::lifecycle::{Session, paths, state};
use crate::render::env::{self, RenderedEnv};
use crate::secrets::Secrets;
use crate::stacklet::{Stacklet, graph};

/// `on_stop`, then stop the containers. Data, containers and marker stay.
pub async fn down(session: &mut Session, id: &str) -> anyhow::Result<bool> {
    let stacklet = session.ws.catalog.require(id)?.clone();
    let current = state::of(session, &stacklet).await?;
    if !current.is_set_up() {
        session.printer.status(
            "Skipping",
            format!("{} (not set up)", stacklet.manifest.name),
        );
        return Ok(false);
    }
    let rendered = env::render(&session.ws, &stacklet, &session.lan_ip)?;
    session
        .printer
        .status("Stopping", stacklet.manifest.name.to_string());
    session
        .run_hook(&stacklet, HookName::OnStop, &rendered)
        .await?;
    // Native services this runtime started (docs/host-stacklets.md).
    crate::lifecycle::native::stop(session, &stacklet, &rendered).await?;
    if stacklet.compose_file().is_some() {
        let docker = session.docker().await?;
        let ns = &session.ws.namespace;
        engine::stop(&docker, ns, &ns.project(id), &session.printer).await?;
    }
    session.invalidate();
    Ok(true)
}

/// What `destroy` refuses: `always_on`, a dependency of a set-up stacklet, and a data dir that
/// resolves outside the data root. Checked before anything is asked or removed.
pub async fn check_destroyable(session: &mut Session, stacklet: &Stacklet) -> anyhow::Result<()> {
    paths::deletable_data_dir(&session.ws.config.data_dir, stacklet.id())?;
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

/// The hook side of tearing a stacklet down, shared by `destroy` and `uninstall`: `on_stop`, the
/// native services this runtime started, then `on_destroy`. Native services stop before
/// `on_destroy` (which may uninstall the very program `stop` needs) and before `.stack/` goes (it
/// holds the memory of what this runtime started).
async fn stop_and_forget(
    session: &Session,
    stacklet: &Stacklet,
    rendered: &RenderedEnv,
) -> anyhow::Result<()> {
    session
        .run_hook(stacklet, HookName::OnStop, rendered)
        .await?;
    crate::lifecycle::native::stop(session, stacklet, rendered).await?;
    session
        .run_hook(stacklet, HookName::OnDestroy, rendered)
        .await?;
    Ok(())
}

/// Tear one stacklet down to available. Confirmation is the caller's job.
pub async fn destroy(session: &mut Session, id: &str) -> anyhow::Result<()> {
    let stacklet = session.ws.catalog.require(id)?.clone();
    let printer = session.printer.clone();
    // A data dir that may not be deleted must stop `destroy` before it removes anything, not
    // after the secrets and the marker are gone (the stacklet would be half destroyed).
    paths::deletable_data_dir(&session.ws.config.data_dir, id)?;
    printer.status("Destroying", stacklet.manifest.name.to_string());
    // Compose needs the env to parse volume definitions, and hooks get it too.
    let rendered = env::render(&session.ws, &stacklet, &session.lan_ip)?;
    stop_and_forget(session, &stacklet, &rendered).await?;
    if stacklet.compose_file().is_some() {
        // Parse it anyway: a broken compose file is reported before anything is removed.
        load_project(&session.ws, &stacklet, &rendered, &printer)?;
        let docker = session.docker().await?;
        let opts = engine::DownOptions { volumes: true };
        let ns = &session.ws.namespace;
        engine::down(&docker, ns, &ns.project(id), &opts, &printer).await?;
        session.invalidate();
    }
    let instance = session.ws.instance.clone();
    remove_file(&instance.env_file(id))?;
    let removed = Secrets::remove_namespace(&instance.secrets_file(), id)?;
    if !removed.is_empty() {
        printer.status("Removing", format!("{} secrets of `{id}`", removed.len()));
    }
    remove_file(&instance.marker_file(id))?;
    // The bot runner's manifest without this stacklet's bot (docs/bots.md).
    crate::bots::refresh(&session.ws, &printer, &stacklet, true)?;
    let state_dir = instance.stacklet_state_dir(id);
    if state_dir.is_dir() {
        std::fs::remove_dir_all(&state_dir).map_err(|e| {
            UserError::new(format!("Cannot remove `{}`", state_dir.display())).because(e)
        })?;
    }
    if let Some(data) = paths::deletable_data_dir(&session.ws.config.data_dir, id)? {
        printer.status("Removing", data.display().to_string());
        std::fs::remove_dir_all(&data).map_err(|e| {
            UserError::new(format!("Cannot remove `{}`", data.display())).because(e)
        })?;
    }

    // Domain mode: reassemble the Caddyfile without this stacklet's route and reload Caddy.
    crate::lifecycle::routes::refresh(session).await?;
    Ok(())
}

fn remove_file(path: &std::path::Path) -> Result<(), UserError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(UserError::new(format!("Cannot remove `{}`", path.display())).because(e)),
    }
}

/// What `uninstall` keeps and deletes.
pub struct UninstallPlan {
    /// Stacklets to tear down, dependents first.
    pub remove: Vec<String>,
    /// `--not` ids: their containers, state and secrets stay.
    pub keep: Vec<String>,
    pub delete_data: bool,
}

/// Back to a fresh clone: tear down every stacklet but the kept ones, then the
/// network, `.stack/` (minus what belongs to kept ids), `stack.toml` and `users.toml`.
// Long by design: the teardown in the order `uninstall` promises (stacklets dependents first,
// network, state, config files, then data only when asked), each step after the one it needs.
pub async fn uninstall(session: &mut Session, plan: &UninstallPlan) -> anyhow::Result<()> {
    let printer = session.printer.clone();
    let docker = session.docker().await?;
    for id in &plan.remove {
        let stacklet = session.ws.catalog.require(id)?.clone();
        let current = state::of(session, &stacklet).await?;
        let env_path = session.ws.instance.env_file(id);
        if !current.is_set_up() && !env_path.exists() {
            continue;
        }
        printer.status("Removing", stacklet.manifest.name.to_string());
        let rendered = env::render(&session.ws, &stacklet, &session.lan_ip)?;
        stop_and_forget(session, &stacklet, &rendered).await?;
        let ns = &session.ws.namespace;
        engine::down(
            &docker,
            ns,
            &ns.project(id),
            &engine::DownOptions { volumes: true },
            &printer,
        )
        .await?;
        remove_file(&env_path)?;
    }
    engine::remove_stack_network(&docker, &session.ws.namespace, &printer).await?;
    let instance = session.ws.instance.clone();
    let data_root = session.ws.config.data_dir.clone();
    if plan.keep.is_empty() {
        let state_dir = instance.state_dir();
        if state_dir.exists() {
            printer.status("Removing", state_dir.display().to_string());
            // The lock file lives inside; removing it while held is fine on Unix (the descriptor
            // stays valid) and nothing else may start until this command exits.
            std::fs::remove_dir_all(&state_dir).map_err(|e| {
                UserError::new(format!("Cannot remove `{}`", state_dir.display())).because(e)
            })?;
        }
    } else {
        for id in &plan.remove {
            Secrets::remove_namespace(&instance.secrets_file(), id)?;
            remove_file(&instance.marker_file(id))?;
            let dir = instance.stacklet_state_dir(id);
            if dir.is_dir() {
                std::fs::remove_dir_all(&dir).map_err(|e| {
                    UserError::new(format!("Cannot remove `{}`", dir.display())).because(e)
                })?;
            }
        }
        // The bot runner keeps only the kept stacklets' bots (docs/bots.md).
        if instance.bots_manifest().exists()
            && let Err(e) = crate::bots::write_manifest(&session.ws, None, None)
        {
            printer.warn(format!("Cannot update `.stack/bots.json`: {}", e.message));
        }
    }
    for file in [instance.config_file(), instance.users_file()] {
        if file.exists() {
            printer.status("Removing", file.display().to_string());
            remove_file(&file)?;
        }
    }
    if plan.delete_data {
        for id in &plan.remove {
            if let Some(data) = paths::deletable_data_dir(&data_root, id)? {
                printer.status("Removing", data.display().to_string());
                std::fs::remove_dir_all(&data).map_err(|e| {
                    UserError::new(format!("Cannot remove `{}`", data.display())).because(e)
                })?;
            }
        }
        // The root itself only when nothing else is left in it.
        if std::fs::read_dir(&data_root).is_ok_and(|mut d| d.next().is_none()) {
            let _ = std::fs::remove_dir(&data_root);
        }
    } else if data_root.exists() {
        printer.note(format!("Data kept in `{}`", data_root.display()));
    }
    Ok(())
}
