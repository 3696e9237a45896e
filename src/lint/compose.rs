//! Compose rules over the raw YAML of `docker-compose.yml`: project and container names, the
//! external `stack` network, port bindings, the Watchtower label, the restart policy, bind mounts
//! and healthchecks of databases and caches. Then the runtime's own loader runs over the file with
//! a placeholder environment, so anything `stack up` would refuse is reported here too.

use std::collections::BTreeMap;

use super::{Finding, Input, PORT_RANGE, Rule, Severity, declared_ports, line_containing};
use crate::compose::yaml::{self, Node, Value};
use crate::stacklet::Stacklet;

pub(crate) const PORT_PREFIX: &str = "${PORT_BIND_IP:-127.0.0.1}:";
pub(crate) const WATCHTOWER_KEY: &str = "com.centurylinklabs.watchtower.enable";
pub(crate) const WATCHTOWER_VALUE: &str = "${WATCHTOWER_ENABLE:-true}";

/// Image names (without registry or tag) that mark a database or cache: these need a healthcheck
/// so dependents can wait with `condition: service_healthy`.
const DATA_SERVICES: &[&str] = &[
    "postgres",
    "postgis",
    "mysql",
    "mariadb",
    "redis",
    "valkey",
    "keydb",
    "dragonfly",
    "mongo",
    "memcached",
    "couchdb",
    "cassandra",
    "clickhouse",
    "influxdb",
    "elasticsearch",
    "opensearch",
];

/// The compose file of a stacklet directory, as `Stacklet::compose_file` finds it.
fn compose_file(input: &Input) -> Option<String> {
    [
        "docker-compose.yml",
        "docker-compose.yaml",
        "compose.yaml",
        "compose.yml",
    ]
    .into_iter()
    .find(|n| input.dir.join(n).is_file())
    .map(str::to_string)
}

fn entries(node: &Node) -> &[(Node, Node)] {
    match &node.value {
        Value::Map(e) => e,
        _ => &[],
    }
}

fn get<'a>(node: &'a Node, key: &str) -> Option<(&'a Node, &'a Node)> {
    entries(node)
        .iter()
        .find(|(k, _)| k.scalar().as_deref() == Some(key))
        .map(|(k, v)| (k, v))
}

fn items(node: &Node) -> &[Node] {
    match &node.value {
        Value::Seq(items) => items,
        _ => &[],
    }
}

pub(super) fn check(input: &Input, out: &mut Vec<Finding>) {
    // A host stacklet may have no containers; a docker one without a compose file is a manifest
    // error (`manifest::check_has_something_to_run`), reported as a broken stacklet.
    let Some(name) = compose_file(input) else {
        return;
    };
    let file = input.file(&name);
    let path = input.dir.join(&name);
    let Ok(src) = std::fs::read_to_string(&path) else {
        out.push(finding(
            &file,
            1,
            Rule::Compose,
            "Cannot read the file".into(),
        ));
        return;
    };
    let root = match yaml::parse_raw(&src) {
        Ok(root) => root,
        Err(e) => {
            let (line, message) = match e {
                yaml::ReadError::Required { line, message, .. } => (line, message),
                yaml::ReadError::Syntax(message) => (1, message),
            };
            out.push(finding(
                &file,
                line,
                Rule::Compose,
                format!("Invalid YAML: {message}"),
            ));
            return;
        }
    };
    let mut lint = ComposeLint {
        input,
        file: &file,
        src: &src,
        out,
    };
    lint.project(&root);
    lint.services(&root);
    lint.load(&path);
}

fn finding(file: &str, line: u64, rule: Rule, message: String) -> Finding {
    Finding {
        file: file.to_string(),
        line: line.max(1),
        severity: Severity::Error,
        rule,
        message,
    }
}

struct ComposeLint<'a, 'b> {
    input: &'a Input<'b>,
    file: &'a str,
    src: &'a str,
    out: &'a mut Vec<Finding>,
}

impl ComposeLint<'_, '_> {
    fn error(&mut self, line: u64, rule: Rule, message: String) {
        self.out.push(finding(self.file, line, rule, message));
    }

    fn warn(&mut self, line: u64, rule: Rule, message: String) {
        let mut f = finding(self.file, line, rule, message);
        f.severity = Severity::Warning;
        self.out.push(f);
    }

    fn project(&mut self, root: &Node) {
        let want = crate::namespace::compose_project(self.input.id);
        match get(root, "name") {
            None => self.error(
                1,
                Rule::ProjectName,
                format!("No top-level `name`; set `name: {want}`"),
            ),
            Some((_, v)) if v.scalar().as_deref() != Some(&want) => self.error(
                v.line,
                Rule::ProjectName,
                format!(
                    "Project name `{}` must be `{want}`",
                    v.scalar().unwrap_or_default()
                ),
            ),
            Some(_) => {}
        }
        let external = get(root, "networks")
            .and_then(|(_, n)| get(n, "stack"))
            .map(|(k, n)| (k.line, get(n, "external").map(|(_, e)| e.value.clone())));
        match external {
            None => self.error(
                get(root, "networks").map_or(1, |(k, _)| k.line),
                Rule::Network,
                "The `stack` network is not declared; add `networks: {stack: {external: true}}`"
                    .into(),
            ),
            Some((_, Some(Value::Bool(true)))) => {}
            Some((line, _)) => self.error(
                line,
                Rule::Network,
                "The `stack` network must be `external: true` (`stack init` creates it)".into(),
            ),
        }
    }

    fn services(&mut self, root: &Node) {
        let Some((services_key, services)) = get(root, "services") else {
            self.error(1, Rule::Compose, "No `services`".into());
            return;
        };
        let count = entries(services).len();
        if count == 0 {
            self.error(services_key.line, Rule::Compose, "No services".into());
        }
        for (key, service) in entries(services) {
            let name = key.scalar().unwrap_or_default();
            self.container_name(&name, key.line, service, count);
            self.network(&name, key.line, service);
            self.ports(&name, service);
            self.watchtower(&name, key.line, service);
            self.restart(&name, key.line, service);
            self.volumes(&name, service);
            self.healthcheck(&name, key.line, service);
            self.image_tag(&name, service);
        }
    }

    fn container_name(&mut self, name: &str, line: u64, service: &Node, count: usize) {
        let id = self.input.id;
        let bare = crate::namespace::compose_project(id);
        if name != bare && !name.starts_with(&format!("{bare}-")) {
            self.error(
                line,
                Rule::ContainerName,
                format!("Service `{name}` must be named `{bare}-<service>` (or `{bare}` when it is the only one)"),
            );
        } else if name == bare && count > 1 {
            self.warn(
                line,
                Rule::ContainerName,
                format!("Service `{name}` has no suffix although the stacklet has {count} services; name it `{bare}-<service>`"),
            );
        }
        match get(service, "container_name") {
            None => self.error(
                line,
                Rule::ContainerName,
                format!("Service `{name}` has no `container_name`; set `container_name: {name}`"),
            ),
            Some((_, v)) if v.scalar().as_deref() != Some(name) => self.error(
                v.line,
                Rule::ContainerName,
                format!(
                    "`container_name` `{}` must equal the service key `{name}`",
                    v.scalar().unwrap_or_default()
                ),
            ),
            Some(_) => {}
        }
    }

    fn network(&mut self, name: &str, line: u64, service: &Node) {
        let on_stack = get(service, "networks").is_some_and(|(_, n)| match &n.value {
            Value::Seq(items) => items.iter().any(|i| i.scalar().as_deref() == Some("stack")),
            Value::Map(_) => get(n, "stack").is_some(),
            _ => false,
        });
        if !on_stack {
            let line = get(service, "networks").map_or(line, |(k, _)| k.line);
            self.error(
                line,
                Rule::Network,
                format!("Service `{name}` is not on the `stack` network"),
            );
        }
    }

    fn ports(&mut self, name: &str, service: &Node) {
        let Some((_, ports)) = get(service, "ports") else {
            return;
        };
        let declared = declared_ports(self.input.manifest);
        let shown = declared
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        for item in items(ports) {
            let Value::Str(text) = &item.value else {
                self.error(
                    item.line,
                    Rule::Ports,
                    format!("Service `{name}`: write ports in the short form `\"{PORT_PREFIX}<host>:<container>\"`"),
                );
                continue;
            };
            let Some((host, _container)) = parse_port(text) else {
                self.error(
                    item.line,
                    Rule::Ports,
                    format!("Port `{text}` of service `{name}` must be exactly `{PORT_PREFIX}<host>:<container>`"),
                );
                continue;
            };
            if !PORT_RANGE.contains(&host) {
                self.error(
                    item.line,
                    Rule::Ports,
                    format!("Host port {host} of service `{name}` is outside 42000–42999"),
                );
            } else if !declared.contains(&host) {
                let hint = if shown.is_empty() {
                    "the manifest declares no `port` or `[ports]`".to_string()
                } else {
                    format!("the manifest declares {shown}")
                };
                self.error(
                    item.line,
                    Rule::Ports,
                    format!("Host port {host} of service `{name}` is not the manifest's `port`/`[ports]` ({hint})"),
                );
            }
        }
    }

    fn watchtower(&mut self, name: &str, line: u64, service: &Node) {
        let labels = get(service, "labels");
        let found: Option<(u64, String)> = labels.and_then(|(_, l)| match &l.value {
            Value::Seq(items) => items.iter().find_map(|i| {
                let text = i.scalar()?;
                let (k, v) = text.split_once('=').unwrap_or((&text, ""));
                (k == WATCHTOWER_KEY).then(|| (i.line, v.to_string()))
            }),
            Value::Map(_) => {
                get(l, WATCHTOWER_KEY).map(|(_, v)| (v.line, v.scalar().unwrap_or_default()))
            }
            _ => None,
        });
        match found {
            None => self.error(
                labels.map_or(line, |(k, _)| k.line),
                Rule::Watchtower,
                format!("Service `{name}` lacks the label `{WATCHTOWER_KEY}={WATCHTOWER_VALUE}`"),
            ),
            Some((line, value)) if value != WATCHTOWER_VALUE => self.error(
                line,
                Rule::Watchtower,
                format!("The Watchtower label of service `{name}` must be `{WATCHTOWER_KEY}={WATCHTOWER_VALUE}`"),
            ),
            Some(_) => {}
        }
    }

    fn restart(&mut self, name: &str, line: u64, service: &Node) {
        match get(service, "restart") {
            None => self.error(
                line,
                Rule::Restart,
                format!("Service `{name}` has no `restart: unless-stopped`"),
            ),
            Some((_, v)) if v.scalar().as_deref() != Some("unless-stopped") => self.error(
                v.line,
                Rule::Restart,
                format!(
                    "Service `{name}` must use `restart: unless-stopped`, not `{}`",
                    v.scalar().unwrap_or_default()
                ),
            ),
            Some(_) => {}
        }
    }

    fn volumes(&mut self, name: &str, service: &Node) {
        let Some((_, volumes)) = get(service, "volumes") else {
            return;
        };
        for item in items(volumes) {
            let (kind, source) = match &item.value {
                Value::Str(text) => short_volume(text),
                Value::Map(_) => {
                    let kind = get(item, "type")
                        .and_then(|(_, t)| t.scalar())
                        .unwrap_or_default();
                    let source = get(item, "source").and_then(|(_, s)| s.scalar());
                    match (kind.as_str(), source) {
                        ("bind", Some(s)) => (MountSource::Bind, s),
                        ("volume", Some(s)) => (MountSource::Named, s),
                        ("volume", None) => (MountSource::Anonymous, String::new()),
                        _ => continue,
                    }
                }
                _ => continue,
            };
            match kind {
                MountSource::Anonymous => self.warn(
                    item.line,
                    Rule::Volumes,
                    format!("Service `{name}` uses an anonymous volume; bind-mount a directory from a variable below `{{data_dir}}/{}/` instead", self.input.id),
                ),
                MountSource::Named => self.warn(
                    item.line,
                    Rule::Volumes,
                    format!("Service `{name}` uses the named volume `{source}`; bind mounts below `{{data_dir}}/{}/` are visible and easy to back up", self.input.id),
                ),
                MountSource::Bind if !source.starts_with('$') => self.error(
                    item.line,
                    Rule::Volumes,
                    format!("Service `{name}` bind-mounts the hard-coded path `{source}`; take it from a variable rendered in `[env.defaults]`"),
                ),
                MountSource::Bind => self.bind_below_data_dir(name, item.line, &source),
            }
        }
    }

    /// A bind source `${VAR}` whose `[env.defaults]` template does not start with
    /// `{data_dir}/<id>` puts data outside the stacklet's folder, which `destroy` and backups miss.
    fn bind_below_data_dir(&mut self, name: &str, line: u64, source: &str) {
        let Some(var) = leading_variable(source) else {
            return;
        };
        let Some((_, template)) = self.input.manifest.defaults.iter().find(|(k, _)| *k == var)
        else {
            return;
        };
        let folder = format!("{{data_dir}}/{}", self.input.id);
        // `{caddy_dir}`, `{start_page_dir}` and `{bot_runner_dir}` are runtime state the runtime
        // itself writes (the assembled Caddyfile, the start page, the bot runner's
        // configuration), not data: they live under the instance's `.stack/`, by design. The
        // checkout's `{lib_dir}` and `{stacklets_dir}` are code (core's bot runner mounts them
        // read-only), not data either.
        let runtime_state = [
            "{caddy_dir}",
            "{start_page_dir}",
            "{bot_runner_dir}",
            "{lib_dir}",
            "{stacklets_dir}",
        ]
        .iter()
        .any(|dir| template == dir || template.starts_with(&format!("{dir}/")));
        let below =
            runtime_state || template == &folder || template.starts_with(&format!("{folder}/"));
        if !below {
            self.warn(
                line,
                Rule::Volumes,
                format!("Service `{name}` bind-mounts `{var}` = `{template}`, which is not below `{folder}/`"),
            );
        }
    }

    fn healthcheck(&mut self, name: &str, line: u64, service: &Node) {
        let Some(image) = get(service, "image").and_then(|(_, i)| i.scalar()) else {
            return;
        };
        let repo = image_repository(&image);
        let Some(kind) = DATA_SERVICES.iter().find(|k| repo.contains(*k)) else {
            return;
        };
        let has = get(service, "healthcheck").is_some_and(|(_, h)| {
            get(h, "disable").is_none_or(|(_, d)| d.value != Value::Bool(true))
                && get(h, "test").is_some()
        });
        if !has {
            self.error(
                line,
                Rule::Healthcheck,
                format!("Service `{name}` looks like a database or cache (`{kind}`) but has no `healthcheck`; dependents cannot wait for it with `condition: service_healthy`"),
            );
        }
    }

    /// An image without a tag, or with one that names no release (`latest`, `main`, `alpine`, …),
    /// changes under the family's feet and may vanish: a warning. A digest pins it; an image
    /// spelled with a variable is not judged (its value is the manifest's business).
    fn image_tag(&mut self, name: &str, service: &Node) {
        let Some((key, image)) = get(service, "image") else {
            return;
        };
        let Some(image) = image.scalar() else {
            return;
        };
        match floating_tag(&image) {
            Some(None) => self.warn(
                key.line,
                Rule::ImageTag,
                format!("Image `{image}` of service `{name}` has no tag, so Docker pulls `latest`; pin a release tag"),
            ),
            Some(Some(tag)) => self.warn(
                key.line,
                Rule::ImageTag,
                format!("Image `{image}` of service `{name}` uses the floating tag `{tag}`; pin a release tag"),
            ),
            None => {}
        }
    }

    /// Runs the runtime's loader over the file, as `stack up` would, with every profile enabled
    /// and a placeholder environment built from the manifest. Its errors and warnings (unset
    /// variables, unsupported keys, bad specs) become findings.
    fn load(&mut self, path: &std::path::Path) {
        let env = placeholder_env(self.input);
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let shown = |text: String| text.replace(&format!("`{}`", abs.display()), "the file");
        match crate::compose::load(
            path,
            &crate::namespace::compose_project(self.input.id),
            &env,
        ) {
            Ok(loaded) => {
                for warning in loaded.warnings {
                    // The loader names the variable in backticks; point at its first use.
                    let line = warning
                        .split('`')
                        .nth(1)
                        .map_or(1, |v| line_containing(self.src, &format!("${{{v}")));
                    self.warn(line, Rule::Compose, shown(warning));
                }
            }
            Err(e) => {
                let line = error_line(&e, self.src);
                self.error(line, Rule::Compose, shown(crate::error::one_line(&e)));
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MountSource {
    Bind,
    Named,
    Anonymous,
}

/// Classifies a short-form volume as compose does: a source starting with `.`, `/`, `~` or a
/// variable is a host path (a variable becomes one once interpolated); anything else names a volume.
fn short_volume(text: &str) -> (MountSource, String) {
    let parts: Vec<&str> = split_volume(text);
    if parts.len() < 2 {
        return (MountSource::Anonymous, String::new());
    }
    let source = parts[0].to_string();
    if source.starts_with(['.', '/', '~', '$']) {
        (MountSource::Bind, source)
    } else {
        (MountSource::Named, source)
    }
}

/// Splits `source:target[:mode]` on colons outside `${…}` (a default may contain a colon).
fn split_volume(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' if i > 0 && bytes[i - 1] == b'$' => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `VAR` of a source that starts with `${VAR…}` or `$VAR`.
fn leading_variable(source: &str) -> Option<&str> {
    let rest = source.strip_prefix('$')?;
    let rest = rest.strip_prefix('{').unwrap_or(rest);
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// `(host, container)` of `${PORT_BIND_IP:-127.0.0.1}:<host>:<container>[/tcp|/udp]`.
pub(crate) fn parse_port(text: &str) -> Option<(u16, u16)> {
    let rest = text.strip_prefix(PORT_PREFIX)?;
    let (host, container) = rest.split_once(':')?;
    let container = container
        .strip_suffix("/tcp")
        .or_else(|| container.strip_suffix("/udp"))
        .unwrap_or(container);
    let number = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse::<u16>().ok())
            .flatten()
    };
    Some((number(host)?, number(container)?))
}

/// `Some(None)` for an image without a tag, `Some(Some(tag))` for a tag that contains no digit
/// and so names no version (`latest`, `main`, `stable`, `alpine`), `None` when it is pinned (a
/// versioned tag or a digest) or cannot be judged (it contains a variable).
fn floating_tag(image: &str) -> Option<Option<&str>> {
    if image.contains('$') || image.contains('@') {
        return None;
    }
    // The tag follows the last `:` after the last `/` (a registry's `host:port/` is not a tag).
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Some(None),
        Some((_, tag)) if !tag.chars().any(|c| c.is_ascii_digit()) => Some(Some(tag)),
        Some(_) => None,
    }
}

/// `postgres` of `docker.io/library/postgres:18-alpine@sha256:…`, lowercased.
fn image_repository(image: &str) -> String {
    let image = image.split('@').next().unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    let name = last.split(':').next().unwrap_or(last);
    let path = &image[..image.len() - last.len()];
    format!("{path}{name}").to_lowercase()
}

/// What the runtime would interpolate with, minus real secrets: the manifest's defaults rendered
/// with the (placeholder) variables, a placeholder per generated secret, and the runtime's own
/// variables. `COMPOSE_PROFILES=*` so services behind a profile are checked too.
fn placeholder_env(input: &Input) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for (key, template) in &input.manifest.defaults {
        let value = crate::render::template::render(template, input.vars).unwrap_or_default();
        env.insert(key.clone(), value);
    }
    for name in &input.manifest.generate {
        env.entry(name.clone())
            .or_insert_with(|| "lint-placeholder".to_string());
    }
    for (key, value) in [
        ("PORT_BIND_IP", "127.0.0.1"),
        ("WATCHTOWER_ENABLE", "true"),
        ("COMPOSE_PROFILES", "*"),
    ] {
        env.entry(key.to_string())
            .or_insert_with(|| value.to_string());
    }
    env
}

/// The line a loader error is about: the one it names, else the line of the service it names.
fn error_line(e: &crate::compose::ComposeError, src: &str) -> u64 {
    use crate::compose::ComposeError as E;
    match e {
        E::RequiredVariable { line, .. }
        | E::UnsupportedKey { line, .. }
        | E::Invalid { line, .. } => *line,
        E::NoImage { service, .. }
        | E::UnknownDependency { service, .. }
        | E::InactiveDependency { service, .. }
        | E::UndeclaredNetwork { service, .. }
        | E::UndeclaredVolume { service, .. } => line_containing(src, &format!("{service}:")),
        _ => 1,
    }
}

/// Container name → container ports it publishes (the container side of `ports` entries), over
/// every stacklet; read from the raw YAML so one broken file does not hide the others.
pub(super) fn container_index<'a>(
    stacklets: impl IntoIterator<Item = &'a Stacklet>,
) -> BTreeMap<String, Vec<u16>> {
    let mut index = BTreeMap::new();
    for s in stacklets {
        let Some(src) = s
            .compose_file()
            .and_then(|f| std::fs::read_to_string(f).ok())
        else {
            continue;
        };
        index.extend(containers_of(&src));
    }
    index
}

/// The containers of one compose source and their published container ports.
pub(crate) fn containers_of(src: &str) -> BTreeMap<String, Vec<u16>> {
    let mut index = BTreeMap::new();
    let Ok(root) = yaml::parse_raw(src) else {
        return index;
    };
    let Some((_, services)) = get(&root, "services") else {
        return index;
    };
    for (key, service) in entries(services) {
        let name = get(service, "container_name")
            .and_then(|(_, v)| v.scalar())
            .or_else(|| key.scalar())
            .unwrap_or_default();
        let ports = get(service, "ports")
            .map(|(_, p)| {
                items(p)
                    .iter()
                    .filter_map(|i| match &i.value {
                        Value::Str(text) => container_port(text),
                        Value::Map(_) => get(i, "target")
                            .and_then(|(_, t)| t.scalar())
                            .and_then(|t| t.parse().ok()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        index.insert(name, ports);
    }
    index
}

/// The container side of any short-form port (`[ip:][host:]container[/proto]`).
fn container_port(text: &str) -> Option<u16> {
    let last = split_volume(text).pop()?;
    last.split('/').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_text() {
        assert_eq!(
            parse_port("${PORT_BIND_IP:-127.0.0.1}:42000:8080"),
            Some((42000, 8080))
        );
        assert_eq!(
            parse_port("${PORT_BIND_IP:-127.0.0.1}:42000:53/udp"),
            Some((42000, 53))
        );
        assert_eq!(parse_port("${PORT_BIND_IP}:42000:8080"), None);
        assert_eq!(parse_port("42000:8080"), None);
        assert_eq!(
            parse_port("${PORT_BIND_IP:-127.0.0.1}:42000-42001:80"),
            None
        );
        assert_eq!(
            container_port("${CADDY_BIND_IP:-0.0.0.0}:443:443"),
            Some(443)
        );
        assert_eq!(container_port("8080"), Some(8080));
    }

    #[test]
    fn volume_sources() {
        assert_eq!(
            short_volume("${A:-/x:y}:/data:ro"),
            (MountSource::Bind, "${A:-/x:y}".into())
        );
        assert_eq!(
            short_volume("/etc/localtime:/etc/localtime:ro").0,
            MountSource::Bind
        );
        assert_eq!(short_volume("db:/var/lib").0, MountSource::Named);
        assert_eq!(short_volume("/data").0, MountSource::Anonymous);
        assert_eq!(leading_variable("${DIR}/sub"), Some("DIR"));
        assert_eq!(leading_variable("$DIR"), Some("DIR"));
    }

    #[test]
    fn floating_tags() {
        assert_eq!(floating_tag("busybox"), Some(None));
        assert_eq!(floating_tag("localhost:5000/app"), Some(None));
        assert_eq!(floating_tag("ghcr.io/x/app:latest"), Some(Some("latest")));
        assert_eq!(floating_tag("app:main"), Some(Some("main")));
        assert_eq!(floating_tag("redis:alpine"), Some(Some("alpine")));
        assert_eq!(floating_tag("redis:8-alpine"), None);
        assert_eq!(floating_tag("localhost:5000/app:v1.2.3"), None);
        assert_eq!(floating_tag("app@sha256:abc"), None);
        assert_eq!(floating_tag("app:${TAG:-latest}"), None);
    }

    #[test]
    fn image_names() {
        assert_eq!(
            image_repository("docker.io/library/postgres:18-alpine"),
            "docker.io/library/postgres"
        );
        assert_eq!(
            image_repository("localhost:5000/My/Redis:7@sha256:ab"),
            "localhost:5000/my/redis"
        );
    }
}
