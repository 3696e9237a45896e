//! `stack`: a single-binary runtime for self-hosted family services. All of it lives in the library
//! (`src/lib.rs`); this is the entry point.

fn main() -> std::process::ExitCode {
    stack::run()
}
