//! Decoding one `services.<name>` mapping into `model::Service`: every supported key in its short
//! and long forms, `env_file` merged under `environment`, relative paths made absolute.
//!
//! Invariant: a key outside `SERVICE_KEYS` (or a sub-key outside its supported set) is an error
//! naming the key, the service, the file and the line; `x-` keys are ignored. Cross-service checks
//! (dependencies, declared networks and volumes) live in `project.rs`.

use std::collections::BTreeMap;

use super::decode::{Ctx, Result};
use super::dotenv;
use super::error::ComposeError;
use super::model::{
    Build, Condition, Dependency, Device, Healthcheck, Mount, MountKind, PortMapping, Service,
    ServiceNetwork,
};
use super::syntax;
use super::yaml::{Node, Value};

/// The service keys `stack` supports (docs/compose.md).
pub const SERVICE_KEYS: &[&str] = &[
    "image",
    "build",
    "container_name",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "volumes",
    "networks",
    "depends_on",
    "healthcheck",
    "restart",
    "labels",
    "user",
    "working_dir",
    "extra_hosts",
    "devices",
    "cap_add",
    "cap_drop",
    "security_opt",
    "shm_size",
    "tmpfs",
    "init",
    "stop_grace_period",
    "stop_signal",
    "profiles",
];

/// A decoded service (the wrapper leaves room for what normalisation learns beside the model).
pub(crate) struct Decoded {
    pub service: Service,
}

// Long by design: one arm per supported service key (docs/compose.md's list), so an unsupported
// key is the fall-through arm and every key's error carries its own line.
pub(crate) fn decode(ctx: &Ctx, name: &str, node: &Node) -> Result<Decoded> {
    let of = format!("of service `{name}`");
    let place = format!("in service `{name}`");
    let mut s = Service {
        name: name.to_owned(),
        ..Service::default()
    };
    if !matches!(node.value, Value::Map(_) | Value::Null) {
        return Err(ctx.invalid(
            node,
            &format!("service `{name}`"),
            format!("expected a mapping, found {}", node.kind()),
        ));
    }
    let mut environment: Vec<(String, Option<String>)> = Vec::new();
    let mut env_files: Vec<(String, Option<String>)> = Vec::new();
    for (key, v) in ctx.entries(node, &format!("service `{name}`"), &place, SERVICE_KEYS)? {
        let what = format!("`{key}` {of}");
        let what = what.as_str();
        match key.as_str() {
            "image" => s.image = ctx.opt_string(v, what)?,
            "build" => s.build = Some(build(ctx, v, what, &place)?),
            "container_name" => s.container_name = ctx.opt_string(v, what)?,
            "command" => s.command = command(ctx, v, what)?,
            "entrypoint" => s.entrypoint = command(ctx, v, what)?,
            "environment" => environment = ctx.key_values(v, what, |k| ctx.env.get(k).cloned())?,
            "env_file" => env_files = env_file(ctx, name, v, what, &place)?,
            "ports" => {
                for item in ctx.seq(v, what)? {
                    s.ports.extend(port(ctx, item, what, &place)?);
                }
            }
            "volumes" => {
                for item in ctx.seq(v, what)? {
                    s.volumes.push(mount(ctx, item, what, &place)?);
                }
            }
            "networks" => s.networks = networks(ctx, v, what, &place)?,
            "depends_on" => s.depends_on = depends_on(ctx, v, what, &place)?,
            "healthcheck" => s.healthcheck = healthcheck(ctx, v, what, &place)?,
            "restart" => {
                let policy = ctx.string(v, what)?;
                syntax::restart(&policy).map_err(|e| ctx.invalid(v, what, e))?;
                s.restart = Some(policy);
            }
            "labels" => {
                s.labels = ctx
                    .key_values(v, what, |_| Some(String::new()))?
                    .into_iter()
                    .map(|(k, v)| (k, v.unwrap_or_default()))
                    .collect();
            }
            "user" => s.user = ctx.opt_string(v, what)?,
            "working_dir" => s.working_dir = ctx.opt_string(v, what)?,
            "extra_hosts" => s.extra_hosts = extra_hosts(ctx, v, what)?,
            "devices" => {
                for item in ctx.seq(v, what)? {
                    s.devices.push(device(ctx, item, what, &place)?);
                }
            }
            "cap_add" => s.cap_add = ctx.strings(v, what)?,
            "cap_drop" => s.cap_drop = ctx.strings(v, what)?,
            "security_opt" => s.security_opt = ctx.strings(v, what)?,
            "shm_size" => {
                let text = ctx.string(v, what)?;
                s.shm_size = Some(syntax::size(&text).map_err(|e| ctx.invalid(v, what, e))?);
            }
            "tmpfs" => {
                for entry in ctx.string_or_list(v, what)? {
                    let (path, opts) =
                        syntax::tmpfs(&entry).map_err(|e| ctx.invalid(v, what, e))?;
                    s.tmpfs.insert(path, opts);
                }
            }
            "init" => s.init = Some(ctx.bool(v, what)?),
            "stop_grace_period" => s.stop_grace_period = Some(duration(ctx, v, what)?),
            "stop_signal" => s.stop_signal = ctx.opt_string(v, what)?,
            "profiles" => s.profiles = ctx.strings(v, what)?,
            _ => unreachable!("`entries` only returns supported keys"),
        }
    }
    // `environment` wins over `env_file`, even a bare `KEY` that resolves to nothing (compose).
    s.environment = env_files.into_iter().chain(environment).collect();
    Ok(Decoded { service: s })
}

fn duration(ctx: &Ctx, node: &Node, what: &str) -> Result<std::time::Duration> {
    let text = ctx.string(node, what)?;
    syntax::duration(&text).map_err(|e| ctx.invalid(node, what, e))
}

fn command(ctx: &Ctx, node: &Node, what: &str) -> Result<Option<Vec<String>>> {
    match &node.value {
        Value::Null => Ok(None),
        Value::Seq(_) => ctx.strings(node, what).map(Some),
        _ => {
            let text = ctx.string(node, what)?;
            syntax::shell_words(&text)
                .map(Some)
                .map_err(|e| ctx.invalid(node, what, e))
        }
    }
}

fn build(ctx: &Ctx, node: &Node, what: &str, place: &str) -> Result<Build> {
    let mut build = Build {
        context: ctx.host_path("."),
        dockerfile: "Dockerfile".to_owned(),
        args: BTreeMap::new(),
        target: None,
    };
    if let Some(context) = node.scalar() {
        build.context = ctx.host_path(&context);
        return Ok(build);
    }
    let place = format!("in `build` of {}", place.trim_start_matches("in "));
    let keys = &["context", "dockerfile", "args", "target"];
    for (key, v) in ctx.entries(node, what, &place, keys)? {
        match key.as_str() {
            "context" => build.context = ctx.host_path(&ctx.string(v, what)?),
            "dockerfile" => build.dockerfile = ctx.string(v, what)?,
            "target" => build.target = ctx.opt_string(v, what)?,
            _ => {
                build.args = ctx
                    .key_values(v, what, |k| ctx.env.get(k).cloned())?
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k, v)))
                    .collect();
            }
        }
    }
    Ok(build)
}

fn env_file(
    ctx: &Ctx,
    service: &str,
    node: &Node,
    what: &str,
    place: &str,
) -> Result<Vec<(String, Option<String>)>> {
    let items: Vec<&Node> = match &node.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    let place = format!("in `env_file` of {}", place.trim_start_matches("in "));
    let mut out = Vec::new();
    for item in items {
        let (path, required) = if let Some(path) = item.scalar() {
            (path, true)
        } else {
            let mut path = None;
            let mut required = true;
            for (key, v) in ctx.entries(item, what, &place, &["path", "required"])? {
                if key == "path" {
                    path = Some(ctx.string(v, what)?);
                } else {
                    required = ctx.bool(v, what)?;
                }
            }
            let path = path.ok_or_else(|| ctx.invalid(item, what, "`path` is missing"))?;
            (path, required)
        };
        let path = ctx.host_path(&path);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => continue,
            Err(source) => {
                return Err(ComposeError::EnvFile {
                    path,
                    service: service.to_owned(),
                    source,
                });
            }
        };
        let entries = dotenv::parse(&text, ctx.env).map_err(|e| ComposeError::EnvFileSyntax {
            path: path.clone(),
            line: e.line,
            reason: e.reason,
        })?;
        out.extend(entries.into_iter().map(|(k, v)| (k, Some(v))));
    }
    Ok(out)
}

fn port(ctx: &Ctx, node: &Node, what: &str, place: &str) -> Result<Vec<PortMapping>> {
    if let Some(spec) = node.scalar() {
        return syntax::short_port(&spec).map_err(|e| ctx.invalid(node, what, e));
    }
    let place = format!("in `ports` of {}", place.trim_start_matches("in "));
    // `mode` only matters to Swarm; compose ignores it on a single engine, and so do we.
    let keys = &["target", "published", "host_ip", "protocol", "mode"];
    let (mut target, mut published, mut host_ip, mut proto) = (None, None, None, "tcp".to_owned());
    for (key, v) in ctx.entries(node, what, &place, keys)? {
        match key.as_str() {
            "target" => target = Some(ctx.string(v, what)?),
            "published" => published = ctx.opt_string(v, what)?,
            "host_ip" => host_ip = ctx.opt_string(v, what)?,
            "protocol" => {
                proto =
                    syntax::protocol(&ctx.string(v, what)?).map_err(|e| ctx.invalid(v, what, e))?;
            }
            _ => {
                let mode = ctx.string(v, what)?;
                if mode != "ingress" && mode != "host" {
                    return Err(ctx.invalid(
                        v,
                        what,
                        format!("mode `{mode}` is not `ingress` or `host`"),
                    ));
                }
            }
        }
    }
    let target = target.ok_or_else(|| ctx.invalid(node, what, "`target` is missing"))?;
    syntax::port_mappings(&target, published.as_deref(), host_ip.as_deref(), &proto)
        .map_err(|e| ctx.invalid(node, what, e))
}

// Long by design: the short (`src:dst:ro`) and the long volume syntax side by side, so both are
// visibly held to the same rules and produce the same `Mount`.
fn mount(ctx: &Ctx, node: &Node, what: &str, place: &str) -> Result<Mount> {
    if let Some(spec) = node.scalar() {
        let short = syntax::short_volume(&spec).map_err(|e| ctx.invalid(node, what, e))?;
        let mut read_only = false;
        for option in &short.options {
            match option.as_str() {
                "ro" => read_only = true,
                "rw" => read_only = false,
                // Consistency flags only mean something on Docker Desktop for Mac; compose ignores
                // them on Linux as well.
                "cached" | "delegated" | "consistent" => {}
                other => {
                    return Err(ctx.invalid(
                        node,
                        what,
                        format!("`{spec}`: the option `{other}` is not supported by `stack` (only `ro` and `rw`)"),
                    ));
                }
            }
        }
        return Ok(match short.source {
            None => Mount {
                kind: MountKind::Volume,
                source: None,
                target: short.target,
                read_only,
                create_host_path: false,
            },
            Some(src) if syntax::is_host_path(&src) => Mount {
                kind: MountKind::Bind,
                source: Some(ctx.host_path(&src).to_string_lossy().into_owned()),
                target: short.target,
                read_only,
                create_host_path: true,
            },
            Some(src) => Mount {
                kind: MountKind::Volume,
                source: Some(src),
                target: short.target,
                read_only,
                create_host_path: false,
            },
        });
    }
    let place = format!("in `volumes` of {}", place.trim_start_matches("in "));
    let keys = &[
        "type",
        "source",
        "target",
        "read_only",
        "bind",
        "consistency",
    ];
    let (mut kind, mut source, mut target, mut read_only, mut create) =
        (None, None, None, false, false);
    for (key, v) in ctx.entries(node, what, &place, keys)? {
        match key.as_str() {
            "type" => {
                kind = Some(match ctx.string(v, what)?.as_str() {
                    "bind" => MountKind::Bind,
                    "volume" => MountKind::Volume,
                    "tmpfs" => MountKind::Tmpfs,
                    other => {
                        return Err(ctx.invalid(
                            v,
                            what,
                            format!(
                                "type `{other}` is not supported (`bind`, `volume` or `tmpfs`)"
                            ),
                        ));
                    }
                });
            }
            "source" => source = ctx.opt_string(v, what)?,
            "target" => target = Some(ctx.string(v, what)?),
            "read_only" => read_only = ctx.bool(v, what)?,
            "bind" => {
                for (_, b) in ctx.entries(v, what, &place, &["create_host_path"])? {
                    create = ctx.bool(b, what)?;
                }
            }
            _ => {}
        }
    }
    let kind = kind.ok_or_else(|| ctx.invalid(node, what, "`type` is missing"))?;
    let target = target.ok_or_else(|| ctx.invalid(node, what, "`target` is missing"))?;
    if !target.starts_with('/') {
        return Err(ctx.invalid(
            node,
            what,
            format!("the container path `{target}` is not absolute"),
        ));
    }
    let source = match kind {
        MountKind::Bind => {
            let src =
                source.ok_or_else(|| ctx.invalid(node, what, "a bind mount needs `source`"))?;
            Some(ctx.host_path(&src).to_string_lossy().into_owned())
        }
        MountKind::Volume => source.filter(|s| !s.is_empty()),
        MountKind::Tmpfs => None,
    };
    Ok(Mount {
        kind,
        source,
        target,
        read_only,
        create_host_path: kind == MountKind::Bind && create,
    })
}

fn networks(
    ctx: &Ctx,
    node: &Node,
    what: &str,
    place: &str,
) -> Result<BTreeMap<String, ServiceNetwork>> {
    if let Value::Seq(_) = node.value {
        return Ok(ctx
            .strings(node, what)?
            .into_iter()
            .map(|n| (n, ServiceNetwork::default()))
            .collect());
    }
    let place = format!("in `networks` of {}", place.trim_start_matches("in "));
    let mut out = BTreeMap::new();
    for (k, v) in ctx.map(node, what)? {
        let name = ctx.key(k, what)?;
        let mut net = ServiceNetwork::default();
        for (key, value) in ctx.entries(v, what, &place, &["aliases", "ipv4_address"])? {
            if key == "aliases" {
                net.aliases = ctx.strings(value, what)?;
            } else {
                net.ipv4_address = ctx.opt_string(value, what)?;
            }
        }
        out.insert(name, net);
    }
    Ok(out)
}

fn depends_on(
    ctx: &Ctx,
    node: &Node,
    what: &str,
    place: &str,
) -> Result<BTreeMap<String, Dependency>> {
    let started = Dependency {
        condition: Condition::ServiceStarted,
        required: true,
        restart: false,
    };
    if let Value::Seq(_) = node.value {
        return Ok(ctx
            .strings(node, what)?
            .into_iter()
            .map(|n| (n, started.clone()))
            .collect());
    }
    let place = format!("in `depends_on` of {}", place.trim_start_matches("in "));
    let mut out = BTreeMap::new();
    for (k, v) in ctx.map(node, what)? {
        let name = ctx.key(k, what)?;
        let mut dep = started.clone();
        for (key, value) in ctx.entries(v, what, &place, &["condition", "required", "restart"])? {
            match key.as_str() {
                "condition" => {
                    dep.condition = match ctx.string(value, what)?.as_str() {
                        "service_started" => Condition::ServiceStarted,
                        "service_healthy" => Condition::ServiceHealthy,
                        "service_completed_successfully" => Condition::ServiceCompletedSuccessfully,
                        other => return Err(ctx.invalid(value, what, format!(
                            "condition `{other}` is not `service_started`, `service_healthy` or `service_completed_successfully`"
                        ))),
                    };
                }
                "required" => dep.required = ctx.bool(value, what)?,
                _ => dep.restart = ctx.bool(value, what)?,
            }
        }
        out.insert(name, dep);
    }
    Ok(out)
}

fn healthcheck(ctx: &Ctx, node: &Node, what: &str, place: &str) -> Result<Option<Healthcheck>> {
    let place = format!("in `healthcheck` of {}", place.trim_start_matches("in "));
    let keys = &[
        "test",
        "interval",
        "timeout",
        "retries",
        "start_period",
        "start_interval",
        "disable",
    ];
    let mut h = Healthcheck::default();
    let mut any = false;
    for (key, v) in ctx.entries(node, what, &place, keys)? {
        match key.as_str() {
            "disable" => {
                h.disable = ctx.bool(v, what)?;
                continue;
            }
            "test" => {
                h.test = match &v.value {
                    Value::Seq(_) => ctx.strings(v, what)?,
                    _ => vec!["CMD-SHELL".to_owned(), ctx.string(v, what)?],
                };
                match h.test.first().map(String::as_str) {
                    Some("NONE" | "CMD" | "CMD-SHELL") => {}
                    _ => {
                        return Err(ctx.invalid(
                            v,
                            what,
                            "a test list starts with `CMD`, `CMD-SHELL` or `NONE`",
                        ));
                    }
                }
            }
            "interval" => h.interval = Some(duration(ctx, v, what)?),
            "timeout" => h.timeout = Some(duration(ctx, v, what)?),
            "start_period" => h.start_period = Some(duration(ctx, v, what)?),
            "start_interval" => h.start_interval = Some(duration(ctx, v, what)?),
            _ => h.retries = Some(ctx.uint(v, what)?),
        }
        any = true;
    }
    if h.disable {
        // The engine wants `["NONE"]` to switch off an image's own healthcheck.
        return Ok(Some(Healthcheck {
            disable: true,
            test: vec!["NONE".to_owned()],
            ..Healthcheck::default()
        }));
    }
    // `disable: false` alone (Immich does this) means "the image's healthcheck", like no key.
    Ok(any.then_some(h))
}

fn extra_hosts(ctx: &Ctx, node: &Node, what: &str) -> Result<Vec<(String, String)>> {
    if let Value::Seq(items) = &node.value {
        return items
            .iter()
            .map(|item| {
                let entry = ctx.string(item, what)?;
                syntax::extra_host(&entry).map_err(|e| ctx.invalid(item, what, e))
            })
            .collect();
    }
    let mut out = Vec::new();
    for (k, v) in ctx.map(node, what)? {
        let host = ctx.key(k, what)?;
        for ip in ctx.string_or_list(v, what)? {
            out.push((host.clone(), ip));
        }
    }
    Ok(out)
}

fn device(ctx: &Ctx, node: &Node, what: &str, place: &str) -> Result<Device> {
    if let Some(entry) = node.scalar() {
        let (source, target, permissions) =
            syntax::device(&entry).map_err(|e| ctx.invalid(node, what, e))?;
        return Ok(Device {
            source,
            target,
            permissions,
        });
    }
    let place = format!("in `devices` of {}", place.trim_start_matches("in "));
    let mut d = Device {
        source: String::new(),
        target: String::new(),
        permissions: "rwm".to_owned(),
    };
    for (key, v) in ctx.entries(node, what, &place, &["source", "target", "permissions"])? {
        let text = ctx.string(v, what)?;
        match key.as_str() {
            "source" => d.source = text,
            "target" => d.target = text,
            _ => d.permissions = text,
        }
    }
    if d.source.is_empty() {
        return Err(ctx.invalid(node, what, "`source` is missing"));
    }
    if d.target.is_empty() {
        d.target.clone_from(&d.source);
    }
    Ok(d)
}
