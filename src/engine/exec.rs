//! Running a command inside a container through the Engine API (`ctx.exec` in hooks), so hooks
//! never need a `docker` binary. Output arrives line by line; a non-zero exit is the caller's call.

use bollard::Docker;
use bollard::exec::StartExecResults;
use bollard::models::ExecConfig;
use futures_util::StreamExt;

use super::EngineError;
use super::converge::inspect;
use super::lifecycle::refuse_foreign;
use super::logs::container_lines;
use crate::namespace::Namespace;

/// Run `argv` in the container a compose file names `container_name` (found under this
/// instance's name for it), handing every output line (stdout and stderr) to `on_line`. A
/// container of another instance is refused. Returns the exit code.
pub async fn exec(
    docker: &Docker,
    ns: &Namespace,
    container_name: &str,
    argv: &[String],
    on_line: &mut dyn FnMut(&str),
) -> Result<i64, EngineError> {
    let container = &ns.container(container_name);
    if let Some(info) = inspect(docker, container).await? {
        let labels = info.config.and_then(|c| c.labels).unwrap_or_default();
        refuse_foreign(ns, "container", container, &labels)?;
    }
    let config = ExecConfig {
        cmd: Some(argv.to_vec()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let created = docker
        .create_exec(container, config)
        .await
        .map_err(|e| EngineError::api(format!("exec in `{container}`"), e))?;
    let started = docker
        .start_exec(&created.id, None)
        .await
        .map_err(|e| EngineError::api(format!("exec in `{container}`"), e))?;
    if let StartExecResults::Attached { output, .. } = started {
        let mut lines = container_lines(String::new(), container.to_string(), output.boxed());
        while let Some(line) = lines.next().await {
            on_line(&line?.text);
        }
    }
    let inspected = docker
        .inspect_exec(&created.id)
        .await
        .map_err(|e| EngineError::api(format!("inspect exec in `{container}`"), e))?;
    Ok(inspected.exit_code.unwrap_or(-1))
}
