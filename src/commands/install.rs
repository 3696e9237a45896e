//! `stack install`: the first-run wizard. Checks the machine (container engine, its version, free
//! disk, the embedded Python), shows existing config files and keeps them, asks the questions
//! (terminal prompts with arrow keys and validation, `dialoguer`) or takes them from flags
//! (`--yes`), writes `stack.toml` and `users.toml`, and offers to bring up `core` and a first
//! stacklet. The rules and the files are `install`'s; this file only asks and shows.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};
use dialoguer::{Confirm, Input, Select};

use crate::cli::{InstallArgs, LockArgs, UpArgs};
use crate::error::UserError;
use crate::install::{self, Answers, Member, Written, checks, detect};
use crate::output::Printer;
use crate::stacklet::manifest::StackletType;
use crate::workspace::Workspace;

pub async fn install(printer: &Printer, args: &InstallArgs) -> anyhow::Result<ExitCode> {
    let interactive = !args.yes;
    if interactive && !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(UserError::usage(
            "`stack install` asks its questions on a terminal, and there is none",
        )
        .hint("pass `--yes` with the answers as flags, e.g. `stack install --yes --family Smith --admin Arthur --member Sarah`")
        .into());
    }
    let ws = Workspace::load(printer)?;
    let theme: Box<dyn Theme> = if printer.color() {
        Box::new(ColorfulTheme::default())
    } else {
        Box::new(SimpleTheme)
    };
    let ask = Ask {
        printer,
        theme: theme.as_ref(),
        interactive,
        wrote: std::cell::Cell::new(false),
    };

    printer.note(format!(
        "{}\nThis sets up this machine for your family's services. Nothing leaves this machine.\n",
        printer.bold("stack — your family's private server")
    ));
    let engine_ok = check_machine(printer).await;

    let stack_toml = ws.instance.config_file();
    let users_toml = ws.instance.users_file();
    let existing: Vec<&Path> = [stack_toml.as_path(), users_toml.as_path()]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
    for path in &existing {
        show_existing(printer, path);
        let keep = ask.confirm(
            &format!(
                "Keep `{}` as it is? (`stack install` never overwrites it)",
                file_name(path)
            ),
            true,
        )?;
        if !keep {
            return Err(UserError::new(format!(
                "Nothing was changed: `stack install` never overwrites `{}`",
                path.display()
            ))
            .hint(format!(
                "move it away first (`mv {0} {0}.old`), then run `stack install` again",
                path.display()
            ))
            .into());
        }
    }

    if existing.len() < 2 {
        let answers = questions(printer, &ask, args, &ws.instance)?;
        let member_stacklets: Vec<String> = ws
            .catalog
            .stacklets
            .iter()
            .filter(|s| s.manifest.login_field.is_some())
            .map(|s| s.id().to_string())
            .collect();
        if interactive {
            summary(printer, &answers);
            if !ask.confirm("Write stack.toml and users.toml?", true)? {
                printer.note("Nothing was written");
                return Ok(ExitCode::FAILURE);
            }
        }
        for (path, text) in [
            (&stack_toml, install::stack_toml(&answers)),
            (
                &users_toml,
                install::users_toml(&answers, &member_stacklets),
            ),
        ] {
            let outcome = install::create_unless_exists(path, &text).map_err(|e| {
                UserError::new(format!("Cannot write `{}`", path.display())).because(e)
            })?;
            match outcome {
                Written::Created(p) => printer.status("Created", p.display()),
                Written::Kept(p) => printer.status("Kept", p.display()),
            }
        }
    } else {
        printer.status("Kept", "stack.toml and users.toml");
    }
    ask.wrote.set(true);

    let to_start = choose_stacklets(printer, &ask, args, &ws, engine_ok)?;
    for id in &to_start {
        let target = UpArgs {
            target: id.clone(),
            regenerate_secrets: false,
            lock: LockArgs { no_wait: false },
        };
        super::lifecycle::up_cmd(printer, &target).await?;
    }
    let start_page = crate::start_page::path(&ws.instance);
    printer.note(format!(
        "\nDone. Next:\n  stack list                 what is available and running\n  stack up <stacklet>        start another service\n  {}   the family start page (every running service, with QR codes)",
        start_page.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// Prompts, or in `--yes` mode the flag value or default, through one door.
struct Ask<'a> {
    printer: &'a Printer,
    theme: &'a dyn Theme,
    interactive: bool,
    /// Whether the config files were written (for what an interruption left behind).
    wrote: std::cell::Cell<bool>,
}

impl Ask<'_> {
    /// A prompt that ended without an answer: Ctrl-C (or the terminal going away).
    fn stopped(&self, e: dialoguer::Error) -> UserError {
        // The prompt line is still open: end it so the message starts on its own line.
        self.printer.note("");
        let what = if self.wrote.get() {
            "The wizard stopped after writing `stack.toml` and `users.toml`; nothing was started"
        } else {
            "The wizard stopped; nothing was written"
        };
        UserError::new(what).because(e)
    }

    /// A line of text with a default and a validation rule. Non-interactive: `given` or the
    /// default, validated the same way.
    fn text(
        &self,
        prompt: &str,
        given: Option<&str>,
        default: &str,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> Result<String, UserError> {
        let initial = given.unwrap_or(default).to_string();
        if !self.interactive {
            check(&initial).map_err(|e| UserError::usage(format!("{prompt}: {e}")))?;
            return Ok(initial);
        }
        let mut input = Input::<String>::with_theme(self.theme).with_prompt(prompt);
        if !initial.is_empty() {
            input = input.default(initial);
        }
        input
            .validate_with(|value: &String| check(value.trim()))
            .interact()
            .map(|v| v.trim().to_string())
            .map_err(|e| self.stopped(e))
    }

    /// Optional text: empty is allowed (and ends a list).
    fn optional(&self, prompt: &str) -> Result<String, UserError> {
        Input::<String>::with_theme(self.theme)
            .with_prompt(prompt)
            .allow_empty(true)
            .interact()
            .map(|v| v.trim().to_string())
            .map_err(|e| self.stopped(e))
    }

    fn confirm(&self, prompt: &str, default: bool) -> Result<bool, UserError> {
        if !self.interactive {
            return Ok(default);
        }
        Confirm::with_theme(self.theme)
            .with_prompt(prompt)
            .default(default)
            .interact()
            .map_err(|e| self.stopped(e))
    }

    fn select(&self, prompt: &str, items: &[String], default: usize) -> Result<usize, UserError> {
        if !self.interactive {
            return Ok(default);
        }
        Select::with_theme(self.theme)
            .with_prompt(prompt)
            .items(items)
            .default(default)
            .interact()
            .map_err(|e| self.stopped(e))
    }
}

async fn check_machine(printer: &Printer) -> bool {
    let engine_ok = match checks::engine().await {
        Ok(engine) => {
            printer.status(
                "Found",
                format!(
                    "{} {} (API {})",
                    engine.product, engine.version, engine.api_version
                ),
            );
            if !engine.api_supported() {
                printer.warn(format!(
                    "This engine's API {} is older than {}.{}, the oldest `stack` is tested with; update it",
                    engine.api_version,
                    checks::MIN_API.0,
                    checks::MIN_API.1
                ));
            }
            true
        }
        Err(e) => {
            printer.warn(format!(
                "No container engine answers ({e}); services cannot start until one runs"
            ));
            printer.note(format!(
                "  Install one with:  {}",
                checks::install_command(std::env::consts::OS)
            ));
            if std::env::consts::OS == "macos" {
                printer.note("  Already installed? Start OrbStack (or Docker Desktop) and run `stack install` again.");
            }
            false
        }
    };
    match crate::hooks::python_version().await {
        Ok(version) => printer.status("Found", format!("Python {version} (embedded, runs hooks)")),
        Err(e) => printer.warn(format!(
            "The embedded Python cannot run, so stacklet hooks will fail: {e}"
        )),
    }
    engine_ok
}

fn show_existing(printer: &Printer, path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let shown: Vec<String> = text.lines().map(|l| format!("  │ {l}")).collect();
    printer.note(format!(
        "`{}` already exists:\n{}\n",
        path.display(),
        shown.join("\n")
    ));
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `NAME` or `NAME:ID`.
fn split_member(raw: &str) -> (String, Option<String>) {
    match raw.rsplit_once(':') {
        Some((name, id)) => (name.trim().to_string(), Some(id.trim().to_string())),
        None => (raw.trim().to_string(), None),
    }
}

fn questions(
    printer: &Printer,
    ask: &Ask<'_>,
    args: &InstallArgs,
    instance: &crate::instance::Instance,
) -> Result<Answers, UserError> {
    if ask.interactive {
        printer
            .note("\nYour family name names your server; it shows up in chat ids as @you:family.");
    }
    let family = ask.text(
        "Family name",
        args.family.as_deref(),
        install::DEFAULT_FAMILY,
        install::check_name,
    )?;
    let server_name = ask.text(
        "Matrix server name (permanent: part of every chat id)",
        args.server_name.as_deref(),
        &install::server_name(&family),
        install::check_server_name,
    )?;

    if ask.interactive {
        printer.note("\nNow the admin: you, the one who looks after the server.");
    }
    let (admin_name, admin_id) = match (&args.admin, ask.interactive) {
        (Some(raw), _) => split_member(raw),
        (None, true) => (String::new(), None),
        (None, false) => {
            return Err(
                UserError::usage("`stack install --yes` needs `--admin NAME[:ID]`")
                    .hint("e.g. `stack install --yes --family Smith --admin Arthur`"),
            );
        }
    };
    let admin_name = ask.text(
        "Your name",
        Some(&admin_name)
            .filter(|n| !n.is_empty())
            .map(String::as_str),
        "",
        install::check_name,
    )?;
    let admin_id = ask.text(
        "Your id (your login)",
        admin_id.as_deref(),
        &install::member_id(&admin_name),
        |id| install::check_member_id(id, &[]),
    )?;
    let admin = Member {
        id: admin_id,
        name: admin_name,
    };

    let mut members: Vec<Member> = Vec::new();
    let taken = |members: &[Member], admin: &Member| -> Vec<String> {
        std::iter::once(admin.id.clone())
            .chain(members.iter().map(|m| m.id.clone()))
            .collect()
    };
    for raw in &args.members {
        let (name, id) = split_member(raw);
        let ids = taken(&members, &admin);
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let id = ask.text(
            &format!("Id of {name}"),
            id.as_deref(),
            &install::member_id(&name),
            |id| install::check_member_id(id, &refs),
        )?;
        install::check_name(&name).map_err(|e| UserError::usage(format!("--member: {e}")))?;
        members.push(Member { id, name });
    }
    if ask.interactive {
        printer.note("\nFamily members get their own accounts. Add as many as you like; you can edit users.toml later.");
        loop {
            let name = ask.optional("Another family member's name (empty to finish)")?;
            if name.is_empty() {
                break;
            }
            let ids = taken(&members, &admin);
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let id = ask.text(
                &format!("{name}'s id"),
                None,
                &install::member_id(&name),
                |id| install::check_member_id(id, &refs),
            )?;
            members.push(Member { id, name });
        }
    }

    let detected = detect::timezone();
    let timezone = ask.text(
        "Time zone",
        args.timezone.as_deref(),
        &detected,
        install::check_timezone,
    )?;
    let language = ask.text(
        "Language",
        args.language.as_deref(),
        detect::language(&timezone),
        install::check_language,
    )?;

    let modes = [
        "Port mode    http://<this machine>:<port>, nothing else to set up".to_string(),
        "Domain mode  http://<service>.<domain> through Caddy (needs DNS)".to_string(),
    ];
    let domain_mode = match &args.domain {
        Some(_) => true,
        None => ask.select("How should the family reach the services?", &modes, 0)? == 1,
    };
    let domain = if domain_mode {
        Some(ask.text(
            "Domain",
            args.domain.as_deref(),
            "home.internal",
            install::check_domain,
        )?)
    } else {
        None
    };
    let data_dir = ask.text(
        "Data folder (every service's files live below it)",
        args.data_dir.as_deref(),
        crate::config::DEFAULT_DATA_DIR,
        |d| {
            if d.trim().is_empty() {
                Err("a folder is needed".into())
            } else {
                Ok(())
            }
        },
    )?;
    let resolved = instance.resolve_data_dir(&data_dir);
    match crate::disk::free(&resolved) {
        Some(free) if free < checks::LOW_DISK => printer.warn(format!(
            "Only {} free for `{data_dir}`; photo and document libraries need room to grow",
            super::list::human_bytes(free)
        )),
        Some(free) => printer.status(
            "Found",
            format!("{} free for `{data_dir}`", super::list::human_bytes(free)),
        ),
        None => printer.warn(format!(
            "Cannot tell how much space is free for `{data_dir}`"
        )),
    }

    let answers = Answers {
        family,
        server_name,
        admin,
        members,
        timezone,
        language,
        domain,
        data_dir,
    };
    answers
        .check()
        .map_err(|e| UserError::usage(format!("Invalid answer: {e}")))?;
    Ok(answers)
}

fn summary(printer: &Printer, a: &Answers) {
    let mut lines = vec![
        String::new(),
        format!("  {}", printer.bold(&crate::start_page::title(&a.family))),
    ];
    for (m, role) in
        std::iter::once((&a.admin, " (admin)")).chain(a.members.iter().map(|m| (m, "")))
    {
        lines.push(format!("    @{}:{}  {}{role}", m.id, a.server_name, m.name));
    }
    lines.push(format!(
        "  Time zone  {}   Language  {}",
        a.timezone, a.language
    ));
    lines.push(match &a.domain {
        Some(d) => format!("  Domain mode: http://<service>.{d}"),
        None => "  Port mode: http://<this machine>:<port>".to_string(),
    });
    lines.push(format!("  Data       {}", a.data_dir));
    lines.push(String::new());
    printer.note(lines.join("\n"));
}

/// What to bring up: `--up` ids in `--yes` mode; interactively, `core` and one stacklet of the
/// user's choice (when an engine answers).
fn choose_stacklets(
    printer: &Printer,
    ask: &Ask<'_>,
    args: &InstallArgs,
    ws: &Workspace,
    engine_ok: bool,
) -> Result<Vec<String>, UserError> {
    if !ask.interactive {
        for id in &args.up {
            ws.catalog.require(id)?;
        }
        return Ok(args.up.clone());
    }
    if !engine_ok {
        printer.note("Start a container engine, then `stack up core` and a first stacklet.");
        return Ok(Vec::new());
    }
    let mut ids = Vec::new();
    if ws.catalog.get("core").is_some()
        && ask.confirm(
            "Bring up `core` now (reverse proxy and nightly updates)?",
            true,
        )?
    {
        ids.push("core".to_string());
    }
    let choices: Vec<&crate::stacklet::Stacklet> = ws
        .catalog
        .stacklets
        .iter()
        .filter(|s| s.id() != "core" && s.manifest.kind == StackletType::Docker)
        .collect();
    if choices.is_empty() {
        return Ok(ids);
    }
    let mut items: Vec<String> = vec!["None for now".to_string()];
    items.extend(
        choices
            .iter()
            .map(|s| format!("{} — {}", s.manifest.name, s.manifest.description)),
    );
    let picked = ask.select("Start a first service?", &items, 0)?;
    if picked > 0 {
        ids.push(choices[picked - 1].id().to_string());
    }
    Ok(ids)
}
