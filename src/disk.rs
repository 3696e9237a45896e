//! Free disk space, asked of the filesystem with `statvfs(3)` (POSIX, so Linux and macOS alike).

/// Free bytes on the filesystem holding `path` (or its nearest existing parent) that an
/// unprivileged user may use: `f_bavail × f_frsize`, the figure `df` prints as "Available".
/// `None` when it cannot be read.
///
/// This used to run `df -Pk` and parse its output; the system call gives the same number without a
/// child process, which `stack status` paid on every call (docs/performance.md).
pub fn free(path: &std::path::Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let stat = rustix::fs::statvfs(existing).ok()?;
    stat.f_bavail.checked_mul(stat.f_frsize)
}

#[cfg(test)]
mod tests {
    use super::free;

    /// The figure agrees with `df -Pk` (in KiB, so allow for other writers between the two reads).
    #[test]
    fn free_agrees_with_df() {
        let dir = tempfile::tempdir().unwrap();
        let ours = free(dir.path()).expect("statvfs of a temp dir") / 1024;
        let out = std::process::Command::new("df")
            .arg("-Pk")
            .arg(dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let df: u64 = text
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .nth(3)
            .unwrap()
            .parse()
            .unwrap();
        let slack = 64 * 1024; // 64 MiB in KiB
        assert!(
            ours.abs_diff(df) < slack,
            "statvfs says {ours} KiB, df says {df} KiB"
        );
    }

    #[test]
    fn a_missing_path_uses_its_nearest_existing_parent() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("not/yet/made");
        assert!(free(&missing).is_some());
    }
}
