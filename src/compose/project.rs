//! The whole file: top-level keys, profiles, cross-service validation and normalisation into
//! `model::Project`.
//!
//! Invariants: validation finishes before anything is returned, so the engine never sees a project
//! that names an unknown service, network or volume or has a dependency cycle; the project holds
//! only active services (profiles) and only the networks and volumes they use (compose drops the
//! rest too); a service without `networks` is on `default`, created as `<project>_default`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::decode::{Ctx, Result};
use super::error::ComposeError;
use super::model::{MountKind, Network, Project, Service, ServiceNetwork, Volume};
use super::service;
use super::yaml::Node;

const TOP_LEVEL_KEYS: &[&str] = &["name", "services", "networks", "volumes", "version"];
const RESOURCE_KEYS: &[&str] = &["name", "external", "driver", "labels"];

// Long by design: one arm per top-level key, in file order, each reporting its own line; the
// arms share the decoding context and the warnings, which helpers would only pass around.
pub(crate) fn decode(
    ctx: &Ctx,
    root: &Node,
    default_project: &str,
    warnings: &mut Vec<String>,
) -> Result<Project> {
    let file = ctx.file.to_owned();
    let mut name = default_project.to_owned();
    let mut services: Vec<service::Decoded> = Vec::new();
    let mut networks = BTreeMap::new();
    let mut volumes = BTreeMap::new();
    let mut network_nodes = Vec::new();
    let mut volume_nodes = Vec::new();
    for (key, v) in ctx.entries(root, "file", "at the top level", TOP_LEVEL_KEYS)? {
        match key.as_str() {
            "name" => {
                name = ctx.string(v, "`name`")?;
                let valid = name
                    .starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && name.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                    });
                if !valid {
                    return Err(ctx.invalid(v, "`name`", format!("`{name}` must be lowercase letters, digits, `-` and `_`, starting with a letter or digit")));
                }
            }
            "version" => warnings.push(format!(
                "The top-level `version` in `{}` is obsolete and ignored",
                file.display()
            )),
            "services" => {
                for (k, node) in ctx.map(v, "`services`")? {
                    let service = ctx.key(k, "`services`")?;
                    services.push(service::decode(ctx, &service, node)?);
                }
            }
            "networks" => network_nodes = ctx.map(v, "`networks`")?.to_vec(),
            _ => volume_nodes = ctx.map(v, "`volumes`")?.to_vec(),
        }
    }
    for (k, v) in &network_nodes {
        let key = ctx.key(k, "`networks`")?;
        let r = resource(ctx, v, &format!("network `{key}`"))?;
        networks.insert(
            key.clone(),
            Network {
                name: engine_name(&name, &key, r.name, r.external),
                external: r.external,
                driver: r.driver,
                labels: r.labels,
            },
        );
    }
    for (k, v) in &volume_nodes {
        let key = ctx.key(k, "`volumes`")?;
        let r = resource(ctx, v, &format!("volume `{key}`"))?;
        volumes.insert(
            key.clone(),
            Volume {
                name: engine_name(&name, &key, r.name, r.external),
                external: r.external,
                driver: r.driver,
                labels: r.labels,
            },
        );
    }

    for s in &services {
        if s.service.image.is_none() && s.service.build.is_none() {
            return Err(ComposeError::NoImage {
                file,
                service: s.service.name.clone(),
            });
        }
    }
    let all: BTreeMap<String, Service> = services
        .into_iter()
        .map(|d| (d.service.name.clone(), d.service))
        .collect();
    let enabled = enabled_profiles(ctx.env);
    let is_active = |s: &Service| {
        s.profiles.is_empty()
            || enabled.contains("*")
            || s.profiles.iter().any(|p| enabled.contains(p.as_str()))
    };
    let mut active: BTreeMap<String, Service> = BTreeMap::new();
    for s in all.values().filter(|s| is_active(s)) {
        let mut s = s.clone();
        let deps = std::mem::take(&mut s.depends_on);
        for (dep, d) in deps {
            match all.get(&dep) {
                None => {
                    return Err(ComposeError::UnknownDependency {
                        file,
                        service: s.name.clone(),
                        closest: crate::error::closest(&dep, all.keys().map(String::as_str))
                            .map(str::to_owned),
                        dependency: dep,
                    });
                }
                Some(target) if !is_active(target) => {
                    if d.required {
                        return Err(ComposeError::InactiveDependency {
                            file,
                            service: s.name.clone(),
                            dependency: dep,
                            profiles: target.profiles.clone(),
                        });
                    }
                    warnings.push(format!(
                        "Service `{}` skips its optional dependency `{dep}`, which is not active (profiles {})",
                        s.name,
                        target.profiles.join(", ")
                    ));
                }
                Some(_) => {
                    s.depends_on.insert(dep, d);
                }
            }
        }
        active.insert(s.name.clone(), s);
    }

    // Networks: default attachment, declared check, keep only the used ones.
    let mut used_networks = BTreeMap::new();
    let mut used_volumes = BTreeMap::new();
    for s in active.values_mut() {
        if s.networks.is_empty() {
            s.networks
                .insert("default".to_owned(), ServiceNetwork::default());
        }
        for net in s.networks.keys() {
            let declared = match networks.get(net) {
                Some(n) => n.clone(),
                None if net == "default" => Network {
                    name: format!("{name}_default"),
                    ..Network::default()
                },
                None => {
                    return Err(ComposeError::UndeclaredNetwork {
                        file,
                        service: s.name.clone(),
                        closest: crate::error::closest(net, networks.keys().map(String::as_str))
                            .map(str::to_owned),
                        network: net.clone(),
                    });
                }
            };
            used_networks.insert(net.clone(), declared);
        }
        for m in &s.volumes {
            let (MountKind::Volume, Some(src)) = (m.kind, &m.source) else {
                continue;
            };
            match volumes.get(src) {
                Some(v) => {
                    used_volumes.insert(src.clone(), v.clone());
                }
                None => {
                    return Err(ComposeError::UndeclaredVolume {
                        file,
                        service: s.name.clone(),
                        closest: crate::error::closest(src, volumes.keys().map(String::as_str))
                            .map(str::to_owned),
                        volume: src.clone(),
                    });
                }
            }
        }
    }

    let project = Project {
        name,
        working_dir: ctx.dir.to_owned(),
        config_files: vec![file],
        services: active,
        networks: used_networks,
        volumes: used_volumes,
    };
    service_order(&project)?;
    Ok(project)
}

/// `COMPOSE_PROFILES` (comma-separated) from the interpolation environment.
fn enabled_profiles(env: &BTreeMap<String, String>) -> BTreeSet<&str> {
    env.get("COMPOSE_PROFILES")
        .map(|p| {
            p.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

struct Resource {
    name: Option<String>,
    external: bool,
    driver: Option<String>,
    labels: BTreeMap<String, String>,
}

fn resource(ctx: &Ctx, node: &Node, what: &str) -> Result<Resource> {
    let mut r = Resource {
        name: None,
        external: false,
        driver: None,
        labels: BTreeMap::new(),
    };
    let what = format!("`{}`", what.replace('`', ""));
    for (key, v) in ctx.entries(node, &what, &format!("in {what}"), RESOURCE_KEYS)? {
        match key.as_str() {
            "name" => r.name = ctx.opt_string(v, &what)?,
            "external" => r.external = ctx.bool(v, &what)?,
            "driver" => r.driver = ctx.opt_string(v, &what)?,
            _ => {
                r.labels = ctx
                    .key_values(v, &what, |_| Some(String::new()))?
                    .into_iter()
                    .map(|(k, v)| (k, v.unwrap_or_default()))
                    .collect();
            }
        }
    }
    Ok(r)
}

/// The engine-side name (model.rs): `name:` if given, the key for external ones, else
/// `<project>_<key>`.
fn engine_name(project: &str, key: &str, name: Option<String>, external: bool) -> String {
    match name {
        Some(n) => n,
        None if external => key.to_owned(),
        None => format!("{project}_{key}"),
    }
}

/// Dependency levels: each inner list can start once all earlier levels are up.
pub fn service_order(project: &Project) -> std::result::Result<Vec<Vec<String>>, ComposeError> {
    let deps: BTreeMap<String, Vec<String>> = project
        .services
        .iter()
        .map(|(k, s)| (k.clone(), s.depends_on.keys().cloned().collect()))
        .collect();
    crate::order::levels(&deps).map_err(|cycle| ComposeError::DependencyCycle {
        file: project
            .config_files
            .first()
            .cloned()
            .unwrap_or_else(|| Path::new("docker-compose.yml").to_owned()),
        members: cycle.path,
    })
}
