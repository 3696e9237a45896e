//! `stack bots [--json]`: every stacklet's bot, validated, and whether the bot runner starts it
//! (its stacklet is set up).

use std::process::ExitCode;

use serde_json::json;

use crate::bots;
use crate::output::Printer;
use crate::workspace::Workspace;

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
