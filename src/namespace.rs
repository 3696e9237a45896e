//! An instance's place on the Docker host: the one owner of every engine-side name `stack` gives
//! an object (compose project, container, network, volume), of the instance label that marks
//! what belongs to whom, and of the host port offset (docs/engine.md, "Instances").
//!
//! Invariants:
//! - The default instance (no `STACK_DIR`, or `STACK_DIR` = the repo root) uses the names the
//!   compose files use: project `stack-<id>`, the files' `container_name`s,
//!   network `stack`. Plain `docker compose -p stack-<id>` keeps working there.
//! - Every other instance prefixes each name with `<instance>_`. An instance name is lowercase
//!   letters, digits and `-`; stacklet ids never contain `_`, so no prefixed name can equal a
//!   default one or one of another instance.
//! - Everything `stack` creates carries `io.stack.instance` (and the instance dir); an object
//!   without the label belongs to the default instance (made before the label existed, or by
//!   `docker compose`). No instance adopts or removes an object another instance owns.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::compose::model::Project;

/// Label naming the instance an object belongs to (`default` for the default instance).
pub const INSTANCE_LABEL: &str = "io.stack.instance";
/// Label holding the instance directory, so two instances that chose one name still differ.
pub const INSTANCE_DIR_LABEL: &str = "io.stack.instance.dir";
/// The label value, and the reserved name, of the default instance.
pub const DEFAULT_INSTANCE: &str = "default";
/// The shared network of the default instance; other instances get `<instance>_stack`.
pub const STACK_NETWORK: &str = "stack";
/// Longest instance name kept (Docker names stay well under the engine's limits).
const MAX_NAME: usize = 32;

/// The compose project of stacklet `id` as a compose file names it (`name: stack-<id>`), which is
/// also its engine name in the default instance.
pub fn compose_project(id: &str) -> String {
    format!("stack-{id}")
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    /// `None`: the default instance.
    instance: Option<String>,
    /// The instance directory (recorded in a label; checked for non-default instances).
    dir: PathBuf,
    /// Added to every published host port.
    port_offset: u16,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NamespaceError {
    #[error("Port {port} of service `{service}` plus `[core].port_offset` {offset} is above 65535")]
    PortOverflow {
        service: String,
        port: u16,
        offset: u16,
    },
}

impl Namespace {
    /// The default instance's namespace (today's names), with `port_offset`.
    pub fn default_instance(dir: &Path, port_offset: u16) -> Self {
        Self {
            instance: None,
            dir: dir.to_path_buf(),
            port_offset,
        }
    }

    /// A separate instance named `name` (already checked by [`valid_name`] or made by
    /// [`safe_name`]).
    pub fn named(name: &str, dir: &Path, port_offset: u16) -> Self {
        Self {
            instance: Some(name.to_string()),
            dir: dir.to_path_buf(),
            port_offset,
        }
    }

    pub fn is_default(&self) -> bool {
        self.instance.is_none()
    }

    /// The instance's name as its label says it: `default`, or the chosen name.
    pub fn name(&self) -> &str {
        self.instance.as_deref().unwrap_or(DEFAULT_INSTANCE)
    }

    pub fn port_offset(&self) -> u16 {
        self.port_offset
    }

    /// `name` with this instance's prefix (containers, networks and volumes).
    fn object(&self, name: &str) -> String {
        match &self.instance {
            None => name.to_string(),
            Some(instance) => format!("{instance}_{name}"),
        }
    }

    /// The compose project of stacklet `id` on the engine.
    pub fn project(&self, id: &str) -> String {
        self.object(&compose_project(id))
    }

    /// The engine name of the container a compose file calls `container_name`. Hooks, Caddy and
    /// `ctx.exec` name containers as the file does; this is where they are found.
    pub fn container(&self, container_name: &str) -> String {
        self.object(container_name)
    }

    /// The instance's shared network (`stack` in the default instance).
    pub fn network(&self) -> String {
        self.object(STACK_NETWORK)
    }

    /// A host port as this instance publishes it. `None` when the offset pushes it past 65535.
    pub fn host_port(&self, port: u16) -> Option<u16> {
        port.checked_add(self.port_offset)
    }

    /// `url` with its port moved by the offset when it points at this machine (`localhost` or
    /// `127.0.0.1`) on one of `declared` (the stacklet's ports as `stacklet.toml` declares them).
    /// Anything else is returned unchanged: other hosts, other ports, no port at all.
    pub fn local_url(&self, url: &str, declared: &[u16]) -> String {
        if self.port_offset == 0 {
            return url.to_string();
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.to_string();
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let Some((host, port)) = authority.rsplit_once(':') else {
            return url.to_string();
        };
        let local = host == "localhost" || host == "127.0.0.1";
        match (local, port.parse::<u16>()) {
            (true, Ok(port)) if declared.contains(&port) => match self.host_port(port) {
                Some(moved) => format!("{scheme}://{host}:{moved}{tail}"),
                None => url.to_string(),
            },
            _ => url.to_string(),
        }
    }

    /// The labels every object of this instance carries.
    pub fn labels(&self) -> [(String, String); 2] {
        [
            (INSTANCE_LABEL.to_string(), self.name().to_string()),
            (
                INSTANCE_DIR_LABEL.to_string(),
                self.dir.display().to_string(),
            ),
        ]
    }

    /// Whose an object with these labels is: `None` when it is this instance's, else a description
    /// of its owner for an error message (``instance `test` (`/tmp/test`)``).
    pub fn foreign_owner(&self, labels: &HashMap<String, String>) -> Option<String> {
        let dir = labels.get(INSTANCE_DIR_LABEL);
        let describe = |name: &str| match dir {
            Some(dir) => format!("instance `{name}` (`{dir}`)"),
            None => format!("instance `{name}`"),
        };
        match (
            labels.get(INSTANCE_LABEL).map(String::as_str),
            &self.instance,
        ) {
            // Unlabelled: made before instances had labels, or by `docker compose` directly.
            (None, None) => None,
            (None, Some(_)) => Some("no `stack` instance (it has no instance label)".into()),
            (Some(DEFAULT_INSTANCE), None) => None,
            (Some(DEFAULT_INSTANCE), Some(_)) => Some("the default instance".into()),
            (Some(other), None) => Some(describe(other)),
            (Some(other), Some(mine)) if other != mine => Some(describe(other)),
            // Same name: also the same directory, unless the label predates it.
            (Some(other), Some(_)) => dir
                .filter(|d| Path::new(d.as_str()) != self.dir)
                .map(|_| describe(other)),
        }
    }

    /// Rename a loaded compose project of stacklet `id` into this instance: project, container,
    /// network and volume names get the prefix, the names the compose file gave its containers
    /// stay reachable as aliases on the instance's own networks, and published host ports move
    /// by the offset. External networks and volumes other than `stack` are the user's and keep
    /// their names.
    pub fn localise(&self, project: &mut Project, id: &str) -> Result<(), NamespaceError> {
        let file_project = project.name.clone();
        project.name = self.project(id);
        let mut own_networks = Vec::new();
        for (key, network) in &mut project.networks {
            if network.external && network.name != STACK_NETWORK {
                continue;
            }
            network.name = self.object(&network.name);
            own_networks.push(key.clone());
        }
        for volume in project.volumes.values_mut() {
            if !volume.external {
                volume.name = self.object(&volume.name);
            }
        }
        for service in project.services.values_mut() {
            for port in &mut service.ports {
                if let Some(published) = port.published {
                    port.published = Some(self.host_port(published).ok_or_else(|| {
                        NamespaceError::PortOverflow {
                            service: service.name.clone(),
                            port: published,
                            offset: self.port_offset,
                        }
                    })?);
                }
            }
            if self.is_default() {
                continue;
            }
            let file_name = service
                .container_name
                .clone()
                .unwrap_or_else(|| format!("{file_project}-{}-1", service.name));
            service.container_name = Some(self.container(&file_name));
            for (key, attachment) in &mut service.networks {
                if own_networks.contains(key) && !attachment.aliases.contains(&file_name) {
                    attachment.aliases.push(file_name.clone());
                }
            }
        }
        Ok(())
    }
}

/// Who an object belongs to, as a person reads it, judged by its labels alone: ``instance `test` ``,
/// `the default instance`, ``compose project `x` ``; `None` for an object `stack` and compose
/// never labelled.
pub fn describe_owner(labels: &HashMap<String, String>) -> Option<String> {
    match labels.get(INSTANCE_LABEL).map(String::as_str) {
        Some(DEFAULT_INSTANCE) => Some("the default instance".into()),
        Some(name) => Some(match labels.get(INSTANCE_DIR_LABEL) {
            Some(dir) => format!("instance `{name}` (`{dir}`)"),
            None => format!("instance `{name}`"),
        }),
        None => labels
            .get("com.docker.compose.project")
            .map(|p| format!("compose project `{p}`")),
    }
}

/// Whether `name` may be written as `[core].instance`: lowercase letters, digits and `-`,
/// starting with a letter or digit, at most 32 characters, and not `default`.
pub fn valid_name(name: &str) -> bool {
    name.len() <= MAX_NAME
        && name != DEFAULT_INSTANCE
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A directory name made into a valid instance name: lowercased, every run of other characters
/// turned into one `-`, trimmed, cut to 32 characters; `instance` when nothing is left, and
/// `default-instance` for a directory called `default`.
pub fn safe_name(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut name: String = out.trim_matches('-').chars().take(MAX_NAME).collect();
    while name.ends_with('-') {
        name.pop();
    }
    match name.as_str() {
        "" => "instance".into(),
        DEFAULT_INSTANCE => "default-instance".into(),
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{Network, PortMapping, Service, ServiceNetwork, Volume};
    use std::collections::BTreeMap;

    fn ns() -> Namespace {
        Namespace::named("test", Path::new("/tmp/test"), 1000)
    }

    #[test]
    fn default_instance_keeps_the_reference_names() {
        let d = Namespace::default_instance(Path::new("/repo"), 0);
        assert_eq!(d.project("photos"), "stack-photos");
        assert_eq!(d.container("stack-photos-server"), "stack-photos-server");
        assert_eq!(d.network(), "stack");
        assert_eq!(d.name(), "default");
    }

    #[test]
    fn other_instances_prefix_every_name() {
        let t = ns();
        assert_eq!(t.project("photos"), "test_stack-photos");
        assert_eq!(
            t.container("stack-photos-server"),
            "test_stack-photos-server"
        );
        assert_eq!(t.network(), "test_stack");
        // No prefixed name equals a default one: ids never contain `_`.
        assert_ne!(t.project("photos"), compose_project("test-photos"));
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(safe_name("My Test.Dir"), "my-test-dir");
        assert_eq!(safe_name("tmp.A1b2"), "tmp-a1b2");
        assert_eq!(safe_name("__"), "instance");
        assert_eq!(safe_name("Default"), "default-instance");
        assert_eq!(safe_name(&"x".repeat(40)).len(), 32);
        assert_eq!(safe_name("a_b-"), "a-b");
        assert!(valid_name("drill-1"));
        for bad in ["Drill", "-x", "a_b", "default", ""] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn ownership_follows_the_label_and_dir() {
        let labels = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let d = Namespace::default_instance(Path::new("/repo"), 0);
        let t = ns();
        let none = labels(&[]);
        assert_eq!(d.foreign_owner(&none), None);
        assert!(t.foreign_owner(&none).is_some());
        let of_default = labels(&[(INSTANCE_LABEL, "default")]);
        assert_eq!(d.foreign_owner(&of_default), None);
        assert_eq!(
            t.foreign_owner(&of_default).as_deref(),
            Some("the default instance")
        );
        let of_test = labels(&[(INSTANCE_LABEL, "test"), (INSTANCE_DIR_LABEL, "/tmp/test")]);
        assert_eq!(t.foreign_owner(&of_test), None);
        assert_eq!(
            d.foreign_owner(&of_test).as_deref(),
            Some("instance `test` (`/tmp/test`)")
        );
        // Same name, another directory: another instance.
        let twin = Namespace::named("test", Path::new("/elsewhere/test"), 0);
        assert!(twin.foreign_owner(&of_test).is_some());
    }

    fn project() -> Project {
        let mut web = Service {
            name: "web".into(),
            container_name: Some("stack-photos-web".into()),
            ports: vec![PortMapping {
                target: 80,
                published: Some(42010),
                host_ip: None,
                protocol: "tcp".into(),
            }],
            ..Service::default()
        };
        web.networks
            .insert("stack".into(), ServiceNetwork::default());
        web.networks
            .insert("default".into(), ServiceNetwork::default());
        web.networks.insert("lan".into(), ServiceNetwork::default());
        let mut db = Service {
            name: "db".into(),
            ..Service::default()
        };
        db.networks
            .insert("default".into(), ServiceNetwork::default());
        let external = |name: &str| Network {
            name: name.into(),
            external: true,
            ..Network::default()
        };
        Project {
            name: "stack-photos".into(),
            working_dir: "/repo/stacklets/photos".into(),
            config_files: vec![],
            services: BTreeMap::from([("web".into(), web), ("db".into(), db)]),
            networks: BTreeMap::from([
                ("stack".into(), external("stack")),
                ("lan".into(), external("lan")),
                (
                    "default".into(),
                    Network {
                        name: "stack-photos_default".into(),
                        ..Network::default()
                    },
                ),
            ]),
            volumes: BTreeMap::from([(
                "data".into(),
                Volume {
                    name: "stack-photos_data".into(),
                    ..Volume::default()
                },
            )]),
        }
    }

    #[test]
    fn localise_renames_and_keeps_the_file_names_as_aliases() {
        let mut p = project();
        ns().localise(&mut p, "photos").unwrap();
        assert_eq!(p.name, "test_stack-photos");
        assert_eq!(p.networks["stack"].name, "test_stack");
        assert_eq!(p.networks["default"].name, "test_stack-photos_default");
        assert_eq!(p.networks["lan"].name, "lan", "the user's external network");
        assert_eq!(p.volumes["data"].name, "test_stack-photos_data");
        let web = &p.services["web"];
        assert_eq!(web.container_name.as_deref(), Some("test_stack-photos-web"));
        assert_eq!(web.networks["stack"].aliases, ["stack-photos-web"]);
        assert_eq!(web.networks["default"].aliases, ["stack-photos-web"]);
        assert!(web.networks["lan"].aliases.is_empty());
        assert_eq!(web.ports[0].published, Some(43010));
        let db = &p.services["db"];
        assert_eq!(db.container_name.as_deref(), Some("test_stack-photos-db-1"));
        assert_eq!(db.networks["default"].aliases, ["stack-photos-db-1"]);
    }

    #[test]
    fn default_instance_only_moves_ports() {
        let mut p = project();
        let before = p.clone();
        Namespace::default_instance(Path::new("/repo"), 0)
            .localise(&mut p, "photos")
            .unwrap();
        assert_eq!(p, before);
        Namespace::default_instance(Path::new("/repo"), 5)
            .localise(&mut p, "photos")
            .unwrap();
        assert_eq!(p.services["web"].ports[0].published, Some(42015));
        assert_eq!(
            p.services["web"].container_name,
            before.services["web"].container_name
        );
    }

    #[test]
    fn local_urls_on_declared_ports_move_by_the_offset() {
        let t = ns();
        let declared = [42010, 42011];
        assert_eq!(
            t.local_url("http://localhost:42010/api/ping?x=1", &declared),
            "http://localhost:43010/api/ping?x=1"
        );
        assert_eq!(
            t.local_url("http://127.0.0.1:42011", &declared),
            "http://127.0.0.1:43011"
        );
        for unchanged in [
            "http://localhost:42062/",
            "http://photos.home:42010/",
            "http://localhost/",
            "not a url",
        ] {
            assert_eq!(t.local_url(unchanged, &declared), unchanged);
        }
        let d = Namespace::default_instance(Path::new("/repo"), 0);
        assert_eq!(
            d.local_url("http://localhost:42010/", &declared),
            "http://localhost:42010/"
        );
    }

    #[test]
    fn an_offset_past_the_last_port_is_an_error() {
        let mut p = project();
        let err = Namespace::named("x", Path::new("/x"), 30000)
            .localise(&mut p, "photos")
            .unwrap_err();
        assert!(err.to_string().contains("42010"), "{err}");
    }
}
