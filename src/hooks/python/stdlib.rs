//! The pre-flight check that the embedded interpreter will find its standard library.
//!
//! CPython aborts the whole process ("Fatal Python error: init_fs_encoding … No module named
//! 'encodings'") when the stdlib is missing, and the Rust side cannot catch that. So before the first
//! attach we look where CPython will look: `$PYTHONHOME` when set, else the prefix of the libpython
//! this process actually loaded (its compiled-in prefix is the directory above its `lib/`), and
//! report a clear error instead.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static CHECKED: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// `Ok` when the stdlib is present; the result is computed once per process.
pub(super) fn ensure() -> Result<(), String> {
    CHECKED
        .get_or_init(|| {
            find_stdlib(
                std::env::var_os("PYTHONHOME").as_deref(),
                loaded_libpython().as_deref(),
            )
        })
        .as_ref()
        .map(drop)
        .map_err(Clone::clone)
}

/// The libpython mapped into this process, from `/proc/self/maps` (Linux; `None` elsewhere or when
/// linked statically).
fn loaded_libpython() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| {
            Path::new(path)
                .file_name()
                .and_then(OsStr::to_str)
                .is_some_and(|name| name.starts_with("libpython3"))
        })
        .map(PathBuf::from)
}

/// `3.11` from `libpython3.11.so.1.0`.
fn version_of(libpython: &Path) -> Option<String> {
    let name = libpython.file_name()?.to_str()?;
    let rest = name.strip_prefix("libpython")?;
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let version = rest[..end].trim_end_matches('.');
    // `libpython3.so` (the stable-ABI shim) has no minor version.
    version.contains('.').then(|| version.to_string())
}

/// The stdlib directory (`<prefix>/lib/python3.X`) CPython will use, or the message to show.
pub(super) fn find_stdlib(
    python_home: Option<&OsStr>,
    libpython: Option<&Path>,
) -> Result<PathBuf, String> {
    let version = libpython.and_then(version_of);
    let package = version.as_deref().map_or_else(
        || "install Python 3 and its standard library".to_string(),
        |v| format!("install python{v} / libpython{v}-stdlib"),
    );
    if let Some(home) = python_home.filter(|h| !h.is_empty()) {
        // PYTHONHOME may be `prefix:exec_prefix`; the stdlib lives under the prefix.
        let home = home.to_string_lossy();
        let prefix = Path::new(home.split(':').next().unwrap_or_default());
        return stdlib_under(prefix, version.as_deref()).ok_or_else(|| {
            format!(
                "Python standard library not found at `{}` (from PYTHONHOME={home}); unset \
                 PYTHONHOME or point it at a Python {} installation",
                expected(prefix, version.as_deref()).display(),
                version.as_deref().unwrap_or("3")
            )
        });
    }
    // Debian: /usr/lib/x86_64-linux-gnu/libpython3.11.so → /usr; pyenv: <prefix>/lib/libpython… →
    // <prefix>. A static build has no libpython file and falls back to its configured prefix.
    let prefix = libpython
        .and_then(|lib| {
            lib.ancestors()
                .find(|a| a.ends_with("lib") || a.ends_with("lib64"))
        })
        .and_then(Path::parent)
        .unwrap_or(Path::new("/usr"));
    stdlib_under(prefix, version.as_deref()).ok_or_else(|| {
        format!(
            "Python standard library not found at `{}`; {package}",
            expected(prefix, version.as_deref()).display()
        )
    })
}

fn expected(prefix: &Path, version: Option<&str>) -> PathBuf {
    prefix
        .join("lib")
        .join(format!("python{}", version.unwrap_or("3")))
}

/// `<prefix>/lib/python3.X` when it holds `encodings/__init__.py` (the first module CPython needs).
fn stdlib_under(prefix: &Path, version: Option<&str>) -> Option<PathBuf> {
    let lib = prefix.join("lib");
    let dirs: Vec<PathBuf> = match version {
        Some(v) => vec![lib.join(format!("python{v}"))],
        None => std::fs::read_dir(&lib)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(OsStr::to_str)
                    .is_some_and(|n| n.starts_with("python3."))
            })
            .collect(),
    };
    dirs.into_iter()
        .find(|dir| dir.join("encodings").join("__init__.py").is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_prefix(root: &Path, version: &str) {
        let encodings = root.join(format!("lib/python{version}/encodings"));
        std::fs::create_dir_all(&encodings).unwrap();
        std::fs::write(encodings.join("__init__.py"), "").unwrap();
    }

    #[test]
    fn finds_stdlib_above_the_loaded_libpython() {
        let tmp = tempfile::tempdir().unwrap();
        fake_prefix(tmp.path(), "3.11");
        let lib = tmp.path().join("lib/x86_64-linux-gnu/libpython3.11.so.1.0");
        assert_eq!(
            find_stdlib(None, Some(&lib)).unwrap(),
            tmp.path().join("lib/python3.11")
        );
    }

    #[test]
    fn missing_stdlib_names_the_path_and_the_package() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp
            .path()
            .join("usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0");
        let err = find_stdlib(None, Some(&lib)).unwrap_err();
        assert!(
            err.starts_with("Python standard library not found at `"),
            "{err}"
        );
        assert!(err.contains("usr/lib/python3.11`"), "{err}");
        assert!(
            err.ends_with("install python3.11 / libpython3.11-stdlib"),
            "{err}"
        );
    }

    #[test]
    fn pythonhome_is_honoured() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = Path::new("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0");
        let err = find_stdlib(Some(OsStr::new("/nonexistent")), Some(lib)).unwrap_err();
        assert!(err.contains("`/nonexistent/lib/python3.11`"), "{err}");
        assert!(err.contains("PYTHONHOME=/nonexistent"), "{err}");
        fake_prefix(tmp.path(), "3.11");
        let home = tmp.path().as_os_str();
        assert!(find_stdlib(Some(home), Some(lib)).is_ok());
    }

    #[test]
    fn this_process_finds_its_stdlib() {
        // The test binary links the same libpython as `stack`; on this machine that is Debian's.
        let lib = loaded_libpython().expect("libpython is mapped into the test binary");
        assert_eq!(
            version_of(&lib).as_deref(),
            Some("3.11"),
            "{}",
            lib.display()
        );
        assert!(ensure().is_ok(), "{:?}", ensure());
    }
}
