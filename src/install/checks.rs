//! The machine checks `stack install` runs before asking anything: a container engine (which one,
//! which version), free disk for the data dir, and the embedded Python that runs hooks. Each
//! check returns a value; the command layer decides how to show it.

use crate::engine::EngineError;

/// The oldest Docker Engine API `stack` is tested against (Docker Engine 20.10).
pub const MIN_API: (u32, u32) = (1, 41);
/// Below this much free space for the data dir the wizard warns: photo and document libraries
/// grow quickly, and images alone take a few GiB.
pub const LOW_DISK: u64 = 10 * 1024 * 1024 * 1024;

/// The container engine that answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Engine {
    /// `OrbStack`, `Docker Desktop` or `Docker Engine`.
    pub product: String,
    pub version: String,
    pub api_version: String,
}

impl Engine {
    /// Whether the engine's API is at least [`MIN_API`].
    pub fn api_supported(&self) -> bool {
        api_at_least(&self.api_version, MIN_API)
    }
}

/// Connect to the engine (`DOCKER_HOST`, Docker's socket, OrbStack's, Docker Desktop's) and ask
/// what it is.
pub async fn engine() -> Result<Engine, EngineError> {
    let docker = crate::engine::connect().await?;
    let version = docker
        .version()
        .await
        .map_err(|e| EngineError::api("read the engine version", e))?;
    let operating_system = docker
        .info()
        .await
        .ok()
        .and_then(|i| i.operating_system)
        .unwrap_or_default();
    let platform = version
        .platform
        .as_ref()
        .map(|p| p.name.clone())
        .unwrap_or_default();
    Ok(Engine {
        product: product(&operating_system, &platform).to_string(),
        version: version.version.unwrap_or_default(),
        api_version: version.api_version.unwrap_or_default(),
    })
}

/// Which product runs the engine, from what it reports about itself.
pub fn product(operating_system: &str, platform: &str) -> &'static str {
    if operating_system.contains("OrbStack") || platform.contains("OrbStack") {
        "OrbStack"
    } else if operating_system.contains("Docker Desktop") || platform.contains("Docker Desktop") {
        "Docker Desktop"
    } else {
        "Docker Engine"
    }
}

/// The one command that installs an engine here: OrbStack on a Mac, Docker Engine on Linux.
pub fn install_command(os: &str) -> &'static str {
    match os {
        "macos" => "brew install --cask orbstack",
        _ => "sudo apt-get install docker.io   (or see https://docs.docker.com/engine/install/)",
    }
}

fn api_at_least(api: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = api.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    have >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_and_versions() {
        assert_eq!(product("OrbStack", ""), "OrbStack");
        assert_eq!(
            product("Docker Desktop", "Docker Desktop 4.30.0 (149282)"),
            "Docker Desktop"
        );
        assert_eq!(
            product(
                "Debian GNU/Linux 12 (bookworm)",
                "Docker Engine - Community"
            ),
            "Docker Engine"
        );
        assert!(api_at_least("1.41", MIN_API));
        assert!(api_at_least("1.53", MIN_API));
        assert!(!api_at_least("1.40", MIN_API));
        assert_eq!(install_command("macos"), "brew install --cask orbstack");
    }
}
