//! `stack`: a single-binary runtime for self-hosted family services.

mod compose;
mod engine;
mod error;
mod instance;
mod output;
mod stacklet;

fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
