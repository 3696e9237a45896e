//! The normalised compose project: what a `docker-compose.yml` means after interpolation, merge
//! keys, short/long syntax and `env_file` have been resolved. The engine converges exactly this.
//!
//! Invariants: every relative path is already absolute (resolved against the project dir); every
//! duration is a `Duration`; maps are `BTreeMap` so serialising a `Service` is deterministic — its
//! JSON is what the config hash is computed from.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Project {
    /// Top-level `name`, else `stack-<id>`.
    pub name: String,
    /// The directory holding the compose file (`com.docker.compose.project.working_dir`).
    pub working_dir: PathBuf,
    /// The compose file(s) read (`com.docker.compose.project.config_files`).
    pub config_files: Vec<PathBuf>,
    /// Active services (profiles not enabled are left out), by service key.
    pub services: BTreeMap<String, Service>,
    /// Networks by key. A service with no `networks` gets `default` (created as `<project>_default`).
    pub networks: BTreeMap<String, Network>,
    /// Named volumes by key.
    pub volumes: BTreeMap<String, Volume>,
}

/// `Default` is a service with nothing set (every key absent), the start of decoding.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Service {
    pub name: String,
    pub image: Option<String>,
    pub build: Option<Build>,
    pub container_name: Option<String>,
    /// `None`: the image's default. Shell-form strings are split like compose (shlex).
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `environment` merged over `env_file` entries. `None` value: declared without a value and
    /// absent from the interpolation env (compose drops it from the container).
    pub environment: BTreeMap<String, Option<String>>,
    pub ports: Vec<PortMapping>,
    pub volumes: Vec<Mount>,
    /// Network key → attachment. Always non-empty after normalisation (`default` when omitted).
    pub networks: BTreeMap<String, ServiceNetwork>,
    pub depends_on: BTreeMap<String, Dependency>,
    /// `None`: the image's own healthcheck. `Some(h)` with `h.disable`: explicitly disabled.
    pub healthcheck: Option<Healthcheck>,
    pub restart: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    /// `host:ip` entries; `ip` may be the literal `host-gateway`.
    pub extra_hosts: Vec<(String, String)>,
    pub devices: Vec<Device>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    /// Bytes.
    pub shm_size: Option<u64>,
    /// Container path → options (`size=…,mode=…`, may be empty).
    pub tmpfs: BTreeMap<String, String>,
    pub init: Option<bool>,
    pub stop_grace_period: Option<Duration>,
    pub stop_signal: Option<String>,
    pub profiles: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Build {
    /// Absolute path of the build context.
    pub context: PathBuf,
    /// Relative to the context.
    pub dockerfile: String,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortMapping {
    pub target: u16,
    /// Host port; `None` lets the engine choose.
    pub published: Option<u16>,
    pub host_ip: Option<String>,
    /// `tcp` or `udp`.
    pub protocol: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub kind: MountKind,
    /// Bind: absolute host path. Volume: the volume key (or `None` for an anonymous volume).
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    /// Bind only: create the host path if missing (compose's default for short syntax).
    pub create_host_path: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServiceNetwork {
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
// The variants mirror compose's condition names (`service_started`, …).
#[allow(clippy::enum_variant_names)]
pub enum Condition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dependency {
    pub condition: Condition,
    /// `required: false` lets the dependent start when the dependency is missing or fails.
    pub required: bool,
    pub restart: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Healthcheck {
    pub disable: bool,
    /// Full test as the engine wants it: `["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]`.
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u64>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Device {
    pub source: String,
    pub target: String,
    pub permissions: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Network {
    /// Engine-side name: `name:` if given, the key for external networks, else `<project>_<key>`.
    pub name: String,
    pub external: bool,
    pub driver: Option<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Volume {
    /// Engine-side name: `name:` if given, the key for external volumes, else `<project>_<key>`.
    pub name: String,
    pub external: bool,
    pub driver: Option<String>,
    pub labels: BTreeMap<String, String>,
}
