//! The labels `docker compose` v2 puts on its objects, and the config hash.
//!
//! Keys and value formats were checked against Compose v2.40.3 (`docker inspect` of a project it
//! created): `oneoff` is the string `False`, `image` is the image ID (`sha256:…`), `depends_on` is
//! `svc:condition:restart` joined by commas, `config_files` is comma-joined absolute paths. With
//! these, `docker compose -p <project> ps/down` treat our containers as theirs. The hash value is
//! ours (compose's own hash covers its internal model), so `docker compose up` on the same file
//! would recreate; `stack` never relies on compose recreating or not.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::compose::model::{Condition, Project, Service};
use crate::namespace::Namespace;

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const CONTAINER_NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const VERSION: &str = "com.docker.compose.version";
pub const IMAGE: &str = "com.docker.compose.image";
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";

/// What `com.docker.compose.version` says on our objects. Compose only displays it; a compose-like
/// value keeps tools that parse it as semver happy, the suffix says who made the object.
pub const COMPOSE_VERSION: &str = "2.40.3";

/// The label filter selecting every object of a project (containers, networks, volumes).
pub fn project_filter(project: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![format!("{PROJECT}={project}")])])
}

/// Labels of the service's container: the service's own labels, then compose's and the instance's
/// (which win).
pub fn container_labels(
    ns: &Namespace,
    project: &Project,
    service: &Service,
    image_id: &str,
    hash: &str,
) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = service
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let config_files = project
        .config_files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(",");
    for (k, v) in [
        (PROJECT, project.name.clone()),
        (SERVICE, service.name.clone()),
        (CONFIG_HASH, hash.to_string()),
        (CONTAINER_NUMBER, "1".to_string()),
        (ONEOFF, "False".to_string()),
        (WORKING_DIR, project.working_dir.display().to_string()),
        (CONFIG_FILES, config_files),
        (VERSION, COMPOSE_VERSION.to_string()),
        (IMAGE, image_id.to_string()),
        (DEPENDS_ON, depends_on_label(service)),
    ] {
        labels.insert(k.to_string(), v);
    }
    labels.extend(ns.labels());
    labels
}

/// `db:service_healthy:false,cache:service_started:true` (compose's format; the last field is
/// the dependency's `restart`).
pub fn depends_on_label(service: &Service) -> String {
    service
        .depends_on
        .iter()
        .map(|(name, dep)| {
            let condition = match dep.condition {
                Condition::ServiceStarted => "service_started",
                Condition::ServiceHealthy => "service_healthy",
                Condition::ServiceCompletedSuccessfully => "service_completed_successfully",
            };
            format!("{name}:{condition}:{}", dep.restart)
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Service names a container's `depends_on` label names (for ordering without the compose file).
pub fn parse_depends_on(label: &str) -> Vec<String> {
    label
        .split(',')
        .filter_map(|entry| entry.split(':').next())
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// A network's or volume's labels: the user's own, then compose's (`kind` is [`NETWORK`] or
/// [`VOLUME`], the label naming the resource's key) and the instance's, which win.
pub fn resource_labels(
    ns: &Namespace,
    project: &str,
    (kind, key): (&str, &str),
    own: &BTreeMap<String, String>,
) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = own.clone().into_iter().collect();
    labels.insert(kind.into(), key.into());
    labels.insert(PROJECT.into(), project.into());
    labels.insert(VERSION.into(), COMPOSE_VERSION.into());
    labels.extend(ns.labels());
    labels
}

/// Everything that determines the container, hashed: the service as normalised (its JSON is
/// deterministic: `BTreeMap`s), the image ID it will run (a re-pulled or rebuilt image changes the
/// container), and the engine names its network and volume keys resolve to.
pub fn config_hash(project: &Project, service: &Service, image_id: &str) -> String {
    #[derive(Serialize)]
    struct Input<'a> {
        service: &'a Service,
        image_id: &'a str,
        networks: BTreeMap<&'a str, &'a str>,
        volumes: BTreeMap<&'a str, &'a str>,
    }
    let networks = service
        .networks
        .keys()
        .filter_map(|k| {
            project
                .networks
                .get(k)
                .map(|n| (k.as_str(), n.name.as_str()))
        })
        .collect();
    let volumes = service
        .volumes
        .iter()
        .filter_map(|m| m.source.as_deref())
        .filter_map(|k| project.volumes.get(k).map(|v| (k, v.name.as_str())))
        .collect();
    let input = Input {
        service,
        image_id,
        networks,
        volumes,
    };
    // Serialising plain data with string keys cannot fail.
    let json = serde_json::to_string(&input).unwrap_or_default();
    format!("{:x}", Sha256::digest(json.as_bytes()))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn depends_on_round_trip() {
        assert_eq!(
            parse_depends_on("db:service_healthy:false,cache:service_started:true"),
            ["db", "cache"]
        );
        assert!(parse_depends_on("").is_empty());
    }
}
