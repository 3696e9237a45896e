//! What `stack` does when it is asked to stop (Ctrl-C, `kill`): SIGINT and SIGTERM.
//!
//! Shell hooks run in a process group of their own, registered here while they run. Without such
//! a child, a signal ends `stack` at once with the shell's status (128 + signal), as the default
//! action would. While hooks run, the signal is forwarded to their groups instead; after
//! [`GRACE`] (or at a second signal) the groups are killed. The hook runner then reports the
//! interruption and the command unwinds normally, so the instance lock is released only after
//! every child is gone, and nothing after the hook (a setup marker) is written.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::signal::unix::{SignalKind, signal};

/// How long a hook has to finish after the signal was forwarded before its group is killed.
pub const GRACE: Duration = Duration::from_secs(3);

/// Process group ids of the hooks running now.
static GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
/// The first signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Start listening; call once, inside the runtime. Without it the default actions stay.
pub fn listen() {
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::spawn(async move {
        loop {
            let signal = tokio::select! {
                _ = int.recv() => Signal::INT,
                _ = term.recv() => Signal::TERM,
            };
            received(signal);
        }
    });
}

fn received(signal: Signal) {
    let first = RECEIVED
        .compare_exchange(0, signal.as_raw(), Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    let groups = groups();
    if groups.is_empty() {
        std::process::exit(128 + signal.as_raw());
    }
    if !first {
        // Asked twice: no more grace.
        signal_groups(&groups, Signal::KILL);
        return;
    }
    signal_groups(&groups, signal);
    tokio::spawn(async {
        tokio::time::sleep(GRACE).await;
        signal_groups(&self::groups(), Signal::KILL);
    });
}

fn groups() -> Vec<i32> {
    GROUPS
        .lock()
        .map(|g| g.iter().copied().collect())
        .unwrap_or_default()
}

fn signal_groups(groups: &[i32], signal: Signal) {
    for pid in groups.iter().filter_map(|&g| Pid::from_raw(g)) {
        // The group may have ended in the meantime; nothing to do then.
        let _ = kill_process_group(pid, signal);
    }
}

/// The signal that asked `stack` to stop, if one did: `SIGINT` or `SIGTERM`.
pub fn signal_received() -> Option<Stop> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        raw => Some(Stop(raw)),
    }
}

/// A stop request by signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stop(i32);

impl Stop {
    /// The shell's exit status for a process ended by this signal.
    pub fn exit_status(self) -> u8 {
        u8::try_from(128 + self.0).unwrap_or(1)
    }
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 == Signal::INT.as_raw() {
            f.write_str("SIGINT")
        } else if self.0 == Signal::TERM.as_raw() {
            f.write_str("SIGTERM")
        } else {
            write!(f, "signal {}", self.0)
        }
    }
}

/// A child's process group, signalled with `stack` while registered; dropping it unregisters.
pub struct ChildGroup(i32);

/// Register the process group led by `pid` (a child spawned with `process_group(0)`).
pub fn register(pid: u32) -> Option<ChildGroup> {
    let pid = i32::try_from(pid).ok()?;
    GROUPS.lock().ok()?.insert(pid);
    // A signal that came between the spawn and now reaches this group too.
    if signal_received().is_some() {
        signal_groups(&[pid], Signal::KILL);
    }
    Some(ChildGroup(pid))
}

impl Drop for ChildGroup {
    fn drop(&mut self) {
        // The group's leader has ended; after a stop request, whatever it left behind (a
        // background job that ignores SIGINT) ends with it.
        if signal_received().is_some() {
            signal_groups(&[self.0], Signal::KILL);
        }
        if let Ok(mut groups) = GROUPS.lock() {
            groups.remove(&self.0);
        }
    }
}
