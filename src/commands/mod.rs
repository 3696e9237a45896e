//! Command dispatch: each verb turns its clap arguments into options, calls the domain and renders
//! the result. `run` returns the exit code; `exit` renders an error once, with its hints.

mod backup;
mod bots;
mod completions;
mod config;
mod docker;
mod doctor;
mod env;
mod history;
mod install;
mod lifecycle;
mod lint;
mod list;
mod new;
mod plan;
mod schedule;
pub mod serve;
mod stacklet;
mod update;
mod version;

use std::process::ExitCode;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::error::{ExitKind, Report, UserError, closest};
use crate::lifecycle::Session;
use crate::output::{Printer, Verbosity};

pub fn verbosity(global: &GlobalArgs) -> Verbosity {
    if global.quiet {
        Verbosity::Quiet
    } else if global.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    }
}

/// Whether the arguments (without the program name) are exactly `--version` or `-V`: the one-line
/// version, which `crate::run` answers before parsing the full command line and starting the
/// runtime. Any other combination (`--version --verbose`, `-V -q`) goes through clap as usual.
pub fn is_plain_version(mut args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    matches!(
        (args.next(), args.next()),
        (Some(a), None) if a == "--version" || a == "-V"
    )
}

/// `stack --version`: one line, nothing else loaded.
pub fn version_only(printer: &Printer) -> anyhow::Result<ExitCode> {
    version::version(printer, false)
}

pub async fn run(cli: Cli, printer: Printer) -> anyhow::Result<ExitCode> {
    if cli.version {
        return version::version(&printer, cli.global.verbose);
    }
    let Some(command) = cli.command else {
        print_help();
        suggest_install(&printer);
        return Ok(ExitCode::SUCCESS);
    };
    match command {
        Command::Version => version::version(&printer, true),
        Command::Completions(args) => completions::completions(&printer, &args),
        Command::Man(args) => completions::man(&printer, &args),
        Command::Help => {
            print_help();
            Ok(ExitCode::SUCCESS)
        }
        Command::Up(args) => lifecycle::up_cmd(&printer, &args).await,
        Command::Down(args) => lifecycle::down_cmd(&printer, &args).await,
        Command::Restart(args) => lifecycle::restart_cmd(&printer, &args).await,
        Command::Destroy(args) => lifecycle::destroy_cmd(&printer, &args).await,
        Command::Uninstall(args) => lifecycle::uninstall_cmd(&printer, &args).await,
        Command::Setup(args) => lifecycle::setup_cmd(&printer, &args).await,
        Command::Init => docker::init(&printer).await,
        Command::Ps(args) => docker::ps(&printer, &args).await,
        Command::Logs(args) => docker::logs(&printer, &args).await,
        Command::Doctor(args) => doctor::doctor(&printer, &args).await,
        Command::Update(args) => update::update_cmd(&printer, &args).await,
        Command::History(args) => history::history(&printer, &args),
        Command::Plan(args) => plan::plan(&printer, &args).await,
        Command::Backup(args) => backup::backup(&printer, &args).await,
        Command::Restore(args) => backup::restore(&printer, &args).await,
        Command::Lint(args) => lint::lint(&printer, &args),
        Command::Serve(args) => serve::serve(&printer, &args).await,
        Command::New(args) => new::new(&printer, &args).await,
        Command::Install(args) => install::install(&printer, &args).await,
        Command::List(args) => list::list(&printer, args.json).await,
        Command::Status(args) => list::status(&printer, args.json).await,
        Command::Env(args) => env::env(&printer, &args).await,
        Command::Config(args) => config::config(&printer, &args),
        Command::Bots(args) => bots::bots_cmd(&printer, &args).await,
        Command::External(words) => external(&printer, words).await,
    }
}

/// A bare `stack` on a terminal in a checkout without `stack.toml`: point at the wizard.
fn suggest_install(printer: &Printer) {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return;
    }
    let Ok(cwd) = std::env::current_dir() else {
        return;
    };
    let root = std::env::var("STACK_ROOT").ok();
    let dir = std::env::var("STACK_DIR").ok();
    if let Ok(instance) = crate::instance::Instance::discover(&cwd, root.as_deref(), dir.as_deref())
        && !instance.config_file().exists()
    {
        printer.note(format!(
            "\nNo `stack.toml` in `{}` yet: run `stack install` to set up this machine.",
            instance.dir.display()
        ));
    }
}

fn print_help() {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let _ = cmd.print_help();
}

/// `stack <word> …` where `<word>` is not a verb: a stacklet's own command, or a usage error.
async fn external(printer: &Printer, words: Vec<String>) -> anyhow::Result<ExitCode> {
    let first = words.first().cloned().unwrap_or_default();
    let mut session = Session::open(printer, Some(&first))?;
    let ws = &session.ws;
    if let Some(broken) = ws.catalog.broken(&first) {
        return Err(broken.problem.clone().into());
    }
    let Some(target) = ws.catalog.get(&first).cloned() else {
        // The verbs (and their aliases) as clap knows them, so hints never drift from the CLI.
        let cli = <Cli as clap::CommandFactory>::command();
        let verbs: Vec<&str> = cli
            .get_subcommands()
            .flat_map(|c| std::iter::once(c.get_name()).chain(c.get_all_aliases()))
            .collect();
        let candidates = verbs.into_iter().chain(ws.catalog.ids());
        let err = UserError::usage(format!("Unknown command or stacklet `{first}`"));
        let err = match closest(&first, candidates) {
            Some(c) => err.hint(format!("did you mean `stack {c}`?")),
            None => {
                err.hint("run `stack help` for the commands and `stack list` for the stacklets")
            }
        };
        return Err(err.into());
    };
    stacklet::run(&mut session, &target, &words[1..]).await
}

/// Render every failure of a command over several stacklets (`up all`, `backup all`, drills)
/// but the last, which becomes the command's error (so the exit code and the final `error:` line
/// stay as for one stacklet).
pub fn finish_all(
    printer: &Printer,
    mut failures: Vec<crate::lifecycle::all::Failure>,
) -> anyhow::Result<ExitCode> {
    let Some((_, last)) = failures.pop() else {
        return Ok(ExitCode::SUCCESS);
    };
    for (_, err) in failures {
        exit(Err(err), printer);
    }
    Err(last)
}

/// Render an error once and choose the exit code: 2 for usage errors, 1 otherwise.
pub fn exit(result: anyhow::Result<ExitCode>, printer: &Printer) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            let mut report = Report::new(err.chain());
            for hint in domain_hints(&err) {
                if !report.hints.contains(&hint) {
                    report.hints.push(hint);
                }
            }
            printer.failure(&report);
            match report.kind {
                ExitKind::Usage => ExitCode::from(2),
                ExitKind::Failure => ExitCode::FAILURE,
                ExitKind::Stopped(status) => ExitCode::from(status),
            }
        }
    }
}

/// The `hint:` lines domain errors carry (engine, compose), wherever they sit in the chain.
fn domain_hints(err: &anyhow::Error) -> Vec<String> {
    err.chain()
        .filter_map(|e| {
            e.downcast_ref::<crate::engine::EngineError>()
                .and_then(crate::engine::EngineError::hint)
                .or_else(|| {
                    e.downcast_ref::<crate::compose::ComposeError>()
                        .and_then(crate::compose::ComposeError::hint)
                })
                .or_else(|| {
                    e.downcast_ref::<crate::hooks::HookError>()
                        .and_then(crate::hooks::HookError::hint)
                        .map(str::to_string)
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::is_plain_version;
    use std::ffi::OsString;

    fn args(words: &[&str]) -> impl Iterator<Item = OsString> {
        words
            .iter()
            .map(OsString::from)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn only_a_lone_version_flag_takes_the_short_path() {
        assert!(is_plain_version(args(&["--version"])));
        assert!(is_plain_version(args(&["-V"])));
        assert!(!is_plain_version(args(&[])));
        assert!(!is_plain_version(args(&["--version", "--verbose"])));
        assert!(!is_plain_version(args(&["-V", "-q"])));
        assert!(!is_plain_version(args(&["version"])));
        assert!(!is_plain_version(args(&["--versions"])));
    }
}
