//! `stack env <id>`: the stacklet's rendered environment, as the `.env` would hold it (dotenv on
//! stdout) or as one JSON object. Secrets are masked unless `--reveal`.

use std::process::ExitCode;

use crate::cli::EnvArgs;
use crate::output::Printer;
use crate::render::{env, envfile, vars::lan_ip};
use crate::workspace::{BrokenWarnings, Workspace};

const MASK: &str = "********";

pub async fn env(printer: &Printer, args: &EnvArgs) -> anyhow::Result<ExitCode> {
    let ws = Workspace::load_with(printer, BrokenWarnings::Except(&args.id))?;
    let stacklet = ws.catalog.require(&args.id)?;
    let rendered = env::render(&ws, stacklet, &lan_ip())?;
    let entries: Vec<(String, String)> = rendered
        .entries
        .iter()
        .map(|(k, v)| {
            let masked = !args.reveal && rendered.secret_names.contains(k) && !v.is_empty();
            (k.clone(), if masked { MASK.to_string() } else { v.clone() })
        })
        .collect();
    if args.json {
        let object: serde_json::Map<String, serde_json::Value> = entries
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        printer.json(&serde_json::Value::Object(object));
    } else {
        printer.out(envfile::format(&entries)?.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}
