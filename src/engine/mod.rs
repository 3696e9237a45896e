//! Everything that talks to the Docker Engine API (through bollard): connecting, images (pull and
//! build), converging a normalised compose `Project` into containers, stop/down, state, ps and logs.
//!
//! Invariants:
//! - Every object `stack` creates carries the labels `docker compose` v2 sets (`labels.rs`), so
//!   `docker compose -p <project> ps/down` see our objects and we find them by label, never by name.
//! - Image problems surface before any container is stopped or recreated: callers run
//!   `ensure_images` for the whole project first and hand its result to `converge`.
//! - Nothing without the project label is ever stopped or removed, and nothing of another
//!   instance (`namespace.rs`) is ever adopted, changed or removed.
//! - Domain code never prints: progress goes through the one `Printer`, data is returned.

mod connect;
mod converge;
mod crash;
mod create;
mod error;
mod exec;
mod gate;
mod images;
mod inspect;
mod labels;
mod lifecycle;
mod limits;
mod logs;
mod metadata;
mod mounts;
mod network;
mod oneoff;
pub mod plan;
mod ports;
mod wait;

pub use connect::{Connected, connect, connect_with_release};
#[cfg(test)]
pub use converge::{Outcome, ServiceOutcome};
pub use converge::{UpOptions, converge};
pub use crash::{Crash, watch_for_crash};
pub use error::EngineError;
pub use exec::exec;
pub use gate::wait_containers_healthy;
pub use images::{ImageOptions, ensure_images, image_id, image_ref, local_ids};
pub use inspect::{ProjectState, all_project_states, ps, ps_all};
pub use lifecycle::{DownOptions, down, stop};
pub use limits::check_limits;
pub use logs::{LogOptions, failing_logs, log_tail, logs, write_logs};
#[cfg(test)]
pub use metadata::ExposedPort;
pub use metadata::{Healthcheck, ImageFacts, image_facts};
pub use mounts::{BindMount, container_mounts};
pub use network::{ensure_stack_network, host_gateway, remove_stack_network};
pub use oneoff::{OneOff, run_once};
pub use ports::check_ports;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
