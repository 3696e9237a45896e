//! The instance lock: one state-changing `stack` command per instance at a time; read-only
//! commands never take it (docs/architecture.md).
//!
//! Invariants:
//! - The lock is an OS file lock (`File::lock`, `flock` on Unix) on the lock file, held exactly as
//!   long as the `InstanceLock` value lives. The OS releases it when the process dies, so a crash
//!   never leaves a stale lock behind; the file's existence means nothing.
//! - The holder writes its pid into the file, only so that a waiting command can say whom it waits
//!   for. The pid is informational: it may be missing (the holder has just acquired and not yet
//!   written it) and is never used to decide anything.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("Another `stack` command is changing this instance{}", holder(*pid))]
    Held { pid: Option<u32> },
    #[error("Could not lock `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn holder(pid: Option<u32>) -> String {
    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
}

/// Holds the instance lock until dropped.
#[derive(Debug)]
pub struct InstanceLock {
    file: File,
}

impl InstanceLock {
    /// Take the lock at `path`. If another process holds it: with `wait`, call `on_wait` with the
    /// holder's pid (so the caller can say "waiting for pid N") and block until it is free;
    /// without `wait`, return [`LockError::Held`].
    pub fn acquire(
        path: &Path,
        wait: bool,
        on_wait: impl FnOnce(Option<u32>),
    ) -> Result<InstanceLock, LockError> {
        let io = |source| LockError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // Never truncate on open: the file holds the current holder's pid.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let pid = read_pid(&mut file);
                if !wait {
                    return Err(LockError::Held { pid });
                }
                on_wait(pid);
                file.lock().map_err(io)?;
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        write_pid(&mut file).map_err(io)?;
        Ok(InstanceLock { file })
    }
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        // Clear our pid so nobody is later named as a holder; the lock itself goes with the file.
        let _ = self.file.set_len(0);
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

fn write_pid(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    writeln!(file, "{}", std::process::id())?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn second_handle_is_refused_while_the_first_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".stack/stack.lock");
        let first = InstanceLock::acquire(&path, false, |_| panic!("not held")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().trim(),
            std::process::id().to_string()
        );
        match InstanceLock::acquire(&path, false, |_| panic!("must not wait")) {
            Err(LockError::Held { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(first);
        let _again = InstanceLock::acquire(&path, false, |_| panic!("not held")).unwrap();
    }

    #[test]
    fn waiter_is_told_the_holder_and_gets_the_lock_when_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stack.lock");
        let first = InstanceLock::acquire(&path, true, |_| panic!("not held")).unwrap();
        let (told, heard) = mpsc::channel();
        let (acquired, got) = mpsc::channel();
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || {
                let lock =
                    InstanceLock::acquire(&path, true, |pid| told.send(pid).unwrap()).unwrap();
                acquired.send(()).unwrap();
                drop(lock);
            })
        };
        assert_eq!(
            heard.recv_timeout(Duration::from_secs(10)).unwrap(),
            Some(std::process::id())
        );
        // Still held: the waiter must not have it yet.
        assert!(got.recv_timeout(Duration::from_millis(200)).is_err());
        drop(first);
        got.recv_timeout(Duration::from_secs(10)).unwrap();
        waiter.join().unwrap();
    }

    #[test]
    fn held_message_names_the_pid() {
        let err = LockError::Held { pid: Some(42) };
        assert_eq!(
            err.to_string(),
            "Another `stack` command is changing this instance (pid 42)"
        );
    }
}
