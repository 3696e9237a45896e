//! Bots (docs/bots.md): finding `bot/bot.toml` in stacklets, checking the convention,
//! and writing `.stack/bots.json`, the manifest the core bot runner reads.
//!
//! The convention, checked here so the runner never meets a half-valid bot: the id ends in `-bot`;
//! the module `bot/<id without -bot>.py` exists and defines the class `<Camel>Bot`
//! (`archivist-bot` → `archivist.py` → `ArchivistBot`); the password is the secret
//! `<ID WITHOUT -BOT, UPPERCASE, - AS _>_BOT_PASSWORD` (`ARCHIVIST_BOT_PASSWORD`), which the stacklet
//! must declare in `[env].generate` so the runtime generates it. The manifest names the secret's key
//! (`docs__ARCHIVIST_BOT_PASSWORD`), never the password: the runner reads `secrets.toml` itself.
//! The manifest lists the bots of set-up stacklets only and is written atomically.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::display_path;
use crate::error::{UserError, closest};
use crate::instance::Instance;
use crate::output::Printer;
use crate::stacklet::manifest::toml_message;
use crate::stacklet::{Stacklet, StackletId};
use crate::workspace::Workspace;

const KNOWN_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "room",
    "room_topic",
    "settings",
];

/// One validated bot.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bot {
    pub id: String,
    pub name: String,
    pub description: String,
    pub stacklet: String,
    /// `stacklets/<id>/bot/`, absolute: the runner puts it on `sys.path` (for `messages/` and
    /// helper modules).
    pub dir: PathBuf,
    /// `stacklets/<id>/bot/<module>.py`, absolute.
    pub module: PathBuf,
    /// The module's import name (`-` becomes `_`).
    pub module_name: String,
    /// `ArchivistBot`.
    pub class: String,
    pub room: Option<String>,
    pub room_topic: Option<String>,
    /// `[settings]`, passed as keyword arguments to the constructor.
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// The environment name of the password (`ARCHIVIST_BOT_PASSWORD`).
    pub password_env: String,
    /// Its key in `.stack/secrets.toml` (`docs__ARCHIVIST_BOT_PASSWORD`).
    pub password_secret: String,
}

/// `bot/bot.toml` of a stacklet, if it has one.
pub fn bot_file(stacklet: &Stacklet) -> Option<PathBuf> {
    Some(stacklet.dir.join("bot").join("bot.toml")).filter(|p| p.is_file())
}

/// `archivist-bot` → `ArchivistBot`, `photo-sorter-bot` → `PhotoSorterBot`.
pub fn class_name(id: &str) -> String {
    let base = id.strip_suffix("-bot").unwrap_or(id);
    let mut out = String::new();
    for part in base.split(['-', '_']).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out.push_str("Bot");
    out
}

/// `archivist-bot` → `ARCHIVIST_BOT_PASSWORD`.
pub fn password_name(id: &str) -> String {
    let base = id.strip_suffix("-bot").unwrap_or(id);
    format!("{}_BOT_PASSWORD", base.to_uppercase().replace('-', "_"))
}

/// Read and validate the bot of `stacklet`. `Ok(None)`: it has no `bot/bot.toml`. Warnings (unknown
/// keys) are returned beside the bot.
// Long by design: `bot.toml`'s keys checked in the order they are documented (docs/bots.md),
// each failure naming its key and line through the one `invalid` builder.
pub fn load(
    instance: &Instance,
    stacklet: &Stacklet,
) -> Result<Option<(Bot, Vec<String>)>, UserError> {
    let Some(path) = bot_file(stacklet) else {
        return Ok(None);
    };
    let file = display_path(instance, &path);
    let source = std::fs::read_to_string(&path)
        .map_err(|e| UserError::new(format!("Cannot read `{file}`")).because(e))?;
    let table: toml::Table = toml::from_str(&source)
        .map_err(|e| UserError::new(format!("Invalid `{file}`: {}", toml_message(&e, &source))))?;
    let invalid = |key: &str, message: String| {
        UserError::new(format!(
            "Invalid `{file}` key `{key}`: {message}{}",
            crate::stacklet::manifest::line_suffix(&source, key)
        ))
    };
    let string = |key: &str, required: bool| -> Result<Option<String>, UserError> {
        match table.get(key) {
            None if required => Err(UserError::new(format!(
                "Invalid `{file}`: missing key `{key}`"
            ))),
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(invalid(
                key,
                format!("expected a string, found {}", other.type_str()),
            )),
        }
    };

    let id = string("id", true)?.unwrap_or_default();
    let base = id.strip_suffix("-bot").unwrap_or_default();
    // A bot id follows the stacklet id rule: it becomes the Matrix username.
    let well_formed = StackletId::is_valid(&id);
    if !id.ends_with("-bot") || base.is_empty() {
        return Err(invalid(
            "id",
            format!(
                "`{id}` must end with `-bot` (for example `{}-bot`)",
                stacklet.id()
            ),
        ));
    }
    if !well_formed || base.ends_with('-') {
        return Err(invalid(
            "id",
            format!(
                "`{id}` must be lowercase letters, digits and `-` (it becomes the Matrix username)"
            ),
        ));
    }
    let name = string("name", true)?.unwrap_or_default();
    let description = string("description", false)?.unwrap_or_default();
    let room = string("room", false)?.filter(|r| !r.is_empty());
    let room_topic = string("room_topic", false)?.filter(|t| !t.is_empty());
    if room_topic.is_some() && room.is_none() {
        return Err(invalid(
            "room_topic",
            "is set but `room` is not; the topic is for the room the bot creates".to_string(),
        ));
    }
    let settings = match table.get("settings") {
        None => serde_json::Map::new(),
        Some(toml::Value::Table(t)) => match serde_json::to_value(t) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        },
        Some(other) => {
            return Err(invalid(
                "settings",
                format!(
                    "expected a table (`[settings]`), found {}",
                    other.type_str()
                ),
            ));
        }
    };

    let dir = path.parent().map(PathBuf::from).unwrap_or_default();
    let module = dir.join(format!("{base}.py"));
    let module_display = display_path(instance, &module);
    let class = class_name(&id);
    let module_source = std::fs::read_to_string(&module).map_err(|_| {
        invalid(
            "id",
            format!("`{id}` needs its module `{module_display}`, which does not exist"),
        )
        .hint(format!(
            "the module is the id without `-bot`: create `{module_display}` with `class {class}(MicroBot)`"
        ))
    })?;
    if !defines_class(&module_source, &class) {
        return Err(UserError::new(format!(
            "`{module_display}` defines no class `{class}`, which the bot runner loads for `{id}`"
        ))
        .hint(format!("name the bot's class `{class}`")));
    }

    let password_env = password_name(&id);
    if !stacklet.manifest.generate.contains(&password_env) {
        let manifest = display_path(instance, &stacklet.dir.join("stacklet.toml"));
        return Err(UserError::new(format!(
            "`{id}` needs its password `{password_env}` in `[env].generate` of `{manifest}`"
        ))
        .hint(format!(
            "add it: `generate = [{}]`",
            stacklet
                .manifest
                .generate
                .iter()
                .map(String::as_str)
                .chain([password_env.as_str()])
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }

    let warnings = table
        .keys()
        .filter(|k| !KNOWN_KEYS.contains(&k.as_str()))
        .map(|k| {
            let mut w = format!("Unknown key `{k}` in `{file}` (ignored)");
            if let Some(c) = closest(k, KNOWN_KEYS.iter().copied()) {
                w.push_str(&format!("; did you mean `{c}`?"));
            }
            w
        })
        .collect();
    Ok(Some((
        Bot {
            password_secret: format!("{}__{password_env}", stacklet.id()),
            password_env,
            id: id.clone(),
            name,
            description,
            stacklet: stacklet.id().to_string(),
            dir,
            module,
            module_name: base.replace('-', "_"),
            class,
            room,
            room_topic,
            settings,
        },
        warnings,
    )))
}

/// A top-level `class <name>(…):` or `class <name>:` line.
fn defines_class(source: &str, class: &str) -> bool {
    source.lines().any(|line| {
        line.strip_prefix("class ")
            .and_then(|rest| rest.trim_start().strip_prefix(class))
            .is_some_and(|rest| rest.trim_start().starts_with(['(', ':']))
    })
}

/// The bots of `stacklets`, validated; two stacklets claiming one bot id is an error.
pub fn discover<'a>(
    instance: &Instance,
    stacklets: impl IntoIterator<Item = &'a Stacklet>,
) -> Result<(Vec<Bot>, Vec<String>), UserError> {
    let mut bots: Vec<Bot> = Vec::new();
    let mut warnings = Vec::new();
    for stacklet in stacklets {
        let Some((bot, w)) = load(instance, stacklet)? else {
            continue;
        };
        if let Some(other) = bots.iter().find(|b| b.id == bot.id) {
            return Err(UserError::new(format!(
                "Bot id `{}` is claimed by both `{}` and `{}`; a bot id is a Matrix username and must be unique",
                bot.id, other.stacklet, bot.stacklet
            )));
        }
        warnings.extend(w);
        bots.push(bot);
    }
    Ok((bots, warnings))
}

/// The manifest as the runner reads it.
pub fn manifest_json(bots: &[Bot]) -> serde_json::Value {
    serde_json::json!({
        "version": 1,
        "bots": bots,
    })
}

/// Write `.stack/bots.json` with the bots of every set-up stacklet plus `also` (the stacklet an
/// `up` is bringing up: its marker only exists after its first healthy start) minus `except` (the
/// stacklet being destroyed). Returns the bots written and any warnings.
pub fn write_manifest(
    ws: &Workspace,
    also: Option<&str>,
    except: Option<&str>,
) -> Result<(Vec<Bot>, Vec<String>), UserError> {
    let included: BTreeSet<&str> = ws
        .catalog
        .stacklets
        .iter()
        .map(Stacklet::id)
        .filter(|id| (ws.instance.is_set_up(id) || Some(*id) == also) && Some(*id) != except)
        .collect();
    let (bots, warnings) = discover(
        &ws.instance,
        ws.catalog
            .stacklets
            .iter()
            .filter(|s| included.contains(s.id())),
    )?;
    let path = ws.instance.bots_manifest();
    let text = serde_json::to_string_pretty(&manifest_json(&bots)).unwrap_or_default() + "\n";
    crate::atomic::write_private(&path, text.as_bytes())
        .map_err(|e| UserError::new(format!("Cannot write `{}`", path.display())).because(e))?;
    Ok((bots, warnings))
}

/// Keep `.stack/bots.json` current after `up` (`destroying = false`) or `destroy` of `stacklet`.
/// Only rewritten when the stacklet has a bot or a manifest already exists. A problem while
/// destroying is a warning: the stacklet is gone by then, and failing would say otherwise.
pub fn refresh(
    ws: &Workspace,
    printer: &Printer,
    stacklet: &Stacklet,
    destroying: bool,
) -> Result<(), UserError> {
    let has_bot = bot_file(stacklet).is_some();
    if !has_bot && !ws.instance.bots_manifest().exists() {
        return Ok(());
    }
    let id = stacklet.id();
    let written = if destroying {
        write_manifest(ws, None, Some(id))
    } else {
        write_manifest(ws, Some(id), None)
    };
    match written {
        Ok((bots, warnings)) => {
            for w in warnings {
                printer.warn(w);
            }
            if let Some(bot) = bots.iter().find(|b| b.stacklet == id) {
                printer.status("Registering", format!("{} for the bot runner", bot.id));
            }
            Ok(())
        }
        Err(e) if destroying => {
            printer.warn(format!(
                "Cannot update `{}`: {}",
                ws.instance.bots_manifest().display(),
                e.message
            ));
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_convention() {
        assert_eq!(class_name("archivist-bot"), "ArchivistBot");
        assert_eq!(class_name("photo-sorter-bot"), "PhotoSorterBot");
        assert_eq!(password_name("archivist-bot"), "ARCHIVIST_BOT_PASSWORD");
        assert_eq!(
            password_name("photo-sorter-bot"),
            "PHOTO_SORTER_BOT_PASSWORD"
        );
    }

    #[test]
    fn class_lines() {
        assert!(defines_class(
            "import x\nclass ArchivistBot(MicroBot):\n",
            "ArchivistBot"
        ));
        assert!(defines_class("class ArchivistBot:\n", "ArchivistBot"));
        assert!(!defines_class(
            "class ArchivistBotBase(MicroBot):\n",
            "ArchivistBot"
        ));
        assert!(!defines_class("    class ArchivistBot:\n", "ArchivistBot"));
    }
}
