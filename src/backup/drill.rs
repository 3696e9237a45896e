//! `stack backup drill`: the proof that a snapshot restores. The snapshot goes into a fresh
//! instance under a temporary directory (its own Docker namespace, a free port offset, port mode),
//! which is brought up, health-gated, verified by `on_verify` and then destroyed completely.
//!
//! Invariants: the household instance is only read (its `stack.toml` tables and the repository);
//! nothing of it is stopped, locked or written. The temporary instance is torn down whatever step
//! failed, and a failure names its step.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{
    Settings, apply_meta, fetch, find, images_to_restore, load_dump, mark_set_up, save_images,
};
use crate::backup::progress::Bars;
use crate::hooks::HookName;
use crate::lifecycle::down::{self, UninstallPlan};
use crate::lifecycle::{Session, up};
use crate::output::Printer;
use crate::render::env;
use crate::stacklet::graph;
use crate::workspace::Workspace;

/// Tables of the household `stack.toml` a drill instance does not take over.
const OWN_TABLES: &[&str] = &["core", "backup", "updates"];
/// Port offsets tried, in this order: the first whose every port is free wins.
const OFFSETS: std::ops::RangeInclusive<u16> = 1..=60;
const OFFSET_STEP: u16 = 1000;

/// The steps of a drill, as a failure names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Prepare,
    Restore,
    Up,
    Load,
    Verify,
    Destroy,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Prepare => "preparing the temporary instance",
            Step::Restore => "restoring the snapshot",
            Step::Up => "bringing it up to its health gate",
            Step::Load => "on_restore (loading the dump)",
            Step::Verify => "on_verify",
            Step::Destroy => "destroying the temporary instance",
        })
    }
}

/// A passed drill, for the report line.
#[derive(Clone, Debug)]
pub struct Passed {
    pub stacklet: String,
    pub snapshot: String,
    pub time: String,
    pub restored_bytes: u64,
    pub restore_time: Duration,
    pub healthy_time: Duration,
    pub verified: bool,
}

impl fmt::Display for Passed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "drill passed: {}, snapshot {}… of {}, restored {} in {:.0} s, healthy in {:.0} s{}",
            self.stacklet,
            self.snapshot,
            self.time,
            super::manifest::human_bytes(self.restored_bytes),
            self.restore_time.as_secs_f64(),
            self.healthy_time.as_secs_f64(),
            if self.verified { ", verified" } else { "" }
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("Drill of `{stacklet}` failed at {step}")]
pub struct Failed {
    pub stacklet: String,
    pub step: Step,
    #[source]
    pub source: super::Chain,
}

/// Run a drill of stacklet `id` from the household workspace `home`.
pub async fn drill(
    home: &Workspace,
    printer: &Printer,
    settings: &Settings,
    password: &str,
    bars: Bars,
    id: &str,
    wanted: Option<&str>,
) -> Result<Passed, Failed> {
    let fail = |step: Step| {
        move |e: anyhow::Error| Failed {
            stacklet: id.to_string(),
            step,
            source: super::Chain(e),
        }
    };
    let (repo, snap, manifest) = find(settings, password, bars, id, wanted)
        .await
        .map_err(fail(Step::Prepare))?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("stack-drill-{id}-"))
        .tempdir()
        .context("Cannot create a temporary directory")
        .map_err(fail(Step::Prepare))?;
    let instance_dir = dir
        .path()
        .canonicalize()
        .unwrap_or(dir.path().to_path_buf());
    let ids = with_requirements(home, id).map_err(fail(Step::Prepare))?;
    let ports = ports_of(home, &ids);
    let offset = free_offset(&ports)
        .ok_or_else(|| anyhow::anyhow!("No free port offset for ports {ports:?}"))
        .map_err(fail(Step::Prepare))?;
    let name = crate::namespace::safe_name(&format!(
        "drill-{id}-{}",
        snap.short_id.chars().take(6).collect::<String>()
    ));
    write_config(home, &instance_dir, &name, offset).map_err(fail(Step::Prepare))?;
    printer.status(
        "Drilling",
        format!(
            "{id}: snapshot {} of {} into `{}` (instance `{name}`, port offset {offset})",
            snap.short_id,
            snap.time,
            instance_dir.display()
        ),
    );

    let restore_started = Instant::now();
    let target = instance_dir.join("data").join(id);
    let restored = async {
        let (meta, summary) = fetch(repo, &snap.id, &manifest, &target).await?;
        let instance = crate::instance::Instance::discover(
            &instance_dir,
            Some(&home.instance.root.to_string_lossy()),
            Some(&instance_dir.to_string_lossy()),
        )?;
        apply_meta(&instance, id, &meta)?;
        mark_set_up(&instance, id)?;
        anyhow::Ok((summary, meta.images))
    }
    .await
    .map_err(fail(Step::Restore));
    let restore_time = restore_started.elapsed();

    // From here on the temporary instance may hold containers: tear it down whatever happens.
    let loaded = Workspace::load_from(
        printer,
        Some(&home.instance.root.to_string_lossy()),
        Some(&instance_dir.to_string_lossy()),
        // The household's broken stacklets were reported by the command already.
        crate::workspace::BrokenWarnings::None,
    )
    .map_err(|e| fail(Step::Prepare)(e.into()));
    let mut session = match loaded {
        Ok(ws) => Session::with_workspace(ws, printer),
        Err(e) => return Err(e),
    };
    // The image records the data ran with (those that can apply on this machine).
    let restored = match restored {
        Ok((summary, Some(images))) => async {
            let kept = images_to_restore(&mut session, &images).await?;
            save_images(&session.ws.instance, id, Some(&kept))?;
            anyhow::Ok(summary)
        }
        .await
        .map_err(fail(Step::Restore)),
        Ok((summary, None)) => Ok(summary),
        Err(e) => Err(e),
    };
    let outcome = match restored {
        Ok(summary) => run(&mut session, &ids, id)
            .await
            .map(|(healthy, verified)| Passed {
                stacklet: id.to_string(),
                snapshot: snap.short_id.clone(),
                time: snap.time.clone(),
                restored_bytes: summary.bytes,
                restore_time,
                healthy_time: healthy,
                verified,
            })
            .map_err(|(step, e)| fail(step)(e)),
        Err(e) => Err(e),
    };
    let torn_down = teardown(&mut session, dir.path()).await;
    drop(dir);
    let passed = outcome?;
    torn_down.map_err(fail(Step::Destroy))?;
    Ok(passed)
}

/// Bring the restored stacklet (and, fresh, what it requires) up, load its dump (`on_restore`,
/// then a restart, as `stack restore` does) and verify it.
async fn run(
    session: &mut Session,
    ids: &[String],
    id: &str,
) -> Result<(Duration, bool), (Step, anyhow::Error)> {
    let started = Instant::now();
    for dep in ids {
        up::up_quietly(session, dep)
            .await
            .map_err(|e| (Step::Up, e))?;
    }
    load_dump(session, id, false)
        .await
        .map_err(|e| (Step::Load, e))?;
    let healthy = started.elapsed();
    let verify = async {
        let stacklet = session.ws.catalog.require(id)?.clone();
        let rendered = env::render(&session.ws, &stacklet, &session.lan_ip)?;
        session
            .run_hook(&stacklet, HookName::OnVerify, &rendered)
            .await
    };
    let verified = verify.await.map_err(|e| (Step::Verify, e))?;
    Ok((healthy, verified))
}

/// Everything of the temporary instance goes: hooks, containers, volumes, network, state, data.
async fn teardown(session: &mut Session, dir: &Path) -> anyhow::Result<()> {
    let plan = UninstallPlan {
        remove: graph::reverse_order(&session.ws.catalog.stacklets)?,
        keep: Vec::new(),
        delete_data: true,
    };
    down::uninstall(session, &plan).await?;
    std::fs::remove_dir_all(dir).with_context(|| format!("Cannot remove `{}`", dir.display()))
}

/// `id` and everything it requires, dependencies first.
fn with_requirements(home: &Workspace, id: &str) -> anyhow::Result<Vec<String>> {
    let mut wanted = std::collections::BTreeSet::new();
    let mut todo = vec![id.to_string()];
    while let Some(next) = todo.pop() {
        if wanted.insert(next.clone()) {
            todo.extend(home.catalog.require(&next)?.manifest.requires.clone());
        }
    }
    Ok(graph::order(&home.catalog.stacklets)?
        .into_iter()
        .filter(|i| wanted.contains(i))
        .collect())
}

fn ports_of(home: &Workspace, ids: &[String]) -> Vec<u16> {
    let mut ports = Vec::new();
    for id in ids {
        if let Some(s) = home.catalog.get(id) {
            ports.extend(s.manifest.port);
            ports.extend(s.manifest.ports.iter().map(|(_, p)| *p));
        }
    }
    ports
}

/// The first offset (1000, 2000, …) at which every port can be bound on this machine.
fn free_offset(ports: &[u16]) -> Option<u16> {
    OFFSETS.map(|n| n * OFFSET_STEP).find(|offset| {
        ports.iter().all(|p| {
            p.checked_add(*offset)
                .is_some_and(|port| std::net::TcpListener::bind(("0.0.0.0", port)).is_ok())
        })
    })
}

/// The drill instance's `stack.toml`: its own `[core]` (port mode, data under the temporary
/// dir, the drill's name and offset; time zone and language as at home) and the household's
/// tables that templates read (`[ai]`, `[messages]`, other stacklets'); the restored stacklet's
/// own table comes from the snapshot.
fn write_config(home: &Workspace, dir: &Path, name: &str, offset: u16) -> anyhow::Result<()> {
    let mut table = toml::Table::new();
    let mut core = toml::Table::new();
    core.insert("instance".into(), name.into());
    core.insert("data_dir".into(), "data".into());
    core.insert("port_offset".into(), i64::from(offset).into());
    if let Some(tz) = &home.config.core.timezone {
        core.insert("timezone".into(), tz.clone().into());
    }
    if let Some(lang) = &home.config.core.language {
        core.insert("language".into(), lang.clone().into());
    }
    table.insert("core".into(), core.into());
    for (key, value) in &home.config.table {
        if !OWN_TABLES.contains(&key.as_str()) {
            table.insert(key.clone(), value.clone());
        }
    }
    let path: PathBuf = dir.join("stack.toml");
    std::fs::write(&path, toml::to_string(&table)?)
        .with_context(|| format!("Cannot write `{}`", path.display()))?;
    std::fs::create_dir_all(dir.join("data")).context("Cannot create the drill's data dir")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_port_moves_the_offset_on() {
        let held = std::net::TcpListener::bind(("0.0.0.0", 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        if port <= OFFSET_STEP {
            return;
        }
        // The base port whose first offset lands on the held one.
        let base = port - OFFSET_STEP;
        let offset = free_offset(&[base]).unwrap();
        assert_ne!(base + offset, port);
    }
}
