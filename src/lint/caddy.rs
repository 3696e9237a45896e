//! `caddy.snippet` rules: every `reverse_proxy` upstream names a container of some stacklet (Caddy
//! reaches containers by name on the `stack` network) and a port that container listens on.
//!
//! "Listens on" is taken to be the container side of one of its published ports: that is the port
//! port mode serves, so a route that works in port mode works in domain mode too. A container that
//! listens on an unpublished port for Caddy only can say so with `# stack-lint: allow caddy`.

use super::{Finding, Input, Rule, Severity};

pub(super) fn check(input: &Input, out: &mut Vec<Finding>) {
    let file = input.file("caddy.snippet");
    let Ok(src) = std::fs::read_to_string(input.dir.join("caddy.snippet")) else {
        return;
    };
    for (i, line) in src.lines().enumerate() {
        let line_no = i as u64 + 1;
        for upstream in upstreams(line) {
            if let Some(message) = problem(input, &upstream) {
                out.push(Finding {
                    file: file.clone(),
                    line: line_no,
                    severity: Severity::Error,
                    rule: Rule::Caddy,
                    message,
                });
            }
        }
    }
}

/// The upstream addresses of a `reverse_proxy` line (after an optional matcher, before `{`).
fn upstreams(line: &str) -> Vec<String> {
    let code = line.split(" #").next().unwrap_or(line);
    if code.trim_start().starts_with('#') {
        return Vec::new();
    }
    let mut words = code.split_whitespace();
    if words.next() != Some("reverse_proxy") {
        return Vec::new();
    }
    words
        .take_while(|w| *w != "{")
        .filter(|w| !w.starts_with(['@', '/', '*']))
        .map(str::to_string)
        .collect()
}

fn problem(input: &Input, upstream: &str) -> Option<String> {
    // Placeholders and unix sockets are resolved by Caddy at runtime; nothing to check statically.
    if upstream.contains('{') || upstream.starts_with("unix/") {
        return None;
    }
    let (default_port, rest) = match upstream.split_once("://") {
        Some(("https", rest)) => (443, rest),
        Some((_, rest)) => (80, rest),
        None => (80, upstream),
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok()?),
        None => (rest, default_port),
    };
    let Some(ports) = input.containers.get(host) else {
        let hint = crate::error::closest(host, input.containers.keys().map(String::as_str))
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        return Some(format!(
            "`reverse_proxy {upstream}`: `{host}` is not a container of any stacklet{hint}"
        ));
    };
    if ports.contains(&port) {
        return None;
    }
    let published = if ports.is_empty() {
        "it publishes no port".to_string()
    } else {
        format!(
            "it publishes container port {}",
            ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Some(format!(
        "`reverse_proxy {upstream}`: `{host}` does not listen on {port} ({published})"
    ))
}
