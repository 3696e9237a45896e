//! Native services of host stacklets (`[services.<key>]`): checking, starting and stopping them.
//!
//! A service is *up* when its rendered `check_url` answers HTTP with a status below 500. Any answer
//! counts, because a native server that wants an API key answers 401 and is still running; a 5xx
//! means it answers but is not ready. `up` starts a service that is not up and has a `start`
//! command, then polls until it is up (bounded). Only services this runtime started are remembered,
//! as `.stack/state/<id>/services/<key>.started`, and only those are stopped by `down`/`destroy`: a
//! server the person runs on their own is never stopped behind their back. `start` and `stop` run as
//! `bash -c <command>` in the stacklet directory with the hook environment; their output reaches the
//! person through the `Printer` as detail lines, like a shell hook's.

use crate::namespace::Namespace;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use futures_util::future::join_all;
use serde::Serialize;

use crate::error::UserError;
use crate::hooks::HookContext;
use crate::instance::Instance;
use crate::output::Printer;
use crate::poll::poll_until;
use crate::render::env::render_text;
use crate::stacklet::Stacklet;

/// How long `up` waits for a service it started to answer. Native servers load models on start, so
/// this is generous; `STACK_SERVICE_TIMEOUT` (seconds) overrides it for slow machines and tests.
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How many trailing output lines a failed `start`/`stop` report carries.
const TAIL_LINES: usize = 10;

/// One `[services.<key>]` with its `check_url` rendered; `start`/`stop` are shell commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub key: String,
    pub name: String,
    pub url: String,
    pub start: Option<String>,
    pub stop: Option<String>,
}

/// What one check of a service saw, for `status --json` and error messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceState {
    pub key: String,
    pub name: String,
    pub url: String,
    /// `up` or `down`.
    pub state: &'static str,
    /// `HTTP 200`, `connection refused`, `timed out`.
    pub observed: String,
    /// Whether this runtime started it (and `down` will stop it).
    pub started_by_stack: bool,
}

impl ServiceState {
    pub fn is_up(&self) -> bool {
        self.state == "up"
    }
}

/// The stacklet's services with `check_url` rendered against the template variables `vars`.
pub fn rendered(
    stacklet: &Stacklet,
    ns: &Namespace,
    vars: &BTreeMap<String, String>,
) -> Result<Vec<Service>, UserError> {
    let declared = stacklet.manifest.declared_ports();
    stacklet
        .manifest
        .services
        .iter()
        .map(|s| {
            Ok(Service {
                key: s.key.clone(),
                name: s.name.clone(),
                url: ns.local_url(
                    &render_text(
                        stacklet,
                        &format!("[services.{}].check_url", s.key),
                        &s.check_url,
                        vars,
                    )?,
                    &declared,
                ),
                start: s.start.clone().filter(|c| !c.trim().is_empty()),
                stop: s.stop.clone().filter(|c| !c.trim().is_empty()),
            })
        })
        .collect()
}

/// `.stack/state/<id>/services/`: one `<key>.started` file per service this runtime started.
pub fn started_dir(instance: &Instance, id: &str) -> PathBuf {
    instance.stacklet_state_dir(id).join("services")
}

fn started_file(instance: &Instance, id: &str, key: &str) -> PathBuf {
    started_dir(instance, id).join(format!("{key}.started"))
}

/// Keys of the services this runtime started for `id` and has not stopped yet.
pub fn started(instance: &Instance, id: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(started_dir(instance, id)) else {
        return Vec::new();
    };
    let mut keys: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".started")
                .map(str::to_string)
        })
        .collect();
    keys.sort();
    keys
}

/// Probe one URL once: `(up, observed)`.
pub async fn check(client: &reqwest::Client, url: &str) -> (bool, String) {
    if let Err(message) = crate::health::plain_http_only(url) {
        return (false, message);
    }
    match client.get(url).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status < 500, format!("HTTP {status}"))
        }
        Err(e) => (false, crate::health::describe_request_error(&e)),
    }
}

/// Probe every service once, concurrently.
pub async fn states(instance: &Instance, id: &str, services: &[Service]) -> Vec<ServiceState> {
    let client = crate::health::client();
    let ours = started(instance, id);
    let probes = join_all(services.iter().map(|s| check(&client, &s.url))).await;
    services
        .iter()
        .zip(probes)
        .map(|(s, (up, observed))| ServiceState {
            key: s.key.clone(),
            name: s.name.clone(),
            url: s.url.clone(),
            state: if up { "up" } else { "down" },
            observed,
            started_by_stack: ours.contains(&s.key),
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(
        "`{service}` of `{stacklet}` is not answering at {url} ({observed}) and has no `start` command"
    )]
    NoStart {
        stacklet: String,
        service: String,
        url: String,
        observed: String,
    },

    #[error(
        "`{program}` is not installed on this machine; the `{stacklet}` stacklet needs {needs} to start `{service}` (`{command}`)"
    )]
    MissingProgram {
        stacklet: String,
        service: String,
        command: String,
        program: String,
        needs: String,
    },

    #[error(
        "Starting `{service}` of `{stacklet}` failed: `{command}` ended with {status}{}",
        last_output(last_lines)
    )]
    StartFailed {
        stacklet: String,
        service: String,
        command: String,
        status: String,
        last_lines: Vec<String>,
    },

    #[error(
        "`{service}` of `{stacklet}` was started but did not answer at {url} within {}s: last saw {observed}",
        timeout.as_secs()
    )]
    Timeout {
        stacklet: String,
        service: String,
        url: String,
        observed: String,
        timeout: Duration,
    },

    #[error("Cannot run `bash` for `{command}`")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },

    #[error("Cannot write `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ServiceError {
    /// What the person can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            ServiceError::NoStart { .. } => {
                Some("start it yourself, or check the URL in `stack.toml`".to_string())
            }
            ServiceError::Timeout { .. } => {
                Some("it was left running; `stack down` stops it again".to_string())
            }
            _ => None,
        }
    }
}

fn last_output(lines: &[String]) -> String {
    if lines.is_empty() {
        return " and no output".to_string();
    }
    let mut out = String::from("; last output:");
    for line in lines {
        out.push_str("\n  ");
        out.push_str(line);
    }
    out
}

/// Check every service; start the ones that are down (remembering them) and wait until they answer.
/// Returns the keys of the services started now.
pub async fn ensure_up(
    instance: &Instance,
    services: &[Service],
    ctx: &HookContext,
    printer: &Printer,
) -> Result<Vec<String>, ServiceError> {
    let client = crate::health::client();
    let id = ctx.stacklet_id.as_str();
    let mut started_now = Vec::new();
    for service in services {
        let (up, observed) = check(&client, &service.url).await;
        if up {
            printer.status("Found", format!("{} at {}", service.name, service.url));
            continue;
        }
        let Some(command) = &service.start else {
            return Err(ServiceError::NoStart {
                stacklet: id.to_string(),
                service: service.name.clone(),
                url: service.url.clone(),
                observed,
            });
        };
        printer.status("Starting", format!("{} ({command})", service.name));
        let outcome = run(command, ctx, printer).await?;
        if !outcome.success {
            return Err(start_failure(id, service, command, outcome));
        }
        // Remembered before waiting: a service that starts slowly or never answers was still
        // started by us, and `down` must be able to stop it.
        let marker = started_file(instance, id, &service.key);
        crate::atomic::write_private(&marker, format!("{command}\n").as_bytes()).map_err(
            |source| ServiceError::Io {
                path: marker.clone(),
                source,
            },
        )?;
        started_now.push(service.key.clone());
        wait_up(&client, id, service, printer).await?;
    }
    Ok(started_now)
}

async fn wait_up(
    client: &reqwest::Client,
    id: &str,
    service: &Service,
    printer: &Printer,
) -> Result<(), ServiceError> {
    let timeout = start_timeout();
    printer.status("Waiting", format!("{} at {}", service.name, service.url));
    let mut observed = String::new();
    let up = poll_until(timeout, async |_| {
        let (up, seen) = check(client, &service.url).await;
        observed = seen;
        up.then_some(())
    })
    .await;
    up.ok_or_else(|| ServiceError::Timeout {
        stacklet: id.to_string(),
        service: service.name.clone(),
        url: service.url.clone(),
        observed,
        timeout,
    })
}

fn start_timeout() -> Duration {
    std::env::var("STACK_SERVICE_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_START_TIMEOUT)
}

/// Stop every service this runtime started for the stacklet (and forget it). A failing `stop` is a
/// warning, and the service stays remembered so the next `down` tries again; it never blocks the
/// rest of `down`/`destroy`. Returns the keys stopped.
pub async fn stop_started(
    instance: &Instance,
    services: &[Service],
    ctx: &HookContext,
    printer: &Printer,
) -> Result<Vec<String>, ServiceError> {
    let id = ctx.stacklet_id.as_str();
    let mut stopped = Vec::new();
    for key in started(instance, id) {
        let marker = started_file(instance, id, &key);
        let Some(service) = services.iter().find(|s| s.key == key) else {
            // The manifest no longer declares it: nothing to run, nothing to remember.
            let _ = std::fs::remove_file(&marker);
            continue;
        };
        let Some(command) = &service.stop else {
            printer.warn(format!(
                "`{}` was started by `stack` but has no `stop` command; it keeps running",
                service.name
            ));
            let _ = std::fs::remove_file(&marker);
            continue;
        };
        printer.status("Stopping", format!("{} ({command})", service.name));
        let outcome = run(command, ctx, printer).await?;
        if outcome.success {
            std::fs::remove_file(&marker)
                .or_else(ignore_missing)
                .map_err(|source| ServiceError::Io {
                    path: marker.clone(),
                    source,
                })?;
            stopped.push(key);
        } else {
            printer.warn(format!(
                "Stopping `{}` failed: `{command}` ended with {}; it is still remembered as started, so the next `stack down {id}` tries again",
                service.name, outcome.status
            ));
        }
    }
    if started(instance, id).is_empty() {
        let _ = std::fs::remove_dir(started_dir(instance, id));
    }
    Ok(stopped)
}

fn ignore_missing(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

struct Outcome {
    success: bool,
    code: Option<i32>,
    status: String,
    tail: Vec<String>,
}

/// `bash -c <command>` in the stacklet directory with the hook environment, output as details.
async fn run(command: &str, ctx: &HookContext, printer: &Printer) -> Result<Outcome, ServiceError> {
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg("-c")
        .arg(command)
        .current_dir(&ctx.stacklet_dir)
        .envs(ctx.hook_env());
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    let status = crate::hooks::stream_command(&mut cmd, &mut |line| {
        printer.detail(line);
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.to_string());
    })
    .await
    .map_err(|source| ServiceError::Spawn {
        command: command.to_string(),
        source,
    })?;
    Ok(Outcome {
        success: status.success(),
        code: status.code(),
        status: crate::hooks::describe_status(status),
        tail: tail.into(),
    })
}

fn start_failure(id: &str, service: &Service, command: &str, outcome: Outcome) -> ServiceError {
    // bash exits 127 when it cannot find the program; say that plainly instead of showing
    // `bash: line 1: brew: command not found` and an exit code.
    if outcome.code == Some(127)
        && let Some(program) = missing_program(&outcome.tail, command)
    {
        return ServiceError::MissingProgram {
            stacklet: id.to_string(),
            service: service.name.clone(),
            command: command.to_string(),
            needs: needs(&program),
            program,
        };
    }
    ServiceError::StartFailed {
        stacklet: id.to_string(),
        service: service.name.clone(),
        command: command.to_string(),
        status: outcome.status,
        last_lines: outcome.tail,
    }
}

/// The program bash could not find: from its `…: <name>: command not found` line.
fn missing_program(output: &[String], command: &str) -> Option<String> {
    output.iter().rev().find_map(|line| {
        let before = line.strip_suffix(": command not found")?;
        let name = before.rsplit(": ").next()?.trim();
        // Only trust a name that appears in the command (not one from a script it called).
        (!name.is_empty() && command.contains(name)).then(|| name.to_string())
    })
}

/// What a person must install to get `program`, for the programs host stacklets use.
fn needs(program: &str) -> String {
    match program {
        "brew" => "macOS with Homebrew".to_string(),
        "launchctl" => "macOS (`launchctl`)".to_string(),
        "systemctl" => "systemd (`systemctl`)".to_string(),
        other => format!("`{other}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_program_from_bash_output() {
        let out = vec!["bash: line 1: brew: command not found".to_string()];
        assert_eq!(
            missing_program(&out, "brew services start omlx").as_deref(),
            Some("brew")
        );
        let out = vec!["bash: brew: command not found".to_string()];
        assert_eq!(
            missing_program(&out, "brew services start omlx").as_deref(),
            Some("brew")
        );
        // A script that fails inside does not blame a program the command does not name.
        let out = vec!["./x.sh: line 3: foo: command not found".to_string()];
        assert_eq!(missing_program(&out, "./x.sh"), None);
    }

    #[test]
    fn needs_names_the_platform() {
        assert_eq!(needs("brew"), "macOS with Homebrew");
        assert_eq!(needs("omlx"), "`omlx`");
    }
}
