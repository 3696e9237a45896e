//! Finding and connecting to the Docker engine.
//!
//! Order: `DOCKER_HOST` (`unix://…` or `tcp://…`) when set, and then only it (a user who sets it means
//! it); otherwise `/var/run/docker.sock`, then the macOS sockets of OrbStack and Docker Desktop. Each
//! candidate gets a `/_ping` with a short timeout so an unreachable engine fails within about 2 s.
//! The ping's `Api-Version` header negotiates the API version (bollard 0.21 would otherwise speak
//! 1.53 to a 1.41 daemon) and its `Server` header names the engine's release, as the docker CLI
//! reads them: one cheap request. bollard's own `negotiate_version` asks `/version` instead, which
//! the engine answers only after running `runc --version` and `docker-init --version` (≈ 10 ms
//! here, more than everything else `stack status` does; docs/performance.md).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, ClientVersion, Docker};

use super::EngineError;
use super::error::ConnectFailure;

/// Per-request timeout of the client (seconds). Pulls and builds stream for longer than this per
/// request are fine: bollard applies it to the response head, not the whole body.
const CLIENT_TIMEOUT_SECS: u64 = 120;
const PING_TIMEOUT: Duration = Duration::from_millis(1500);

/// A reachable engine: the client, speaking the negotiated API version, and the release the
/// engine named in its ping (`20.10.24+dfsg1` from `Server: Docker/20.10.24+dfsg1 (linux)`), when
/// it names one that way.
#[derive(Clone, Debug)]
pub struct Connected {
    pub docker: Docker,
    pub release: Option<String>,
}

/// Connects to the first reachable engine and negotiates the API version.
pub async fn connect() -> Result<Docker, EngineError> {
    Ok(connect_with_release().await?.docker)
}

/// [`connect`], keeping the release the engine named.
pub async fn connect_with_release() -> Result<Connected, EngineError> {
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

/// What an engine's `/_ping` says in its headers.
struct Ping {
    api_version: Option<String>,
    server: Option<String>,
}

/// `GET /_ping` on `host` (a `unix://` socket or a `tcp://`/`http://` address).
async fn ping(host: &str) -> Result<Ping, reqwest::Error> {
    let (builder, url) = match host.strip_prefix("unix://") {
        Some(path) => (
            reqwest::Client::builder().unix_socket(path),
            "http://docker/_ping".to_string(),
        ),
        None => (
            reqwest::Client::builder(),
            format!(
                "http://{}/_ping",
                host.trim_start_matches("tcp://")
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
            ),
        ),
    };
    // No proxy, like bollard's own requests (a `tcp://` engine is reached directly).
    let response = builder
        .no_proxy()
        .timeout(PING_TIMEOUT)
        .build()?
        .get(url)
        .send()
        .await?
        .error_for_status()?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Ok(Ping {
        api_version: header("api-version"),
        server: header("server"),
    })
}

async fn try_connect(host: &str) -> Result<Connected, ConnectFailure> {
    let docker = client(host, API_DEFAULT_VERSION)?;
    let ping = match ping(host).await {
        Ok(ping) => ping,
        Err(e) if e.is_timeout() => {
            return Err(ConnectFailure::Timeout {
                host: host.to_string(),
            });
        }
        Err(e) => {
            return Err(ConnectFailure::Ping {
                host: host.to_string(),
                source: e,
            });
        }
    };
    // As bollard's `negotiate_version`: speak the engine's version when it is older than ours.
    let Some(server) = ping.api_version.as_deref().and_then(api_version) else {
        return Err(ConnectFailure::Negotiation {
            host: host.to_string(),
            source: bollard::errors::Error::APIVersionParseError {},
        });
    };
    let docker = if server < *API_DEFAULT_VERSION {
        client(host, &server)?
    } else {
        docker
    };
    Ok(Connected {
        docker,
        release: ping.server.as_deref().and_then(release),
    })
}

/// `1.41` → API version 1.41.
fn api_version(text: &str) -> Option<ClientVersion> {
    let (major, minor) = text.split_once('.')?;
    Some(ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

/// The release in a ping's `Server` header: `Docker/27.3.1 (linux)` → `27.3.1`. `None` for an
/// engine that names itself otherwise.
fn release(server: &str) -> Option<String> {
    let version = server.strip_prefix("Docker/")?.split_whitespace().next()?;
    (!version.is_empty()).then(|| version.to_string())
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
    fn the_release_comes_from_the_server_header() {
        assert_eq!(
            release("Docker/20.10.24+dfsg1 (linux)").as_deref(),
            Some("20.10.24+dfsg1")
        );
        assert_eq!(release("Docker/27.3.1").as_deref(), Some("27.3.1"));
        assert_eq!(release("Libpod/5.2.0 (linux)"), None);
        assert_eq!(release("Docker/"), None);
    }

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
