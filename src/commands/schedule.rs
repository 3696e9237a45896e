//! `stack update --install-schedule` / `--remove-schedule` (`schedule.rs` decides the files).

use std::process::ExitCode;

use crate::error::UserError;
use crate::lifecycle::Session;
use crate::output::Printer;
use crate::schedule;

pub fn schedule(printer: &Printer, install: bool) -> anyhow::Result<ExitCode> {
    let session = Session::open(printer, None)?;
    let ws = &session.ws;
    let cron = ws
        .config
        .updates
        .schedule
        .clone()
        .unwrap_or_else(|| schedule::DEFAULT.to_string());
    let calendar = schedule::parse(&cron)?;
    let exe = std::env::current_exe()
        .map_err(|e| UserError::new(format!("Cannot find the `stack` binary: {e}")))?;
    let home = std::env::home_dir().ok_or_else(|| UserError::new("No home directory"))?;
    let system = !cfg!(target_os = "macos") && is_root();
    let plan = schedule::plan(
        &calendar,
        &exe,
        &ws.instance.dir,
        &ws.instance.root,
        &home,
        system,
        cfg!(target_os = "macos"),
    );
    if install {
        for (path, contents) in &plan.files {
            crate::atomic::write_keeping_mode(path, contents.as_bytes())
                .map_err(|e| UserError::new(format!("Cannot write `{}`: {e}", path.display())))?;
            printer.status("Wrote", path.display().to_string());
        }
        run_all(printer, &plan.load)?;
        printer.status("Scheduled", format!("`stack update all` at `{cron}`"));
    } else {
        // Unloading a schedule that is not loaded is not an error worth stopping for.
        let _ = run_all(printer, &plan.unload);
        for (path, _) in &plan.files {
            match std::fs::remove_file(path) {
                Ok(()) => printer.status("Removed", path.display().to_string()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(
                        UserError::new(format!("Cannot remove `{}`: {e}", path.display())).into(),
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_all(printer: &Printer, commands: &[Vec<String>]) -> Result<(), UserError> {
    for argv in commands {
        printer.status("Running", argv.join(" "));
        let status = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .status()
            .map_err(|e| UserError::new(format!("Cannot run `{}`: {e}", argv.join(" "))))?;
        if !status.success() {
            return Err(
                UserError::new(format!("`{}` failed ({status})", argv.join(" "))).hint(
                    "the unit files are written; load them by hand once the service manager runs",
                ),
            );
        }
    }
    Ok(())
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
