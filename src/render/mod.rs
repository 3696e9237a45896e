//! Rendering: the template variables (`vars`), the template language used in `stacklet.toml`
//! (`template`) and the `.env` files the runtime writes (`envfile`).
//!
//! `template` and `envfile` are pure: they take values and return text (or write one file
//! atomically); `vars` computes the values from the workspace and a secrets snapshot.

pub mod env;
pub mod envfile;
pub mod template;
pub mod vars;
