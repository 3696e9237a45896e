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

/// The running stacklets to stop, grouped by level, dependents first.
pub async fn down_plan(session: &mut Session) -> anyhow::Result<Vec<Vec<String>>> {
    let mut plan = Vec::new();
    for level in graph::levels(&session.ws.catalog.stacklets)?
        .into_iter()
        .rev()
    {
        let mut ids = Vec::new();
        for id in level {
            let stacklet = session.ws.catalog.require(&id)?.clone();
            let current = state::of(session, &stacklet).await?;
            let active = matches!(
                current,
                state::State::Running
                    | state::State::Starting
                    | state::State::Failing(_)
                    | state::State::Degraded(_)
            );
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
