//! Discovery: every directory directly under `stacklets/` that holds a `stacklet.toml` is a
//! stacklet. Loading the catalog validates every manifest and the rules that span stacklets
//! (unique ports, known `requires`, no cycles). A manifest that fails is an error, never skipped.

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
        [
            "docker-compose.yml",
            "docker-compose.yaml",
            "compose.yaml",
            "compose.yml",
        ]
        .iter()
        .map(|n| self.dir.join(n))
        .find(|p| p.is_file())
    }
}

/// All stacklets of a repo, sorted by id.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub stacklets: Vec<Stacklet>,
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
            let (manifest, warnings) = manifest::load(&path, &display).map_err(|e| {
                let hint = e.hint.clone();
                UserError::wrap(e).maybe_hint(hint)
            })?;
            catalog.warnings.extend(warnings);
            catalog.stacklets.push(Stacklet {
                manifest,
                dir: manifest::stacklet_dir_of(&path),
            });
        }
        catalog.check_ports()?;
        catalog.check_requires()?;
        graph::order(&catalog.stacklets)?;
        Ok(catalog)
    }

    pub fn get(&self, id: &str) -> Option<&Stacklet> {
        self.stacklets.iter().find(|s| s.id() == id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.stacklets.iter().map(Stacklet::id)
    }

    /// The stacklet, or exit 1 with the closest id as a hint.
    pub fn require(&self, id: &str) -> Result<&Stacklet, UserError> {
        self.get(id).ok_or_else(|| {
            let err = UserError::new(format!("Unknown stacklet `{id}`"));
            match closest(id, self.ids()) {
                Some(c) => err.hint(format!("did you mean `{c}`?")),
                None => err.hint("`stack list` shows the stacklets of this repo"),
            }
        })
    }

    fn check_ports(&self) -> Result<(), UserError> {
        let mut seen: BTreeMap<u16, String> = BTreeMap::new();
        for s in &self.stacklets {
            for (name, port) in s.manifest.all_ports() {
                let owner = match name {
                    None => format!("`{}` (port)", s.id()),
                    Some(n) => format!("`{}` (ports.{n})", s.id()),
                };
                if let Some(first) = seen.get(&port) {
                    return Err(UserError::new(format!(
                        "Port {port} is claimed twice: by {first} and by {owner}"
                    ))
                    .hint(
                        "every stacklet needs its own ports; pick a free one in the 42xxx range",
                    ));
                }
                seen.insert(port, owner);
            }
        }
        Ok(())
    }

    fn check_requires(&self) -> Result<(), UserError> {
        for s in &self.stacklets {
            for dep in &s.manifest.requires {
                if self.get(dep).is_none() {
                    let err = UserError::new(format!(
                        "Invalid `stacklets/{}/stacklet.toml` key `requires`: unknown stacklet `{dep}`{}",
                        s.id(),
                        manifest::line_suffix(
                            &std::fs::read_to_string(s.dir.join("stacklet.toml"))
                                .unwrap_or_default(),
                            "requires"
                        )
                    ));
                    return Err(err.maybe_hint(
                        closest(dep, self.ids()).map(|c| format!("did you mean `{c}`?")),
                    ));
                }
            }
        }
        Ok(())
    }
}
