//! `up`: converge a normalised project into running containers.
//!
//! Phases, in this order so that nothing running is disturbed by a problem found late:
//! 1. images (build/pull) for every service: an image problem stops `up` before any container is
//!    touched;
//! 2. container specs (and bind-mount directories) for every service, plus `depends_on` checks;
//! 3. networks and named volumes;
//! 4. services level by level (`order.rs`), concurrently within a level. Per service, by the
//!    project/service labels: same config hash and running → untouched; same hash, stopped →
//!    started; other hash → stopped, removed, created, started; absent → created and started.
//!    A service is (re)started only after its dependencies' conditions hold.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerSummary, NetworkConnectRequest, NetworkCreateRequest, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, RestartContainerOptions, StartContainerOptions,
};
use futures_util::future::join_all;

use super::create::{ContainerSpec, spec};
use super::error::{is_conflict, is_not_found, is_not_modified};
use super::images::ResolvedImage;
use super::lifecycle::{
    is_running, project_containers, refuse_foreign, remove_container, stop_container,
    summary_label, summary_name,
};
use super::network;
use super::{EngineError, labels, wait};
use crate::compose::model::{Project, Service};
use crate::namespace::Namespace;
use crate::output::Printer;

#[derive(Clone, Debug)]
pub struct UpOptions {
    /// Remove containers of the project whose service is no longer defined (else: a warning).
    pub remove_orphans: bool,
    /// Upper bound for one `depends_on` condition to hold.
    pub wait_timeout: Duration,
}

impl Default for UpOptions {
    fn default() -> Self {
        Self {
            remove_orphans: false,
            wait_timeout: Duration::from_secs(300),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Same configuration and running: not touched.
    Unchanged,
    /// Same configuration, was stopped: started.
    Started,
    /// Did not exist: created and started.
    Created,
    /// Configuration (or image) changed: replaced.
    Recreated,
    /// Unchanged, but a dependency with `restart: true` was replaced or restarted.
    Restarted,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceOutcome {
    pub service: String,
    pub container: String,
    pub id: String,
    pub outcome: Outcome,
}

/// Converge the project's containers. `images` is what [`super::ensure_images`] returned for this
/// project: the caller ensures images first (the lifecycle does it before `on_start`), so image
/// problems surface before any container is touched and nothing is inspected twice.
// Long by design: the converge steps in order (specs and order, networks and volumes, orphans,
// then each dependency level concurrently), the order docs/engine.md describes.
pub async fn converge(
    docker: &Docker,
    ns: &Namespace,
    project: &Project,
    images: &BTreeMap<String, ResolvedImage>,
    opts: &UpOptions,
    printer: &Printer,
) -> Result<Vec<ServiceOutcome>, EngineError> {
    let version = docker.client_version();
    let api_1_44 = (version.major_version, version.minor_version) >= (1, 44);
    let mut specs = BTreeMap::new();
    for (name, service) in &project.services {
        check_dependencies(project, service)?;
        specs.insert(
            name.clone(),
            spec(ns, project, service, &images[name], api_1_44)?,
        );
    }
    let graph: BTreeMap<String, Vec<String>> = project
        .services
        .iter()
        .map(|(name, s)| (name.clone(), s.depends_on.keys().cloned().collect()))
        .collect();
    let levels = crate::order::levels(&graph).map_err(|cycle| EngineError::DependencyCycle {
        services: cycle.members().to_vec(),
    })?;

    // Another instance's container under this project's name stops `up` before anything changes.
    let containers = project_containers(docker, ns, &project.name).await?;
    ensure_networks(docker, ns, project, printer).await?;
    ensure_volumes(docker, ns, project, printer).await?;

    let (existing, orphans) = by_service(project, containers);

    // Orphans go first: a renamed service that keeps its `container_name` needs the name its old
    // container still holds.
    for orphan in orphans {
        let name = summary_name(&orphan);
        if opts.remove_orphans {
            stop_container(docker, &name, printer).await?;
            remove_container(docker, &name, printer).await?;
        } else {
            printer.warn(format!(
                "Container `{name}` belongs to project `{}` but no service defines it any more (orphan)",
                project.name
            ));
        }
    }

    let mut outcomes: BTreeMap<String, ServiceOutcome> = BTreeMap::new();
    for level in levels {
        let results = join_all(level.iter().map(|name| {
            converge_service(
                docker,
                ns,
                project,
                &project.services[name],
                &specs,
                existing.get(name),
                &outcomes,
                opts,
                printer,
            )
        }))
        .await;
        for result in results {
            let outcome = result?;
            outcomes.insert(outcome.service.clone(), outcome);
        }
    }

    Ok(outcomes.into_values().collect())
}

/// The project's containers by service, and the orphans: containers of no defined service, and
/// extra containers of a scaled-up compose service (`stack` runs one per service). `docker
/// compose run` containers are neither. Shared by `up` and `plan`.
pub(super) fn by_service(
    project: &Project,
    containers: Vec<ContainerSummary>,
) -> (HashMap<String, ContainerSummary>, Vec<ContainerSummary>) {
    let mut existing: HashMap<String, ContainerSummary> = HashMap::new();
    let mut orphans = Vec::new();
    for c in containers {
        let service = summary_label(&c, labels::SERVICE)
            .unwrap_or_default()
            .to_string();
        if !project.services.contains_key(&service) {
            orphans.push(c);
        } else if summary_label(&c, labels::ONEOFF) == Some("True") {
            // `docker compose run` containers are not the service's container.
        } else if let std::collections::hash_map::Entry::Vacant(slot) = existing.entry(service) {
            slot.insert(c);
        } else {
            orphans.push(c);
        }
    }
    (existing, orphans)
}

/// What `up` does with one service's container: the one owner of "what changes", used by
/// [`converge`] and by `stack plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Same config hash, running.
    Keep,
    /// Same config hash, stopped.
    Start,
    /// No container.
    Create,
    /// Another config hash.
    Recreate,
}

pub fn decide(current: Option<&ContainerSummary>, desired_hash: &str) -> Change {
    match current {
        None => Change::Create,
        Some(c) if summary_label(c, labels::CONFIG_HASH) != Some(desired_hash) => Change::Recreate,
        Some(c) if is_running(c) => Change::Keep,
        Some(_) => Change::Start,
    }
}

/// A dependency must be a service of the project, unless it is `required: false`.
fn check_dependencies(project: &Project, service: &Service) -> Result<(), EngineError> {
    for (dep, spec) in &service.depends_on {
        if spec.required && !project.services.contains_key(dep) {
            return Err(EngineError::UnknownDependency {
                service: service.name.clone(),
                dependency: dep.clone(),
            });
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn converge_service(
    docker: &Docker,
    ns: &Namespace,
    project: &Project,
    service: &Service,
    specs: &BTreeMap<String, ContainerSpec>,
    existing: Option<&ContainerSummary>,
    done: &BTreeMap<String, ServiceOutcome>,
    opts: &UpOptions,
    printer: &Printer,
) -> Result<ServiceOutcome, EngineError> {
    let spec = &specs[&service.name];
    let outcome = |id: String, outcome| ServiceOutcome {
        service: service.name.clone(),
        container: spec.name.clone(),
        id,
        outcome,
    };

    if let Some(current) = existing {
        let id = current.id.clone().unwrap_or_default();
        let change = decide(Some(current), &spec.hash);
        if change == Change::Keep {
            let restart_for = service.depends_on.iter().find(|(dep, d)| {
                d.restart
                    && done.get(*dep).is_some_and(|o| {
                        matches!(o.outcome, Outcome::Recreated | Outcome::Restarted)
                    })
            });
            if let Some((dep, _)) = restart_for {
                printer.status("Restarting", format!("{} (after `{dep}`)", spec.name));
                let options = RestartContainerOptions {
                    t: spec.stop_timeout.and_then(|t| i32::try_from(t).ok()),
                    ..Default::default()
                };
                docker
                    .restart_container(&id, Some(options))
                    .await
                    .map_err(|e| EngineError::api(format!("restart `{}`", spec.name), e))?;
                return Ok(outcome(id, Outcome::Restarted));
            }
            printer.debug(format!("{} is up to date", spec.name));
            return Ok(outcome(id, Outcome::Unchanged));
        }
        wait_for_dependencies(docker, service, specs, opts, printer).await?;
        if change == Change::Start {
            start(docker, &spec.name, printer).await?;
            return Ok(outcome(id, Outcome::Started));
        }
        printer.status("Recreating", &spec.name);
        let old = summary_name(current);
        stop_container(docker, &old, printer).await?;
        remove_container(docker, &old, printer).await?;
        let id = create(docker, ns, project, spec).await?;
        start(docker, &spec.name, printer).await?;
        return Ok(outcome(id, Outcome::Recreated));
    }

    wait_for_dependencies(docker, service, specs, opts, printer).await?;
    printer.status("Creating", &spec.name);
    let id = create(docker, ns, project, spec).await?;
    start(docker, &spec.name, printer).await?;
    Ok(outcome(id, Outcome::Created))
}

async fn wait_for_dependencies(
    docker: &Docker,
    service: &Service,
    specs: &BTreeMap<String, ContainerSpec>,
    opts: &UpOptions,
    printer: &Printer,
) -> Result<(), EngineError> {
    use crate::compose::model::Condition;
    for (dep, d) in &service.depends_on {
        let Some(dep_spec) = specs.get(dep) else {
            continue; // not in the project and not required (checked before)
        };
        match d.condition {
            Condition::ServiceHealthy => {
                printer.status("Waiting", format!("{} (healthy)", dep_spec.name));
            }
            Condition::ServiceCompletedSuccessfully => {
                printer.status("Waiting", format!("{} (completed)", dep_spec.name));
            }
            Condition::ServiceStarted => {}
        }
        if let Err(reason) =
            wait::condition(docker, &dep_spec.name, d.condition, opts.wait_timeout).await
        {
            if d.required {
                return Err(wait::failed(&service.name, dep, &dep_spec.name, reason));
            }
            printer.warn(format!(
                "Optional dependency `{dep}` of `{}` {reason}; starting anyway",
                service.name
            ));
        }
    }
    Ok(())
}

async fn create(
    docker: &Docker,
    ns: &Namespace,
    project: &Project,
    spec: &ContainerSpec,
) -> Result<String, EngineError> {
    let options = CreateContainerOptions {
        name: Some(spec.name.clone()),
        ..Default::default()
    };
    let created = match docker
        .create_container(Some(options), spec.body.clone())
        .await
    {
        Ok(created) => created,
        Err(e) if is_conflict(&e) => {
            // Another instance's container is named so: say whose, never adopt it.
            if let Some(holder) = inspect(docker, &spec.name).await? {
                let labels = holder.config.and_then(|c| c.labels).unwrap_or_default();
                refuse_foreign(ns, "container", &spec.name, &labels)?;
            }
            return Err(EngineError::NameConflict {
                name: spec.name.clone(),
                project: project.name.clone(),
            });
        }
        Err(e) => return Err(EngineError::api(format!("create `{}`", spec.name), e)),
    };
    for (network, endpoint) in &spec.extra_networks {
        let request = NetworkConnectRequest {
            container: created.id.clone(),
            endpoint_config: Some(endpoint.clone()),
        };
        if let Err(e) = docker.connect_network(network, request).await {
            // The container already carries its final config hash: left behind, the next `up`
            // would take it as converged and start it without this network.
            let options = bollard::query_parameters::RemoveContainerOptions {
                force: true,
                ..Default::default()
            };
            let _ = docker.remove_container(&created.id, Some(options)).await;
            return Err(EngineError::api(
                format!("connect `{}` to network `{network}`", spec.name),
                e,
            ));
        }
    }
    Ok(created.id)
}

async fn start(docker: &Docker, name: &str, printer: &Printer) -> Result<(), EngineError> {
    printer.status("Starting", name);
    match docker
        .start_container(name, None::<StartContainerOptions>)
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if is_not_modified(&e) => Ok(()),
        Err(e) => Err(EngineError::api(format!("start `{name}`"), e)),
    }
}

/// Networks the services use: external ones must exist (except the instance's `stack` network,
/// created when missing); the project's own are created with compose's and the instance's labels.
/// An existing network of another instance is never joined.
async fn ensure_networks(
    docker: &Docker,
    ns: &Namespace,
    project: &Project,
    printer: &Printer,
) -> Result<(), EngineError> {
    let _guard = network::CREATING.lock().await;
    for (key, network) in &project.networks {
        let used = project
            .services
            .values()
            .any(|s| s.networks.contains_key(key));
        if !used {
            continue;
        }
        match docker
            .inspect_network(
                &network.name,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
        {
            Ok(existing) => {
                // The user's own external networks are shared on purpose; ours are checked.
                if !network.external || network.name == ns.network() {
                    let labels = existing.labels.unwrap_or_default();
                    refuse_foreign(ns, "network", &network.name, &labels)?;
                }
                continue;
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                return Err(EngineError::api(
                    format!("inspect network `{}`", network.name),
                    e,
                ));
            }
        }
        if network.external {
            if network.name != ns.network() {
                return Err(EngineError::MissingExternalNetwork {
                    name: network.name.clone(),
                });
            }
            if network::create_stack_network_locked(docker, ns).await? {
                printer.status("Creating", format!("network {}", network.name));
            }
            continue;
        }
        let labels =
            labels::resource_labels(ns, &project.name, (labels::NETWORK, key), &network.labels);
        printer.status("Creating", format!("network {}", network.name));
        let request = NetworkCreateRequest {
            name: network.name.clone(),
            driver: Some(network.driver.clone().unwrap_or_else(|| "bridge".into())),
            labels: Some(labels),
            ..Default::default()
        };
        match docker.create_network(request).await {
            Ok(_) => {}
            // Created meanwhile by a concurrent `up` of another stacklet.
            Err(e) if is_conflict(&e) => {}
            Err(e) => {
                return Err(EngineError::api(
                    format!("create network `{}`", network.name),
                    e,
                ));
            }
        }
    }
    Ok(())
}

/// Named volumes: an existing one is used only when it is this instance's (or external: the
/// user's); missing ones are created with compose's and the instance's labels.
async fn ensure_volumes(
    docker: &Docker,
    ns: &Namespace,
    project: &Project,
    printer: &Printer,
) -> Result<(), EngineError> {
    for (key, volume) in &project.volumes {
        match docker.inspect_volume(&volume.name).await {
            Ok(existing) => {
                if !volume.external {
                    refuse_foreign(ns, "volume", &volume.name, &existing.labels)?;
                }
                continue;
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                return Err(EngineError::api(
                    format!("inspect volume `{}`", volume.name),
                    e,
                ));
            }
        }
        if volume.external {
            return Err(EngineError::MissingExternalVolume {
                name: volume.name.clone(),
            });
        }
        printer.status("Creating", format!("volume {}", volume.name));
        let request = VolumeCreateRequest {
            name: Some(volume.name.clone()),
            driver: volume.driver.clone(),
            labels: Some(labels::resource_labels(
                ns,
                &project.name,
                (labels::VOLUME, key),
                &volume.labels,
            )),
            ..Default::default()
        };
        docker
            .create_volume(request)
            .await
            .map_err(|e| EngineError::api(format!("create volume `{}`", volume.name), e))?;
    }
    Ok(())
}

/// The container of `service` in `project`, inspected (used by tests and `ps`).
pub async fn inspect(
    docker: &Docker,
    name: &str,
) -> Result<Option<bollard::models::ContainerInspectResponse>, EngineError> {
    match docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
    {
        Ok(info) => Ok(Some(info)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(EngineError::api(format!("inspect `{name}`"), e)),
    }
}
