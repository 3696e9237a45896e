//! What the bot runner needs to run the instance's bots (`stack bots run`, docs/bots.md): the
//! messages stacklet's homeserver and registration secret, the family's admins, the signed API,
//! and every active bot with its password and state folder.

use anyhow::Context;
use serde_json::json;

use super::Session;
use crate::secrets::{Kind, Secrets};

/// The messages stacklet: the homeserver every bot logs in to.
const MESSAGES: &str = "messages";

/// The runner's configuration as one JSON document (it holds passwords: never written to disk).
pub fn runner_config(session: &mut Session) -> anyhow::Result<serde_json::Value> {
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
    let homeserver = homeserver(ws, &messages, &session.lan_ip)?;
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
        for (key, value) in env_settings(ws, bot, &session.lan_ip)? {
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
            "url": format!("http://127.0.0.1:{api_port}"),
            "key": secret(crate::commands::serve::KEY_SECRET),
        },
        "bots": bots,
    }))
}

/// A bot's settings from its stacklet's rendered env: `<BOT>_BOT_<NAME>` (other than the
/// password) becomes the setting `<name>` in lowercase, so `SCRIBE_BOT_WHISPER_URL =
/// "{ai_whisper_url}"` reaches scribe-bot as `whisper_url` with the instance's value.
fn env_settings(
    ws: &crate::workspace::Workspace,
    bot: &crate::bots::Bot,
    lan_ip: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let Some(prefix) = bot.password_env.strip_suffix("PASSWORD") else {
        return Ok(Vec::new());
    };
    let stacklet = ws
        .catalog
        .get(&bot.stacklet)
        .with_context(|| format!("Bot `{}`: no stacklet `{}`", bot.id, bot.stacklet))?;
    let rendered = crate::render::env::render(ws, stacklet, lan_ip)?;
    Ok(rendered
        .entries
        .into_iter()
        .filter(|(key, _)| key != &bot.password_env)
        .filter_map(|(key, value)| {
            let name = key.strip_prefix(prefix)?;
            (!name.is_empty()).then(|| (name.to_lowercase(), value))
        })
        .collect())
}

/// Where a bot keeps its session and read cursor: `<data>/<stacklet>/bot/<bot-id>/`.
pub fn bot_state_dir(
    ws: &crate::workspace::Workspace,
    stacklet: &str,
    bot: &str,
) -> std::path::PathBuf {
    ws.config.data_dir.join(stacklet).join("bot").join(bot)
}

/// Where the messages stacklet's Synapse answers: its rendered `SYNAPSE_API_URL`.
pub fn homeserver(
    ws: &crate::workspace::Workspace,
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
pub fn server_name(ws: &crate::workspace::Workspace) -> String {
    ws.config
        .messages
        .server_name
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "home".to_string())
}
