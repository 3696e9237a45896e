//! A stacklet's compose project as the lifecycle pipelines see it: loaded with the rendered
//! environment and placed in the instance's Docker namespace (`namespace.rs` owns the names).
//! Shared by `up`, `down`, `destroy` and the state views.

use std::collections::BTreeMap;

use crate::compose::model::Project;
use crate::error::UserError;
use crate::output::Printer;
use crate::render::env::RenderedEnv;
use crate::stacklet::Stacklet;
use crate::workspace::Workspace;

/// The stacklet's compose project, interpolated from the rendered env (it wins) and the process
/// environment (it fills in what the env does not define).
pub fn load_project(
    ws: &Workspace,
    stacklet: &Stacklet,
    rendered: &RenderedEnv,
    printer: &Printer,
) -> Result<Option<Project>, UserError> {
    load_project_with(ws, stacklet, rendered, std::env::vars(), printer)
}

/// [`load_project`] with the process environment given (the compose oracle test passes the
/// environment it also gives `docker compose`).
pub fn load_project_with(
    ws: &Workspace,
    stacklet: &Stacklet,
    rendered: &RenderedEnv,
    process_env: impl IntoIterator<Item = (String, String)>,
    printer: &Printer,
) -> Result<Option<Project>, UserError> {
    let Some(file) = stacklet.compose_file() else {
        return Ok(None);
    };
    let mut vars: BTreeMap<String, String> = process_env.into_iter().collect();
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
    // The file names its project as the default instance does (`name: stack-<id>`).
    let project_name = crate::namespace::compose_project(stacklet.id());
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
    let mut project = loaded.project;
    ws.namespace
        .localise(&mut project, stacklet.id())
        .map_err(|e| {
            UserError::new(format!(
                "Cannot publish the ports of `{}` in this instance",
                crate::config::display_path(&ws.instance, &file)
            ))
            .because(e)
            .hint(format!(
                "lower `port_offset` in `{}`",
                crate::config::display_path(&ws.instance, &ws.instance.config_file())
            ))
        })?;
    Ok(Some(project))
}
