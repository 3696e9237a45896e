//! Records which Python the embedded interpreter is built against, so the run time never guesses.
//!
//! The interpreter is `PYO3_PYTHON` when set, else the `python3` on `PATH` (pyo3's own rule). It must
//! be CPython 3.10 or newer. Its version, executable, home (`sys.base_prefix`) and standard-library
//! directory become `STACK_PYTHON_*` compile-time variables that `stack --version --verbose` shows
//! and the pre-flight check uses. The binary gets an rpath to that Python's `libpython` (and, for a
//! macOS framework build, to the framework's prefix), so the library loaded at run time is the one
//! built against. See docs/python.md.

use std::process::exit;

/// Printed by the build interpreter, one value a line.
const QUERY: &str = r#"
import platform, sys, sysconfig
print(platform.python_implementation())
print(platform.python_version())
print(sys.executable)
print(sys.base_prefix)
print(sysconfig.get_path("stdlib"))
"#;

const MINIMUM_MINOR: u8 = 10;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    if std::env::var_os("CARGO_FEATURE_PYTHON").is_none() {
        return;
    }
    let config = pyo3_build_config::get();
    let output = match config.run_python_script(QUERY) {
        Ok(output) => output,
        Err(e) => fail(&format!("cannot ask the build Python about itself: {e}")),
    };
    let lines: Vec<&str> = output.lines().collect();
    let [implementation, version, executable, home, stdlib] = lines[..] else {
        fail(&format!(
            "unexpected answer from the build Python:\n{output}"
        ))
    };
    let used = format!(
        "{implementation} {version} at `{executable}` (from {})",
        if std::env::var_os("PYO3_PYTHON").is_some() {
            "PYO3_PYTHON"
        } else {
            "`python3` on PATH"
        }
    );
    if implementation != "CPython" {
        fail(&format!(
            "the embedded Python must be CPython; found {used}"
        ));
    }
    if config.version().major != 3 || config.version().minor < MINIMUM_MINOR {
        fail(&format!(
            "the embedded Python must be CPython 3.{MINIMUM_MINOR} or newer; found {used}"
        ));
    }
    if !config.shared() {
        fail(&format!(
            "the embedded Python needs a shared libpython (a build with --enable-shared or a \
             framework build); {used} only has a static one"
        ));
    }
    for (name, value) in [
        ("VERSION", version),
        ("EXECUTABLE", executable),
        ("HOME", home),
        ("STDLIB", stdlib),
    ] {
        println!("cargo:rustc-env=STACK_PYTHON_{name}={value}");
    }
    pyo3_build_config::add_libpython_rpath_link_args();
    pyo3_build_config::add_python_framework_link_args();
}

fn fail(message: &str) -> ! {
    eprintln!(
        "error: {message}\n\
         hint: install CPython 3.{MINIMUM_MINOR}+ (macOS: `brew install python@3.13`; Debian: \
         `apt-get install python3-dev`) and build with `PYO3_PYTHON=/path/to/python3 cargo build`; \
         see docs/python.md"
    );
    exit(1);
}
