//! HTTP health checks: probing one check and waiting until every check of a stacklet passes.
//!
//! Checks arrive already rendered (the lifecycle fills in templates). A check passes when its URL
//! answers with the expected status (`expect` without `path`; any 2xx when `expect` is absent) or,
//! with `path`, when the JSON value there equals `expect` (strings by content, other values by their
//! JSON text). `path` is a small JSONPath subset (`$.a.b[0]`, `$['k']`) converted to a JSON pointer;
//! anything else is rejected up front rather than silently never matching. Only plain HTTP is
//! supported (reqwest without TLS): an `https://` URL is an immediate, clear failure.

use std::cell::RefCell;
use std::time::Duration;

use futures_util::future::try_join_all;

use crate::output::Printer;
use crate::poll::poll_until;
use crate::stacklet::manifest::HealthCheck;

/// The longest a single probe may take; a hung endpoint must not stall the polling loop.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The result of one probe: `observed` is what a person needs to see when it keeps failing
/// (`HTTP 503`, `connection refused`, `$.res = "pung"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub passed: bool,
    pub observed: String,
}

impl Probe {
    fn failed(observed: impl Into<String>) -> Self {
        Self {
            passed: false,
            observed: observed.into(),
        }
    }
}

/// A check that did not pass in time (or can never pass: bad path, https).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "Health check `{name}` did not pass within {timeout_secs}s ({url}): last result {observed}"
)]
pub struct HealthFailure {
    /// The check can never pass (a URL this build cannot fetch, an unsupported path): it failed at
    /// once, without waiting out its timeout.
    pub never_passes: bool,
    pub name: String,
    pub url: String,
    pub observed: String,
    pub timeout_secs: u64,
    pub hint: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Unsupported JSONPath `{path}`: {reason}; use `$.key`, `$.a.b[0]` or `$['key']`")]
pub struct JsonPathError {
    pub path: String,
    pub reason: String,
}

/// A client suitable for [`probe`]: no proxy lookups, a short per-request timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap_or_default()
}

/// Probe `check` once.
pub async fn probe(client: &reqwest::Client, check: &HealthCheck) -> Probe {
    probe_with_timeout(client, check, REQUEST_TIMEOUT).await
}

async fn probe_with_timeout(
    client: &reqwest::Client,
    check: &HealthCheck,
    timeout: Duration,
) -> Probe {
    if let Err(message) = plain_http_only(&check.url) {
        return Probe::failed(message);
    }
    let pointer = match check.path.as_deref().map(json_pointer).transpose() {
        Ok(pointer) => pointer,
        Err(e) => return Probe::failed(e.to_string()),
    };
    let mut request = client.get(&check.url).timeout(timeout);
    for (name, value) in &check.headers {
        request = request.header(name, value);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => return Probe::failed(describe_request_error(&e)),
    };
    let status = response.status();
    let Some(pointer) = pointer else {
        let passed = match check.expect.as_deref() {
            Some(expect) => status.as_str() == expect.trim(),
            None => status.is_success(),
        };
        return Probe {
            passed,
            observed: format!("HTTP {}", status.as_u16()),
        };
    };
    let path = check.path.as_deref().unwrap_or("$");
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(e) => return Probe::failed(describe_request_error(&e)),
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
        let snippet: String = String::from_utf8_lossy(&body).chars().take(80).collect();
        return Probe::failed(format!(
            "HTTP {}, body is not JSON: {:?}",
            status.as_u16(),
            snippet
        ));
    };
    let Some(value) = json.pointer(&pointer) else {
        return Probe::failed(format!(
            "HTTP {}, {path} not found in the body",
            status.as_u16()
        ));
    };
    let passed = match check.expect.as_deref() {
        Some(expect) => match value {
            serde_json::Value::String(s) => s == expect,
            // Numbers, booleans, null (and structures) by JSON value, so `3` matches `3`.
            other => {
                serde_json::from_str::<serde_json::Value>(expect.trim()).is_ok_and(|e| &e == other)
            }
        },
        None => status.is_success(),
    };
    Probe {
        passed,
        observed: format!("{path} = {value}"),
    }
}

/// Poll every check until each has passed once; fail on the first check whose own timeout elapses,
/// naming its last observation. `on_tick` sees every probe (for spinners and `-v` output).
pub async fn wait_healthy(
    checks: &[HealthCheck],
    printer: &Printer,
    on_tick: impl FnMut(&HealthCheck, &Probe),
) -> Result<(), HealthFailure> {
    // Checks that can never pass fail now, not after their timeout.
    for check in checks {
        let invalid = plain_http_only(&check.url).err().or_else(|| {
            check
                .path
                .as_deref()
                .and_then(|p| json_pointer(p).err())
                .map(|e| e.to_string())
        });
        if let Some(observed) = invalid {
            return Err(HealthFailure {
                never_passes: true,
                ..failure(check, observed)
            });
        }
    }
    let client = client();
    let on_tick = RefCell::new(on_tick);
    // Each check polls on its own schedule until its own timeout; the first to fail ends the wait.
    let waits = checks.iter().map(|check| {
        let (client, on_tick) = (&client, &on_tick);
        async move {
            let mut last: Option<Probe> = None;
            let passed = poll_until(Duration::from_secs(check.timeout_secs), async |left| {
                // Never let one probe run past the check's own deadline by more than a moment.
                let timeout = left.clamp(Duration::from_millis(200), REQUEST_TIMEOUT);
                let probe = probe_with_timeout(client, check, timeout).await;
                if last.as_ref() != Some(&probe) {
                    printer.debug(format!("health {}: {}", check.name, probe.observed));
                }
                (on_tick.borrow_mut())(check, &probe);
                let passed = probe.passed;
                last = Some(probe);
                passed.then_some(())
            })
            .await;
            passed.ok_or_else(|| failure(check, last.map(|p| p.observed).unwrap_or_default()))
        }
    });
    try_join_all(waits).await.map(drop)
}

fn failure(check: &HealthCheck, observed: String) -> HealthFailure {
    HealthFailure {
        never_passes: false,
        name: check.name.clone(),
        url: check.url.clone(),
        observed,
        timeout_secs: check.timeout_secs,
        hint: check.hint.clone(),
    }
}

/// `Err` with a clear message for URLs this build cannot fetch: only `http://` (reqwest is built
/// without TLS), and the rest must parse as a URL.
pub(crate) fn plain_http_only(url: &str) -> Result<(), String> {
    check_scheme(url)?;
    reqwest::Url::parse(url.trim())
        .map(drop)
        .map_err(|e| format!("`{url}` is not a valid URL ({e})"))
}

/// The scheme part of [`plain_http_only`], for text that may only be the start of a URL.
fn check_scheme(url: &str) -> Result<(), String> {
    let lower = url.trim_start().to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(format!(
            "`{url}` uses HTTPS, which this build of `stack` does not support; use a plain \
             `http://` URL (health checks normally target the local port)"
        ));
    }
    if !lower.starts_with("http://") {
        return Err(format!("`{url}` is not an `http://` URL"));
    }
    Ok(())
}

/// Check a health URL template when the manifest is read, before anything runs. A URL without
/// variables is checked whole; one that starts with literal text must start with `http://`. One
/// that starts with a variable (`{url}/health`) can only be checked once rendered, and then fails
/// at once instead of waiting out its timeout.
pub fn check_url_template(template: &crate::render::template::Template) -> Result<(), String> {
    let prefix = template.literal_prefix();
    if template.variables().next().is_none() {
        return plain_http_only(prefix);
    }
    if prefix.is_empty() {
        return Ok(());
    }
    check_scheme(prefix).map_err(|_| {
        let shown: String = prefix.chars().take(60).collect();
        let lower = shown.to_ascii_lowercase();
        if lower.starts_with("https://") {
            format!("`{shown}…` uses HTTPS, which this build of `stack` does not support; use a plain `http://` URL (health checks normally target the local port)")
        } else {
            format!("`{shown}…` does not start with `http://`")
        }
    })
}

/// A short, human description of why a request failed.
pub(crate) fn describe_request_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_string();
    }
    // The useful part (`Connection refused`) sits at the bottom of the source chain.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut io_kind = None;
    let mut innermost = error.to_string();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        innermost = e.to_string();
        source = e.source();
    }
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".to_string(),
        Some(std::io::ErrorKind::ConnectionReset) => "connection reset".to_string(),
        Some(std::io::ErrorKind::TimedOut) => "timed out".to_string(),
        _ if error.is_connect() => format!("cannot connect: {innermost}"),
        _ => innermost,
    }
}

/// Convert the supported JSONPath subset to an RFC 6901 JSON pointer: `$` followed by `.name`,
/// `['name']`, `["name"]` or `[index]` steps.
pub fn json_pointer(path: &str) -> Result<String, JsonPathError> {
    let error = |reason: &str| JsonPathError {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    let mut rest = path
        .trim()
        .strip_prefix('$')
        .ok_or_else(|| error("it must start with `$`"))?;
    let mut pointer = String::new();
    while !rest.is_empty() {
        let segment;
        if let Some(after) = rest.strip_prefix('.') {
            if after.starts_with('.') {
                return Err(error("recursive descent (`..`) is not supported"));
            }
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() {
                return Err(error("a `.` must be followed by a key"));
            }
            if name == "*" {
                return Err(error("wildcards are not supported"));
            }
            if !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            {
                return Err(error("quote keys with special characters as `['key']`"));
            }
            segment = name.to_string();
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let (inside, after) = bracket(after).ok_or_else(|| error("unclosed `[`"))?;
            segment = bracket_segment(inside).map_err(|reason| error(&reason))?;
            rest = after;
        } else {
            return Err(error("expected `.key` or `[…]`"));
        }
        pointer.push('/');
        pointer.push_str(&segment.replace('~', "~0").replace('/', "~1"));
    }
    Ok(pointer)
}

/// Split `…]rest` at the `]` that closes the bracket, honouring quotes.
fn bracket(s: &str) -> Option<(&str, &str)> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ']') => return Some((&s[..i], &s[i + 1..])),
            _ => {}
        }
    }
    None
}

fn bracket_segment(inside: &str) -> Result<String, String> {
    let inside = inside.trim();
    for quote in ['\'', '"'] {
        if let Some(key) = inside
            .strip_prefix(quote)
            .and_then(|s| s.strip_suffix(quote))
        {
            if key.contains(quote) || key.contains('\\') {
                return Err("escapes inside quoted keys are not supported".to_string());
            }
            return Ok(key.to_string());
        }
    }
    if !inside.is_empty() && inside.chars().all(|c| c.is_ascii_digit()) {
        return Ok(inside.to_string());
    }
    Err(match inside {
        "*" => "wildcards are not supported".to_string(),
        s if s.starts_with('?') => "filters are not supported".to_string(),
        s if s.starts_with('-') => "negative indexes are not supported".to_string(),
        s if s.contains(':') => "slices are not supported".to_string(),
        s if s.contains(',') => "unions are not supported".to_string(),
        _ => format!("`[{inside}]` is not an index or a quoted key"),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;
    use crate::hooks::test_http::{Reply, TestServer};
    use crate::output::Verbosity;

    fn check(url: String, path: Option<&str>, expect: Option<&str>) -> HealthCheck {
        HealthCheck {
            name: "web".to_string(),
            url,
            path: path.map(str::to_string),
            expect: expect.map(str::to_string),
            timeout_secs: 1,
            headers: vec![("X-Probe".to_string(), "yes".to_string())],
            hint: Some("check the logs".to_string()),
        }
    }

    fn server() -> TestServer {
        TestServer::start(|req| match req.path.as_str() {
            "/ok" => Reply::text(200, "fine"),
            "/down" => Reply::text(503, "starting"),
            "/ping" => Reply::json(
                200,
                json!({"res": "pong", "n": 3, "ok": true, "a": {"b": [7, "x"]}, "k/ey": 1}),
            ),
            "/html" => Reply::text(200, "<html>"),
            _ => Reply::text(404, ""),
        })
    }

    #[test]
    fn json_paths_become_pointers() {
        for (path, pointer) in [
            ("$", ""),
            ("$.res", "/res"),
            ("$.a.b[0]", "/a/b/0"),
            ("$['k/ey']", "/k~1ey"),
            ("$[\"a\"][\"b\"][1]", "/a/b/1"),
            ("$.data.items[12].name", "/data/items/12/name"),
        ] {
            assert_eq!(json_pointer(path).as_deref(), Ok(pointer), "{path}");
        }
        for (path, reason) in [
            ("res", "must start with `$`"),
            ("$..res", "recursive descent"),
            ("$.a[*]", "wildcards"),
            ("$.*", "wildcards"),
            ("$.a[?(@.x)]", "filters"),
            ("$.a[-1]", "negative indexes"),
            ("$.a[0:2]", "slices"),
            ("$.a[0,1]", "unions"),
            ("$.a[0", "unclosed"),
            ("$.", "followed by a key"),
            ("$.a b", "special characters"),
        ] {
            let err = json_pointer(path).unwrap_err().to_string();
            assert!(err.contains(reason), "{path}: {err}");
            assert!(
                err.starts_with(&format!("Unsupported JSONPath `{path}`")),
                "{err}"
            );
        }
    }

    #[tokio::test]
    async fn probe_compares_status_codes() {
        let server = server();
        let client = client();
        for (path, expect, passed, observed) in [
            ("/ok", None, true, "HTTP 200"),
            ("/down", None, false, "HTTP 503"),
            ("/down", Some("503"), true, "HTTP 503"),
            ("/ok", Some("204"), false, "HTTP 200"),
        ] {
            let probe = probe(
                &client,
                &check(format!("{}{path}", server.url), None, expect),
            )
            .await;
            assert_eq!(
                (probe.passed, probe.observed.as_str()),
                (passed, observed),
                "{path}"
            );
        }
        assert_eq!(server.requests()[0].header("x-probe"), Some("yes"));
    }

    #[tokio::test]
    async fn probe_compares_the_value_at_a_json_path() {
        let server = server();
        let client = client();
        let ping = format!("{}/ping", server.url);
        for (path, expect, passed, observed) in [
            ("$.res", Some("pong"), true, "$.res = \"pong\""),
            ("$.res", Some("pung"), false, "$.res = \"pong\""),
            ("$['res']", Some("pong"), true, "$['res'] = \"pong\""),
            ("$.n", Some("3"), true, "$.n = 3"),
            ("$.ok", Some("true"), true, "$.ok = true"),
            ("$.a.b[0]", Some("7"), true, "$.a.b[0] = 7"),
            ("$.a.b[1]", Some("x"), true, "$.a.b[1] = \"x\""),
            ("$.res", None, true, "$.res = \"pong\""),
            (
                "$.nope",
                Some("1"),
                false,
                "HTTP 200, $.nope not found in the body",
            ),
        ] {
            let probe = probe(&client, &check(ping.clone(), Some(path), expect)).await;
            assert_eq!(
                (probe.passed, probe.observed.as_str()),
                (passed, observed),
                "{path}"
            );
        }
        let html = probe(
            &client,
            &check(format!("{}/html", server.url), Some("$.res"), Some("pong")),
        )
        .await;
        assert_eq!(html.observed, "HTTP 200, body is not JSON: \"<html>\"");
    }

    #[tokio::test]
    async fn probe_reports_a_refused_connection() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let probe = probe(
            &client(),
            &check(format!("http://127.0.0.1:{port}/"), None, None),
        )
        .await;
        assert_eq!(
            probe,
            Probe {
                passed: false,
                observed: "connection refused".into()
            }
        );
    }

    #[tokio::test]
    async fn wait_healthy_polls_until_every_check_passes() {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        // Unhealthy for the first two requests, as a service still starting would be.
        let flaky_server = TestServer::start(move |_| {
            if counter.fetch_add(1, Ordering::SeqCst) < 2 {
                Reply::text(503, "")
            } else {
                Reply::text(200, "")
            }
        });
        let steady = self::server();
        let mut flaky = check(format!("{}/", flaky_server.url), None, None);
        flaky.timeout_secs = 30;
        let mut ping = check(format!("{}/ping", steady.url), Some("$.res"), Some("pong"));
        ping.name = "api".into();
        let (printer, _capture) = crate::output::Printer::capturing(Verbosity::Verbose);
        let mut ticks = Vec::new();
        let result = wait_healthy(&[flaky, ping], &printer, |check, probe| {
            ticks.push((check.name.clone(), probe.observed.clone()));
        })
        .await;
        assert_eq!(result, Ok(()));
        assert_eq!(hits.load(Ordering::SeqCst), 3);
        // Each check is probed until it passes, then left alone.
        let seen = |name: &str| -> Vec<String> {
            ticks
                .iter()
                .filter(|(check, _)| check == name)
                .map(|(_, observed)| observed.clone())
                .collect()
        };
        assert_eq!(seen("web"), ["HTTP 503", "HTTP 503", "HTTP 200"]);
        assert_eq!(seen("api"), ["$.res = \"pong\""]);
    }

    #[tokio::test]
    async fn wait_healthy_fails_with_the_last_observation() {
        let server = server();
        let (printer, _capture) = crate::output::Printer::capturing(Verbosity::Normal);
        let failure = wait_healthy(
            &[check(format!("{}/down", server.url), None, None)],
            &printer,
            |_, _| {},
        )
        .await
        .unwrap_err();
        assert_eq!(failure.name, "web");
        assert_eq!(failure.observed, "HTTP 503");
        assert_eq!(failure.hint.as_deref(), Some("check the logs"));
        assert!(server.requests().len() >= 2, "polled more than once");
        assert_eq!(
            failure.to_string(),
            format!(
                "Health check `web` did not pass within 1s ({}/down): last result HTTP 503",
                server.url
            )
        );
    }

    #[tokio::test]
    async fn checks_that_can_never_pass_fail_at_once() {
        let (printer, _capture) = crate::output::Printer::capturing(Verbosity::Normal);
        let mut https = check("https://localhost:1/".into(), None, None);
        https.timeout_secs = 3600;
        let failure = wait_healthy(&[https], &printer, |_, _| {})
            .await
            .unwrap_err();
        assert!(
            failure.observed.contains("uses HTTPS"),
            "{}",
            failure.observed
        );

        let mut bad_path = check("http://localhost:1/".into(), Some("$..x"), Some("1"));
        bad_path.timeout_secs = 3600;
        let failure = wait_healthy(&[bad_path], &printer, |_, _| {})
            .await
            .unwrap_err();
        assert!(
            failure.observed.contains("recursive descent"),
            "{}",
            failure.observed
        );
    }
}
