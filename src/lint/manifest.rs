//! Manifest and hook rules: every `{var}` in a template is one the runtime offers, declared ports
//! sit in 42000–42999 and are published, and hooks resolve (never both `.py` and `.sh`, no
//! misspelt hook names, Python hooks define `run`).

use super::{Finding, Input, PORT_RANGE, Rule, Severity, line_containing};
use crate::hooks::{HookName, resolve};
use crate::render::template::Template;

pub(super) fn check(input: &Input, out: &mut Vec<Finding>) {
    let file = input.file("stacklet.toml");
    let src = std::fs::read_to_string(input.dir.join("stacklet.toml")).unwrap_or_default();
    templates(input, &file, &src, out);
    ports(input, &file, &src, out);
    hooks(input, out);
}

fn push(
    out: &mut Vec<Finding>,
    file: &str,
    line: u64,
    severity: Severity,
    rule: Rule,
    msg: String,
) {
    out.push(Finding {
        file: file.to_string(),
        line,
        severity,
        rule,
        message: msg,
    });
}

/// The line of `key = …` (or `"key" = …`) in a TOML source, else 1.
fn key_line(src: &str, key: &str) -> u64 {
    src.lines()
        .position(|l| {
            let t = l.trim_start();
            let t = t
                .strip_prefix('"')
                .and_then(|r| r.strip_prefix(key))
                .and_then(|r| r.strip_prefix('"'))
                .or_else(|| t.strip_prefix(key));
            t.is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map_or(1, |i| i as u64 + 1)
}

/// Every template of the manifest as (where, text, line).
fn sources(input: &Input, src: &str) -> Vec<(String, String, u64)> {
    let m = input.manifest;
    let near = |text: &str| line_containing(src, text.lines().next().unwrap_or(text));
    let mut all = Vec::new();
    for (key, value) in &m.defaults {
        all.push((
            format!("[env.defaults].{key}"),
            value.clone(),
            key_line(src, key),
        ));
    }
    for (i, hint) in m.hints.iter().enumerate() {
        all.push((format!("hints[{i}]"), hint.clone(), near(hint)));
    }
    for check in &m.health {
        all.push((
            format!("[health] {}", check.name),
            check.url.clone(),
            near(&check.url),
        ));
        for (name, value) in &check.headers {
            all.push((
                format!("[health] header `{name}`"),
                value.clone(),
                near(value),
            ));
        }
    }
    for service in &m.services {
        all.push((
            format!("[services.{}].check_url", service.key),
            service.check_url.clone(),
            near(&service.check_url),
        ));
    }
    all
}

fn templates(input: &Input, file: &str, src: &str, out: &mut Vec<Finding>) {
    for (place, text, line) in sources(input, src) {
        let template = match Template::parse(&text) {
            Ok(t) => t,
            Err(e) => {
                push(
                    out,
                    file,
                    line,
                    Severity::Error,
                    Rule::Templates,
                    format!("Invalid template in {place}: {e}"),
                );
                continue;
            }
        };
        for name in template.variables() {
            if input.vars.contains_key(name) {
                continue;
            }
            let hint = crate::error::closest(name, input.vars.keys().map(String::as_str))
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            let at = line_containing(src, &format!("{{{name}}}"));
            push(
                out,
                file,
                if at > 1 { at } else { line },
                Severity::Error,
                Rule::Templates,
                format!("Unknown template variable `{name}` in {place}{hint}"),
            );
        }
    }
}

fn ports(input: &Input, file: &str, src: &str, out: &mut Vec<Finding>) {
    let published: Vec<u16> = [
        "docker-compose.yml",
        "docker-compose.yaml",
        "compose.yaml",
        "compose.yml",
    ]
    .iter()
    .find_map(|n| std::fs::read_to_string(input.dir.join(n)).ok())
    .map(|compose| {
        compose
            .lines()
            .filter_map(|l| {
                let l = l
                    .trim()
                    .trim_start_matches('-')
                    .trim()
                    .trim_matches(['"', '\'']);
                super::compose::parse_port(l).map(|(host, _)| host)
            })
            .collect()
    })
    .unwrap_or_default();
    let has_compose = input.dir.join("docker-compose.yml").is_file()
        || input.dir.join("docker-compose.yaml").is_file()
        || input.dir.join("compose.yaml").is_file()
        || input.dir.join("compose.yml").is_file();
    for (name, port) in input.manifest.all_ports() {
        let (key, line) = match name {
            None => ("port".to_string(), key_line(src, "port")),
            Some(n) => (format!("ports.{n}"), key_line(src, n)),
        };
        if !PORT_RANGE.contains(&port) {
            push(
                out,
                file,
                line,
                Severity::Error,
                Rule::Ports,
                format!(
                    "`{key}` = {port} is outside 42000–42999, the range reserved for stacklets"
                ),
            );
        }
        if has_compose && !published.contains(&port) {
            push(
                out,
                file,
                line,
                Severity::Warning,
                Rule::Ports,
                format!("`{key}` = {port} is not published by any service of the compose file"),
            );
        }
    }
}

fn hooks(input: &Input, out: &mut Vec<Finding>) {
    for name in HookName::ALL {
        // The runtime runs the `.py` of a pair (docs/hooks.md); the `.sh` would silently never run.
        let hooks = input.dir.join("hooks");
        if hooks.join(format!("{name}.py")).is_file() && hooks.join(format!("{name}.sh")).is_file()
        {
            push(
                out,
                &input.file(&format!("hooks/{name}.sh")),
                1,
                Severity::Error,
                Rule::Hooks,
                format!(
                    "Both `hooks/{name}.py` and `hooks/{name}.sh` exist; only the `.py` runs, so keep one"
                ),
            );
        }
        match resolve(&input.dir, name) {
            Err(_) => {}
            Ok(Some(hook)) if hook.kind == crate::hooks::HookKind::Python => {
                let text = std::fs::read_to_string(&hook.path).unwrap_or_default();
                let defines_run = text.lines().any(|l| l.starts_with("def run("));
                if !defines_run {
                    push(
                        out,
                        &input.file(&format!("hooks/{name}.py")),
                        1,
                        Severity::Error,
                        Rule::Hooks,
                        "A Python hook must define `run(ctx)` at the top level".into(),
                    );
                }
            }
            Ok(_) => {}
        }
    }
    // A misspelt hook silently never runs, so every other file in hooks/ must be a helper (`_*`).
    let Ok(entries) = std::fs::read_dir(input.dir.join("hooks")) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    let known: Vec<&str> = HookName::ALL.iter().map(|h| h.as_str()).collect();
    for file_name in names {
        let Some(stem) = file_name
            .strip_suffix(".py")
            .or_else(|| file_name.strip_suffix(".sh"))
        else {
            continue;
        };
        if stem.starts_with('_') || known.contains(&stem) {
            continue;
        }
        let hint = crate::error::closest(stem, known.iter().copied())
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_else(|| "; prefix helpers with `_`".into());
        push(
            out,
            &input.file(&format!("hooks/{file_name}")),
            1,
            Severity::Warning,
            Rule::Hooks,
            format!("`{stem}` is not a hook name, so this file never runs{hint}"),
        );
    }
}
