//! The rendered environment of a stacklet (docs/templates-and-secrets.md): `[env.defaults]`
//! rendered against the template variables, the generated secrets, `PORT_BIND_IP` and
//! `WATCHTOWER_ENABLE`.
//!
//! Secrets are generated here, on first need and never overwritten: every `[env].generate` name,
//! and `global__ADMIN_PASSWORD` only when a template of the stacklet uses `{admin_password}`.
//! A secret missing for a stacklet that is already set up is never generated silently: its
//! service still holds the old value, so a new one would lock it out of its data ([`SecretPolicy`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::UserError;
use crate::render::template::{Template, TemplateError};
use crate::render::vars::{self, ADMIN_PASSWORD_KEY};
use crate::secrets::{Kind, Secrets};
use crate::stacklet::Stacklet;
use crate::workspace::Workspace;

#[derive(Clone, Debug)]
pub struct RenderedEnv {
    /// In `.env` order: defaults, generated secrets, runtime variables.
    pub entries: Vec<(String, String)>,
    /// Names whose values are secrets (masked by `stack env` unless `--reveal`).
    pub secret_names: BTreeSet<String>,
    /// All template variables, for hints, health checks and service URLs.
    pub vars: BTreeMap<String, String>,
}

/// Parse a template of `stacklet`, naming the file and key on error.
pub fn parse_template(stacklet: &Stacklet, key: &str, source: &str) -> Result<Template, UserError> {
    Template::parse(source).map_err(|e| template_error(stacklet, key, e))
}

pub fn template_error(stacklet: &Stacklet, key: &str, e: TemplateError) -> UserError {
    let file = format!("stacklets/{}/stacklet.toml", stacklet.id());
    let hint = e.hint();
    match e {
        TemplateError::UnknownVariable { name, .. } => UserError::new(format!(
            "Unknown template variable `{name}` in `{file}` {key}"
        ))
        .maybe_hint(hint),
        other => UserError::new(format!("Invalid template in `{file}` {key}: {other}")),
    }
}

/// What rendering may do about a generated secret that does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretPolicy {
    /// Generate it, unless the stacklet is already set up (marker or data present): then refuse,
    /// naming the secret, why it matters and how to restore it.
    Guarded,
    /// Generate it even for a set-up stacklet (`stack up <id> --regenerate-secrets`).
    Regenerate,
    /// Generate nothing; a missing secret renders empty. For tearing down (`down`, `destroy`,
    /// `uninstall`) and for views that must not change anything.
    ReadOnly,
}

/// Render `stacklet`'s environment, generating missing secrets unless it is set up
/// ([`SecretPolicy::Guarded`]).
pub fn render(ws: &Workspace, stacklet: &Stacklet, lan_ip: &str) -> Result<RenderedEnv, UserError> {
    render_with(ws, stacklet, lan_ip, SecretPolicy::Guarded)
}

/// Render `stacklet`'s environment with an explicit [`SecretPolicy`].
pub fn render_with(
    ws: &Workspace,
    stacklet: &Stacklet,
    lan_ip: &str,
    policy: SecretPolicy,
) -> Result<RenderedEnv, UserError> {
    let m = &stacklet.manifest;
    let mut templates = Vec::new();
    for (key, value) in &m.defaults {
        templates.push((
            key.clone(),
            parse_template(stacklet, &format!("[env.defaults].{key}"), value)?,
        ));
    }
    let uses_admin = templates
        .iter()
        .any(|(_, t)| t.variables().any(|v| v == "admin_password"));
    let mut wanted: Vec<(String, Kind)> = m
        .generate
        .iter()
        .map(|n| (format!("{}__{n}", m.id), Kind::Service))
        .collect();
    if uses_admin {
        wanted.push((ADMIN_PASSWORD_KEY.to_string(), Kind::Admin));
    }
    let secrets_path = ws.instance.secrets_file();
    if policy == SecretPolicy::Guarded {
        let existing = Secrets::load(&secrets_path)?;
        let missing: Vec<&str> = wanted
            .iter()
            .map(|(key, _)| key.as_str())
            .filter(|key| existing.get(key).is_none())
            .collect();
        if !missing.is_empty()
            && let Some(why) = set_up_evidence(ws, &m.id)
        {
            return Err(missing_secrets_error(ws, &m.id, &missing, &why));
        }
    }
    let secrets = match policy {
        SecretPolicy::ReadOnly => Secrets::load(&secrets_path)?,
        SecretPolicy::Guarded | SecretPolicy::Regenerate => {
            Secrets::ensure(&secrets_path, &wanted)?
        }
    };
    let snapshot = secrets.all().clone();
    let vars = vars::variables(ws, &m.id, &snapshot, lan_ip);
    let mut entries: Vec<(String, String)> = Vec::new();
    let mut secret_names = BTreeSet::new();
    for (key, template) in &templates {
        let value = template
            .render(&vars)
            .map_err(|e| template_error(stacklet, &format!("[env.defaults].{key}"), e))?;
        if template.variables().any(vars::is_secret) {
            secret_names.insert(key.clone());
        }
        entries.push((key.clone(), value));
    }
    let defined: BTreeSet<String> = entries.iter().map(|(k, _)| k.clone()).collect();
    for name in &m.generate {
        secret_names.insert(name.clone());
        if !defined.contains(name) {
            let value = snapshot
                .get(&format!("{}__{name}", m.id))
                .cloned()
                .unwrap_or_default();
            entries.push((name.clone(), value));
        }
    }
    let bind = if ws.config.domain_mode() {
        "127.0.0.1"
    } else {
        "0.0.0.0"
    };
    for (key, value) in [
        ("PORT_BIND_IP", bind.to_string()),
        ("WATCHTOWER_ENABLE", m.watchtower_enabled().to_string()),
    ] {
        if !defined.contains(key) {
            entries.push((key.to_string(), value));
        }
    }
    Ok(RenderedEnv {
        entries,
        secret_names,
        vars,
    })
}

/// Why `id` counts as set up for [`SecretPolicy::Guarded`]: its marker, or data in `<data>/<id>/`.
fn set_up_evidence(ws: &Workspace, id: &str) -> Option<String> {
    let marker = ws.instance.marker_file(id);
    if marker.exists() {
        return Some(format!(
            "its setup marker `{}` exists",
            crate::config::display_path(&ws.instance, &marker)
        ));
    }
    let data = ws.config.data_dir.join(id);
    let has_data = std::fs::read_dir(&data).is_ok_and(|mut d| d.next().is_some());
    has_data.then(|| format!("it has data in `{}`", data.display()))
}

fn missing_secrets_error(ws: &Workspace, id: &str, keys: &[&str], why: &str) -> UserError {
    let file = crate::config::display_path(&ws.instance, &ws.instance.secrets_file());
    let names = keys
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let noun = if keys.len() == 1 { "secret" } else { "secrets" };
    UserError::new(format!(
        "The generated {noun} {names} of `{id}` {} missing from `{file}`, but `{id}` is already \
         set up ({why})",
        if keys.len() == 1 { "is" } else { "are" }
    ))
    .hint(format!(
        "`{id}` was set up with the old {noun} (a database password, a signing key, an admin \
         login); a new value would lock it out of its existing data, so `stack` will not make \
         one silently"
    ))
    .hint(format!(
        "restore `{file}` from a backup (or add the old {noun} back as {}), then run `stack up {id}` again",
        keys.iter()
            .map(|k| format!("`{k} = \"…\"`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .hint(format!(
        "to give up the old {noun} and generate a new value anyway: `stack up {id} --regenerate-secrets`"
    ))
}

/// Render one free-form template of the stacklet (hints, health URLs, `check_url`).
pub fn render_text(
    stacklet: &Stacklet,
    key: &str,
    source: &str,
    vars: &BTreeMap<String, String>,
) -> Result<String, UserError> {
    parse_template(stacklet, key, source)?
        .render(vars)
        .map_err(|e| template_error(stacklet, key, e))
}
