//! `stack`: a single-binary runtime for self-hosted family services.

mod atomic;
mod compose;
mod error;
mod instance;
mod lock;
mod output;
mod render;
mod secrets;
mod stacklet;

fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
