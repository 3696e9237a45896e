//! `stack update`: move a stacklet's recorded images (`pins.rs`) to what their tags point to on
//! the registry now, behind a health gate, with rollback.
//!
//! Invariants: `--check` asks the registry and changes nothing. Without it, only services whose
//! digest changed are pulled and recreated (the rest keep running untouched: their records are
//! unchanged, so their config hash is too); the new records are saved only after `[health]` and
//! the Docker healthchecks passed. On failure the previous records are brought back the same way —
//! the previous images are still there, nothing removes them — and the update reports what failed.
//! Built and local-only images have no registry digest and are never updated; a stacklet whose
//! `[upstream] channel` is `none` is never updated.

use serde::Serialize;

use crate::engine;
use crate::error::UserError;
use crate::history::{self, Action, Event, Images, Outcome};
use crate::lifecycle::Session;
use crate::lifecycle::project::load_project;
use crate::lifecycle::up::{self, UpWith};
use crate::pins::{self, Pins};
use crate::registry;
use crate::render::env;

/// One service as `--check` reports it.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceCheck {
    pub stacklet: String,
    pub service: String,
    pub image: String,
    /// The recorded digest (or image id for local images); `None` before the first `up`.
    pub running: Option<String>,
    /// What the tag points to on its registry now; `None` when it is not asked (see `note`).
    pub available: Option<String>,
    pub update: bool,
    /// Why a service is not checked: built locally, a local-only image, channel `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Ask the registry about every service of `id`. Changes nothing.
pub async fn check(session: &mut Session, id: &str) -> anyhow::Result<Vec<ServiceCheck>> {
    let stacklet = session.ws.catalog.require(id)?.clone();
    let rendered = env::render(&session.ws, &stacklet, &session.lan_ip)?;
    let Some(project) = load_project(&session.ws, &stacklet, &rendered, &session.printer)? else {
        return Ok(Vec::new());
    };
    let records = pins::load(&session.ws.instance, id)?;
    let docker = session.docker().await?;
    let frozen = !stacklet.manifest.watchtower_enabled();
    let mut checks = Vec::new();
    for (name, service) in &project.services {
        let image = engine::image_ref(&project, service)?;
        let pin = records.get(name).filter(|p| p.image == image);
        let mut entry = ServiceCheck {
            stacklet: id.to_string(),
            service: name.clone(),
            image: image.clone(),
            running: pin.map(|p| p.shown().to_string()),
            available: None,
            update: false,
            note: None,
        };
        if service.build.is_some() {
            entry.note = Some("built locally".into());
        } else if pin.is_some_and(|p| p.digest.is_none()) {
            entry.note = Some("local image without a registry digest".into());
        } else if frozen {
            entry.note = Some("[upstream] channel = \"none\"".into());
        } else {
            let remote = registry::remote(&docker, &image)
                .await
                .map_err(|e| UserError::new(e.to_string()).maybe_hint(e.hint()))?;
            entry.update = entry.running.as_deref() != Some(remote.digest.as_str());
            entry.available = Some(remote.digest);
        }
        checks.push(entry);
    }
    Ok(checks)
}

/// What an update of one stacklet did.
pub enum Updated {
    /// Nothing to do: every service runs what its tag points to.
    Current,
    /// Moved to new digests (service → (before, after)).
    Moved(Images),
}

/// Update `id`: pull what changed, recreate it, wait for the health gate; roll back on failure.
pub async fn update(session: &mut Session, id: &str) -> anyhow::Result<Updated> {
    let stacklet = session.ws.catalog.require(id)?.clone();
    if !crate::lifecycle::state::of(session, &stacklet)
        .await?
        .is_set_up()
    {
        return Err(UserError::new(format!("`{id}` is not set up"))
            .hint(format!("stack up {id}"))
            .into());
    }
    let checks = check(session, id).await?;
    let before = pins::load(&session.ws.instance, id)?;
    let mut target = before.clone();
    let mut images = Images::default();
    for c in checks.iter().filter(|c| c.update) {
        let Some(available) = &c.available else {
            continue;
        };
        images.before.insert(
            c.service.clone(),
            c.running.clone().unwrap_or_else(|| "-".into()),
        );
        images.after.insert(c.service.clone(), available.clone());
        target.insert(
            c.service.clone(),
            pins::Pin {
                image: c.image.clone(),
                digest: Some(available.clone()),
                // Resolved by the pull; only the digest decides what runs.
                id: String::new(),
            },
        );
    }
    if images.after.is_empty() {
        return Ok(Updated::Current);
    }
    session.printer.status(
        "Updating",
        format!(
            "{} ({})",
            stacklet.manifest.name,
            images.after.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    );
    let attempt = up::up_with(
        session,
        id,
        &UpWith {
            pins: Some(target),
            ..UpWith::default()
        },
    )
    .await;
    session.invalidate();
    let failure = match attempt {
        Ok(now) => {
            pins::save(&session.ws.instance, id, &now)?;
            session.record(
                Event::new(id, Action::Update, Outcome::Ok, "updated").images(images.clone()),
            );
            return Ok(Updated::Moved(images));
        }
        Err(e) => e,
    };
    Err(roll_back(session, id, failure, &before, &images).await)
}

/// Bring `before` up again after `failure`, record both events, and phrase the error: why the
/// update failed (the failing check, the log tail) and whether the rollback worked.
async fn roll_back(
    session: &mut Session,
    id: &str,
    failure: anyhow::Error,
    before: &Pins,
    images: &Images,
) -> anyhow::Error {
    // Roll back to the records as they were: the previous images are still present.
    session.printer.warn(format!(
        "Update of `{id}` failed; rolling back to the previous images"
    ));
    let back = up::up_with(
        session,
        id,
        &UpWith {
            pins: Some(before.clone()),
            ..UpWith::default()
        },
    )
    .await;
    session.invalidate();
    let detail = history::error_detail(&failure);
    session.record(
        Event::new(id, Action::Update, Outcome::RolledBack, detail.clone()).images(images.clone()),
    );
    let reverse = Images {
        before: images.after.clone(),
        after: images.before.clone(),
    };
    session.record(
        Event::from_result(id, Action::Rollback, "previous images running again", &back)
            .images(reverse),
    );
    let (message, hints) = match failure.chain().find_map(|e| e.downcast_ref::<UserError>()) {
        Some(user) => (user.message.clone(), user.hints.clone()),
        None => (detail, Vec::new()),
    };
    let hints: Vec<String> = hints
        .into_iter()
        .filter(|h| !h.starts_with("containers are left running"))
        .collect();
    let mut err = match back {
        Ok(_) => UserError::new(format!(
            "Update of `{id}` rolled back to the previous images: {message}"
        )),
        Err(e) => UserError::new(format!(
            "Update of `{id}` failed ({message}) and the rollback failed too: {}",
            history::error_detail(&e)
        ))
        .hint(format!(
            "`stack logs {id}`; the records still name the previous images"
        )),
    };
    for h in hints {
        err = err.hint(h);
    }
    err.into()
}
