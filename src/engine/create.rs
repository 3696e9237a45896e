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

/// The create request for one service: the container's identity, then the named parts below,
/// each a pure mapping of one group of compose keys (mounts also create bind sources).
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
    let (exposed, bindings) = ports(service);
    let mounts = mounts(project, service)?;
    let (primary, extra_networks) = networks(project, service, &name)?;
    let stop_timeout = service.stop_grace_period.map(seconds_up);
    let host_config = HostConfig {
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        mounts: (!mounts.is_empty()).then_some(mounts),
        network_mode: primary.as_ref().map(|(name, _)| name.clone()),
        ..resources(service)
    };

    let body = ContainerCreateBody {
        // The reference, not the ID, so `docker ps` shows a name; the ID is in the labels and hash.
        image: Some(image.reference.clone()),
        cmd: service.command.clone(),
        entrypoint: service.entrypoint.clone(),
        env: Some(env),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck: health(service, api_at_least_1_44),
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

type PortBindings = HashMap<String, Option<Vec<PortBinding>>>;

/// `ports`: the exposed `<target>/<protocol>` keys (each once, in order) and their host bindings.
fn ports(service: &Service) -> (Vec<String>, PortBindings) {
    let mut exposed = Vec::new();
    let mut bindings: PortBindings = HashMap::new();
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
    (exposed, bindings)
}

/// `volumes`: binds (creating a missing source when `create_host_path` asks for it), named volumes
/// by their engine name, tmpfs.
fn mounts(project: &Project, service: &Service) -> Result<Vec<Mount>, EngineError> {
    let mut mounts = Vec::new();
    for m in &service.volumes {
        let (typ, source) = match m.kind {
            MountKind::Bind => {
                let source = m.source.clone().unwrap_or_default();
                if m.create_host_path {
                    std::fs::create_dir_all(&source).map_err(|e| EngineError::BindSource {
                        service: service.name.clone(),
                        path: PathBuf::from(&source),
                        source: e,
                    })?;
                }
                (MountType::BIND, Some(source))
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
                (MountType::VOLUME, source)
            }
            MountKind::Tmpfs => (MountType::TMPFS, None),
        };
        mounts.push(Mount {
            typ: Some(typ),
            source,
            target: Some(m.target.clone()),
            read_only: Some(m.read_only),
            ..Default::default()
        });
    }
    Ok(mounts)
}

/// `healthcheck`: `disable` becomes the engine's `NONE`; durations in nanoseconds.
fn health(service: &Service, api_at_least_1_44: bool) -> Option<HealthConfig> {
    service.healthcheck.as_ref().map(|h| {
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
    })
}

type Endpoint = (String, EndpointSettings);

/// `networks`: the endpoint the container is created on (the first) and the ones connected after
/// create. Compose's aliases are the container name and the service name, plus the user's.
fn networks(
    project: &Project,
    service: &Service,
    container: &str,
) -> Result<(Option<Endpoint>, Vec<Endpoint>), EngineError> {
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
        let mut aliases = vec![container.to_string(), service.name.clone()];
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
    Ok((primary, endpoints.collect()))
}

/// The host-side settings that are neither ports, mounts nor networks: restart policy, extra
/// hosts, devices, capabilities, security options, shared memory, tmpfs and init.
fn resources(service: &Service) -> HostConfig {
    let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    HostConfig {
        restart_policy: service.restart.as_deref().map(restart_policy),
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
        cap_add: some(&service.cap_add),
        cap_drop: some(&service.cap_drop),
        security_opt: some(&service.security_opt),
        shm_size: service
            .shm_size
            .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
        tmpfs: (!service.tmpfs.is_empty()).then(|| service.tmpfs.clone().into_iter().collect()),
        init: service.init,
        ..Default::default()
    }
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
    use std::collections::BTreeMap;

    use super::*;
    use crate::compose::model::{
        Device, Healthcheck, Mount as ComposeMount, PortMapping, ServiceNetwork, Volume,
    };
    use crate::engine::testing::{project, service};

    fn port(target: u16, published: Option<u16>, protocol: &str) -> PortMapping {
        PortMapping {
            target,
            published,
            host_ip: Some("127.0.0.1".into()),
            protocol: protocol.into(),
        }
    }

    #[test]
    fn ports_expose_each_target_once_and_bind_every_mapping() {
        let mut s = service("web");
        s.ports = vec![
            port(80, Some(42080), "tcp"),
            port(80, Some(42081), "tcp"),
            port(53, None, "udp"),
        ];
        let (exposed, bindings) = ports(&s);
        assert_eq!(exposed, ["80/tcp", "53/udp"]);
        let hosts = |key: &str| -> Vec<String> {
            bindings[key]
                .as_ref()
                .unwrap()
                .iter()
                .map(|b| {
                    format!(
                        "{}:{}",
                        b.host_ip.as_ref().unwrap(),
                        b.host_port.as_ref().unwrap()
                    )
                })
                .collect()
        };
        assert_eq!(hosts("80/tcp"), ["127.0.0.1:42080", "127.0.0.1:42081"]);
        // No published port: the engine picks one.
        assert_eq!(hosts("53/udp"), ["127.0.0.1:"]);
    }

    #[test]
    fn mounts_map_binds_volumes_and_tmpfs() {
        let dir = tempfile::tempdir().unwrap();
        let created = dir.path().join("made/by/stack");
        let mut s = service("db");
        let mount = |kind, source: Option<&str>, target: &str| ComposeMount {
            kind,
            source: source.map(str::to_string),
            target: target.into(),
            read_only: false,
            create_host_path: true,
        };
        s.volumes = vec![
            mount(MountKind::Bind, created.to_str(), "/data"),
            mount(MountKind::Volume, Some("pg"), "/var/lib/postgresql"),
            mount(MountKind::Tmpfs, None, "/tmp"),
        ];
        let mut p = project("stk-unit", vec![s.clone()]);
        p.volumes.insert(
            "pg".into(),
            Volume {
                name: "stk-unit_pg".into(),
                ..Default::default()
            },
        );
        let got = mounts(&p, &s).unwrap();
        let summary: Vec<_> = got
            .iter()
            .map(|m| (m.typ.unwrap(), m.source.clone(), m.target.clone().unwrap()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    MountType::BIND,
                    Some(created.display().to_string()),
                    "/data".into()
                ),
                (
                    MountType::VOLUME,
                    Some("stk-unit_pg".into()),
                    "/var/lib/postgresql".into()
                ),
                (MountType::TMPFS, None, "/tmp".into()),
            ]
        );
        assert!(created.is_dir(), "create_host_path creates the bind source");

        p.volumes.clear();
        let err = mounts(&p, &s).unwrap_err();
        assert!(
            matches!(err, EngineError::Undeclared { kind: "volume", .. }),
            "{err}"
        );
    }

    #[test]
    fn health_maps_durations_and_disable() {
        let mut s = service("web");
        assert_eq!(health(&s, true), None);
        s.healthcheck = Some(Healthcheck {
            test: vec!["CMD".into(), "true".into()],
            interval: Some(Duration::from_millis(1500)),
            retries: Some(3),
            start_interval: Some(Duration::from_secs(1)),
            ..Default::default()
        });
        let h = health(&s, true).unwrap();
        assert_eq!(h.test.unwrap(), ["CMD", "true"]);
        assert_eq!(h.interval, Some(1_500_000_000));
        assert_eq!(h.retries, Some(3));
        assert_eq!(h.start_interval, Some(1_000_000_000));
        // Engines before API 1.44 do not know `start_interval`.
        assert_eq!(health(&s, false).unwrap().start_interval, None);
        s.healthcheck = Some(Healthcheck {
            disable: true,
            ..Default::default()
        });
        assert_eq!(health(&s, true).unwrap().test.unwrap(), ["NONE"]);
    }

    #[test]
    fn networks_create_on_the_first_and_connect_the_rest() {
        let mut s = service("web");
        s.networks = BTreeMap::from([
            ("back".to_string(), ServiceNetwork::default()),
            (
                "default".to_string(),
                ServiceNetwork {
                    aliases: vec!["web".into(), "www".into()],
                    ipv4_address: Some("172.30.0.5".into()),
                },
            ),
        ]);
        let mut p = project("stk-unit", vec![s.clone()]);
        p.networks.insert(
            "back".into(),
            crate::compose::model::Network {
                name: "stk-unit_back".into(),
                ..Default::default()
            },
        );
        let (primary, extra) = networks(&p, &s, "stk-unit-web-1").unwrap();
        let (name, endpoint) = primary.unwrap();
        assert_eq!(name, "stk-unit_back");
        assert_eq!(endpoint.aliases.unwrap(), ["stk-unit-web-1", "web"]);
        assert_eq!(extra.len(), 1);
        let (name, endpoint) = &extra[0];
        assert_eq!(name, "stk-unit_default");
        // The user's aliases follow the two compose adds, without repeating one.
        assert_eq!(
            endpoint.aliases.as_deref().unwrap(),
            ["stk-unit-web-1", "web", "www"]
        );
        assert_eq!(
            endpoint
                .ipam_config
                .as_ref()
                .unwrap()
                .ipv4_address
                .as_deref(),
            Some("172.30.0.5")
        );

        s.networks
            .insert("nowhere".into(), ServiceNetwork::default());
        let err = networks(&p, &s, "stk-unit-web-1").unwrap_err();
        assert!(
            matches!(
                err,
                EngineError::Undeclared {
                    kind: "network",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn resources_carry_the_host_settings() {
        let mut s = service("web");
        let none = resources(&s);
        assert_eq!(
            (none.cap_add, none.devices, none.restart_policy),
            (None, None, None)
        );
        s.restart = Some("on-failure:2".into());
        s.cap_add = vec!["NET_ADMIN".into()];
        s.extra_hosts = vec![("host.docker.internal".into(), "host-gateway".into())];
        s.devices = vec![Device {
            source: "/dev/dri".into(),
            target: "/dev/dri".into(),
            permissions: "rwm".into(),
        }];
        s.shm_size = Some(1 << 20);
        let r = resources(&s);
        assert_eq!(r.restart_policy.unwrap().maximum_retry_count, Some(2));
        assert_eq!(r.cap_add.unwrap(), ["NET_ADMIN"]);
        assert_eq!(
            r.extra_hosts.unwrap(),
            ["host.docker.internal:host-gateway"]
        );
        assert_eq!(
            r.devices.unwrap()[0].cgroup_permissions.as_deref(),
            Some("rwm")
        );
        assert_eq!(r.shm_size, Some(1 << 20));
        assert_eq!(r.init, Some(true));
    }

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
