//! `stack bots [--json]`: every stacklet's bot, validated, and whether the bot runner starts it
//! (its stacklet is set up).

use std::process::ExitCode;

use serde_json::json;

use crate::bots;
use crate::cli::{BotsAction, BotsArgs};
use crate::output::Printer;
use crate::workspace::Workspace;

pub async fn bots_cmd(printer: &Printer, args: &BotsArgs) -> anyhow::Result<ExitCode> {
    match &args.action {
        None => bots(printer, args.json),
        Some(BotsAction::Run { python, api }) => run(printer, python, api.as_deref()).await,
    }
}

pub fn bots(printer: &Printer, as_json: bool) -> anyhow::Result<ExitCode> {
    let ws = Workspace::load(printer)?;
    let (found, warnings) = bots::discover(&ws.instance, &ws.catalog.stacklets)?;
    for w in warnings {
        printer.warn(w);
    }
    let active = |b: &bots::Bot| ws.instance.is_set_up(&b.stacklet);
    if as_json {
        let list: Vec<serde_json::Value> = found
            .iter()
            .map(|b| {
                let mut v = json!(b);
                v["active"] = json!(active(b));
                v
            })
            .collect();
        printer.json(&serde_json::Value::Array(list));
        return Ok(ExitCode::SUCCESS);
    }
    if found.is_empty() {
        printer.note("No stacklet has a bot (`stacklets/<id>/bot/bot.toml`)");
        return Ok(ExitCode::SUCCESS);
    }
    let headers = ["ID", "NAME", "STACKLET", "ROOM", "ACTIVE"];
    let rows: Vec<[String; 5]> = found
        .iter()
        .map(|b| {
            [
                b.id.clone(),
                b.name.clone(),
                b.stacklet.clone(),
                b.room.clone().unwrap_or_else(|| "-".into()),
                if active(b) { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    printer.table(headers, &rows);
    Ok(ExitCode::SUCCESS)
}

/// `stack bots run`: the bot runner (`lib/bot_runner.py`) in the foreground, under `python`, fed
/// its whole configuration on stdin — so no password is ever on a command line or in a file the
/// runner writes.
async fn run(
    printer: &Printer,
    python: &std::path::Path,
    api: Option<&str>,
) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    use tokio::io::AsyncWriteExt;
    let mut session = crate::lifecycle::Session::open(printer, None)?;
    if let Some(name) = crate::lifecycle::bots::container_runner(&mut session).await? {
        return Err(crate::error::UserError::new(format!(
            "Core's bot runner (`{name}`) runs these bots already; a second runner would answer every message twice"
        ))
        .hint("stop it first: `stack down core` (it comes back with `stack up core`)")
        .into());
    }
    let mut config =
        crate::lifecycle::bots::runner_config(&mut session, crate::lifecycle::bots::Side::Host)?;
    if let Some(url) = api {
        config["api"]["url"] = serde_json::json!(url.trim_end_matches('/'));
    }
    let active = config["bots"].as_array().map_or(0, Vec::len);
    printer.status("Starting", format!("the bot runner with {active} bot(s)"));
    let lib = session.ws.instance.lib_dir();
    let mut child = tokio::process::Command::new(python)
        .arg("-u")
        .arg(lib.join("bot_runner.py"))
        .env("PYTHONPATH", &lib)
        .stdin(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("Cannot run `{}`", python.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(config.to_string().as_bytes()).await?;
    }
    let status = child.wait().await?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
