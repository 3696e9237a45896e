//! The shared external `stack` network: every stacklet's containers join it, so they reach each
//! other by container name. `stack init` and the first `up` create it; `uninstall` removes it.
//! It carries `io.stack.network=stack` and no compose project label, so no project's `down` ever
//! removes it.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::NetworkCreateRequest;

use super::EngineError;
use super::error::{is_conflict, is_not_found};
use crate::output::Printer;

pub const STACK_NETWORK: &str = "stack";

/// Engines before API 1.44 only refuse a duplicate network name when `CheckDuplicate` is sent, and
/// bollard 0.21's request type no longer has that field: two concurrent creates would make two
/// networks of one name. Inspect-then-create is therefore serialised within the process (the
/// instance lock serialises `stack` processes).
pub(crate) static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Create the `stack` network when it is missing. Returns whether it was created.
pub async fn ensure_stack_network(docker: &Docker) -> Result<bool, EngineError> {
    let _guard = CREATING.lock().await;
    create_stack_network_locked(docker).await
}

/// As `ensure_stack_network`, for a caller that already holds `CREATING`.
pub(crate) async fn create_stack_network_locked(docker: &Docker) -> Result<bool, EngineError> {
    match docker
        .inspect_network(
            STACK_NETWORK,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
    {
        Ok(_) => return Ok(false),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(EngineError::api("inspect network `stack`", e)),
    }
    let request = NetworkCreateRequest {
        name: STACK_NETWORK.to_string(),
        driver: Some("bridge".into()),
        labels: Some(HashMap::from([(
            "io.stack.network".to_string(),
            STACK_NETWORK.to_string(),
        )])),
        ..Default::default()
    };
    match docker.create_network(request).await {
        Ok(_) => Ok(true),
        Err(e) if is_conflict(&e) => Ok(false),
        Err(e) => Err(EngineError::api("create network `stack`", e)),
    }
}

/// Remove the `stack` network (uninstall). A network that still has containers attached (kept
/// stacklets) stays, with a warning.
pub async fn remove_stack_network(docker: &Docker, printer: &Printer) -> Result<(), EngineError> {
    let info = match docker
        .inspect_network(
            STACK_NETWORK,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
    {
        Ok(info) => info,
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(EngineError::api("inspect network `stack`", e)),
    };
    let attached = info.containers.map(|c| c.len()).unwrap_or(0);
    if attached > 0 {
        printer.warn(format!(
            "Network `{STACK_NETWORK}` still has {attached} container(s) attached; it stays"
        ));
        return Ok(());
    }
    printer.status("Removing", format!("network {STACK_NETWORK}"));
    match docker.remove_network(STACK_NETWORK).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(EngineError::api("remove network `stack`", e)),
    }
}
