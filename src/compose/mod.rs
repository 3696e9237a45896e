//! The compose file model: reading `docker-compose.yml` / `compose.yaml` per the subset of
//! the Compose Specification that docs/compose.md lists, with interpolation, validation and normalisation into
//! `model::Project`.
//!
//! Pipeline: `yaml` (parse + interpolate, line-annotated tree) → `service`/`project` (decode every
//! key strictly, resolve paths, merge `env_file`) → validation (dependencies, cycles, networks,
//! volumes, profiles) → `Project`. Nothing here touches Docker or prints; warnings are returned.
//! The supported subset and its decisions are written for stacklet authors in `docs/compose.md`.

mod decode;
pub(crate) mod dotenv;
mod error;
pub mod model;
mod project;
mod service;
mod syntax;
pub(crate) mod yaml;

#[cfg(test)]
mod oracle_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

pub use error::ComposeError;

use model::Project;

/// A loaded project and what the user should hear about it (unset variables, obsolete keys).
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub project: Project,
    pub warnings: Vec<String>,
}

/// Reads, interpolates, validates and normalises one compose file.
///
/// `env` is the interpolation environment; the caller decides precedence (`lifecycle::project::load_project`: the rendered env wins). `default_project`
/// is used when the file has no top-level `name`.
pub fn load(
    file: &Path,
    default_project: &str,
    env: &BTreeMap<String, String>,
) -> Result<Loaded, ComposeError> {
    let src = std::fs::read_to_string(file).map_err(|source| ComposeError::Read {
        path: file.to_owned(),
        source,
    })?;
    load_str(&src, file, default_project, env)
}

/// [`load`] of compose text `src` that was read from `file` (relative paths in it are relative to
/// `file`'s directory).
pub(crate) fn load_str(
    src: &str,
    file: &Path,
    default_project: &str,
    env: &BTreeMap<String, String>,
) -> Result<Loaded, ComposeError> {
    let file =
        crate::instance::normalize(&std::path::absolute(file).unwrap_or_else(|_| file.to_owned()));
    let dir = file.parent().unwrap_or(Path::new("/")).to_owned();
    let yaml_error = |e: yaml::ReadError| match e {
        yaml::ReadError::Required {
            name,
            message,
            line,
        } => ComposeError::RequiredVariable {
            file: file.clone(),
            line,
            name,
            message,
        },
        yaml::ReadError::Syntax(message) => ComposeError::Yaml {
            file: file.clone(),
            message,
        },
    };
    let mut warnings = Vec::new();
    // Compose substitutes "" for an unset plain `${V}` but warns; serde-saphyr substitutes
    // silently, so the raw tree is scanned for such references first.
    let raw = yaml::parse_raw(src).map_err(yaml_error)?;
    let mut unset = Vec::new();
    yaml::collect_unset(&raw, env, &mut unset);
    warnings.extend(unset.into_iter().map(|name| {
        format!(
            "The `{name}` variable is not set in `{}`; defaulting to a blank string",
            file.display()
        )
    }));
    let root = yaml::parse(src, env).map_err(yaml_error)?;
    let ctx = decode::Ctx {
        file: &file,
        dir: &dir,
        env,
    };
    let project = project::decode(&ctx, &root, default_project, &mut warnings)?;
    Ok(Loaded { project, warnings })
}
