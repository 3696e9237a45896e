//! `stack update --install-schedule` / `--remove-schedule`: the instance's scheduled jobs
//! (`schedule.rs` decides them, `service_unit.rs` writes and loads them).

use std::process::ExitCode;

use crate::error::UserError;
use crate::lifecycle::Session;
use crate::output::Printer;
use crate::schedule;
use crate::service_unit::{self, Target};

pub fn schedule(printer: &Printer, install: bool) -> anyhow::Result<ExitCode> {
    let session = Session::open(printer, None)?;
    let ws = &session.ws;
    let target = Target::detect().map_err(|why| {
        let verb = if install { "install" } else { "remove" };
        UserError::new(format!("Cannot {verb} the schedule: {why}")).hint(
            "run `stack update all` (and `stack backup all`) from cron or another scheduler instead",
        )
    })?;
    let remove = if install {
        let exe = std::env::current_exe()
            .map_err(|e| UserError::new("Cannot find the `stack` binary").because(e))?;
        let plan = schedule::plan(&ws.config, &ws.instance, &exe)?;
        let mut problems = Vec::new();
        for scheduled in &plan.install {
            let installed = service_unit::install(&scheduled.job, &target).map_err(|e| {
                UserError::new(format!(
                    "Cannot write the schedule of `{}`",
                    scheduled.command
                ))
                .because(e)
            })?;
            for path in &installed.files {
                printer.status("Wrote", path.display().to_string());
            }
            match installed.loaded {
                Ok(()) => printer.status(
                    "Scheduled",
                    format!("`{}` at `{}`", scheduled.command, scheduled.cron),
                ),
                Err(problem) => problems.push(problem),
            }
        }
        if let Some(problem) = problems.first() {
            remove_jobs(printer, &plan.remove, &target)?;
            return Err(UserError::new(format!(
                "Wrote the schedule but could not load it: {problem}"
            ))
            .hint("the unit files are written; load them by hand once the service manager runs")
            .into());
        }
        plan.remove
    } else {
        schedule::all_labels(&ws.instance)
    };
    remove_jobs(printer, &remove, &target)?;
    Ok(ExitCode::SUCCESS)
}

fn remove_jobs(printer: &Printer, labels: &[String], target: &Target) -> Result<(), UserError> {
    for label in labels {
        let removed = service_unit::uninstall(label, target).map_err(|e| {
            UserError::new(format!("Cannot remove the scheduled job `{label}`")).because(e)
        })?;
        for path in removed {
            printer.status("Removed", path.display().to_string());
        }
    }
    Ok(())
}
