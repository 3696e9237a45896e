//! The instance's scheduled jobs, in two independent sets: `stack update --install-schedule` runs
//! `stack update all` on `[updates].schedule`; `stack backup --install-schedule` runs
//! `stack backup all` on `[backup].schedule` and a weekly `stack backup drill all` (docs/updates.md,
//! docs/backups.md). Neither command touches the other's jobs. Both keys take the reference's
//! Watchtower cron: six fields with seconds (`0 0 3 * * *`), or five without.
//!
//! Only what both launchd and systemd can express is accepted: each field a number or `*`. This
//! module decides the jobs; `service_unit.rs` writes and loads them.

use std::path::Path;

use crate::config::Config;
use crate::error::UserError;
use crate::instance::Instance;
use crate::service_unit::{Job, When, instance_env};

/// A schedule: `None` in a field means every value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    pub second: u32,
    pub minute: Option<u32>,
    pub hour: Option<u32>,
    pub day: Option<u32>,
    pub month: Option<u32>,
    /// 0 (Sunday) to 6.
    pub weekday: Option<u32>,
}

/// `[updates].schedule` when it is not set: 3am nightly.
pub const DEFAULT: &str = "0 0 3 * * *";

/// Parse a six-field cron (`sec min hour day month weekday`); five fields mean no seconds. `key`
/// (`[updates].schedule`) names the setting in errors.
pub fn parse(cron: &str, key: &str) -> Result<Calendar, UserError> {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let fields: Vec<&str> = match fields.len() {
        6 => fields,
        5 => std::iter::once("0").chain(fields).collect(),
        _ => {
            return Err(UserError::new(format!(
                "`stack.toml` {key} = \"{cron}\": expected six cron fields (sec min hour day month weekday)"
            ))
            .hint(format!("for example `schedule = \"{DEFAULT}\"` (3am nightly)")));
        }
    };
    let limits = [59, 59, 23, 31, 12, 7];
    let mut values = Vec::new();
    for (field, max) in fields.iter().zip(limits) {
        values.push(match *field {
            "*" | "?" => None,
            n => match n.parse::<u32>() {
                Ok(v) if v <= max => Some(v),
                _ => {
                    return Err(UserError::new(format!(
                        "`stack.toml` {key} = \"{cron}\": `{n}` is not a number from 0 to {max} or `*`"
                    ))
                    .hint("ranges, lists and steps cannot be expressed as a launchd agent; use plain numbers"));
                }
            },
        });
    }
    Ok(Calendar {
        second: values[0].unwrap_or(0),
        minute: values[1],
        hour: values[2],
        day: values[3],
        month: values[4],
        weekday: values[5].map(|d| d % 7),
    })
}

/// The weekly drill of a backup schedule: an hour after the backup's time (04:00 when the backup
/// runs every hour), on the backup's weekday (Sunday when it runs on every day; the next day when
/// the hour passes midnight), so it drills the snapshot just taken.
pub fn drill_calendar(backup: &Calendar) -> Calendar {
    let (hour, next_day) = match backup.hour {
        Some(23) => (0, 1),
        Some(h) => (h + 1, 0),
        None => (4, 0),
    };
    Calendar {
        second: backup.second,
        minute: Some(backup.minute.unwrap_or(0)),
        hour: Some(hour),
        day: None,
        month: None,
        weekday: Some(backup.weekday.map_or(0, |d| (d + next_day) % 7)),
    }
}

/// A job's name, distinct per instance so two instances can each have one:
/// `stack-<kind>-<instance dir name>-<hash of its path>`.
pub fn label(kind: &str, instance_dir: &Path) -> String {
    let name: String = instance_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    use sha2::Digest;
    let digest = sha2::Sha256::digest(instance_dir.display().to_string().as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("stack-{kind}-{name}-{hash}")
}

/// One set of scheduled jobs, installed and removed together by its own command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedules {
    /// `stack update all` (`stack update --install-schedule`).
    Updates,
    /// `stack backup all` and its weekly drill (`stack backup --install-schedule`).
    Backups,
}

impl Schedules {
    /// The kinds of its jobs (the middle of their labels), in the order they are installed.
    pub fn kinds(self) -> &'static [&'static str] {
        match self {
            Schedules::Updates => &["update"],
            Schedules::Backups => &["backup", "drill"],
        }
    }

    /// The command that installs and removes these jobs: `stack update`.
    pub fn command(self) -> &'static str {
        match self {
            Schedules::Updates => "stack update",
            Schedules::Backups => "stack backup",
        }
    }

    /// Every label of these jobs (what `--remove-schedule` removes).
    pub fn labels(self, instance: &Instance) -> Vec<String> {
        self.kinds()
            .iter()
            .map(|k| label(k, &instance.dir))
            .collect()
    }
}

/// One job to install, with the schedule it came from (for the report).
pub struct Scheduled {
    pub job: Job,
    /// `stack update all`
    pub command: String,
    /// `0 0 3 * * *`
    pub cron: String,
}

/// What `--install-schedule` does: the jobs to install, and the labels of the jobs to remove
/// (the backup jobs when `[backup].schedule` is not set).
pub struct Plan {
    pub install: Vec<Scheduled>,
    pub remove: Vec<String>,
}

/// One set of the instance's scheduled jobs from its `stack.toml`, running `exe`. Every schedule is
/// checked before anything is written.
pub fn plan(
    which: Schedules,
    config: &Config,
    instance: &Instance,
    exe: &Path,
) -> Result<Plan, UserError> {
    let job = |kind, args: &[&str], cron, calendar| {
        scheduled(which, instance, exe, kind, args, cron, calendar)
    };
    match which {
        Schedules::Updates => {
            let cron = config
                .updates
                .schedule
                .clone()
                .unwrap_or_else(|| DEFAULT.to_string());
            let update = parse(&cron, "[updates].schedule")?;
            Ok(Plan {
                install: vec![job("update", &["update", "all"], cron, update)],
                remove: Vec::new(),
            })
        }
        Schedules::Backups => {
            let Some(cron) = &config.backup.schedule else {
                return Ok(Plan {
                    install: Vec::new(),
                    remove: which.labels(instance),
                });
            };
            let backup = parse(cron, "[backup].schedule")?;
            if config.backup.repository.is_none() {
                return Err(UserError::new(
                    "`stack.toml` sets [backup].schedule but not [backup].repository: the scheduled backup would have nowhere to go",
                )
                .hint("set `[backup] repository = \"/Volumes/Backup/stack\"` (an external disk or a NAS mount)"));
            }
            let drill = drill_calendar(&backup);
            let drill_cron = format!(
                "{} {} {} * * {}",
                drill.second,
                drill.minute.unwrap_or(0),
                drill.hour.unwrap_or(0),
                drill.weekday.unwrap_or(0)
            );
            Ok(Plan {
                install: vec![
                    job("backup", &["backup", "all"], cron.clone(), backup),
                    job("drill", &["backup", "drill", "all"], drill_cron, drill),
                ],
                remove: Vec::new(),
            })
        }
    }
}

fn scheduled(
    which: Schedules,
    instance: &Instance,
    exe: &Path,
    kind: &str,
    args: &[&str],
    cron: String,
    calendar: Calendar,
) -> Scheduled {
    let command = format!("stack {}", args.join(" "));
    let mut argv = vec![exe.display().to_string()];
    argv.extend(args.iter().map(|a| (*a).to_string()));
    Scheduled {
        job: Job {
            label: label(kind, &instance.dir),
            description: format!("{command} ({})", instance.dir.display()),
            written_by: format!(
                "`{0} --install-schedule`; `{0} --remove-schedule` removes it",
                which.command()
            ),
            argv,
            env: instance_env(instance),
            working_dir: Some(instance.root.clone()),
            log: instance.state_dir().join(format!("{kind}.log")),
            when: When::Calendar(calendar),
        },
        command,
        cron,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::service_unit::{Manager, Target};

    fn instance(dir: &str) -> Instance {
        Instance {
            root: PathBuf::from(dir),
            dir: PathBuf::from(dir),
            separate: false,
        }
    }

    fn config(backup: Option<&str>) -> Config {
        let mut config = Config::default();
        config.backup.schedule = backup.map(str::to_string);
        config.backup.repository = Some("/mnt/backup".into());
        config
    }

    fn linux() -> Target {
        Target {
            manager: Manager::SystemdUser,
            dir: PathBuf::from("/home/fam/.config/systemd/user"),
        }
    }

    #[test]
    fn cron_is_checked() {
        assert_eq!(
            parse(DEFAULT, "[updates].schedule").unwrap(),
            Calendar {
                second: 0,
                minute: Some(0),
                hour: Some(3),
                day: None,
                month: None,
                weekday: None
            }
        );
        assert_eq!(parse("30 4 * * 7", "k").unwrap().weekday, Some(0));
        assert!(parse("0 */5 * * * *", "k").is_err());
        assert!(parse("0 0 25 * * *", "k").is_err());
        let err = parse("daily", "[backup].schedule").unwrap_err();
        assert!(
            err.message.contains("[backup].schedule = \"daily\""),
            "{}",
            err.message
        );
    }

    #[test]
    fn the_update_job_runs_this_binary_for_this_instance() {
        // A backup schedule is set, but the update's jobs are the update alone: the backup jobs
        // are neither installed nor removed by `stack update --install-schedule`.
        let plan = plan(
            Schedules::Updates,
            &config(Some("0 30 2 * * *")),
            &instance("/home/fam/family"),
            Path::new("/opt/stack"),
        )
        .unwrap();
        assert_eq!(plan.install.len(), 1);
        assert!(plan.remove.is_empty());
        let files = plan.install[0].job.files(&linux());
        assert!(files[0].0.starts_with("/home/fam/.config/systemd/user"));
        assert!(files[0].1.contains("ExecStart=/opt/stack update all"));
        assert!(
            files[0]
                .1
                .contains("Environment=\"STACK_ROOT=/home/fam/family\"")
        );
        assert!(
            files[0]
                .1
                .contains("`stack update --install-schedule`; `stack update --remove-schedule`")
        );
        assert!(files[1].1.contains("OnCalendar=*-*-* 03:00:00"));
        assert_eq!(
            [plan.install[0].job.label.clone()],
            *Schedules::Updates.labels(&instance("/home/fam/family"))
        );
    }

    #[test]
    fn the_labels_stay_what_installed_jobs_are_named() {
        // Jobs installed by an earlier `stack` are found by these names; changing them would
        // leave those jobs running.
        let family = instance("/home/fam/family");
        assert_eq!(
            Schedules::Updates.labels(&family),
            ["stack-update-family-63b7efff"]
        );
        assert_eq!(
            Schedules::Backups.labels(&family),
            [
                "stack-backup-family-63b7efff",
                "stack-drill-family-63b7efff"
            ]
        );
    }

    #[test]
    fn a_path_with_markup_is_escaped_in_the_agent() {
        let mac = Target {
            manager: Manager::Launchd,
            dir: PathBuf::from("/Users/f/Library/LaunchAgents"),
        };
        for which in [Schedules::Updates, Schedules::Backups] {
            let plan = plan(
                which,
                &config(Some("0 30 2 * * *")),
                &instance("/Users/f/Tom & Jerry <home>"),
                Path::new("/Users/f/bin & <tools>/stack"),
            )
            .unwrap();
            assert!(!plan.install.is_empty());
            for scheduled in &plan.install {
                let plist = &scheduled.job.files(&mac)[0].1;
                assert!(
                    !plist.contains("& ") && !plist.contains("<home>"),
                    "{plist}"
                );
                assert!(
                    plist.contains("<string>/Users/f/bin &amp; &lt;tools&gt;/stack</string>"),
                    "{plist}"
                );
                assert!(
                    plist.contains(
                        "<key>STACK_ROOT</key><string>/Users/f/Tom &amp; Jerry &lt;home&gt;</string>"
                    ),
                    "{plist}"
                );
            }
        }
    }

    #[test]
    fn the_backup_jobs_are_the_backup_and_a_weekly_drill_without_the_update() {
        let plan = plan(
            Schedules::Backups,
            &config(Some("0 30 2 * * *")),
            &instance("/home/fam/family"),
            Path::new("/opt/stack"),
        )
        .unwrap();
        assert!(plan.remove.is_empty());
        let commands: Vec<_> = plan.install.iter().map(|s| s.command.as_str()).collect();
        assert_eq!(commands, ["stack backup all", "stack backup drill all"]);
        let backup = plan.install[0].job.files(&linux());
        assert!(backup[0].1.contains("ExecStart=/opt/stack backup all\n"));
        assert!(
            backup[0]
                .1
                .contains("`stack backup --install-schedule`; `stack backup --remove-schedule`")
        );
        assert!(backup[1].1.contains("OnCalendar=*-*-* 02:30:00"));
        let drill = plan.install[1].job.files(&linux());
        assert!(
            drill[0]
                .1
                .contains("ExecStart=/opt/stack backup drill all\n")
        );
        assert!(
            drill[1].1.contains("OnCalendar=Sun *-*-* 03:30:00"),
            "{}",
            drill[1].1
        );
        assert_eq!(plan.install[1].cron, "0 30 3 * * 0");
        let labels: Vec<_> = plan.install.iter().map(|s| s.job.label.clone()).collect();
        assert_eq!(
            labels,
            Schedules::Backups.labels(&instance("/home/fam/family"))
        );
    }

    #[test]
    fn without_a_backup_schedule_the_backup_jobs_are_removed() {
        let plan = plan(
            Schedules::Backups,
            &config(None),
            &instance("/home/fam/family"),
            Path::new("/opt/stack"),
        )
        .unwrap();
        assert!(plan.install.is_empty());
        assert_eq!(
            plan.remove,
            Schedules::Backups.labels(&instance("/home/fam/family"))
        );
    }

    #[test]
    fn the_drill_follows_the_backup() {
        let drill = |cron| drill_calendar(&parse(cron, "k").unwrap());
        // Weekly backups on Wednesdays at 23:15: the drill after it, Thursday at 00:15.
        let weekly = drill("0 15 23 * * 3");
        assert_eq!(
            (weekly.weekday, weekly.hour, weekly.minute),
            (Some(4), Some(0), Some(15))
        );
        let saturday = drill("0 0 23 * * 6");
        assert_eq!((saturday.weekday, saturday.hour), (Some(0), Some(0)));
        // Hourly backups: the drill on Sundays at 04:00.
        let hourly = drill("0 0 * * * *");
        assert_eq!(
            (hourly.weekday, hourly.hour, hourly.minute),
            (Some(0), Some(4), Some(0))
        );
    }

    #[test]
    fn a_backup_schedule_needs_a_repository() {
        let mut config = config(Some("0 0 2 * * *"));
        config.backup.repository = None;
        let err = plan(
            Schedules::Backups,
            &config,
            &instance("/f"),
            Path::new("/opt/stack"),
        )
        .err()
        .unwrap();
        assert!(
            err.message.contains("[backup].repository"),
            "{}",
            err.message
        );
        assert!(err.hints[0].contains("repository ="));
    }
}
