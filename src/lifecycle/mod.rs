//! The lifecycle pipelines (`up`, `down`, `destroy`, `uninstall`) and what they share: a `Session`
//! holding the loaded workspace, the printer, the instance lock and a lazily connected Docker client.

pub mod all;
pub mod bots;
pub mod doctor;
pub mod down;
pub mod host;
pub mod native;
pub mod paths;
pub mod project;
pub mod routes;
pub mod start_page;
pub mod state;
pub mod target;
pub mod up;
pub mod update;
pub mod welcome;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::engine;
use crate::error::UserError;
use crate::history;
use crate::hooks::{self, HookContext, HookName, HookRun};
use crate::lock::InstanceLock;
use crate::output::Printer;
use crate::render::vars::lan_ip;
use crate::stacklet::Stacklet;
use crate::workspace::{BrokenWarnings, Workspace};

use crate::render::env::RenderedEnv;

pub struct Session {
    pub ws: Workspace,
    pub printer: Printer,
    pub lan_ip: String,
    /// The outcome of the first connection attempt, kept either way: an unreachable engine is
    /// asked once per command, not once per stacklet (each attempt may take its 2 s timeout).
    docker: Option<Result<engine::Connected, UserError>>,
    /// Compose project → state, read once per session with one engine call; dropped after every
    /// change (`invalidate`).
    states: Option<std::collections::BTreeMap<String, engine::ProjectState>>,
    /// Who asked, when not the local command line (the signed API's `X-Stack-Actor`); recorded
    /// with every history event of this session.
    pub actor: Option<String>,
    /// `up --regenerate-secrets`: generate missing secrets even for a set-up stacklet.
    pub regenerate_secrets: bool,
    /// Shared by [`Session::fork`]s: released when the last of them is dropped.
    _lock: Option<Arc<InstanceLock>>,
}

impl Session {
    /// A read-only session (no lock). `focus`: the stacklet the command is about, whose problem
    /// (if it is broken) the command reports itself rather than as a warning.
    pub fn open(printer: &Printer, focus: Option<&str>) -> Result<Self, UserError> {
        let broken = match focus {
            Some(id) => BrokenWarnings::Except(id),
            None => BrokenWarnings::All,
        };
        let ws = Workspace::load_with(printer, broken)?;
        Ok(Self::with_workspace(ws, printer))
    }

    /// A read-only session over an already loaded workspace (another instance than the
    /// process environment names, e.g. a restore drill's).
    pub fn with_workspace(ws: Workspace, printer: &Printer) -> Self {
        Self {
            ws,
            printer: printer.clone(),
            lan_ip: lan_ip(),
            docker: None,
            states: None,
            // `stack serve` runs each API call as a child `stack` and passes the caller's
            // `X-Stack-Actor` this way (docs/api.md).
            actor: std::env::var("STACK_ACTOR").ok().filter(|a| !a.is_empty()),
            regenerate_secrets: false,
            _lock: None,
        }
    }

    /// A session that changes state: holds the instance lock until dropped. With `wait`, a second
    /// command waits for the first (saying so); without, it fails naming the holder.
    pub fn open_locked(
        printer: &Printer,
        focus: Option<&str>,
        wait: bool,
    ) -> Result<Self, UserError> {
        let mut session = Self::open(printer, focus)?;
        session.ws.check_own_data_dir()?;
        let path = session.ws.instance.lock_file();
        let p = printer.clone();
        let lock = InstanceLock::acquire(&path, wait, |pid| {
            p.status(
                "Waiting",
                format!(
                    "for another `stack` command{} to finish (lock `{}`)",
                    pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
                    path.display()
                ),
            );
        })
        .map_err(|e| {
            UserError::wrap(e)
                .hint("wait for it to finish, or leave out `--no-wait` to queue behind it")
        })?;
        session._lock = Some(Arc::new(lock));
        Ok(session)
    }

    /// A session for one stacklet of a concurrent batch (`up all`): the same workspace, printer,
    /// Docker client and instance lock, its own state cache.
    pub fn fork(&self) -> Session {
        Session {
            ws: self.ws.clone(),
            printer: self.printer.clone(),
            lan_ip: self.lan_ip.clone(),
            docker: self.docker.clone(),
            states: None,
            actor: self.actor.clone(),
            regenerate_secrets: self.regenerate_secrets,
            _lock: self._lock.clone(),
        }
    }

    /// Re-read manifests and config (after a hook changed `stack.toml`).
    pub fn reload(&mut self) -> Result<(), UserError> {
        // The first load warned about broken stacklets already.
        self.ws = Workspace::load_with(&self.printer, BrokenWarnings::None)?;
        Ok(())
    }

    /// The Docker client, connected on first use.
    pub async fn docker(&mut self) -> Result<bollard::Docker, UserError> {
        Ok(self.engine().await?.docker)
    }

    /// The connected engine (client and the release its ping named), connected on first use.
    async fn engine(&mut self) -> Result<engine::Connected, UserError> {
        if let Some(outcome) = &self.docker {
            return outcome.clone();
        }
        let outcome = engine::connect_with_release().await.map_err(|e| {
            let hint = e.hint();
            UserError::wrap(e).maybe_hint(hint)
        });
        self.docker = Some(outcome.clone());
        outcome
    }

    /// The engine's release (`27.3.1`) for views: from the ping that connected when the engine
    /// named it there (Docker does), else asked of `/version`, which costs the engine a few
    /// milliseconds. `None` when the engine does not answer.
    pub async fn engine_release(&mut self) -> Option<String> {
        let engine = self.engine().await.ok()?;
        match engine.release {
            Some(release) => Some(release),
            None => engine.docker.version().await.ok()?.version,
        }
    }

    /// The state of compose project `name` (`Absent` when no container carries its label).
    pub async fn project_state(&mut self, name: &str) -> Result<engine::ProjectState, UserError> {
        if self.states.is_none() {
            let docker = self.docker().await?;
            let states = engine::all_project_states(&docker, &self.ws.namespace).await?;
            self.states = Some(states);
        }
        Ok(self
            .states
            .as_ref()
            .and_then(|s| s.get(name).cloned())
            .unwrap_or(engine::ProjectState::Absent))
    }

    /// Forget cached container states (after `up`, `down`, `destroy`).
    pub fn invalidate(&mut self) {
        self.states = None;
    }

    /// Append `event` to the instance's history (docs/history.md) with this session's actor. History
    /// never fails a command: an event that cannot be written is a warning. Events about ids that
    /// are not stacklets (`stack up nope`) are not recorded.
    pub fn record(&self, event: history::Event) {
        if self.ws.catalog.get(&event.stacklet).is_none() {
            return;
        }
        let event = event.actor(self.actor.clone());
        if let Err(why) = crate::notify::after(&self.ws, &self.lan_ip, &event) {
            self.printer.debug(format!("No family notification: {why}"));
        }
        if let Err(e) = history::append(&self.ws.instance, &event) {
            self.printer.warn(format!(
                "Cannot record the `{}` event in `{}`: {e}",
                event.action.as_str(),
                history::file(&self.ws.instance).display()
            ));
        }
    }

    /// The Docker client if it answers, without failing the command (for read-only views).
    pub async fn try_docker(&mut self) -> Option<bollard::Docker> {
        self.docker().await.ok()
    }

    pub fn hook_context(&self, stacklet: &Stacklet, rendered: &RenderedEnv) -> HookContext {
        // The runtime's own variables (`STACK_DATA_DIR`, …) are added where a hook's environment
        // is built, `HookContext::hook_env`, which owns their precedence.
        let env: BTreeMap<String, String> = rendered.entries.iter().cloned().collect();
        let users: Vec<serde_json::Value> = self
            .ws
            .users
            .users
            .iter()
            .map(|u| serde_json::to_value(u).unwrap_or_default())
            .collect();
        HookContext {
            stacklet_id: stacklet.id().to_string(),
            stacklet_dir: stacklet.dir.clone(),
            env,
            data_dir: self.ws.config.data_dir.clone(),
            domain: self.ws.config.core.domain.trim().to_string(),
            users: serde_json::Value::Array(users),
            config: serde_json::to_value(&self.ws.config.table).unwrap_or_default(),
        }
    }

    /// Run one hook if the stacklet has it. Returns whether it ran.
    pub async fn run_hook(
        &self,
        stacklet: &Stacklet,
        name: HookName,
        rendered: &RenderedEnv,
    ) -> anyhow::Result<bool> {
        let ctx = self.hook_context(stacklet, rendered);
        let host = Arc::new(self.host(stacklet.id()));
        match hooks::run_hook(name, ctx, host, self.printer.clone()).await {
            Ok(HookRun::NotPresent) => Ok(false),
            Ok(HookRun::Ran { .. }) => Ok(true),
            Err(hooks::HookError::Interrupted { stop, .. }) => {
                // Nothing after the hook ran, so a first `up` wrote no setup marker.
                let outcome = if self.ws.instance.is_set_up(stacklet.id()) {
                    String::new()
                } else {
                    "; nothing was marked set up".to_string()
                };
                Err(UserError::stopped(
                    format!(
                        "Interrupted ({stop}) during {name} of `{}`{outcome}",
                        stacklet.id()
                    ),
                    stop,
                )
                .into())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn host(&self, id: &str) -> host::Host {
        host::Host {
            instance: self.ws.instance.clone(),
            namespace: self.ws.namespace.clone(),
            id: id.to_string(),
            docker: self.docker.clone().and_then(Result::ok).map(|e| e.docker),
            runtime: tokio::runtime::Handle::current(),
        }
    }
}
