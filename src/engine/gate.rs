//! The Docker side of `update`'s health gate: every running container of the project that has a
//! healthcheck must report `healthy`. One that turns `unhealthy` or stops fails the gate at once,
//! naming it; one still `starting` at the deadline fails it too.

use std::time::{Duration, Instant};

use bollard::Docker;

use super::EngineError;
use crate::compose::model::Project;
use crate::namespace::Namespace;

const POLL: Duration = Duration::from_millis(500);

pub async fn wait_containers_healthy(
    docker: &Docker,
    ns: &Namespace,
    project: &Project,
    timeout: Duration,
) -> Result<(), EngineError> {
    let deadline = Instant::now() + timeout;
    loop {
        let containers = super::ps(docker, ns, &project.name).await?;
        let mut waiting = None;
        for c in &containers {
            // One-shot services (`restart: no` jobs that exited 0) are not part of the gate.
            if c.state == "exited" && c.exit_code == 0 && c.health.is_none() {
                continue;
            }
            let failed = match c.health.as_deref() {
                Some("unhealthy") => Some("its healthcheck reports unhealthy".to_string()),
                _ if c.state != "running" => Some(format!("it is {}", c.state)),
                Some("starting") => {
                    waiting = Some(c.name.clone());
                    None
                }
                _ => None,
            };
            if let Some(reason) = failed {
                return Err(EngineError::Unhealthy {
                    container: c.name.clone(),
                    reason,
                });
            }
        }
        let Some(container) = waiting else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            return Err(EngineError::Unhealthy {
                container,
                reason: format!(
                    "its healthcheck still says starting after {}s",
                    timeout.as_secs()
                ),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}
