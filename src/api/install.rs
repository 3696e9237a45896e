//! Installing `stack serve` as a background service, like the original's API: a launchd agent on
//! macOS, a systemd unit on Linux (a system unit when `stack` runs as root, else a user unit).
//!
//! Invariants: the service always runs the `stack` binary that installed it (its absolute path)
//! for the installing instance (`STACK_ROOT`/`STACK_DIR` are written into the unit); one service
//! per instance, named after it, so a test instance never replaces the household's; installing
//! again rewrites the file and restarts the service; files are written atomically. Where no
//! service manager runs (a Linux container without systemd) nothing is written and the caller
//! is told to run `stack serve` itself.

use std::path::{Path, PathBuf};

use crate::instance::Instance;
use crate::namespace::Namespace;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    Launchd,
    SystemdSystem,
    SystemdUser,
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

/// Which manager this machine has, and where its unit goes. `STACK_SERVICE_DIR` overrides the
/// directory (packaging, tests); the manager is then still asked to load the file.
pub fn target(label: &str) -> Result<(Manager, PathBuf), &'static str> {
    let home = std::env::home_dir().unwrap_or_else(|| PathBuf::from("."));
    let (manager, dir) = if cfg!(target_os = "macos") {
        (Manager::Launchd, home.join("Library/LaunchAgents"))
    } else {
        // sd_booted(3): systemd is the init system exactly when this directory exists.
        if !Path::new("/run/systemd/system").is_dir()
            && std::env::var_os("STACK_SERVICE_DIR").is_none()
        {
            return Err("systemd is not running on this machine");
        }
        if is_root() {
            (Manager::SystemdSystem, PathBuf::from("/etc/systemd/system"))
        } else {
            (Manager::SystemdUser, home.join(".config/systemd/user"))
        }
    };
    let dir = std::env::var_os("STACK_SERVICE_DIR").map_or(dir, PathBuf::from);
    let file = match manager {
        Manager::Launchd => format!("{label}.plist"),
        Manager::SystemdSystem | Manager::SystemdUser => format!("{label}.service"),
    };
    Ok((manager, dir.join(file)))
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The environment the service runs with: this instance, no colour.
fn environment(instance: &Instance) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("STACK_ROOT", instance.root.display().to_string()),
        ("NO_COLOR", "1".to_string()),
    ];
    if instance.separate {
        env.push(("STACK_DIR", instance.dir.display().to_string()));
    }
    env
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// systemd's quoting for one word of `ExecStart=` or one `Environment=` assignment.
fn systemd_quote(text: &str) -> String {
    format!(
        "\"{}\"",
        text.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('%', "%%")
            .replace('$', "$$")
    )
}

pub fn launchd_plist(label: &str, exe: &Path, instance: &Instance, log: &Path) -> String {
    let env: String = environment(instance)
        .iter()
        .map(|(k, v)| format!("    <key>{k}</key><string>{}</string>\n", xml_escape(v)))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key><string>{label}</string>
  <key>ProgramArguments</key>
  <array>
    <string>{exe}</string>
    <string>serve</string>
  </array>
  <key>EnvironmentVariables</key>
  <dict>
{env}  </dict>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><true/>
  <key>StandardErrorPath</key><string>{log}</string>
</dict>
</plist>
"#,
        label = xml_escape(label),
        exe = xml_escape(&exe.display().to_string()),
        log = xml_escape(&log.display().to_string()),
    )
}

pub fn systemd_unit(exe: &Path, instance: &Instance, manager: Manager) -> String {
    let env: String = environment(instance)
        .iter()
        .map(|(k, v)| format!("Environment={}\n", systemd_quote(&format!("{k}={v}"))))
        .collect();
    let wanted_by = match manager {
        Manager::SystemdUser => "default.target",
        _ => "multi-user.target",
    };
    format!(
        "# Written by `stack serve --install`; `stack serve --uninstall` removes it.\n\
         [Unit]\nDescription=stack: the signed local API and family start page ({dir})\nAfter=network-online.target\n\n\
         [Service]\nExecStart={exe} serve\n{env}Restart=always\nRestartSec=2\n\n\
         [Install]\nWantedBy={wanted_by}\n",
        dir = instance.dir.display(),
        exe = systemd_quote(&exe.display().to_string()),
    )
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    match std::process::Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run `{program}`: {e}")),
    }
}

fn uid() -> String {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn systemctl(manager: Manager, args: &[&str]) -> Result<(), String> {
    let mut all = Vec::new();
    if manager == Manager::SystemdUser {
        all.push("--user");
    }
    all.extend_from_slice(args);
    run("systemctl", &all)
}

/// Write the unit for `instance` running `exe`, and (re)start it.
pub fn install(instance: &Instance, ns: &Namespace, exe: &Path) -> std::io::Result<Installed> {
    let label = label(ns);
    let (manager, unit) = match target(&label) {
        Ok(t) => t,
        Err(why) => return Ok(Installed::NoManager(why)),
    };
    if let Some(dir) = unit.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let log = instance.state_dir().join("api").join("serve.log");
    let text = match manager {
        Manager::Launchd => launchd_plist(&label, exe, instance, &log),
        _ => systemd_unit(exe, instance, manager),
    };
    crate::atomic::write_keeping_mode(&unit, text.as_bytes())?;
    let unit_str = unit.display().to_string();
    let started = match manager {
        Manager::Launchd => {
            let domain = format!("gui/{}", uid());
            // A loaded agent must be booted out before its new file is bootstrapped.
            let _ = run("launchctl", &["bootout", &domain, &unit_str]);
            run("launchctl", &["bootstrap", &domain, &unit_str])
        }
        _ => {
            let name = format!("{label}.service");
            systemctl(manager, &["daemon-reload"])
                .and_then(|()| systemctl(manager, &["enable", &name]))
                .and_then(|()| systemctl(manager, &["restart", &name]))
        }
    };
    Ok(match started {
        Ok(()) => Installed::Started { unit },
        Err(problem) => Installed::Written { unit, problem },
    })
}

/// Stop the service and remove its unit. Nothing installed is not an error.
pub fn uninstall(ns: &Namespace) -> std::io::Result<Removed> {
    let label = label(ns);
    let Ok((manager, unit)) = target(&label) else {
        return Ok(Removed::NotInstalled);
    };
    if !unit.exists() {
        return Ok(Removed::NotInstalled);
    }
    match manager {
        Manager::Launchd => {
            let _ = run(
                "launchctl",
                &[
                    "bootout",
                    &format!("gui/{}", uid()),
                    &unit.display().to_string(),
                ],
            );
        }
        _ => {
            let name = format!("{label}.service");
            let _ = systemctl(manager, &["disable", "--now", &name]);
        }
    }
    std::fs::remove_file(&unit)?;
    if manager != Manager::Launchd {
        let _ = systemctl(manager, &["daemon-reload"]);
    }
    Ok(Removed::Removed(unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(separate: bool) -> Instance {
        Instance {
            root: PathBuf::from("/repo"),
            dir: PathBuf::from(if separate { "/tmp/test inst" } else { "/repo" }),
            separate,
        }
    }

    #[test]
    fn one_service_per_instance() {
        let default = Namespace::default_instance(Path::new("/repo"), 0);
        let test = Namespace::named("drill", Path::new("/tmp/drill"), 1000);
        assert_eq!(label(&default), "dev.famstack.stack-serve");
        assert_eq!(label(&test), "dev.famstack.stack-serve.drill");
    }

    #[test]
    fn the_unit_runs_this_binary_for_this_instance() {
        let unit = systemd_unit(
            Path::new("/opt/my stack/stack"),
            &instance(true),
            Manager::SystemdUser,
        );
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
        let system = systemd_unit(
            Path::new("/usr/local/bin/stack"),
            &instance(false),
            Manager::SystemdSystem,
        );
        assert!(!system.contains("STACK_DIR"), "{system}");
        assert!(system.contains("WantedBy=multi-user.target"));
        assert_eq!(systemd_quote("a%b$c\"d"), "\"a%%b$$c\\\"d\"");
    }

    #[test]
    fn the_agent_keeps_the_api_alive() {
        let plist = launchd_plist(
            "dev.famstack.stack-serve",
            Path::new("/Users/a/.cargo/bin/stack"),
            &instance(true),
            Path::new("/tmp/test inst/.stack/api/serve.log"),
        );
        assert!(
            plist
                .contains("<string>/Users/a/.cargo/bin/stack</string>\n    <string>serve</string>")
        );
        assert!(plist.contains("<key>STACK_DIR</key><string>/tmp/test inst</string>"));
        assert!(plist.contains("<key>KeepAlive</key><true/>"));
        assert_eq!(xml_escape("a&<b>\""), "a&amp;&lt;b&gt;&quot;");
    }
}
