//! The `requires` graph: a deterministic topological order (dependencies first, ties by id), its
//! reverse for stopping, and the levels of stacklets that do not depend on each other.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::UserError;
use crate::stacklet::Stacklet;

/// Levels: every stacklet in level N depends only on stacklets in levels < N. Ids within a level
/// are sorted. A cycle is an error naming its members in order.
pub fn levels(stacklets: &[Stacklet]) -> Result<Vec<Vec<String>>, UserError> {
    levels_of(&deps_of(stacklets)).map_err(|(_, e)| e)
}

/// The first `requires` cycle: its members and the error naming them in order.
pub fn find_cycle(stacklets: &[Stacklet]) -> Option<(Vec<String>, UserError)> {
    levels_of(&deps_of(stacklets)).err()
}

fn deps_of(stacklets: &[Stacklet]) -> BTreeMap<&str, BTreeSet<&str>> {
    stacklets
        .iter()
        .map(|s| {
            (
                s.id(),
                s.manifest.requires.iter().map(String::as_str).collect(),
            )
        })
        .collect()
}

/// Dependencies outside `deps` (a broken stacklet) hold nothing back (`crate::order`). A cycle
/// is its members and the error naming them in order.
fn levels_of(
    deps: &BTreeMap<&str, BTreeSet<&str>>,
) -> Result<Vec<Vec<String>>, (Vec<String>, UserError)> {
    let levels = crate::order::levels(deps).map_err(|cycle| {
        let members = cycle.members().iter().map(|c| (*c).to_string()).collect();
        let error = UserError::new(format!(
            "`requires` forms a cycle: {}",
            cycle
                .path
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(" → ")
        ))
        .hint("remove one of these `requires` entries so the stacklets can start in order");
        (members, error)
    })?;
    Ok(levels
        .into_iter()
        .map(|level| level.into_iter().map(str::to_string).collect())
        .collect())
}

/// Dependencies first; within a level, by id.
pub fn order(stacklets: &[Stacklet]) -> Result<Vec<String>, UserError> {
    Ok(levels(stacklets)?.into_iter().flatten().collect())
}

/// Dependents first (the order for `down all` / `uninstall`).
pub fn reverse_order(stacklets: &[Stacklet]) -> Result<Vec<String>, UserError> {
    let mut ids = order(stacklets)?;
    ids.reverse();
    Ok(ids)
}

/// Every stacklet that requires `id`, directly or transitively, sorted.
pub fn dependents(stacklets: &[Stacklet], id: &str) -> Vec<String> {
    let mut found: BTreeSet<String> = BTreeSet::new();
    let mut frontier = vec![id.to_string()];
    while let Some(current) = frontier.pop() {
        for s in stacklets {
            if s.manifest.requires.contains(&current) && found.insert(s.id().to_string()) {
                frontier.push(s.id().to_string());
            }
        }
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph<'a>(edges: &[(&'a str, &[&'a str])]) -> BTreeMap<&'a str, BTreeSet<&'a str>> {
        edges
            .iter()
            .map(|(id, d)| (*id, d.iter().copied().collect()))
            .collect()
    }

    // The order itself is `crate::order`'s (tested there); this is the stacklet wording of a cycle.
    #[test]
    fn cycle_names_members_in_order() {
        let g = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]);
        let (members, e) = levels_of(&g).unwrap_err();
        assert_eq!(members, ["a", "b", "c"]);
        assert_eq!(e.message, "`requires` forms a cycle: `a` → `b` → `c` → `a`");
    }
}
