//! Stopping and removing a project's objects, found by the `com.docker.compose.project` label
//! (so it works without the compose file, for orphans, and for projects `docker compose`
//! created) and checked against the instance label: an object of another instance under the
//! project's name stops the command before anything is stopped or removed (`namespace.rs`). Dependents stop before their dependencies: the order comes from each container's
//! `com.docker.compose.depends_on` label, reversed.
//!
//! The stop signal and grace period are the container's own (`StopSignal`, `StopTimeout`, set at
//! create from `stop_signal` / `stop_grace_period`), which the engine applies when no `t` is sent.

use std::collections::BTreeMap;

use bollard::Docker;
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, ListVolumesOptions, RemoveContainerOptions,
    RemoveVolumeOptions, StopContainerOptions,
};
use futures_util::future::join_all;

use super::error::{is_not_found, is_not_modified};
use super::{EngineError, labels};
use crate::namespace::Namespace;
use crate::output::Printer;

#[derive(Clone, Debug, Default)]
pub struct DownOptions {
    /// Also remove the project's named volumes (`docker compose down -v`).
    pub volumes: bool,
}

/// What `down` removed, by engine name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DownSummary {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

/// Every container carrying the project label, running or not, whichever instance owns it.
async fn labelled_containers(
    docker: &Docker,
    project: &str,
) -> Result<Vec<ContainerSummary>, EngineError> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(labels::project_filter(project)),
        ..Default::default()
    };
    docker
        .list_containers(Some(options))
        .await
        .map_err(|e| EngineError::api(format!("list containers of `{project}`"), e))
}

/// The project's containers that belong to this instance (read-only views skip the others).
pub async fn own_containers(
    docker: &Docker,
    ns: &Namespace,
    project: &str,
) -> Result<Vec<ContainerSummary>, EngineError> {
    Ok(labelled_containers(docker, project)
        .await?
        .into_iter()
        .filter(|c| ns.foreign_owner(&summary_labels(c)).is_none())
        .collect())
}

/// The project's containers, for a command that changes them: one of another instance is an
/// error naming it, before anything is touched.
pub async fn project_containers(
    docker: &Docker,
    ns: &Namespace,
    project: &str,
) -> Result<Vec<ContainerSummary>, EngineError> {
    let containers = labelled_containers(docker, project).await?;
    for c in &containers {
        refuse_foreign(ns, "container", &summary_name(c), &summary_labels(c))?;
    }
    Ok(containers)
}

/// `Err(Foreign)` when `labels` mark the object as another instance's.
pub fn refuse_foreign(
    ns: &Namespace,
    kind: &'static str,
    name: &str,
    labels: &std::collections::HashMap<String, String>,
) -> Result<(), EngineError> {
    match ns.foreign_owner(labels) {
        None => Ok(()),
        Some(owner) => Err(EngineError::Foreign {
            kind,
            name: name.to_string(),
            owner,
            instance: ns.name().to_string(),
        }),
    }
}

pub fn summary_labels(c: &ContainerSummary) -> std::collections::HashMap<String, String> {
    c.labels.clone().unwrap_or_default()
}

pub fn summary_name(c: &ContainerSummary) -> String {
    c.names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .or_else(|| c.id.clone())
        .unwrap_or_default()
}

pub fn summary_label<'a>(c: &'a ContainerSummary, key: &str) -> Option<&'a str> {
    c.labels.as_ref()?.get(key).map(String::as_str)
}

pub fn is_running(c: &ContainerSummary) -> bool {
    matches!(
        c.state,
        Some(ContainerSummaryStateEnum::RUNNING | ContainerSummaryStateEnum::RESTARTING)
    )
}

/// Containers grouped in stop order: dependents first.
fn stop_order(
    containers: Vec<ContainerSummary>,
) -> Result<Vec<Vec<ContainerSummary>>, EngineError> {
    let mut by_service: BTreeMap<String, Vec<ContainerSummary>> = BTreeMap::new();
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in containers {
        let service = summary_label(&c, labels::SERVICE)
            .unwrap_or_default()
            .to_string();
        let deps =
            labels::parse_depends_on(summary_label(&c, labels::DEPENDS_ON).unwrap_or_default());
        graph.entry(service.clone()).or_default().extend(deps);
        by_service.entry(service).or_default().push(c);
    }
    // Labels written by hand could form a cycle; stopping everything at once is then still right.
    let levels =
        crate::order::levels(&graph).unwrap_or_else(|_| vec![graph.keys().cloned().collect()]);
    Ok(levels
        .into_iter()
        .rev()
        .map(|level| {
            level
                .into_iter()
                .flat_map(|s| by_service.remove(&s).unwrap_or_default())
                .collect()
        })
        .collect())
}

pub async fn stop_container(
    docker: &Docker,
    name: &str,
    printer: &Printer,
) -> Result<(), EngineError> {
    printer.status("Stopping", name);
    match docker
        .stop_container(name, None::<StopContainerOptions>)
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if is_not_modified(&e) || is_not_found(&e) => Ok(()),
        Err(e) => Err(EngineError::api(format!("stop `{name}`"), e)),
    }
}

pub async fn remove_container(
    docker: &Docker,
    name: &str,
    printer: &Printer,
) -> Result<(), EngineError> {
    printer.status("Removing", name);
    // `v: false`: anonymous volumes survive, as with `docker compose down` without `-v`.
    let options = RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    match docker.remove_container(name, Some(options)).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(EngineError::api(format!("remove `{name}`"), e)),
    }
}

/// Stops the project's running containers, dependents first. Returns the names stopped.
pub async fn stop(
    docker: &Docker,
    ns: &Namespace,
    project: &str,
    printer: &Printer,
) -> Result<Vec<String>, EngineError> {
    let running: Vec<_> = project_containers(docker, ns, project)
        .await?
        .into_iter()
        .filter(is_running)
        .collect();
    let mut stopped = Vec::new();
    for level in stop_order(running)? {
        let names: Vec<String> = level.iter().map(summary_name).collect();
        let results = join_all(names.iter().map(|n| stop_container(docker, n, printer))).await;
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        stopped.extend(names);
    }
    Ok(stopped)
}

/// Stops and removes every container of the project (orphans included), then its networks, and
/// with `volumes` its named volumes. Only objects carrying the project label are touched: an
/// external network (like `stack`) never carries it. Every object is checked against the
/// instance label before the first one is removed.
pub async fn down(
    docker: &Docker,
    ns: &Namespace,
    project: &str,
    opts: &DownOptions,
    printer: &Printer,
) -> Result<DownSummary, EngineError> {
    let mut summary = DownSummary::default();
    let containers = project_containers(docker, ns, project).await?;
    let networks = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(labels::project_filter(project)),
        }))
        .await
        .map_err(|e| EngineError::api(format!("list networks of `{project}`"), e))?;
    for network in &networks {
        let name = network.name.clone().unwrap_or_default();
        refuse_foreign(
            ns,
            "network",
            &name,
            &network.labels.clone().unwrap_or_default(),
        )?;
    }
    let volumes = if opts.volumes {
        docker
            .list_volumes(Some(ListVolumesOptions {
                filters: Some(labels::project_filter(project)),
            }))
            .await
            .map_err(|e| EngineError::api(format!("list volumes of `{project}`"), e))?
            .volumes
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    for volume in &volumes {
        refuse_foreign(ns, "volume", &volume.name, &volume.labels)?;
    }

    for level in stop_order(containers)? {
        let names: Vec<String> = level.iter().map(summary_name).collect();
        let results = join_all(names.iter().map(|n| async move {
            stop_container(docker, n, printer).await?;
            remove_container(docker, n, printer).await
        }))
        .await;
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        summary.containers.extend(names);
    }

    for network in networks {
        let Some(name) = network.name else { continue };
        // By id: engines before API 1.44 can hold two networks of one name (two creates racing),
        // and removing by name then fails as "ambiguous" while both carry the project's label.
        let target = network.id.unwrap_or_else(|| name.clone());
        printer.status("Removing", format!("network {name}"));
        match docker.remove_network(&target).await {
            Ok(()) => summary.networks.push(name),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(EngineError::api(format!("remove network `{name}`"), e)),
        }
    }

    for volume in volumes {
        let name = volume.name;
        printer.status("Removing", format!("volume {name}"));
        match docker
            .remove_volume(&name, None::<RemoveVolumeOptions>)
            .await
        {
            Ok(()) => summary.volumes.push(name),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(EngineError::api(format!("remove volume `{name}`"), e)),
        }
    }
    Ok(summary)
}
