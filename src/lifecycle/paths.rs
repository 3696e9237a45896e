//! The one place that decides which data directory `destroy` may delete: only
//! `<data>/<id>/`, and only when it really lies inside the data root after resolving symlinks and
//! `..`. Everything else is refused, never deleted.

use std::path::{Path, PathBuf};

use crate::error::UserError;

/// `Ok(None)` when there is nothing to delete; `Ok(Some(path))` when `path` may be removed.
pub fn deletable_data_dir(data_root: &Path, id: &str) -> Result<Option<PathBuf>, UserError> {
    if id.is_empty() || id.contains('/') || id.contains("..") {
        return Err(UserError::new(format!(
            "Refusing to delete data for id `{id}`"
        )));
    }
    let target = data_root.join(id);
    let meta = match std::fs::symlink_metadata(&target) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(
                UserError::new(format!("Cannot inspect `{}`", target.display())).because(e),
            );
        }
    };
    let refuse = |why: String| {
        UserError::new(format!("Refusing to delete `{}`: {why}", target.display())).hint(
            "stack only deletes data inside the data dir; remove it by hand if you really mean to",
        )
    };
    if meta.file_type().is_symlink() {
        let resolved = target
            .canonicalize()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "a missing target".into());
        return Err(refuse(format!("it is a symlink to {resolved}")));
    }
    let root = data_root
        .canonicalize()
        .map_err(|e| refuse("the data dir cannot be resolved".into()).because(e))?;
    let real = target
        .canonicalize()
        .map_err(|e| refuse("it cannot be resolved".into()).because(e))?;
    if real == root || !real.starts_with(&root) {
        return Err(refuse(format!(
            "it resolves to `{}`, outside the data dir `{}`",
            real.display(),
            root.display()
        )));
    }
    Ok(Some(real))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_dir_is_deletable() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("photos/x")).unwrap();
        let p = deletable_data_dir(d.path(), "photos").unwrap().unwrap();
        assert!(p.ends_with("photos"));
        assert_eq!(deletable_data_dir(d.path(), "docs").unwrap(), None);
    }

    #[test]
    fn symlink_outside_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("photos")).unwrap();
        let e = deletable_data_dir(d.path(), "photos").unwrap_err();
        assert!(e.message.contains("symlink"), "{}", e.message);
    }

    #[test]
    fn traversal_ids_are_refused() {
        let d = tempfile::tempdir().unwrap();
        assert!(deletable_data_dir(d.path(), "..").is_err());
        assert!(deletable_data_dir(d.path(), "a/b").is_err());
    }
}
