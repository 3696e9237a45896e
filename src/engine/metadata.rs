//! What an image says about itself — exposed ports, volumes, healthcheck, environment, user,
//! command — read from the engine's image inspection: the facts `stack new` scaffolds a stacklet
//! from. An image that is not present locally is pulled first (from its registry, through the
//! engine, with the usual progress), so the facts always come from the image `up` will run.

use bollard::Docker;
use bollard::models::ImageInspect;
use indicatif::MultiProgress;

use super::EngineError;
use super::error::is_not_found;
use super::images::pull_image;
use crate::output::Printer;

/// The parts of an image's config a scaffold needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageFacts {
    pub reference: String,
    /// `EXPOSE`d ports in ascending order.
    pub ports: Vec<ExposedPort>,
    /// `VOLUME` paths in ascending order.
    pub volumes: Vec<String>,
    pub healthcheck: Option<Healthcheck>,
    /// `ENV`, in image order, `PATH` included.
    pub env: Vec<(String, String)>,
    /// `USER`, when the image sets one.
    pub user: Option<String>,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExposedPort {
    pub port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// `HEALTHCHECK` as the engine stores it: durations in nanoseconds, 0 = the engine's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["CMD", …]` or `["CMD-SHELL", "…"]`; `["NONE"]` disables an inherited check.
    pub test: Vec<String>,
    pub interval: i64,
    pub timeout: i64,
    pub start_period: i64,
    pub retries: i64,
}

/// The facts of `reference`, pulling it when it is not present locally.
pub async fn image_facts(
    docker: &Docker,
    reference: &str,
    printer: &Printer,
) -> Result<ImageFacts, EngineError> {
    let inspect = match docker.inspect_image(reference).await {
        Ok(info) => info,
        Err(e) if is_not_found(&e) => {
            let multi = MultiProgress::with_draw_target(printer.draw_target());
            pull_image(docker, reference, printer, &multi).await?;
            docker
                .inspect_image(reference)
                .await
                .map_err(|e| EngineError::api(format!("inspect image `{reference}`"), e))?
        }
        Err(e) => return Err(EngineError::api(format!("inspect image `{reference}`"), e)),
    };
    Ok(facts(reference, inspect))
}

fn facts(reference: &str, inspect: ImageInspect) -> ImageFacts {
    let config = inspect.config.unwrap_or_default();
    let mut ports: Vec<ExposedPort> = config
        .exposed_ports
        .unwrap_or_default()
        .iter()
        .filter_map(|spec| {
            let (port, protocol) = spec.split_once('/').unwrap_or((spec, "tcp"));
            Some(ExposedPort {
                port: port.parse().ok()?,
                protocol: protocol.to_string(),
            })
        })
        .collect();
    ports.sort();
    ports.dedup();
    let mut volumes = config.volumes.unwrap_or_default();
    volumes.sort();
    volumes.dedup();
    let healthcheck = config
        .healthcheck
        .filter(|h| h.test.as_ref().is_some_and(|t| !t.is_empty()))
        .map(|h| Healthcheck {
            test: h.test.unwrap_or_default(),
            interval: h.interval.unwrap_or(0),
            timeout: h.timeout.unwrap_or(0),
            start_period: h.start_period.unwrap_or(0),
            retries: h.retries.unwrap_or(0),
        });
    let env = config
        .env
        .unwrap_or_default()
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    ImageFacts {
        reference: reference.to_string(),
        ports,
        volumes,
        healthcheck,
        env,
        user: config.user.filter(|u| !u.is_empty()),
        cmd: config.cmd.unwrap_or_default(),
        entrypoint: config.entrypoint.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::{HealthConfig, ImageConfig};

    use super::*;

    #[test]
    fn reads_ports_volumes_health_env_and_user() {
        let inspect = ImageInspect {
            config: Some(ImageConfig {
                exposed_ports: Some(vec!["9000/tcp".into(), "53/udp".into(), "80".into()]),
                volumes: Some(vec!["/var/lib/app".into(), "/config".into()]),
                healthcheck: Some(HealthConfig {
                    test: Some(vec!["CMD-SHELL".into(), "wget -q localhost".into()]),
                    interval: Some(2_000_000_000),
                    ..Default::default()
                }),
                env: Some(vec!["PATH=/bin".into(), "A=b=c".into()]),
                user: Some(String::new()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let f = facts("x:1", inspect);
        let ports: Vec<(u16, &str)> = f
            .ports
            .iter()
            .map(|p| (p.port, p.protocol.as_str()))
            .collect();
        assert_eq!(ports, [(53, "udp"), (80, "tcp"), (9000, "tcp")]);
        assert_eq!(f.volumes, ["/config", "/var/lib/app"]);
        assert_eq!(f.healthcheck.unwrap().interval, 2_000_000_000);
        assert_eq!(f.env[1], ("A".to_string(), "b=c".to_string()));
        assert_eq!(f.user, None);
    }
}
