//! The embedded Python (issue 9 §2): the binary reports the Python it was built with, starts that
//! same Python (build and run agree, whatever prefix it lives under), and a Python whose home is
//! gone gives a plain error naming the build Python and the fix instead of CPython's abort.
//! `.ci/run` runs these once more against a CPython under a second prefix (pyenv's).

use crate::support::{Repo, stderr, stdout};

const BUILT_VERSION: &str = env!("STACK_PYTHON_VERSION");
const BUILT_HOME: &str = env!("STACK_PYTHON_HOME");
const BUILT_EXECUTABLE: &str = env!("STACK_PYTHON_EXECUTABLE");
/// `static (<archive>)` or `shared`: how build.rs linked libpython (docs/performance.md).
const LINKED: &str = env!("STACK_PYTHON_LINKED");

#[test]
fn python_version_verbose_shows_the_build_python_and_the_one_that_runs() {
    let repo = Repo::new();
    let out = repo
        .stack()
        .env_remove("PYTHONHOME")
        .args(["--version", "--verbose"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let stdlib = env!("STACK_PYTHON_STDLIB");
    assert_eq!(
        text,
        format!(
            "stack {}\npython {BUILT_VERSION}\n  built with  {BUILT_EXECUTABLE}\n  home        \
             {BUILT_HOME}\n  stdlib      {stdlib}\n  libpython   {}\n  running     {BUILT_VERSION} \
             (home {BUILT_HOME})\n",
            env!("CARGO_PKG_VERSION"),
            LINKED,
        )
    );
    assert_eq!(stderr(&out), "", "no warning that build and run differ");
    // `stack version` is the same report; plain `--version` is one line.
    let same = repo
        .stack()
        .env_remove("PYTHONHOME")
        .arg("version")
        .output()
        .unwrap();
    assert_eq!(stdout(&same), text);
    let short = repo.stack().arg("-V").output().unwrap();
    assert_eq!(
        stdout(&short),
        format!("stack {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn python_with_a_missing_home_is_a_plain_error_naming_the_build_python() {
    let repo = Repo::new().host_stacklet("py-notes", "").file(
        "stacklets/py-notes/cli/hello.py",
        "def run(args, stacklet, config):\n    print('hello')\n",
    );
    let gone = repo.join("moved-python");
    let out = repo
        .stack()
        .env("PYTHONHOME", &gone)
        .args(["py-notes", "hello"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let (minor, _patch) = BUILT_VERSION.rsplit_once('.').unwrap();
    let file = repo.join("stacklets/py-notes/cli/hello.py");
    assert_eq!(
        err,
        format!(
            "error: Cannot run `{}`: The embedded Python {BUILT_VERSION} cannot start: its \
             standard library is missing at `{}/lib/python{minor}` (from PYTHONHOME={})\n\nhint: \
             `stack` was built with Python {BUILT_VERSION} from `{BUILT_EXECUTABLE}` (home \
             `{BUILT_HOME}`); unset PYTHONHOME, or point it at that Python's home\n",
            file.display(),
            gone.display(),
            gone.display()
        )
    );
    assert_eq!(stdout(&out), "", "nothing ran");

    // The version report says the same instead of aborting inside CPython.
    let out = repo
        .stack()
        .env("PYTHONHOME", &gone)
        .args(["version"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot start: its standard library is missing"),
        "{}",
        stderr(&out)
    );
}

/// How libpython is linked decides what the dynamic loader maps at every start
/// (docs/performance.md): linked statically, the binary names no libpython at all (nothing to map
/// and relocate, and nothing to lose when a shared libpython goes away); linked shared, it loads
/// the very library it was built against (the rpath). Asked of glibc's loader the way `ldd` does.
#[cfg(target_os = "linux")]
#[test]
fn python_libpython_is_linked_as_recorded() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stack"))
        .env("LD_TRACE_LOADED_OBJECTS", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let loaded = stdout(&out);
    let libpython: Vec<&str> = loaded.lines().filter(|l| l.contains("libpython")).collect();
    if LINKED.starts_with("static") {
        assert!(libpython.is_empty(), "a static build loads {libpython:?}");
    } else {
        assert_eq!(libpython.len(), 1, "{loaded}");
        // The build Python's own library, under its home (`/usr/lib/…` for Debian's).
        assert!(
            libpython[0].contains(&format!("=> {}/", BUILT_HOME.trim_end_matches('/'))),
            "{}",
            libpython[0]
        );
    }
}
