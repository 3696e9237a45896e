//! Noticing a crash loop while `up` waits for health (issue 10 §7): a container that exited with
//! an error and will not be restarted, or one the engine keeps restarting, can never become
//! healthy, so waiting out the health timeout only hides the reason. The watcher fails as soon as
//! it sees either, with the exit code; the caller adds the log tail.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::Docker;

use super::EngineError;
use super::inspect::{ContainerInfo, ps};
use crate::namespace::Namespace;

/// Restarts seen during one wait that make a crash loop (the engine's backoff makes three take
/// about a second).
pub const RESTARTS: i64 = 3;
const POLL: Duration = Duration::from_millis(500);
/// How long to look for a crash-looping container's exit code (its backoff after three restarts
/// is close to a second, so 3 s sees it between two restarts).
const EXIT_CODE_LOOKS: u32 = 30;
const EXIT_CODE_POLL: Duration = Duration::from_millis(100);

/// Why a container can never become healthy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crash {
    pub container: String,
    pub service: String,
    /// "exited with code 3", "restarted 3 times, last exit code 1".
    pub reason: String,
    /// Caught running again between two restarts: its exit code then reads 0, not the last one.
    pub running: bool,
}

/// The first crashed container of `containers`; `baseline` holds each container's restart count
/// when the wait began, so restarts from before this `up` do not count.
pub fn crash_of(containers: &[ContainerInfo], baseline: &BTreeMap<String, i64>) -> Option<Crash> {
    containers.iter().find_map(|c| {
        let restarts = c.restart_count - baseline.get(&c.id).copied().unwrap_or(0);
        // "exited" (not "restarting") means the restart policy gave up or there is none.
        let reason = if matches!(c.state.as_str(), "exited" | "dead") && c.exit_code != 0 {
            format!("exited with code {}", c.exit_code)
        } else if restarts >= RESTARTS && c.state == "running" {
            format!("restarted {restarts} times while `stack` waited")
        } else if restarts >= RESTARTS {
            format!(
                "restarted {restarts} times while `stack` waited (last exit code {})",
                c.exit_code
            )
        } else {
            return None;
        };
        Some(Crash {
            container: c.name.clone(),
            service: c.service.clone(),
            reason,
            running: c.state == "running",
        })
    })
}

/// Watch project `project` until one of its containers crashes; returns that crash (it never
/// returns otherwise, so race it against the health wait).
pub async fn watch_for_crash(
    docker: &Docker,
    ns: &Namespace,
    project: &str,
) -> Result<Crash, EngineError> {
    let baseline: BTreeMap<String, i64> = ps(docker, ns, project)
        .await?
        .into_iter()
        .map(|c| (c.id, c.restart_count))
        .collect();
    loop {
        let containers = ps(docker, ns, project).await?;
        if let Some(crash) = crash_of(&containers, &baseline) {
            if crash.running {
                // Between two restarts the engine reports the exit code; look again briefly.
                for _ in 0..EXIT_CODE_LOOKS {
                    tokio::time::sleep(EXIT_CODE_POLL).await;
                    let again = ps(docker, ns, project).await?;
                    if let Some(between) = crash_of(&again, &baseline).filter(|c| !c.running) {
                        return Ok(between);
                    }
                }
            }
            return Ok(crash);
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, state: &str, exit_code: i64, restart_count: i64) -> ContainerInfo {
        ContainerInfo {
            service: id.into(),
            name: format!("stack-x-{id}"),
            id: id.into(),
            image: String::new(),
            state: state.into(),
            health: None,
            exit_code,
            restart_count,
            started_at: Some("2026-01-01T00:00:00Z".into()),
            ports: vec![],
        }
    }

    #[test]
    fn an_error_exit_without_restart_is_a_crash_and_a_clean_one_is_not() {
        let none = BTreeMap::new();
        assert_eq!(crash_of(&[c("job", "exited", 0, 0)], &none), None);
        let crash = crash_of(&[c("app", "running", 0, 0), c("db", "exited", 3, 0)], &none);
        assert_eq!(crash.unwrap().reason, "exited with code 3");
    }

    #[test]
    fn restarts_count_from_the_baseline() {
        let base = BTreeMap::from([("app".to_string(), 5)]);
        assert_eq!(crash_of(&[c("app", "running", 1, 7)], &base), None);
        let crash = crash_of(&[c("app", "restarting", 1, 8)], &base).unwrap();
        assert_eq!(
            crash.reason,
            "restarted 3 times while `stack` waited (last exit code 1)"
        );
        let caught_running = crash_of(&[c("app", "running", 0, 8)], &base).unwrap();
        assert!(caught_running.running);
        assert_eq!(
            caught_running.reason,
            "restarted 3 times while `stack` waited"
        );
    }
}
