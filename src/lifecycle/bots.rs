//! What the bot runner needs to run the instance's bots (docs/bots.md): the messages stacklet's
//! homeserver and registration secret, the family's admins, the signed API, and every active bot
//! with its password and state folder — for the runner on the host (`stack bots run`, fed on
//! stdin) or in core's `bot-runner` container (`.stack/bot-runner/config.json`, 0600, mounted
//! read-only).
//!
//! Invariant: the two differ only in the addresses a container must use instead of the host's
//! ([`Side`]): the homeserver, the signed API, and bot settings that have a `_DOCKER` variant.

use anyhow::Context;
use serde_json::json;

use super::Session;
use crate::secrets::{Kind, Secrets};
use crate::workspace::Workspace;

/// The messages stacklet: the homeserver every bot logs in to.
pub const MESSAGES: &str = "messages";

/// The stacklet whose compose file runs the bot runner as a container.
pub const CORE: &str = "core";

/// The compose profile of core's `bot-runner` service, which the runtime enables while
/// [`runner_wanted`].
pub const PROFILE: &str = "bots";

/// Core's compose service that runs the bot runner.
const SERVICE: &str = "stack-core-bot-runner";

/// The container runner's configuration file in [`crate::instance::Instance::bot_runner_dir`].
const CONFIG_FILE: &str = "config.json";

/// Where a runner runs, which decides the addresses it is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// `stack bots run`: the host's own addresses.
    Host,
    /// Core's `bot-runner` container: the messages stacklet's Synapse on the `stack` network,
    /// the host's services through `host.docker.internal`.
    Container,
}

/// Whether core runs its bot runner: bots live in Matrix rooms, so only while `messages` is set
/// up (the `bots` profile).
pub fn runner_wanted(ws: &Workspace) -> bool {
    ws.catalog.get(MESSAGES).is_some() && ws.instance.is_set_up(MESSAGES)
}

/// `.stack/bot-runner/config.json`.
pub fn container_config_file(ws: &Workspace) -> std::path::PathBuf {
    ws.instance.bot_runner_dir().join(CONFIG_FILE)
}

/// Before core's containers converge: the configuration of its `bot-runner` service, written
/// when core's project runs that service (the `bots` profile is on), removed otherwise.
pub fn prepare_core(
    session: &mut Session,
    project: Option<&crate::compose::model::Project>,
) -> anyhow::Result<()> {
    if project.is_some_and(|p| p.services.contains_key(SERVICE)) {
        return write_container_config(session);
    }
    let file = container_config_file(&session.ws);
    if file.exists() {
        std::fs::remove_file(&file)
            .with_context(|| format!("Cannot remove `{}`", file.display()))?;
    }
    Ok(())
}

/// Write the container runner's configuration (when [`runner_wanted`]; otherwise remove it). The
/// running container watches the file and restarts its bots with the new one. Written 0600 and
/// handed to the owner of the data dir, the user the container runs as (core's
/// `BOT_RUNNER_USER`), where that differs from who runs `stack` and the runtime may (root).
pub fn write_container_config(session: &mut Session) -> anyhow::Result<()> {
    let file = container_config_file(&session.ws);
    if !runner_wanted(&session.ws) {
        if file.exists() {
            std::fs::remove_file(&file)
                .with_context(|| format!("Cannot remove `{}`", file.display()))?;
        }
        return Ok(());
    }
    let config = runner_config(session, Side::Container)?;
    let text = serde_json::to_vec_pretty(&config)?;
    crate::atomic::write_private(&file, &text)
        .with_context(|| format!("Cannot write `{}`", file.display()))?;
    let (uid, gid) = crate::render::vars::owner(&session.ws.config.data_dir);
    let dir = session.ws.instance.bot_runner_dir();
    for path in [dir.as_path(), file.as_path()] {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        if (meta.uid(), meta.gid()) == (uid, gid) {
            continue;
        }
        if let Err(e) = std::os::unix::fs::chown(path, Some(uid), Some(gid)) {
            session.printer.warn(format!(
                "Cannot hand `{}` to the bot runner's user {uid}:{gid} (the data dir's owner): {e}; \
                 the runner may not read its configuration",
                path.display()
            ));
        }
    }
    Ok(())
}

/// After the bots changed (a stacklet with a bot came up or went away): rewrite the running
/// container's configuration, if core has one — best effort, the change itself has happened;
/// a problem is a warning naming what to run.
pub fn refresh_container_config(session: &mut Session) {
    if !session.ws.instance.is_set_up(CORE) {
        return;
    }
    if !container_config_file(&session.ws).exists() && !runner_wanted(&session.ws) {
        return;
    }
    if let Err(e) = write_container_config(session) {
        session.printer.warn(format!(
            "Cannot update the bot runner's configuration: {e:#}; run `stack up core`"
        ));
    }
}

/// The running bot-runner container of this instance, if any (its engine name).
pub async fn container_runner(session: &mut Session) -> anyhow::Result<Option<String>> {
    let Some(docker) = session.try_docker().await else {
        return Ok(None);
    };
    let ns = &session.ws.namespace;
    let containers = crate::engine::ps(&docker, ns, &ns.project(CORE)).await?;
    Ok(containers
        .into_iter()
        .find(|c| c.service == SERVICE && c.state == "running")
        .map(|c| c.name))
}

/// The runner's configuration as one JSON document, with the addresses of `side`. It holds
/// passwords: the host runner gets it on stdin, the container from a 0600 file.
pub fn runner_config(session: &mut Session, side: Side) -> anyhow::Result<serde_json::Value> {
    let ws = &session.ws;
    let messages = ws
        .catalog
        .get(MESSAGES)
        .with_context(|| "Bots live in Matrix rooms, and this repo has no `messages` stacklet")?
        .clone();
    if !ws.instance.is_set_up(MESSAGES) {
        return Err(crate::error::UserError::new(
            "The bots need the `messages` stacklet, which is not set up",
        )
        .hint("stack up messages")
        .into());
    }
    let homeserver = match side {
        Side::Host => homeserver(ws, &messages, &session.lan_ip)?,
        Side::Container => container_homeserver(ws, &messages, &session.lan_ip)?,
    };
    let server_name = server_name(ws);
    let secrets_file = ws.instance.secrets_file();
    let secrets = Secrets::ensure(
        &secrets_file,
        &[(
            crate::commands::serve::KEY_SECRET.to_string(),
            Kind::Service,
        )],
    )?;
    let secret = |key: &str| secrets.get(key).map(str::to_string);
    let registration_secret = secret("messages__REGISTRATION_SHARED_SECRET")
        .context("`messages__REGISTRATION_SHARED_SECRET` is missing: run `stack up messages`")?;
    let admins: Vec<String> = ws
        .users
        .users
        .iter()
        .filter(|u| u.role == "admin")
        .map(|u| format!("@{}:{server_name}", u.id.to_lowercase()))
        .collect();
    let api_port = ws
        .namespace
        .host_port(crate::commands::serve::DEFAULT_PORT)
        .context("The API port plus `port_offset` is above 65535")?;
    let (found, _warnings) = crate::bots::discover(&ws.instance, &ws.catalog.stacklets)?;
    let mut bots = Vec::new();
    for bot in found.iter().filter(|b| ws.instance.is_set_up(&b.stacklet)) {
        let Some(password) = secret(&bot.password_secret) else {
            session.printer.warn(format!(
                "Skipping `{}`: its password `{}` is not generated yet (run `stack up {}`)",
                bot.id, bot.password_secret, bot.stacklet
            ));
            continue;
        };
        let mut entry = json!(bot);
        for (key, value) in env_settings(ws, bot, &session.lan_ip, side)? {
            entry["settings"][key] = json!(value);
        }
        entry["password"] = json!(password);
        entry["state_dir"] = json!(bot_state_dir(ws, &bot.stacklet, &bot.id));
        bots.push(entry);
    }
    Ok(json!({
        "homeserver": homeserver,
        "server_name": server_name,
        "registration_secret": registration_secret,
        "admins": admins,
        "api": {
            // `stack serve` listens on loopback and, on Linux, on the address
            // `host.docker.internal` points containers at (docs/api.md).
            "url": match side {
                Side::Host => format!("http://127.0.0.1:{api_port}"),
                Side::Container => format!("http://host.docker.internal:{api_port}"),
            },
            "key": secret(crate::commands::serve::KEY_SECRET),
        },
        "bots": bots,
    }))
}

/// A bot's settings from its stacklet's rendered env: `<BOT>_BOT_<NAME>` (other than the
/// password) becomes the setting `<name>` in lowercase, so `SCRIBE_BOT_WHISPER_URL =
/// "{ai_whisper_url}"` reaches scribe-bot as `whisper_url` with the instance's value. In the
/// container, `<BOT>_BOT_<NAME>_DOCKER` (`"{ai_whisper_url_docker}"`) replaces it.
fn env_settings(
    ws: &Workspace,
    bot: &crate::bots::Bot,
    lan_ip: &str,
    side: Side,
) -> anyhow::Result<Vec<(String, String)>> {
    let Some(prefix) = bot.password_env.strip_suffix("PASSWORD") else {
        return Ok(Vec::new());
    };
    let stacklet = ws
        .catalog
        .get(&bot.stacklet)
        .with_context(|| format!("Bot `{}`: no stacklet `{}`", bot.id, bot.stacklet))?;
    let rendered = crate::render::env::render(ws, stacklet, lan_ip)?;
    let own: Vec<(String, String)> = rendered
        .entries
        .into_iter()
        .filter(|(key, _)| key != &bot.password_env)
        .filter_map(|(key, value)| {
            let name = key.strip_prefix(prefix)?;
            (!name.is_empty()).then(|| (name.to_string(), value))
        })
        .collect();
    Ok(for_side(&own, side))
}

/// The `NAME → value` pairs a runner on `side` sees: a `NAME_DOCKER` entry is the container's
/// value of `NAME` (and no setting of its own), the way the `_docker` template variables are the
/// container's form of a URL. Names come out in lowercase.
fn for_side(entries: &[(String, String)], side: Side) -> Vec<(String, String)> {
    let docker = |name: &str| {
        entries
            .iter()
            .find(|(k, _)| k.strip_suffix(DOCKER_SUFFIX) == Some(name))
            .map(|(_, v)| v.clone())
    };
    entries
        .iter()
        .filter(|(name, _)| name.strip_suffix(DOCKER_SUFFIX).is_none_or(str::is_empty))
        .map(|(name, value)| {
            let value = match side {
                Side::Container => docker(name).unwrap_or_else(|| value.clone()),
                Side::Host => value.clone(),
            };
            (name.to_lowercase(), value)
        })
        .collect()
}

/// The suffix of an env entry that holds a value's container form.
const DOCKER_SUFFIX: &str = "_DOCKER";

/// Where a bot keeps its session and read cursor: `<data>/<stacklet>/bot/<bot-id>/`.
pub fn bot_state_dir(ws: &Workspace, stacklet: &str, bot: &str) -> std::path::PathBuf {
    ws.config.data_dir.join(stacklet).join("bot").join(bot)
}

/// Where the container reaches the messages stacklet's Synapse: its rendered
/// `SYNAPSE_API_URL_DOCKER` (the Synapse container on the `stack` network), else
/// `SYNAPSE_API_URL` with `localhost` made `host.docker.internal`.
fn container_homeserver(
    ws: &Workspace,
    messages: &crate::stacklet::Stacklet,
    lan_ip: &str,
) -> anyhow::Result<String> {
    let rendered = crate::render::env::render(ws, messages, lan_ip)?;
    let get = |name: &str| {
        rendered
            .entries
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    match get("SYNAPSE_API_URL_DOCKER") {
        Some(url) => Ok(url),
        None => homeserver(ws, messages, lan_ip).map(|url| crate::render::vars::docker_url(&url)),
    }
}

/// Where the messages stacklet's Synapse answers: its rendered `SYNAPSE_API_URL`.
pub fn homeserver(
    ws: &Workspace,
    messages: &crate::stacklet::Stacklet,
    lan_ip: &str,
) -> anyhow::Result<String> {
    let rendered = crate::render::env::render(ws, messages, lan_ip)?;
    rendered
        .entries
        .into_iter()
        .find(|(k, _)| k == "SYNAPSE_API_URL")
        .map(|(_, v)| v)
        .context("The messages stacklet renders no `SYNAPSE_API_URL`")
}

/// The Matrix server name: `[messages].server_name`, else `home` (as the messages hooks use it).
pub fn server_name(ws: &Workspace) -> String {
    ws.config
        .messages
        .server_name
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "home".to_string())
}

#[cfg(test)]
mod tests {
    use super::{Side, for_side};

    fn entries(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_docker_variant_is_the_containers_value_and_no_setting_of_its_own() {
        let env = entries(&[
            ("WHISPER_URL", "http://localhost:42062/v1"),
            ("WHISPER_URL_DOCKER", "http://host.docker.internal:42062/v1"),
            ("MODEL", "small"),
        ]);
        assert_eq!(
            for_side(&env, Side::Host),
            entries(&[
                ("whisper_url", "http://localhost:42062/v1"),
                ("model", "small")
            ])
        );
        assert_eq!(
            for_side(&env, Side::Container),
            entries(&[
                ("whisper_url", "http://host.docker.internal:42062/v1"),
                ("model", "small")
            ])
        );
    }

    #[test]
    fn a_setting_named_docker_alone_is_kept() {
        let env = entries(&[("DOCKER", "yes"), ("ONLY_DOCKER", "x")]);
        // `_DOCKER` alone is a name, not a variant; `ONLY_DOCKER` without `ONLY` is the
        // container form of nothing and is dropped on both sides.
        assert_eq!(for_side(&env, Side::Host), entries(&[("docker", "yes")]));
        assert_eq!(
            for_side(&env, Side::Container),
            entries(&[("docker", "yes")])
        );
    }
}
