//! Talking to image registries: image references, the user's registry credentials
//! (`~/.docker/config.json`: `auths`, `credsStore`, `credHelpers`, e.g. `osxkeychain` on a Mac),
//! and what a tag points to on its registry now.
//!
//! The registry is asked through the engine's distribution endpoint (`GET /distribution/<ref>/json`):
//! the engine already knows how to reach every v2 registry (Docker Hub, ghcr.io, quay.io, a loopback
//! registry without TLS), does the anonymous token dance, and honours its own proxy and mirror
//! settings, so `stack` needs no TLS stack of its own. The answer is the manifest (or index) digest
//! — the same digest a pull records in `RepoDigests` — and the platforms it has.

use bollard::Docker;
use bollard::auth::DockerCredentials;

/// An image reference split the way Docker normalises it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// `docker.io`, `ghcr.io`, `127.0.0.1:5000`, …
    pub registry: String,
    /// The repository as the user wrote it, registry included (`postgres`, `ghcr.io/a/b`).
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    pub fn parse(reference: &str) -> Self {
        let (rest, digest) = match reference.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (reference, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                rest[..last_slash + i].to_string(),
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest.to_string(), None),
        };
        let first = repository.split('/').next().unwrap_or_default();
        let registry = if repository.contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost")
        {
            first.to_string()
        } else {
            "docker.io".to_string()
        };
        Self {
            registry,
            repository,
            tag,
            digest,
        }
    }

    /// `repository:tag`, `latest` when no tag was written.
    pub fn tagged(&self) -> String {
        format!(
            "{}:{}",
            self.repository,
            self.tag.as_deref().unwrap_or("latest")
        )
    }

    /// `repository@digest`.
    pub fn pinned(&self, digest: &str) -> String {
        format!("{}@{digest}", self.repository)
    }

    /// The repository the way the engine lists it in `RepoDigests` (`library/` stays implicit).
    fn same_repository(&self, repo_digest: &str) -> bool {
        let repo = repo_digest.split('@').next().unwrap_or_default();
        let normal = |r: &str| {
            let r = r.strip_prefix("docker.io/").unwrap_or(r);
            r.strip_prefix("library/").unwrap_or(r).to_string()
        };
        normal(repo) == normal(&self.repository)
    }

    /// Of an image's `RepoDigests`, the digest that belongs to this repository.
    pub fn digest_in(&self, repo_digests: &[String]) -> Option<String> {
        repo_digests
            .iter()
            .find(|d| self.same_repository(d))
            .and_then(|d| d.split_once('@'))
            .map(|(_, digest)| digest.to_string())
    }
}

/// The credentials the user gave Docker for `registry`, if any. Credential helpers that fail (a
/// locked keychain) count as none: the pull then fails with the registry's own "unauthorized",
/// which says more than a helper's exit status.
pub fn credentials(registry: &str) -> Option<DockerCredentials> {
    let servers: Vec<String> = if registry == "docker.io" {
        vec![
            "https://index.docker.io/v1/".into(),
            "index.docker.io".into(),
            "docker.io".into(),
        ]
    } else {
        vec![registry.to_string(), format!("https://{registry}")]
    };
    for server in &servers {
        match docker_credential::get_credential(server) {
            Ok(docker_credential::DockerCredential::UsernamePassword(user, password)) => {
                return Some(DockerCredentials {
                    username: Some(user),
                    password: Some(password),
                    serveraddress: Some(server.clone()),
                    ..Default::default()
                });
            }
            Ok(docker_credential::DockerCredential::IdentityToken(token)) => {
                return Some(DockerCredentials {
                    identitytoken: Some(token),
                    serveraddress: Some(server.clone()),
                    ..Default::default()
                });
            }
            Err(_) => {}
        }
    }
    None
}

/// What a reference points to on its registry now.
#[derive(Clone, Debug)]
pub struct Remote {
    /// The manifest (or index) digest, `sha256:…`.
    pub digest: String,
    /// `os/architecture[/variant]` of every variant it offers.
    pub platforms: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("`{image}` does not exist on `{registry}`")]
    UnknownImage { image: String, registry: String },
    #[error("`{image}` has no tag `{tag}` on `{registry}`")]
    UnknownTag {
        image: String,
        tag: String,
        registry: String,
        /// The tags it does have, when the registry said.
        available: Vec<String>,
    },
    /// The engine does not say whether the repository or only the tag is missing (see [`refine`]).
    #[error("`{image}:{tag}` was not found on `{registry}`")]
    NotFound {
        image: String,
        tag: String,
        registry: String,
    },
    #[error("`{registry}` refused the credentials for `{image}`")]
    Unauthorized { image: String, registry: String },
    #[error("`{registry}` cannot be reached for `{image}`: {message}")]
    Unreachable {
        image: String,
        registry: String,
        message: String,
    },
    #[error("`{image}`: {message}")]
    Other { image: String, message: String },
}

impl RegistryError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Self::UnknownImage { .. } => "check the image name in the compose file".into(),
            Self::UnknownTag {
                image, available, ..
            } if !available.is_empty() => format!(
                "`{image}` has the tags {}",
                available
                    .iter()
                    .rev()
                    .take(10)
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::UnknownTag { image, .. } => {
                format!("check the tag of `{image}` in the compose file")
            }
            Self::NotFound { .. } => "check the image name and its tag in the compose file".into(),
            Self::Unauthorized { registry, .. } => format!(
                "log in with `docker login {registry}` (credentials are read from `~/.docker/config.json`, or `$DOCKER_CONFIG`)"
            ),
            Self::Unreachable { .. } => {
                "check the network (or a proxy), and that the registry is up, then retry".into()
            }
            Self::Other { .. } => return None,
        })
    }

    /// Classify an engine message about `image` (from a pull or a distribution inspect).
    pub fn classify(image: &str, message: &str) -> Self {
        let r = Reference::parse(image);
        let m = message.to_lowercase();
        let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
        let image_name = r.repository.clone();
        let registry = r.registry.clone();
        if has(&[
            "unauthorized",
            "authentication required",
            "no basic auth credentials",
            "incorrect username or password",
        ]) {
            Self::Unauthorized {
                image: image.to_string(),
                registry,
            }
        } else if has(&[
            "name unknown",
            "repository name not known",
            "repository does not exist",
            "pull access denied",
        ]) {
            Self::UnknownImage {
                image: image_name,
                registry,
            }
        } else if has(&["manifest unknown", "not found"]) {
            Self::NotFound {
                image: image_name,
                tag: r.tag.or(r.digest).unwrap_or_else(|| "latest".into()),
                registry,
            }
        } else if has(&[
            "dial tcp",
            "lookup ",
            "no such host",
            "connection refused",
            "network is unreachable",
            "i/o timeout",
            "tls handshake",
            "timeout",
        ]) {
            Self::Unreachable {
                image: image.to_string(),
                registry,
                message: message.trim().to_string(),
            }
        } else {
            Self::Other {
                image: image.to_string(),
                message: message.trim().to_string(),
            }
        }
    }
}

/// Tell a missing repository from a missing tag, which the engine's message does not. Asks the
/// registry's tag list directly, which this binary can only do over plain HTTP: for loopback
/// registries (`127.0.0.1:5000`, `localhost:5000`, as the engine trusts them without TLS). Anything
/// else (or any failure to ask) leaves the error as it was.
pub async fn refine(err: RegistryError) -> RegistryError {
    let RegistryError::NotFound {
        image,
        tag,
        registry,
    } = &err
    else {
        return err;
    };
    let host = registry
        .rsplit_once(':')
        .map_or(registry.as_str(), |(h, _)| h);
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        return err;
    }
    let Some(path) = image.strip_prefix(&format!("{registry}/")) else {
        return err;
    };
    let url = format!("http://{registry}/v2/{path}/tags/list");
    let Ok(response) = crate::health::client().get(&url).send().await else {
        return err;
    };
    let status = response.status().as_u16();
    let Ok(body) = response.bytes().await else {
        return err;
    };
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    match status {
        200 => RegistryError::UnknownTag {
            image: image.clone(),
            tag: tag.clone(),
            registry: registry.clone(),
            available: json["tags"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        },
        404 if body.windows(12).any(|w| w == b"NAME_UNKNOWN") => RegistryError::UnknownImage {
            image: image.clone(),
            registry: registry.clone(),
        },
        _ => err,
    }
}

/// Ask the registry what `reference` points to now (through the engine; see the module docs).
pub async fn remote(docker: &Docker, reference: &str) -> Result<Remote, RegistryError> {
    let r = Reference::parse(reference);
    let name = match &r.digest {
        Some(d) => r.pinned(d),
        None => r.tagged(),
    };
    match docker
        .inspect_registry_image(&name, credentials(&r.registry))
        .await
    {
        Ok(info) => Ok(Remote {
            digest: info.descriptor.digest.unwrap_or_default(),
            platforms: info
                .platforms
                .iter()
                .map(|p| {
                    let mut s = format!(
                        "{}/{}",
                        p.os.as_deref().unwrap_or("?"),
                        p.architecture.as_deref().unwrap_or("?")
                    );
                    if let Some(v) = p.variant.as_deref().filter(|v| !v.is_empty()) {
                        s.push('/');
                        s.push_str(v);
                    }
                    s
                })
                .collect(),
        }),
        Err(e) => {
            let message = match e {
                bollard::errors::Error::DockerResponseServerError { message, .. } => message,
                other => other.to_string(),
            };
            Err(RegistryError::classify(reference, &message))
        }
    }
}

/// Whether `platforms` (as [`Remote::platforms`]) has a variant for `os/arch[/variant]`. An
/// `arm` request without variant matches any arm variant, as the engine's matcher does.
pub fn has_platform(platforms: &[String], wanted: &str) -> bool {
    let norm = |p: &str| -> String {
        let p = p.replace("aarch64", "arm64").replace("x86_64", "amd64");
        p.strip_suffix("/v8")
            .filter(|rest| rest.ends_with("arm64"))
            .map_or(p.clone(), str::to_string)
    };
    let wanted = norm(wanted);
    platforms.iter().any(|p| {
        let p = norm(p);
        p == wanted || p.starts_with(&format!("{wanted}/"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalise_like_docker() {
        let r = Reference::parse("postgres:16");
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.tagged(), "postgres:16");
        let r = Reference::parse("127.0.0.1:5000/team/app");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.tagged(), "127.0.0.1:5000/team/app:latest");
        let r = Reference::parse("ghcr.io/a/b:1@sha256:abc");
        assert_eq!(r.registry, "ghcr.io");
        assert_eq!(r.digest.as_deref(), Some("sha256:abc"));
        assert_eq!(r.pinned("sha256:def"), "ghcr.io/a/b@sha256:def");
        assert_eq!(Reference::parse("team/app").registry, "docker.io");
    }

    #[test]
    fn digest_of_the_right_repository() {
        let digests = vec![
            "other/x@sha256:1".to_string(),
            "postgres@sha256:2".to_string(),
        ];
        assert_eq!(
            Reference::parse("postgres:16")
                .digest_in(&digests)
                .as_deref(),
            Some("sha256:2")
        );
        assert_eq!(
            Reference::parse("docker.io/library/postgres")
                .digest_in(&digests)
                .as_deref(),
            Some("sha256:2")
        );
        assert_eq!(Reference::parse("mine:1").digest_in(&digests), None);
    }

    #[test]
    fn engine_messages_are_classified() {
        let c = |m| RegistryError::classify("127.0.0.1:5000/a/b:2", m);
        assert!(
            matches!(c("manifest for 127.0.0.1:5000/a/b:2 not found: manifest unknown: manifest unknown"), RegistryError::NotFound { tag, .. } if tag == "2")
        );
        assert!(matches!(
            c(
                "repository 127.0.0.1:5000/a/b not found: name unknown: repository name not known to registry"
            ),
            RegistryError::UnknownImage { .. }
        ));
        assert!(matches!(
            c("Head \"http://127.0.0.1:5000/v2/a/b/manifests/2\": no basic auth credentials"),
            RegistryError::Unauthorized { .. }
        ));
        assert!(matches!(
            c(
                "Get \"http://127.0.0.1:5000/v2/\": dial tcp 127.0.0.1:5000: connect: connection refused"
            ),
            RegistryError::Unreachable { .. }
        ));
    }

    #[test]
    fn platform_matching() {
        let p = vec!["linux/amd64".to_string(), "linux/arm/v7".to_string()];
        assert!(has_platform(&p, "linux/amd64"));
        assert!(has_platform(&p, "linux/x86_64"));
        assert!(has_platform(&p, "linux/arm"));
        assert!(!has_platform(&p, "linux/arm64"));
        assert!(has_platform(&["linux/arm64/v8".to_string()], "linux/arm64"));
    }
}
