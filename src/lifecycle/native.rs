//! Where the lifecycle meets native services (`crate::services`): start them on `up`, stop the
//! ones this runtime started on `down`/`destroy`, and probe them for the derived state
//! (`state::of` folds the probes in).
//!
//! Stacklets without `[services.*]` pass through every function here untouched, so the pipelines
//! call these unconditionally.

use crate::error::UserError;
use crate::lifecycle::Session;
use crate::render::env::RenderedEnv;
use crate::render::vars;
use crate::secrets::Secrets;
use crate::services::{self, Service, ServiceError, ServiceState};
use crate::stacklet::Stacklet;

fn user_error(e: ServiceError) -> UserError {
    let hint = e.hint();
    UserError::wrap(e).maybe_hint(hint)
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
    let list = services::rendered(stacklet, &session.ws.namespace, &rendered.vars)?;
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
    let list = services::rendered(stacklet, &session.ws.namespace, &rendered.vars)?;
    let ctx = session.hook_context(stacklet, rendered);
    services::stop_started(&session.ws.instance, &list, &ctx, &session.printer)
        .await
        .map_err(user_error)?;
    Ok(())
}

/// The services with `check_url` rendered, for read-only views: the template variables come from
/// the secrets as they are (nothing is generated just to look).
fn rendered_for_view(session: &Session, stacklet: &Stacklet) -> Result<Vec<Service>, UserError> {
    let secrets = Secrets::load(&session.ws.instance.secrets_file())?;
    let vars = vars::variables(&session.ws, stacklet.id(), secrets.all(), &session.lan_ip);
    services::rendered(stacklet, &session.ws.namespace, &vars)
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
