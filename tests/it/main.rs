//! The one integration test binary: every test drives the real `stack` binary against a temporary
//! repo built with `support::Repo`.

mod caddy;
mod engine;
mod env;
mod foundation;
mod lifecycle;
mod support;
