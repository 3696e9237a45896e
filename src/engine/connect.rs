//! Finding and connecting to the Docker engine.
//!
//! Order: `DOCKER_HOST` (`unix://…` or `tcp://…`) when set, and then only it (a user who sets it means
//! it); otherwise `/var/run/docker.sock`, then the macOS sockets of OrbStack and Docker Desktop. Each
//! candidate is asked `/version` with a short timeout so an unreachable engine fails within about
//! 2 s. That one answer both proves the engine is there and gives its API version, which is always
//! negotiated (bollard 0.21 would otherwise speak 1.53 to a 1.41 daemon), and it is kept for the
//! commands that show the engine version (`status`, `doctor`, `init`), so none asks twice. (It was a
//! `/_ping` followed by bollard's `negotiate_version`, which asks `/version` itself: two round trips
//! before every command's first real request; docs/performance.md.)

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::models::SystemVersion;
use bollard::{API_DEFAULT_VERSION, ClientVersion, Docker};

use super::EngineError;
use super::error::ConnectFailure;

/// Per-request timeout of the client (seconds). Pulls and builds stream for longer than this per
/// request are fine: bollard applies it to the response head, not the whole body.
const CLIENT_TIMEOUT_SECS: u64 = 120;
const PING_TIMEOUT: Duration = Duration::from_millis(1500);

/// A reachable engine: the client, speaking the negotiated API version, and the engine's
/// `/version` answer.
#[derive(Clone, Debug)]
pub struct Connected {
    pub docker: Docker,
    pub version: SystemVersion,
}

/// Connects to the first reachable engine and negotiates the API version.
pub async fn connect() -> Result<Docker, EngineError> {
    Ok(connect_with_version().await?.docker)
}

/// [`connect`], keeping what the engine said about itself.
pub async fn connect_with_version() -> Result<Connected, EngineError> {
    connect_to(candidates(
        std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()),
        std::env::home_dir(),
    ))
    .await
}

/// Tries each host URL in order; the first that answers wins.
pub(crate) async fn connect_to(candidates: Vec<String>) -> Result<Connected, EngineError> {
    let mut looked = Vec::new();
    let mut reason = None;
    for host in candidates {
        looked.push(host.clone());
        if let Some(path) = host.strip_prefix("unix://")
            && !Path::new(path).exists()
        {
            continue;
        }
        match try_connect(&host).await {
            Ok(connected) => return Ok(connected),
            Err(err) => reason = Some(err),
        }
    }
    Err(EngineError::Unreachable { looked, reason })
}

/// A client for `host` speaking API `version` (no request is made).
fn client(host: &str, version: &ClientVersion) -> Result<Docker, ConnectFailure> {
    let request = |source| ConnectFailure::Request {
        host: host.to_string(),
        source,
    };
    if let Some(path) = host.strip_prefix("unix://") {
        Docker::connect_with_unix(path, CLIENT_TIMEOUT_SECS, version).map_err(request)
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        Docker::connect_with_http(host, CLIENT_TIMEOUT_SECS, version).map_err(request)
    } else {
        Err(ConnectFailure::Unsupported {
            host: host.to_string(),
        })
    }
}

async fn try_connect(host: &str) -> Result<Connected, ConnectFailure> {
    let docker = client(host, API_DEFAULT_VERSION)?;
    let version = match tokio::time::timeout(PING_TIMEOUT, docker.version()).await {
        Err(_) => {
            return Err(ConnectFailure::Timeout {
                host: host.to_string(),
            });
        }
        Ok(Err(source)) => {
            return Err(ConnectFailure::Request {
                host: host.to_string(),
                source,
            });
        }
        Ok(Ok(version)) => version,
    };
    let Some(server) = version.api_version.as_deref().and_then(api_version) else {
        return Err(ConnectFailure::Negotiation {
            host: host.to_string(),
            source: bollard::errors::Error::APIVersionParseError {},
        });
    };
    // As bollard's `negotiate_version`: speak the engine's version when it is older than ours.
    let docker = if server < *API_DEFAULT_VERSION {
        client(host, &server)?
    } else {
        docker
    };
    Ok(Connected { docker, version })
}

/// `1.41` → API version 1.41.
fn api_version(text: &str) -> Option<ClientVersion> {
    let (major, minor) = text.split_once('.')?;
    Some(ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

/// Where to look, in order, as `unix://` or `tcp://` URLs.
fn candidates(docker_host: Option<String>, home: Option<PathBuf>) -> Vec<String> {
    if let Some(host) = docker_host {
        return vec![host];
    }
    let mut list = vec!["unix:///var/run/docker.sock".to_string()];
    if let Some(home) = home {
        for rel in [".orbstack/run/docker.sock", ".docker/run/docker.sock"] {
            list.push(format!("unix://{}", home.join(rel).display()));
        }
    }
    list
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn api_versions_parse_and_compare() {
        let v = api_version("1.41").unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        assert!(v < *API_DEFAULT_VERSION);
        assert!(api_version("1").is_none());
        assert!(api_version("one.two").is_none());
    }

    #[test]
    fn docker_host_wins_alone() {
        assert_eq!(
            candidates(Some("tcp://10.0.0.2:2375".into()), Some("/h".into())),
            ["tcp://10.0.0.2:2375"]
        );
    }

    #[test]
    fn default_then_macos_sockets() {
        assert_eq!(
            candidates(None, Some("/Users/ann".into())),
            [
                "unix:///var/run/docker.sock",
                "unix:///Users/ann/.orbstack/run/docker.sock",
                "unix:///Users/ann/.docker/run/docker.sock",
            ]
        );
    }
}
