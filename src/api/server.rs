//! The HTTP side of `stack serve`: listeners, routing, the 401/404/409/500 answers and the request
//! log. Every `/v1` request is verified (`sign`) and its nonce claimed (`nonces`) before anything
//! else is looked at; `/` is the family start page and needs no signature (it holds no secrets).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;

use super::nonces::Nonces;
use super::sign::{self, Refusal};
use crate::instance::Instance;
use crate::lock::{InstanceLock, LockError};
use crate::output::Printer;
use crate::stacklet::StackletId;

/// Request bodies above this are refused (413) before they are read whole.
const MAX_BODY: usize = 1 << 20;

pub struct Options {
    pub instance: Instance,
    pub key: String,
    pub listen: Vec<SocketAddr>,
    /// The `stack` binary that runs the commands (this one).
    pub exe: PathBuf,
}

struct State {
    instance: Instance,
    key: String,
    exe: PathBuf,
    nonces: Mutex<Nonces>,
    printer: Printer,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Listen on every address of `options` and answer until SIGINT or SIGTERM.
pub async fn serve(options: Options, printer: &Printer) -> anyhow::Result<()> {
    use anyhow::Context;
    let nonces_file = options.instance.state_dir().join("api").join("nonces");
    let nonces = Nonces::open(&nonces_file, now())
        .with_context(|| format!("Cannot open the nonce memory `{}`", nonces_file.display()))?;
    let state = Arc::new(State {
        instance: options.instance,
        key: options.key,
        exe: options.exe,
        nonces: Mutex::new(nonces),
        printer: printer.clone(),
    });
    let mut listeners = Vec::new();
    for addr in &options.listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("Cannot listen on `{addr}`"))?;
        printer.status("Listening", format!("on http://{addr}"));
        listeners.push(listener);
    }
    for listener in listeners {
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _peer)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(&state, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    }
    shutdown_signal().await;
    printer.status("Stopped", "the API");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn json_answer(status: StatusCode, value: &serde_json::Value) -> Answer {
    answer(status, "application/json", value.to_string())
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Answer {
    json_answer(status, &json!({ "error": message.to_string() }))
}

async fn handle(state: &State, req: Request<Incoming>) -> Answer {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let actor = header(&req, sign::ACTOR_HEADER).map(str::to_string);
    let response = route(state, req).await;
    state.printer.status(
        "API",
        format!(
            "{method} {path} {} {}",
            response.status().as_u16(),
            actor.as_deref().unwrap_or("-")
        ),
    );
    response
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn route(state: &State, req: Request<Incoming>) -> Answer {
    let path = req.uri().path().to_string();
    if path == "/" || path == "/index.html" {
        return if req.method() == Method::GET || req.method() == Method::HEAD {
            start_page(state).await
        } else {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "The start page is read with GET",
            )
        };
    }
    if path != "/v1" && !path.starts_with("/v1/") {
        return error(StatusCode::NOT_FOUND, format!("No such page `{path}`"));
    }
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "Body over 1 MiB, or cut off"),
    };
    let get = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(path.as_str(), |pq| pq.as_str());
    let request = sign::Request {
        method: parts.method.as_str(),
        path_and_query,
        timestamp: get(sign::TIMESTAMP_HEADER),
        nonce: get(sign::NONCE_HEADER),
        signature: get(sign::SIGNATURE_HEADER),
        body: &body,
    };
    let now = now();
    let verified = match sign::verify(&state.key, &request, now) {
        Ok(v) => v,
        Err(refusal) => return error(StatusCode::UNAUTHORIZED, refusal),
    };
    let claimed = match state.nonces.lock() {
        Ok(mut nonces) => nonces.claim(&verified.nonce, verified.timestamp, now),
        Err(_) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The nonce memory is unusable",
            );
        }
    };
    match claimed {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::UNAUTHORIZED, Refusal::Replayed),
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Cannot remember the nonce: {e}"),
            );
        }
    }
    let actor = match get(sign::ACTOR_HEADER) {
        None => None,
        Some(a) if valid_actor(a) => Some(a.to_string()),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "`X-Stack-Actor` must be a Matrix user id such as `@arthur:home`",
            );
        }
    };
    let query = parts.uri.query().unwrap_or("");
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (&parts.method, segments.as_slice()) {
        (&Method::GET, ["v1", "stacklets"]) => read_command(state, "list").await,
        (&Method::GET, ["v1", "status"]) => read_command(state, "status").await,
        (&Method::GET, ["v1", "events"]) => events(state, query),
        (&Method::POST, ["v1", "stacklets", id, verb @ ("up" | "down" | "restart")]) => {
            lifecycle(state, id, verb, actor.as_deref()).await
        }
        (_, ["v1", "stacklets"] | ["v1", "status"] | ["v1", "events"]) => {
            error(StatusCode::METHOD_NOT_ALLOWED, "Use GET")
        }
        (_, ["v1", "stacklets", _, "up" | "down" | "restart"]) => {
            error(StatusCode::METHOD_NOT_ALLOWED, "Use POST")
        }
        _ => error(StatusCode::NOT_FOUND, format!("No such endpoint `{path}`")),
    }
}

/// A Matrix user id as bots send it: `@local:server`, printable, at most 255 bytes.
fn valid_actor(actor: &str) -> bool {
    actor.len() <= 255
        && actor.starts_with('@')
        && actor[1..].contains(':')
        && actor.chars().all(|c| c.is_ascii_graphic())
}

/// The child `stack` for one request: this instance, no colour, no terminal.
fn child(state: &State, args: &[&str], actor: Option<&str>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(&state.exe);
    cmd.args(args)
        .env("STACK_ROOT", &state.instance.root)
        .env("NO_COLOR", "1")
        .env_remove("STACK_ACTOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if state.instance.separate {
        cmd.env("STACK_DIR", &state.instance.dir);
    } else {
        cmd.env_remove("STACK_DIR");
    }
    if let Some(actor) = actor {
        cmd.env("STACK_ACTOR", actor);
    }
    cmd
}

/// `GET /v1/stacklets` and `GET /v1/status`: exactly what `stack list --json` / `stack status
/// --json` print.
async fn read_command(state: &State, verb: &str) -> Answer {
    match child(state, &[verb, "--json"], None).output().await {
        Ok(out) if out.status.success() => answer(StatusCode::OK, "application/json", out.stdout),
        Ok(out) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            String::from_utf8_lossy(&out.stderr).trim(),
        ),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Cannot run `{}`: {e}", state.exe.display()),
        ),
    }
}

/// `POST /v1/stacklets/{id}/up|down|restart`: runs the command under the instance lock and answers
/// when it is done.
async fn lifecycle(state: &State, id: &str, verb: &str, actor: Option<&str>) -> Answer {
    if StackletId::parse(id).is_none()
        || !state
            .instance
            .stacklet_dir(id)
            .join("stacklet.toml")
            .is_file()
    {
        return error(StatusCode::NOT_FOUND, format!("Unknown stacklet `{id}`"));
    }
    // Refuse at once while another command changes the instance; the child's `--no-wait` closes
    // the gap between this check and its own lock.
    match InstanceLock::acquire(&state.instance.lock_file(), false, |_| {}) {
        Ok(lock) => drop(lock),
        Err(e @ LockError::Held { .. }) => return error(StatusCode::CONFLICT, e),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}")),
    }
    let out = match child(state, &[verb, id, "--no-wait"], actor).output().await {
        Ok(out) => out,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Cannot run `{}`: {e}", state.exe.display()),
            );
        }
    };
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    if !out.status.success() {
        let message = log
            .lines()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or("The command failed")
            .to_string();
        let status = if message.starts_with("Another `stack` command is changing this instance") {
            StatusCode::CONFLICT
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        return json_answer(status, &json!({ "error": message, "id": id, "log": log }));
    }
    let stacklet_state = current_state(state, id)
        .await
        .unwrap_or_else(|| "unknown".into());
    json_answer(
        StatusCode::OK,
        &json!({ "id": id, "state": stacklet_state, "log": log }),
    )
}

/// The stacklet's state as `stack list --json` reports it.
async fn current_state(state: &State, id: &str) -> Option<String> {
    let out = child(state, &["list", "--json"], None)
        .output()
        .await
        .ok()?;
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    list.as_array()?
        .iter()
        .find(|s| s["id"] == id)
        .and_then(|s| s["state"].as_str())
        .map(str::to_string)
}

/// `GET /v1/events?since=N`: the events after the `N`th (oldest first), each with its `seq`.
fn events(state: &State, query: &str) -> Answer {
    let mut since = 0usize;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("since", n)) => match n.parse() {
                Ok(n) => since = n,
                Err(_) => {
                    return error(StatusCode::BAD_REQUEST, "`since` must be a whole number");
                }
            },
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("Unknown parameter `{pair}`"),
                );
            }
        }
    }
    let log = match crate::history::read(&state.instance) {
        Ok(log) => log,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Cannot read the history: {e}"),
            );
        }
    };
    let events: Vec<serde_json::Value> = log
        .events
        .iter()
        .enumerate()
        .skip(since)
        .map(|(i, event)| {
            let mut value = serde_json::to_value(event).unwrap_or_default();
            if let Some(map) = value.as_object_mut() {
                map.insert("seq".into(), json!(i + 1));
            }
            value
        })
        .collect();
    json_answer(StatusCode::OK, &serde_json::Value::Array(events))
}

/// `GET /`: the family start page as the last `up`/`down`/`destroy` wrote it (`stack serve` writes
/// one on start when there is none).
async fn start_page(state: &State) -> Answer {
    let path = crate::start_page::path(&state.instance);
    match std::fs::read(&path) {
        Ok(html) => answer(StatusCode::OK, "text/html; charset=utf-8", html),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The start page has not been written yet",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::valid_actor;

    #[test]
    fn actors_are_matrix_user_ids() {
        assert!(valid_actor("@arthur:home"));
        assert!(valid_actor("@stacker-bot:home.internal"));
        assert!(!valid_actor("arthur:home"));
        assert!(!valid_actor("@arthur"));
        assert!(!valid_actor("@art hur:home"));
        assert!(!valid_actor(&format!("@{}:home", "a".repeat(300))));
    }
}
