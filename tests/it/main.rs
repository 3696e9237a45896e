//! The one integration test binary: every test drives the real `stack` binary against a temporary
//! repo built with `support::Repo`.

mod demo;
mod env;
mod foundation;
mod lint;
mod support;
