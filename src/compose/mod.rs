//! The compose file model: reading `docker-compose.yml` / `compose.yaml` per the Compose
//! Specification subset of contract §6, with interpolation, validation and normalisation into
//! `model::Project`.

mod dotenv;
mod error;
pub mod model;
mod syntax;
mod yaml;

pub use error::ComposeError;
