//! Writing a private file whole or not at all.
//!
//! Invariant: a reader (or a crash, or Ctrl-C) sees either the old file or the complete new one,
//! never a torn one, and the new file is mode 0600 from the moment it exists. The contents go to a
//! temporary file in the same directory (so the final `rename` stays on one filesystem and is
//! atomic), are flushed to disk, and only then replace the target.

use std::io::{self, Write};
use std::path::Path;

/// Atomically replace `path` with `contents`, mode 0600, creating missing parent directories.
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    write(path, contents, Mode::Private)
}

/// Atomically replace a file people edit (`stack.toml`): keeps the existing file's mode, 0644 for
/// a new one.
pub fn write_keeping_mode(path: &Path, contents: &[u8]) -> io::Result<()> {
    write(path, contents, Mode::Keep)
}

enum Mode {
    Private,
    Keep,
}

fn write(path: &Path, contents: &[u8], mode: Mode) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    // tempfile creates the file with mode 0600 on Unix, so the secret never sits in a readable file.
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(contents)?;
    match mode {
        Mode::Private => set_private(tmp.as_file())?,
        Mode::Keep => match std::fs::metadata(path) {
            Ok(meta) => tmp.as_file().set_permissions(meta.permissions())?,
            Err(_) => set_mode(tmp.as_file(), 0o644)?,
        },
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable; not every filesystem allows syncing a directory, and the
    // file is already complete either way, so a failure here is not an error.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn set_private(file: &std::fs::File) -> io::Result<()> {
    set_mode(file, 0o600)
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &std::fs::File, _: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file");
        write_private(&path, b"one").unwrap();
        write_private(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file"]);
    }
}
