//! `ComposeError`: everything that can be wrong with a compose file, each message naming the file
//! and, where the YAML gives one, the line. Messages follow style.md (capitalised, no trailing
//! period, names in backticks); `hint()` gives the optional `hint:` line for the command layer.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("Cannot read `{}`", path.display())]
    Read { path: PathBuf, source: io::Error },

    #[error("Invalid YAML in `{}`: {message}", file.display())]
    Yaml { file: PathBuf, message: String },

    #[error("Required variable `{name}` is not set in `{}` line {line}: {message}", file.display())]
    RequiredVariable {
        file: PathBuf,
        line: u64,
        name: String,
        message: String,
    },

    /// `place` reads like "in service `web`" or "at the top level".
    #[error("Unsupported key `{key}` {place} in `{}` line {line}", file.display())]
    UnsupportedKey {
        file: PathBuf,
        line: u64,
        key: String,
        place: String,
        supported: Vec<&'static str>,
    },

    /// `what` reads like "`ports` entry `abc` of service `web`".
    #[error("Invalid {what} in `{}` line {line}: {reason}", file.display())]
    Invalid {
        file: PathBuf,
        line: u64,
        what: String,
        reason: String,
    },

    #[error("Service `{service}` has neither `image` nor `build` in `{}`", file.display())]
    NoImage { file: PathBuf, service: String },

    #[error("Service `{service}` depends on unknown service `{dependency}` in `{}`", file.display())]
    UnknownDependency {
        file: PathBuf,
        service: String,
        dependency: String,
        closest: Option<String>,
    },

    #[error(
        "Service `{service}` depends on `{dependency}`, which is not active (profiles {}) in `{}`",
        profiles.join(", "), file.display()
    )]
    InactiveDependency {
        file: PathBuf,
        service: String,
        dependency: String,
        profiles: Vec<String>,
    },

    #[error("Services depend on each other in a cycle: {} in `{}`", members.join(" -> "), file.display())]
    DependencyCycle { file: PathBuf, members: Vec<String> },

    #[error(
        "Service `{service}` uses network `{network}`, which is not declared under top-level `networks` in `{}`",
        file.display()
    )]
    UndeclaredNetwork {
        file: PathBuf,
        service: String,
        network: String,
        closest: Option<String>,
    },

    #[error(
        "Service `{service}` uses volume `{volume}`, which is not declared under top-level `volumes` in `{}`",
        file.display()
    )]
    UndeclaredVolume {
        file: PathBuf,
        service: String,
        volume: String,
        closest: Option<String>,
    },

    #[error("Cannot read env_file `{}` of service `{service}`", path.display())]
    EnvFile {
        path: PathBuf,
        service: String,
        source: io::Error,
    },

    #[error("Invalid env_file `{}` line {line}: {reason}", path.display())]
    EnvFileSyntax {
        path: PathBuf,
        line: u64,
        reason: String,
    },
}

impl ComposeError {
    /// The `hint:` line for this error, if one helps.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::UnsupportedKey { key, supported, .. } => {
                match crate::error::closest(key, supported.iter().copied()) {
                    Some(c) => Some(format!("did you mean `{c}`?")),
                    None => Some(
                        "`stack` supports a subset of the Compose Specification; see docs/compose.md"
                            .to_owned(),
                    ),
                }
            }
            Self::UnknownDependency { closest, .. }
            | Self::UndeclaredNetwork { closest, .. }
            | Self::UndeclaredVolume { closest, .. } => {
                closest.as_ref().map(|c| format!("did you mean `{c}`?"))
            }
            Self::InactiveDependency { profiles, .. } => Some(format!(
                "enable a profile with `COMPOSE_PROFILES={}`",
                profiles.first().map_or("", String::as_str)
            )),
            Self::RequiredVariable { name, .. } => Some(format!(
                "set `{name}` in the stacklet's `.env` (via `[env.defaults]`) or in the environment"
            )),
            _ => None,
        }
    }
}
