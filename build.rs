//! Records which Python the embedded interpreter is built against, so the run time never guesses,
//! and links it.
//!
//! The interpreter is `PYO3_PYTHON` when set, else the `python3` on `PATH` (pyo3's own rule). It must
//! be CPython 3.10 or newer. Its version, executable, home (`sys.base_prefix`) and standard-library
//! directory become `STACK_PYTHON_*` compile-time variables that `stack --version --verbose` shows
//! and the pre-flight check uses.
//!
//! Linking (`STACK_PYTHON_LINK`, docs/performance.md): on Linux, when that Python ships its static
//! library (`LIBPL/LIBRARY`, e.g. Debian's `libpython3.11-dev`, pyenv), libpython is linked into the
//! binary whole, the executable is not position-independent, and the `Py*` symbols are exported for
//! the standard library's extension modules: the dynamic loader then has no libpython to map and
//! relocate at every start (≈ 380 of the ≈ 500 page faults of `stack --version`). Otherwise (macOS,
//! whose Homebrew and python.org builds have no static library, or `STACK_PYTHON_LINK=shared`), the
//! binary links the shared libpython and gets an rpath to it (and, for a macOS framework build, to
//! the framework's prefix), so the library loaded at run time is the one built against. See
//! docs/python.md.

use std::process::exit;

/// Printed by the build interpreter, one value a line.
const QUERY: &str = r#"
import platform, sys, sysconfig
print(platform.python_implementation())
print(platform.python_version())
print(sys.executable)
print(sys.base_prefix)
print(sysconfig.get_path("stdlib"))
v = sysconfig.get_config_var
print("libpl:" + (v("LIBPL") or ""))
print("library:" + (v("LIBRARY") or ""))
print("libs:", " ".join(x for x in (v("MODLIBS"), v("LIBS"), v("SYSLIBS")) if x))
"#;

/// `STACK_PYTHON_LINK`: how libpython is linked.
const LINK_VAR: &str = "STACK_PYTHON_LINK";

const MINIMUM_MINOR: u8 = 10;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed={LINK_VAR}");
    if std::env::var_os("CARGO_FEATURE_PYTHON").is_none() {
        return;
    }
    let config = pyo3_build_config::get();
    let output = match config.run_python_script(QUERY) {
        Ok(output) => output,
        Err(e) => fail(&format!("cannot ask the build Python about itself: {e}")),
    };
    let lines: Vec<&str> = output.lines().collect();
    let [
        implementation,
        version,
        executable,
        home,
        stdlib,
        libpl,
        library,
        static_libs,
    ] = lines[..]
    else {
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
    let libpl = libpl.trim_start_matches("libpl:");
    let library = library.trim_start_matches("library:");
    let archive = std::path::Path::new(libpl).join(library);
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let can_link_static = linux && !library.is_empty() && archive.is_file();
    let choice = std::env::var(LINK_VAR).unwrap_or_default();
    let link_static = match choice.as_str() {
        "" => can_link_static,
        "static" if can_link_static => true,
        "static" => fail(&format!(
            "{LINK_VAR}=static, but {used} has no static libpython{}",
            if linux {
                format!(" (looked for `{}`)", archive.display())
            } else {
                " (static linking is for Linux; macOS links the shared one)".to_string()
            }
        )),
        "shared" => false,
        other => fail(&format!(
            "{LINK_VAR} must be `static` or `shared` (unset: static where the build Python has a \
             static libpython, on Linux), not `{other}`"
        )),
    };
    if link_static {
        // pyo3 still names the shared library (`-lpython3.X`); with every symbol defined by the
        // archive, `--as-needed` leaves it out of the binary.
        for arg in ["-no-pie", "-Wl,--whole-archive"] {
            println!("cargo:rustc-link-arg={arg}");
        }
        println!("cargo:rustc-link-arg={}", archive.display());
        println!("cargo:rustc-link-arg=-Wl,--no-whole-archive");
        // What the archive's built-in modules link against (zlib, expat, libm, …).
        for arg in static_libs.trim_start_matches("libs:").split_whitespace() {
            println!("cargo:rustc-link-arg={arg}");
        }
        // Extension modules (`lib-dynload/*.so`) find the C API in the executable.
        for pattern in ["Py*", "_Py*"] {
            println!("cargo:rustc-link-arg=-Wl,--export-dynamic-symbol={pattern}");
        }
        println!(
            "cargo:rustc-env=STACK_PYTHON_LINKED=static ({})",
            archive.display()
        );
    } else {
        pyo3_build_config::add_libpython_rpath_link_args();
        pyo3_build_config::add_python_framework_link_args();
        println!("cargo:rustc-env=STACK_PYTHON_LINKED=shared");
    }
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
