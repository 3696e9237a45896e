//! The signed local API, `stack serve` (`docs/api.md`): bots and local tools drive the runtime
//! through it, never through the Docker socket.
//!
//! `sign` checks a request's signature (pure), `nonces` remembers used nonces across restarts,
//! `server` answers HTTP. State-changing and read endpoints run this very binary as a child
//! (`stack up <id> --no-wait`, `stack list --json`, …) so an API call behaves exactly like the
//! command line — same JSON, same lock, same history — and a hook that crashes or calls
//! `os._exit()` can never take the server down.

pub mod install;
mod nonces;
mod server;
pub mod sign;

pub use server::{Options, serve};
