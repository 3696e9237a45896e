//! The welcome screen after `up`: where to go, how to log in, where the data lives, and the
//! stacklet's own hints.

use std::time::Duration;

use crate::error::UserError;
use crate::output::Printer;
use crate::render::env::{RenderedEnv, render_text};
use crate::render::vars::{ADMIN_EMAIL, ADMIN_USERNAME};
use crate::stacklet::Stacklet;
use crate::workspace::Workspace;

pub fn show(
    printer: &Printer,
    ws: &Workspace,
    stacklet: &Stacklet,
    rendered: &RenderedEnv,
    elapsed: Duration,
) -> Result<(), UserError> {
    let m = &stacklet.manifest;
    printer.status(
        "Ready",
        format!("{} in {:.1}s", m.name, elapsed.as_secs_f64()),
    );
    let mut lines = vec![
        String::new(),
        format!("  {} — {}", printer.bold(&m.name), m.description),
    ];
    let url = rendered.vars.get("url").cloned().unwrap_or_default();
    if !url.is_empty() {
        lines.push(format!("  URL:    {url}"));
    }
    if let Some(field) = &m.login_field {
        let login = match field.as_str() {
            "email" => ADMIN_EMAIL,
            _ => ADMIN_USERNAME,
        };
        lines.push(format!(
            "  Login:  {login}   (password: `stack config admin`)"
        ));
        let others: Vec<&str> = ws
            .users
            .for_stacklet(&m.id)
            .iter()
            .map(|u| u.id.as_str())
            .collect();
        if !others.is_empty() {
            lines.push(format!("  Family: {}", others.join(", ")));
        }
    }
    let data = ws.config.data_dir.join(m.id.as_str());
    if data.exists() {
        lines.push(format!("  Data:   {}", data.display()));
    }
    for (i, hint) in m.hints.iter().enumerate() {
        let text = render_text(stacklet, &format!("hints[{i}]"), hint, &rendered.vars)?;
        lines.push(format!("  → {text}"));
    }
    lines.push(String::new());
    printer.note(lines.join("\n"));
    Ok(())
}
