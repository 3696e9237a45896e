//! Stacklets: the manifest model, discovery of every stacklet under `stacklets/`, and the
//! dependency graph that orders them.

pub mod discover;
pub mod graph;
pub mod id;
pub mod manifest;

pub use discover::{Catalog, Stacklet};
pub use id::StackletId;
pub use manifest::Manifest;
