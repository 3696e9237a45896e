//! The native update schedule (`stack update --install-schedule`): `[updates].schedule` (the
//! reference's Watchtower cron, six fields with seconds: `0 0 3 * * *`) becomes a launchd agent on
//! macOS or a systemd timer on Linux that runs `stack update all` for this instance.
//!
//! Only what both launchd and systemd can express is accepted: each field a number or `*`. The
//! files are written atomically; loading them is left to `launchctl` / `systemctl`.

use std::path::{Path, PathBuf};

use crate::error::UserError;

/// A schedule: `None` in a field means every value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    pub second: u32,
    pub minute: Option<u32>,
    pub hour: Option<u32>,
    pub day: Option<u32>,
    pub month: Option<u32>,
    pub weekday: Option<u32>,
}

pub const DEFAULT: &str = "0 0 3 * * *";

/// Parse a six-field cron (`sec min hour day month weekday`); five fields mean no seconds.
pub fn parse(cron: &str) -> Result<Calendar, UserError> {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let fields: Vec<&str> = match fields.len() {
        6 => fields,
        5 => std::iter::once("0").chain(fields).collect(),
        _ => {
            return Err(UserError::new(format!(
                "`stack.toml` [updates].schedule = \"{cron}\": expected six cron fields (sec min hour day month weekday)"
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
                        "`stack.toml` [updates].schedule = \"{cron}\": `{n}` is not a number from 0 to {max} or `*`"
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

/// systemd `OnCalendar=`.
pub fn on_calendar(c: &Calendar) -> String {
    let f = |v: Option<u32>| v.map_or("*".to_string(), |v| format!("{v:02}"));
    let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    let weekday = c
        .weekday
        .map(|d| format!("{} ", days[d as usize]))
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
    .filter_map(|(k, v)| v.map(|v| format!("      <key>{k}</key><integer>{v}</integer>\n")))
    .collect()
}

/// The unit's name, distinct per instance so two instances can each have one.
pub fn label(instance_dir: &Path) -> String {
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
    format!("stack-update-{name}-{hash}")
}

/// The files a schedule consists of: path → contents.
pub struct Plan {
    pub files: Vec<(PathBuf, String)>,
    /// Commands that load it (`systemctl --user enable --now …`), run in order.
    pub load: Vec<Vec<String>>,
    pub unload: Vec<Vec<String>>,
}

/// Where `stack` runs decides the flavour: macOS → a launchd agent in `~/Library/LaunchAgents`;
/// Linux as root → a system timer in `/etc/systemd/system`; else a user timer in
/// `~/.config/systemd/user`.
pub fn plan(
    calendar: &Calendar,
    exe: &Path,
    instance_dir: &Path,
    root: &Path,
    home: &Path,
    system: bool,
    macos: bool,
) -> Plan {
    let label = label(instance_dir);
    let exe = exe.display();
    let dir = instance_dir.display();
    let root = root.display();
    if macos {
        let path = home.join(format!("Library/LaunchAgents/{label}.plist"));
        let plist = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
  <dict>
    <key>Label</key><string>{label}</string>
    <key>ProgramArguments</key>
    <array><string>{exe}</string><string>update</string><string>all</string></array>
    <key>EnvironmentVariables</key>
    <dict><key>STACK_ROOT</key><string>{root}</string><key>STACK_DIR</key><string>{dir}</string></dict>
    <key>WorkingDirectory</key><string>{root}</string>
    <key>StartCalendarInterval</key>
    <dict>
{interval}    </dict>
    <key>StandardOutPath</key><string>{dir}/.stack/update.log</string>
    <key>StandardErrorPath</key><string>{dir}/.stack/update.log</string>
  </dict>
</plist>
"#,
            interval = launchd_interval(calendar)
        );
        let p = path.display().to_string();
        return Plan {
            files: vec![(path, plist)],
            load: vec![vec![
                "launchctl".into(),
                "load".into(),
                "-w".into(),
                p.clone(),
            ]],
            unload: vec![vec!["launchctl".into(), "unload".into(), "-w".into(), p]],
        };
    }
    let unit_dir = if system {
        PathBuf::from("/etc/systemd/system")
    } else {
        home.join(".config/systemd/user")
    };
    let service = format!(
        "[Unit]\nDescription=stack update all ({dir})\n\n[Service]\nType=oneshot\nEnvironment=STACK_ROOT={root}\nEnvironment=STACK_DIR={dir}\nWorkingDirectory={root}\nExecStart={exe} update all\n"
    );
    let timer = format!(
        "[Unit]\nDescription=stack update all on [updates].schedule ({dir})\n\n[Timer]\nOnCalendar={}\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
        on_calendar(calendar)
    );
    let ctl = |args: &[&str]| -> Vec<String> {
        let mut v = vec!["systemctl".to_string()];
        if !system {
            v.push("--user".into());
        }
        v.extend(args.iter().map(|a| (*a).to_string()));
        v
    };
    let timer_name = format!("{label}.timer");
    Plan {
        files: vec![
            (unit_dir.join(format!("{label}.service")), service),
            (unit_dir.join(&timer_name), timer),
        ],
        load: vec![
            ctl(&["daemon-reload"]),
            ctl(&["enable", "--now", &timer_name]),
        ],
        unload: vec![ctl(&["disable", "--now", &timer_name])],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_becomes_calendars() {
        let c = parse(DEFAULT).unwrap();
        assert_eq!(on_calendar(&c), "*-*-* 03:00:00");
        assert_eq!(
            launchd_interval(&c),
            "      <key>Minute</key><integer>0</integer>\n      <key>Hour</key><integer>3</integer>\n"
        );
        let weekly = parse("30 4 * * 0").unwrap();
        assert_eq!(on_calendar(&weekly), "Sun *-*-* 04:30:00");
        assert!(parse("0 */5 * * * *").is_err());
        assert!(parse("0 0 25 * * *").is_err());
        assert!(parse("daily").is_err());
    }

    #[test]
    fn linux_user_timer_and_macos_agent() {
        let c = parse(DEFAULT).unwrap();
        let p = plan(
            &c,
            Path::new("/opt/stack"),
            Path::new("/home/fam/family"),
            Path::new("/home/fam/family"),
            Path::new("/home/fam"),
            false,
            false,
        );
        assert_eq!(p.files.len(), 2);
        assert!(p.files[0].0.starts_with("/home/fam/.config/systemd/user"));
        assert!(p.files[0].1.contains("ExecStart=/opt/stack update all"));
        assert!(p.files[1].1.contains("OnCalendar=*-*-* 03:00:00"));
        assert_eq!(
            p.load[1][..2],
            ["systemctl".to_string(), "--user".to_string()]
        );
        let m = plan(
            &c,
            Path::new("/opt/stack"),
            Path::new("/Users/f/s"),
            Path::new("/Users/f/s"),
            Path::new("/Users/f"),
            false,
            true,
        );
        assert!(m.files[0].0.starts_with("/Users/f/Library/LaunchAgents"));
        assert!(m.files[0].1.contains("<key>Hour</key><integer>3</integer>"));
        assert_eq!(m.load[0][0], "launchctl");
    }
}
