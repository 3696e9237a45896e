//! Shell completion and man pages, from the one clap command tree.
//!
//! Completion is dynamic (clap_complete's `CompleteEnv`): the registration script that
//! `stack completions <shell>` prints makes the shell call `stack` itself with `COMPLETE=<shell>` on
//! every TAB, and only then is the tree extended with what the instance in the current directory
//! (or `STACK_DIR`) holds: each stacklet id as a subcommand whose own subcommands are its
//! `cli/<command>.py` files (with their `HELP`), and the ids as values of every verb's id argument.
//! Completing never prints anything but candidates, and a repo that cannot be read completes only
//! the verbs. Man pages are rendered with clap_mangen from the plain tree (no stacklets).

use std::path::Path;

use clap::CommandFactory;
use clap_complete::engine::CompletionCandidate;

use crate::cli::Cli;
use crate::instance::Instance;
use crate::stacklet::Catalog;

/// The shells `stack completions` writes a registration script for.
pub const SHELLS: [&str; 3] = ["bash", "zsh", "fish"];

/// The variable clap_complete reads to know it is being asked for candidates.
const VAR: &str = "COMPLETE";

/// Answer a completion request and exit when `COMPLETE` is set; otherwise return at once.
pub fn answer_if_asked() {
    clap_complete::CompleteEnv::with_factory(command_with_stacklets)
        .var(VAR)
        .complete();
}

/// The registration script for `shell` (one of [`SHELLS`]): it calls `stack` for candidates.
pub fn registration(shell: &str) -> Option<String> {
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells.completer(shell)?;
    let mut buf = Vec::new();
    completer
        .write_registration(VAR, "stack", "stack", "stack", &mut buf)
        .ok()?;
    String::from_utf8(buf).ok()
}

/// Write `stack.1` and one page per verb (`stack-up.1`, …) into `dir`.
pub fn write_man_pages(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let cmd = Cli::command();
    clap_mangen::generate_to(cmd, dir)?;
    let mut pages: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "1"))
        .collect();
    pages.sort();
    Ok(pages)
}

/// The command tree with this instance's stacklets added (see the module comment).
pub fn command_with_stacklets() -> clap::Command {
    let cmd = Cli::command();
    match stacklets() {
        Some(catalog) => add_stacklets(cmd, &catalog),
        None => cmd,
    }
}

fn stacklets() -> Option<Catalog> {
    let cwd = std::env::current_dir().ok()?;
    let root = std::env::var("STACK_ROOT").ok();
    let dir = std::env::var("STACK_DIR").ok();
    let instance = Instance::discover(&cwd, root.as_deref(), dir.as_deref()).ok()?;
    Catalog::load(&instance).ok()
}

/// `stack <id> <command>`: each stacklet as a subcommand holding its own commands (with the first
/// line of their `HELP`). An id that is also a verb stays the verb, as on the command line.
fn add_stacklets(mut cmd: clap::Command, catalog: &Catalog) -> clap::Command {
    let verbs: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for id in catalog.ids() {
        let Some(stacklet) = catalog.get(id) else {
            continue;
        };
        if verbs.iter().any(|v| v == id) {
            continue;
        }
        let mut sub =
            clap::Command::new(id.to_string()).about(stacklet.manifest.description.clone());
        for (command, help) in crate::hooks::list_cli(&stacklet.dir) {
            let mut c = clap::Command::new(command);
            if let Some(help) = help {
                c = c.about(help.lines().next().unwrap_or_default().to_string());
            }
            sub = sub.subcommand(c);
        }
        cmd = cmd.subcommand(sub);
    }
    cmd
}

/// Candidates for a verb's stacklet id (only computed while completing).
pub fn stacklet_ids() -> Vec<CompletionCandidate> {
    stacklets().map_or_else(Vec::new, |catalog| {
        catalog
            .ids()
            .filter_map(|id| {
                let about = catalog.get(id)?.manifest.description.clone();
                Some(CompletionCandidate::new(id).help(Some(about.into())))
            })
            .collect()
    })
}

/// [`stacklet_ids`] plus `all`, for `up` and `down`.
pub fn stacklet_targets() -> Vec<CompletionCandidate> {
    let mut ids = stacklet_ids();
    ids.push(CompletionCandidate::new("all").help(Some("every stacklet".into())));
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_has_a_registration_that_calls_stack() {
        for shell in SHELLS {
            let script = registration(shell).unwrap();
            assert!(script.contains("COMPLETE"), "{shell}: {script}");
            assert!(script.contains("stack"), "{shell}: {script}");
        }
        assert_eq!(registration("tcsh"), None);
    }

    #[test]
    fn man_pages_cover_the_verbs() {
        let tmp = tempfile::tempdir().unwrap();
        let pages = write_man_pages(tmp.path()).unwrap();
        let names: Vec<String> = pages
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for page in ["stack.1", "stack-up.1", "stack-completions.1"] {
            assert!(names.iter().any(|n| n == page), "{page} in {names:?}");
        }
        let main = std::fs::read_to_string(tmp.path().join("stack.1")).unwrap();
        assert!(main.contains(".TH stack 1"), "{main}");
    }
}
