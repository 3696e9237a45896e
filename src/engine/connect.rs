//! Finding and connecting to the Docker engine.
//!
//! Order: `DOCKER_HOST` (`unix://…` or `tcp://…`) when set, and then only it (a user who sets it means
//! it); otherwise `/var/run/docker.sock`, then the macOS sockets of OrbStack and Docker Desktop. Each
//! candidate gets a ping with a short timeout so an unreachable engine fails within about 2 s, and
//! the API version is always negotiated: bollard 0.21 would otherwise speak 1.53 to a 1.41 daemon.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, Docker};

use super::EngineError;
use super::error::ConnectFailure;

/// Per-request timeout of the client (seconds). Pulls and builds stream for longer than this per
/// request are fine: bollard applies it to the response head, not the whole body.
const CLIENT_TIMEOUT_SECS: u64 = 120;
const PING_TIMEOUT: Duration = Duration::from_millis(1500);

/// Connects to the first reachable engine and negotiates the API version.
pub async fn connect() -> Result<Docker, EngineError> {
    connect_to(candidates(
        std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()),
        std::env::home_dir(),
    ))
    .await
}

/// Tries each host URL in order; the first that answers wins.
pub(crate) async fn connect_to(candidates: Vec<String>) -> Result<Docker, EngineError> {
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
            Ok(docker) => return Ok(docker),
            Err(err) => reason = Some(err),
        }
    }
    Err(EngineError::Unreachable { looked, reason })
}

async fn try_connect(host: &str) -> Result<Docker, ConnectFailure> {
    let request = |source| ConnectFailure::Request {
        host: host.to_string(),
        source,
    };
    let timeout = || ConnectFailure::Timeout {
        host: host.to_string(),
    };
    let docker = if let Some(path) = host.strip_prefix("unix://") {
        Docker::connect_with_unix(path, CLIENT_TIMEOUT_SECS, API_DEFAULT_VERSION)
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        Docker::connect_with_http(host, CLIENT_TIMEOUT_SECS, API_DEFAULT_VERSION)
    } else {
        return Err(ConnectFailure::Unsupported {
            host: host.to_string(),
        });
    }
    .map_err(request)?;
    match tokio::time::timeout(PING_TIMEOUT, docker.ping()).await {
        Err(_) => return Err(timeout()),
        Ok(Err(e)) => return Err(request(e)),
        Ok(Ok(_)) => {}
    }
    // The negotiation is one more small request; it gets its own timeout for the same reason.
    match tokio::time::timeout(PING_TIMEOUT, docker.negotiate_version()).await {
        Err(_) => Err(timeout()),
        Ok(Err(source)) => Err(ConnectFailure::Negotiation {
            host: host.to_string(),
            source,
        }),
        Ok(Ok(docker)) => Ok(docker),
    }
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
