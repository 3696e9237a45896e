//! The backup repository: a restic-format repository (encrypted, deduplicated, content-defined
//! chunks) reached through `rustic_core` and `rustic_backend`'s local backend, so `restic` and
//! `rustic` read the same repository with the same password (docs/backups.md).
//!
//! Everything here is synchronous (rustic_core is): callers run it on a blocking thread. No cache
//! directory is used — the repository is local, and `stack` keeps no state outside the instance;
//! the one thing kept is each repository's master key, beside the password (keycache.rs).

use std::path::{Path, PathBuf};

use rustic_backend::BackendOptions;
use rustic_core::{
    BackupOptions, CheckOptions, ConfigOptions, Credentials, Excludes, IndexedFull, IndexedIds,
    KeepOptions, KeyOptions, LocalDestination, LsOptions, OpenStatus, PathList, PruneOptions,
    Repository, RepositoryOptions, RestoreOptions, SnapshotOptions,
};

use super::keycache::KeyCache;
use super::manifest::{Manifest, STACKLET_TAG_PREFIX, TAG};
use super::progress::Bars;

/// A rustic error keeps its whole display (it carries the context rustic attached).
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("Cannot open the backup repository `{}`", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: LibraryError,
    },
    #[error("`{}` exists but is not a backup repository (no `config` file)", path.display())]
    NotARepository { path: PathBuf },
    #[error("Cannot {what} in the backup repository `{}`", path.display())]
    Operation {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: LibraryError,
    },
    #[error("No snapshot of `{id}` in the backup repository `{}`", path.display())]
    NoSnapshot { id: String, path: PathBuf },
    #[error("Snapshot `{snapshot}` is not a `stack` backup of `{id}`")]
    WrongSnapshot { snapshot: String, id: String },
    #[error("internal panic: {message}")]
    Panicked { message: String },
    #[error("Snapshot `{snapshot}` has no readable `stack` manifest")]
    NoManifest {
        snapshot: String,
        #[source]
        source: serde_json::Error,
    },
}

/// A rustic_core error in one line: its own display runs to a page (labels, docs links, context
/// dumps, backtraces); the guidance with its context filled in and its cause is what helps.
#[derive(Debug)]
pub struct LibraryError(Box<rustic_core::RusticError>);

impl std::fmt::Display for LibraryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&one_line(&self.0.display_log()))
    }
}

// The one-line display already holds the cause.
impl std::error::Error for LibraryError {}

/// rustic's log line without its `Error: ` prefix; a cause that displays over several lines (a
/// nested error with its backtrace) is cut to its first line, its final `(source: …)` kept.
fn one_line(text: &str) -> String {
    let text = text.strip_prefix("Error: ").unwrap_or(text);
    let mut out = text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_string();
    if let Some(at) = text.rfind(": (source: ")
        && !out.contains(&text[at..])
    {
        out.push_str(text[at..].lines().next().unwrap_or_default());
    }
    out
}

/// The lines of a rustic message that say something, joined into one: labels, blank lines and
/// everything from the "additional details" (context dumps, backtraces) on are dropped.
fn squash(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .take_while(|l| {
            !l.starts_with("Some additional details") && !l.starts_with("For more information")
        })
        .filter(|l| !l.is_empty() && *l != "Message:")
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a finished backup added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    pub snapshot: String,
    pub files: u64,
    pub bytes: u64,
    pub bytes_added: u64,
    pub bytes_added_packed: u64,
}

/// One `stack` snapshot as `backup list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotInfo {
    pub id: String,
    pub short_id: String,
    pub time: String,
    pub stacklet: String,
    pub hostname: String,
    pub files: u64,
    pub bytes: u64,
    pub manifest: Option<Manifest>,
}

/// What a restore wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestoreSummary {
    pub files: u64,
    pub bytes: u64,
}

pub struct Repo {
    path: PathBuf,
    repo: Repository<OpenStatus>,
}

impl Repo {
    /// Open the repository at `path`, creating it when the directory is missing or empty.
    /// Returns whether it was created. `cache` holds master keys opened before (keycache.rs).
    pub fn open_or_init(
        path: &Path,
        password: &str,
        cache: Option<&KeyCache>,
        bars: Bars,
    ) -> Result<(Self, bool), RepoError> {
        let fresh = match std::fs::read_dir(path) {
            Ok(mut entries) => entries.next().is_none(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(_) => false,
        };
        if !fresh {
            return Self::open(path, password, cache, bars).map(|r| (r, false));
        }
        let repo = unopened(path, bars)?
            .init(
                &Credentials::password(password),
                &KeyOptions::default().with_created(true),
                &ConfigOptions::default(),
            )
            .map_err(|source| open_error(path, source))?;
        remember(cache, path, password, &repo);
        Ok((Self::wrap(path, repo), true))
    }

    /// Open an existing repository (never creates one).
    pub fn open(
        path: &Path,
        password: &str,
        cache: Option<&KeyCache>,
        bars: Bars,
    ) -> Result<Self, RepoError> {
        let repo = unopened(path, bars)?;
        if repo.config_id().ok().flatten().is_none() {
            return Err(RepoError::NotARepository {
                path: path.to_path_buf(),
            });
        }
        let repo = match cache.and_then(|c| Some((c, c.get(path, password)?))) {
            Some((cache, key)) => match repo.open(&Credentials::Masterkey(key)) {
                Ok(repo) => return Ok(Self::wrap(path, repo)),
                // Not this repository's key (it was replaced at the same path): the password
                // decides, as without a cache.
                Err(_) => {
                    cache.remove(path);
                    unopened(path, bars)?
                }
            },
            None => repo,
        };
        let repo = repo
            .open(&Credentials::password(password))
            .map_err(|source| open_error(path, source))?;
        remember(cache, path, password, &repo);
        Ok(Self::wrap(path, repo))
    }

    fn wrap(path: &Path, repo: Repository<OpenStatus>) -> Self {
        Self {
            path: path.to_path_buf(),
            repo,
        }
    }

    fn op(
        &self,
        what: &'static str,
    ) -> impl FnOnce(Box<rustic_core::RusticError>) -> RepoError + '_ {
        move |source| operation(&self.path, what, source)
    }

    /// Snapshot `sources` (absolute paths) without the folders `exclude` (absolute paths), with
    /// `manifest` as the description and the `stack` tags. The newest earlier snapshot of the same
    /// stacklet is the parent, so unchanged files are not read again.
    pub fn backup(
        self,
        sources: &[PathBuf],
        exclude: &[PathBuf],
        manifest: &Manifest,
    ) -> Result<BackupSummary, RepoError> {
        let path = self.path.clone();
        let description = serde_json::to_string_pretty(manifest).unwrap_or_default();
        let repo = self
            .repo
            .to_indexed_ids()
            .map_err(|source| operation(&path, "read the index", source))?;
        let list = PathList::from_iter(sources.iter().cloned())
            .sanitize()
            .map_err(|source| {
                operation(
                    &path,
                    "read the paths to back up",
                    rustic_core::RusticError::with_source(
                        rustic_core::ErrorKind::InvalidInput,
                        "Invalid backup path",
                        source,
                    ),
                )
            })?;
        let snap = SnapshotOptions::default()
            .add_tags(&format!("{TAG},{STACKLET_TAG_PREFIX}{}", manifest.stacklet))
            .and_then(|o| o.description(description).to_snapshot())
            .map_err(|source| operation(&path, "describe the snapshot", source))?;
        let snap = backup_with(&repo, &list, exclude, snap)
            .map_err(|source| operation(&path, "write the snapshot", source))?;
        let summary = snap.summary.unwrap_or_default();
        Ok(BackupSummary {
            snapshot: snap.id.to_string(),
            files: summary.total_files_processed,
            bytes: summary.total_bytes_processed,
            bytes_added: summary.data_added,
            bytes_added_packed: summary.data_added_packed,
        })
    }

    /// Every `stack` snapshot, oldest first; `stacklet` narrows to one stacklet.
    pub fn snapshots(&self, stacklet: Option<&str>) -> Result<Vec<SnapshotInfo>, RepoError> {
        let mut all = self
            .repo
            .get_all_snapshots()
            .map_err(self.op("list the snapshots"))?;
        // By the instant, not the printed second: two backups within one second keep their order.
        all.sort_by_key(|s| s.time.timestamp());
        let out: Vec<SnapshotInfo> = all
            .into_iter()
            .filter_map(|s| {
                let id = stacklet_of(&s)?;
                if stacklet.is_some_and(|want| want != id) {
                    return None;
                }
                let summary = s.summary.clone().unwrap_or_default();
                let manifest = s
                    .description
                    .as_deref()
                    .and_then(|d| serde_json::from_str::<Manifest>(d).ok());
                let full = s.id.to_string();
                Some(SnapshotInfo {
                    short_id: full.chars().take(8).collect(),
                    id: full,
                    time: s.time.strftime("%Y-%m-%d %H:%M:%S %:z").to_string(),
                    stacklet: id,
                    hostname: s.hostname.clone(),
                    files: summary.total_files_processed,
                    bytes: summary.total_bytes_processed,
                    manifest,
                })
            })
            .collect();
        Ok(out)
    }

    /// The snapshot `wanted` (an id or its prefix; `None`: the newest) of stacklet `id`, with its
    /// manifest.
    pub fn find(
        &self,
        id: &str,
        wanted: Option<&str>,
    ) -> Result<(SnapshotInfo, Manifest), RepoError> {
        let snaps = self.snapshots(None)?;
        let found = match wanted {
            None => snaps.iter().rev().find(|s| s.stacklet == id),
            Some(w) => {
                let hit = snaps.iter().find(|s| s.id.starts_with(w));
                if let Some(s) = hit
                    && s.stacklet != id
                {
                    return Err(RepoError::WrongSnapshot {
                        snapshot: w.to_string(),
                        id: id.to_string(),
                    });
                }
                hit
            }
        };
        let Some(snap) = found.cloned() else {
            return Err(RepoError::NoSnapshot {
                id: id.to_string(),
                path: self.path.clone(),
            });
        };
        let manifest = snap.manifest.clone().ok_or_else(|| RepoError::NoManifest {
            snapshot: snap.short_id.clone(),
            source: serde::de::Error::custom("the snapshot's description is not a manifest"),
        })?;
        Ok((snap, manifest))
    }

    /// Restore subtrees of snapshot `snapshot`: each `(inner, dest)` pair puts `inner` (an
    /// absolute path as it was backed up) into `dest`, which must not exist yet or be empty.
    /// The index is read once for all of them.
    pub fn restore(
        self,
        snapshot: &str,
        parts: &[(PathBuf, PathBuf)],
    ) -> Result<Vec<RestoreSummary>, RepoError> {
        let path = self.path.clone();
        let repo = self
            .repo
            .to_indexed()
            .map_err(|source| operation(&path, "read the index", source))?;
        parts
            .iter()
            .map(|(inner, dest)| {
                restore_with(&repo, snapshot, inner, dest)
                    .map_err(|source| operation(&path, "restore the snapshot", source))
            })
            .collect()
    }

    /// Forget snapshots by the retention policy (per stacklet and host), then prune unused data.
    /// Returns the forgotten snapshots' short ids.
    pub fn forget(self, keep: &Keep) -> Result<Vec<String>, RepoError> {
        let path = self.path.clone();
        let snaps = self
            .repo
            .get_all_snapshots()
            .map_err(|s| operation(&path, "list the snapshots", s))?;
        let opts = KeepOptions::default()
            .keep_daily(Some(keep.daily))
            .keep_weekly(Some(keep.weekly))
            .keep_monthly(Some(keep.monthly));
        let now = rustic_core::jiff::Zoned::now();
        let mut groups: std::collections::BTreeMap<(String, String), Vec<_>> = Default::default();
        for s in snaps {
            if let Some(id) = stacklet_of(&s) {
                groups.entry((id, s.hostname.clone())).or_default().push(s);
            }
        }
        let mut forget = Vec::new();
        for (_, group) in groups {
            let decided = opts
                .apply(group, &now)
                .map_err(|s| operation(&path, "apply the retention policy", s))?;
            forget.extend(
                decided
                    .into_iter()
                    .filter(|d| !d.keep)
                    .map(|d| d.snapshot.id),
            );
        }
        let short: Vec<String> = forget
            .iter()
            .map(|i| i.to_string().chars().take(8).collect())
            .collect();
        if !forget.is_empty() {
            self.repo
                .delete_snapshots(&forget)
                .map_err(|s| operation(&path, "forget snapshots", s))?;
        }
        let prune = PruneOptions::default();
        let plan = self
            .repo
            .prune_plan(&prune)
            .map_err(|s| operation(&path, "plan the prune", s))?;
        self.repo
            .prune(&prune, plan)
            .map_err(|s| operation(&path, "prune", s))?;
        Ok(short)
    }

    /// Check the repository's structure and read every pack back (the full integrity check).
    pub fn check(&self) -> Result<Vec<String>, RepoError> {
        let opts = CheckOptions::default().trust_cache(true).read_data(true);
        let results = self.repo.check(opts).map_err(self.op("check"))?;
        let problems: Vec<String> = results
            .0
            .iter()
            .map(|(level, msg)| format!("{level:?}: {}", squash(&msg.to_string())))
            .collect();
        Ok(problems)
    }
}

/// Retention: how many daily, weekly and monthly snapshots of each stacklet stay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keep {
    pub daily: i32,
    pub weekly: i32,
    pub monthly: i32,
}

/// Keep the master key of a repository just opened with `password`.
fn remember(cache: Option<&KeyCache>, path: &Path, password: &str, repo: &Repository<OpenStatus>) {
    if let (Some(cache), Some(key_file)) = (cache, repo.key_id()) {
        cache.put(path, password, &key_file.to_hex(), repo.key());
    }
}

fn unopened(path: &Path, bars: Bars) -> Result<Repository<()>, RepoError> {
    let location = path.to_string_lossy().into_owned();
    let backends = BackendOptions::default()
        .repository(location)
        .to_backends()
        .map_err(|source| open_error(path, source))?;
    let opts = RepositoryOptions::default().no_cache(true);
    Repository::new_with_progress(&opts, &backends, bars).map_err(|source| open_error(path, source))
}

fn backup_with<S: IndexedIds>(
    repo: &Repository<S>,
    list: &PathList,
    exclude: &[PathBuf],
    snap: rustic_core::repofile::SnapshotFile,
) -> rustic_core::RusticResult<rustic_core::repofile::SnapshotFile> {
    // Parents are found by host and paths (restic's default): the instance's own earlier
    // snapshots of this stacklet, so unchanged files are skipped by their metadata.
    let excludes =
        Excludes::default().globs(exclude.iter().map(|p| exclude_glob(p)).collect::<Vec<_>>());
    repo.backup(&BackupOptions::default().excludes(excludes), list, snap)
}

/// The glob that leaves out exactly the folder `path` (absolute): `!` excludes in rustic's
/// override globs, a leading `/` anchors the pattern at the root, and the path's own glob
/// characters are escaped so a folder named `[x]` is not a character class.
fn exclude_glob(path: &Path) -> String {
    let mut glob = String::from("!");
    for c in path.to_string_lossy().chars() {
        if matches!(c, '\\' | '*' | '?' | '[' | ']' | '{' | '}' | '!') {
            glob.push('\\');
        }
        glob.push(c);
    }
    glob
}

fn restore_with<S: IndexedFull>(
    repo: &Repository<S>,
    snapshot: &str,
    inner: &Path,
    dest: &Path,
) -> rustic_core::RusticResult<RestoreSummary> {
    let node =
        repo.node_from_snapshot_path(&format!("{snapshot}:{}", inner.display()), |_| true)?;
    let ls = repo.ls(&node, &LsOptions::default())?;
    let dest_text = format!("{}/", dest.display());
    let destination = LocalDestination::new(&dest_text, true, false)?;
    let opts = RestoreOptions::default();
    let plan = repo.prepare_restore(&opts, ls.clone(), &destination, false)?;
    let summary = RestoreSummary {
        files: plan.stats.files.restore,
        bytes: plan.restore_size,
    };
    repo.restore(plan, &opts, ls, &destination)?;
    Ok(summary)
}

fn stacklet_of(s: &rustic_core::repofile::SnapshotFile) -> Option<String> {
    if !s.tags.contains(TAG) {
        return None;
    }
    s.tags
        .iter()
        .find_map(|t| t.strip_prefix(STACKLET_TAG_PREFIX).map(str::to_string))
}

fn open_error(path: &Path, source: Box<rustic_core::RusticError>) -> RepoError {
    RepoError::Open {
        path: path.to_path_buf(),
        source: LibraryError(source),
    }
}

fn operation(path: &Path, what: &'static str, source: Box<rustic_core::RusticError>) -> RepoError {
    RepoError::Operation {
        what,
        path: path.to_path_buf(),
        source: LibraryError(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rustic_core creates a chunker for every file it backs up; the vendored rustic_cdc computes
    /// its tables once (vendor/rustic_cdc/PATCHED.md). Unpatched, 20,000 chunkers take seconds
    /// (about 100 µs each); the hash must still be the window's Rabin fingerprint.
    #[test]
    fn the_chunker_tables_are_computed_once_and_stay_correct() {
        use rustic_cdc::{Polynom, Rabin64, RollingHash64};
        // A polynom no other test uses, so the first chunker below computes the tables.
        let poly: u64 = 0x003D_A335_8B4D_C173 ^ 0b1000_0000_0000;
        let data: Vec<u8> = (0u32..1000).map(|i| (i * 7 + i / 13) as u8).collect();
        let fingerprint = |window: &[u8]| {
            window
                .iter()
                .fold(0u64, |h, b| ((h << 8) | u64::from(*b)).modulo(&poly))
        };
        let hash_of = |mut r: Rabin64| {
            for b in &data {
                r.slide(*b);
            }
            *r.get_hash()
        };
        let first = hash_of(Rabin64::new_with_polynom(6, &poly));
        assert_eq!(first, fingerprint(&data[data.len() - 64..]));
        let started = std::time::Instant::now();
        for _ in 0..20_000 {
            std::hint::black_box(Rabin64::new_with_polynom(6, &poly));
        }
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(1),
            "20,000 chunkers took {took:?}"
        );
        assert_eq!(hash_of(Rabin64::new_with_polynom(6, &poly)), first);
    }

    #[test]
    fn a_cause_with_a_backtrace_is_cut_to_its_first_line() {
        let log = "Error: Failed to read `x` (kind: related to `crypto`): caused by: decrypt\n\nBacktrace:\n   0: frame\n      at /rustc/x\n   : (source: aead::Error)";
        assert_eq!(
            one_line(log),
            "Failed to read `x` (kind: related to `crypto`): caused by: decrypt: (source: aead::Error)"
        );
        assert_eq!(one_line("Error: plain"), "plain");
    }

    #[test]
    fn a_rustic_page_becomes_one_line() {
        let page = "Error: error checking trees : `rustic_core` experienced an error related to `cryptographic operations`.\n\nMessage:\nerror processing Pack:4471ab7c at BlobLocation { offset: 1300 }\n\n\nSome additional details ...\n\nContext:\n- nonce: [13, 57]\n\nBacktrace:\n";
        assert_eq!(
            squash(page),
            "Error: error checking trees : `rustic_core` experienced an error related to `cryptographic operations`. error processing Pack:4471ab7c at BlobLocation { offset: 1300 }"
        );
    }

    /// The excluded folders (one with glob characters in its name) are not in the snapshot, their
    /// neighbours are, and the rest of the tree restores.
    #[test]
    fn excluded_folders_stay_out_of_the_snapshot() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let data = root.join("data/app");
        for dir in ["postgres/base", "postgres-dump", "odd [1]/x", "keep"] {
            std::fs::create_dir_all(data.join(dir)).unwrap();
        }
        std::fs::write(data.join("postgres/base/1"), "live").unwrap();
        std::fs::write(data.join("postgres-dump/app.sql"), "dump").unwrap();
        std::fs::write(data.join("odd [1]/x/y"), "odd").unwrap();
        std::fs::write(data.join("keep/z"), "kept").unwrap();
        let manifest = Manifest {
            format: super::super::manifest::FORMAT,
            stacklet: "app".into(),
            stacklet_version: "1".into(),
            stack_version: "0".into(),
            time: "2026-11-28T03:00:00Z".into(),
            instance: "default".into(),
            data_path: Some(data.clone()),
            meta_path: data.clone(),
            data_files: 0,
            data_bytes: 0,
            consistency: "on_backup".into(),
            digests: None,
            excluded: vec!["postgres".into(), "odd [1]".into()],
        };
        let (repo, _) = Repo::open_or_init(&root.join("repo"), "pw", None, Bars::hidden()).unwrap();
        let summary = repo
            .backup(
                std::slice::from_ref(&data),
                &[data.join("postgres"), data.join("odd [1]")],
                &manifest,
            )
            .unwrap();
        assert_eq!(summary.files, 2, "{summary:?}");
        let repo = Repo::open(&root.join("repo"), "pw", None, Bars::hidden()).unwrap();
        let dest = root.join("restored");
        repo.restore(&summary.snapshot, &[(data.clone(), dest.clone())])
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(dest.join("postgres-dump/app.sql")).unwrap(),
            "dump"
        );
        assert_eq!(
            std::fs::read_to_string(dest.join("keep/z")).unwrap(),
            "kept"
        );
        assert!(!dest.join("postgres").exists());
        assert!(!dest.join("odd [1]").exists());
    }

    #[test]
    fn the_key_cache_opens_without_the_password_s_key_file_and_never_past_a_wrong_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        let cache = KeyCache::new(dir.path().join(".stack/backup-keys.json"));
        let (_, created) = Repo::open_or_init(&path, "pw", Some(&cache), Bars::hidden()).unwrap();
        assert!(created);
        // The key file's content is what the password opens; the cached master key does not
        // need it. Emptying it shows which way a later open went.
        let key_file = std::fs::read_dir(path.join("keys"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let saved = std::fs::read(&key_file).unwrap();
        std::fs::write(&key_file, "{}").unwrap();
        assert!(Repo::open(&path, "pw", None, Bars::hidden()).is_err());
        let repo =
            Repo::open(&path, "pw", Some(&cache), Bars::hidden()).expect("through the cache");
        assert!(repo.snapshots(None).unwrap().is_empty());
        // A wrong password is not let through by the cache.
        assert!(Repo::open(&path, "wrong", Some(&cache), Bars::hidden()).is_err());
        // A repository made anew at the same path: the stale key fails, the password opens it,
        // and the cache learns the new key.
        std::fs::write(&key_file, saved).unwrap();
        std::fs::remove_dir_all(&path).unwrap();
        Repo::open_or_init(&path, "pw", None, Bars::hidden()).unwrap();
        let (_, created) = Repo::open_or_init(&path, "pw", Some(&cache), Bars::hidden()).unwrap();
        assert!(!created);
        assert!(cache.get(&path, "pw").is_some());
    }
}
