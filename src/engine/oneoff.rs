//! A one-off container: a command in a fresh container of an image, its output, its exit code,
//! and the container removed again. Used to validate a Caddyfile with the core image's `caddy` when
//! no Caddy container runs.
//!
//! The container has no network and only the bind mounts the caller names; it carries the
//! instance's labels so it is recognisably `stack`'s while it exists.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder,
    WaitContainerOptions,
};
use futures_util::StreamExt;

use super::EngineError;
use super::logs::container_lines;
use crate::namespace::Namespace;

/// What to run.
pub struct OneOff<'a> {
    pub image: &'a str,
    pub argv: &'a [String],
    /// `KEY=value` entries.
    pub env: &'a [String],
    /// `host:container[:ro]` bind mounts.
    pub binds: &'a [String],
    /// `name:address` host entries (`host.docker.internal:host-gateway`).
    pub extra_hosts: &'a [String],
}

/// Run `run` to completion, handing every output line to `on_line`. `Ok(None)` when the image is
/// not on this machine (nothing was run); otherwise the exit code.
pub async fn run_once(
    docker: &Docker,
    ns: &Namespace,
    run: &OneOff<'_>,
    on_line: &mut dyn FnMut(&str),
) -> Result<Option<i64>, EngineError> {
    let name = ns.container(&format!("stack-oneoff-{}", std::process::id()));
    let labels: HashMap<String, String> = ns.labels().into_iter().collect();
    let body = ContainerCreateBody {
        image: Some(run.image.to_string()),
        cmd: Some(run.argv.to_vec()),
        env: Some(run.env.to_vec()),
        labels: Some(labels),
        // `NetworkDisabled` also stops the engine from writing `/etc/hosts` entries; with host
        // entries asked for, network mode `none` alone keeps the container offline.
        network_disabled: Some(run.extra_hosts.is_empty()),
        host_config: Some(HostConfig {
            binds: Some(run.binds.to_vec()),
            extra_hosts: Some(run.extra_hosts.to_vec()),
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    // A container of this name left by a crashed earlier run would block the create.
    remove(docker, &name).await;
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    match docker.create_container(Some(options), body).await {
        Ok(_) => {}
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => return Ok(None),
        Err(e) => return Err(EngineError::api(format!("create `{name}`"), e)),
    }
    let result = attach_and_wait(docker, &name, on_line).await;
    remove(docker, &name).await;
    result.map(Some)
}

async fn attach_and_wait(
    docker: &Docker,
    name: &str,
    on_line: &mut dyn FnMut(&str),
) -> Result<i64, EngineError> {
    let options = AttachContainerOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .stream(true)
        .logs(true)
        .build();
    let attached = docker
        .attach_container(name, Some(options))
        .await
        .map_err(|e| EngineError::api(format!("attach to `{name}`"), e))?;
    docker
        .start_container(name, None)
        .await
        .map_err(|e| EngineError::api(format!("start `{name}`"), e))?;
    let mut lines = container_lines(String::new(), name.to_string(), attached.output.boxed());
    while let Some(line) = lines.next().await {
        on_line(&line?.text);
    }
    let mut waits = docker.wait_container(name, None::<WaitContainerOptions>);
    match waits.next().await {
        Some(Ok(status)) => Ok(status.status_code),
        // bollard reports a non-zero exit as an error carrying the code.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(EngineError::api(format!("wait for `{name}`"), e)),
        None => Ok(-1),
    }
}

async fn remove(docker: &Docker, name: &str) {
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    let _ = docker.remove_container(name, Some(options)).await;
}
