//! The one integration test binary: every test drives the real `stack` binary against a temporary
//! repo built with `support::Repo`.

mod ai;
mod api;
mod backup;
mod bot_container;
mod bot_runner;
mod bots;
mod caddy;
mod cli_commands;
mod completion;
mod demo;
mod engine;
mod env;
mod errors;
mod foundation;
mod history;
mod hook_safety;
mod host;
mod install;
mod instances;
mod interrupt;
mod lifecycle;
mod lint;
mod messages;
mod messages_cli;
mod new;
mod paperless;
mod plan;
mod postgres;
mod scribe_bot;
// Checks the interpreter the build linked (build.rs sets its facts only with embedded Python).
#[cfg(feature = "python")]
mod python;
mod registry;
mod registry_support;
mod robustness;
mod snapshots;
mod start_page;
mod support;
mod synapse;
mod users;
mod validation;
