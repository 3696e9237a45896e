//! `stack install`, the first-run wizard's domain: the answers a new household gives (family,
//! admin, members, timezone, language, mode, data dir), the rules they must follow, sensible
//! defaults, and the `stack.toml` / `users.toml` they become. The questions themselves (terminal
//! prompts, flags) are the command layer's; nothing here prints or asks.
//!
//! Invariants: an existing `stack.toml` or `users.toml` is never overwritten (files are created
//! with `create_new`); every file written here parses with the same loaders `stack` uses.

pub mod checks;
pub mod detect;
mod files;

use std::io::Write as _;
use std::path::{Path, PathBuf};

pub use files::{stack_toml, users_toml};

use crate::config::is_valid_user_id;

/// The family name when none is given, and the Matrix server name it yields.
pub const DEFAULT_FAMILY: &str = "home";

/// Everything the wizard asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answers {
    /// As people write it (`Smith`).
    pub family: String,
    /// `[messages].server_name`: lowercase `[a-z0-9._-]`.
    pub server_name: String,
    pub admin: Member,
    pub members: Vec<Member>,
    pub timezone: String,
    pub language: String,
    /// `None`: port mode; `Some(domain)`: domain mode.
    pub domain: Option<String>,
    pub data_dir: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub name: String,
}

impl Member {
    /// `<id>@home.local`, the address services that log in by email get.
    pub fn email(&self) -> String {
        format!("{}@home.local", self.id)
    }
}

/// The Matrix server name a family name becomes: lowercase, only `[a-z0-9._-]` kept,
/// [`DEFAULT_FAMILY`] when nothing is left (`The Smiths!` → `thesmiths`).
pub fn server_name(family: &str) -> String {
    let clean: String = family
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(*c))
        .collect();
    if clean.is_empty() {
        DEFAULT_FAMILY.to_string()
    } else {
        clean
    }
}

/// `Err(why)` unless `name` is a usable Matrix server name: it appears in every Matrix id
/// (`@arthur:smith`) and can never change later.
pub fn check_server_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the server name cannot be empty".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(*c)))
    {
        return Err(format!(
            "`{c}` is not allowed; use lowercase letters, digits, `.`, `_` and `-`"
        ));
    }
    Ok(())
}

/// A member id from a name: the first word, lowercase, letters and digits only (`Anna-Lena
/// Smith` → `annalena`); empty when nothing usable is left.
pub fn member_id(name: &str) -> String {
    name.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .collect()
}

/// `Err(why)` unless `id` is a valid `users.toml` id not in `taken`.
pub fn check_member_id(id: &str, taken: &[&str]) -> Result<(), String> {
    if !is_valid_user_id(id) {
        return Err(format!(
            "`{id}` is not a valid id; use lowercase letters, digits, `-`, `_` or `.`"
        ));
    }
    if taken.contains(&id) {
        return Err(format!("`{id}` is already taken"));
    }
    Ok(())
}

/// `Err(why)` unless `name` is a person's name worth keeping (not empty).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        Err("a name is needed".into())
    } else {
        Ok(())
    }
}

/// `Err(why)` unless `domain` looks like a DNS name (`home.internal`): letters, digits, `-`, dots
/// between labels, no scheme, no port.
pub fn check_domain(domain: &str) -> Result<(), String> {
    let labels: Vec<&str> = domain.split('.').collect();
    let ok = !domain.is_empty()
        && domain.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{domain}` is not a domain name; expected something like `home.internal` (no `http://`, no port)"
        ))
    }
}

/// `Err(why)` unless `language` is a language code (`de`, `en`, `pt-BR`).
pub fn check_language(language: &str) -> Result<(), String> {
    let (lang, region) = language.split_once('-').unwrap_or((language, ""));
    let ok = (2..=3).contains(&lang.len())
        && lang.chars().all(|c| c.is_ascii_lowercase())
        && (region.is_empty()
            || (region.len() == 2 && region.chars().all(|c| c.is_ascii_uppercase())));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{language}` is not a language code; expected two lowercase letters such as `de` or `en`"
        ))
    }
}

/// `Err(why, suggestion)` unless `tz` is an IANA time zone name.
pub fn check_timezone(tz: &str) -> Result<(), String> {
    crate::config::timezone(tz).map_err(|suggestion| match suggestion {
        Some(s) => format!("`{tz}` is not an IANA time zone name; did you mean `{s}`?"),
        None => format!("`{tz}` is not an IANA time zone name, such as `Europe/Berlin`"),
    })
}

impl Answers {
    /// Check every answer together (the flag form reaches here without prompts).
    pub fn check(&self) -> Result<(), String> {
        check_server_name(&self.server_name).map_err(|e| format!("server name: {e}"))?;
        check_name(&self.admin.name).map_err(|e| format!("admin: {e}"))?;
        let mut taken: Vec<&str> = Vec::new();
        for m in std::iter::once(&self.admin).chain(&self.members) {
            check_name(&m.name).map_err(|e| format!("member `{}`: {e}", m.id))?;
            check_member_id(&m.id, &taken).map_err(|e| format!("member `{}`: {e}", m.name))?;
            taken.push(&m.id);
        }
        check_timezone(&self.timezone).map_err(|e| format!("timezone: {e}"))?;
        check_language(&self.language).map_err(|e| format!("language: {e}"))?;
        if let Some(domain) = &self.domain {
            check_domain(domain).map_err(|e| format!("domain: {e}"))?;
        }
        if self.data_dir.trim().is_empty() {
            return Err("data dir: cannot be empty".into());
        }
        Ok(())
    }
}

/// What happened to one config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    Created(PathBuf),
    /// It existed and was left exactly as it was.
    Kept(PathBuf),
}

/// Create `path` with `text` unless it exists (then it is kept untouched). The content goes to a
/// temporary file that is linked into place only if nothing is there, so a concurrent writer or an
/// interruption never leaves a torn or overwritten file.
pub fn create_unless_exists(path: &Path, text: &str) -> std::io::Result<Written> {
    if path.exists() {
        return Ok(Written::Kept(path.to_path_buf()));
    }
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    // Config files people read and edit: 0644 like any other, not the temporary file's 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(Written::Created(path.to_path_buf())),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(Written::Kept(path.to_path_buf()))
        }
        Err(e) => Err(e.error),
    }
}

#[cfg(test)]
mod tests;
