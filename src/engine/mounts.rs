//! One container's run state and bind mounts, for callers that must reach a host file from inside
//! a running container (the Caddyfile that `caddy validate` reads in `stack-core-caddy`).
//!
//! Looked up by container name rather than project label because the caller asks about one
//! well-known container; a missing container is `None`, not an error.

use std::path::PathBuf;

use bollard::Docker;

use super::EngineError;
use super::converge::inspect;

/// A bind mount: host `source`, container `destination`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindMount {
    pub source: PathBuf,
    pub destination: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerMounts {
    /// Running and not in a restart loop: an exec can reach it.
    pub running: bool,
    pub binds: Vec<BindMount>,
}

/// `None` when no container is named `name`.
pub async fn container_mounts(
    docker: &Docker,
    name: &str,
) -> Result<Option<ContainerMounts>, EngineError> {
    let Some(info) = inspect(docker, name).await? else {
        return Ok(None);
    };
    let running = info
        .state
        .as_ref()
        .is_some_and(|s| s.running == Some(true) && s.restarting != Some(true));
    let binds = info
        .mounts
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.typ.as_deref() == Some("bind"))
        .filter_map(|m| {
            Some(BindMount {
                source: PathBuf::from(m.source?),
                destination: m.destination?,
            })
        })
        .collect();
    Ok(Some(ContainerMounts { running, binds }))
}
