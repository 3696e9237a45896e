//! Start order of services: dependency levels (Kahn's algorithm) and cycle detection.
//!
//! Invariant: level 0 holds services with no dependencies; every service appears in exactly one
//! level after all of its dependencies; names inside a level are sorted, so the order is
//! deterministic. A cycle is reported with its members in dependency order.

use std::collections::{BTreeMap, BTreeSet};

/// `deps`: service → the services it depends on (all keys of `deps`; unknown names are ignored).
/// On a cycle, returns its members as a path that starts and ends on the same service.
pub(crate) fn levels(
    deps: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Vec<Vec<String>>, Vec<String>> {
    let mut remaining: BTreeMap<&str, BTreeSet<&str>> = deps
        .iter()
        .map(|(k, v)| {
            let known = v
                .iter()
                .map(String::as_str)
                .filter(|d| deps.contains_key(*d))
                .collect();
            (k.as_str(), known)
        })
        .collect();
    let mut out = Vec::new();
    while !remaining.is_empty() {
        let ready: Vec<&str> = remaining
            .iter()
            .filter(|(_, d)| d.is_empty())
            .map(|(k, _)| *k)
            .collect();
        if ready.is_empty() {
            return Err(cycle(&remaining));
        }
        for name in &ready {
            remaining.remove(name);
        }
        for d in remaining.values_mut() {
            for name in &ready {
                d.remove(name);
            }
        }
        out.push(ready.into_iter().map(str::to_owned).collect());
    }
    Ok(out)
}

/// Walks from the first stuck service along unresolved dependencies until a name repeats.
fn cycle(remaining: &BTreeMap<&str, BTreeSet<&str>>) -> Vec<String> {
    let mut path: Vec<&str> = Vec::new();
    let mut current = *remaining.keys().next().expect("called with stuck services");
    loop {
        if let Some(pos) = path.iter().position(|p| *p == current) {
            let mut members: Vec<String> = path[pos..].iter().map(|s| (*s).to_owned()).collect();
            members.push(current.to_owned());
            return members;
        }
        path.push(current);
        current = remaining[current]
            .iter()
            .next()
            .copied()
            .expect("a stuck service has a stuck dependency");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(pairs: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    #[test]
    fn levels_in_dependency_order() {
        let d = deps(&[
            ("app", &["db", "redis"]),
            ("db", &[]),
            ("redis", &[]),
            ("web", &["app"]),
        ]);
        assert_eq!(
            levels(&d),
            Ok(vec![
                vec!["db".to_owned(), "redis".to_owned()],
                vec!["app".to_owned()],
                vec!["web".to_owned()]
            ])
        );
    }

    #[test]
    fn cycles_are_named() {
        let d = deps(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]);
        assert_eq!(
            levels(&d),
            Err(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
        let d = deps(&[("a", &["a"])]);
        assert_eq!(levels(&d), Err(vec!["a".into(), "a".into()]));
    }
}
