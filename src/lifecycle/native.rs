//! Where the lifecycle meets native services (`crate::services`): start them on `up`, stop the
//! ones this runtime started on `down`/`destroy`, and fold their checks into the derived state.
//!
//! Stacklets without `[services.*]` pass through every function here untouched, so the pipelines
//! call these unconditionally.

use crate::error::UserError;
use crate::lifecycle::Session;
use crate::lifecycle::state::State;
use crate::render::env::RenderedEnv;
use crate::render::vars;
use crate::secrets::Secrets;
use crate::services::{self, Service, ServiceError, ServiceState};
use crate::stacklet::Stacklet;

fn user_error(e: ServiceError) -> UserError {
    let hint = e.hint();
    UserError::new(e.to_string()).maybe_hint(hint)
}

/// `up`: every service answers afterwards, or `up` fails naming the one that does not.
pub async fn start(
    session: &Session,
    stacklet: &Stacklet,
    rendered: &RenderedEnv,
) -> Result<(), UserError> {
    if stacklet.manifest.services.is_empty() {
        return Ok(());
    }
    let list = services::rendered(stacklet, &rendered.vars)?;
    let ctx = session.hook_context(stacklet, rendered);
    services::ensure_up(&session.ws.instance, &list, &ctx, &session.printer)
        .await
        .map_err(user_error)?;
    Ok(())
}

/// `down`/`destroy`: stop what this runtime started, and only that.
pub async fn stop(
    session: &Session,
    stacklet: &Stacklet,
    rendered: &RenderedEnv,
) -> Result<(), UserError> {
    let id = stacklet.id();
    if services::started(&session.ws.instance, id).is_empty() {
        return Ok(());
    }
    let list = services::rendered(stacklet, &rendered.vars)?;
    let ctx = session.hook_context(stacklet, rendered);
    services::stop_started(&session.ws.instance, &list, &ctx, &session.printer)
        .await
        .map_err(user_error)?;
    Ok(())
}

/// The services with `check_url` rendered, for read-only views: the template variables come from
/// the secrets as they are (nothing is generated just to look).
fn rendered_for_view(session: &Session, stacklet: &Stacklet) -> Result<Vec<Service>, UserError> {
    let secrets = Secrets::load(&session.ws.instance.secrets_file())
        .map_err(|e| UserError::new(e.to_string()))?;
    let vars = vars::variables(&session.ws, stacklet.id(), secrets.all(), &session.lan_ip);
    services::rendered(stacklet, &vars)
}

/// One probe of each service (empty for stacklets without services).
pub async fn states(
    session: &Session,
    stacklet: &Stacklet,
) -> Result<Vec<ServiceState>, UserError> {
    if stacklet.manifest.services.is_empty() {
        return Ok(Vec::new());
    }
    let list = rendered_for_view(session, stacklet)?;
    Ok(services::states(&session.ws.instance, stacklet.id(), &list).await)
}

/// Refine the container/marker state with the service checks (contract §4): a host stacklet that is
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
    let states = states(session, stacklet).await?;
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
