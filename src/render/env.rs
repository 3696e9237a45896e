//! The rendered environment of a stacklet (docs/templates-and-secrets.md): `[env.defaults]`
//! rendered against the template variables, the generated secrets, `PORT_BIND_IP` and
//! `WATCHTOWER_ENABLE`.
//!
//! Secrets are generated here, on first need and never overwritten: every `[env].generate` name,
//! and `global__ADMIN_PASSWORD` only when a template of the stacklet uses `{admin_password}`.

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

/// Render `stacklet`'s environment, generating missing secrets.
pub fn render(ws: &Workspace, stacklet: &Stacklet, lan_ip: &str) -> Result<RenderedEnv, UserError> {
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
    let secrets = Secrets::ensure(&secrets_path, &wanted)?;
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
