//! Discovery: every directory directly under `stacklets/` that holds a `stacklet.toml` is a
//! stacklet. Loading the catalog validates every manifest and the rules that span stacklets
//! (unique ports, known `requires`, no cycles). A stacklet that fails is never skipped silently and
//! never blocks the others: it is kept apart as [`Broken`], with its problem, for every command to
//! report.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{UserError, closest};
use crate::instance::Instance;
use crate::stacklet::graph;
use crate::stacklet::manifest::{self, Manifest};

#[derive(Clone, Debug)]
pub struct Stacklet {
    pub manifest: Manifest,
    /// `stacklets/<id>/`
    pub dir: PathBuf,
}

impl Stacklet {
    pub fn id(&self) -> &str {
        self.manifest.id.as_str()
    }

    /// `docker-compose.yml`, else `compose.yaml` (also `.yaml`/`.yml` variants), if any.
    pub fn compose_file(&self) -> Option<PathBuf> {
        compose_file_in(&self.dir)
    }
}

/// The compose file of the stacklet directory `dir` (see [`Stacklet::compose_file`]).
pub fn compose_file_in(dir: &std::path::Path) -> Option<PathBuf> {
    [
        "docker-compose.yml",
        "docker-compose.yaml",
        "compose.yaml",
        "compose.yml",
    ]
    .iter()
    .map(|n| dir.join(n))
    .find(|p| p.is_file())
}

/// A stacklet that cannot be used as it is: its manifest failed, or a rule spanning stacklets
/// (a port claimed twice, an unknown `requires`, a cycle) names it. It never blocks the others:
/// commands on other stacklets work, `up` of it fails with `problem`, and `down`/`destroy` of it
/// work from what Docker and the instance's state files know (contract §4, issue 10 §1).
#[derive(Clone, Debug)]
pub struct Broken {
    /// The directory's name: the id the stacklet's containers, state files and data carry.
    pub id: String,
    /// `stacklets/<id>/`
    pub dir: PathBuf,
    /// The manifest, when it parsed and only a rule spanning stacklets failed.
    pub stacklet: Option<Stacklet>,
    pub problem: UserError,
}

impl Broken {
    /// The name to show: the manifest's when it parsed, else the id.
    pub fn name(&self) -> &str {
        self.stacklet
            .as_ref()
            .map_or(self.id.as_str(), |s| s.manifest.name.as_str())
    }
}

/// A stacklet as a command that tears down finds it: usable, or broken (see [`Broken`]).
#[derive(Clone, Copy, Debug)]
pub enum Entry<'a> {
    Usable(&'a Stacklet),
    Broken(&'a Broken),
}

/// All stacklets of a repo, sorted by id: the usable ones, and the broken ones apart so no
/// pipeline picks one up by accident.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub stacklets: Vec<Stacklet>,
    pub broken: Vec<Broken>,
    /// Unknown-key warnings from manifests.
    pub warnings: Vec<String>,
}

impl Catalog {
    pub fn load(instance: &Instance) -> Result<Self, UserError> {
        let base = instance.stacklets_dir();
        let mut paths: Vec<PathBuf> = walkdir::WalkDir::new(&base)
            .min_depth(2)
            .max_depth(2)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_name() == "stacklet.toml")
            .filter(|e| {
                !e.path()
                    .parent()
                    .and_then(|p| p.file_name())
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .map(walkdir::DirEntry::into_path)
            .collect();
        paths.sort();
        let mut catalog = Catalog::default();
        for path in paths {
            let display = path
                .strip_prefix(&instance.root)
                .unwrap_or(&path)
                .display()
                .to_string();
            let dir = manifest::stacklet_dir_of(&path);
            let loaded = manifest::load(&path, &display).and_then(|(manifest, warnings)| {
                let stacklet = Stacklet {
                    manifest,
                    dir: dir.clone(),
                };
                manifest::check_has_something_to_run(
                    &stacklet.manifest,
                    &display,
                    stacklet.compose_file().is_some(),
                )?;
                Ok((stacklet, warnings))
            });
            match loaded {
                Ok((stacklet, warnings)) => {
                    catalog.warnings.extend(warnings);
                    catalog.stacklets.push(stacklet);
                }
                Err(e) => {
                    let hint = e.hint.clone();
                    catalog.broken.push(Broken {
                        id: dir
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        dir,
                        stacklet: None,
                        problem: UserError::wrap(e).maybe_hint(hint),
                    });
                }
            }
        }
        catalog.check_ports();
        catalog.check_requires();
        catalog.check_cycles();
        catalog.broken.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(catalog)
    }

    pub fn get(&self, id: &str) -> Option<&Stacklet> {
        self.stacklets.iter().find(|s| s.id() == id)
    }

    pub fn broken(&self, id: &str) -> Option<&Broken> {
        self.broken.iter().find(|b| b.id == id)
    }

    /// The ids of the usable stacklets.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.stacklets.iter().map(Stacklet::id)
    }

    /// Every id under `stacklets/`, broken ones included.
    pub fn all_ids(&self) -> impl Iterator<Item = &str> {
        self.ids().chain(self.broken.iter().map(|b| b.id.as_str()))
    }

    /// The usable stacklet; a broken one fails with its problem; an unknown id fails with the
    /// closest id as a hint (exit 1).
    pub fn require(&self, id: &str) -> Result<&Stacklet, UserError> {
        match self.entry(id)? {
            Entry::Usable(s) => Ok(s),
            Entry::Broken(b) => Err(b.problem.clone()),
        }
    }

    /// The stacklet whatever its state, for commands that must work on a broken one too (`down`,
    /// `destroy`, `ps`, `logs`); an unknown id fails as in [`Catalog::require`].
    pub fn entry(&self, id: &str) -> Result<Entry<'_>, UserError> {
        if let Some(s) = self.get(id) {
            return Ok(Entry::Usable(s));
        }
        if let Some(b) = self.broken(id) {
            return Ok(Entry::Broken(b));
        }
        let err = UserError::new(format!("Unknown stacklet `{id}`"));
        Err(match closest(id, self.all_ids()) {
            Some(c) => err.hint(format!("did you mean `{c}`?")),
            None => err.hint("`stack list` shows the stacklets of this repo"),
        })
    }

    /// Move the usable stacklet `id` to the broken ones with `problem` (a rule spanning stacklets
    /// failed); a no-op when it is broken already.
    fn break_off(&mut self, id: &str, problem: &UserError) {
        if let Some(at) = self.stacklets.iter().position(|s| s.id() == id) {
            let stacklet = self.stacklets.remove(at);
            self.broken.push(Broken {
                id: id.to_string(),
                dir: stacklet.dir.clone(),
                stacklet: Some(stacklet),
                problem: problem.clone(),
            });
        }
    }

    /// A port claimed twice breaks both claimants: neither may start until one moves (which one
    /// came first is not knowable from the files).
    fn check_ports(&mut self) {
        let mut seen: BTreeMap<u16, (String, String)> = BTreeMap::new();
        let mut clashes = Vec::new();
        for s in &self.stacklets {
            for (name, port) in s.manifest.all_ports() {
                let owner = match name {
                    None => format!("`{}` (port)", s.id()),
                    Some(n) => format!("`{}` (ports.{n})", s.id()),
                };
                if let Some((first_id, first)) = seen.get(&port) {
                    let problem = UserError::new(format!(
                        "Port {port} is claimed twice: by {first} and by {owner}"
                    ))
                    .hint("every stacklet needs its own ports; pick a free one in the 42xxx range");
                    clashes.push((vec![first_id.clone(), s.id().to_string()], problem));
                } else {
                    seen.insert(port, (s.id().to_string(), owner));
                }
            }
        }
        for (ids, problem) in clashes {
            for id in ids {
                self.break_off(&id, &problem);
            }
        }
    }

    /// A `requires` entry must name a stacklet of this repo (a broken one counts: `up` then
    /// fails on its problem).
    fn check_requires(&mut self) {
        let known: Vec<String> = self.all_ids().map(str::to_string).collect();
        let mut unknown = Vec::new();
        for s in &self.stacklets {
            for dep in &s.manifest.requires {
                if !known.contains(dep) {
                    let err = UserError::new(format!(
                        "Invalid `stacklets/{}/stacklet.toml` key `requires`: unknown stacklet `{dep}`{}",
                        s.id(),
                        manifest::line_suffix(
                            &std::fs::read_to_string(s.dir.join("stacklet.toml"))
                                .unwrap_or_default(),
                            "requires"
                        )
                    ));
                    let err = err.maybe_hint(
                        closest(dep, known.iter().map(String::as_str))
                            .map(|c| format!("did you mean `{c}`?")),
                    );
                    unknown.push((s.id().to_string(), err));
                    break;
                }
            }
        }
        for (id, problem) in unknown {
            self.break_off(&id, &problem);
        }
    }

    /// The members of each `requires` cycle are broken; the rest keeps its order.
    fn check_cycles(&mut self) {
        while let Some((members, problem)) = graph::find_cycle(&self.stacklets) {
            for id in members {
                self.break_off(&id, &problem);
            }
        }
    }
}
