//! `up`, `down`, `restart`, `destroy`, `uninstall`, `setup`: the state-changing verbs. Each takes
//! the instance lock for its whole run.

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::cli::{DestroyArgs, IdArgs, TargetArgs, UninstallArgs, UpArgs};
use crate::error::UserError;
use crate::history::{Action, Event};
use crate::hooks::HookName;
use crate::lifecycle::down::{self, UninstallPlan};
use crate::lifecycle::target::Target;
use crate::lifecycle::{Session, all, state, up};
use crate::output::Printer;
use crate::render::env;
use crate::stacklet::graph;

/// The stacklet a `<id>|all` command is about, for [`Session::open`]'s `focus`.
fn focus(target: &str) -> Option<&str> {
    (target != "all").then_some(target)
}

pub async fn up_cmd(printer: &Printer, args: &UpArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open_locked(printer, focus(&args.target), !args.lock.no_wait)?;
    session.regenerate_secrets = args.regenerate_secrets;
    let result = up_target(&mut session, &args.target).await;
    refresh_start_page(&mut session).await;
    result
}

async fn up_target(session: &mut Session, target: &str) -> anyhow::Result<ExitCode> {
    if target != "all" {
        let result = up::up(session, target).await;
        session.record(Event::from_result(target, Action::Up, "running", &result));
        result?;
        return Ok(ExitCode::SUCCESS);
    }
    let plan = all::up_plan(session).await?;
    // Set-up stacklets that are broken are not started; each is a failure with its problem.
    let broken = all::broken_set_up(session).await?;
    if plan.is_empty() && broken.is_empty() {
        session
            .printer
            .note("Nothing is set up yet: start with `stack up <id>`");
    }
    let mut failures = all::up_all(session, &plan).await;
    failures.extend(broken);
    super::finish_all(&session.printer, failures)
}

/// Rewrite the family start page after a state change, whatever its outcome: a failed `up` may
/// leave a stacklet running, a failed `down` one stopped. A page that cannot be written is a
/// warning, never the command's failure.
async fn refresh_start_page(session: &mut Session) {
    match crate::lifecycle::start_page::refresh(session).await {
        Ok(path) => session
            .printer
            .debug(format!("Start page written to `{}`", path.display())),
        Err(e) => session.printer.warn(format!("{e:#}")),
    }
}

pub async fn down_cmd(printer: &Printer, args: &TargetArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open_locked(printer, focus(&args.target), !args.lock.no_wait)?;
    let result = down_target(&mut session, &args.target).await;
    refresh_start_page(&mut session).await;
    result
}

async fn down_target(session: &mut Session, target: &str) -> anyhow::Result<ExitCode> {
    if target != "all" {
        let result = down::down(session, target).await;
        // Nothing to stop (not set up) is no state change and no event.
        if !matches!(result, Ok(false)) {
            session.record(Event::from_result(target, Action::Down, "stopped", &result));
        }
        result?;
        return Ok(ExitCode::SUCCESS);
    }
    let plan = all::down_plan(session).await?;
    if plan.is_empty() {
        session.printer.note("Nothing is running");
    }
    let failures = all::down_all(session, &plan).await;
    super::finish_all(&session.printer, failures)
}

pub async fn restart_cmd(printer: &Printer, args: &IdArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open_locked(printer, Some(&args.id), !args.lock.no_wait)?;
    let result = match down::down(&mut session, &args.id).await {
        Ok(_) => up::up(&mut session, &args.id).await,
        Err(e) => Err(e),
    };
    session.record(Event::from_result(
        &args.id,
        Action::Restart,
        "running",
        &result,
    ));
    refresh_start_page(&mut session).await;
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Ask for a typed word on a terminal; without a terminal, refuse (the caller says how to force).
fn confirm(printer: &Printer, prompt: &str, word: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    printer.note(format!("{prompt}\nType `{word}` to continue:"));
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == word)
}

pub async fn destroy_cmd(printer: &Printer, args: &DestroyArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open_locked(printer, Some(&args.id), !args.lock.no_wait)?;
    let target = Target::resolve(&session.ws.catalog, &args.id)?;
    down::check_destroyable(&mut session, &target).await?;
    if !args.yes {
        let data = session.ws.config.data_dir.join(&args.id);
        let prompt = format!(
            "This removes `{}`'s containers, volumes, secrets and data in `{}`.",
            args.id,
            data.display()
        );
        if !std::io::stdin().is_terminal() {
            return Err(UserError::new(format!(
                "Refusing to destroy `{}` without confirmation",
                args.id
            ))
            .hint(format!("run `stack destroy {} --yes`", args.id))
            .into());
        }
        if !confirm(printer, &prompt, "destroy")? {
            printer.note("Nothing was changed");
            return Ok(ExitCode::FAILURE);
        }
    }
    let result = down::destroy(&mut session, &args.id).await;
    session.record(Event::from_result(
        &args.id,
        Action::Destroy,
        "containers, volumes, secrets and data removed",
        &result,
    ));
    refresh_start_page(&mut session).await;
    result?;
    printer.status("Destroyed", target.name);
    Ok(ExitCode::SUCCESS)
}

pub async fn uninstall_cmd(printer: &Printer, args: &UninstallArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open_locked(printer, None, !args.lock.no_wait)?;
    for id in &args.keep {
        session.ws.catalog.entry(id)?;
    }
    // Broken stacklets first: nothing is known about what depends on them.
    let remove: Vec<String> = session
        .ws
        .catalog
        .broken
        .iter()
        .map(|b| b.id.clone())
        .chain(graph::reverse_order(&session.ws.catalog.stacklets)?)
        .filter(|id| !args.keep.contains(id))
        .collect();
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(UserError::new("Refusing to uninstall without confirmation")
                .hint("run `stack uninstall --yes`")
                .into());
        }
        let prompt = format!(
            "This removes {} stacklet(s), the `stack` network, `.stack/`, `stack.toml` and `users.toml`.",
            remove.len()
        );
        if !confirm(printer, &prompt, "uninstall")? {
            printer.note("Nothing was changed");
            return Ok(ExitCode::FAILURE);
        }
    }
    let delete_data = args.delete_data
        || confirm(
            printer,
            &format!(
                "Also delete the data in `{}`? (Anything else keeps it.)",
                session.ws.config.data_dir.display()
            ),
            "delete",
        )?;
    let plan = UninstallPlan {
        remove,
        keep: args.keep.clone(),
        delete_data,
    };
    let result = down::uninstall(&mut session, &plan).await;
    // Without `--not`, a successful uninstall removed `.stack/` and the history with it: writing
    // an event would bring the directory back. Kept stacklets keep the history, and a failed
    // uninstall leaves `.stack/` in place, so the event says what happened.
    if session.ws.instance.state_dir().is_dir() {
        for id in &plan.remove {
            session.record(Event::from_result(
                id,
                Action::Uninstall,
                "removed",
                &result,
            ));
        }
    }
    result?;
    printer.status("Uninstalled", "back to a fresh clone");
    Ok(ExitCode::SUCCESS)
}

pub async fn setup_cmd(printer: &Printer, args: &IdArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open_locked(printer, Some(&args.id), !args.lock.no_wait)?;
    let stacklet = session.ws.catalog.require(&args.id)?.clone();
    let current = state::of(&mut session, &stacklet).await?;
    if !matches!(current, state::State::Running | state::State::Degraded(_)) {
        return Err(UserError::new(format!(
            "`{}` is {}; `setup` needs it running",
            args.id,
            current.label()
        ))
        .hint(format!("stack up {}", args.id))
        .into());
    }
    let result = run_setup(&session, &stacklet).await;
    let detail = match &result {
        Ok(true) => "on_install_success ran",
        _ => "no on_install_success hook; marked set up",
    };
    session.record(Event::from_result(&args.id, Action::Setup, detail, &result));
    if !result? {
        printer.note(format!("`{}` has no `on_install_success` hook", args.id));
    }
    Ok(ExitCode::SUCCESS)
}

/// `on_install_success`, then the marker. Returns whether the hook exists.
async fn run_setup(
    session: &Session,
    stacklet: &crate::stacklet::Stacklet,
) -> anyhow::Result<bool> {
    let rendered = env::render(&session.ws, stacklet, &session.lan_ip)?;
    let ran = session
        .run_hook(stacklet, HookName::OnInstallSuccess, &rendered)
        .await?;
    session.ws.instance.mark_set_up(stacklet.id())?;
    Ok(ran)
}
