//! What a `stack` snapshot says about itself: the manifest (stored as the snapshot's description
//! and as `manifest.json` beside the secrets and config), and the tags that mark a snapshot as a
//! `stack` backup of one stacklet.
//!
//! A snapshot holds two absolute paths: the stacklet's data dir (without the folders its
//! `[backup].exclude` names) and a staging dir of small files (`manifest.json`, `secrets.toml`,
//! `config.toml`, `images.json`). The manifest records both as they were backed up, so a restore
//! finds them on any machine and into any instance.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Every `stack` snapshot carries this tag.
pub const TAG: &str = "stack";
/// ... and `stacklet=<id>`.
pub const STACKLET_TAG_PREFIX: &str = "stacklet=";

/// Files of the staging dir.
pub const MANIFEST_FILE: &str = "manifest.json";
pub const SECRETS_FILE: &str = "secrets.toml";
pub const CONFIG_FILE: &str = "config.toml";
/// The stacklet's recorded images (`pins.rs`), when it has any.
pub const IMAGES_FILE: &str = "images.json";

/// Bumped when a restore of an older manifest would need different handling.
pub const FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub stacklet: String,
    pub stacklet_version: String,
    pub stack_version: String,
    /// RFC 3339, UTC: when the files were read.
    pub time: String,
    /// The instance that made it (`default`, or the instance name).
    pub instance: String,
    /// `<data>/<id>` as backed up (absolute); `None` when the stacklet had no data dir.
    pub data_path: Option<PathBuf>,
    /// The staging dir as backed up (absolute).
    pub meta_path: PathBuf,
    pub data_files: u64,
    pub data_bytes: u64,
    /// How the files were made consistent: `on_backup` (a dump hook ran), `stopped` or `live`.
    pub consistency: String,
    /// Recorded images (service → registry digest, or the local image id of an image that has
    /// none), when the stacklet has records; the full records are `images.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digests: Option<BTreeMap<String, String>>,
    /// Folders of the data dir left out (`[backup].exclude`), relative to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
}

/// Files and bytes under `dir` outside the `skip` folders (symlinks are not followed; a missing
/// dir is empty).
pub fn tree_size(dir: &std::path::Path, skip: &[PathBuf]) -> (u64, u64) {
    let mut files = 0;
    let mut bytes = 0;
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| !skip.iter().any(|s| s == e.path()))
        .filter_map(Result::ok)
    {
        if entry.file_type().is_file() {
            files += 1;
            bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    (files, bytes)
}

/// `12.4 GB`, `512 B`: decimal units, one decimal.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_people_write_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1000), "1.0 kB");
        assert_eq!(human_bytes(12_400_000_000), "12.4 GB");
    }

    #[test]
    fn manifest_round_trips_without_digests() {
        let m = Manifest {
            format: FORMAT,
            stacklet: "photos".into(),
            stacklet_version: "1.0.0".into(),
            stack_version: "0.1.0".into(),
            time: "2026-11-28T03:00:00Z".into(),
            instance: "default".into(),
            data_path: Some("/data/photos".into()),
            meta_path: "/x/.stack/backup/photos".into(),
            data_files: 3,
            data_bytes: 10,
            consistency: "stopped".into(),
            digests: None,
            excluded: Vec::new(),
        };
        let text = serde_json::to_string(&m).unwrap();
        assert!(!text.contains("digests") && !text.contains("excluded"));
        assert_eq!(serde_json::from_str::<Manifest>(&text).unwrap(), m);
    }

    #[test]
    fn tree_size_leaves_out_the_excluded_folders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("postgres/base")).unwrap();
        std::fs::write(dir.path().join("postgres/base/1"), "12345").unwrap();
        std::fs::write(dir.path().join("dump.sql"), "abc").unwrap();
        assert_eq!(tree_size(dir.path(), &[]), (2, 8));
        assert_eq!(
            tree_size(dir.path(), &[dir.path().join("postgres")]),
            (1, 3)
        );
    }
}
