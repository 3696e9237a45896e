//! Backups (docs/backups.md): `stack backup`, `restore`, `backup list|forget|check|drill`.
//!
//! Owns where the repository is, its password, what a snapshot of a stacklet holds and how the
//! stacklet is made consistent while its files are read. The repository format is `repo.rs`'s;
//! the manifest and tags `manifest.rs`'s; the throw-away instance of a drill `drill.rs`'s.
//!
//! Invariants:
//! - A stacklet stopped for its snapshot is started again, whatever the backup's outcome; one
//!   started for its `on_backup` dump is stopped again.
//! - A restore never deletes the data it replaces before the restored stacklet is healthy: it is
//!   moved aside inside the data dir, and put back when the restore fails before `up`.
//! - The password is generated once (`global__BACKUP_PASSWORD`) and never overwritten.

pub mod drill;
pub mod keycache;
pub mod manifest;
pub mod progress;
pub mod repo;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::config::BackupMode;
use crate::error::UserError;
use crate::history::rfc3339;
use crate::hooks::{HookName, resolve};
use crate::instance::Instance;
use crate::lifecycle::{Session, down, state, up};
use crate::render::env;
use crate::secrets::{self, Secrets};
use crate::workspace::Workspace;

use keycache::KeyCache;
use manifest::{CONFIG_FILE, FORMAT, IMAGES_FILE, MANIFEST_FILE, Manifest, SECRETS_FILE};
use progress::Bars;
use repo::{BackupSummary, Keep, Repo, RestoreSummary};

/// The instance's master-key cache, in its state dir.
pub const KEY_CACHE_FILE: &str = "backup-keys.json";
/// The secret holding the repository password.
pub const PASSWORD_SECRET: &str = "global__BACKUP_PASSWORD";
/// Global secrets a stacklet's templates use that go with its snapshot.
const GLOBAL_SECRETS: &[&str] = &["global__ADMIN_PASSWORD"];

/// Where the repository is and how to treat stacklets, from `[backup]` and the command line.
#[derive(Clone, Debug)]
pub struct Settings {
    pub repository: PathBuf,
    pub mode: BackupMode,
    pub keep: Keep,
    /// The instance's cache of master keys (`.stack/backup-keys.json`, keycache.rs).
    pub keys: KeyCache,
}

impl Settings {
    /// `--to` wins over `[backup].repository`; neither is an error with the key to set.
    pub fn of(ws: &Workspace, to: Option<&str>) -> Result<Self, UserError> {
        let raw = to
            .map(str::to_string)
            .or_else(|| ws.config.backup.repository.clone())
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| {
                UserError::new("No backup repository is configured")
                    .hint("set `[backup] repository = \"/Volumes/Backup/stack\"` in `stack.toml`, or pass `--to <path>`")
            })?;
        let b = &ws.config.backup;
        Ok(Self {
            repository: ws.instance.resolve_data_dir(&raw),
            mode: b.mode,
            keep: Keep {
                daily: i32::from(b.keep_daily),
                weekly: i32::from(b.keep_weekly),
                monthly: i32::from(b.keep_monthly),
            },
            keys: KeyCache::new(ws.instance.state_dir().join(KEY_CACHE_FILE)),
        })
    }
}

/// The repository password; generated (and reported as new) on first use.
pub fn password(ws: &Workspace) -> Result<(String, bool), UserError> {
    let path = ws.instance.secrets_file();
    let existing = Secrets::load(&path).map_err(secrets_error)?;
    if let Some(p) = existing.get(PASSWORD_SECRET) {
        return Ok((p.to_string(), false));
    }
    let all = Secrets::ensure(
        &path,
        &[(PASSWORD_SECRET.to_string(), secrets::Kind::Service)],
    )
    .map_err(secrets_error)?;
    let value = all.get(PASSWORD_SECRET).unwrap_or_default().to_string();
    Ok((value, true))
}

/// The password of an existing repository (never generated: a new one could not open it).
pub fn existing_password(ws: &Workspace) -> Result<String, UserError> {
    let path = ws.instance.secrets_file();
    let secrets = Secrets::load(&path).map_err(secrets_error)?;
    secrets
        .get(PASSWORD_SECRET)
        .map(str::to_string)
        .ok_or_else(|| {
            UserError::new(format!(
                "No backup password in `{}` (`{PASSWORD_SECRET}`)",
                path.display()
            ))
            .hint("on a new machine, put the password you stored off the machine there: `global__BACKUP_PASSWORD = \"…\"`")
        })
}

fn secrets_error(e: secrets::SecretsError) -> UserError {
    let hint = e.hint();
    UserError::wrap(e).maybe_hint(hint)
}

/// Run blocking repository work off the runtime thread. rustic_core panics on some damaged
/// repositories (a tree pack that does not decrypt ends in `index still in use`); such a panic is
/// this command's error, worded for a person, not a crash with a page of internal state.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, repo::RepoError> + Send + 'static,
) -> anyhow::Result<T> {
    quiet_library_panics();
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => Ok(result?),
        Err(e) if e.is_panic() => {
            let payload = e.into_panic();
            let text = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            let first: String = text.chars().take(120).collect();
            Err(UserError::new(
                "The backup library stopped on damaged or unreadable repository data",
            )
            .because(repo::RepoError::Panicked { message: first })
            .hint("`stack backup check` shows the damage; keep the repository as it is and back up to another place (`--to <path>`)")
            .into())
        }
        Err(e) => Err(anyhow::Error::new(e).context("The backup task was cancelled")),
    }
}

/// A panic inside rustic_core is reported as the command's error (above), so the default hook's
/// message — which can hold the whole repository index — is not printed too. Other panics keep
/// the hook they had.
fn quiet_library_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.location().is_some_and(|l| in_rustic_core(l.file())) {
                return;
            }
            previous(info);
        }));
    });
}

/// Whether a panic's source file is rustic_core's: from crates.io (`…/rustic_core-0.12.0/src/…`)
/// or the vendored copy (`vendor/rustic_core/src/…`, see its PATCHED.md).
fn in_rustic_core(file: &str) -> bool {
    file.contains("/rustic_core-") || file.contains("rustic_core/src/")
}

/// Open the repository (creating it on first backup when `create`).
pub async fn open(
    settings: &Settings,
    password: &str,
    bars: Bars,
    create: bool,
) -> anyhow::Result<(Repo, bool)> {
    let path = settings.repository.clone();
    let password = password.to_string();
    let keys = settings.keys.clone();
    blocking(move || {
        if create {
            Repo::open_or_init(&path, &password, Some(&keys), bars)
        } else {
            Repo::open(&path, &password, Some(&keys), bars).map(|r| (r, false))
        }
    })
    .await
}

/// What `backup_one` did.
#[derive(Clone, Debug)]
pub struct BackupDone {
    pub summary: BackupSummary,
    pub consistency: String,
    pub elapsed: std::time::Duration,
}

/// The staging dir of a stacklet's small files inside `.stack/`.
fn staging_dir(ws: &Workspace, id: &str) -> PathBuf {
    ws.instance.state_dir().join("backup").join(id)
}

/// Snapshot one stacklet: consistency first (`on_backup`, for which a stopped stacklet is started
/// and then stopped again; else stop in `stop` mode), then its data dir and its secrets, config
/// table, image records and manifest.
pub async fn backup_one(
    session: &mut Session,
    settings: &Settings,
    password: &str,
    bars: Bars,
    id: &str,
) -> anyhow::Result<BackupDone> {
    let started = Instant::now();
    let stacklet = session.ws.catalog.require(id)?.clone();
    let data = session.ws.config.data_dir.join(id);
    let current = state::of(session, &stacklet).await?;
    if !current.is_set_up() && !data.is_dir() {
        return Err(
            UserError::new(format!("`{id}` is not set up and has no data to back up"))
                .hint(format!("`stack up {id}` sets it up"))
                .into(),
        );
    }
    let running = matches!(
        current,
        state::State::Running
            | state::State::Starting
            | state::State::Degraded(_)
            | state::State::Failing(_)
    );
    let has_dump_hook = resolve(&stacklet.dir, HookName::OnBackup)?.is_some();
    let mut stopped = false;
    let mut started_for_dump = false;
    let consistency = if has_dump_hook {
        // The dump runs in the stacklet's containers (`ctx.exec`): a stopped stacklet is started
        // for it and stopped again after the snapshot.
        if !running && current.is_set_up() {
            session.printer.status(
                "Starting",
                format!("{} for its dump", stacklet.manifest.name),
            );
            started_for_dump = true;
        }
        let dumped = async {
            if started_for_dump {
                up::up_quietly(session, id)
                    .await
                    .map_err(|e| e.context(format!("`{id}` did not start for its dump")))?;
            }
            let rendered = env::render(&session.ws, &stacklet, &session.lan_ip)?;
            session
                .printer
                .status("Dumping", format!("{} (on_backup)", stacklet.manifest.name));
            session
                .run_hook(&stacklet, HookName::OnBackup, &rendered)
                .await
        }
        .await;
        if let Err(e) = dumped {
            if started_for_dump {
                let _ = down::down(session, id).await;
            }
            return Err(e);
        }
        "on_backup"
    } else if running && settings.mode == BackupMode::Stop {
        down::down(session, id).await?;
        stopped = true;
        "stopped"
    } else if running {
        "live"
    } else {
        "stopped"
    };
    let result = snapshot(session, settings, password, bars, id, consistency).await;
    let written = if result.is_ok() {
        " (the snapshot was written)"
    } else {
        ""
    };
    if started_for_dump {
        session
            .printer
            .status("Stopping", format!("{} again", stacklet.manifest.name));
        if let Err(e) = down::down(session, id).await {
            return Err(e.context(format!(
                "`{id}` was started for its dump and did not stop again{written}"
            )));
        }
    }
    if stopped {
        session
            .printer
            .status("Starting", format!("{} again", stacklet.manifest.name));
        let restarted = up::up_quietly(session, id).await;
        if let Err(e) = restarted {
            return Err(e.context(format!(
                "`{id}` was stopped for its backup and did not start again{written}"
            )));
        }
    }
    Ok(BackupDone {
        summary: result?,
        consistency: consistency.to_string(),
        elapsed: started.elapsed(),
    })
}

async fn snapshot(
    session: &mut Session,
    settings: &Settings,
    password: &str,
    bars: Bars,
    id: &str,
    consistency: &str,
) -> anyhow::Result<BackupSummary> {
    let ws = &session.ws;
    let stacklet = ws.catalog.require(id)?.clone();
    let data = ws.config.data_dir.join(id);
    let staging = staging_dir(ws, id);
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("Cannot clear `{}`", staging.display()))?;
    }
    std::fs::create_dir_all(&staging)
        .with_context(|| format!("Cannot create `{}`", staging.display()))?;
    // The secrets go into the (encrypted) repository; the staging copy is private to the user.
    let secrets = Secrets::load(&ws.instance.secrets_file()).map_err(secrets_error)?;
    let prefix = format!("{id}__");
    let mut doc = toml_edit::DocumentMut::new();
    for (key, value) in secrets.all() {
        if key.starts_with(&prefix) || GLOBAL_SECRETS.contains(&key.as_str()) {
            doc.insert(key, toml_edit::value(value.as_str()));
        }
    }
    crate::atomic::write_private(&staging.join(SECRETS_FILE), doc.to_string().as_bytes())
        .with_context(|| format!("Cannot write `{}`", staging.join(SECRETS_FILE).display()))?;
    if let Some(text) = crate::config::table_text(&ws.instance, id)? {
        crate::atomic::write_private(&staging.join(CONFIG_FILE), text.as_bytes())
            .with_context(|| format!("Cannot write `{}`", staging.join(CONFIG_FILE).display()))?;
    }
    // The recorded images go with the data they ran on (a restore writes them back).
    let pins = crate::pins::load(&ws.instance, id)?;
    let digests = if pins.is_empty() {
        None
    } else {
        let mut text = serde_json::to_vec_pretty(&pins)?;
        text.push(b'\n');
        crate::atomic::write_private(&staging.join(IMAGES_FILE), &text)
            .with_context(|| format!("Cannot write `{}`", staging.join(IMAGES_FILE).display()))?;
        Some(
            pins.iter()
                .map(|(service, pin)| (service.clone(), pin.shown().to_string()))
                .collect(),
        )
    };
    let data_path = data.canonicalize().ok();
    let excluded = stacklet.manifest.backup_exclude.clone();
    let skip: Vec<PathBuf> = data_path
        .iter()
        .flat_map(|d| excluded.iter().map(move |e| d.join(e)))
        .collect();
    // The data dir's size (a stat of every file) and the opening of the repository (its index;
    // the key derivation too when no master key is cached) each take a fixed part of an unchanged
    // backup, on one core each: run them at once (bench/backup.sh).
    let sizing = {
        let (data_path, skip) = (data_path.clone(), skip.clone());
        tokio::task::spawn_blocking(move || {
            data_path
                .as_deref()
                .map(|d| manifest::tree_size(d, &skip))
                .unwrap_or_default()
        })
    };
    let opened = open(settings, password, bars, true).await;
    let sized = sizing.await;
    let result = async {
        let (data_files, data_bytes) = sized.context("Cannot measure the data dir")?;
        let (repo, created) = opened?;
        let meta_path = staging.canonicalize().unwrap_or(staging.clone());
        let manifest = Manifest {
            format: FORMAT,
            stacklet: id.to_string(),
            stacklet_version: stacklet.manifest.version.clone(),
            stack_version: env!("CARGO_PKG_VERSION").to_string(),
            time: rfc3339(std::time::SystemTime::now()),
            instance: ws.namespace.name().to_string(),
            data_path: data_path.clone(),
            meta_path: meta_path.clone(),
            data_files,
            data_bytes,
            consistency: consistency.to_string(),
            digests,
            excluded,
        };
        let text = serde_json::to_string_pretty(&manifest)?;
        crate::atomic::write_private(&staging.join(MANIFEST_FILE), text.as_bytes())
            .with_context(|| format!("Cannot write `{}`", staging.join(MANIFEST_FILE).display()))?;
        session.printer.status(
            "Backing up",
            format!(
                "{} ({} files, {}) to `{}`",
                stacklet.manifest.name,
                data_files,
                manifest::human_bytes(data_bytes),
                settings.repository.display()
            ),
        );
        if created {
            session.printer.status(
                "Created",
                format!("backup repository `{}`", settings.repository.display()),
            );
        }
        let mut sources = vec![meta_path];
        sources.extend(data_path.clone());
        blocking(move || repo.backup(&sources, &skip, &manifest)).await
    }
    .await;
    // The staging copy holds secrets: it goes whatever happened.
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// Open the repository and find snapshot `wanted` (the newest: `None`) of `id` with its manifest;
/// the repository stays open for the restore.
async fn find(
    settings: &Settings,
    password: &str,
    bars: Bars,
    id: &str,
    wanted: Option<&str>,
) -> anyhow::Result<(Repo, repo::SnapshotInfo, Manifest)> {
    let (repo, _) = open(settings, password, bars, false).await?;
    let (id, wanted) = (id.to_string(), wanted.map(str::to_string));
    blocking(move || {
        let (snap, manifest) = repo.find(&id, wanted.as_deref())?;
        Ok((repo, snap, manifest))
    })
    .await
}

/// What was restored and where the replaced data went.
#[derive(Clone, Debug)]
pub struct RestoreDone {
    pub snapshot: String,
    pub time: String,
    pub restored: RestoreSummary,
    /// The data the restore replaced, moved aside (removed once the stacklet is healthy).
    pub replaced: Option<PathBuf>,
    pub elapsed: std::time::Duration,
}

/// The small files of a snapshot, read back.
struct Meta {
    secrets: Vec<(String, String)>,
    config: Option<String>,
    /// The recorded images; `None` in a snapshot of a stacklet that had none.
    images: Option<crate::pins::Pins>,
}

/// Restore snapshot data and meta of `id` from `repo` (opened once: the key derivation and the
/// index read are the fixed cost of a restore) into `data_target` (which must not exist) and a
/// temporary meta dir; returns the meta files and the data summary.
async fn fetch(
    repo: Repo,
    snapshot: &str,
    manifest: &Manifest,
    data_target: &Path,
) -> anyhow::Result<(Meta, RestoreSummary)> {
    let meta_dir = tempfile::Builder::new()
        .prefix("stack-restore-")
        .tempdir()
        .context("Cannot create a temporary directory")?;
    let mut parts = vec![(manifest.meta_path.clone(), meta_dir.path().join("meta"))];
    if let Some(inner) = &manifest.data_path {
        parts.push((inner.clone(), data_target.to_path_buf()));
    }
    let snap = snapshot.to_string();
    let restored = blocking(move || repo.restore(&snap, &parts)).await?;
    let summary = restored.get(1).copied().unwrap_or_default();
    let meta = meta_dir.path().join("meta");
    let secrets_text = std::fs::read_to_string(meta.join(SECRETS_FILE)).unwrap_or_default();
    let table: toml::Table =
        toml::from_str(&secrets_text).context("The snapshot's `secrets.toml` does not parse")?;
    let secrets = table
        .into_iter()
        .filter_map(|(k, v)| Some((k, v.as_str()?.to_string())))
        .collect();
    let config = std::fs::read_to_string(meta.join(CONFIG_FILE)).ok();
    let images = match std::fs::read(meta.join(IMAGES_FILE)) {
        Ok(bytes) => Some(
            serde_json::from_slice(&bytes)
                .context("The snapshot's `images.json` does not parse")?,
        ),
        Err(_) => None,
    };
    Ok((
        Meta {
            secrets,
            config,
            images,
        },
        summary,
    ))
}

/// Write a snapshot's secrets and config table into `ws`'s instance: the stacklet's own secrets
/// replace the current ones, global ones are only added when missing.
fn apply_meta(instance: &Instance, id: &str, meta: &Meta) -> anyhow::Result<()> {
    let path = instance.secrets_file();
    let current = Secrets::load(&path).map_err(secrets_error)?;
    for (key, value) in &meta.secrets {
        if key.starts_with("global__") && current.get(key).is_some() {
            continue;
        }
        Secrets::set(&path, key, value).map_err(secrets_error)?;
    }
    crate::config::replace_table(instance, id, meta.config.as_deref())?;
    Ok(())
}

/// The snapshot's image records that can apply here: every record of a registry image (`up`
/// pulls it by its digest when it is missing), and a record of an image without a registry digest
/// (built elsewhere, imported, recorded by its local id) only while this machine has that image —
/// nothing could pull it, and without its record `up` takes what the compose file names.
async fn images_to_restore(
    session: &mut Session,
    images: &crate::pins::Pins,
) -> anyhow::Result<crate::pins::Pins> {
    let mut kept = crate::pins::Pins::new();
    for (service, pin) in images {
        let usable = match &pin.digest {
            Some(_) => true,
            None => {
                let docker = session.docker().await?;
                crate::engine::image_id(&docker, &pin.id).await?.is_some()
            }
        };
        if usable {
            kept.insert(service.clone(), pin.clone());
        }
    }
    Ok(kept)
}

/// Write the restored image records; `None` (a snapshot without records) keeps the instance's.
fn save_images(
    instance: &Instance,
    id: &str,
    images: Option<&crate::pins::Pins>,
) -> anyhow::Result<()> {
    match images {
        Some(images) => Ok(crate::pins::save(instance, id, images)?),
        None => Ok(()),
    }
}

/// After the restored stacklet came up healthy: its `on_restore` hook loads what `on_backup`
/// dumped; then the stacklet is restarted (`down`, `up`), so every service starts on the loaded
/// data instead of what it saw before (an application that started on an empty database keeps
/// caches and counters of it); `welcome`: that restart shows the welcome screen. Returns whether
/// the hook ran.
async fn load_dump(session: &mut Session, id: &str, welcome: bool) -> anyhow::Result<bool> {
    let stacklet = session.ws.catalog.require(id)?.clone();
    let rendered = env::render(&session.ws, &stacklet, &session.lan_ip)?;
    let ran = session
        .run_hook(&stacklet, HookName::OnRestore, &rendered)
        .await?;
    if ran {
        session.printer.status(
            "Restarting",
            format!("{} on the loaded data", stacklet.manifest.name),
        );
        down::down(session, id).await?;
        if welcome {
            up::up(session, id).await?;
        } else {
            up::up_quietly(session, id).await?;
        }
    }
    Ok(ran)
}

/// Mark the stacklet set up: the restored data already went through its first run, so
/// `on_configure`/`on_install` must not run over it.
fn mark_set_up(instance: &Instance, id: &str) -> anyhow::Result<()> {
    instance
        .mark_set_up(id)
        .with_context(|| format!("Cannot write `{}`", instance.marker_file(id).display()))
}

/// `stack restore`: stop (only with `yes`), restore data, secrets and config, `up`, `on_restore`.
pub async fn restore_one(
    session: &mut Session,
    settings: &Settings,
    password: &str,
    bars: Bars,
    id: &str,
    wanted: Option<&str>,
    yes: bool,
) -> anyhow::Result<RestoreDone> {
    let started = Instant::now();
    let stacklet = session.ws.catalog.require(id)?.clone();
    let (repo, snap, manifest) = find(settings, password, bars, id, wanted).await?;
    let current = state::of(session, &stacklet).await?;
    if matches!(current, state::State::Available | state::State::Stopped) {
    } else if yes {
        down::down(session, id).await?;
    } else {
        return Err(
            UserError::new(format!("`{id}` is running; a restore replaces its data"))
                .hint(format!("`stack restore {id} --yes` stops it first"))
                .into(),
        );
    }
    let data_root = session.ws.config.data_dir.clone();
    std::fs::create_dir_all(&data_root)
        .with_context(|| format!("Cannot create `{}`", data_root.display()))?;
    let stamp = snap.short_id.clone();
    let incoming = data_root.join(format!(".{id}.restoring-{stamp}"));
    if incoming.exists() {
        std::fs::remove_dir_all(&incoming)
            .with_context(|| format!("Cannot clear `{}`", incoming.display()))?;
    }
    session.printer.status(
        "Restoring",
        format!(
            "{} from snapshot {} of {}",
            stacklet.manifest.name, snap.short_id, snap.time
        ),
    );
    let fetched = async {
        let (meta, restored) = fetch(repo, &snap.id, &manifest, &incoming).await?;
        let previous_images = crate::pins::load(&session.ws.instance, id)?;
        let images = match &meta.images {
            Some(images) => Some(images_to_restore(session, images).await?),
            None => None,
        };
        anyhow::Ok((meta, restored, previous_images, images))
    }
    .await;
    let (meta, restored, previous_images, images) = match fetched {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&incoming);
            return Err(e);
        }
    };
    // Swap: the current data goes aside (same filesystem, so a rename), the restored data in.
    let data = data_root.join(id);
    let aside = data_root.join(format!(".{id}.before-restore-{}", unix_now()));
    let replaced = if data.exists() {
        std::fs::rename(&data, &aside)
            .with_context(|| format!("Cannot move `{}` aside", data.display()))?;
        Some(aside)
    } else {
        None
    };
    let swapped = if incoming.exists() {
        std::fs::rename(&incoming, &data)
            .with_context(|| format!("Cannot move the restored data into `{}`", data.display()))
    } else {
        Ok(())
    };
    if let Err(e) = swapped
        .and_then(|()| apply_meta(&session.ws.instance, id, &meta))
        .and_then(|()| save_images(&session.ws.instance, id, images.as_ref()))
        .and_then(|()| mark_set_up(&session.ws.instance, id))
    {
        // Nothing ran on the restored data yet: put the old data back.
        if let Some(aside) = &replaced {
            let _ = std::fs::remove_dir_all(&data);
            let _ = std::fs::rename(aside, &data);
        }
        let _ = crate::pins::save(&session.ws.instance, id, &previous_images);
        return Err(e);
    }
    session.reload()?;
    // With an `on_restore` hook the stacklet is restarted after the load: the welcome screen
    // comes with that second start only.
    let restarts = {
        let stacklet = session.ws.catalog.require(id)?;
        resolve(&stacklet.dir, HookName::OnRestore)?.is_some()
    };
    let first_up = if restarts {
        up::up_quietly(session, id).await
    } else {
        up::up(session, id).await
    };
    let healthy = match first_up {
        Ok(()) => load_dump(session, id, true).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = healthy {
        let hint = match &replaced {
            Some(aside) => format!(
                "the data it replaced is kept in `{}`; move it back to `{}` to undo",
                aside.display(),
                data.display()
            ),
            None => "fix the problem, then `stack up` it again".to_string(),
        };
        return Err(
            UserError::new(format!("The restored `{id}` did not come up healthy"))
                .because(Chain(e))
                .hint(hint)
                .into(),
        );
    }
    Ok(RestoreDone {
        snapshot: snap.short_id,
        time: snap.time,
        restored,
        replaced,
        elapsed: started.elapsed(),
    })
}

/// An `anyhow` chain as the cause of a `UserError` (which needs a `std::error::Error`).
#[derive(Debug)]
pub struct Chain(pub anyhow::Error);

impl std::fmt::Display for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Chain {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::in_rustic_core;

    #[test]
    fn panics_in_rustic_core_are_recognised_vendored_or_not() {
        assert!(in_rustic_core("vendor/rustic_core/src/blob/tree.rs"));
        assert!(in_rustic_core(
            "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/rustic_core-0.12.0/src/blob/tree.rs"
        ));
        assert!(!in_rustic_core("src/backup/repo.rs"));
        assert!(!in_rustic_core("vendor/rustic_cdc/src/rolling_hash.rs"));
    }
}
