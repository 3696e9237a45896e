//! `stack up <id>`: render, first-run hooks, `.env`, images, `on_start`, converge, health,
//! marker, routes, welcome screen, in that order (docs/architecture.md, "How data flows").
//!
//! Invariants: the setup marker is written only after the first healthy start and a successful
//! `on_install_success`, so an interrupted first run starts over at `on_configure`; images are
//! ensured before any container is touched; every file written on the way is written atomically.

use std::time::Instant;

use crate::compose::model::Project;
use crate::engine;
use crate::error::UserError;
use crate::health;
use crate::hooks::HookName;
use crate::lifecycle::project::load_project;
use crate::lifecycle::state::{self, State};
use crate::lifecycle::{Session, welcome};
use crate::render::env::{self, RenderedEnv, SecretPolicy};
use crate::render::envfile;
use crate::stacklet::Stacklet;

/// How long `update` waits for Docker healthchecks to pass after `[health]` did.
const HEALTH_GATE: std::time::Duration = std::time::Duration::from_secs(120);

pub async fn up(session: &mut Session, id: &str) -> anyhow::Result<()> {
    up_with(session, id, &UpWith::default()).await.map(|_| ())
}

/// What `update` (and its rollback) changes about an `up`.
#[derive(Clone, Debug, Default)]
pub struct UpWith {
    /// Run these recorded images instead of the instance's records, and do not record anything
    /// (the caller saves them once the health gate passed).
    pub pins: Option<crate::pins::Pins>,
    /// No welcome screen: the caller brings the stacklet up as a step of its own work (a backup
    /// starting it again, a restore that restarts it after loading a dump, a drill) and reports
    /// the outcome itself.
    pub no_welcome: bool,
}

/// `up` without the welcome screen ([`UpWith::no_welcome`]).
pub async fn up_quietly(session: &mut Session, id: &str) -> anyhow::Result<()> {
    let options = UpWith {
        no_welcome: true,
        ..UpWith::default()
    };
    up_with(session, id, &options).await.map(|_| ())
}

/// `up` with `options`; returns the images the services now run.
// Long by design: the pipeline reads top to bottom in the order docs/architecture.md describes
// ("How data flows through `stack up <id>`"); every step is one call with its reason beside it.
pub async fn up_with(
    session: &mut Session,
    id: &str,
    options: &UpWith,
) -> anyhow::Result<crate::pins::Pins> {
    let started = Instant::now();
    let printer = session.printer.clone();
    let stacklet = session.ws.catalog.require(id)?.clone();
    check_requires(session, &stacklet).await?;

    let first_run = !session.ws.instance.is_set_up(id);
    printer.status(
        "Rendering",
        format!("{} environment", stacklet.manifest.name),
    );
    let policy = if session.regenerate_secrets {
        SecretPolicy::Regenerate
    } else {
        SecretPolicy::Guarded
    };
    let mut rendered = env::render_with(&session.ws, &stacklet, &session.lan_ip, policy)?;
    // Everything that can be checked is checked before any hook or container runs (issue 10
    // §2): the compose file, the health checks and what the engine could never start.
    let mut project = validate(session, &stacklet, &rendered)?;

    if first_run {
        early_port_check(session, &stacklet, &rendered).await?;
        if session
            .run_hook(&stacklet, HookName::OnConfigure, &rendered)
            .await?
        {
            // on_configure may have written stack.toml or secrets: render again from disk.
            session.reload()?;
            rendered = env::render_with(&session.ws, &stacklet, &session.lan_ip, policy)?;
            project = validate(session, &stacklet, &rendered)?;
        }
        if session
            .run_hook(&stacklet, HookName::OnInstall, &rendered)
            .await?
        {
            // What on_install wrote (an `env_file`, a build context) is read as it now is.
            project = validate(session, &stacklet, &rendered)?;
        }
    }

    let env_path = session.ws.instance.env_file(id);
    envfile::write(&env_path, &rendered.entries)
        .map_err(|e| UserError::new(format!("Cannot write `{}`", env_path.display())).because(e))?;
    // The bot runner's manifest, beside the `.env` it reads (docs/bots.md).
    crate::bots::refresh(&session.ws, &session.printer, &stacklet, false)?;
    if id == crate::lifecycle::bots::CORE {
        // Core's bot-runner container reads its configuration from a file written here.
        crate::lifecycle::bots::prepare_core(session, project.as_ref())?;
    }

    let images = match &project {
        Some(project) => {
            let docker = session.docker().await?;
            // A host port held by another instance or program: fail before anything changes.
            engine::check_ports(&docker, &session.ws.namespace, project).await?;
            let mut pins = match &options.pins {
                Some(pins) => pins.clone(),
                None => crate::pins::load(&session.ws.instance, id)?,
            };
            let opts = engine::ImageOptions {
                rebuild: stacklet.manifest.build,
                pins: pins.clone(),
            };
            let images = engine::ensure_images(&docker, project, &opts, &printer).await?;
            // Contract §9: `up` records what it runs the first time it sees a service (or a new
            // reference); `update` passes its own records and saves them after the health gate.
            let resolved: crate::pins::Pins = images
                .iter()
                .map(|(service, image)| (service.clone(), image.pin.clone()))
                .collect();
            if options.pins.is_none() && crate::pins::merge_new(&mut pins, &resolved) {
                pins.retain(|service, _| resolved.contains_key(service));
                crate::pins::save(&session.ws.instance, id, &pins)?;
            }
            Some(images)
        }
        None => None,
    };

    session
        .run_hook(&stacklet, HookName::OnStart, &rendered)
        .await?;
    // Native services (host stacklets) after `on_start`, which validates the config, and before
    // the containers that may use them. See docs/host-stacklets.md.
    crate::lifecycle::native::start(session, &stacklet, &rendered).await?;

    if let (Some(project), Some(images)) = (&project, &images) {
        let docker = session.docker().await?;
        let opts = engine::UpOptions {
            remove_orphans: true,
            ..Default::default()
        };
        engine::converge(
            &docker,
            &session.ws.namespace,
            project,
            images,
            &opts,
            &printer,
        )
        .await?;
    }

    wait_healthy(session, &stacklet, &rendered, project.as_ref()).await?;
    if options.pins.is_some()
        && let Some(project) = &project
    {
        // `update`'s health gate also holds the containers' own Docker healthchecks.
        let docker = session.docker().await?;
        engine::wait_containers_healthy(&docker, &session.ws.namespace, project, HEALTH_GATE)
            .await?;
    }

    if first_run {
        session
            .run_hook(&stacklet, HookName::OnInstallSuccess, &rendered)
            .await?;
        session.ws.instance.mark_set_up(id).map_err(|e| {
            let marker = session.ws.instance.marker_file(id);
            UserError::new(format!("Cannot write `{}`", marker.display())).because(e)
        })?;
    }
    session
        .run_hook(&stacklet, HookName::OnStartReady, &rendered)
        .await?;

    session.invalidate();

    // Domain mode: reassemble the Caddyfile from every set-up stacklet and reload Caddy.
    crate::lifecycle::routes::refresh(session).await?;
    // A stacklet with a bot (or `messages`, whose Synapse they use) is now set up: the running
    // bot-runner container picks up its new configuration. Core wrote its own above.
    if id != crate::lifecycle::bots::CORE
        && (id == crate::lifecycle::bots::MESSAGES || crate::bots::bot_file(&stacklet).is_some())
    {
        crate::lifecycle::bots::refresh_container_config(session);
    }

    let elapsed = started.elapsed();
    if !options.no_welcome {
        welcome::show(&printer, &session.ws, &stacklet, &rendered, elapsed)?;
    }
    Ok(images
        .map(|images| {
            images
                .into_iter()
                .map(|(service, image)| (service, image.pin))
                .collect()
        })
        .unwrap_or_default())
}

/// A taken host port found before the first-run hooks do their work. The authoritative check
/// runs again before any container changes; this one is skipped when the compose file cannot be
/// read yet (an `env_file` the first run creates, say), and its warnings are left to that load.
async fn early_port_check(
    session: &mut Session,
    stacklet: &Stacklet,
    rendered: &RenderedEnv,
) -> anyhow::Result<()> {
    let (quiet, _) = crate::output::Printer::capturing(crate::output::Verbosity::Quiet);
    let Ok(Some(project)) = load_project(&session.ws, stacklet, rendered, &quiet) else {
        return Ok(());
    };
    let docker = session.docker().await?;
    engine::check_ports(&docker, &session.ws.namespace, &project).await?;
    Ok(())
}

/// The checks of `up` that need no hook and no container: the compose file (interpolated from
/// the rendered env), the rendered health checks, and env values no container could start with.
fn validate(
    session: &Session,
    stacklet: &Stacklet,
    rendered: &RenderedEnv,
) -> Result<Option<Project>, UserError> {
    let project = load_project(&session.ws, stacklet, rendered, &session.printer)?;
    state::render_checks(&session.ws.namespace, stacklet, rendered)?;
    if let Some(project) = &project {
        engine::check_limits(project)
            .map_err(|e| UserError::new(e.to_string()).maybe_hint(e.hint()))?;
    }
    Ok(project)
}

/// Every `requires` entry must be set up (running or stopped): an available one fails, a stopped
/// one is a warning.
async fn check_requires(session: &mut Session, stacklet: &Stacklet) -> anyhow::Result<()> {
    for dep in &stacklet.manifest.requires {
        let dep_stacklet = match session.ws.catalog.require(dep) {
            Ok(s) => s.clone(),
            Err(problem) => {
                return Err(anyhow::Error::new(problem).context(format!(
                    "`{}` requires `{dep}`, which cannot be used",
                    stacklet.id()
                )));
            }
        };
        match state::of(session, &dep_stacklet).await? {
            State::Available => {
                return Err(UserError::new(format!(
                    "`{}` requires `{dep}`, which is not set up",
                    stacklet.id()
                ))
                .hint(format!("stack up {dep}"))
                .into());
            }
            State::Stopped => session.printer.warn(format!(
                "`{}` requires `{dep}`, which is stopped; start it with `stack up {dep}`",
                stacklet.id()
            )),
            _ => {}
        }
    }
    Ok(())
}

async fn wait_healthy(
    session: &mut Session,
    stacklet: &Stacklet,
    rendered: &RenderedEnv,
    project: Option<&Project>,
) -> anyhow::Result<()> {
    if stacklet.manifest.health.is_empty() {
        return Ok(());
    }
    let checks = state::render_checks(&session.ws.namespace, stacklet, rendered)?;
    session
        .printer
        .status("Waiting", format!("{} (health)", stacklet.manifest.name));
    // Race the health checks against a crash of one of the containers (issue 10 §7): a
    // container that exits with an error or keeps restarting can never become healthy.
    let docker = match project {
        Some(_) => session.docker().await.ok(),
        None => None,
    };
    let ns = session.ws.namespace.clone();
    let crash_watch = async {
        match (&docker, project) {
            (Some(docker), Some(project)) => {
                engine::watch_for_crash(docker, &ns, &project.name).await
            }
            _ => std::future::pending().await,
        }
    };
    let health = health::wait_healthy(&checks, &session.printer, |_, _| {});
    let outcome = tokio::select! {
        result = health => result,
        crash = crash_watch => {
            // A failing watcher (the engine stopped answering) leaves the health wait to decide.
            match crash {
                Ok(crash) => {
                    let err = crash_error(stacklet, &crash, docker.as_ref(), &ns, project).await;
                    return Err(err.into());
                }
                Err(_) => health::wait_healthy(&checks, &session.printer, |_, _| {}).await,
            }
        }
    };
    if let Err(failure) = outcome {
        // A check that can never pass failed at once: saying "within 120s" would be false.
        let mut err = UserError::new(if failure.never_passes {
            format!(
                "`{}` cannot become healthy: check `{}` can never pass: {}",
                stacklet.id(),
                failure.name,
                failure.observed
            )
        } else {
            format!(
                "`{}` did not become healthy within {}s: check `{}` ({}) last saw {}",
                stacklet.id(),
                failure.timeout_secs,
                failure.name,
                failure.url,
                failure.observed
            )
        });
        if let Some(hint) = &failure.hint {
            err = err.hint(hint.clone());
        }
        // A container that logged nothing gets no (empty) excerpt.
        if let Some(project) = project
            && let Ok(docker) = session.docker().await
            && let Some((container, lines)) =
                engine::failing_logs(&docker, &session.ws.namespace, &project.name, 20)
                    .await
                    .filter(|(_, lines)| !lines.is_empty())
        {
            err = err.hint(format!(
                "last lines of `{container}`:\n{}",
                lines
                    .iter()
                    .map(|l| format!("    {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        return Err(err
            .hint(format!(
                "containers are left running for inspection: `stack logs {}`",
                stacklet.id()
            ))
            .into());
    }
    Ok(())
}

/// `up`'s error for a crashed container: which one, the exit code, the log tail; the containers
/// are left as they are for inspection.
async fn crash_error(
    stacklet: &Stacklet,
    crash: &engine::Crash,
    docker: Option<&bollard::Docker>,
    ns: &crate::namespace::Namespace,
    project: Option<&Project>,
) -> UserError {
    let mut err = UserError::new(format!(
        "`{}` cannot become healthy: container `{}` (service `{}`) {}",
        stacklet.id(),
        crash.container,
        crash.service,
        crash.reason
    ));
    if let (Some(docker), Some(project)) = (docker, project) {
        let lines = engine::log_tail(docker, ns, &project.name, &crash.service, 20).await;
        if !lines.is_empty() {
            err = err.hint(format!(
                "last lines of `{}`:\n{}",
                crash.container,
                lines
                    .iter()
                    .map(|l| format!("    {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
    }
    err.hint(format!(
        "containers are left as they are for inspection: `stack logs {}`, `stack ps {}`",
        stacklet.id(),
        stacklet.id()
    ))
}
