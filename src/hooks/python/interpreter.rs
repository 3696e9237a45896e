//! The embedded interpreter: which Python this binary was built against and whether it can start.
//!
//! build.rs records the build Python's version, executable, home and standard-library directory;
//! nothing here guesses at run time. CPython aborts the whole process ("Fatal Python error:
//! init_fs_encoding … No module named 'encodings'") when it cannot find its standard library, and the
//! Rust side cannot catch that, so before the first attach we look where CPython will look — the
//! recorded directory, or `$PYTHONHOME/lib/python3.X` when the user set `PYTHONHOME` — and report a
//! plain error naming the Python the binary was built with and how to fix it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pyo3::prelude::*;

/// A Python installation as `stack` knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Embedded {
    /// `3.11.2`.
    pub version: String,
    /// The interpreter that answered at build time.
    pub executable: PathBuf,
    /// `sys.base_prefix`: what `PYTHONHOME` would be.
    pub home: PathBuf,
    /// The directory holding `os.py` and `encodings/`.
    pub stdlib: PathBuf,
}

impl Embedded {
    /// The Python this binary was built against (recorded by build.rs).
    pub fn built() -> Self {
        Self {
            version: env!("STACK_PYTHON_VERSION").to_string(),
            executable: PathBuf::from(env!("STACK_PYTHON_EXECUTABLE")),
            home: PathBuf::from(env!("STACK_PYTHON_HOME")),
            stdlib: PathBuf::from(env!("STACK_PYTHON_STDLIB")),
        }
    }

    /// `3.11` from `3.11.2`.
    fn minor_version(&self) -> &str {
        let mut dots = self.version.match_indices('.').map(|(i, _)| i);
        match (dots.next(), dots.next()) {
            (Some(_), Some(second)) => &self.version[..second],
            _ => &self.version,
        }
    }
}

/// The interpreter cannot start: its standard library is not where it will look.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "The embedded Python {} cannot start: its standard library is missing at `{}`{}",
    built.version,
    missing.display(),
    pythonhome.as_ref().map(|h| format!(" (from PYTHONHOME={h})")).unwrap_or_default()
)]
pub struct Unavailable {
    pub missing: PathBuf,
    pub pythonhome: Option<String>,
    /// Boxed: the error travels in `Result`s of hot paths.
    pub built: Box<Embedded>,
}

impl Unavailable {
    pub fn hint(&self) -> String {
        let built = &self.built;
        let fix = if self.pythonhome.is_some() {
            "unset PYTHONHOME, or point it at that Python's home".to_string()
        } else {
            format!(
                "reinstall Python {} at `{}`, or rebuild `stack` against the Python you have: \
                 `PYO3_PYTHON=$(command -v python3) cargo install --path . --force`",
                built.minor_version(),
                built.home.display()
            )
        };
        format!(
            "`stack` was built with Python {} from `{}` (home `{}`); {fix}",
            built.version,
            built.executable.display(),
            built.home.display()
        )
    }
}

/// Where CPython will look for its standard library: under `PYTHONHOME` when it is set (it may be
/// `prefix:exec_prefix`; the stdlib lives under the prefix), else the recorded directory.
pub fn check(built: &Embedded, python_home: Option<&OsStr>) -> Result<PathBuf, Unavailable> {
    let pythonhome = python_home
        .filter(|h| !h.is_empty())
        .map(|h| h.to_string_lossy().into_owned());
    let stdlib = match &pythonhome {
        Some(home) => Path::new(home.split(':').next().unwrap_or_default())
            .join("lib")
            .join(format!("python{}", built.minor_version())),
        None => built.stdlib.clone(),
    };
    // `encodings` is the first module CPython imports; without it, init aborts.
    if stdlib.join("encodings").join("__init__.py").is_file() {
        Ok(stdlib)
    } else {
        Err(Unavailable {
            missing: stdlib,
            pythonhome,
            built: Box::new(built.clone()),
        })
    }
}

static CHECKED: OnceLock<Result<PathBuf, Unavailable>> = OnceLock::new();

/// [`check`] for this process, computed once.
pub fn ensure() -> Result<(), Unavailable> {
    CHECKED
        .get_or_init(|| {
            check(
                &Embedded::built(),
                std::env::var_os("PYTHONHOME").as_deref(),
            )
        })
        .clone()
        .map(drop)
}

/// The interpreter that actually runs in this process (`sys.version`, `sys.base_prefix`), after
/// the pre-flight check. Starting it costs tens of milliseconds.
pub fn running() -> Result<Embedded, Unavailable> {
    ensure()?;
    let _guard = super::PY_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Python::attach(|py| {
        let answer = (|| -> PyResult<(String, String, String, String)> {
            let sys = py.import("sys")?;
            let sysconfig = py.import("sysconfig")?;
            let platform = py.import("platform")?;
            Ok((
                platform.call_method0("python_version")?.extract()?,
                sys.getattr("executable")?.extract()?,
                sys.getattr("base_prefix")?.extract()?,
                sysconfig.call_method1("get_path", ("stdlib",))?.extract()?,
            ))
        })();
        // The interpreter started, so these only fail on a broken stdlib; show what is known.
        let (version, executable, home, stdlib) =
            answer.unwrap_or_else(|e| (e.to_string(), String::new(), String::new(), String::new()));
        Ok(Embedded {
            version,
            executable: executable.into(),
            home: home.into(),
            stdlib: stdlib.into(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn python_at(home: &Path, version: &str) -> Embedded {
        let minor = version.rsplit_once('.').map_or(version, |(m, _)| m);
        Embedded {
            version: version.to_string(),
            executable: home.join("bin/python3"),
            home: home.to_path_buf(),
            stdlib: home.join(format!("lib/python{minor}")),
        }
    }

    fn install_stdlib(home: &Path, minor: &str) {
        let encodings = home.join(format!("lib/python{minor}/encodings"));
        std::fs::create_dir_all(&encodings).unwrap();
        std::fs::write(encodings.join("__init__.py"), "").unwrap();
    }

    #[test]
    fn the_recorded_stdlib_is_used() {
        let tmp = tempfile::tempdir().unwrap();
        install_stdlib(tmp.path(), "3.13");
        let built = python_at(tmp.path(), "3.13.1");
        assert_eq!(
            check(&built, None).unwrap(),
            tmp.path().join("lib/python3.13")
        );
    }

    #[test]
    fn a_moved_python_names_the_build_python_and_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let built = python_at(&tmp.path().join("gone"), "3.13.1");
        let err = check(&built, None).unwrap_err();
        let gone = tmp.path().join("gone");
        assert_eq!(
            err.to_string(),
            format!(
                "The embedded Python 3.13.1 cannot start: its standard library is missing at `{}`",
                gone.join("lib/python3.13").display()
            )
        );
        assert_eq!(
            err.hint(),
            format!(
                "`stack` was built with Python 3.13.1 from `{0}/bin/python3` (home `{0}`); \
                 reinstall Python 3.13 at `{0}`, or rebuild `stack` against the Python you have: \
                 `PYO3_PYTHON=$(command -v python3) cargo install --path . --force`",
                gone.display()
            )
        );
    }

    #[test]
    fn pythonhome_is_honoured() {
        let tmp = tempfile::tempdir().unwrap();
        install_stdlib(tmp.path(), "3.11");
        let built = python_at(tmp.path(), "3.11.7");
        let err = check(&built, Some(OsStr::new("/nonexistent"))).unwrap_err();
        assert!(
            err.to_string().ends_with(
                "missing at `/nonexistent/lib/python3.11` (from PYTHONHOME=/nonexistent)"
            ),
            "{err}"
        );
        assert!(
            err.hint()
                .ends_with("unset PYTHONHOME, or point it at that Python's home")
        );
        let other = tempfile::tempdir().unwrap();
        install_stdlib(other.path(), "3.11");
        let home = format!("{}:/elsewhere", other.path().display());
        assert_eq!(
            check(&built, Some(OsStr::new(&home))).unwrap(),
            other.path().join("lib/python3.11")
        );
    }

    #[test]
    fn build_and_run_agree() {
        // The test binary links the libpython build.rs recorded (rpath), so the interpreter that
        // runs here is the recorded one.
        let built = Embedded::built();
        assert!(built.version.starts_with("3."), "{built:?}");
        let running = running().expect("the build Python's stdlib is present");
        assert_eq!(running.version, built.version);
        assert_eq!(running.home, built.home);
        assert_eq!(running.stdlib, built.stdlib);
    }
}
