//! `stack update --install-schedule` / `--remove-schedule` and `stack backup --install-schedule` /
//! `--remove-schedule`: one set of the instance's scheduled jobs each (`schedule.rs` decides them,
//! `service_unit.rs` writes and loads them).

use std::process::ExitCode;

use crate::error::UserError;
use crate::lifecycle::Session;
use crate::output::Printer;
use crate::schedule::{self, Schedules};
use crate::service_unit::{self, Target};

pub fn schedule(printer: &Printer, which: Schedules, install: bool) -> anyhow::Result<ExitCode> {
    let session = Session::open(printer, None)?;
    let ws = &session.ws;
    let target = Target::detect().map_err(|why| {
        let verb = if install { "install" } else { "remove" };
        let instead = match which {
            Schedules::Updates => "`stack update all`",
            Schedules::Backups => "`stack backup all` (and weekly `stack backup drill all`)",
        };
        UserError::new(format!("Cannot {verb} the schedule: {why}")).hint(format!(
            "run {instead} from cron or another scheduler instead"
        ))
    })?;
    let remove = if install {
        let exe = std::env::current_exe()
            .map_err(|e| UserError::new("Cannot find the `stack` binary").because(e))?;
        let plan = schedule::plan(which, &ws.config, &ws.instance, &exe)?;
        if plan.install.is_empty() {
            printer.status(
                "Unscheduled",
                "backups: `[backup].schedule` is not set in `stack.toml`",
            );
        }
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
        which.labels(&ws.instance)
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
