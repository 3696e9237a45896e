//! `up all` and `down all`: every set-up (resp. running) stacklet, one dependency level at a time,
//! the stacklets of a level concurrently.
//!
//! Invariants: a level starts only after every stacklet of the previous level finished (so a
//! dependency is healthy before its dependents start, and dependents are stopped before their
//! dependencies); a failure lets the rest of its level finish — independent stacklets are not
//! abandoned half-way — and then stops before the next level. Each stacklet runs in a
//! [`Session::fork`] that shares the one instance lock. Python hooks still run one at a time (the
//! interpreter's global state is per run), so concurrency helps with what dominates `up`: images,
//! containers and health waits.

use futures_util::future::join_all;

use crate::history::{Action, Event};
use crate::lifecycle::target::Target;
use crate::lifecycle::{Session, down, state, up};
use crate::stacklet::graph;

/// One stacklet's failure in a level.
pub type Failure = (String, anyhow::Error);

/// The set-up stacklets to start, grouped by dependency level (dependencies first).
pub async fn up_plan(session: &mut Session) -> anyhow::Result<Vec<Vec<String>>> {
    let mut plan = Vec::new();
    for level in graph::levels(&session.ws.catalog.stacklets)? {
        let mut ids = Vec::new();
        for id in level {
            let stacklet = session.ws.catalog.require(&id)?.clone();
            if state::of(session, &stacklet).await?.is_set_up() {
                ids.push(id);
            }
        }
        if !ids.is_empty() {
            plan.push(ids);
        }
    }
    Ok(plan)
}

/// The set-up stacklets that are broken (issue 10 §1): `up all` starts everything else and
/// reports each of these as a failure with its problem.
pub async fn broken_set_up(session: &mut Session) -> anyhow::Result<Vec<Failure>> {
    let mut failures = Vec::new();
    for broken in session.ws.catalog.broken.clone() {
        let target = Target::resolve(&session.ws.catalog, &broken.id)?;
        if target.state(session).await?.is_set_up() {
            let problem = broken.problem.clone();
            failures.push((
                broken.id.clone(),
                anyhow::Error::new(problem).context(format!("`{}` was not started", broken.id)),
            ));
        }
    }
    Ok(failures)
}

/// The running stacklets to stop, grouped by level, dependents first. Broken stacklets that run
/// come first (what depends on them cannot be known) and are stopped from Docker's labels.
pub async fn down_plan(session: &mut Session) -> anyhow::Result<Vec<Vec<String>>> {
    let mut plan = Vec::new();
    let mut broken = Vec::new();
    for b in session.ws.catalog.broken.clone() {
        let target = Target::resolve(&session.ws.catalog, &b.id)?;
        if is_active(&target.state(session).await?)
            || !crate::services::started(&session.ws.instance, &b.id).is_empty()
        {
            broken.push(b.id);
        }
    }
    if !broken.is_empty() {
        plan.push(broken);
    }
    for level in graph::levels(&session.ws.catalog.stacklets)?
        .into_iter()
        .rev()
    {
        let mut ids = Vec::new();
        for id in level {
            let stacklet = session.ws.catalog.require(&id)?.clone();
            let active = is_active(&state::of(session, &stacklet).await?);
            // A host stacklet whose native service died reads as stopped, yet services `stack`
            // started are still remembered and must be stopped (and forgotten) too.
            let remembered = !crate::services::started(&session.ws.instance, &id).is_empty();
            if active || remembered {
                ids.push(id);
            }
        }
        if !ids.is_empty() {
            plan.push(ids);
        }
    }
    Ok(plan)
}

fn is_active(current: &state::State) -> bool {
    matches!(
        current,
        state::State::Running
            | state::State::Starting
            | state::State::Failing(_)
            | state::State::Degraded(_)
    )
}

/// `up` every stacklet of `plan`, level by level. Returns the failures of the first level that
/// had any (empty when everything came up).
pub async fn up_all(session: &mut Session, plan: &[Vec<String>]) -> Vec<Failure> {
    for level in plan {
        let failures = run_level(session, level, |mut s, id| async move {
            let result = up::up(&mut s, &id).await;
            s.record(Event::from_result(&id, Action::Up, "running", &result));
            result
        })
        .await;
        if !failures.is_empty() {
            return failures;
        }
    }
    Vec::new()
}

/// `down` every stacklet of `plan`, level by level, as [`up_all`].
pub async fn down_all(session: &mut Session, plan: &[Vec<String>]) -> Vec<Failure> {
    for level in plan {
        let failures = run_level(session, level, |mut s, id| async move {
            let result = down::down(&mut s, &id).await;
            if !matches!(result, Ok(false)) {
                s.record(Event::from_result(&id, Action::Down, "stopped", &result));
            }
            result.map(|_| ())
        })
        .await;
        if !failures.is_empty() {
            return failures;
        }
    }
    Vec::new()
}

async fn run_level<F, Fut>(session: &mut Session, level: &[String], work: F) -> Vec<Failure>
where
    F: Fn(Session, String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    // Connect once here, so every fork shares the client; a fork that needs Docker and cannot
    // reach it reports that itself.
    let _ = session.try_docker().await;
    let results = join_all(level.iter().map(|id| {
        let id = id.clone();
        let fut = work(session.fork(), id.clone());
        async move { fut.await.map_err(|e| (id, e)) }
    }))
    .await;
    session.invalidate();
    results.into_iter().filter_map(Result::err).collect()
}
