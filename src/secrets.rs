//! Generated secrets in `<instance>/.stack/secrets.toml` (docs/templates-and-secrets.md).
//!
//! The file is flat: `<id>__<NAME> = "…"` for a stacklet's secrets and `global__<NAME>` for shared
//! ones (the admin password). Invariants:
//! - A secret is generated once and never changed by generation again; only an explicit `set`
//!   (a hook's `ctx.secret(name, value)`) overwrites one key.
//! - Every change is lock → re-read → merge (values on disk win) → write → unlock, with an
//!   exclusive lock on `secrets.lock` beside the file, so two `stack` processes (or threads)
//!   adding secrets at once never lose or change each other's.
//! - The file is replaced atomically (temporary file + rename), mode 0600, with its comments and
//!   layout kept (`toml_edit`).
//! - A file that does not parse stops the operation with the file and line, and is left byte for
//!   byte as it was: nothing is written unless the whole file was understood.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use rand::seq::IndexedRandom;
use toml_edit::{DocumentMut, Item};

use crate::stacklet::StackletId;

/// What a generated secret looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Service credentials: 32 characters `[A-Za-z0-9]` (about 190 bits).
    Service,
    /// The tech admin's password: 8 characters `[a-z0-9]`, because people type it on phones.
    Admin,
}

const SERVICE_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const ADMIN_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A fresh random secret from the OS-seeded CSPRNG (`rand::rng()`).
pub fn generate(kind: Kind) -> String {
    let (alphabet, len) = match kind {
        Kind::Service => (SERVICE_ALPHABET, 32),
        Kind::Admin => (ADMIN_ALPHABET, 8),
    };
    let mut rng = rand::rng();
    (0..len)
        .filter_map(|_| alphabet.choose(&mut rng).map(|&b| char::from(b)))
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("Could not read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Could not write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Could not lock `{}`", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not valid TOML (line {line}): {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("`{}` line {line}: the value of `{key}` is not a string", path.display())]
    NotAString {
        path: PathBuf,
        key: String,
        line: usize,
    },
    #[error("Invalid secret name `{key}` (expected `<stacklet-id>__<NAME>` or `global__<NAME>`)")]
    InvalidKey { key: String },
    #[error("The `global` namespace is shared by all stacklets and is never removed")]
    GlobalNamespace,
}

impl SecretsError {
    /// What to do about it. Only a file that does not parse is about its content; a failed read,
    /// write or lock is about the file system, and nothing was changed.
    pub fn hint(&self) -> Option<String> {
        match self {
            SecretsError::Parse { path, .. } | SecretsError::NotAString { path, .. } => {
                Some(format!(
                    "fix or move `{}`; it is never replaced automatically",
                    path.display()
                ))
            }
            SecretsError::Read { path, .. }
            | SecretsError::Write { path, .. }
            | SecretsError::Lock { path, .. } => Some(format!(
                "check the permissions of `{}` and that its disk has free space; the secrets were not changed",
                path.parent().unwrap_or(path).display()
            )),
            SecretsError::InvalidKey { .. } | SecretsError::GlobalNamespace => None,
        }
    }
}

impl From<SecretsError> for crate::error::UserError {
    fn from(e: SecretsError) -> Self {
        let hint = e.hint();
        crate::error::UserError::wrap(e).maybe_hint(hint)
    }
}

/// A snapshot of `secrets.toml` as it was when read (or just written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secrets {
    path: PathBuf,
    values: BTreeMap<String, String>,
}

impl Secrets {
    /// Read the file; a missing file is an empty set of secrets.
    pub fn load(path: &Path) -> Result<Secrets, SecretsError> {
        // Writers replace the file by rename, so reading without the lock sees a whole file.
        let (_, values) = read(path)?;
        Ok(Secrets {
            path: path.to_owned(),
            values,
        })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Every secret by its full key (`photos__DB_PASSWORD`), as template variables use them.
    pub fn all(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// Generate every wanted key that does not exist yet; existing values are never touched.
    /// Returns a snapshot taken under the lock, so it holds every wanted key.
    pub fn ensure(path: &Path, wanted: &[(String, Kind)]) -> Result<Secrets, SecretsError> {
        for (key, _) in wanted {
            check_key(key)?;
        }
        update(path, |doc, values| {
            let mut changed = false;
            for (key, kind) in wanted {
                if !values.contains_key(key) {
                    let secret = generate(*kind);
                    doc.insert(key, toml_edit::value(secret.as_str()));
                    values.insert(key.clone(), secret);
                    changed = true;
                }
            }
            Ok(changed)
        })
    }

    /// Write one key explicitly (a hook's `ctx.secret(name, value)`), replacing any old value but
    /// keeping the comment beside it.
    pub fn set(path: &Path, key: &str, value: &str) -> Result<Secrets, SecretsError> {
        check_key(key)?;
        update(path, |doc, values| {
            if values.get(key).map(String::as_str) == Some(value) {
                return Ok(false);
            }
            let mut new = toml_edit::Value::from(value);
            // Replace the item in place: `insert` would also replace the key, dropping the
            // comment lines above it; the value's own decor holds the `# inline` comment.
            match doc.get_mut(key) {
                Some(item) => {
                    if let Some(old) = item.as_value() {
                        *new.decor_mut() = old.decor().clone();
                    }
                    *item = Item::Value(new);
                }
                None => {
                    doc.insert(key, Item::Value(new));
                }
            }
            values.insert(key.to_owned(), value.to_owned());
            Ok(true)
        })
    }

    /// Remove every `<id>__*` secret (`stack destroy`); `global__*` and other ids stay.
    /// Returns the removed keys.
    pub fn remove_namespace(path: &Path, id: &str) -> Result<Vec<String>, SecretsError> {
        if id == "global" {
            return Err(SecretsError::GlobalNamespace);
        }
        let prefix = format!("{id}__");
        let mut removed = Vec::new();
        update(path, |doc, values| {
            removed = values
                .keys()
                .filter(|k| k.starts_with(&prefix))
                .cloned()
                .collect();
            for key in &removed {
                doc.remove(key);
                values.remove(key);
            }
            Ok(!removed.is_empty())
        })?;
        Ok(removed)
    }
}

/// `<namespace>__<NAME>`: namespace a stacklet id ([`StackletId`]) or `global`, NAME an
/// environment variable name. Checked so nothing unusable as a template variable gets stored.
fn check_key(key: &str) -> Result<(), SecretsError> {
    let valid = key.split_once("__").is_some_and(|(ns, name)| {
        let mut name_chars = name.chars();
        StackletId::is_valid(ns)
            && name_chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name_chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if valid {
        Ok(())
    } else {
        Err(SecretsError::InvalidKey {
            key: key.to_owned(),
        })
    }
}

/// Lock, re-read, let `change` edit the document and the values, write if it says something
/// changed, unlock. Returns the snapshot after the change.
fn update(
    path: &Path,
    change: impl FnOnce(&mut DocumentMut, &mut BTreeMap<String, String>) -> Result<bool, SecretsError>,
) -> Result<Secrets, SecretsError> {
    let _lock = lock(path)?;
    let (mut doc, mut values) = read(path)?;
    if change(&mut doc, &mut values)? {
        crate::atomic::write_private(path, doc.to_string().as_bytes()).map_err(|source| {
            SecretsError::Write {
                path: path.to_owned(),
                source,
            }
        })?;
    }
    Ok(Secrets {
        path: path.to_owned(),
        values,
    })
}

/// Held until dropped; closing the file releases the lock, also when the process dies.
fn lock(path: &Path) -> Result<File, SecretsError> {
    let lock_path = path.with_extension("lock");
    let err = |source| SecretsError::Lock {
        path: lock_path.clone(),
        source,
    };
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(err)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&lock_path).map_err(err)?;
    file.lock().map_err(err)?;
    Ok(file)
}

/// `.stack/` holds secrets, so a directory we create there is private to the user.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn read(path: &Path) -> Result<(DocumentMut, BTreeMap<String, String>), SecretsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(SecretsError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    parse(path, &text)
}

/// The document and its values from the text of `path`; every value must be a string.
pub(crate) fn parse(
    path: &Path,
    text: &str,
) -> Result<(DocumentMut, BTreeMap<String, String>), SecretsError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    // The immutable `Document` keeps spans, which give line numbers for errors.
    let doc = toml_edit::Document::parse(text).map_err(|e| SecretsError::Parse {
        path: path.to_owned(),
        line: e.span().map_or(1, |s| line_of(s.start)),
        message: e.message().trim().to_owned(),
    })?;
    let mut values = BTreeMap::new();
    for (key, item) in doc.as_table() {
        let Some(value) = item.as_str() else {
            let span = doc.as_table().key(key).and_then(toml_edit::Key::span);
            return Err(SecretsError::NotAString {
                path: path.to_owned(),
                key: key.to_owned(),
                line: span.map_or(1, |s| line_of(s.start)),
            });
        };
        values.insert(key.to_owned(), value.to_owned());
    }
    Ok((doc.into_mut(), values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".stack/secrets.toml");
        (dir, path)
    }

    fn keys(names: &[&str]) -> Vec<(String, Kind)> {
        names
            .iter()
            .map(|n| ((*n).to_owned(), Kind::Service))
            .collect()
    }

    #[test]
    fn generated_secrets_have_the_right_shape() {
        for _ in 0..50 {
            let s = generate(Kind::Service);
            assert_eq!(s.len(), 32);
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()), "{s}");
            let a = generate(Kind::Admin);
            assert_eq!(a.len(), 8);
            assert!(
                a.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{a}"
            );
        }
        assert_ne!(generate(Kind::Service), generate(Kind::Service));
    }

    #[test]
    fn missing_file_is_empty() {
        let (_dir, path) = file();
        let s = Secrets::load(&path).unwrap();
        assert!(s.all().is_empty());
        assert!(!path.exists());
    }

    #[test]
    fn ensure_generates_once() {
        let (_dir, path) = file();
        let wanted = vec![
            ("photos__DB_PASSWORD".to_owned(), Kind::Service),
            ("global__ADMIN_PASSWORD".to_owned(), Kind::Admin),
        ];
        let first = Secrets::ensure(&path, &wanted).unwrap();
        assert_eq!(first.get("photos__DB_PASSWORD").unwrap().len(), 32);
        assert_eq!(first.get("global__ADMIN_PASSWORD").unwrap().len(), 8);
        let bytes = std::fs::read(&path).unwrap();
        let second = Secrets::ensure(&path, &wanted).unwrap();
        assert_eq!(first, second);
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        assert_eq!(Secrets::load(&path).unwrap(), first);
    }

    #[test]
    fn file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, path) = file();
        Secrets::ensure(&path, &keys(&["a__X"])).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn corrupt_file_is_an_error_and_left_untouched() {
        let (_dir, path) = file();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let corrupt = b"# mine\nphotos__A = \"ok\"\nphotos__B = \"unterminated\n";
        std::fs::write(&path, corrupt).unwrap();
        let err = Secrets::ensure(&path, &keys(&["photos__C"])).unwrap_err();
        match &err {
            SecretsError::Parse { line, .. } => assert_eq!(*line, 3),
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("secrets.toml"), "{err}");
        assert!(Secrets::set(&path, "photos__A", "x").is_err());
        assert!(Secrets::remove_namespace(&path, "photos").is_err());
        assert!(Secrets::load(&path).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), corrupt);

        std::fs::write(&path, "a__X = \"ok\"\n\na__N = 3\n").unwrap();
        match Secrets::load(&path).unwrap_err() {
            SecretsError::NotAString { key, line, .. } => {
                assert_eq!((key.as_str(), line), ("a__N", 3))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn any_value_round_trips() {
        let (_dir, path) = file();
        let values = [
            "",
            "'single' \"double\"",
            "back\\slash \\n \\\"",
            "multi\nline\n",
            "\r\n\t",
            "$HOME ${X} $$",
            "ünïcödé 😀",
            "\u{1}\u{7f}",
            "'''",
            "\"\"\"",
            "# not a comment",
        ];
        for (i, value) in values.iter().enumerate() {
            Secrets::set(&path, &format!("a__K{i}"), value).unwrap();
        }
        let loaded = Secrets::load(&path).unwrap();
        for (i, value) in values.iter().enumerate() {
            assert_eq!(loaded.get(&format!("a__K{i}")), Some(*value), "{value:?}");
        }
    }

    #[test]
    fn comments_are_kept() {
        let (_dir, path) = file();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            "# Secrets for the household\n\n# photos\nphotos__DB_PASSWORD = \"old\"  # rotated in May\n",
        )
        .unwrap();
        Secrets::ensure(&path, &keys(&["docs__API_TOKEN"])).unwrap();
        Secrets::set(&path, "photos__DB_PASSWORD", "new").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# Secrets for the household\n\n# photos\n"),
            "{text}"
        );
        assert!(
            text.contains("photos__DB_PASSWORD = \"new\"  # rotated in May\n"),
            "{text}"
        );
        assert!(text.contains("docs__API_TOKEN = \""), "{text}");
    }

    #[test]
    fn set_overwrites_only_its_key() {
        let (_dir, path) = file();
        let before = Secrets::ensure(&path, &keys(&["a__X", "a__Y"])).unwrap();
        let after = Secrets::set(&path, "a__X", "chosen").unwrap();
        assert_eq!(after.get("a__X"), Some("chosen"));
        assert_eq!(after.get("a__Y"), before.get("a__Y"));
        // Generation never replaces an explicitly set value.
        let again = Secrets::ensure(&path, &keys(&["a__X"])).unwrap();
        assert_eq!(again.get("a__X"), Some("chosen"));
    }

    #[test]
    fn remove_namespace_keeps_global_and_other_ids() {
        let (_dir, path) = file();
        Secrets::ensure(
            &path,
            &keys(&[
                "docs__A",
                "docs__B",
                "docs-bot__A",
                "photos__A",
                "global__ADMIN_PASSWORD",
            ]),
        )
        .unwrap();
        let mut removed = Secrets::remove_namespace(&path, "docs").unwrap();
        removed.sort();
        assert_eq!(removed, ["docs__A", "docs__B"]);
        let left = Secrets::load(&path).unwrap();
        let names: Vec<_> = left.all().keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["docs-bot__A", "global__ADMIN_PASSWORD", "photos__A"]
        );
        assert!(Secrets::remove_namespace(&path, "docs").unwrap().is_empty());
        assert!(matches!(
            Secrets::remove_namespace(&path, "global"),
            Err(SecretsError::GlobalNamespace)
        ));
    }

    #[test]
    fn keys_are_checked() {
        let (_dir, path) = file();
        for bad in [
            "",
            "nodunder",
            "__X",
            "docs__",
            "Docs__X",
            "docs__1X",
            "a.b__X",
            "docs__X-Y",
        ] {
            assert!(
                matches!(
                    Secrets::set(&path, bad, "v"),
                    Err(SecretsError::InvalidKey { .. })
                ),
                "{bad}"
            );
        }
        assert!(!path.exists());
    }

    #[test]
    fn concurrent_writers_never_lose_or_change_a_secret() {
        let (_dir, path) = file();
        let threads = 8;
        let per_thread = 5;
        let snapshots: Vec<Secrets> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let path = &path;
                    scope.spawn(move || {
                        let mut last = None;
                        for i in 0..per_thread {
                            // Each thread adds its own key and also asks for a shared one, which
                            // must be generated exactly once.
                            let wanted = vec![
                                (format!("t{t}__K{i}"), Kind::Service),
                                ("global__SHARED".to_owned(), Kind::Service),
                            ];
                            last = Some(Secrets::ensure(path, &wanted).unwrap());
                        }
                        last.unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let last = Secrets::load(&path).unwrap();
        assert_eq!(last.all().len(), threads * per_thread + 1);
        for snapshot in &snapshots {
            for (key, value) in snapshot.all() {
                assert_eq!(last.get(key), Some(value.as_str()), "{key} changed");
            }
        }
    }
}
