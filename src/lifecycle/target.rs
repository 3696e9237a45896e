//! What `down`, `destroy` and `uninstall` act on: a stacklet as the catalog found it, usable or
//! broken (issue 10 §1). Tearing down must work whatever the files say now, so a target carries
//! the manifest only when it parsed; everything else (containers, volumes, state files, data) is
//! found from the id — Docker's labels and the instance's recorded state.

use crate::error::UserError;
use crate::lifecycle::Session;
use crate::lifecycle::state::{self, State};
use crate::stacklet::Stacklet;
use crate::stacklet::discover::{Catalog, Entry};

#[derive(Clone, Debug)]
pub struct Target {
    pub id: String,
    /// The manifest's name, else the id.
    pub name: String,
    /// The stacklet when its manifest parsed (also when only a rule spanning stacklets failed).
    pub stacklet: Option<Stacklet>,
    /// Why the stacklet is broken, if it is.
    pub problem: Option<UserError>,
    /// `always_on`, from the manifest, else from the raw TOML when that still reads.
    pub always_on: bool,
    /// `stacklets/<id>/`
    pub dir: std::path::PathBuf,
}

impl Target {
    /// The stacklet `id`, usable or broken; an unknown id is an error with the closest id.
    pub fn resolve(catalog: &Catalog, id: &str) -> Result<Self, UserError> {
        Ok(match catalog.entry(id)? {
            Entry::Usable(s) => Self {
                id: id.to_string(),
                dir: s.dir.clone(),
                name: s.manifest.name.clone(),
                always_on: s.manifest.always_on,
                stacklet: Some(s.clone()),
                problem: None,
            },
            Entry::Broken(b) => Self {
                id: id.to_string(),
                dir: b.dir.clone(),
                name: b.name().to_string(),
                always_on: b.stacklet.as_ref().map_or_else(
                    || raw_always_on(&b.dir.join("stacklet.toml")),
                    |s| s.manifest.always_on,
                ),
                stacklet: b.stacklet.clone(),
                problem: Some(b.problem.clone()),
            },
        })
    }

    /// Whether the stacklet has a compose file, so its containers may exist. Unknown for a
    /// manifest that does not parse: Docker is asked then too.
    pub fn may_have_containers(&self) -> bool {
        self.stacklet.is_none() || crate::stacklet::discover::compose_file_in(&self.dir).is_some()
    }

    /// The derived state: as for any stacklet when the manifest parsed, else from Docker's labels
    /// and the marker.
    pub async fn state(&self, session: &mut Session) -> Result<State, UserError> {
        match &self.stacklet {
            Some(s) => state::of(session, s).await,
            None => state::of_id(session, &self.id).await,
        }
    }
}

/// `always_on = true` in a manifest that does not validate but still parses as TOML: `destroy`
/// must keep refusing such a stacklet (core) while its manifest is being fixed.
fn raw_always_on(path: &std::path::Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|t| t.get("always_on").and_then(toml::Value::as_bool))
        .unwrap_or(false)
}
