//! Pins the embedded Python: the binary gets an rpath to the libpython it was built against, so build
//! and run use the same interpreter (see docs/python.md).
fn main() {
    if std::env::var_os("CARGO_FEATURE_PYTHON").is_some() {
        pyo3_build_config::add_libpython_rpath_link_args();
    }
}
