//! The master keys of the repositories this instance opened, so a command opens its repository
//! without the key derivation.
//!
//! A restic-format repository keeps its master key encrypted under each password with scrypt,
//! whose parameters make one derivation cost about 0.35 s and 128 MiB (rustic_core's
//! recommended ones). Every `stack backup` opens the repository, so for an unchanged stacklet the
//! derivation was most of the backup. The first open with the password stores the master key
//! here; later opens use it.
//!
//! The file (`.stack/backup-keys.json`, 0600, replaced atomically) sits beside `secrets.toml`,
//! which holds the password in clear, so it opens nothing that file does not already open. An
//! entry counts only while the repository path, a hash of the password in `secrets.toml` and the
//! repository's key file still match: a changed password, or a key removed with `restic key
//! remove`, sends the next open through the password again (and fails there if it is wrong).
//! A key that does not open the repository is ignored the same way. The cache is never needed:
//! deleting it costs one derivation.

use std::path::{Path, PathBuf};

use rustic_core::repofile::MasterKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The cache file of an instance.
#[derive(Clone, Debug)]
pub struct KeyCache {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    /// The repository, canonical.
    repository: PathBuf,
    /// SHA-256 over the repository path and the password it was opened with.
    password: String,
    /// The key file the password opened (`keys/<id>` in the repository).
    key_file: String,
    key: MasterKey,
}

impl KeyCache {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// The master key for `repository` opened with `password`, with the id of its key file.
    pub fn get(&self, repository: &Path, password: &str) -> Option<MasterKey> {
        let repository = repository.canonicalize().ok()?;
        let check = password_check(&repository, password);
        self.entries()
            .into_iter()
            .find(|e| e.repository == repository && e.password == check)
            .filter(|e| {
                // A removed key file means that password was revoked: no shortcut past it.
                is_hex_id(&e.key_file) && repository.join("keys").join(&e.key_file).is_file()
            })
            .map(|e| e.key)
    }

    /// Remember `key` for `repository` and `password` (opened through key file `key_file`),
    /// replacing what was there for that repository.
    pub fn put(&self, repository: &Path, password: &str, key_file: &str, key: MasterKey) {
        let Ok(repository) = repository.canonicalize() else {
            return;
        };
        let mut entries = self.entries();
        entries.retain(|e| e.repository != repository);
        entries.push(Entry {
            password: password_check(&repository, password),
            repository,
            key_file: key_file.to_string(),
            key,
        });
        self.save(&entries);
    }

    /// Forget `repository` (its key did not open it).
    pub fn remove(&self, repository: &Path) {
        let Ok(repository) = repository.canonicalize() else {
            return;
        };
        let mut entries = self.entries();
        let before = entries.len();
        entries.retain(|e| e.repository != repository);
        if entries.len() != before {
            self.save(&entries);
        }
    }

    /// Replace the file with `entries` (private, atomic). The cache only saves time: a failure
    /// to write it is not an error of the command.
    fn save(&self, entries: &[Entry]) {
        if let Ok(text) = serde_json::to_vec_pretty(entries) {
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = crate::atomic::write_private(&self.path, &text);
        }
    }

    /// The entries; a missing or unreadable file is an empty cache.
    fn entries(&self) -> Vec<Entry> {
        std::fs::read(&self.path)
            .ok()
            .and_then(|text| serde_json::from_slice(&text).ok())
            .unwrap_or_default()
    }
}

fn password_check(repository: &Path, password: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"stack backup key cache\0");
    hash.update(repository.as_os_str().as_encoded_bytes());
    hash.update(b"\0");
    hash.update(password.as_bytes());
    hex::encode(hash.finalize())
}

fn is_hex_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, KeyCache, PathBuf, String) {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let key_file = "ab".repeat(32);
        std::fs::create_dir_all(repo.join("keys")).unwrap();
        std::fs::write(repo.join("keys").join(&key_file), "{}").unwrap();
        let cache = KeyCache::new(dir.path().join(".stack/backup-keys.json"));
        (dir, cache, repo, key_file)
    }

    #[test]
    fn a_key_is_found_for_its_repository_and_password_only() {
        let (dir, cache, repo, key_file) = setup();
        assert!(cache.get(&repo, "pw").is_none());
        let key = MasterKey::default();
        cache.put(&repo, "pw", &key_file, key.clone());
        let found = cache.get(&repo, "pw").expect("cached");
        assert_eq!(found.encrypt, key.encrypt);
        assert!(cache.get(&repo, "other").is_none(), "another password");
        let twin = dir.path().join("twin");
        std::fs::create_dir_all(&twin).unwrap();
        assert!(cache.get(&twin, "pw").is_none(), "another repository");
        // Through another spelling of the same path.
        assert!(cache.get(&dir.path().join("repo/../repo"), "pw").is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(".stack/backup-keys.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(dir.path().join(".stack/backup-keys.json")).unwrap();
        assert!(
            !text.contains("\"pw\""),
            "the password is not stored: {text}"
        );
    }

    #[test]
    fn a_removed_key_file_or_a_removed_entry_is_a_miss() {
        let (_dir, cache, repo, key_file) = setup();
        cache.put(&repo, "pw", &key_file, MasterKey::default());
        std::fs::remove_file(repo.join("keys").join(&key_file)).unwrap();
        assert!(cache.get(&repo, "pw").is_none());
        std::fs::write(repo.join("keys").join(&key_file), "{}").unwrap();
        assert!(cache.get(&repo, "pw").is_some());
        cache.remove(&repo);
        assert!(cache.get(&repo, "pw").is_none());
    }

    #[test]
    fn a_second_repository_keeps_the_first_and_a_torn_file_is_empty() {
        let (dir, cache, repo, key_file) = setup();
        let other = dir.path().join("other");
        std::fs::create_dir_all(other.join("keys")).unwrap();
        std::fs::write(other.join("keys").join(&key_file), "{}").unwrap();
        cache.put(&repo, "pw", &key_file, MasterKey::default());
        cache.put(&other, "pw2", &key_file, MasterKey::default());
        assert!(cache.get(&repo, "pw").is_some());
        assert!(cache.get(&other, "pw2").is_some());
        std::fs::write(dir.path().join(".stack/backup-keys.json"), "{not json").unwrap();
        assert!(cache.get(&repo, "pw").is_none());
    }
}
