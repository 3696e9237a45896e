//! `backup <id>|all`, `backup list|forget|check|drill`, `restore` (and `backup --install-schedule`,
//! `commands/schedule.rs`): arguments to settings, the
//! domain calls of `crate::backup`, and the lines a person reads.

use std::process::ExitCode;

use crate::backup::manifest::human_bytes;
use crate::backup::progress::Bars;
use crate::backup::repo::Keep;
use crate::backup::{self, PASSWORD_SECRET, Settings, drill};
use crate::cli::{BackupArgs, BackupCommand, RestoreArgs};
use crate::error::UserError;
use crate::history::{Action, Event};
use crate::lifecycle::{Session, state};
use crate::output::Printer;
use crate::schedule::Schedules;

pub async fn backup(printer: &Printer, args: &BackupArgs) -> anyhow::Result<ExitCode> {
    if args.install_schedule || args.remove_schedule {
        return super::schedule::schedule(printer, Schedules::Backups, args.install_schedule);
    }
    let bars = Bars::new(printer.animate());
    match &args.command {
        Some(BackupCommand::List { id, json }) => list(printer, args, id.as_deref(), *json).await,
        Some(BackupCommand::Forget {
            keep_daily,
            keep_weekly,
            keep_monthly,
        }) => {
            let session = Session::open_locked(printer, None, !args.lock.no_wait)?;
            let mut settings = Settings::of(&session.ws, args.to.as_deref())?;
            let d = settings.keep;
            settings.keep = Keep {
                daily: keep_daily.map_or(d.daily, i32::from),
                weekly: keep_weekly.map_or(d.weekly, i32::from),
                monthly: keep_monthly.map_or(d.monthly, i32::from),
            };
            let password = backup::existing_password(&session.ws)?;
            let (repo, _) = backup::open(&settings, &password, bars, false).await?;
            let keep = settings.keep;
            printer.status(
                "Forgetting",
                format!(
                    "all but {} daily, {} weekly, {} monthly snapshots of each stacklet",
                    keep.daily, keep.weekly, keep.monthly
                ),
            );
            let forgotten = backup::blocking(move || repo.forget(&keep)).await?;
            printer.status(
                "Forgot",
                format!(
                    "{} snapshot(s){}; unused data pruned",
                    forgotten.len(),
                    if forgotten.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", forgotten.join(", "))
                    }
                ),
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(BackupCommand::Check) => {
            let session = Session::open(printer, None)?;
            let settings = Settings::of(&session.ws, args.to.as_deref())?;
            let password = backup::existing_password(&session.ws)?;
            let (repo, _) = backup::open(&settings, &password, bars, false).await?;
            printer.status("Checking", settings.repository.display().to_string());
            let problems = backup::blocking(move || repo.check()).await?;
            if problems.is_empty() {
                printer.status("Checked", "the repository is intact: every pack read back");
                return Ok(ExitCode::SUCCESS);
            }
            for p in &problems {
                printer.warn(p);
            }
            Err(UserError::new(format!(
                "The backup repository `{}` has {} problem(s)",
                settings.repository.display(),
                problems.len()
            ))
            .hint("keep the repository as it is and make a fresh backup to another place (`stack backup all --to <path>`)")
            .into())
        }
        Some(BackupCommand::Drill { target, snapshot }) => {
            drill_cmd(printer, args, target, snapshot.as_deref(), bars).await
        }
        None => {
            let target = args.target.as_deref().unwrap_or("all");
            backup_cmd(printer, args, target, bars).await
        }
    }
}

async fn backup_cmd(
    printer: &Printer,
    args: &BackupArgs,
    target: &str,
    bars: Bars,
) -> anyhow::Result<ExitCode> {
    let focus = Some(target).filter(|t| *t != "all");
    let mut session = Session::open_locked(printer, focus, !args.lock.no_wait)?;
    let settings = Settings::of(&session.ws, args.to.as_deref())?;
    let ids = targets(&mut session, target).await?;
    let (password, generated) = backup::password(&session.ws)?;
    if generated {
        printer.note(format!(
            "Generated the backup password (secret `{PASSWORD_SECRET}`):\n\n    {password}\n\n\
             Store it off this machine now (a password manager, or written on paper in a drawer).\n\
             Without it nobody can read the backups — also not after this machine is lost."
        ));
    }
    let mut failures = Vec::new();
    for id in &ids {
        let result = backup::backup_one(&mut session, &settings, &password, bars, id).await;
        let detail = match &result {
            Ok(done) => format!(
                "snapshot {} ({}, {} added)",
                short(&done.summary.snapshot),
                human_bytes(done.summary.bytes),
                human_bytes(done.summary.bytes_added)
            ),
            Err(_) => String::new(),
        };
        session.record(Event::from_result(id, Action::Backup, detail, &result));
        match result {
            Ok(done) => {
                let s = &done.summary;
                let name = session.ws.catalog.require(id)?.manifest.name.clone();
                printer.status(
                    "Backed up",
                    format!(
                        "{name}: snapshot {}, {} files, {}; added {} ({} stored), deduplicated {} in {:.1}s ({})",
                        short(&s.snapshot),
                        s.files,
                        human_bytes(s.bytes),
                        human_bytes(s.bytes_added),
                        human_bytes(s.bytes_added_packed),
                        human_bytes(s.bytes.saturating_sub(s.bytes_added)),
                        done.elapsed.as_secs_f64(),
                        done.consistency
                    ),
                );
            }
            Err(e) => failures.push((id.clone(), e)),
        }
    }
    super::finish_all(printer, failures)
}

/// `all` = every set-up stacklet, dependencies first; otherwise the one id.
async fn targets(session: &mut Session, target: &str) -> anyhow::Result<Vec<String>> {
    if target != "all" {
        session.ws.catalog.require(target)?;
        return Ok(vec![target.to_string()]);
    }
    let mut ids = Vec::new();
    for id in crate::stacklet::graph::order(&session.ws.catalog.stacklets)? {
        let stacklet = session.ws.catalog.require(&id)?.clone();
        if state::of(session, &stacklet).await?.is_set_up() {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        session
            .printer
            .note("Nothing is set up yet: nothing to back up");
    }
    Ok(ids)
}

fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

async fn list(
    printer: &Printer,
    args: &BackupArgs,
    id: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let session = Session::open(printer, id)?;
    if let Some(id) = id {
        session.ws.catalog.require(id)?;
    }
    let settings = Settings::of(&session.ws, args.to.as_deref())?;
    let password = backup::existing_password(&session.ws)?;
    let (repo, _) = backup::open(&settings, &password, Bars::hidden(), false).await?;
    let id_owned = id.map(str::to_string);
    let snaps = backup::blocking(move || repo.snapshots(id_owned.as_deref())).await?;
    if json {
        printer.json(&serde_json::to_value(&snaps)?);
        return Ok(ExitCode::SUCCESS);
    }
    if snaps.is_empty() {
        printer.note("No snapshots yet: `stack backup all` makes the first");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 6]> = snaps
        .iter()
        .map(|s| {
            [
                s.short_id.clone(),
                s.time.clone(),
                s.stacklet.clone(),
                s.manifest
                    .as_ref()
                    .map(|m| m.stacklet_version.clone())
                    .unwrap_or_default(),
                s.files.to_string(),
                human_bytes(s.bytes),
            ]
        })
        .collect();
    printer.table(
        ["SNAPSHOT", "TIME", "STACKLET", "VERSION", "FILES", "SIZE"],
        &rows,
    );
    Ok(ExitCode::SUCCESS)
}

async fn drill_cmd(
    printer: &Printer,
    args: &BackupArgs,
    target: &str,
    snapshot: Option<&str>,
    bars: Bars,
) -> anyhow::Result<ExitCode> {
    // Read-only for the household: no instance lock, nothing written there.
    let mut session = Session::open(printer, Some(target).filter(|t| *t != "all"))?;
    let settings = Settings::of(&session.ws, args.to.as_deref())?;
    let password = backup::existing_password(&session.ws)?;
    let ids = if target == "all" {
        let (repo, _) = backup::open(&settings, &password, Bars::hidden(), false).await?;
        let snaps = backup::blocking(move || repo.snapshots(None)).await?;
        let mut ids: Vec<String> = snaps.into_iter().map(|s| s.stacklet).collect();
        ids.sort();
        ids.dedup();
        ids.retain(|id| session.ws.catalog.get(id).is_some());
        ids
    } else {
        targets(&mut session, target).await?
    };
    if snapshot.is_some() && ids.len() > 1 {
        return Err(
            UserError::usage("`--snapshot` names one snapshot, so it needs one stacklet")
                .hint("`stack backup drill <id> --snapshot <id>`")
                .into(),
        );
    }
    let mut failures = Vec::new();
    for id in &ids {
        match drill::drill(
            &session.ws,
            printer,
            &settings,
            &password,
            bars,
            id,
            snapshot,
        )
        .await
        {
            Ok(passed) => printer.out(passed),
            Err(failed) => failures.push((id.clone(), anyhow::Error::new(failed))),
        }
    }
    super::finish_all(printer, failures)
}

pub async fn restore(printer: &Printer, args: &RestoreArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open_locked(printer, Some(&args.id), !args.lock.no_wait)?;
    session.ws.catalog.require(&args.id)?;
    let settings = Settings::of(&session.ws, args.to.as_deref())?;
    let password = backup::existing_password(&session.ws)?;
    let bars = Bars::new(printer.animate());
    let result = backup::restore_one(
        &mut session,
        &settings,
        &password,
        bars,
        &args.id,
        args.snapshot.as_deref(),
        args.yes,
    )
    .await;
    let detail = match &result {
        Ok(done) => format!("snapshot {} of {}", done.snapshot, done.time),
        Err(_) => String::new(),
    };
    session.record(Event::from_result(
        &args.id,
        Action::Restore,
        detail,
        &result,
    ));
    let done = result?;
    if let Some(aside) = &done.replaced {
        // Healthy: the replaced data has done its job as the way back.
        match std::fs::remove_dir_all(aside) {
            Ok(()) => {}
            Err(e) => printer.warn(format!(
                "The replaced data stays in `{}` (cannot remove it: {e})",
                aside.display()
            )),
        }
    }
    printer.status(
        "Restored",
        format!(
            "{} from snapshot {} of {}: {} files, {} in {:.1}s",
            args.id,
            done.snapshot,
            done.time,
            done.restored.files,
            human_bytes(done.restored.bytes),
            done.elapsed.as_secs_f64()
        ),
    );
    Ok(ExitCode::SUCCESS)
}
