//! Recorded images (contract §9): what each service of a stacklet runs, by digest, in
//! `.stack/state/<id>/images.json`.
//!
//! Invariants: `up` only adds records (a service seen for the first time, or whose `image:` was
//! edited to another reference); only `update` replaces one; `destroy` forgets them (the per-stacklet
//! state dir goes). A registry image is recorded by its manifest digest, so a later `up` runs the
//! same bytes even when the tag has moved or was removed locally. Built and local-only images have
//! no registry digest and are recorded by image id; they are never pulled. Writes are atomic.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::UserError;
use crate::instance::Instance;

/// One service's recorded image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The reference as the compose file writes it (`postgres:16`); a record only applies while
    /// the compose file still says the same.
    pub image: String,
    /// The registry's manifest digest (`sha256:…`); `None` for built and local-only images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The local image id it resolved to.
    pub id: String,
}

impl Pin {
    /// What history shows for it: the digest, else the image id.
    pub fn shown(&self) -> &str {
        self.digest.as_deref().unwrap_or(&self.id)
    }
}

/// Service → recorded image.
pub type Pins = BTreeMap<String, Pin>;

pub fn file(instance: &Instance, id: &str) -> PathBuf {
    instance.stacklet_state_dir(id).join("images.json")
}

/// The stacklet's records; none yet is an empty map. A file that does not parse is an error (it
/// is never silently replaced: the record is what keeps an instance reproducible).
pub fn load(instance: &Instance, id: &str) -> Result<Pins, UserError> {
    let path = file(instance, id);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            UserError::new(format!("`{}` is not valid: {e}", path.display())).hint(format!(
                "fix or delete it; without it the next `stack up {id}` records what the tags point to then"
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Pins::new()),
        Err(e) => Err(UserError::new(format!(
            "Cannot read `{}`: {e}",
            path.display()
        ))),
    }
}

pub fn save(instance: &Instance, id: &str, pins: &Pins) -> Result<(), UserError> {
    let path = file(instance, id);
    let mut text = serde_json::to_vec_pretty(pins).map_err(|e| UserError::new(e.to_string()))?;
    text.push(b'\n');
    crate::atomic::write_private(&path, &text)
        .map_err(|e| UserError::new(format!("Cannot write `{}`: {e}", path.display())))
}

/// The records `up` keeps: the existing ones, plus `resolved` for services that had none or whose
/// compose reference changed. Returns whether anything was added.
pub fn merge_new(pins: &mut Pins, resolved: &Pins) -> bool {
    let mut changed = false;
    for (service, pin) in resolved {
        let keep = pins.get(service).is_some_and(|p| p.image == pin.image);
        if !keep {
            pins.insert(service.clone(), pin.clone());
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(image: &str, digest: &str) -> Pin {
        Pin {
            image: image.into(),
            digest: Some(digest.into()),
            id: format!("id-{digest}"),
        }
    }

    #[test]
    fn up_adds_but_never_moves_a_record() {
        let mut pins = Pins::from([("web".into(), pin("app:1", "sha256:old"))]);
        let resolved = Pins::from([
            ("web".into(), pin("app:1", "sha256:new")),
            ("db".into(), pin("db:16", "sha256:db")),
        ]);
        assert!(merge_new(&mut pins, &resolved));
        assert_eq!(pins["web"].digest.as_deref(), Some("sha256:old"));
        assert_eq!(pins["db"].digest.as_deref(), Some("sha256:db"));
        // The compose file now names another image: the old record no longer applies.
        let edited = Pins::from([("web".into(), pin("app:2", "sha256:two"))]);
        assert!(merge_new(&mut pins, &edited));
        assert_eq!(pins["web"].image, "app:2");
        assert!(!merge_new(&mut pins, &edited));
    }

    #[test]
    fn round_trips_and_rejects_a_broken_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("stacklets")).unwrap();
        let instance = Instance::discover(dir.path(), None, None).unwrap();
        assert!(load(&instance, "x").unwrap().is_empty());
        let pins = Pins::from([("web".into(), pin("app:1", "sha256:a"))]);
        save(&instance, "x", &pins).unwrap();
        assert_eq!(load(&instance, "x").unwrap(), pins);
        std::fs::write(file(&instance, "x"), "{").unwrap();
        let err = load(&instance, "x").unwrap_err();
        assert!(err.message.contains("images.json"), "{}", err.message);
    }
}
