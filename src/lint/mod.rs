//! `stack lint`: checks stacklets against the conventions of the stacklet reference ("Docker
//! Compose Conventions", hooks, templates, Caddy snippets) without Docker and without side effects.
//!
//! Every problem is a [`Finding`] tied to a file and a line so editors can jump to it. Compose rules
//! read the raw YAML (before interpolation), because the conventions are about the text people
//! write (`${PORT_BIND_IP:-127.0.0.1}`, `${WATCHTOWER_ENABLE:-true}`), not about the values it
//! yields; the runtime's own loader then runs too, so lint also reports what `stack up` would refuse.
//! Nothing here prints, writes a file or generates a secret: template variables are taken from the
//! runtime's table with an empty secrets snapshot.
//!
//! A deliberate exception is written next to the line it excuses: `# stack-lint: allow <rule>` on
//! the finding's line or on the line above it (core's Caddy must publish 80/443, for example).

mod caddy;
mod compose;
mod manifest;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::render::vars;
use crate::stacklet::{Manifest, Stacklet};
use crate::workspace::Workspace;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// What a finding is about; also the name used in `# stack-lint: allow <rule>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The manifest itself, or a rule spanning stacklets (ports, `requires`), failed.
    Manifest,
    ProjectName,
    ContainerName,
    Network,
    Ports,
    Watchtower,
    Restart,
    Volumes,
    Healthcheck,
    ImageTag,
    Compose,
    Templates,
    Hooks,
    Caddy,
}

impl Rule {
    pub const ALL: [Rule; 14] = [
        Rule::Manifest,
        Rule::ProjectName,
        Rule::ContainerName,
        Rule::Network,
        Rule::Ports,
        Rule::Watchtower,
        Rule::Restart,
        Rule::Volumes,
        Rule::Healthcheck,
        Rule::ImageTag,
        Rule::Compose,
        Rule::Templates,
        Rule::Hooks,
        Rule::Caddy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Manifest => "manifest",
            Rule::ProjectName => "project-name",
            Rule::ContainerName => "container-name",
            Rule::Network => "network",
            Rule::Ports => "ports",
            Rule::Watchtower => "watchtower",
            Rule::Restart => "restart",
            Rule::Volumes => "volumes",
            Rule::Healthcheck => "healthcheck",
            Rule::ImageTag => "image-tag",
            Rule::Compose => "compose",
            Rule::Templates => "templates",
            Rule::Hooks => "hooks",
            Rule::Caddy => "caddy",
        }
    }
}

/// One problem: `<file>:<line>: <severity>: <message>`. `file` is relative to the repo root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub file: String,
    /// 1-based; 1 when the problem is about the file as a whole.
    pub line: u64,
    pub severity: Severity,
    pub rule: Rule,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file,
            self.line,
            self.severity.as_str(),
            self.message
        )
    }
}

/// The findings of one lint run, sorted by file and line.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub stacklets: Vec<String>,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// Everything the rules need to know about one stacklet, gathered once so rules stay pure.
pub(crate) struct Input<'a> {
    pub id: &'a str,
    pub manifest: &'a Manifest,
    /// `stacklets/<id>` relative to the repo root, for finding paths.
    pub rel_dir: String,
    /// The stacklet's directory on disk.
    pub dir: PathBuf,
    /// The template variables the runtime offers this stacklet, with placeholder values.
    pub vars: &'a BTreeMap<String, String>,
    /// Container name → the container ports it publishes, over every stacklet of the repo.
    pub containers: &'a BTreeMap<String, Vec<u16>>,
}

impl Input<'_> {
    pub fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.rel_dir)
    }
}

/// Lint `only` (one stacklet) or every stacklet of the workspace, broken ones included: their
/// problem is a finding, and the rest of a manifest that parsed is checked too.
pub fn lint(ws: &Workspace, only: Option<&str>) -> Report {
    let parsed: Vec<&Stacklet> = ws
        .catalog
        .stacklets
        .iter()
        .chain(ws.catalog.broken.iter().filter_map(|b| b.stacklet.as_ref()))
        .collect();
    let containers = compose::container_index(parsed.iter().copied());
    let selected: Vec<&Stacklet> = parsed
        .into_iter()
        .filter(|s| only.is_none_or(|id| s.id() == id))
        .collect();
    let mut report = Report::default();
    for broken in &ws.catalog.broken {
        if only.is_some_and(|id| broken.id != id) {
            continue;
        }
        let rel_dir = broken
            .dir
            .strip_prefix(&ws.instance.root)
            .unwrap_or(&broken.dir)
            .display()
            .to_string();
        if broken.stacklet.is_none() {
            report.stacklets.push(broken.id.clone());
        }
        report.findings.push(Finding {
            file: format!("{rel_dir}/stacklet.toml"),
            line: problem_line(&broken.problem.message),
            severity: Severity::Error,
            rule: Rule::Manifest,
            message: broken.problem.message.clone(),
        });
    }
    for stacklet in selected {
        // The runtime's variable table: names are what matter; secrets are empty (lint must not
        // create them) and the LAN address is irrelevant to whether a name exists.
        let vars = vars::variables(ws, stacklet.id(), &BTreeMap::new(), "localhost");
        let rel_dir = stacklet
            .dir
            .strip_prefix(&ws.instance.root)
            .unwrap_or(&stacklet.dir)
            .display()
            .to_string();
        let input = Input {
            id: stacklet.id(),
            manifest: &stacklet.manifest,
            rel_dir,
            dir: stacklet.dir.clone(),
            vars: &vars,
            containers: &containers,
        };
        report.stacklets.push(stacklet.id().to_string());
        report.findings.extend(check(&input));
    }
    report.stacklets.sort();
    report
        .findings
        .sort_by(|a, b| (&a.file, a.line, a.severity).cmp(&(&b.file, b.line, b.severity)));
    report
}

/// The line a manifest problem names (`… (line 6: `port = "x"`)`), else 1.
fn problem_line(message: &str) -> u64 {
    message
        .split("(line ")
        .nth(1)
        .and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .unwrap_or(1)
}

/// Every rule over one stacklet, with suppressions applied.
pub(crate) fn check(input: &Input) -> Vec<Finding> {
    let mut findings = Vec::new();
    manifest::check(input, &mut findings);
    compose::check(input, &mut findings);
    caddy::check(input, &mut findings);
    findings.retain(|f| !suppressed(&input.dir, &input.rel_dir, f));
    findings.sort_by(|a, b| (&a.file, a.line, a.severity).cmp(&(&b.file, b.line, b.severity)));
    findings.dedup();
    findings
}

/// True when `# stack-lint: allow <rule>` is on the finding's line or the line above.
fn suppressed(dir: &Path, rel_dir: &str, finding: &Finding) -> bool {
    let Some(name) = finding.file.strip_prefix(&format!("{rel_dir}/")) else {
        return false;
    };
    let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
        return false;
    };
    let lines: Vec<&str> = text.lines().collect();
    let at = usize::try_from(finding.line).unwrap_or(0);
    [at, at.saturating_sub(1)]
        .iter()
        .filter(|&&n| n >= 1)
        .filter_map(|&n| lines.get(n - 1))
        .any(|line| allows(line, finding.rule))
}

/// Parses `# stack-lint: allow a, b — reason` anywhere in a line.
fn allows(line: &str, rule: Rule) -> bool {
    let Some((_, rest)) = line.split_once("stack-lint:") else {
        return false;
    };
    let Some(rest) = rest.trim_start().strip_prefix("allow") else {
        return false;
    };
    rest.split([',', ' ', '\t'])
        .filter(|w| !w.is_empty())
        .take_while(|w| Rule::ALL.iter().any(|r| r.as_str() == *w))
        .any(|w| w == rule.as_str())
}

/// The 1-based line of the first line of `text` containing `needle`, else 1.
pub(crate) fn line_containing(text: &str, needle: &str) -> u64 {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(1, |i| i as u64 + 1)
}

/// The host ports a stacklet may publish (its manifest's `port` and `[ports]`).
pub(crate) fn declared_ports(manifest: &Manifest) -> BTreeSet<u16> {
    manifest.all_ports().map(|(_, p)| p).collect()
}

/// The host port range reserved for stacklets (docs/lint.md), clear of common services' ports.
pub(crate) const PORT_RANGE: std::ops::RangeInclusive<u16> = 42000..=42999;
