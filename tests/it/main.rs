//! The one integration test binary: every test drives the real `stack` binary against a temporary
//! repo built with `support::Repo`.

mod bots;
mod cli_commands;
mod env;
mod foundation;
mod host;
mod support;
mod users;
