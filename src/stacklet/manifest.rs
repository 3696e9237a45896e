//! `stacklet.toml`: the typed manifest and its validation (docs/new.md shows a manifest).
//!
//! Parsing is strict about types (serde gives the line) and lenient about unknown keys (collected as
//! warnings so a newer stacklet still loads). Everything that can be checked from one file alone is
//! checked here; cross-stacklet rules (ports, `requires`) live in `discover` and `graph`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::stacklet::id::{self, ID_RULE, StackletId};

pub const CATEGORIES: &[&str] = &[
    "infrastructure",
    "media",
    "ai",
    "communication",
    "productivity",
    "development",
    "automation",
];

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StackletType {
    #[default]
    Docker,
    Host,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    #[default]
    Patch,
    None,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
struct RawManifest {
    id: String,
    name: String,
    description: String,
    version: String,
    category: String,
    port: Option<i64>,
    #[serde(default)]
    ports: toml::Table,
    #[serde(default)]
    always_on: bool,
    #[serde(default, rename = "type")]
    kind: StackletType,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    build: bool,
    upstream: Option<Upstream>,
    #[serde(default)]
    env: RawEnv,
    #[serde(default)]
    hints: Vec<String>,
    health: Option<RawHealth>,
    #[serde(default)]
    services: toml::Table,
    login_field: Option<String>,
    #[serde(default)]
    backup: RawBackup,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct RawBackup {
    #[serde(default)]
    exclude: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Upstream {
    pub image: Option<String>,
    #[serde(default)]
    pub channel: Channel,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct RawEnv {
    #[serde(default)]
    generate: Vec<String>,
    #[serde(default)]
    defaults: toml::Table,
}

#[derive(Clone, Debug, Deserialize)]
struct RawHealth {
    url: Option<String>,
    #[serde(default)]
    urls: Vec<String>,
    path: Option<String>,
    expect: Option<toml::Value>,
    // Signed, so a negative value gets its own message instead of serde's "expected u64".
    timeout: Option<i64>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    hint: Option<String>,
    #[serde(default)]
    checks: Vec<RawCheck>,
}

// Kept apart from `RawHealth` on purpose: `#[serde(flatten)]` loses toml's spans (error lines).
#[derive(Clone, Debug, Deserialize)]
struct RawCheck {
    name: Option<String>,
    url: String,
    path: Option<String>,
    expect: Option<toml::Value>,
    timeout: Option<i64>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    hint: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
struct RawService {
    name: Option<String>,
    description: Option<String>,
    check_url: String,
    start: Option<String>,
    stop: Option<String>,
}

/// One health check, normalised from `url`, `urls` or `[[health.checks]]`. Strings are templates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    pub name: String,
    pub url: String,
    /// JSONPath (`$.a.b[0]`) into the response body; `None` compares the status code.
    pub path: Option<String>,
    /// Expected status code (no `path`) or value at `path`. Default: any 2xx status.
    pub expect: Option<String>,
    pub timeout_secs: u64,
    pub headers: Vec<(String, String)>,
    pub hint: Option<String>,
}

pub const DEFAULT_HEALTH_TIMEOUT_SECS: u64 = 120;
pub const MAX_HEALTH_TIMEOUT_SECS: u64 = 86_400;

/// A native service of a host stacklet. Strings are templates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NativeService {
    pub key: String,
    pub name: String,
    pub description: String,
    pub check_url: String,
    pub start: Option<String>,
    pub stop: Option<String>,
}

/// A validated manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub id: StackletId,
    pub name: String,
    pub description: String,
    pub version: String,
    pub category: String,
    pub port: Option<u16>,
    /// `[ports]` in file order.
    pub ports: Vec<(String, u16)>,
    pub always_on: bool,
    pub kind: StackletType,
    pub requires: Vec<String>,
    pub build: bool,
    pub upstream: Option<Upstream>,
    pub generate: Vec<String>,
    /// `[env.defaults]` in file order; non-string values already turned into their TOML text.
    pub defaults: Vec<(String, String)>,
    pub hints: Vec<String>,
    pub health: Vec<HealthCheck>,
    pub services: Vec<NativeService>,
    pub login_field: Option<String>,
    /// `[backup].exclude`: folders of `<data>/<id>` a snapshot leaves out (docs/backups.md),
    /// relative, normalised (`postgres`, `cache/models`).
    pub backup_exclude: Vec<String>,
}

/// A problem in one manifest: the file, the key, the line when known, and what was expected.
#[derive(Debug, thiserror::Error)]
#[error("Invalid `{file}`{}: {message}", key.as_ref().map(|k| format!(" key `{k}`")).unwrap_or_default())]
pub struct ManifestError {
    pub file: String,
    pub key: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

const TOP_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "version",
    "category",
    "port",
    "ports",
    "always_on",
    "type",
    "requires",
    "build",
    "upstream",
    "env",
    "hints",
    "health",
    "services",
    "login_field",
    "backup",
];

impl Manifest {
    /// Parse and validate `source` read from `path` (shown as `display` in messages). Returns the
    /// manifest and the warnings about unknown keys.
    // Long by design: the manifest's rules top to bottom, in the order of the keys in a
    // `stacklet.toml`, each with its own error and line; splitting would hand the same error
    // builder and source to every piece without making a rule easier to find.
    pub fn parse(
        source: &str,
        display: &str,
        dir_name: &str,
    ) -> Result<(Self, Vec<String>), ManifestError> {
        let err = |key: Option<&str>, message: String, hint: Option<String>| ManifestError {
            file: display.to_string(),
            key: key.map(str::to_string),
            message,
            hint,
        };
        let table: toml::Table =
            toml::from_str(source).map_err(|e| err(None, toml_message(&e, source), None))?;
        let warnings = unknown_keys(&table, display);
        let raw: RawManifest =
            toml::from_str(source).map_err(|e| err(None, toml_message(&e, source), None))?;
        let at = |key: &str| line_suffix(source, key);

        // The length first: an id of the right shape gets the specific message.
        if raw.id.len() > id::MAX_LEN {
            return Err(err(
                Some("id"),
                format!(
                    "`{}` is {} characters long{}; an id may have at most {}",
                    raw.id,
                    raw.id.len(),
                    at("id"),
                    id::MAX_LEN
                ),
                Some(
                    "every Docker name `stack` derives from the id (project, containers, network, \
                     volumes, with an instance's prefix) must stay within Docker's and the file \
                     system's limits; choose a shorter id and rename the directory to match"
                        .into(),
                ),
            ));
        }
        let Some(id) = StackletId::parse(&raw.id) else {
            return Err(err(
                Some("id"),
                format!(
                    "`{}` is not a valid id{}; expected {ID_RULE}",
                    raw.id,
                    at("id")
                ),
                None,
            ));
        };
        if raw.id != dir_name {
            return Err(err(
                Some("id"),
                format!(
                    "id `{}` does not match its directory `{dir_name}`{}",
                    raw.id,
                    at("id")
                ),
                Some(format!(
                    "set `id = \"{dir_name}\"` or rename the directory to `{}`",
                    raw.id
                )),
            ));
        }
        if !CATEGORIES.contains(&raw.category.as_str()) {
            return Err(err(
                Some("category"),
                format!(
                    "unknown category `{}`{}; expected one of {}",
                    raw.category,
                    at("category"),
                    CATEGORIES.join(", ")
                ),
                crate::error::closest(&raw.category, CATEGORIES.iter().copied())
                    .map(|c| format!("did you mean `{c}`?")),
            ));
        }
        let port = match raw.port {
            None => None,
            Some(p) => Some(valid_port(p).ok_or_else(|| {
                err(
                    Some("port"),
                    format!("port {p} is out of range{}; expected 1–65535", at("port")),
                    None,
                )
            })?),
        };
        let mut ports = Vec::new();
        for (name, value) in &raw.ports {
            let key = format!("ports.{name}");
            let number = value.as_integer().and_then(valid_port).ok_or_else(|| {
                err(
                    Some(&key),
                    format!(
                        "`{value}` is not a port{}; expected an integer 1–65535",
                        at(&key)
                    ),
                    None,
                )
            })?;
            ports.push((name.clone(), number));
        }
        for name in &raw.env.generate {
            if !is_env_name(name) {
                return Err(err(
                    Some("env.generate"),
                    format!(
                        "`{name}` is not a valid variable name{}",
                        at("env.generate")
                    ),
                    Some("use letters, digits and `_`, not starting with a digit".into()),
                ));
            }
        }
        let mut defaults = Vec::new();
        for (key, value) in &raw.env.defaults {
            if !is_env_name(key) {
                return Err(err(
                    Some(&format!("env.defaults.{key}")),
                    format!("`{key}` is not a valid variable name{}", at(key)),
                    Some("use letters, digits and `_`, not starting with a digit".into()),
                ));
            }
            let text = scalar_text(value).ok_or_else(|| {
                err(
                    Some(&format!("env.defaults.{key}")),
                    format!(
                        "expected a string, number or boolean{}, found a {}",
                        at(key),
                        value.type_str()
                    ),
                    None,
                )
            })?;
            defaults.push((key.clone(), text));
        }
        let health = match raw.health {
            None => Vec::new(),
            Some(h) => normalise_health(h).map_err(|m| {
                let line = if m.starts_with("`timeout =") {
                    at("health.timeout")
                } else {
                    String::new()
                };
                err(Some("health"), format!("{m}{line}"), None)
            })?,
        };
        let mut services = Vec::new();
        for (key, value) in &raw.services {
            let svc: RawService = value.clone().try_into().map_err(|e: toml::de::Error| {
                err(
                    Some(&format!("services.{key}")),
                    format!("{}{}", e.message(), at(&format!("services.{key}"))),
                    None,
                )
            })?;
            services.push(NativeService {
                key: key.clone(),
                name: svc.name.unwrap_or_else(|| key.clone()),
                description: svc.description.unwrap_or_default(),
                check_url: svc.check_url,
                start: svc.start,
                stop: svc.stop,
            });
        }
        let mut backup_exclude = Vec::new();
        for entry in &raw.backup.exclude {
            let folder = backup_folder(entry).ok_or_else(|| {
                err(
                    Some("backup.exclude"),
                    format!(
                        "`{entry}` is not a folder inside the stacklet's data dir{}; expected a \
                         relative path such as `postgres`, without `..`",
                        at("backup.exclude")
                    ),
                    Some("paths are relative to `<data>/<id>`".into()),
                )
            })?;
            backup_exclude.push(folder);
        }
        Ok((
            Self {
                id,
                name: raw.name,
                description: raw.description,
                version: raw.version,
                category: raw.category,
                port,
                ports,
                always_on: raw.always_on,
                kind: raw.kind,
                requires: raw.requires,
                build: raw.build,
                upstream: raw.upstream,
                generate: raw.env.generate,
                defaults,
                hints: raw.hints,
                health,
                services,
                login_field: raw.login_field,
                backup_exclude,
            },
            warnings,
        ))
    }

    /// `PORT` first, then each `[ports]` entry.
    pub fn all_ports(&self) -> impl Iterator<Item = (Option<&str>, u16)> {
        self.port
            .map(|p| (None, p))
            .into_iter()
            .chain(self.ports.iter().map(|(n, p)| (Some(n.as_str()), *p)))
    }

    /// The host ports the stacklet declares (`port` and every `[ports]` entry).
    pub fn declared_ports(&self) -> Vec<u16> {
        self.all_ports().map(|(_, p)| p).collect()
    }

    pub fn watchtower_enabled(&self) -> bool {
        self.upstream
            .as_ref()
            .is_none_or(|u| u.channel != Channel::None)
    }
}

/// A health `timeout` in seconds: positive, and at most a day (longer is a typo, and the wait's
/// deadline must stay representable — issue 10 §13).
fn timeout_secs(value: Option<i64>, key: &str, default: u64) -> Result<u64, String> {
    let Some(value) = value else {
        return Ok(default);
    };
    u64::try_from(value)
        .ok()
        .filter(|v| (1..=MAX_HEALTH_TIMEOUT_SECS).contains(v))
        .ok_or_else(|| {
            format!(
                "`{key} = {value}` must be a positive number of seconds, at most \
                 {MAX_HEALTH_TIMEOUT_SECS} (one day)"
            )
        })
}

fn normalise_health(h: RawHealth) -> Result<Vec<HealthCheck>, String> {
    let timeout = timeout_secs(h.timeout, "timeout", DEFAULT_HEALTH_TIMEOUT_SECS)?;
    let expect = h.expect.as_ref().map(expect_text).transpose()?;
    let headers: Vec<(String, String)> = h.headers.into_iter().collect();
    let mut checks = Vec::new();
    let urls = h.url.into_iter().chain(h.urls);
    for (i, url) in urls.enumerate() {
        checks.push(HealthCheck {
            name: if i == 0 {
                "health".into()
            } else {
                format!("health #{}", i + 1)
            },
            url,
            path: h.path.clone(),
            expect: expect.clone(),
            timeout_secs: timeout,
            headers: headers.clone(),
            hint: h.hint.clone(),
        });
    }
    for (i, c) in h.checks.into_iter().enumerate() {
        checks.push(HealthCheck {
            name: c.name.unwrap_or_else(|| format!("check #{}", i + 1)),
            url: c.url,
            path: c.path,
            expect: c.expect.as_ref().map(expect_text).transpose()?,
            timeout_secs: timeout_secs(c.timeout, "checks.timeout", timeout)?,
            headers: c.headers.into_iter().collect(),
            hint: c.hint,
        });
    }
    if checks.is_empty() {
        return Err("`[health]` has no `url`, `urls` or `[[health.checks]]`".into());
    }
    // A URL that can never be fetched is caught now, not after the containers started.
    for check in &checks {
        let template = crate::render::template::Template::parse(&check.url)
            .map_err(|e| format!("the URL of check `{}`: {e}", check.name))?;
        crate::health::check_url_template(&template)
            .map_err(|e| format!("the URL of check `{}`: {e}", check.name))?;
    }
    Ok(checks)
}

fn expect_text(v: &toml::Value) -> Result<String, String> {
    scalar_text(v).ok_or_else(|| {
        format!(
            "`expect` must be a string, number or boolean, found a {}",
            v.type_str()
        )
    })
}

/// Strings as they are; integers, floats and booleans as their TOML text (never dropped).
pub fn scalar_text(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Datetime(d) => Some(d.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => None,
    }
}

fn valid_port(p: i64) -> Option<u16> {
    u16::try_from(p).ok().filter(|p| *p >= 1)
}

/// A `[backup].exclude` entry as a normalised relative path (`a/b`), or `None` when it is empty,
/// absolute or leaves the data dir.
fn backup_folder(entry: &str) -> Option<String> {
    let mut parts = Vec::new();
    for part in Path::new(entry.trim()).components() {
        match part {
            std::path::Component::Normal(p) => parts.push(p.to_str()?.to_string()),
            std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

pub fn is_env_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn unknown_keys(table: &toml::Table, display: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut warn = |key: String| {
        warnings.push(format!("Unknown key `{key}` in `{display}` (ignored)"));
    };
    for key in table.keys() {
        if !TOP_KEYS.contains(&key.as_str()) {
            warn(key.clone());
        }
    }
    let nested: &[(&str, &[&str])] = &[
        ("upstream", &["image", "channel"]),
        ("env", &["generate", "defaults"]),
        ("backup", &["exclude"]),
        (
            "health",
            &[
                "url", "urls", "path", "expect", "timeout", "headers", "hint", "checks",
            ],
        ),
    ];
    for (section, known) in nested {
        if let Some(toml::Value::Table(t)) = table.get(*section) {
            for key in t.keys() {
                if !known.contains(&key.as_str()) {
                    warn(format!("{section}.{key}"));
                }
            }
        }
    }
    if let Some(toml::Value::Table(services)) = table.get("services") {
        for (name, svc) in services {
            if let toml::Value::Table(t) = svc {
                for key in t.keys() {
                    if !["name", "description", "check_url", "start", "stop"]
                        .contains(&key.as_str())
                    {
                        warn(format!("services.{name}.{key}"));
                    }
                }
            }
        }
    }
    warnings
}

/// toml's message, with Rust type names put in words and the offending line quoted.
pub fn toml_message(e: &toml::de::Error, source: &str) -> String {
    let mut message = e.message().trim_end().to_string();
    for (rust, words) in [
        ("expected i64", "expected an integer"),
        ("expected u64", "expected an integer"),
        ("expected u16", "expected an integer"),
        ("expected a boolean", "expected `true` or `false`"),
    ] {
        message = message.replace(rust, words);
    }
    if let Some(span) = e.span() {
        let start = span.start.min(source.len());
        let line_no = source[..start].matches('\n').count() + 1;
        let text = source.lines().nth(line_no - 1).unwrap_or_default().trim();
        if text.is_empty() {
            message = format!("{message} (line {line_no})");
        } else {
            message = format!("{message} (line {line_no}: `{text}`)");
        }
    }
    message
}

/// ` (line N)` for the line where `key` (a dotted path such as `env.generate`) is defined, from
/// toml's own spans; empty when the key is absent or the source does not parse.
pub fn line_suffix(source: &str, key: &str) -> String {
    key_line(source, key)
        .map(|n| format!(" (line {n})"))
        .unwrap_or_default()
}

fn key_line(source: &str, key: &str) -> Option<usize> {
    let root = toml::de::DeTable::parse(source).ok()?;
    let mut table = root.get_ref();
    let mut parts = key.split('.').peekable();
    loop {
        let part = parts.next()?;
        let (name, value) = table.iter().find(|(name, _)| name.get_ref() == part)?;
        if parts.peek().is_none() {
            let start = name.span().start.min(source.len());
            return Some(source[..start].matches('\n').count() + 1);
        }
        table = value.get_ref().as_table()?;
    }
}

/// Read and parse `stacklets/<dir>/stacklet.toml`.
pub fn load(path: &Path, display: &str) -> Result<(Manifest, Vec<String>), ManifestError> {
    let source = std::fs::read_to_string(path).map_err(|e| ManifestError {
        file: display.to_string(),
        key: None,
        message: format!("cannot read: {e}"),
        hint: None,
    })?;
    let dir_name = path
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Manifest::parse(&source, display, &dir_name)
}

/// A `type = "docker"` stacklet (the default) must have a compose file: without one `up` would
/// start nothing and then wait for health that can never come (issue 10 §8).
pub fn check_has_something_to_run(
    manifest: &Manifest,
    display: &str,
    has_compose_file: bool,
) -> Result<(), ManifestError> {
    if manifest.kind == StackletType::Docker && !has_compose_file {
        return Err(ManifestError {
            file: display.to_string(),
            key: Some("type".into()),
            message: format!(
                "`{}` is a Docker stacklet (the default `type`) but has no `docker-compose.yml` \
                 or `compose.yaml` beside its manifest, so it has nothing to start",
                manifest.id
            ),
            hint: Some(
                "add the compose file, or set `type = \"host\"` for a stacklet whose services run \
                 on the host"
                    .into(),
            ),
        });
    }
    Ok(())
}

/// The stacklet directory's own path for a manifest path.
pub fn stacklet_dir_of(manifest_path: &Path) -> PathBuf {
    manifest_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lines_come_from_toml_spans() {
        let source = "id = \"demo\"\n[services.web]\nport = 80\n[env]\ngenerate = [\"1A\"]\n";
        assert_eq!(key_line(source, "id"), Some(1));
        assert_eq!(key_line(source, "services.web.port"), Some(3));
        assert_eq!(key_line(source, "env.generate"), Some(5));
        // A nested `port` is not the top-level one (a line-by-line guess would have said line 3).
        assert_eq!(key_line(source, "port"), None);
        assert_eq!(line_suffix(source, "port"), "");
    }

    const GOOD: &str = r#"
id = "photos"
name = "Photos"
description = "Family photos"
version = "0.1.0"
category = "media"
port = 42010
hints = ["Open {url}"]

[ports]
ml = 42011

[env]
generate = ["DB_PASSWORD"]

[env.defaults]
TZ = "{timezone}"
WORKERS = 4
DEBUG = false

[health]
url = "http://localhost:42010/api/ping"
path = "$.res"
expect = "pong"
"#;

    #[test]
    fn parses_a_full_manifest() {
        let (m, warnings) = Manifest::parse(GOOD, "photos/stacklet.toml", "photos").unwrap();
        assert!(warnings.is_empty());
        assert_eq!(m.port, Some(42010));
        assert_eq!(m.ports, vec![("ml".to_string(), 42011)]);
        assert_eq!(
            m.defaults,
            vec![
                ("TZ".into(), "{timezone}".into()),
                ("WORKERS".into(), "4".into()),
                ("DEBUG".into(), "false".into())
            ]
        );
        assert_eq!(m.health.len(), 1);
        assert_eq!(m.health[0].expect.as_deref(), Some("pong"));
        assert_eq!(m.health[0].timeout_secs, 120);
    }

    #[test]
    fn id_must_match_directory() {
        let e = Manifest::parse(GOOD, "x/stacklet.toml", "pics").unwrap_err();
        assert!(
            e.to_string()
                .contains("does not match its directory `pics`"),
            "{e}"
        );
        assert!(e.message.contains("(line 2)"), "{}", e.message);
    }

    #[test]
    fn bad_category_names_closest() {
        let src = GOOD.replace("\"media\"", "\"medai\"");
        let e = Manifest::parse(&src, "f", "photos").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("category"));
        assert_eq!(e.hint.as_deref(), Some("did you mean `media`?"));
    }

    #[test]
    fn wrong_type_names_line() {
        let src = GOOD.replace("port = 42010", "port = \"x\"");
        let e = Manifest::parse(&src, "f", "photos").unwrap_err();
        assert!(e.message.contains("line 7"), "{}", e.message);
    }

    #[test]
    fn unknown_keys_warn() {
        let src = format!("colour = 1\n{GOOD}");
        let (_, w) = Manifest::parse(&src, "f", "photos").unwrap();
        assert_eq!(w, vec!["Unknown key `colour` in `f` (ignored)".to_string()]);
    }

    #[test]
    fn port_out_of_range() {
        let src = GOOD.replace("42010\n", "70000\n");
        let e = Manifest::parse(&src, "f", "photos").unwrap_err();
        assert!(e.message.contains("out of range"), "{}", e.message);
    }

    #[test]
    fn backup_exclude_is_normalised_and_stays_inside_the_data_dir() {
        let src = format!("{GOOD}\n[backup]\nexclude = [\"postgres\", \"./cache/models/\"]\n");
        let (m, w) = Manifest::parse(&src, "f", "photos").unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(m.backup_exclude, vec!["postgres", "cache/models"]);
        for bad in ["/srv/postgres", "../other", "a/../../b", ""] {
            let src = format!("{GOOD}\n[backup]\nexclude = [\"{bad}\"]\n");
            let e = Manifest::parse(&src, "f", "photos").unwrap_err();
            assert_eq!(e.key.as_deref(), Some("backup.exclude"), "{bad}");
            assert!(e.message.contains("relative path"), "{}", e.message);
        }
    }
}
