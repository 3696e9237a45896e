//! Rendering: the template language used in `stacklet.toml` (`template`) and the `.env` files the
//! runtime writes for Docker Compose (`envfile`).
//!
//! Both are pure with respect to the rest of `stack`: they take values and return text (or write
//! one file atomically); collecting template variables from `stack.toml`, users and secrets is the
//! caller's job.

pub mod envfile;
pub mod template;
