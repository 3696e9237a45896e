//! Derived state: available / running / stopped from Docker and the setup marker,
//! refined by health into starting / failing / degraded. Never read from a registry file.

use crate::engine::ProjectState;
use crate::error::UserError;
use crate::lifecycle::{Session, native};
use crate::namespace::Namespace;
use crate::render::env::{RenderedEnv, render_text};
use crate::services::{self, ServiceState};
use crate::stacklet::Stacklet;
use crate::stacklet::manifest::HealthCheck;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    Available,
    Running,
    Stopped,
    /// Containers are starting (health `starting`).
    Starting,
    /// A container is unhealthy or exited with an error.
    Failing(String),
    /// Running, but a `[health]` check does not pass.
    Degraded(String),
    /// Docker could not be asked.
    Unknown,
}

impl State {
    pub fn label(&self) -> &'static str {
        match self {
            State::Available => "available",
            State::Running => "running",
            State::Stopped => "stopped",
            State::Starting => "starting",
            State::Failing(_) => "failing",
            State::Degraded(_) => "degraded",
            State::Unknown => "unknown",
        }
    }

    pub fn detail(&self) -> Option<&str> {
        match self {
            State::Failing(d) | State::Degraded(d) => Some(d),
            _ => None,
        }
    }

    /// Running or stopped: containers or the marker exist.
    pub fn is_set_up(&self) -> bool {
        !matches!(self, State::Available)
    }
}

/// The state of one stacklet from Docker, the marker and its native services' checks (no
/// `[health]` probes).
pub async fn of(session: &mut Session, stacklet: &Stacklet) -> Result<State, UserError> {
    let base =
        containers_and_marker(session, stacklet.id(), stacklet.compose_file().is_some()).await?;
    refine(session, stacklet, base).await
}

/// The state from Docker's labels and the marker alone, for a stacklet whose manifest does not
/// parse (nothing else about it can be known).
pub async fn of_id(session: &mut Session, id: &str) -> Result<State, UserError> {
    containers_and_marker(session, id, true).await
}

async fn containers_and_marker(
    session: &mut Session,
    id: &str,
    has_compose_file: bool,
) -> Result<State, UserError> {
    let marker = session.ws.instance.is_set_up(id);
    if has_compose_file {
        if session.try_docker().await.is_none() {
            return Ok(if marker {
                State::Unknown
            } else {
                State::Available
            });
        }
        let state = session
            .project_state(&session.ws.namespace.project(id))
            .await?;
        return Ok(match state {
            // Set up, no containers, and nothing this configuration would run (core in port
            // mode, every service behind a profile that is off): nothing is missing.
            ProjectState::Absent if marker && nothing_to_run(session, id) => State::Running,
            ProjectState::Absent if marker => State::Stopped,
            ProjectState::Absent => State::Available,
            ProjectState::Running => State::Running,
            ProjectState::Stopped => State::Stopped,
            ProjectState::Starting { .. } => State::Starting,
            ProjectState::Failing { services, reason } => {
                State::Failing(format!("{}: {reason}", services.join(", ")))
            }
            ProjectState::Partial { stopped, .. } => {
                State::Failing(format!("not running: {}", stopped.join(", ")))
            }
        });
    }
    Ok(if marker {
        State::Running
    } else {
        State::Available
    })
}

/// Whether the stacklet's compose file runs no service in this configuration (all behind
/// profiles that are off). Asked only for a set-up stacklet without containers, so `list` stays
/// one engine call in the common case. A file that does not load counts as having services.
fn nothing_to_run(session: &Session, id: &str) -> bool {
    let ws = &session.ws;
    let Some(stacklet) = ws.catalog.get(id) else {
        return false;
    };
    let Ok(rendered) = crate::render::env::render(ws, stacklet, &session.lan_ip) else {
        return false;
    };
    let (printer, _) = crate::output::Printer::capturing(crate::output::Verbosity::Quiet);
    matches!(
        super::project::load_project(ws, stacklet, &rendered, &printer),
        Ok(Some(project)) if project.services.is_empty()
    )
}

/// Refine the container/marker state with the service checks: a host stacklet that is
/// set up is running when every check passes and stopped otherwise; one that also has containers
/// is running only when both hold, degraded when its containers run but a service does not answer.
/// Services this runtime started count as set up even before the marker exists (an interrupted
/// first run), so `down` and `destroy` still reach them.
pub async fn refine(
    session: &Session,
    stacklet: &Stacklet,
    base: State,
) -> Result<State, UserError> {
    if stacklet.manifest.services.is_empty() {
        return Ok(base);
    }
    let ours = !services::started(&session.ws.instance, stacklet.id()).is_empty();
    if base == State::Available && !ours {
        return Ok(State::Available);
    }
    let states = native::states(session, stacklet).await?;
    let containers = stacklet.compose_file().is_some();
    Ok(combine(
        base,
        containers,
        states.iter().find(|s| !s.is_up()),
    ))
}

/// The rule of [`refine`] once the services were probed: `down` is the first that does not answer.
fn combine(base: State, containers: bool, down: Option<&ServiceState>) -> State {
    match (base, down) {
        // Not marked set up, but services remembered as started: an interrupted first run.
        (State::Available, _) => State::Stopped,
        (State::Running, None) => State::Running,
        (State::Running, Some(s)) if containers => {
            State::Degraded(format!("service {}: {}", s.name, s.observed))
        }
        (State::Running, Some(_)) => State::Stopped,
        (other, _) => other,
    }
}

/// `[health]` checks with their templates rendered, and URLs on this machine's declared ports
/// moved by the instance's port offset.
pub fn render_checks(
    ns: &Namespace,
    stacklet: &Stacklet,
    rendered: &RenderedEnv,
) -> Result<Vec<HealthCheck>, UserError> {
    let declared = stacklet.manifest.declared_ports();
    stacklet
        .manifest
        .health
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.url = ns.local_url(
                &render_text(stacklet, "[health].url", &c.url, &rendered.vars)?,
                &declared,
            );
            for (name, value) in &mut c.headers {
                *value = render_text(
                    stacklet,
                    &format!("[health].headers.{name}"),
                    value,
                    &rendered.vars,
                )?;
            }
            Ok(c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down(name: &str) -> ServiceState {
        ServiceState {
            key: name.to_lowercase(),
            name: name.to_string(),
            url: "http://127.0.0.1:1/".to_string(),
            state: "down",
            observed: "connection refused".to_string(),
            started_by_stack: false,
        }
    }

    #[test]
    fn host_only_is_running_when_every_service_answers() {
        assert_eq!(combine(State::Running, false, None), State::Running);
        assert_eq!(
            combine(State::Running, false, Some(&down("oMLX"))),
            State::Stopped
        );
        assert_eq!(combine(State::Available, false, None), State::Stopped);
    }

    #[test]
    fn with_containers_both_must_hold() {
        assert_eq!(combine(State::Running, true, None), State::Running);
        assert_eq!(
            combine(State::Running, true, Some(&down("oMLX"))),
            State::Degraded("service oMLX: connection refused".to_string())
        );
        assert_eq!(
            combine(State::Stopped, true, Some(&down("oMLX"))),
            State::Stopped
        );
        assert_eq!(combine(State::Starting, true, None), State::Starting);
    }
}
