//! `stack config` prints `stack.toml`; `stack config admin` prints the tech admin's login.

use std::process::ExitCode;

use serde_json::json;

use crate::cli::ConfigArgs;
use crate::output::Printer;
use crate::render::vars::{ADMIN_EMAIL, ADMIN_PASSWORD_KEY, ADMIN_USERNAME};
use crate::secrets::{Kind, Secrets};
use crate::workspace::Workspace;

pub fn config(printer: &Printer, args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let ws = Workspace::load(printer)?;
    match args.what.as_deref() {
        Some("admin") => admin(printer, &ws, args.json),
        _ => {
            let path = ws.instance.config_file();
            if args.json {
                printer.json(&serde_json::to_value(&ws.config.table)?);
            } else if ws.config.present {
                printer.out(std::fs::read_to_string(&path)?.trim_end());
            } else {
                printer.note(format!(
                    "No `{}` yet: every default applies (port mode, data in `{}`)",
                    path.display(),
                    ws.config.data_dir.display()
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn admin(printer: &Printer, ws: &Workspace, json: bool) -> anyhow::Result<ExitCode> {
    let secrets = Secrets::ensure(
        &ws.instance.secrets_file(),
        &[(ADMIN_PASSWORD_KEY.to_string(), Kind::Admin)],
    )?;
    let password = secrets.get(ADMIN_PASSWORD_KEY).unwrap_or_default();
    if json {
        printer.json(&json!({
            "username": ADMIN_USERNAME,
            "email": ADMIN_EMAIL,
            "password": password,
        }));
    } else {
        printer.out(format!(
            "Username: {ADMIN_USERNAME}\nEmail:    {ADMIN_EMAIL}\nPassword: {password}"
        ));
    }
    Ok(ExitCode::SUCCESS)
}
