//! Reading a project's state from the engine, by label: `project_state` (one word for `stack
//! status`) and `ps` (per container: service, state, health, ports — as data).
//!
//! Health is read from inspect, not from the list call: API 1.41's container summary has no
//! health field (only the human `Status` text).

use std::collections::BTreeMap;

use bollard::Docker;
use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary, HealthStatusEnum,
};
use futures_util::future::join_all;

use super::converge::inspect;
use super::lifecycle::{own_containers, summary_label, summary_labels, summary_name};
use super::{EngineError, labels};
use crate::namespace::Namespace;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PublishedPort {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ContainerInfo {
    pub service: String,
    pub name: String,
    pub id: String,
    pub image: String,
    /// Engine state: `created`, `running`, `restarting`, `exited`, `paused`, `dead`, ….
    pub state: String,
    /// `starting`, `healthy`, `unhealthy`; `None` without a healthcheck.
    pub health: Option<String>,
    pub exit_code: i64,
    /// How often the engine restarted it (its restart policy) since it was created.
    pub restart_count: i64,
    pub started_at: Option<String>,
    pub ports: Vec<PublishedPort>,
}

impl ContainerInfo {
    fn running(&self) -> bool {
        self.state == "running"
    }

    /// Exited 0 after a run: a one-shot service that did its job, not a failure.
    fn completed(&self) -> bool {
        self.state == "exited" && self.exit_code == 0 && self.started_at.is_some()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum ProjectState {
    /// No container carries the project label.
    Absent,
    /// Every container is running (healthy where a healthcheck exists), or completed.
    Running,
    /// No container is running.
    Stopped,
    /// Running, but a healthcheck has not passed yet.
    Starting { services: Vec<String> },
    /// A container is unhealthy, restarting, dead, or exited with an error while others run.
    Failing {
        services: Vec<String>,
        reason: String,
    },
    /// Some services run, others are stopped (cleanly).
    Partial {
        running: Vec<String>,
        stopped: Vec<String>,
    },
}

/// This instance's containers of the project, sorted by service name.
pub async fn ps(
    docker: &Docker,
    ns: &Namespace,
    project: &str,
) -> Result<Vec<ContainerInfo>, EngineError> {
    let containers = own_containers(docker, ns, project).await?;
    let inspected = join_all(containers.iter().map(|c| {
        let name = summary_name(c);
        async move { inspect(docker, &name).await }
    }))
    .await;
    let mut infos = Vec::new();
    for info in inspected {
        // Removed between list and inspect: it is simply gone.
        if let Some(info) = info? {
            infos.push(container_info(info));
        }
    }
    infos.sort_by(|a, b| a.service.cmp(&b.service).then(a.name.cmp(&b.name)));
    Ok(infos)
}

fn container_info(info: ContainerInspectResponse) -> ContainerInfo {
    let config = info.config.unwrap_or_default();
    let container_labels = config.labels.unwrap_or_default();
    let state = info.state.unwrap_or_default();
    let health = state
        .health
        .and_then(|h| h.status)
        .and_then(|s| match s {
            HealthStatusEnum::STARTING => Some("starting"),
            HealthStatusEnum::HEALTHY => Some("healthy"),
            HealthStatusEnum::UNHEALTHY => Some("unhealthy"),
            _ => None,
        })
        .map(str::to_string);
    let mut ports = Vec::new();
    for (key, bindings) in info
        .network_settings
        .and_then(|n| n.ports)
        .unwrap_or_default()
    {
        let (port, protocol) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(container_port) = port.parse() else {
            continue;
        };
        for b in bindings.unwrap_or_default() {
            if let Some(host_port) = b.host_port.and_then(|p| p.parse().ok()) {
                ports.push(PublishedPort {
                    host_ip: b.host_ip.unwrap_or_default(),
                    host_port,
                    container_port,
                    protocol: protocol.to_string(),
                });
            }
        }
    }
    ports.sort_by(|a, b| (a.container_port, &a.host_ip).cmp(&(b.container_port, &b.host_ip)));
    // The engine reports a never-started container with the zero time.
    let started_at = state.started_at.filter(|s| !s.starts_with("0001-01-01"));
    ContainerInfo {
        service: container_labels
            .get(labels::SERVICE)
            .cloned()
            .unwrap_or_default(),
        name: info
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        id: info.id.unwrap_or_default(),
        image: config.image.unwrap_or_default(),
        state: state
            .status
            .unwrap_or(ContainerStateStatusEnum::EMPTY)
            .to_string(),
        health,
        exit_code: state.exit_code.unwrap_or_default(),
        restart_count: info.restart_count.unwrap_or_default(),
        started_at,
        ports,
    }
}

fn state_of(containers: &[ContainerInfo]) -> ProjectState {
    if containers.is_empty() {
        return ProjectState::Absent;
    }
    let names = |f: &dyn Fn(&ContainerInfo) -> bool| -> Vec<String> {
        containers
            .iter()
            .filter(|c| f(c))
            .map(|c| c.service.clone())
            .collect()
    };
    let unhealthy = names(&|c| c.health.as_deref() == Some("unhealthy"));
    if !unhealthy.is_empty() {
        return ProjectState::Failing {
            services: unhealthy,
            reason: "unhealthy".into(),
        };
    }
    let broken = names(&|c| matches!(c.state.as_str(), "restarting" | "dead"));
    if !broken.is_empty() {
        return ProjectState::Failing {
            services: broken,
            reason: "restarting".into(),
        };
    }
    let running = names(&|c| c.running());
    if running.is_empty() {
        return ProjectState::Stopped;
    }
    let crashed = names(&|c| c.state == "exited" && c.exit_code != 0);
    if !crashed.is_empty() {
        return ProjectState::Failing {
            services: crashed,
            reason: "exited with an error".into(),
        };
    }
    let starting = names(&|c| c.health.as_deref() == Some("starting"));
    if !starting.is_empty() {
        return ProjectState::Starting { services: starting };
    }
    let stopped = names(&|c| !c.running() && !c.completed());
    if !stopped.is_empty() {
        return ProjectState::Partial { running, stopped };
    }
    ProjectState::Running
}

/// The state of every compose project of this instance from one list call — no per-container
/// inspect — for `stack list` over many stacklets. Other instances' containers are not counted.
pub async fn all_project_states(
    docker: &Docker,
    ns: &Namespace,
) -> Result<BTreeMap<String, ProjectState>, EngineError> {
    Ok(all_containers(docker, ns)
        .await?
        .into_iter()
        .map(|(project, containers)| (project, state_of(&containers)))
        .collect())
}

/// Every container of this instance by compose project, sorted by service name, from ONE list
/// call (`stack ps` without an id: one query however many stacklets there are). Health, exit code
/// and ports come from the list's summary; `started_at` is only known to inspect, so it is `None`
/// here (`stack ps <id>` inspects and reports it).
pub async fn ps_all(
    docker: &Docker,
    ns: &Namespace,
) -> Result<BTreeMap<String, Vec<ContainerInfo>>, EngineError> {
    let mut all = all_containers(docker, ns).await?;
    for containers in all.values_mut() {
        for c in containers.iter_mut() {
            c.started_at = None;
        }
    }
    Ok(all)
}

/// This instance's containers by project, from one list call filtered on the project label.
/// Health and exit codes come from the summary's status text (`Up 5 minutes (healthy)`,
/// `Exited (3) 2 hours ago`); `started_at` is `Some("")` for a container that has run (the summary
/// has no start time, but [`state_of`] needs to tell a completed one-shot from a never-started one).
async fn all_containers(
    docker: &Docker,
    ns: &Namespace,
) -> Result<BTreeMap<String, Vec<ContainerInfo>>, EngineError> {
    let options = bollard::query_parameters::ListContainersOptions {
        all: true,
        filters: Some(std::collections::HashMap::from([(
            "label".to_string(),
            vec![labels::PROJECT.to_string()],
        )])),
        ..Default::default()
    };
    let summaries = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| EngineError::api("list containers", e))?;
    let mut by_project: BTreeMap<String, Vec<ContainerInfo>> = BTreeMap::new();
    for s in &summaries {
        let Some(project) = summary_label(s, labels::PROJECT) else {
            continue;
        };
        if ns.foreign_owner(&summary_labels(s)).is_some() {
            continue;
        }
        by_project
            .entry(project.to_string())
            .or_default()
            .push(summary_info(s));
    }
    for containers in by_project.values_mut() {
        containers.sort_by(|a, b| a.service.cmp(&b.service).then(a.name.cmp(&b.name)));
    }
    Ok(by_project)
}

fn summary_info(s: &ContainerSummary) -> ContainerInfo {
    let status = s.status.clone().unwrap_or_default();
    let health = if status.contains("(healthy)") {
        Some("healthy")
    } else if status.contains("(unhealthy)") {
        Some("unhealthy")
    } else if status.contains("(health: starting)") {
        Some("starting")
    } else {
        None
    };
    let exit_code = status
        .strip_prefix("Exited (")
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let started = status.starts_with("Up") || status.starts_with("Exited");
    let mut ports: Vec<PublishedPort> = s
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(PublishedPort {
                host_ip: p.ip.clone().unwrap_or_default(),
                host_port: p.public_port?,
                container_port: p.private_port,
                protocol: p.typ.map(|t| t.to_string()).unwrap_or_default(),
            })
        })
        .collect();
    ports.sort_by(|a, b| (a.container_port, &a.host_ip).cmp(&(b.container_port, &b.host_ip)));
    ContainerInfo {
        service: summary_label(s, labels::SERVICE)
            .unwrap_or_default()
            .to_string(),
        name: summary_name(s),
        id: s.id.clone().unwrap_or_default(),
        image: s.image.clone().unwrap_or_default(),
        state: s.state.map(|st| st.to_string()).unwrap_or_default(),
        health: health.map(str::to_string),
        exit_code,
        // The list call does not say; nothing that reads it uses this path.
        restart_count: 0,
        started_at: started.then(String::new),
        ports,
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn c(service: &str, state: &str, health: Option<&str>, exit_code: i64) -> ContainerInfo {
        ContainerInfo {
            service: service.into(),
            name: service.into(),
            id: String::new(),
            image: String::new(),
            state: state.into(),
            health: health.map(Into::into),
            exit_code,
            restart_count: 0,
            started_at: Some("2026-01-01T00:00:00Z".into()),
            ports: vec![],
        }
    }

    #[test]
    fn states() {
        assert_eq!(state_of(&[]), ProjectState::Absent);
        assert_eq!(
            state_of(&[
                c("a", "running", Some("healthy"), 0),
                c("job", "exited", None, 0)
            ]),
            ProjectState::Running
        );
        assert_eq!(
            state_of(&[c("a", "exited", None, 137)]),
            ProjectState::Stopped
        );
        assert_eq!(
            state_of(&[c("a", "running", Some("starting"), 0)]),
            ProjectState::Starting {
                services: vec!["a".into()]
            }
        );
        assert!(matches!(
            state_of(&[c("a", "running", Some("unhealthy"), 0)]),
            ProjectState::Failing { .. }
        ));
        assert_eq!(
            state_of(&[c("a", "running", None, 0), c("b", "created", None, 0)]),
            ProjectState::Partial {
                running: vec!["a".into()],
                stopped: vec!["b".into()]
            }
        );
    }
}
