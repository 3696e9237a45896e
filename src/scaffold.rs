//! `stack new`: a stacklet scaffolded from an image's own metadata (`engine::ImageFacts`) — the
//! files of `stacklets/<id>/`, written so that `stack lint` passes and `stack up` works as written.
//!
//! Conventions followed (stacklet reference, "Docker Compose Conventions"): project `stack-<id>`,
//! one service and container `stack-<id>`, the host port published on `${PORT_BIND_IP:-127.0.0.1}`,
//! every image `VOLUME` bind-mounted from a variable rendered to `{data_dir}/<id>/<name>`, the
//! external `stack` network, the Watchtower label and `restart: unless-stopped`.
//!
//! Invariants: planning is pure (no engine, no file system); writing never touches an existing
//! `stacklets/<id>/` and never leaves a half-written one (the files go to a temporary directory
//! beside it that is renamed into place).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::engine::{Healthcheck, ImageFacts};

/// Ports of new stacklets are allocated in blocks of ten from here (the bundled stacklets use
/// 42000, 42010, …), so a stacklet can add `[ports]` next to its main port.
pub const PORT_BASE: u16 = 42000;
pub const PORT_BLOCK: u16 = 10;

/// What the user asked for.
#[derive(Clone, Debug)]
pub struct Request {
    pub id: String,
    /// Host port; `None` = the next free block.
    pub host_port: Option<u16>,
    /// Port inside the container; `None` = the image's first exposed TCP port.
    pub container_port: Option<u16>,
    pub category: String,
    /// Replaces the image's command when not empty.
    pub command: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScaffoldError {
    #[error("Port {port} is already used by stacklet `{owner}`")]
    PortTaken { port: u16, owner: String },
    #[error("No free port block of {PORT_BLOCK} is left above {PORT_BASE}")]
    NoFreePort,
    #[error(
        "`{image}` exposes no TCP port, so `stack new` cannot tell which port the service listens on"
    )]
    NoContainerPort { image: String },
}

/// An image volume as a bind mount: `${variable}` (rendered to `{data_dir}/<id>/<folder>`) at
/// `path` in the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub variable: String,
    pub folder: String,
    pub path: String,
}

/// The files of a new stacklet, relative to its directory, and what was decided.
#[derive(Clone, Debug)]
pub struct Scaffold {
    pub files: Vec<(PathBuf, String)>,
    pub host_port: Option<u16>,
    pub container_port: Option<u16>,
    /// One bind mount per image volume.
    pub mounts: Vec<Mount>,
    /// Where the `[health]` check came from.
    pub health: Option<String>,
}

/// Plan the files. `taken` holds every port any stacklet declares, with its owner.
pub fn plan(
    request: &Request,
    facts: &ImageFacts,
    taken: &[(u16, String)],
) -> Result<Scaffold, ScaffoldError> {
    let tcp: Vec<u16> = facts
        .ports
        .iter()
        .filter(|p| p.protocol == "tcp")
        .map(|p| p.port)
        .collect();
    let container_port = request.container_port.or_else(|| tcp.first().copied());
    let host_port = match (request.host_port, container_port) {
        (Some(port), _) => {
            if let Some((_, owner)) = taken.iter().find(|(p, _)| *p == port) {
                return Err(ScaffoldError::PortTaken {
                    port,
                    owner: owner.clone(),
                });
            }
            Some(port)
        }
        (None, Some(_)) => Some(next_free_block(taken)?),
        (None, None) => None,
    };
    if host_port.is_some() && container_port.is_none() {
        return Err(ScaffoldError::NoContainerPort {
            image: facts.reference.clone(),
        });
    }
    let ports = host_port.zip(container_port);
    let prefix = env_prefix(&request.id);
    let mounts = volume_mounts(&prefix, &facts.volumes);
    let health = ports.map(|(host, container)| health_url(facts, host, container));

    let mut files = vec![
        (
            PathBuf::from("stacklet.toml"),
            manifest(request, facts, host_port, &mounts, health.as_ref()),
        ),
        (
            PathBuf::from("docker-compose.yml"),
            compose(request, facts, ports, &mounts),
        ),
        (PathBuf::from("hooks/on_install.py"), on_install(request)),
    ];
    if let Some((_, container)) = ports {
        files.push((
            PathBuf::from(crate::caddy::SNIPPET_FILE),
            format!(
                "# Domain mode: https://{id}.<domain> → the service (assembled into Caddy's config by `stack`).\n\
                 {id}.{{$FAMSTACK_DOMAIN}} {{\n    reverse_proxy stack-{id}:{container}\n}}\n",
                id = request.id
            ),
        ));
    }
    Ok(Scaffold {
        files,
        host_port,
        container_port,
        mounts,
        health: health.map(|h| h.source),
    })
}

/// The first block of ten at or above [`PORT_BASE`] that no stacklet uses any port of.
pub fn next_free_block(taken: &[(u16, String)]) -> Result<u16, ScaffoldError> {
    let used: BTreeSet<u16> = taken.iter().map(|(p, _)| *p).collect();
    let mut block = PORT_BASE;
    loop {
        if !(block..block.saturating_add(PORT_BLOCK)).any(|p| used.contains(&p)) {
            return Ok(block);
        }
        block = block
            .checked_add(PORT_BLOCK)
            .filter(|b| b.checked_add(PORT_BLOCK).is_some())
            .ok_or(ScaffoldError::NoFreePort)?;
    }
}

/// Write the scaffold to `dir` (which must not exist) whole or not at all.
pub fn write(dir: &Path, scaffold: &Scaffold) -> std::io::Result<()> {
    let parent = dir.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".stack-new-")
        .tempdir_in(parent)?;
    for (rel, text) in &scaffold.files {
        let path = staging.path().join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(&path, text)?;
    }
    // Rename refuses a non-empty target on every platform we run on; an empty one left by someone
    // else is checked by the caller before planning.
    std::fs::rename(staging.path(), dir)?;
    // The directory is now `dir`; keep the TempDir from deleting it.
    let _ = staging.keep();
    Ok(())
}

/// `my-app` → `MY_APP`: the prefix of the stacklet's variables.
fn env_prefix(id: &str) -> String {
    id.to_ascii_uppercase().replace('-', "_")
}

/// `my-app` → `My App`.
fn display_name(id: &str) -> String {
    id.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One mount per volume: folder = the path's last part (made unique), variable
/// `<PREFIX>_<FOLDER>_DIR`.
fn volume_mounts(prefix: &str, volumes: &[String]) -> Vec<Mount> {
    let mut seen = BTreeSet::new();
    volumes
        .iter()
        .map(|path| {
            let base = folder_name(path);
            let mut folder = base.clone();
            let mut n = 2;
            while !seen.insert(folder.clone()) {
                folder = format!("{base}{n}");
                n += 1;
            }
            Mount {
                variable: format!(
                    "{prefix}_{}_DIR",
                    folder.to_ascii_uppercase().replace('-', "_")
                ),
                folder,
                path: path.clone(),
            }
        })
        .collect()
}

/// The folder under `{data_dir}/<id>/` for a volume: its last path part, lowercase letters,
/// digits and `-` only (`/var/lib/postgresql/data` → `data`, `/` → `data`).
fn folder_name(path: &str) -> String {
    let last = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let clean: String = last
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let clean = clean.trim_matches('-').to_string();
    if clean.is_empty() {
        "data".to_string()
    } else {
        clean
    }
}

struct Health {
    url: String,
    source: String,
}

/// `[health]`: the URL of the image's own healthcheck when it probes HTTP on the service's port,
/// else the root of the exposed port.
fn health_url(facts: &ImageFacts, host: u16, container: u16) -> Health {
    if let Some(check) = &facts.healthcheck
        && let Some(path) = http_path(&check.test, container)
    {
        return Health {
            url: format!("http://localhost:{host}{path}"),
            source: format!("the image's HEALTHCHECK (path `{path}`)"),
        };
    }
    Health {
        url: format!("http://localhost:{host}/"),
        source: format!("the exposed port {container}"),
    }
}

/// The path of an `http://localhost[:port]/…` or `http://127.0.0.1[:port]/…` URL in a healthcheck
/// command, when it targets `port` (no port = 80).
fn http_path(test: &[String], port: u16) -> Option<String> {
    let text = test.iter().skip(1).cloned().collect::<Vec<_>>().join(" ");
    for host in ["http://localhost", "http://127.0.0.1"] {
        let Some(at) = text.find(host) else {
            continue;
        };
        let rest = &text[at + host.len()..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(rest.len());
        let rest = &rest[..end];
        let (url_port, path) = match rest.strip_prefix(':') {
            Some(r) => {
                let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
                (digits.parse().ok()?, r[digits.len()..].to_string())
            }
            None => (80, rest.to_string()),
        };
        if url_port != port {
            return None;
        }
        return Some(if path.is_empty() { "/".into() } else { path });
    }
    None
}

/// Upstream repository without tag or digest (`ghcr.io/a/b:1.2` → `ghcr.io/a/b`).
fn repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => &image[..last_slash + i],
        None => image,
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A YAML double-quoted scalar with compose's `$` escaped (a JSON string is valid YAML).
fn yaml_string(s: &str) -> String {
    serde_json::Value::String(s.replace('$', "$$")).to_string()
}

fn manifest(
    request: &Request,
    facts: &ImageFacts,
    host_port: Option<u16>,
    mounts: &[Mount],
    health: Option<&Health>,
) -> String {
    let id = &request.id;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Scaffolded by `stack new` from the image `{}`. Edit freely; `stack lint {id}` checks the\n\
         # conventions, `stack up {id}` starts it.",
        facts.reference
    );
    let _ = writeln!(t, "id          = {}", toml_string(id));
    let _ = writeln!(t, "name        = {}", toml_string(&display_name(id)));
    let _ = writeln!(
        t,
        "description = {}   # one line for the family: shown by `stack list` and the start page",
        toml_string(&format!("{} (from {})", display_name(id), facts.reference))
    );
    let _ = writeln!(t, "version     = \"0.1.0\"");
    let _ = writeln!(t, "category    = {}", toml_string(&request.category));
    match host_port {
        Some(port) => {
            let _ = writeln!(
                t,
                "port        = {port}   # host port; block {port}–{} is free for `[ports]`",
                port + PORT_BLOCK - 1
            );
        }
        None => {
            let _ = writeln!(
                t,
                "# No port: the image exposes none. Add `port = …` (and `ports:` in docker-compose.yml) for a web UI."
            );
        }
    }
    t.push_str(
        "# login_field = \"username\"   # or \"email\": what family members log in with (start page)\n",
    );
    t.push('\n');
    if host_port.is_some() {
        t.push_str("hints = [\n    \"Open {url}\",\n]\n\n");
    }
    let _ = writeln!(
        t,
        "[upstream]\nimage   = {}\nchannel = \"patch\"   # Watchtower updates patch releases; \"none\" pins the image\n",
        toml_string(repository(&facts.reference))
    );
    t.push_str("[env.defaults]\n");
    t.push_str("TZ = \"{timezone}\"\n");
    if !mounts.is_empty() {
        t.push_str("# Bind mounts: the image's volumes, kept under the stacklet's data folder.\n");
    }
    for m in mounts {
        let _ = writeln!(
            t,
            "{} = {}   # → {}",
            m.variable,
            toml_string(&format!("{{data_dir}}/{id}/{}", m.folder)),
            m.path
        );
    }
    t.push_str(
        "\n# Secrets the runtime generates once and keeps in .stack/secrets.toml:\n# [env]\n# generate = [\"DB_PASSWORD\"]\n",
    );
    if let Some(health) = health {
        let _ = writeln!(
            t,
            "\n# `stack up` waits until this answers (from {}).\n[health]\nurl    = {}\nexpect = \"200\"",
            health.source,
            toml_string(&health.url)
        );
    }
    t
}

fn compose(
    request: &Request,
    facts: &ImageFacts,
    ports: Option<(u16, u16)>,
    mounts: &[Mount],
) -> String {
    let id = &request.id;
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Scaffolded by `stack new` from `{}`. Values come from the .env the runtime renders from\n\
         # stacklet.toml's [env.defaults]; `stack env {id}` shows them.\nname: stack-{id}\n\nservices:\n  stack-{id}:\n    container_name: stack-{id}\n    image: {}",
        facts.reference,
        yaml_string(&facts.reference)
    );
    if !request.command.is_empty() {
        let args: Vec<String> = request.command.iter().map(|a| yaml_string(a)).collect();
        let _ = writeln!(y, "    command: [{}]", args.join(", "));
    }
    if let Some(user) = &facts.user {
        let _ = writeln!(
            y,
            "    # The image runs as user `{user}`: the bind mounts below must be writable by it."
        );
    }
    y.push_str("    environment:\n      TZ: ${TZ:-UTC}\n");
    let image_env: Vec<&(String, String)> = facts
        .env
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "PATH" | "TZ" | "HOME" | "HOSTNAME"))
        .collect();
    if !image_env.is_empty() {
        y.push_str("      # The image's own defaults, to override here if needed:\n");
        for (k, v) in image_env {
            let _ = writeln!(y, "      # {k}: {}", yaml_string(v));
        }
    }
    if !mounts.is_empty() {
        y.push_str("    volumes:\n");
        for m in mounts {
            let _ = writeln!(y, "      - ${{{}}}:{}", m.variable, m.path);
        }
    }
    if let Some((host, container)) = ports {
        let _ = writeln!(
            y,
            "    ports:\n      - \"${{PORT_BIND_IP:-127.0.0.1}}:{host}:{container}\""
        );
    }
    let others: Vec<String> = facts
        .ports
        .iter()
        .filter(|p| Some(p.port) != ports.map(|(_, c)| c))
        .map(|p| format!("{}/{}", p.port, p.protocol))
        .collect();
    if !others.is_empty() {
        let _ = writeln!(
            y,
            "      # The image also exposes {}: publish them under `[ports]` in stacklet.toml if needed.",
            others.join(", ")
        );
    }
    if let Some(check) = &facts.healthcheck {
        compose_healthcheck(&mut y, check);
    }
    y.push_str(
        "    labels:\n      - \"com.centurylinklabs.watchtower.enable=${WATCHTOWER_ENABLE:-true}\"\n    networks:\n      - stack\n    restart: unless-stopped\n\nnetworks:\n  stack:\n    external: true\n",
    );
    y
}

/// The image's `HEALTHCHECK`, spelled out so people see what `up` waits for.
fn compose_healthcheck(y: &mut String, check: &Healthcheck) {
    if check.test.first().map(String::as_str) == Some("NONE") {
        y.push_str("    healthcheck:\n      disable: true\n");
        return;
    }
    let test: Vec<String> = check.test.iter().map(|a| yaml_string(a)).collect();
    let _ = writeln!(
        y,
        "    # From the image's HEALTHCHECK.\n    healthcheck:\n      test: [{}]",
        test.join(", ")
    );
    for (key, ns) in [
        ("interval", check.interval),
        ("timeout", check.timeout),
        ("start_period", check.start_period),
    ] {
        if ns > 0 {
            let _ = writeln!(y, "      {key}: {}", duration(ns));
        }
    }
    if check.retries > 0 {
        let _ = writeln!(y, "      retries: {}", check.retries);
    }
}

/// Nanoseconds as a compose duration (`30s`, `1500ms`).
fn duration(ns: i64) -> String {
    if ns % 1_000_000_000 == 0 {
        format!("{}s", ns / 1_000_000_000)
    } else {
        format!("{}ms", ns / 1_000_000)
    }
}

fn on_install(request: &Request) -> String {
    format!(
        r#""""First run of `{id}`: runs once, before its containers start for the first time.

`stack up {id}` calls `run(ctx)` on the first run only (until the first healthy start), so this is
the place to create folders or seed config files. It must be idempotent: an interrupted first run
runs it again. Delete this file if there is nothing to do. See docs/hooks.md for everything `ctx`
offers.
"""


def run(ctx):
    # The rendered environment of stacklet.toml's [env.defaults]:
    #   timezone = ctx.env["TZ"]
    # Progress lines and warnings:
    #   ctx.step("Preparing {id}")
    # A generated secret (declare it under [env] generate = [...]):
    #   password = ctx.secret("DB_PASSWORD")
    # A command, streamed, failing the hook on a non-zero exit:
    #   ctx.shell("mkdir -p some/dir")
    pass
"#,
        id = request.id
    )
}

#[cfg(test)]
mod tests;
