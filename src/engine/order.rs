//! Start order: services grouped into levels so that every service's dependencies sit in an
//! earlier level. Services within a level do not depend on each other and start concurrently;
//! stopping walks the levels backwards.
//!
//! Works on plain name → dependency lists so `down` can order containers from their
//! `com.docker.compose.depends_on` labels alone, without the compose file.

use std::collections::{BTreeMap, BTreeSet};

use super::EngineError;

/// Dependencies that are not themselves nodes are ignored here (the caller decides whether a
/// missing dependency is an error). Levels and the names in them are sorted, so the order is stable.
pub fn levels(graph: &BTreeMap<String, Vec<String>>) -> Result<Vec<Vec<String>>, EngineError> {
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut levels = Vec::new();
    while placed.len() < graph.len() {
        let level: Vec<String> = graph
            .iter()
            .filter(|(name, _)| !placed.contains(*name))
            .filter(|(_, deps)| {
                deps.iter()
                    .all(|d| placed.contains(d) || !graph.contains_key(d))
            })
            .map(|(name, _)| name.clone())
            .collect();
        if level.is_empty() {
            let services = graph
                .keys()
                .filter(|n| !placed.contains(*n))
                .cloned()
                .collect();
            return Err(EngineError::DependencyCycle { services });
        }
        placed.extend(level.iter().cloned());
        levels.push(level);
    }
    Ok(levels)
}

#[cfg(test)]
mod unit {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn levels_follow_dependencies() {
        let g = graph(&[
            ("web", &["db", "cache"]),
            ("db", &[]),
            ("cache", &[]),
            ("worker", &["web"]),
        ]);
        assert_eq!(
            levels(&g).unwrap(),
            vec![vec!["cache", "db"], vec!["web"], vec!["worker"]]
        );
    }

    #[test]
    fn cycle_is_an_error() {
        let g = graph(&[("a", &["b"]), ("b", &["a"]), ("c", &[])]);
        let err = levels(&g).unwrap_err().to_string();
        assert_eq!(err, "Dependency cycle between services: a, b");
    }

    #[test]
    fn outside_dependencies_are_ignored() {
        let g = graph(&[("a", &["gone"])]);
        assert_eq!(levels(&g).unwrap(), vec![vec!["a"]]);
    }
}
