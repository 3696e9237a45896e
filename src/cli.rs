//! The command line: clap types only. Turning these into validated options and doing the work is
//! `commands`' job.

use clap::{Args, Parser, Subcommand};
use clap_complete::engine::ArgValueCandidates;

use crate::output::ColorChoice;

#[derive(Debug, Parser)]
#[command(
    name = "stack",
    version,
    disable_version_flag = true,
    about = "Run self-hosted family services (stacklets) on one home machine",
    disable_help_subcommand = true,
    allow_external_subcommands = true,
    after_help = "Run `stack <stacklet> --help` for a stacklet's own commands."
)]
pub struct Cli {
    /// Print the version (with `--verbose`: the embedded Python too)
    #[arg(short = 'V', long)]
    pub version: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Only print errors and data
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more detail
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// When to use colour
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every stacklet with its state and URL
    #[command(alias = "ls")]
    List(ReadArgs),
    /// Stacklets plus system facts (Docker, disk, data dir, mode)
    Status(ReadArgs),
    /// Print a stacklet's rendered environment (dotenv format)
    Env(EnvArgs),
    /// Print `stack.toml`, or the tech admin's login
    Config(ConfigArgs),
    /// Bring a stacklet (or `all` set-up stacklets) to running
    Up(UpArgs),
    /// Stop a stacklet (or `all` running ones); data and containers stay
    Down(TargetArgs),
    /// Down, then up
    Restart(IdArgs),
    /// Remove a stacklet's containers, volumes, secrets, marker and data
    Destroy(DestroyArgs),
    /// Destroy every stacklet and remove the instance's state and config
    Uninstall(UninstallArgs),
    /// Re-run the first-run hook that needs the running service (`on_install_success`)
    Setup(IdArgs),
    /// Check Docker, create the `stack` network, the data dir and `.stack/`
    Init,
    /// Containers of the stack grouped by stacklet
    Ps(PsArgs),
    /// Container logs of a stacklet
    Logs(LogsArgs),
    /// The bots of the stacklets and whether the bot runner starts them
    Bots(BotsArgs),
    /// Move stacklets to the newest images of their tags, health-gated with rollback
    Update(UpdateArgs),
    /// Preflight checks: engine, Python, data dir, images on their registries, ports, domain
    Doctor(DoctorArgs),
    /// What `up` would do to each service (keep, start, create, recreate, remove) and why; changes nothing
    Plan(PlanArgs),
    /// What happened to the stacklets, newest first (`.stack/events.jsonl`)
    History(HistoryArgs),
    /// Snapshot a stacklet (or `all`) into the backup repository; `list`, `forget`, `check`, `drill`,
    /// `--install-schedule`
    Backup(BackupArgs),
    /// Put a stacklet back as a snapshot holds it (data, secrets, config), then start it
    Restore(RestoreArgs),
    /// Check stacklets against the conventions (compose, templates, hooks, Caddy)
    Lint(LintArgs),
    /// First-run wizard: check the machine, ask about the family, write stack.toml and users.toml
    Install(InstallArgs),
    /// Serve the signed local API and the family start page (foreground, until Ctrl-C)
    Serve(ServeArgs),
    /// Scaffold a stacklet from an image's metadata (ports, volumes, healthcheck, env, user)
    New(NewArgs),
    /// The version of `stack` and of its embedded Python
    Version,
    /// Print the shell completion script (completes verbs, stacklet ids and their commands)
    Completions(CompletionsArgs),
    /// Write the man pages (`stack.1`, `stack-<verb>.1`) into a directory
    Man(ManArgs),
    /// Show help
    Help,
    /// A stacklet's own command: `stack <stacklet> <command> [args…]`
    #[command(external_subcommand)]
    External(Vec<String>),
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Print one JSON document on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BotsArgs {
    /// Print one JSON document on stdout
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub action: Option<BotsAction>,
}

#[derive(Debug, Subcommand)]
pub enum BotsAction {
    /// Run every active bot in the foreground (the bot runner), until Ctrl-C
    Run {
        /// The Python that runs the bots; it needs `matrix-nio` (default: `python3` on PATH)
        #[arg(long, default_value = "python3")]
        python: std::path::PathBuf,
        /// Where the bots reach the signed API (default: this instance's `stack serve` on loopback)
        #[arg(long, value_name = "URL")]
        api: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// The stacklet id
    #[arg(add = ArgValueCandidates::new(crate::completion::stacklet_ids))]
    pub id: String,
    /// Print one JSON object on stdout
    #[arg(long)]
    pub json: bool,
    /// Show generated secrets instead of masking them
    #[arg(long)]
    pub reveal: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// `admin` prints the tech admin's login
    #[arg(value_parser = ["admin"])]
    pub what: Option<String>,
    /// Print one JSON document on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Fail instead of waiting when another `stack` command holds the instance lock
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A stacklet id, or `all` (the set-up stacklets)
    #[arg(add = ArgValueCandidates::new(crate::completion::stacklet_targets))]
    pub target: String,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// A stacklet id, or `all`
    #[arg(add = ArgValueCandidates::new(crate::completion::stacklet_targets))]
    pub target: String,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// A stacklet id, or `all` (the default)
    pub target: Option<String>,
    /// Only ask the registries; change nothing
    #[arg(long)]
    pub check: bool,
    /// Print one JSON document on stdout
    #[arg(long)]
    pub json: bool,
    /// Run `stack update all` on `[updates].schedule` (a launchd agent on macOS, a systemd timer
    /// on Linux); the backup jobs are `stack backup --install-schedule`'s
    #[arg(long, conflicts_with_all = ["check", "remove_schedule", "target"])]
    pub install_schedule: bool,
    /// Remove the update job `--install-schedule` set up (the backup jobs stay)
    #[arg(long, conflicts_with_all = ["check", "target"])]
    pub remove_schedule: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (repeatable); default `127.0.0.1:42001` (plus the instance's
    /// `port_offset`) and, on Linux, the address `host.docker.internal` points containers at
    #[arg(long, value_name = "ADDR:PORT", conflicts_with_all = ["install", "uninstall"])]
    pub listen: Vec<std::net::SocketAddr>,
    /// Install (or refresh) `stack serve` as a background service: a launchd agent on macOS, a
    /// systemd unit on Linux
    #[arg(long, conflicts_with = "uninstall")]
    pub install: bool,
    /// Stop and remove the background service
    #[arg(long)]
    pub uninstall: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Only this stacklet (default: every set-up stacklet)
    pub id: Option<String>,
    /// Print one JSON list on stdout
    #[arg(long)]
    pub json: bool,
    /// Check images for this `os/arch` instead of the engine's
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// A stacklet id, or `all`
    #[arg(add = ArgValueCandidates::new(crate::completion::stacklet_targets))]
    pub target: String,
    /// Generate a missing generated secret even though the stacklet is already set up (its
    /// service then no longer matches the old value: only after restoring from a backup failed)
    #[arg(long)]
    pub regenerate_secrets: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The stacklet id
    #[arg(add = ArgValueCandidates::new(crate::completion::stacklet_ids))]
    pub id: String,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The stacklet id
    #[arg(add = ArgValueCandidates::new(crate::completion::stacklet_ids))]
    pub id: String,
    /// Do not ask for confirmation
    #[arg(long, short)]
    pub yes: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Do not ask for confirmation
    #[arg(long, short)]
    pub yes: bool,
    /// Keep these stacklets (and what belongs to them)
    #[arg(long = "not", value_name = "ID")]
    pub keep: Vec<String>,
    /// Also delete the data dir (otherwise a second, typed confirmation is asked for)
    #[arg(long)]
    pub delete_data: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Only this stacklet
    #[arg(add = ArgValueCandidates::new(crate::completion::stacklet_ids))]
    pub id: Option<String>,
    /// Print one JSON document on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The stacklet id
    #[arg(add = ArgValueCandidates::new(crate::completion::stacklet_ids))]
    pub id: String,
    /// Only this service
    pub service: Option<String>,
    /// Number of lines from the end of each log
    #[arg(long, short = 'n')]
    pub tail: Option<usize>,
    /// Keep following the logs
    #[arg(long, short)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Only this stacklet (default: every stacklet)
    #[arg(add = ArgValueCandidates::new(crate::completion::stacklet_ids))]
    pub id: Option<String>,
    /// Print one JSON document on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this stacklet
    #[arg(add = ArgValueCandidates::new(crate::completion::stacklet_ids))]
    pub id: Option<String>,
    /// Print one JSON list on stdout
    #[arg(long)]
    pub json: bool,
    /// At most this many events (the newest)
    #[arg(long, short = 'n')]
    pub limit: Option<usize>,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The new stacklet's id: lowercase letters, digits and `-`, starting with a letter
    pub id: String,
    /// The image to scaffold from (read from the local engine, pulled when missing)
    #[arg(long)]
    pub image: String,
    /// Host port, or `HOST:CONTAINER` [default: the next free block of ten from 42000, and the
    /// image's first exposed TCP port]
    #[arg(long, value_name = "PORT[:CONTAINER]")]
    pub port: Option<String>,
    /// The stacklet's category
    #[arg(long, default_value = "infrastructure", value_parser = clap::builder::PossibleValuesParser::new(crate::stacklet::manifest::CATEGORIES))]
    pub category: String,
    /// A command to run instead of the image's own (after `--`)
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Ask nothing: take the answers from the flags below and the defaults (for scripts)
    #[arg(long, short)]
    pub yes: bool,
    /// The family's name; it becomes the Matrix server name [default: home]
    #[arg(long)]
    pub family: Option<String>,
    /// The Matrix server name (lowercase letters, digits, `.`, `_`, `-`) [default: from --family]
    #[arg(long)]
    pub server_name: Option<String>,
    /// The admin who looks after the server: `NAME` or `NAME:ID` (required with --yes)
    #[arg(long, value_name = "NAME[:ID]")]
    pub admin: Option<String>,
    /// A further family member, `NAME` or `NAME:ID`; repeat for more
    #[arg(long = "member", value_name = "NAME[:ID]")]
    pub members: Vec<String>,
    /// IANA time zone [default: the system's]
    #[arg(long)]
    pub timezone: Option<String>,
    /// Household language [default: derived from the time zone: de for Berlin, Vienna, Zurich; else en]
    #[arg(long)]
    pub language: Option<String>,
    /// Domain mode with this domain (`home.internal`) [default: port mode]
    #[arg(long)]
    pub domain: Option<String>,
    /// Where stacklets keep their data [default: ~/famstack-data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// Bring these stacklets up afterwards (repeat; e.g. `--up core --up hello`)
    #[arg(long = "up", value_name = "ID")]
    pub up: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_parser = crate::completion::SHELLS)]
    pub shell: String,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Where to write the pages
    #[arg(default_value = "man")]
    pub dir: std::path::PathBuf,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: Option<BackupCommand>,
    /// A stacklet id, or `all` (every set-up stacklet)
    #[arg(required_unless_present_any = ["install_schedule", "remove_schedule"])]
    pub target: Option<String>,
    /// The repository to use instead of `[backup].repository`
    #[arg(long, value_name = "REPO", global = true)]
    pub to: Option<String>,
    /// Run `stack backup all` on `[backup].schedule` and a weekly `stack backup drill all` (launchd
    /// agents on macOS, systemd timers on Linux); removes both when the key is not set. The update
    /// job is `stack update --install-schedule`'s
    #[arg(long, conflicts_with_all = ["target", "to", "remove_schedule"])]
    pub install_schedule: bool,
    /// Remove the backup and drill jobs `--install-schedule` set up (the update job stays)
    #[arg(long, conflicts_with_all = ["target", "to"])]
    pub remove_schedule: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// The snapshots in the repository, oldest first
    List {
        /// Only this stacklet's
        id: Option<String>,
        /// Print one JSON document on stdout
        #[arg(long)]
        json: bool,
    },
    /// Forget snapshots by the retention policy (default: `[backup]`), then prune unused data
    Forget {
        #[arg(long, value_name = "N")]
        keep_daily: Option<u16>,
        #[arg(long, value_name = "N")]
        keep_weekly: Option<u16>,
        #[arg(long, value_name = "N")]
        keep_monthly: Option<u16>,
    },
    /// Check the repository's integrity (reads every pack back)
    Check,
    /// Restore a snapshot into a throw-away instance, bring it up, check its health, destroy it
    Drill {
        /// A stacklet id, or `all`
        target: String,
        /// The snapshot (an id or its prefix; default: the newest)
        #[arg(long)]
        snapshot: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The stacklet id
    pub id: String,
    /// The snapshot (an id or its prefix; default: the newest of this stacklet)
    #[arg(long)]
    pub snapshot: Option<String>,
    /// Stop the stacklet first if it runs (otherwise a running stacklet is refused)
    #[arg(long, short)]
    pub yes: bool,
    /// The repository to use instead of `[backup].repository`
    #[arg(long, value_name = "REPO")]
    pub to: Option<String>,
    #[command(flatten)]
    pub lock: LockArgs,
}
