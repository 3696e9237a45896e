//! Dependency order: the one rule behind the start order of compose services, the stop order of a
//! project's containers and the order of stacklets by `requires`.
//!
//! Invariants: level 0 holds the nodes whose dependencies are all outside the graph; every node
//! sits in exactly one level, after all of its dependencies; levels keep the graph's (sorted) key
//! order, so the result is deterministic. Dependencies that are not nodes are ignored: the caller
//! decides whether one is an error. A cycle is reported as a path along dependencies that starts
//! and ends on the same node.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Nodes that depend on each other in a circle, in dependency order, the first repeated at the end
/// (`a → b → a`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle<N> {
    pub path: Vec<N>,
}

impl<N> Cycle<N> {
    /// The members once each, in path order.
    pub fn members(&self) -> &[N] {
        &self.path[..self.path.len().saturating_sub(1)]
    }
}

impl<N: fmt::Display> fmt::Display for Cycle<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, node) in self.path.iter().enumerate() {
            if i > 0 {
                f.write_str(" → ")?;
            }
            write!(f, "{node}")?;
        }
        Ok(())
    }
}

/// `deps`: node → the nodes it depends on. Levels such that every node's dependencies sit in an
/// earlier level; nodes within a level do not depend on each other.
pub fn levels<N, D>(deps: &BTreeMap<N, D>) -> Result<Vec<Vec<N>>, Cycle<N>>
where
    N: Ord + Clone,
    for<'d> &'d D: IntoIterator<Item = &'d N>,
{
    let mut placed: BTreeSet<&N> = BTreeSet::new();
    let mut levels = Vec::new();
    while placed.len() < deps.len() {
        let level: Vec<&N> = deps
            .iter()
            .filter(|(node, d)| {
                !placed.contains(node)
                    && d.into_iter()
                        .all(|x| placed.contains(x) || !deps.contains_key(x))
            })
            .map(|(node, _)| node)
            .collect();
        if level.is_empty() {
            return Err(cycle(deps, &placed));
        }
        placed.extend(level.iter().copied());
        levels.push(level.into_iter().cloned().collect());
    }
    Ok(levels)
}

/// Walks from the smallest unplaced node along unplaced dependencies until a node repeats.
fn cycle<N, D>(deps: &BTreeMap<N, D>, placed: &BTreeSet<&N>) -> Cycle<N>
where
    N: Ord + Clone,
    for<'d> &'d D: IntoIterator<Item = &'d N>,
{
    let stuck = |n: &N| deps.contains_key(n) && !placed.contains(n);
    let mut path: Vec<&N> = Vec::new();
    let mut current = deps
        .keys()
        .find(|n| stuck(n))
        .expect("called with unplaced nodes");
    while !path.contains(&current) {
        path.push(current);
        current = (&deps[current])
            .into_iter()
            .filter(|d| stuck(d))
            .min()
            .expect("an unplaced node has an unplaced dependency");
    }
    let start = path.iter().position(|p| *p == current).unwrap_or(0);
    let mut cycle: Vec<N> = path[start..].iter().map(|n| (*n).clone()).collect();
    cycle.push(current.clone());
    Cycle { path: cycle }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(
        edges: &[(&'static str, &[&'static str])],
    ) -> BTreeMap<&'static str, Vec<&'static str>> {
        edges.iter().map(|(n, d)| (*n, d.to_vec())).collect()
    }

    #[test]
    fn levels_follow_dependencies_and_sort_within_a_level() {
        let g = graph(&[
            ("core", &[]),
            ("photos", &["core"]),
            ("docs", &["core"]),
            ("bots", &["docs", "messages"]),
            ("messages", &["core"]),
        ]);
        assert_eq!(
            levels(&g).unwrap(),
            vec![
                vec!["core"],
                vec!["docs", "messages", "photos"],
                vec!["bots"]
            ]
        );
    }

    #[test]
    fn dependencies_outside_the_graph_are_ignored() {
        let g = graph(&[("a", &["gone"])]);
        assert_eq!(levels(&g).unwrap(), vec![vec!["a"]]);
    }

    #[test]
    fn a_cycle_is_named_in_dependency_order() {
        let g = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]);
        let cycle = levels(&g).unwrap_err();
        assert_eq!(cycle.path, vec!["a", "b", "c", "a"]);
        assert_eq!(cycle.members(), ["a", "b", "c"]);
        assert_eq!(cycle.to_string(), "a → b → c → a");
    }

    #[test]
    fn a_node_depending_on_a_cycle_is_not_a_member() {
        let g = graph(&[("0", &["a"]), ("a", &["b"]), ("b", &["a"])]);
        assert_eq!(levels(&g).unwrap_err().path, vec!["a", "b", "a"]);
    }

    #[test]
    fn self_cycle() {
        let g = graph(&[("a", &["a"])]);
        assert_eq!(levels(&g).unwrap_err().path, vec!["a", "a"]);
    }
}
