//! Stacklets: the manifest model, discovery of every stacklet under `stacklets/`, and the
//! dependency graph that orders them.

pub mod discover;
pub mod graph;
pub mod manifest;

pub use discover::{Catalog, Stacklet};
pub use manifest::Manifest;
