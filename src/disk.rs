//! Free disk space, asked of `df` (every supported system has it; no `/proc`, no statvfs binding).

/// Free bytes on the filesystem holding `path` (or its nearest existing parent), via `df`, which
/// every supported system has; `None` when it cannot be read.
pub fn free(path: &std::path::Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let out = std::process::Command::new("df")
        .arg("-Pk")
        .arg(existing)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let kb: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}
