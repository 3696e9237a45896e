//! Domain mode's reverse proxy (docs/domain-mode.md): one `Caddyfile`
//! assembled from the `caddy.snippet` of every set-up stacklet, validated by the running Caddy
//! and only then made live.
//!
//! Files live in `<instance>/.stack/caddy/`: `Caddyfile` (what Caddy serves; core
//! mounts this directory at `/etc/caddy` through `CADDY_CONFIG_DIR = "{caddy_dir}"`),
//! `conf.d/<id>.snippet` (each stacklet's part as assembled, for people to read) and, for a moment,
//! `Caddyfile.candidate`.
//!
//! Invariants:
//! - While Caddy runs, `Caddyfile` is only ever replaced (atomically, by renaming the candidate)
//!   after `caddy validate` accepted the candidate inside the container, so a broken snippet never
//!   reaches the file Caddy reloads from or starts with. While Caddy does not run there is nothing
//!   live to protect, and the assembly is written directly for its next start.
//! - With `[core].https = false` every site address gets an `http://` scheme: Caddy otherwise
//!   serves a scheme-less address over HTTPS and redirects plain HTTP to it.
//! - Never prints: callers get an `Applied` or a `CaddyError` naming the stacklet at fault.

pub(crate) mod lex;

use std::path::{Path, PathBuf};

use bollard::Docker;

use crate::engine::{self, EngineError};
use crate::namespace::Namespace;

/// The Caddy container of the `core` stacklet as its compose file names it (an instance other than
/// the default one runs it as `<instance>_stack-core-caddy`, `namespace.rs`).
pub const CONTAINER: &str = "stack-core-caddy";
/// Where core's Caddy sees the start page directory (`.stack/start/`, core's compose file mounts it).
pub const START_PAGE_ROOT: &str = "/srv/start";

/// The running Caddy container of this instance, reached through the engine.
struct Caddy<'a> {
    docker: &'a Docker,
    ns: &'a Namespace,
    /// Run `caddy` in a one-off container of this image instead of exec'ing into the running one.
    one_off: Option<&'a OneOffCaddy>,
    /// `.stack/caddy` on the host, mounted into a one-off Caddy.
    dir: &'a Path,
}

/// Where the one-off Caddy sees `.stack/caddy`.
const ONE_OFF_DIR: &str = "/stack-caddy";

/// The Caddy to validate with when none runs: the core image, its environment (`KEY=value`, for
/// the `{$VAR}` placeholders snippets use) and the bind mount of `.stack/caddy`.
#[derive(Clone, Debug)]
pub struct OneOffCaddy {
    pub image: String,
    pub env: Vec<String>,
}

impl OneOffCaddy {
    /// The image and environment of the existing (stopped) Caddy container, if there is one.
    pub async fn from_container(docker: &Docker, ns: &Namespace) -> Option<Self> {
        let info = docker
            .inspect_container(
                &ns.container(CONTAINER),
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .ok()?;
        let config = info.config?;
        Some(Self {
            image: config.image?,
            env: config.env.unwrap_or_default(),
        })
    }
}
/// A stacklet's route file, beside its `stacklet.toml`.
pub const SNIPPET_FILE: &str = "caddy.snippet";
const CADDYFILE: &str = "Caddyfile";
const CANDIDATE: &str = "Caddyfile.candidate";
const CONF_D: &str = "conf.d";

/// One stacklet's `caddy.snippet` as its author wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippet {
    pub id: String,
    pub text: String,
}

impl Snippet {
    /// The stacklet's snippet, `None` when it has none.
    pub fn read(id: &str, stacklet_dir: &Path) -> Result<Option<Self>, CaddyError> {
        let path = stacklet_dir.join(SNIPPET_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(Self {
                id: id.to_string(),
                text,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CaddyError::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// Where people find it, for messages.
    pub fn display_path(&self) -> String {
        format!("stacklets/{}/{SNIPPET_FILE}", self.id)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CaddyError {
    #[error("Cannot {action} `{}`", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("The Caddy snippet of `{id}` (`{path}`) is invalid: {problem}")]
    Snippet {
        id: String,
        path: String,
        problem: String,
    },

    #[error("The Caddy snippets of `{other}` and `{id}` conflict: {problem}")]
    Conflict {
        id: String,
        other: String,
        problem: String,
    },

    #[error("Caddy rejected the assembled Caddyfile: {detail}")]
    Rejected { detail: String },

    #[error("`{CONTAINER}` does not mount `{}`, so it cannot read the assembled Caddyfile", .dir.display())]
    NotMounted { dir: PathBuf },

    #[error("Caddy did not load the new Caddyfile: {detail}")]
    Reload { detail: String },

    #[error("Cannot run `caddy` in `{CONTAINER}`: {detail}")]
    Unavailable { detail: String },

    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// What `apply` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Caddy validated and loaded the new Caddyfile.
    Reloaded { sites: Vec<String> },
    /// Caddy is not running: the Caddyfile waits for its next start. `checked`: a one-off Caddy
    /// of the core image validated it first.
    Written { sites: Vec<String>, checked: bool },
}

/// The assembled text and, per snippet, the lines it occupies (to name the stacklet behind a line
/// number in Caddy's error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assembly {
    pub text: String,
    pub sections: Vec<Section>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub id: String,
    /// 1-based line of the snippet's first line in the assembled file.
    pub first_line: usize,
    /// Number of lines of the snippet.
    pub lines: usize,
    /// The snippet as assembled (addresses prefixed where needed).
    pub text: String,
}

impl Assembly {
    /// The section holding assembled line `line`, with the line number inside its snippet.
    fn locate(&self, line: usize) -> Option<(&Section, usize)> {
        self.sections
            .iter()
            .find(|s| line >= s.first_line && line < s.first_line + s.lines)
            .map(|s| (s, line - s.first_line + 1))
    }
}

/// Assemble the Caddyfile from `snippets` (expected in id order): a header, then each snippet
/// under a comment naming its stacklet. Checks each snippet's structure first, so an unclosed
/// brace is blamed on its own stacklet instead of swallowing the next one's sites.
pub fn assemble(snippets: &[Snippet], https: bool) -> Result<Assembly, CaddyError> {
    let mut text = String::from(
        "# Assembled by `stack` from the caddy.snippet of every set-up stacklet, in id order.\n\
         # Rewritten on every `stack up` and `stack destroy` in domain mode: edit the snippets, not this file.\n",
    );
    if !https {
        text.push_str(
            "# [core].https = false: every site address is served over plain HTTP (`http://`).\n",
        );
    }
    if snippets.is_empty() {
        text.push_str("\n# No set-up stacklet has a caddy.snippet yet.\n");
    }
    let mut sections = Vec::new();
    for snippet in snippets {
        let body = if https {
            lex::check(&snippet.text).map(|()| snippet.text.clone())
        } else {
            lex::plain_http(&snippet.text)
        }
        .map_err(|problem| CaddyError::Snippet {
            id: snippet.id.clone(),
            path: snippet.display_path(),
            problem,
        })?;
        let mut body = body.trim_end().to_string();
        body.push('\n');
        text.push_str(&format!(
            "\n# ── {} ── {}\n",
            snippet.id,
            snippet.display_path()
        ));
        let first_line = text.lines().count() + 1;
        let lines = body.lines().count();
        text.push_str(&body);
        sections.push(Section {
            id: snippet.id.clone(),
            first_line,
            lines,
            text: body,
        });
    }
    text.push_str(&start_page_site(https));
    Ok(Assembly { text, sections })
}

/// The family start page at the bare domain, after the stacklets' sites. Core mounts
/// `.stack/start/` (rendered from `{start_page_dir}`) at [`START_PAGE_ROOT`]; `stack` rewrites the
/// page on every state change, so Caddy serves it as a static file.
fn start_page_site(https: bool) -> String {
    let scheme = if https { "" } else { "http://" };
    format!(
        "\n# ── start page ── the family start page, written by `stack` to .stack/start/\n\
         {scheme}{{$FAMSTACK_DOMAIN}} {{\n    root * {START_PAGE_ROOT}\n    file_server\n}}\n"
    )
}

/// Assemble, validate inside the running Caddy, write, reload. `docker` is `None` when the engine
/// cannot be reached: Caddy is then treated as not running. `dir` is `.stack/caddy`.
pub async fn apply(
    docker: Option<&Docker>,
    ns: &Namespace,
    dir: &Path,
    snippets: &[Snippet],
    https: bool,
    one_off: Option<&OneOffCaddy>,
) -> Result<Applied, CaddyError> {
    // `up all` brings up independent stacklets concurrently and each reassembles the routes: one
    // candidate file and one reload at a time, or one run renames the other's candidate away.
    static APPLYING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _applying = APPLYING.lock().await;
    let assembly = assemble(snippets, https)?;
    let sites: Vec<String> = snippets.iter().map(|s| s.id.clone()).collect();
    let caddy = match docker {
        Some(docker) => engine::container_mounts(docker, &ns.container(CONTAINER))
            .await?
            .filter(|c| c.running)
            .map(|c| {
                let caddy = Caddy {
                    docker,
                    ns,
                    one_off: None,
                    dir,
                };
                (caddy, c)
            }),
        None => None,
    };
    let Some((caddy, mounts)) = caddy else {
        // No Caddy runs to ask: check the file with a one-off Caddy of the core image before it
        // becomes the live Caddyfile, or the next `stack up core` would fail on it.
        let mut checked = false;
        if let (Some(docker), Some(one_off)) = (docker, one_off) {
            let caddy = Caddy {
                docker,
                ns,
                one_off: Some(one_off),
                dir,
            };
            let checking = Check::new(&caddy, ONE_OFF_DIR);
            match checking.check(snippets, https, &assembly).await {
                Ok(()) => checked = true,
                // The image is not on this machine, or cannot run `caddy`: written unchecked.
                Err(CaddyError::Unavailable { .. } | CaddyError::Engine(_)) => {}
                Err(blamed) => return Err(blamed),
            }
            let _ = std::fs::remove_file(&checking.candidate);
        }
        write(&dir.join(CADDYFILE), &assembly.text)?;
        sync_conf_d(dir, &assembly)?;
        return Ok(Applied::Written { sites, checked });
    };
    let inside = mount_point(dir, &mounts.binds).ok_or_else(|| CaddyError::NotMounted {
        dir: dir.to_path_buf(),
    })?;
    let checking = Check::new(&caddy, &inside);
    checking.check(snippets, https, &assembly).await?;
    let live = dir.join(CADDYFILE);
    let previous = std::fs::read(&live).ok();
    std::fs::rename(&checking.candidate, &live).map_err(|source| CaddyError::Io {
        action: "replace",
        path: live.clone(),
        source,
    })?;
    let reload = run(
        &caddy,
        &[
            "caddy",
            "reload",
            "--config",
            &format!("{inside}/{CADDYFILE}"),
            "--adapter",
            "caddyfile",
        ],
    )
    .await?;
    if let Err(output) = reload {
        // Validated yet not loaded (admin endpoint down, say): put back what Caddy still serves, so
        // its next start uses the same routes it runs now.
        if let Some(previous) = previous {
            let _ = write_bytes(&live, &previous);
        }
        return Err(CaddyError::Reload {
            detail: caddy_message(&output),
        });
    }
    sync_conf_d(dir, &assembly)?;
    Ok(Applied::Reloaded { sites })
}

/// One validation: which Caddy, and where the candidate file is for us and for it.
struct Check<'a> {
    caddy: &'a Caddy<'a>,
    /// `.stack/caddy/Caddyfile.candidate` on the host.
    candidate: PathBuf,
    /// The same file as `caddy` sees it.
    candidate_inside: String,
}

impl<'a> Check<'a> {
    /// Validation by `caddy`, which sees its `.stack/caddy` directory at `inside`.
    fn new(caddy: &'a Caddy<'a>, inside: &str) -> Self {
        Check {
            caddy,
            candidate: caddy.dir.join(CANDIDATE),
            candidate_inside: format!("{inside}/{CANDIDATE}"),
        }
    }

    /// Validate `assembly`; when Caddy rejects it, the error names the snippet to blame and the
    /// candidate is removed. When it passes, the candidate stays for the caller to use or remove.
    async fn check(
        &self,
        snippets: &[Snippet],
        https: bool,
        assembly: &Assembly,
    ) -> Result<(), CaddyError> {
        let verdict = validate(
            self.caddy,
            &self.candidate,
            &self.candidate_inside,
            &assembly.text,
        )
        .await?;
        let Err(output) = verdict else {
            return Ok(());
        };
        let blamed = blame(
            self.caddy,
            &self.candidate,
            &self.candidate_inside,
            snippets,
            https,
            assembly,
            &output,
        )
        .await;
        let _ = std::fs::remove_file(&self.candidate);
        Err(blamed)
    }
}

/// Write `text` as the candidate and run `caddy validate` on it. The inner `Err` carries Caddy's
/// output when it rejected the file; the outer one means Caddy could not be asked at all (no
/// `caddy` binary, container restarting, a write failure) — never a snippet's fault.
async fn validate(
    caddy: &Caddy<'_>,
    candidate: &Path,
    candidate_inside: &str,
    text: &str,
) -> Result<Result<(), Vec<String>>, CaddyError> {
    write(candidate, text)?;
    let argv = [
        "caddy",
        "validate",
        "--config",
        candidate_inside,
        "--adapter",
        "caddyfile",
    ];
    run(caddy, &argv).await
}

/// Turn a failed validation into an error naming the stacklet: by the line number Caddy gives,
/// else by validating growing prefixes of the snippet list (a duplicate site, say, has no line)
/// — the first prefix that fails ends with the culprit.
async fn blame(
    caddy: &Caddy<'_>,
    candidate: &Path,
    candidate_inside: &str,
    snippets: &[Snippet],
    https: bool,
    assembly: &Assembly,
    output: &[String],
) -> CaddyError {
    let message = caddy_message(output);
    if let Some(line) = line_in(&message, candidate_inside) {
        if let Some((section, at)) = assembly.locate(line) {
            let path = format!("stacklets/{}/{SNIPPET_FILE}", section.id);
            return CaddyError::Snippet {
                id: section.id.clone(),
                problem: message.replace(
                    &format!("{candidate_inside}:{line}"),
                    &format!("{path}:{at}"),
                ),
                path,
            };
        }
        return CaddyError::Rejected { detail: message };
    }
    let fails = |set: Vec<Snippet>| async move {
        let text = assemble(&set, https).ok()?.text;
        // Only a real rejection blames a snippet; if Caddy cannot be asked, nobody is blamed.
        match validate(caddy, candidate, candidate_inside, &text).await {
            Ok(Err(out)) => Some(caddy_message(&out)),
            Ok(Ok(())) | Err(_) => None,
        }
    };
    for end in 1..=snippets.len() {
        let Some(problem) = fails(snippets[..end].to_vec()).await else {
            continue;
        };
        let culprit = &snippets[end - 1];
        if let Some(alone) = fails(vec![culprit.clone()]).await {
            return CaddyError::Snippet {
                id: culprit.id.clone(),
                path: culprit.display_path(),
                problem: alone,
            };
        }
        // Fine alone, broken together (two stacklets claim one site): name both.
        for other in &snippets[..end - 1] {
            if fails(vec![other.clone(), culprit.clone()]).await.is_some() {
                return CaddyError::Conflict {
                    id: culprit.id.clone(),
                    other: other.id.clone(),
                    problem,
                };
            }
        }
        return CaddyError::Snippet {
            id: culprit.id.clone(),
            path: culprit.display_path(),
            problem,
        };
    }
    CaddyError::Rejected { detail: message }
}

/// Run `argv` in Caddy's container: `Ok(Ok(()))` on exit 0, `Ok(Err(output))` otherwise.
/// Exit 126/127 (the shell convention, which the engine's exec follows) means `caddy` itself
/// could not run — no binary, a broken image — which is never the Caddyfile's fault.
async fn run(caddy: &Caddy<'_>, argv: &[&str]) -> Result<Result<(), Vec<String>>, CaddyError> {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    let mut output = Vec::new();
    let mut on_line = |line: &str| output.push(line.to_string());
    let code = match caddy.one_off {
        None => engine::exec(caddy.docker, caddy.ns, CONTAINER, &argv, &mut on_line).await?,
        Some(one_off) => {
            let binds = [format!("{}:{ONE_OFF_DIR}:ro", caddy.dir.display())];
            let run = engine::OneOff {
                image: &one_off.image,
                argv: &argv,
                env: &one_off.env,
                binds: &binds,
                extra_hosts: &[],
            };
            match engine::run_once(caddy.docker, caddy.ns, &run, &mut on_line).await? {
                Some(code) => code,
                None => {
                    return Err(CaddyError::Unavailable {
                        detail: format!("the image `{}` is not on this machine", one_off.image),
                    });
                }
            }
        }
    };
    match code {
        0 => Ok(Ok(())),
        126 | 127 => Err(CaddyError::Unavailable {
            detail: caddy_message(&output),
        }),
        _ => Ok(Err(output)),
    }
}

/// Caddy's own words without its JSON log lines: the `Error:` line(s), else the last line.
fn caddy_message(output: &[String]) -> String {
    let plain: Vec<&str> = output
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with('{'))
        .collect();
    let errors: Vec<&str> = plain
        .iter()
        .filter_map(|l| l.strip_prefix("Error: "))
        .collect();
    if !errors.is_empty() {
        // Every Caddyfile error starts with this; it tells a reader nothing.
        return errors
            .iter()
            .map(|e| e.trim_start_matches("adapting config using caddyfile: "))
            .collect::<Vec<_>>()
            .join("; ");
    }
    plain
        .last()
        .map(|l| l.to_string())
        .or_else(|| output.last().cloned())
        .unwrap_or_else(|| "no output".into())
}

/// The line number in `<file>:<n>` of Caddy's message.
fn line_in(message: &str, file: &str) -> Option<usize> {
    let at = message.find(&format!("{file}:"))? + file.len() + 1;
    let digits: String = message[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Where the container sees `dir`: the destination of the bind mount whose source is `dir`.
fn mount_point(dir: &Path, binds: &[engine::BindMount]) -> Option<String> {
    let want = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    binds
        .iter()
        .find(|b| b.source == dir || b.source.canonicalize().is_ok_and(|s| s == want))
        .map(|b| b.destination.trim_end_matches('/').to_string())
}

/// `conf.d/<id>.snippet` for exactly the snippets in `assembly`; stale ones (destroyed
/// stacklets) are removed.
fn sync_conf_d(dir: &Path, assembly: &Assembly) -> Result<(), CaddyError> {
    let conf_d = dir.join(CONF_D);
    for section in &assembly.sections {
        write(
            &conf_d.join(format!("{}.snippet", section.id)),
            &section.text,
        )?;
    }
    let keep: Vec<String> = assembly
        .sections
        .iter()
        .map(|s| format!("{}.snippet", s.id))
        .collect();
    if let Ok(entries) = std::fs::read_dir(&conf_d) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".snippet") && !keep.contains(&name) {
                let path = entry.path();
                std::fs::remove_file(&path).map_err(|source| CaddyError::Io {
                    action: "remove",
                    path,
                    source,
                })?;
            }
        }
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), CaddyError> {
    write_bytes(path, text.as_bytes())
}

/// Atomic, mode 0644: Caddy may run as another user than `stack`, and routes hold no secrets.
fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), CaddyError> {
    crate::atomic::write_keeping_mode(path, bytes).map_err(|source| CaddyError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests;
