//! The command line: clap types only. Turning these into validated options and doing the work is
//! `commands`' job.

use clap::{Args, Parser, Subcommand};

use crate::output::ColorChoice;

#[derive(Debug, Parser)]
#[command(
    name = "stack",
    version,
    about = "Run self-hosted family services (stacklets) on one home machine",
    disable_help_subcommand = true,
    allow_external_subcommands = true,
    after_help = "Run `stack <stacklet> --help` for a stacklet's own commands."
)]
pub struct Cli {
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
pub struct EnvArgs {
    /// The stacklet id
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
