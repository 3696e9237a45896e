//! Template variables (docs/templates-and-secrets.md lists them): the values `{name}` can refer to in `[env.defaults]`, hints,
//! health checks and `check_url`s, computed from `stack.toml`, `users.toml`, the catalog and the
//! secrets snapshot.
//!
//! Invariant: this module only computes; it never generates or writes a secret. The caller ensures
//! `global__ADMIN_PASSWORD` exists before rendering a template that uses `{admin_password}`.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::namespace::Namespace;
use crate::stacklet::manifest::Manifest;
use crate::workspace::Workspace;

pub const ADMIN_USERNAME: &str = "stackadmin";
pub const ADMIN_EMAIL: &str = "stackadmin@home.local";
pub const ADMIN_PASSWORD_KEY: &str = "global__ADMIN_PASSWORD";
pub const AI_API_KEY: &str = "global__AI_API_KEY";
/// Watchtower's cron when `[updates].schedule` is unset: 3am nightly.
pub const DEFAULT_UPDATE_SCHEDULE: &str = "0 0 3 * * *";

/// Variables whose values are credentials: a default that uses one is masked by `stack env`
/// unless `--reveal`. Secrets by key (`<namespace>__<NAME>`) always are.
const SECRET_VARS: &[&str] = &["admin_password", "ai_openai_key"];

pub fn is_secret(name: &str) -> bool {
    SECRET_VARS.contains(&name) || name.contains("__")
}

/// Every variable available to templates of stacklet `id`. `secrets` is the full secrets snapshot.
// Long by design: every template variable in one flat list, in the order
// docs/templates-and-secrets.md lists them, so the set a template can use is read in one place.
pub fn variables(
    ws: &Workspace,
    id: &str,
    secrets: &BTreeMap<String, String>,
    lan_ip: &str,
) -> BTreeMap<String, String> {
    let cfg = &ws.config;
    let mut vars = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        vars.insert(k.to_string(), v);
    };
    set("data_dir", ws.config.data_dir.display().to_string());
    set("domain", cfg.core.domain.trim().to_string());
    set(
        "language",
        first(&[&cfg.core.language, &cfg.ai.language]).unwrap_or_else(|| "en".into()),
    );
    set(
        "timezone",
        first(&[&cfg.core.timezone]).unwrap_or_else(|| "UTC".into()),
    );
    set("stacklet_id", id.to_string());
    set(
        "updates_schedule",
        first(&[&cfg.updates.schedule]).unwrap_or_else(|| DEFAULT_UPDATE_SCHEDULE.into()),
    );
    // Who owns the family's files on the host, for images that map their user to it (Paperless'
    // USERMAP_UID/GID), so folders such as `consume` stay writable for that person.
    let (uid, gid) = owner(&ws.config.data_dir);
    set("data_dir_uid", uid.to_string());
    set("data_dir_gid", gid.to_string());
    set("file_poll_seconds", FILE_POLL_SECONDS.into());
    // Where the runtime assembles the Caddyfile (`caddy.rs`); core mounts it into Caddy.
    set("caddy_dir", ws.instance.caddy_dir().display().to_string());
    // Where the family start page is written (`start_page.rs`); core's Caddy serves it.
    set(
        "start_page_dir",
        crate::start_page::dir(&ws.instance).display().to_string(),
    );
    // The bot runner's container (core) mounts its code, the bots and its configuration from here.
    set("lib_dir", ws.instance.lib_dir().display().to_string());
    set(
        "stacklets_dir",
        ws.instance.stacklets_dir().display().to_string(),
    );
    set(
        "bot_runner_dir",
        ws.instance.bot_runner_dir().display().to_string(),
    );
    set("admin_username", ADMIN_USERNAME.into());
    set("admin_email", ADMIN_EMAIL.into());
    set(
        "admin_password",
        secrets.get(ADMIN_PASSWORD_KEY).cloned().unwrap_or_default(),
    );
    set("admin_user_ids", ws.users.admin_ids());
    let openai = first(&[&cfg.ai.openai_url]).unwrap_or_else(|| "http://localhost:8000/v1".into());
    set("ai_openai_url_docker", docker_url(&openai));
    set("ai_openai_url", openai);
    set(
        "ai_openai_key",
        secrets
            .get(AI_API_KEY)
            .filter(|k| !k.is_empty())
            .cloned()
            .or_else(|| cfg.ai.openai_key.clone())
            .unwrap_or_default(),
    );
    let whisper =
        first(&[&cfg.ai.whisper_url]).unwrap_or_else(|| "http://localhost:42062/v1".into());
    set("ai_whisper_url_docker", docker_url(&whisper));
    set("ai_whisper_url", whisper);
    let ai_language = first(&[&cfg.ai.language]).unwrap_or_else(|| "en".into());
    set(
        "ai_tts_voice",
        if ai_language.starts_with("de") {
            "onyx"
        } else {
            "alloy"
        }
        .into(),
    );
    set("ai_language", ai_language);
    let model = cfg.ai.default.clone().unwrap_or_default();
    set(
        "ai_default_model_short",
        model.rsplit('/').next().unwrap_or_default().to_string(),
    );
    set("ai_default_model", model);
    set(
        "messages_server_name",
        cfg.messages.server_name.clone().unwrap_or_default(),
    );
    let ns = &ws.namespace;
    for s in &ws.catalog.stacklets {
        // The id as written (`{my-app_url}`), and with `_` for `-` as an alias.
        let spellings = |suffix: &str| {
            let written = format!("{}_{suffix}", s.id());
            let alias = written.replace('-', "_");
            [written, alias]
        };
        if let Some(port) = s.manifest.port {
            let url = public_url(cfg, ns, s.id(), None, port, lan_ip);
            for name in spellings("url") {
                set(&name, url.clone());
            }
        }
        for (name, port) in &s.manifest.ports {
            let url = public_url(cfg, ns, s.id(), Some(name), *port, lan_ip);
            for var in spellings(&format!("{name}_url")) {
                set(&var, url.clone());
            }
        }
        // Declared secrets exist as variables from the start: empty until generated.
        for name in &s.manifest.generate {
            for var in spellings(&format!("_{name}")) {
                set(&var, String::new());
            }
        }
    }
    for (key, value) in secrets {
        // `{my-app__TOKEN}` as written, `{my_app__TOKEN}` as an alias.
        set(&key.replace('-', "_"), value.clone());
        set(key, value.clone());
    }
    if let Some(me) = ws.catalog.get(id) {
        set(
            "url",
            me.manifest
                .port
                .map(|p| public_url(cfg, ns, id, None, p, lan_ip))
                .unwrap_or_else(|| domain_url(cfg, ns, id).unwrap_or_default()),
        );
    }
    set("ip", lan_ip.to_string());
    vars
}

/// `{file_poll_seconds}`: 0 where the engine shares the host's kernel (Linux), so file
/// notifications in bind mounts reach containers; elsewhere the engine runs in a VM (Docker
/// Desktop, OrbStack) whose file sharing may not pass them on, so apps watching a folder poll.
const FILE_POLL_SECONDS: &str = if cfg!(target_os = "linux") { "0" } else { "10" };

/// Owner (uid, gid) of `path`, or of its nearest existing parent while it does not exist yet
/// (the first `up` creates the data dir below the person's home).
pub fn owner(path: &std::path::Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    path.ancestors()
        .find_map(|p| std::fs::metadata(p).ok())
        .map(|m| (m.uid(), m.gid()))
        .unwrap_or((0, 0))
}

fn first(options: &[&Option<String>]) -> Option<String> {
    options
        .iter()
        .find_map(|o| o.as_ref().filter(|s| !s.trim().is_empty()).cloned())
}

/// `localhost`/`127.0.0.1` rewritten to `host.docker.internal`, for use from inside containers.
pub fn docker_url(url: &str) -> String {
    url.replacen("://localhost", "://host.docker.internal", 1)
        .replacen("://127.0.0.1", "://host.docker.internal", 1)
}

/// `http(s)://<id>.<domain>`; with a port offset, Caddy's port 80/443 moved by it is added.
fn domain_url(cfg: &Config, ns: &Namespace, id: &str) -> Option<String> {
    cfg.domain_mode().then(|| {
        let (scheme, port) = if cfg.core.https {
            ("https", 443)
        } else {
            ("http", 80)
        };
        let port = match ns.port_offset() {
            0 => String::new(),
            _ => ns
                .host_port(port)
                .map(|p| format!(":{p}"))
                .unwrap_or_default(),
        };
        format!("{scheme}://{id}.{}{port}", cfg.core.domain.trim())
    })
}

/// Domain mode `http(s)://<id>.<domain>` (a named port: `<id>-<name>.<domain>`); port mode
/// `http://<lan-ip>:<port>`, the port moved by the instance's `[core].port_offset`.
pub fn public_url(
    cfg: &Config,
    ns: &Namespace,
    id: &str,
    port_name: Option<&str>,
    port: u16,
    lan_ip: &str,
) -> String {
    match (domain_url(cfg, ns, id), port_name) {
        (Some(url), None) => url,
        (Some(_), Some(name)) => domain_url(cfg, ns, &format!("{id}-{name}")).unwrap_or_default(),
        (None, _) => format!("http://{lan_ip}:{}", ns.host_port(port).unwrap_or(port)),
    }
}

/// The public URL of a stacklet's main `port` (what `list` shows and the start page links to);
/// `None` for a stacklet without one.
pub fn stacklet_url(
    cfg: &Config,
    ns: &Namespace,
    manifest: &Manifest,
    lan_ip: &str,
) -> Option<String> {
    manifest
        .port
        .map(|port| public_url(cfg, ns, &manifest.id, None, port, lan_ip))
}

/// The machine's LAN address for URLs shown to people, `localhost` when none is found.
/// `STACK_LAN_IP` overrides. Read from the interface list (`getifaddrs(3)`), so no packet is ever
/// sent and no child process runs: the first IPv4 address of an interface that is up and not the
/// loopback, as `hostname -I` lists them (Linux), or `en0`'s, then `en1`'s, as `ipconfig getifaddr`
/// reports them (macOS). Both tools were once run here; every command paid a child process for it
/// (docs/performance.md).
pub fn lan_ip() -> String {
    if let Ok(ip) = std::env::var("STACK_LAN_IP")
        && !ip.trim().is_empty()
    {
        return ip.trim().to_string();
    }
    let Ok(addresses) = nix::ifaddrs::getifaddrs() else {
        return "localhost".into();
    };
    let interfaces = addresses.filter_map(|a| {
        let ip = a.address.as_ref()?.as_sockaddr_in()?.ip();
        Some(Interface {
            name: a.interface_name,
            up: a.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP),
            loopback: a
                .flags
                .contains(nix::net::if_::InterfaceFlags::IFF_LOOPBACK),
            ip,
        })
    });
    pick_lan_ip(interfaces, cfg!(target_os = "macos"))
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "localhost".into())
}

/// One IPv4 address of one interface, as `getifaddrs` lists them.
struct Interface {
    name: String,
    up: bool,
    loopback: bool,
    ip: std::net::Ipv4Addr,
}

/// The address [`lan_ip`] shows, from the interface list in the system's order.
fn pick_lan_ip(
    interfaces: impl Iterator<Item = Interface>,
    macos: bool,
) -> Option<std::net::Ipv4Addr> {
    let usable: Vec<Interface> = interfaces
        .filter(|i| i.up && !i.loopback && !i.ip.is_loopback())
        .collect();
    if macos {
        ["en0", "en1"]
            .iter()
            .find_map(|name| usable.iter().find(|i| i.name == *name).map(|i| i.ip))
    } else {
        usable.first().map(|i| i.ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(name: &str, up: bool, loopback: bool, ip: &str) -> Interface {
        Interface {
            name: name.into(),
            up,
            loopback,
            ip: ip.parse().unwrap(),
        }
    }

    #[test]
    fn lan_ip_is_the_first_address_of_an_up_interface_that_is_not_the_loopback() {
        let list = || {
            vec![
                iface("lo", true, true, "127.0.0.1"),
                iface("eth1", false, false, "10.9.9.9"),
                iface("eth0", true, false, "192.168.1.20"),
                iface("docker0", true, false, "172.17.0.1"),
                iface("en1", true, false, "192.168.1.30"),
            ]
            .into_iter()
        };
        assert_eq!(
            pick_lan_ip(list(), false),
            Some("192.168.1.20".parse().unwrap())
        );
        // macOS: en0 first, then en1 (as `ipconfig getifaddr en0`, then `en1`).
        assert_eq!(
            pick_lan_ip(list(), true),
            Some("192.168.1.30".parse().unwrap())
        );
        assert_eq!(pick_lan_ip(std::iter::empty(), false), None);
        assert_eq!(
            pick_lan_ip(
                vec![iface("lo", true, true, "127.0.0.1")].into_iter(),
                false
            ),
            None
        );
    }

    /// On this machine the answer is the first IPv4 address `hostname -I` prints.
    #[cfg(target_os = "linux")]
    #[test]
    fn lan_ip_agrees_with_hostname_i() {
        let Ok(out) = std::process::Command::new("hostname").arg("-I").output() else {
            return; // no `hostname` here: nothing to compare with
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let expected = text
            .split_whitespace()
            .find(|w| {
                w.parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|a| !a.is_loopback())
            })
            .unwrap_or("localhost");
        // `STACK_LAN_IP` overrides both; compare only without it.
        if std::env::var_os("STACK_LAN_IP").is_none() {
            assert_eq!(lan_ip(), expected);
        }
    }

    #[test]
    fn docker_url_rewrites_loopback() {
        assert_eq!(
            docker_url("http://localhost:8000/v1"),
            "http://host.docker.internal:8000/v1"
        );
        assert_eq!(
            docker_url("http://127.0.0.1:1/"),
            "http://host.docker.internal:1/"
        );
        assert_eq!(docker_url("http://example:1/"), "http://example:1/");
    }

    #[test]
    fn owner_of_a_missing_folder_is_that_of_its_nearest_parent() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let meta = std::fs::metadata(tmp.path()).unwrap();
        assert_eq!(owner(&tmp.path().join("not/yet")), (meta.uid(), meta.gid()));
    }

    #[test]
    fn urls_follow_the_mode() {
        let mut cfg = Config::default();
        let ns = Namespace::default_instance(std::path::Path::new("/repo"), 0);
        assert_eq!(
            public_url(&cfg, &ns, "photos", None, 42010, "10.0.0.2"),
            "http://10.0.0.2:42010"
        );
        cfg.core.domain = "home.internal".into();
        assert_eq!(
            public_url(&cfg, &ns, "photos", None, 42010, "x"),
            "http://photos.home.internal"
        );
        cfg.core.https = true;
        assert_eq!(
            public_url(&cfg, &ns, "messages", Some("element"), 1, "x"),
            "https://messages-element.home.internal"
        );
    }

    #[test]
    fn urls_carry_the_port_offset() {
        let mut cfg = Config::default();
        let ns = Namespace::named("test", std::path::Path::new("/tmp/test"), 1000);
        assert_eq!(
            public_url(&cfg, &ns, "photos", None, 42010, "10.0.0.2"),
            "http://10.0.0.2:43010"
        );
        cfg.core.domain = "home.internal".into();
        assert_eq!(
            public_url(&cfg, &ns, "photos", None, 42010, "x"),
            "http://photos.home.internal:1080"
        );
    }
}
