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
/// Ours: per-aspect hashes of what [`config_hash`] covers, so `stack plan` can say *why* a
/// container would be recreated (docs/engine.md, "Plan").
pub const ASPECTS: &str = "io.stack.config-aspects";

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
        (ASPECTS, aspects_label(project, service, image_id)),
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

fn short_hash(json: &str) -> String {
    format!("{:x}", Sha256::digest(json.as_bytes()))[..16].to_string()
}

/// The parts of a service's configuration, each hashed on its own: `image` (the image ID),
/// `env:<KEY>` per environment variable (the value's hash, never the value), `ports`, `mounts`,
/// and `other` (everything else the config hash covers). Two containers with equal aspects have
/// equal config hashes; the converse is what [`changed_aspects`] reports on.
pub fn aspects(project: &Project, service: &Service, image_id: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    out.insert("image".to_string(), short_hash(image_id));
    for (key, value) in &service.environment {
        let json = serde_json::to_string(value).unwrap_or_default();
        out.insert(format!("env:{key}"), short_hash(&json));
    }
    // Plain data with string keys: serialising cannot fail.
    let ports = serde_json::to_string(&service.ports).unwrap_or_default();
    let mounts = serde_json::to_string(&service.volumes).unwrap_or_default();
    out.insert("ports".into(), short_hash(&ports));
    out.insert("mounts".into(), short_hash(&mounts));
    let mut rest = service.clone();
    rest.environment.clear();
    rest.ports.clear();
    rest.volumes.clear();
    // The rest, with the engine names of networks and volumes (as in the config hash).
    out.insert(
        "other".into(),
        config_hash(project, &rest, "")[..16].to_string(),
    );
    out
}

/// The [`ASPECTS`] label's value: `aspects` as compact JSON.
pub fn aspects_label(project: &Project, service: &Service, image_id: &str) -> String {
    serde_json::to_string(&aspects(project, service, image_id)).unwrap_or_default()
}

/// Which aspects differ between a container's [`ASPECTS`] label and the desired ones, as reasons
/// (`image changed`, `env key X changed`, `env key X added`, …). `None` when the container has no
/// readable label (made before `stack` recorded aspects, or by another tool).
pub fn changed_aspects(
    label: Option<&str>,
    desired: &BTreeMap<String, String>,
) -> Option<Vec<String>> {
    let current: BTreeMap<String, String> = serde_json::from_str(label?).ok()?;
    let mut reasons = Vec::new();
    let describe = |key: &str, what: &str| match key.strip_prefix("env:") {
        Some(var) => format!("env key {var} {what}"),
        None if key == "other" => "compose file edited".to_string(),
        None => format!("{key} {what}"),
    };
    for (key, want) in desired {
        match current.get(key) {
            None => reasons.push(describe(key, "added")),
            Some(have) if have != want => reasons.push(describe(key, "changed")),
            Some(_) => {}
        }
    }
    for key in current.keys().filter(|k| !desired.contains_key(*k)) {
        reasons.push(describe(key, "removed"));
    }
    reasons.dedup();
    Some(reasons)
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

    #[test]
    fn changed_aspects_name_the_env_key_and_never_its_value() {
        let have = BTreeMap::from([
            ("image".to_string(), "a".to_string()),
            ("env:TOKEN".to_string(), "x".to_string()),
            ("env:OLD".to_string(), "y".to_string()),
            ("ports".to_string(), "p".to_string()),
        ]);
        let label = serde_json::to_string(&have).unwrap();
        let mut want = have.clone();
        want.insert("env:TOKEN".into(), "z".into());
        want.remove("env:OLD");
        want.insert("ports".into(), "q".into());
        assert_eq!(
            changed_aspects(Some(&label), &want).unwrap(),
            [
                "env key TOKEN changed",
                "ports changed",
                "env key OLD removed"
            ]
        );
        assert_eq!(
            changed_aspects(Some(&label), &have).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(changed_aspects(None, &have), None);
    }
}
