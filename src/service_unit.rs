//! Background jobs of the machine's service manager: a launchd agent on macOS, a systemd unit on
//! Linux (a system unit when `stack` runs as root, else a user unit). The one writer behind
//! `stack serve --install` (a service kept alive), `stack update --install-schedule` and
//! `stack backup --install-schedule` (jobs on a calendar: the update; the backup and its drill).
//!
//! Invariants: a job is described once ([`Job`]) and this module alone turns it into files, so
//! quoting is done in one place — every value in a plist is XML-escaped, every systemd value has
//! its `%` specifiers (and in `ExecStart=` its `$`) escaped and is quoted where it needs to be.
//! Files are written atomically; installing again rewrites them and reloads the job. Where no
//! service manager runs (a Linux container without systemd) nothing is written: [`Target::detect`]
//! says why. `STACK_SERVICE_DIR` overrides the directory (packaging, tests); the manager is then
//! still asked to load the files.

use std::path::{Path, PathBuf};

use crate::instance::Instance;
use crate::schedule::Calendar;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    Launchd,
    SystemdSystem,
    SystemdUser,
}

/// Which manager this machine has, and the directory its files go to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub manager: Manager,
    pub dir: PathBuf,
}

impl Target {
    /// This machine's manager: launchd on macOS; on Linux systemd when it is the init system,
    /// system-wide as root. `Err` names why there is none.
    pub fn detect() -> Result<Target, &'static str> {
        let home = std::env::home_dir().unwrap_or_else(|| PathBuf::from("."));
        let overridden = std::env::var_os("STACK_SERVICE_DIR").map(PathBuf::from);
        let (manager, dir) = if cfg!(target_os = "macos") {
            (Manager::Launchd, home.join("Library/LaunchAgents"))
        } else {
            // sd_booted(3): systemd is the init system exactly when this directory exists.
            if !Path::new("/run/systemd/system").is_dir() && overridden.is_none() {
                return Err("systemd is not running on this machine");
            }
            if is_root() {
                (Manager::SystemdSystem, PathBuf::from("/etc/systemd/system"))
            } else {
                (Manager::SystemdUser, home.join(".config/systemd/user"))
            }
        };
        Ok(Target {
            manager,
            dir: overridden.unwrap_or(dir),
        })
    }

    /// The file that loads the job: the plist, or the unit systemd enables (the timer of a job on
    /// a calendar).
    fn main_file(&self, label: &str, on_calendar: bool) -> PathBuf {
        self.dir.join(match (self.manager, on_calendar) {
            (Manager::Launchd, _) => format!("{label}.plist"),
            (_, true) => format!("{label}.timer"),
            (_, false) => format!("{label}.service"),
        })
    }
}

/// When a job runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum When {
    /// Started at once and again whenever it exits (a server).
    KeepAlive,
    /// On a calendar, once per match (a launchd `StartCalendarInterval`, a systemd timer).
    Calendar(Calendar),
}

/// One background job.
#[derive(Clone, Debug)]
pub struct Job {
    /// The job's name with the manager, unique per instance (`dev.famstack.stack-serve`).
    pub label: String,
    /// systemd's `Description=`.
    pub description: String,
    /// A comment at the top of systemd units: who wrote it and what removes it.
    pub written_by: String,
    /// The program (an absolute path) and its arguments.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<PathBuf>,
    /// Where launchd sends the job's output (systemd keeps it in the journal).
    pub log: PathBuf,
    pub when: When,
}

/// The environment a job of `instance` runs with: this instance, no colour.
pub fn instance_env(instance: &Instance) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "STACK_ROOT".to_string(),
            instance.root.display().to_string(),
        ),
        ("NO_COLOR".to_string(), "1".to_string()),
    ];
    if instance.separate {
        env.push(("STACK_DIR".to_string(), instance.dir.display().to_string()));
    }
    env
}

impl Job {
    /// The files this job consists of for `target`: path → contents.
    pub fn files(&self, target: &Target) -> Vec<(PathBuf, String)> {
        let main = target.main_file(&self.label, self.calendar().is_some());
        match (target.manager, &self.when) {
            (Manager::Launchd, _) => vec![(main, self.launchd_plist())],
            (manager, When::KeepAlive) => vec![(main, self.systemd_service(manager))],
            (manager, When::Calendar(calendar)) => vec![
                (
                    target.dir.join(format!("{}.service", self.label)),
                    self.systemd_service(manager),
                ),
                (main, self.systemd_timer(calendar)),
            ],
        }
    }

    fn calendar(&self) -> Option<&Calendar> {
        match &self.when {
            When::Calendar(c) => Some(c),
            When::KeepAlive => None,
        }
    }

    fn working_dir(&self) -> Option<String> {
        self.working_dir.as_ref().map(|d| d.display().to_string())
    }

    pub fn launchd_plist(&self) -> String {
        let args: String = self
            .argv
            .iter()
            .map(|a| format!("    <string>{}</string>\n", xml_escape(a)))
            .collect();
        let env: String = self
            .env
            .iter()
            .map(|(k, v)| {
                format!(
                    "    <key>{}</key><string>{}</string>\n",
                    xml_escape(k),
                    xml_escape(v)
                )
            })
            .collect();
        let working_dir = self.working_dir().map_or(String::new(), |d| {
            format!(
                "  <key>WorkingDirectory</key><string>{}</string>\n",
                xml_escape(&d)
            )
        });
        let when = match &self.when {
            When::KeepAlive => {
                "  <key>RunAtLoad</key><true/>\n  <key>KeepAlive</key><true/>\n".to_string()
            }
            When::Calendar(c) => format!(
                "  <key>StartCalendarInterval</key>\n  <dict>\n{}  </dict>\n",
                launchd_interval(c)
            ),
        };
        let log = xml_escape(&self.log.display().to_string());
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key><string>{label}</string>
  <key>ProgramArguments</key>
  <array>
{args}  </array>
  <key>EnvironmentVariables</key>
  <dict>
{env}  </dict>
{working_dir}{when}  <key>StandardOutPath</key><string>{log}</string>
  <key>StandardErrorPath</key><string>{log}</string>
</dict>
</plist>
"#,
            label = xml_escape(&self.label),
        )
    }

    pub fn systemd_service(&self, manager: Manager) -> String {
        let exec: Vec<String> = self.argv.iter().map(|a| exec_word(a)).collect();
        let env: String = self
            .env
            .iter()
            .map(|(k, v)| format!("Environment={}\n", env_assignment(k, v)))
            .collect();
        let working_dir = self.working_dir().map_or(String::new(), |d| {
            format!("WorkingDirectory={}\n", specifiers(&d))
        });
        let (unit, run, install) = match (&self.when, manager) {
            (When::KeepAlive, manager) => (
                "After=network-online.target\n",
                "Restart=always\nRestartSec=2\n",
                format!(
                    "\n[Install]\nWantedBy={}\n",
                    if manager == Manager::SystemdUser {
                        "default.target"
                    } else {
                        "multi-user.target"
                    }
                ),
            ),
            // Started by its timer only, so it has no [Install] of its own.
            (When::Calendar(_), _) => ("", "Type=oneshot\n", String::new()),
        };
        format!(
            "# Written by {by}.\n[Unit]\nDescription={description}\n{unit}\n\
             [Service]\n{run}ExecStart={exec}\n{env}{working_dir}{install}",
            by = self.written_by,
            description = specifiers(&self.description),
            exec = exec.join(" "),
        )
    }

    fn systemd_timer(&self, calendar: &Calendar) -> String {
        format!(
            "# Written by {by}.\n[Unit]\nDescription={description}, on its schedule\n\n\
             [Timer]\nOnCalendar={on_calendar}\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
            by = self.written_by,
            description = specifiers(&self.description),
            on_calendar = on_calendar(calendar),
        )
    }
}

/// systemd `OnCalendar=`.
pub fn on_calendar(c: &Calendar) -> String {
    let f = |v: Option<u32>| v.map_or("*".to_string(), |v| format!("{v:02}"));
    let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    let weekday = c
        .weekday
        .map(|d| format!("{} ", days[d as usize % 7]))
        .unwrap_or_default();
    format!(
        "{weekday}*-{}-{} {}:{}:{:02}",
        f(c.month),
        f(c.day),
        f(c.hour),
        f(c.minute),
        c.second
    )
}

/// launchd `StartCalendarInterval` keys (launchd has no seconds).
pub fn launchd_interval(c: &Calendar) -> String {
    [
        ("Minute", c.minute),
        ("Hour", c.hour),
        ("Day", c.day),
        ("Month", c.month),
        ("Weekday", c.weekday),
    ]
    .iter()
    .filter_map(|(k, v)| v.map(|v| format!("    <key>{k}</key><integer>{v}</integer>\n")))
    .collect()
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// systemd expands `%` specifiers in nearly every setting; `%%` is a literal `%`.
fn specifiers(text: &str) -> String {
    text.replace('%', "%%")
}

/// One word of `ExecStart=`: `$` is variable expansion there (`$$` a literal one); quoted only
/// when it would otherwise split or unquote.
fn exec_word(word: &str) -> String {
    let text = specifiers(word).replace('$', "$$");
    if !word.is_empty()
        && !word
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'))
    {
        return text;
    }
    quote(&text)
}

/// One `Environment=` assignment, always quoted. `$` is not special there (systemd.exec(5)).
fn env_assignment(key: &str, value: &str) -> String {
    quote(&specifiers(&format!("{key}={value}")))
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// What installing did, for the command to report.
#[derive(Debug, PartialEq, Eq)]
pub struct Installed {
    /// The files written, the one that loads the job last.
    pub files: Vec<PathBuf>,
    /// `Err` with the manager's message when it could not (re)load the job; the files stay.
    pub loaded: Result<(), String>,
}

/// Write `job`'s files for `target` and (re)load it.
pub fn install(job: &Job, target: &Target) -> std::io::Result<Installed> {
    let files = job.files(target);
    for (path, contents) in &files {
        crate::atomic::write_keeping_mode(path, contents.as_bytes())?;
    }
    let main = target.main_file(&job.label, job.calendar().is_some());
    let main_str = main.display().to_string();
    let loaded = match target.manager {
        Manager::Launchd => {
            let domain = format!("gui/{}", uid());
            // A loaded agent must be booted out before its new file is bootstrapped.
            let _ = run("launchctl", &["bootout", &domain, &main_str]);
            run("launchctl", &["bootstrap", &domain, &main_str])
        }
        manager => {
            let name = file_name(&main);
            systemctl(manager, &["daemon-reload"])
                .and_then(|()| systemctl(manager, &["enable", &name]))
                // A restarted timer recomputes its next run from the rewritten `OnCalendar=`.
                .and_then(|()| systemctl(manager, &["restart", &name]))
        }
    };
    Ok(Installed {
        files: files.into_iter().map(|(p, _)| p).collect(),
        loaded,
    })
}

/// Stop the job named `label` and remove its files; the files removed (none: it was not
/// installed, which is not an error).
pub fn uninstall(label: &str, target: &Target) -> std::io::Result<Vec<PathBuf>> {
    let candidates = match target.manager {
        Manager::Launchd => vec![target.main_file(label, false)],
        _ => vec![
            target.main_file(label, true),
            target.main_file(label, false),
        ],
    };
    let present: Vec<PathBuf> = candidates.into_iter().filter(|p| p.exists()).collect();
    let Some(main) = present.first() else {
        return Ok(Vec::new());
    };
    // Stopping a job that is not loaded is not an error worth stopping for.
    match target.manager {
        Manager::Launchd => {
            let _ = run(
                "launchctl",
                &[
                    "bootout",
                    &format!("gui/{}", uid()),
                    &main.display().to_string(),
                ],
            );
        }
        manager => {
            let _ = systemctl(manager, &["disable", "--now", &file_name(main)]);
        }
    }
    for path in &present {
        std::fs::remove_file(path)?;
    }
    if target.manager != Manager::Launchd {
        let _ = systemctl(target.manager, &["daemon-reload"]);
    }
    Ok(present)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
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

fn systemctl(manager: Manager, args: &[&str]) -> Result<(), String> {
    let mut all = Vec::new();
    if manager == Manager::SystemdUser {
        all.push("--user");
    }
    all.extend_from_slice(args);
    run("systemctl", &all)
}

fn uid() -> String {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn is_root() -> bool {
    uid() == "0"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(argv: &[&str], when: When) -> Job {
        Job {
            label: "stack-test".into(),
            description: "stack test (/srv/a&b)".into(),
            written_by: "a test".into(),
            argv: argv.iter().map(|a| (*a).to_string()).collect(),
            env: vec![("STACK_ROOT".into(), "/srv/a&b <x>".into())],
            working_dir: Some(PathBuf::from("/srv/a&b <x>")),
            log: PathBuf::from("/srv/a&b <x>/.stack/test.log"),
            when,
        }
    }

    fn nightly() -> Calendar {
        crate::schedule::parse(crate::schedule::DEFAULT, "[updates].schedule").unwrap()
    }

    #[test]
    fn plists_escape_every_value() {
        let plist = job(
            &["/opt/a&b <c>/stack", "update", "all"],
            When::Calendar(nightly()),
        )
        .launchd_plist();
        assert!(
            plist.contains(
                "<string>/opt/a&amp;b &lt;c&gt;/stack</string>\n    <string>update</string>"
            ),
            "{plist}"
        );
        assert!(
            plist.contains("<key>STACK_ROOT</key><string>/srv/a&amp;b &lt;x&gt;</string>"),
            "{plist}"
        );
        assert!(
            plist.contains("<key>WorkingDirectory</key><string>/srv/a&amp;b &lt;x&gt;</string>"),
            "{plist}"
        );
        assert!(
            plist.contains(
                "<key>StandardOutPath</key><string>/srv/a&amp;b &lt;x&gt;/.stack/test.log</string>"
            ),
            "{plist}"
        );
        assert!(
            plist.contains("<key>Hour</key><integer>3</integer>"),
            "{plist}"
        );
        assert_eq!(xml_escape("a&<b>\""), "a&amp;&lt;b&gt;&quot;");
    }

    #[test]
    fn a_kept_alive_job_is_one_service_and_a_calendar_job_a_service_and_its_timer() {
        let user = Target {
            manager: Manager::SystemdUser,
            dir: PathBuf::from("/home/f/.config/systemd/user"),
        };
        let serve = job(&["/opt/my stack/stack", "serve"], When::KeepAlive).files(&user);
        assert_eq!(serve.len(), 1);
        assert_eq!(
            serve[0].0,
            Path::new("/home/f/.config/systemd/user/stack-test.service")
        );
        assert!(
            serve[0]
                .1
                .contains("ExecStart=\"/opt/my stack/stack\" serve\n")
        );
        assert!(serve[0].1.contains("Restart=always"));
        assert!(serve[0].1.contains("WantedBy=default.target"));
        let system = Target {
            manager: Manager::SystemdSystem,
            dir: PathBuf::from("/etc/systemd/system"),
        };
        let timed = job(&["/opt/stack", "update", "all"], When::Calendar(nightly())).files(&system);
        let names: Vec<_> = timed.iter().map(|(p, _)| file_name(p)).collect();
        assert_eq!(names, ["stack-test.service", "stack-test.timer"]);
        let (service, timer) = (&timed[0].1, &timed[1].1);
        assert!(
            service.contains("Type=oneshot\nExecStart=/opt/stack update all\n"),
            "{service}"
        );
        assert!(
            service.contains("WorkingDirectory=/srv/a&b <x>\n"),
            "{service}"
        );
        assert!(!service.contains("[Install]"), "{service}");
        assert!(
            timer.contains("OnCalendar=*-*-* 03:00:00\nPersistent=true"),
            "{timer}"
        );
        assert!(timer.contains("WantedBy=timers.target"), "{timer}");
        let mac = Target {
            manager: Manager::Launchd,
            dir: PathBuf::from("/Users/f/Library/LaunchAgents"),
        };
        let agent = job(&["/opt/stack", "serve"], When::KeepAlive).files(&mac);
        assert_eq!(
            agent[0].0,
            Path::new("/Users/f/Library/LaunchAgents/stack-test.plist")
        );
        assert!(agent[0].1.contains("<key>KeepAlive</key><true/>"));
    }

    #[test]
    fn systemd_values_are_quoted_and_their_specifiers_escaped() {
        assert_eq!(exec_word("/opt/stack"), "/opt/stack");
        assert_eq!(exec_word("/opt/my stack"), "\"/opt/my stack\"");
        assert_eq!(exec_word("a%b$c\"d"), "\"a%%b$$c\\\"d\"");
        assert_eq!(exec_word(""), "\"\"");
        // `$` means nothing in `Environment=`, so it stays single there.
        assert_eq!(env_assignment("K", "a%b$c\"d"), "\"K=a%%b$c\\\"d\"");
    }

    #[test]
    fn calendars_in_both_managers_words() {
        let c = nightly();
        assert_eq!(on_calendar(&c), "*-*-* 03:00:00");
        assert_eq!(
            launchd_interval(&c),
            "    <key>Minute</key><integer>0</integer>\n    <key>Hour</key><integer>3</integer>\n"
        );
        let weekly = crate::schedule::parse("30 4 * * 0", "[updates].schedule").unwrap();
        assert_eq!(on_calendar(&weekly), "Sun *-*-* 04:30:00");
    }

    #[test]
    fn uninstall_removes_the_files_of_the_label_only() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target {
            manager: Manager::SystemdUser,
            dir: dir.path().to_path_buf(),
        };
        for name in [
            "stack-test.service",
            "stack-test.timer",
            "stack-other.timer",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let removed = uninstall("stack-test", &target).unwrap();
        assert_eq!(
            removed.iter().map(|p| file_name(p)).collect::<Vec<_>>(),
            ["stack-test.timer", "stack-test.service"]
        );
        assert!(dir.path().join("stack-other.timer").exists());
        assert!(uninstall("stack-test", &target).unwrap().is_empty());
    }
}
