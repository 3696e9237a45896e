//! The engine's error type. Each variant names the object involved (image, service, container,
//! network) so the command layer can render one clear `error:` line; `hint()` gives the `hint:`.

use std::path::PathBuf;

/// Why one candidate engine address did not give a usable client.
#[derive(Debug, thiserror::Error)]
pub enum ConnectFailure {
    #[error("Unsupported DOCKER_HOST `{host}` (use unix:// or tcp://)")]
    Unsupported { host: String },
    #[error("`{host}` did not answer within 1.5 s")]
    Timeout { host: String },
    #[error("`{host}` did not answer")]
    Ping {
        host: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("`{host}` did not answer")]
    Request {
        host: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("`{host}`: version negotiation failed")]
    Negotiation {
        host: String,
        #[source]
        source: bollard::errors::Error,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("Cannot reach the Docker engine (looked at {})", .looked.join(", "))]
    Unreachable {
        looked: Vec<String>,
        /// Why the last candidate that exists did not answer (none when no socket exists).
        #[source]
        reason: Option<ConnectFailure>,
    },

    #[error("Docker API call failed: {action}")]
    Api {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },

    #[error("Cannot pull image `{image}`: {message}")]
    Pull {
        image: String,
        message: String,
        hint: String,
    },

    #[error("Cannot build image `{image}` for service `{service}`: {message}")]
    Build {
        service: String,
        image: String,
        message: String,
    },

    #[error("Cannot read build context `{}`", .path.display())]
    BuildContext {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("Service `{service}` runs the recorded local image `{id}` (`{image}`), which is gone")]
    RecordedImageGone {
        service: String,
        image: String,
        id: String,
    },

    #[error("Container `{container}` is not healthy: {reason}")]
    Unhealthy { container: String, reason: String },

    #[error("Service `{service}` has neither `image` nor `build`")]
    NoImage { service: String },

    #[error("External network `{name}` does not exist")]
    MissingExternalNetwork { name: String },

    #[error("External volume `{name}` does not exist")]
    MissingExternalVolume { name: String },

    #[error("Service `{service}` refers to undeclared {kind} `{name}`")]
    Undeclared {
        service: String,
        kind: &'static str,
        name: String,
    },

    #[error("Service `{service}` depends on `{dependency}`, which is not in the project")]
    UnknownDependency { service: String, dependency: String },

    #[error("Dependency cycle between services: {}", .services.join(", "))]
    DependencyCycle { services: Vec<String> },

    #[error("Service `{service}` cannot start: dependency `{dependency}` {reason}")]
    DependencyFailed {
        service: String,
        dependency: String,
        container: String,
        reason: String,
    },

    #[error("Cannot create bind mount source `{}` for service `{service}`", .path.display())]
    BindSource {
        service: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("Container name `{name}` is already in use by a container outside project `{project}`")]
    NameConflict { name: String, project: String },

    /// An object this instance would adopt, change or remove belongs to another instance.
    #[error(
        "The {kind} `{name}` belongs to {owner}, not to this instance (`{instance}`); `stack` leaves it alone"
    )]
    Foreign {
        kind: &'static str,
        name: String,
        owner: String,
        instance: String,
    },

    /// A host port the project publishes is taken (checked before anything is stopped or created).
    #[error("Port {port}/{protocol} of service `{service}` is already in use by {holder}")]
    PortTaken {
        port: u16,
        protocol: String,
        service: String,
        holder: String,
    },

    #[error(
        "Service `{service}` can never start: its {what} is {bytes} bytes, over the {} bytes a \
         process can be given",
        super::limits::MAX_ENV_ENTRY_BYTES
    )]
    OverLimit {
        service: String,
        what: String,
        bytes: usize,
    },
}

impl EngineError {
    pub(crate) fn api(action: impl Into<String>, source: bollard::errors::Error) -> Self {
        Self::Api {
            action: action.into(),
            source,
        }
    }

    /// The `hint:` line a person needs next, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Unreachable { .. } => Some(
                "start Docker: OrbStack or Docker Desktop on macOS, `sudo systemctl start docker` \
                 (or `dockerd`) on Linux; or point `DOCKER_HOST` at a running engine"
                    .into(),
            ),
            Self::Pull { hint, .. } => Some(hint.clone()),
            Self::RecordedImageGone { .. } => Some(
                "`stack update <id>` records the image the reference names now (images without a registry digest are never pulled)"
                    .into(),
            ),
            Self::MissingExternalNetwork { name } => {
                Some(format!("create it with `docker network create {name}`"))
            }
            Self::MissingExternalVolume { name } => {
                Some(format!("create it with `docker volume create {name}`"))
            }
            Self::NameConflict { name, .. } => Some(format!(
                "remove or rename the other container (`docker rm -f {name}`) if it is not needed"
            )),
            Self::Foreign { instance, .. } => Some(format!(
                "run the command in the instance that owns it (`STACK_DIR`), or give this one \
                 another name with `[core].instance` in its `stack.toml` (this one is `{instance}`)"
            )),
            Self::PortTaken { .. } => Some(
                "stop what holds it, or give this instance its own ports with `[core].port_offset` \
                 in its `stack.toml` (for example `port_offset = 1000`)"
                    .into(),
            ),
            Self::DependencyFailed { container, .. } => {
                Some(format!("look at its log: `docker logs {container}`"))
            }
            Self::OverLimit { .. } => Some(
                "the kernel refuses such a process (\"argument list too long\") on every start; \
                 pass large values as a file (a bind mount) instead"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// 404 from the engine: the object does not exist. Used to turn lookups into `Option`s.
pub(crate) fn is_not_found(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

pub(crate) fn is_conflict(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            ..
        }
    )
}

/// 304 Not Modified: already started / already stopped. Not an error for a converger.
pub(crate) fn is_not_modified(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 304,
            ..
        }
    )
}

impl From<EngineError> for crate::error::UserError {
    fn from(e: EngineError) -> Self {
        let hint = e.hint();
        crate::error::UserError::wrap(e).maybe_hint(hint)
    }
}
