//! `stack`: a single-binary runtime for self-hosted family services. The crate is a library so the
//! fuzz targets under `fuzz/` can reach the parsers; `src/main.rs` only calls [`run`], and the
//! modules stay private to the crate.

// Without the `python` feature no Python hook runs, so the `ctx` facilities only Python hooks reach
// (secrets, config and exec through `HookHost`, their error variants) are unused in that build.
// They stay compiled so the build without Python checks the same code.
#![cfg_attr(not(feature = "python"), allow(dead_code, unused_imports))]

mod api;
mod atomic;
mod backup;
mod bots;
mod caddy;
mod cli;
mod commands;
mod completion;
mod compose;
mod config;
mod disk;
mod engine;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod health;
mod history;
mod hooks;
mod install;
mod instance;
mod interrupt;
mod lifecycle;
mod lint;
mod lock;
mod namespace;
mod notify;
mod order;
mod output;
mod pins;
mod poll;
mod registry;
mod render;
mod scaffold;
mod schedule;
mod secrets;
mod service_unit;
mod services;
mod stacklet;
mod start_page;
mod workspace;

use std::process::ExitCode;

use clap::Parser;

/// The whole program: parse the command line, build a current-thread runtime, run the command and
/// map its outcome to the process exit code once.
pub fn run() -> ExitCode {
    // `COMPLETE=<shell> stack …` is the shell asking for candidates: answer and exit.
    completion::answer_if_asked();
    // `stack --version` alone is answered before clap builds the whole command tree and before the
    // async runtime starts: it is the cheapest command and is measured as such (docs/performance.md).
    if commands::is_plain_version(std::env::args_os().skip(1)) {
        let printer = output::Printer::new(output::ColorChoice::Auto, output::Verbosity::Normal);
        return commands::exit(commands::version_only(&printer), &printer);
    }
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let printer = output::Printer::new(cli.global.color, commands::verbosity(&cli.global));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let err = error::UserError::new("Cannot start the async runtime").because(e);
            printer.failure(&error::Report::of(&err));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        interrupt::listen();
        commands::run(cli, printer.clone()).await
    });
    commands::exit(result, &printer)
}
