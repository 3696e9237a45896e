//! From a normalised `Service` to the engine's create request (`ContainerCreateBody` + `HostConfig`).
//!
//! Pure mapping apart from one side effect: bind mount sources with `create_host_path` are created
//! here, by `stack`, as the invoking user (the engine would create them as root, and the Mounts
//! API refuses a missing source anyway).
//!
//! Networks: the engine before API 1.44 accepts only one endpoint at create time, so the container
//! is created on its first network and connected to the others before it starts (`extra_networks`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointSettings, HealthConfig, HostConfig, Mount,
    MountType, NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};

use super::EngineError;
use super::images::ResolvedImage;
use super::labels;
use crate::compose::model::{MountKind, Project, Service};
use crate::namespace::Namespace;

/// What converge needs to create (and later compare) one service's container.
#[derive(Clone, Debug)]
pub struct ContainerSpec {
    pub name: String,
    pub hash: String,
    pub body: ContainerCreateBody,
    /// Network name → endpoint, connected after create (see module doc).
    pub extra_networks: Vec<(String, EndpointSettings)>,
    /// Seconds the engine waits after the stop signal before it kills.
    pub stop_timeout: Option<i64>,
}

/// `container_name`, else `<project>-<service>-1` (compose v2's naming).
pub fn container_name(project: &Project, service: &Service) -> String {
    service
        .container_name
        .clone()
        .unwrap_or_else(|| format!("{}-{}-1", project.name, service.name))
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Whole seconds, rounded up so a `500ms` grace period is not turned into an immediate kill.
fn seconds_up(d: Duration) -> i64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

pub fn spec(
    ns: &Namespace,
    project: &Project,
    service: &Service,
    image: &ResolvedImage,
    api_at_least_1_44: bool,
) -> Result<ContainerSpec, EngineError> {
    let name = container_name(project, service);
    let hash = labels::config_hash(project, service, &image.id);

    let env: Vec<String> = service
        .environment
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();

    let mut exposed = Vec::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for port in &service.ports {
        let key = format!("{}/{}", port.target, port.protocol);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        let binding = PortBinding {
            host_ip: Some(port.host_ip.clone().unwrap_or_default()),
            host_port: Some(port.published.map(|p| p.to_string()).unwrap_or_default()),
        };
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(binding);
    }

    let mut mounts = Vec::new();
    for m in &service.volumes {
        let mount = match m.kind {
            MountKind::Bind => {
                let source = m.source.clone().unwrap_or_default();
                if m.create_host_path {
                    std::fs::create_dir_all(&source).map_err(|e| EngineError::BindSource {
                        service: service.name.clone(),
                        path: PathBuf::from(&source),
                        source: e,
                    })?;
                }
                Mount {
                    typ: Some(MountType::BIND),
                    source: Some(source),
                    target: Some(m.target.clone()),
                    read_only: Some(m.read_only),
                    ..Default::default()
                }
            }
            MountKind::Volume => {
                let source = match &m.source {
                    Some(key) => Some(
                        project
                            .volumes
                            .get(key)
                            .map(|v| v.name.clone())
                            .ok_or_else(|| EngineError::Undeclared {
                                service: service.name.clone(),
                                kind: "volume",
                                name: key.clone(),
                            })?,
                    ),
                    None => None,
                };
                Mount {
                    typ: Some(MountType::VOLUME),
                    source,
                    target: Some(m.target.clone()),
                    read_only: Some(m.read_only),
                    ..Default::default()
                }
            }
            MountKind::Tmpfs => Mount {
                typ: Some(MountType::TMPFS),
                target: Some(m.target.clone()),
                read_only: Some(m.read_only),
                ..Default::default()
            },
        };
        mounts.push(mount);
    }

    let healthcheck = service.healthcheck.as_ref().map(|h| {
        if h.disable {
            HealthConfig {
                test: Some(vec!["NONE".into()]),
                ..Default::default()
            }
        } else {
            HealthConfig {
                test: (!h.test.is_empty()).then(|| h.test.clone()),
                interval: h.interval.map(nanos),
                timeout: h.timeout.map(nanos),
                retries: h.retries.map(|r| i64::try_from(r).unwrap_or(i64::MAX)),
                start_period: h.start_period.map(nanos),
                // Older engines reject or ignore it; only send it where it exists.
                start_interval: h.start_interval.filter(|_| api_at_least_1_44).map(nanos),
            }
        }
    });

    let restart_policy = service.restart.as_deref().map(restart_policy);

    // Networks: compose's aliases are the service name and the container name, plus the user's.
    let mut endpoints = Vec::new();
    for (key, attachment) in &service.networks {
        let network = project
            .networks
            .get(key)
            .ok_or_else(|| EngineError::Undeclared {
                service: service.name.clone(),
                kind: "network",
                name: key.clone(),
            })?;
        let mut aliases = vec![name.clone(), service.name.clone()];
        for alias in &attachment.aliases {
            if !aliases.contains(alias) {
                aliases.push(alias.clone());
            }
        }
        let endpoint = EndpointSettings {
            aliases: Some(aliases),
            ipam_config: attachment.ipv4_address.as_ref().map(|ip| {
                bollard::models::EndpointIpamConfig {
                    ipv4_address: Some(ip.clone()),
                    ..Default::default()
                }
            }),
            ..Default::default()
        };
        endpoints.push((network.name.clone(), endpoint));
    }
    let mut endpoints = endpoints.into_iter();
    let primary = endpoints.next();
    let extra_networks: Vec<_> = endpoints.collect();

    let stop_timeout = service.stop_grace_period.map(seconds_up);
    let host_config = HostConfig {
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        mounts: (!mounts.is_empty()).then_some(mounts),
        restart_policy,
        extra_hosts: (!service.extra_hosts.is_empty()).then(|| {
            service
                .extra_hosts
                .iter()
                .map(|(host, ip)| format!("{host}:{ip}"))
                .collect()
        }),
        devices: (!service.devices.is_empty()).then(|| {
            service
                .devices
                .iter()
                .map(|d| DeviceMapping {
                    path_on_host: Some(d.source.clone()),
                    path_in_container: Some(d.target.clone()),
                    cgroup_permissions: Some(d.permissions.clone()),
                })
                .collect()
        }),
        cap_add: (!service.cap_add.is_empty()).then(|| service.cap_add.clone()),
        cap_drop: (!service.cap_drop.is_empty()).then(|| service.cap_drop.clone()),
        security_opt: (!service.security_opt.is_empty()).then(|| service.security_opt.clone()),
        shm_size: service
            .shm_size
            .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
        tmpfs: (!service.tmpfs.is_empty()).then(|| service.tmpfs.clone().into_iter().collect()),
        init: service.init,
        network_mode: primary.as_ref().map(|(name, _)| name.clone()),
        ..Default::default()
    };

    let body = ContainerCreateBody {
        // The reference, not the ID, so `docker ps` shows a name; the ID is in the labels and hash.
        image: Some(image.reference.clone()),
        cmd: service.command.clone(),
        entrypoint: service.entrypoint.clone(),
        env: Some(env),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck,
        labels: Some(labels::container_labels(
            ns, project, service, &image.id, &hash,
        )),
        user: service.user.clone(),
        working_dir: service.working_dir.clone(),
        stop_signal: service.stop_signal.clone(),
        stop_timeout,
        host_config: Some(host_config),
        networking_config: primary.map(|(name, endpoint)| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(name, endpoint)])),
        }),
        ..Default::default()
    };

    Ok(ContainerSpec {
        name,
        hash,
        body,
        extra_networks,
        stop_timeout,
    })
}

/// `no`, `always`, `unless-stopped`, `on-failure[:N]`.
fn restart_policy(value: &str) -> RestartPolicy {
    let (name, count) = match value.split_once(':') {
        Some((n, c)) => (n, c.parse().ok()),
        None => (value, None),
    };
    let name = match name {
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        _ => RestartPolicyNameEnum::NO,
    };
    RestartPolicy {
        name: Some(name),
        maximum_retry_count: count,
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn grace_period_rounds_up() {
        assert_eq!(seconds_up(Duration::from_millis(500)), 1);
        assert_eq!(seconds_up(Duration::from_secs(10)), 10);
    }

    #[test]
    fn restart_policies() {
        assert_eq!(restart_policy("on-failure:3").maximum_retry_count, Some(3));
        assert_eq!(
            restart_policy("unless-stopped").name,
            Some(RestartPolicyNameEnum::UNLESS_STOPPED)
        );
    }
}
