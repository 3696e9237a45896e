//! A stacklet's compose project as the lifecycle pipelines see it: its name and the project loaded
//! with the rendered environment. Shared by `up`, `down`, `destroy` and the state views.

use std::collections::BTreeMap;

use crate::compose::model::Project;
use crate::error::UserError;
use crate::output::Printer;
use crate::render::env::RenderedEnv;
use crate::stacklet::Stacklet;
use crate::workspace::Workspace;

/// Every stacklet's compose project is `stack-<id>` ([`load_project`] refuses any other `name`).
pub fn project_name(id: &str) -> String {
    format!("stack-{id}")
}

/// The stacklet's compose project, interpolated from the rendered env (it wins) and the process
/// environment (it fills in what the env does not define).
pub fn load_project(
    ws: &Workspace,
    stacklet: &Stacklet,
    rendered: &RenderedEnv,
    printer: &Printer,
) -> Result<Option<Project>, UserError> {
    let Some(file) = stacklet.compose_file() else {
        return Ok(None);
    };
    let mut vars: BTreeMap<String, String> = std::env::vars().collect();
    vars.extend(rendered.entries.iter().cloned());
    if ws.config.domain_mode() {
        let profiles = vars.entry("COMPOSE_PROFILES".into()).or_default();
        if !profiles.split(',').any(|p| p == "domain") {
            if !profiles.is_empty() {
                profiles.push(',');
            }
            profiles.push_str("domain");
        }
    }
    let project_name = project_name(stacklet.id());
    let loaded = crate::compose::load(&file, &project_name, &vars).map_err(|e| {
        let hint = e.hint();
        UserError::wrap(e).maybe_hint(hint)
    })?;
    for warning in &loaded.warnings {
        printer.warn(warning);
    }
    if loaded.project.name != project_name {
        return Err(UserError::new(format!(
            "`{}` sets `name: {}`; a stacklet's project must be named `{project_name}`",
            crate::config::display_path(&ws.instance, &file),
            loaded.project.name
        ))
        .hint(format!(
            "write `name: {project_name}` at the top of the compose file"
        )));
    }
    Ok(Some(loaded.project))
}
