//! `down`, `destroy` and `uninstall`: the transitions back towards available.
//!
//! `destroy` deletes only what belongs to the stacklet: its containers and volumes, its `.env`, its
//! `<id>__*` secrets, its marker and `<data>/<id>/` (checked by `paths::deletable_data_dir`).
//! `global__*` secrets survive.

use crate::engine;
use crate::error::UserError;
use crate::hooks::HookName;
use crate::lifecycle::target::Target;
use crate::lifecycle::{Session, paths};
use crate::render::env::{self, RenderedEnv, SecretPolicy};
use crate::secrets::Secrets;
use crate::stacklet::{Stacklet, graph};

/// `on_stop`, then stop the containers. Data, containers and marker stay. A broken stacklet is
/// stopped from Docker's labels, without hooks (issue 10 §1).
pub async fn down(session: &mut Session, id: &str) -> anyhow::Result<bool> {
    let target = Target::resolve(&session.ws.catalog, id)?;
    let current = target.state(session).await?;
    if !current.is_set_up() {
        session
            .printer
            .status("Skipping", format!("{} (not set up)", target.name));
        return Ok(false);
    }
    session.printer.status("Stopping", target.name.clone());
    if let Some((stacklet, rendered)) = teardown_env(session, &target, "`on_stop` hook") {
        session
            .run_hook(&stacklet, HookName::OnStop, &rendered)
            .await?;
        // Native services this runtime started (docs/host-stacklets.md).
        crate::lifecycle::native::stop(session, &stacklet, &rendered).await?;
    }
    if let Some(docker) = teardown_docker(session, &target).await? {
        let ns = &session.ws.namespace;
        engine::stop(&docker, ns, &ns.project(id), &session.printer).await?;
    }
    session.invalidate();
    Ok(true)
}

/// The stacklet and its rendered env for the teardown hooks, or `None` after a warning saying
/// what is skipped: tearing down never depends on the files being valid now. Nothing is
/// generated (a missing secret renders empty).
fn teardown_env(
    session: &Session,
    target: &Target,
    hooks: &str,
) -> Option<(Stacklet, RenderedEnv)> {
    let Some(stacklet) = &target.stacklet else {
        let problem = target.problem.as_ref().map(|p| p.message.as_str());
        session.printer.warn(format!(
            "{}; without a valid manifest its {hooks} cannot run, so `{}` is taken down from what \
             Docker and `.stack/` know",
            problem.unwrap_or("The manifest cannot be read"),
            target.id
        ));
        return None;
    };
    match env::render_with(
        &session.ws,
        stacklet,
        &session.lan_ip,
        SecretPolicy::ReadOnly,
    ) {
        Ok(rendered) => Some((stacklet.clone(), rendered)),
        Err(e) => {
            session.printer.warn(format!(
                "{}; without its environment the {hooks} of `{}` cannot run and are skipped",
                e.message, target.id
            ));
            None
        }
    }
}

/// The Docker client when the target's containers may exist: required when it has a compose
/// file, asked without failing when its manifest does not say.
async fn teardown_docker(
    session: &mut Session,
    target: &Target,
) -> Result<Option<bollard::Docker>, UserError> {
    if !target.may_have_containers() {
        return Ok(None);
    }
    if target.stacklet.is_some() {
        return session.docker().await.map(Some);
    }
    Ok(session.try_docker().await)
}

/// What `destroy` refuses: `always_on`, a dependency of a set-up stacklet, and a data dir that
/// resolves outside the data root. Checked before anything is asked or removed.
pub async fn check_destroyable(session: &mut Session, target: &Target) -> anyhow::Result<()> {
    paths::deletable_data_dir(&session.ws.config.data_dir, &target.id)?;
    if target.always_on {
        return Err(UserError::new(format!(
            "`{}` is always on and cannot be destroyed",
            target.id
        ))
        .hint(format!("`stack down {}` stops it", target.id))
        .into());
    }
    let mut blocking = Vec::new();
    for dependent in graph::dependents(&session.ws.catalog.stacklets, &target.id) {
        let dep = session.ws.catalog.require(&dependent)?.clone();
        if crate::lifecycle::state::of(session, &dep)
            .await?
            .is_set_up()
        {
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
            target.id,
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

/// Tear one stacklet down to available. Confirmation is the caller's job. Everything `up`
/// created goes, whatever the files say now: containers and volumes are found by their labels
/// (the compose file is not read), and a broken manifest or an environment that no longer
/// renders only skips the hooks, with a warning.
pub async fn destroy(session: &mut Session, id: &str) -> anyhow::Result<()> {
    let target = Target::resolve(&session.ws.catalog, id)?;
    let printer = session.printer.clone();
    // A data dir that may not be deleted must stop `destroy` before it removes anything, not
    // after the secrets and the marker are gone (the stacklet would be half destroyed).
    paths::deletable_data_dir(&session.ws.config.data_dir, id)?;
    printer.status("Destroying", target.name.clone());
    if let Some((stacklet, rendered)) =
        teardown_env(session, &target, "`on_stop` and `on_destroy` hooks")
    {
        stop_and_forget(session, &stacklet, &rendered).await?;
    }
    if let Some(docker) = teardown_docker(session, &target).await? {
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
    match &target.stacklet {
        Some(stacklet) => crate::bots::refresh(&session.ws, &printer, stacklet, true)?,
        None if instance.bots_manifest().exists() => {
            if let Err(e) = crate::bots::write_manifest(&session.ws, None, Some(id)) {
                printer.warn(format!(
                    "Cannot update `{}`: {}",
                    instance.bots_manifest().display(),
                    e.message
                ));
            }
        }
        None => {}
    }
    // … and the running bot-runner container's configuration (without `messages`, none).
    let bots_changed = id == crate::lifecycle::bots::MESSAGES
        || target
            .stacklet
            .as_ref()
            .is_some_and(|s| crate::bots::bot_file(s).is_some());
    if bots_changed {
        crate::lifecycle::bots::refresh_container_config(session);
    }
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
        // A name too long for the file system was never created (an id from before the limit).
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidFilename
            ) =>
        {
            Ok(())
        }
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
        let target = Target::resolve(&session.ws.catalog, id)?;
        let current = target.state(session).await?;
        let env_path = session.ws.instance.env_file(id);
        if !current.is_set_up() && !env_path.exists() {
            continue;
        }
        printer.status("Removing", target.name.clone());
        if let Some((stacklet, rendered)) =
            teardown_env(session, &target, "`on_stop` and `on_destroy` hooks")
        {
            stop_and_forget(session, &stacklet, &rendered).await?;
        }
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
