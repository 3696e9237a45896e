//! The instance's history (docs/history.md): `.stack/events.jsonl`, one JSON event a line.
//!
//! Invariants: an event is appended whole — one `write` of the complete line to a file opened for
//! appending, under an exclusive lock on the file, then fsynced — so concurrent writers (the
//! stacklets of `up all`, a `stack serve` beside a CLI command) never interleave. A line left torn
//! by a crash is ended before the next append, so it can never swallow the next event. Reading
//! skips lines that do not parse and says which they were; history is never a reason for a
//! command to fail (callers turn an append error into a warning).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::instance::Instance;

/// What happened to a stacklet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Up,
    Down,
    Restart,
    Destroy,
    Setup,
    Update,
    Rollback,
    Uninstall,
    Backup,
    Restore,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Restart => "restart",
            Self::Destroy => "destroy",
            Self::Setup => "setup",
            Self::Update => "update",
            Self::Rollback => "rollback",
            Self::Uninstall => "uninstall",
            Self::Backup => "backup",
            Self::Restore => "restore",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Ok,
    Failed,
    RolledBack,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::RolledBack => "rolled-back",
        }
    }
}

/// The image digests (service → digest or image id) before and after a change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Images {
    pub before: BTreeMap<String, String>,
    pub after: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// RFC 3339, UTC.
    pub time: String,
    pub stacklet: String,
    pub action: Action,
    pub outcome: Outcome,
    /// One line for people: what was done, or why it failed.
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Images>,
    /// Who asked, when not the local command line (the signed API's `X-Stack-Actor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl Event {
    /// An event stamped now.
    pub fn new(
        stacklet: impl Into<String>,
        action: Action,
        outcome: Outcome,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            time: rfc3339(SystemTime::now()),
            stacklet: stacklet.into(),
            action,
            outcome,
            detail: detail.into(),
            images: None,
            actor: None,
        }
    }

    /// `ok` or `failed` with the error's first line as the detail.
    pub fn from_result<T>(
        stacklet: impl Into<String>,
        action: Action,
        ok_detail: impl Into<String>,
        result: &anyhow::Result<T>,
    ) -> Self {
        match result {
            Ok(_) => Self::new(stacklet, action, Outcome::Ok, ok_detail),
            Err(e) => Self::new(stacklet, action, Outcome::Failed, error_detail(e)),
        }
    }

    #[must_use]
    pub fn images(mut self, images: Images) -> Self {
        if !(images.before.is_empty() && images.after.is_empty()) {
            self.images = Some(images);
        }
        self
    }

    #[must_use]
    pub fn actor(mut self, actor: Option<String>) -> Self {
        self.actor = actor;
        self
    }
}

/// An error as one line: the whole cause chain, joined.
pub fn error_detail(err: &anyhow::Error) -> String {
    let text = err
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    text.lines().next().unwrap_or_default().to_string()
}

pub fn file(instance: &Instance) -> PathBuf {
    instance.state_dir().join("events.jsonl")
}

/// Append one event to the instance's history.
pub fn append(instance: &Instance, event: &Event) -> io::Result<()> {
    append_to(&file(instance), event)
}

fn append_to(path: &Path, event: &Event) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_vec(event).map_err(io::Error::other)?;
    line.push(b'\n');
    let mut f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    f.lock()?;
    // A crash mid-append leaves a line without its newline: end it first, so this event starts
    // on a line of its own and only the torn one is lost.
    let len = f.metadata()?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::Start(len - 1))?;
        f.read_exact(&mut last)?;
        if last[0] != b'\n' {
            line.insert(0, b'\n');
        }
    }
    // One write of the whole line: with O_APPEND it lands at the end as one piece.
    f.write_all(&line)?;
    f.sync_all()?;
    f.unlock()
}

/// The history as read: events oldest first, and the lines that could not be read.
#[derive(Debug, Default)]
pub struct Log {
    pub events: Vec<Event>,
    pub skipped: Vec<Skipped>,
}

/// A line that is not an event (torn by a crash, or edited by hand).
#[derive(Debug)]
pub struct Skipped {
    /// 1-based.
    pub line: usize,
    pub reason: String,
}

/// Read the whole history; a missing file is an empty history.
pub fn read(instance: &Instance) -> io::Result<Log> {
    read_from(&file(instance))
}

fn read_from(path: &Path) -> io::Result<Log> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Log::default()),
        Err(e) => return Err(e),
    };
    let mut log = Log::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Event>(line) {
            Ok(event) => log.events.push(event),
            Err(e) => log.skipped.push(Skipped {
                line: i + 1,
                reason: e.to_string(),
            }),
        }
    }
    Ok(log)
}

/// `time` as RFC 3339 in UTC, to the second (`2026-11-28T03:04:05Z`).
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_rfc3339_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_748_645);
        assert_eq!(rfc3339(t), "2026-11-27T03:04:05Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        // A leap day.
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn serialises_the_contract_fields() {
        let mut e = Event::new("docs", Action::Update, Outcome::RolledBack, "health failed");
        e.time = "2026-11-28T00:00:00Z".into();
        let e = e
            .images(Images {
                before: BTreeMap::from([("web".into(), "sha256:a".into())]),
                after: BTreeMap::from([("web".into(), "sha256:b".into())]),
            })
            .actor(Some("phone".into()));
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"time":"2026-11-28T00:00:00Z","stacklet":"docs","action":"update","outcome":"rolled-back","detail":"health failed","images":{"before":{"web":"sha256:a"},"after":{"web":"sha256:b"}},"actor":"phone"}"#
        );
        let plain = Event::new("docs", Action::Up, Outcome::Ok, "").images(Images::default());
        let text = serde_json::to_string(&plain).unwrap();
        assert!(
            !text.contains("images") && !text.contains("actor"),
            "{text}"
        );
    }

    #[test]
    fn torn_last_line_is_skipped_and_does_not_swallow_the_next_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".stack/events.jsonl");
        append_to(&path, &Event::new("a", Action::Up, Outcome::Ok, "one")).unwrap();
        // A crash in the middle of the second append.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"time":"2026-11-28T00:00:00Z","stack"#)
            .unwrap();
        drop(f);
        let log = read_from(&path).unwrap();
        assert_eq!(log.events.len(), 1);
        assert_eq!(log.skipped.len(), 1);
        assert_eq!(log.skipped[0].line, 2);

        append_to(&path, &Event::new("b", Action::Down, Outcome::Ok, "three")).unwrap();
        let log = read_from(&path).unwrap();
        let ids: Vec<_> = log.events.iter().map(|e| e.stacklet.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(log.skipped.len(), 1);
    }

    #[test]
    fn missing_file_is_empty_history() {
        let dir = tempfile::tempdir().unwrap();
        let log = read_from(&dir.path().join("nope.jsonl")).unwrap();
        assert!(log.events.is_empty() && log.skipped.is_empty());
    }

    #[test]
    fn concurrent_appends_keep_every_line_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let detail = format!("{t}-{i}-{}", "x".repeat(300));
                        append_to(&path, &Event::new("s", Action::Up, Outcome::Ok, detail))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let log = read_from(&path).unwrap();
        assert_eq!(log.events.len(), 200);
        assert!(log.skipped.is_empty());
    }
}
