//! Installing `stack serve` as a background service, like the original's API: a launchd agent on
//! macOS, a systemd unit on Linux (a system unit when `stack` runs as root, else a user unit).
//! `service_unit.rs` writes and loads it.
//!
//! Invariants: the service always runs the `stack` binary that installed it (its absolute path)
//! for the installing instance (`STACK_ROOT`/`STACK_DIR` are written into the unit); one service
//! per instance, named after it, so a test instance never replaces the household's; installing
//! again rewrites the file and restarts the service. Where no service manager runs (a Linux
//! container without systemd) nothing is written and the caller is told to run `stack serve`
//! itself.

use std::path::{Path, PathBuf};

use crate::instance::Instance;
use crate::namespace::Namespace;
use crate::service_unit::{self, Job, Target, When};

/// What was done, for the command to report.
#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    /// Written and (re)started by the service manager.
    Started { unit: PathBuf },
    /// Written; the manager could not start it (its message).
    Written { unit: PathBuf, problem: String },
    /// No service manager runs here; nothing written.
    NoManager(&'static str),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Removed {
    Removed(PathBuf),
    NotInstalled,
}

/// The service's name: `dev.famstack.stack-serve` for the default instance, with the instance's
/// name appended for any other.
pub fn label(ns: &Namespace) -> String {
    if ns.is_default() {
        "dev.famstack.stack-serve".to_string()
    } else {
        format!("dev.famstack.stack-serve.{}", ns.name())
    }
}

/// The kept-alive job running `exe serve` for `instance`.
pub fn job(instance: &Instance, ns: &Namespace, exe: &Path) -> Job {
    Job {
        label: label(ns),
        description: format!(
            "stack: the signed local API and family start page ({})",
            instance.dir.display()
        ),
        written_by: "`stack serve --install`; `stack serve --uninstall` removes it".to_string(),
        argv: vec![exe.display().to_string(), "serve".to_string()],
        env: service_unit::instance_env(instance),
        working_dir: None,
        log: instance.state_dir().join("api").join("serve.log"),
        when: When::KeepAlive,
    }
}

/// Write the unit for `instance` running `exe`, and (re)start it.
pub fn install(instance: &Instance, ns: &Namespace, exe: &Path) -> std::io::Result<Installed> {
    let target = match Target::detect() {
        Ok(t) => t,
        Err(why) => return Ok(Installed::NoManager(why)),
    };
    let installed = service_unit::install(&job(instance, ns, exe), &target)?;
    let unit = installed.files.last().cloned().unwrap_or_default();
    Ok(match installed.loaded {
        Ok(()) => Installed::Started { unit },
        Err(problem) => Installed::Written { unit, problem },
    })
}

/// Stop the service and remove its unit. Nothing installed is not an error.
pub fn uninstall(ns: &Namespace) -> std::io::Result<Removed> {
    let Ok(target) = Target::detect() else {
        return Ok(Removed::NotInstalled);
    };
    Ok(service_unit::uninstall(&label(ns), &target)?
        .into_iter()
        .next()
        .map_or(Removed::NotInstalled, Removed::Removed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service_unit::Manager;

    fn instance(separate: bool) -> Instance {
        Instance {
            root: PathBuf::from("/repo"),
            dir: PathBuf::from(if separate { "/tmp/test inst" } else { "/repo" }),
            separate,
        }
    }

    fn default_ns() -> Namespace {
        Namespace::default_instance(Path::new("/repo"), 0)
    }

    #[test]
    fn one_service_per_instance() {
        let test = Namespace::named("drill", Path::new("/tmp/drill"), 1000);
        assert_eq!(label(&default_ns()), "dev.famstack.stack-serve");
        assert_eq!(label(&test), "dev.famstack.stack-serve.drill");
    }

    #[test]
    fn the_unit_runs_this_binary_for_this_instance() {
        let unit = job(
            &instance(true),
            &default_ns(),
            Path::new("/opt/my stack/stack"),
        )
        .systemd_service(Manager::SystemdUser);
        assert!(
            unit.contains("ExecStart=\"/opt/my stack/stack\" serve\n"),
            "{unit}"
        );
        assert!(
            unit.contains("Environment=\"STACK_ROOT=/repo\"\n"),
            "{unit}"
        );
        assert!(
            unit.contains("Environment=\"STACK_DIR=/tmp/test inst\"\n"),
            "{unit}"
        );
        assert!(unit.contains("Restart=always"));
        assert!(unit.contains("WantedBy=default.target"));
        let system = job(
            &instance(false),
            &default_ns(),
            Path::new("/usr/local/bin/stack"),
        )
        .systemd_service(Manager::SystemdSystem);
        assert!(!system.contains("STACK_DIR"), "{system}");
        assert!(system.contains("WantedBy=multi-user.target"));
    }

    #[test]
    fn the_agent_keeps_the_api_alive() {
        let plist = job(
            &instance(true),
            &default_ns(),
            Path::new("/Users/a/.cargo/bin/stack"),
        )
        .launchd_plist();
        assert!(
            plist
                .contains("<string>/Users/a/.cargo/bin/stack</string>\n    <string>serve</string>")
        );
        assert!(plist.contains("<key>STACK_DIR</key><string>/tmp/test inst</string>"));
        assert!(plist.contains("<key>KeepAlive</key><true/>"));
        assert!(plist.contains(
            "<key>StandardErrorPath</key><string>/tmp/test inst/.stack/api/serve.log</string>"
        ));
    }
}
