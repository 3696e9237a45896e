//! Waiting for a dependency's `depends_on` condition before its dependent starts.
//!
//! The engine has no "wait until healthy" call, so the container is inspected again and again
//! (`poll_until`'s backoff).
//! Failing fast matters as much as waiting: an unhealthy or exited dependency, or one without a
//! healthcheck when `service_healthy` is asked for, is an error at once with the reason (and the
//! last healthcheck output), not a timeout minutes later.

use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerStateStatusEnum, HealthStatusEnum};
use bollard::query_parameters::InspectContainerOptions;

use super::EngineError;
use crate::compose::model::Condition;
use crate::poll::poll_until;

/// Waits for `container` (of service `dependency`) to satisfy `condition`. On failure, the
/// returned `Err` is the reason, phrased to follow "dependency `x` …".
pub async fn condition(
    docker: &Docker,
    container: &str,
    condition: Condition,
    timeout: Duration,
) -> Result<(), String> {
    let reached = poll_until(timeout, async |_| {
        match check(docker, container, condition).await {
            Ok(true) => Some(Ok(())),
            Ok(false) => None,
            Err(reason) => Some(Err(reason)),
        }
    })
    .await;
    reached.unwrap_or_else(|| {
        let what = match condition {
            Condition::ServiceStarted => "start",
            Condition::ServiceHealthy => "become healthy",
            Condition::ServiceCompletedSuccessfully => "complete",
        };
        Err(format!("did not {what} within {}s", timeout.as_secs()))
    })
}

/// One look at `container`: `Ok(true)` when `condition` holds, `Ok(false)` when it may still come
/// to hold, `Err` with the reason when it never will.
async fn check(docker: &Docker, container: &str, condition: Condition) -> Result<bool, String> {
    let info = docker
        .inspect_container(container, None::<InspectContainerOptions>)
        .await
        .map_err(|e| format!("cannot be inspected: {e}"))?;
    let state = info.state.unwrap_or_default();
    let status = state.status.unwrap_or(ContainerStateStatusEnum::EMPTY);
    let exited = matches!(
        status,
        ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD
    );
    let exit_code = state.exit_code.unwrap_or_default();
    match condition {
        Condition::ServiceStarted => {
            if status != ContainerStateStatusEnum::CREATED {
                return Ok(true);
            }
        }
        Condition::ServiceCompletedSuccessfully => {
            if exited {
                return if exit_code == 0 {
                    Ok(true)
                } else {
                    Err(format!("exited with code {exit_code}"))
                };
            }
        }
        Condition::ServiceHealthy => {
            let has_check = info
                .config
                .as_ref()
                .and_then(|c| c.healthcheck.as_ref())
                .and_then(|h| h.test.as_ref())
                .is_some_and(|t| t.first().is_some_and(|f| f != "NONE"));
            let health = state.health.unwrap_or_default();
            match health.status {
                Some(HealthStatusEnum::HEALTHY) => return Ok(true),
                Some(HealthStatusEnum::UNHEALTHY) => {
                    let last = health
                        .log
                        .unwrap_or_default()
                        .into_iter()
                        .last()
                        .and_then(|r| r.output)
                        .map(|o| o.trim().to_string())
                        .filter(|o| !o.is_empty());
                    return Err(match last {
                        Some(out) => format!("is unhealthy (last check: {out})"),
                        None => "is unhealthy".to_string(),
                    });
                }
                _ if !has_check => {
                    return Err("has no healthcheck, so `condition: service_healthy` can never hold (add a `healthcheck` to it)".into());
                }
                _ => {}
            }
            if exited {
                return Err(format!(
                    "exited with code {exit_code} before becoming healthy"
                ));
            }
        }
    }
    Ok(false)
}

/// Maps a failed wait into the error for the dependent service.
pub fn failed(service: &str, dependency: &str, container: &str, reason: String) -> EngineError {
    EngineError::DependencyFailed {
        service: service.to_string(),
        dependency: dependency.to_string(),
        container: container.to_string(),
        reason,
    }
}
