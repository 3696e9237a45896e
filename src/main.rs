//! `stack`: a single-binary runtime for self-hosted family services.

mod compose;
mod error;
mod health;
mod hooks;
mod instance;
mod output;
mod stacklet;

fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
