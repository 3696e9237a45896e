//! `stack serve`: the signed local API and the family start page, in the foreground.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::ServeArgs;
use crate::lifecycle::Session;
use crate::output::Printer;
use crate::secrets::{Kind, Secrets};

/// The API's port in the default instance; an instance's `port_offset` moves it like every other
/// host port.
pub const DEFAULT_PORT: u16 = 42001;
pub const KEY_SECRET: &str = "global__API_KEY";

pub async fn serve(printer: &Printer, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(printer, None)?;
    if args.install || args.uninstall {
        return service(&session, args.install, printer);
    }
    let instance = session.ws.instance.clone();
    let secrets_file = instance.secrets_file();
    let secrets = Secrets::ensure(&secrets_file, &[(KEY_SECRET.to_string(), Kind::Service)])?;
    let key = secrets
        .get(KEY_SECRET)
        .with_context(|| {
            format!(
                "`{KEY_SECRET}` is missing from `{}`",
                secrets_file.display()
            )
        })?
        .to_string();
    let listen = if args.listen.is_empty() {
        default_listen(&mut session).await?
    } else {
        args.listen.clone()
    };
    // The page `GET /` serves is rewritten by every `up`/`down`/`destroy`; write one now if none was.
    if !crate::start_page::path(&instance).is_file()
        && let Err(e) = crate::lifecycle::start_page::refresh(&mut session).await
    {
        printer.warn(format!("{e:#}"));
    }
    let exe = std::env::current_exe().context("Cannot find the running `stack` binary")?;
    crate::api::serve(
        crate::api::Options {
            instance,
            key,
            listen,
            exe,
        },
        printer,
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// Loopback on the instance's API port and, where the engine routes `host.docker.internal` to its
/// bridge gateway (a Linux engine), that address too, so containers (the bot runner) reach the API.
async fn default_listen(session: &mut Session) -> anyhow::Result<Vec<SocketAddr>> {
    let port = session
        .ws
        .namespace
        .host_port(DEFAULT_PORT)
        .with_context(|| {
            format!(
                "The API port {DEFAULT_PORT} plus `port_offset` {} is above 65535",
                session.ws.namespace.port_offset()
            )
        })?;
    let mut listen = vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)];
    if cfg!(target_os = "linux")
        && let Some(docker) = session.try_docker().await
        && let Some(gateway) = crate::engine::host_gateway(&docker).await
        && !gateway.is_loopback()
    {
        listen.push(SocketAddr::new(gateway, port));
    }
    Ok(listen)
}

/// `stack serve --install` / `--uninstall`.
fn service(session: &Session, install: bool, printer: &Printer) -> anyhow::Result<ExitCode> {
    use crate::api::install::{self, Installed, Removed};
    let ws = &session.ws;
    if !install {
        match install::uninstall(&ws.namespace).context("Cannot remove the API service")? {
            Removed::Removed(unit) => {
                printer.status("Removed", format!("the API service `{}`", unit.display()))
            }
            Removed::NotInstalled => printer.note("The API service is not installed"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe().context("Cannot find the running `stack` binary")?;
    match install::install(&ws.instance, &ws.namespace, &exe).context("Cannot install the API service")? {
        Installed::Started { unit } => printer.status("Installed", format!("the API service `{}` (running `{}`)", unit.display(), exe.display())),
        Installed::Written { unit, problem } => printer.warn(format!(
            "Wrote the API service `{}` but could not start it: {problem}",
            unit.display()
        )),
        Installed::NoManager(why) => printer.warn(format!(
            "Not installing the API service: {why}; run `stack serve` yourself (or under your own supervisor)"
        )),
    }
    Ok(ExitCode::SUCCESS)
}
