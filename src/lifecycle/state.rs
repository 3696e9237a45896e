//! Derived state (contract §4): available / running / stopped from Docker and the setup marker,
//! refined by health into starting / failing / degraded. Never read from a registry file.

use crate::engine::ProjectState;
use crate::error::UserError;
use crate::lifecycle::Session;
use crate::render::env::{RenderedEnv, render_text};
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
    let base = containers_and_marker(session, stacklet).await?;
    crate::lifecycle::native::refine(session, stacklet, base).await
}

async fn containers_and_marker(
    session: &mut Session,
    stacklet: &Stacklet,
) -> Result<State, UserError> {
    let marker = session.ws.instance.is_set_up(stacklet.id());
    if stacklet.compose_file().is_some() {
        if session.try_docker().await.is_none() {
            return Ok(if marker {
                State::Unknown
            } else {
                State::Available
            });
        }
        let state = session
            .project_state(&crate::lifecycle::down::project_name(stacklet.id()))
            .await?;
        return Ok(match state {
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

/// `[health]` checks with their templates rendered.
pub fn render_checks(
    stacklet: &Stacklet,
    rendered: &RenderedEnv,
) -> Result<Vec<HealthCheck>, UserError> {
    stacklet
        .manifest
        .health
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.url = render_text(stacklet, "[health].url", &c.url, &rendered.vars)?;
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
