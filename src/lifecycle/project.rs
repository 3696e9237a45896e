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
    // Profiles the runtime turns on: `domain` (Caddy) in domain mode, `watchtower` only when
    // `[updates] watchtower = true` asks for the old updater (`stack update` replaces it), `bots`
    // (core's bot runner) only while `messages` is set up — bots live in its Matrix rooms.
    let wanted = [
        ("domain", ws.config.domain_mode()),
        ("watchtower", ws.config.updates.watchtower == Some(true)),
        (
            crate::lifecycle::bots::PROFILE,
            crate::lifecycle::bots::runner_wanted(ws),
        ),
    ];
    for (profile, on) in wanted {
        if !on {
            continue;
        }
        let profiles = vars.entry("COMPOSE_PROFILES".into()).or_default();
        if !profiles.split(',').any(|p| p == profile) {
            if !profiles.is_empty() {
                profiles.push(',');
            }
            profiles.push_str(profile);
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::output::{Printer, Verbosity};
    use crate::workspace::Workspace;

    /// The shipped `core`'s project for the instance in `instance` (its `stack.toml` and `.stack/`).
    fn core_project(instance: &Path) -> crate::compose::model::Project {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (printer, _) = Printer::capturing(Verbosity::Quiet);
        let ws = Workspace::load_from(
            &printer,
            Some(repo.to_str().unwrap()),
            Some(instance.to_str().unwrap()),
            crate::workspace::BrokenWarnings::None,
        )
        .unwrap();
        let core = ws.catalog.get("core").unwrap();
        let rendered = crate::render::env::render(&ws, core, "192.0.2.10").unwrap();
        super::load_project_with(&ws, core, &rendered, Vec::new(), &printer)
            .unwrap()
            .unwrap()
    }

    /// The shipped `core`'s services for an instance whose `stack.toml` is `config`.
    fn core_services(config: &str) -> Vec<String> {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("stack.toml"), config).unwrap();
        core_project(tmp.path()).services.keys().cloned().collect()
    }

    #[test]
    fn the_bot_runner_runs_only_while_messages_is_set_up() {
        let base = "[core]\ndata_dir = \"data\"\n";
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("stack.toml"), base).unwrap();
        let services = || core_project(tmp.path());
        assert!(services().services.is_empty(), "no messages, no runner");
        std::fs::create_dir_all(tmp.path().join(".stack")).unwrap();
        std::fs::write(tmp.path().join(".stack/messages.setup-done"), "").unwrap();
        let project = services();
        let runner = &project.services["stack-core-bot-runner"];
        assert_eq!(project.services.len(), 1);
        // (This instance is a `STACK_DIR` one, so its name is in front.)
        let name = runner.container_name.as_deref().unwrap();
        assert!(name.ends_with("_stack-core-bot-runner"), "{name}");
        // Code, bots and configuration at the host's paths; the base image is the default.
        let lib = repo.join("lib").display().to_string();
        let config = tmp.path().join(".stack/bot-runner");
        assert_eq!(
            runner.command.as_ref().unwrap(),
            &[
                "python".to_string(),
                format!("{lib}/bot_runner.py"),
                "--config".into(),
                format!("{}/config.json", config.display()),
            ]
        );
        let build = runner.build.as_ref().unwrap();
        assert_eq!(
            build.args["PYTHON_IMAGE"],
            "docker.io/library/python:3.11-slim"
        );
        assert!(build.context.join("Dockerfile").is_file());
        assert_eq!(runner.restart.as_deref(), Some("unless-stopped"));
    }

    #[test]
    fn watchtower_runs_only_when_asked_for() {
        let base = "[core]\ndata_dir = \"data\"\n";
        assert!(
            core_services(base).is_empty(),
            "port mode runs nothing of core by default"
        );
        assert_eq!(
            core_services(&format!("{base}[updates]\nwatchtower = true\n")),
            ["stack-core-watchtower"]
        );
        assert_eq!(
            core_services("[core]\ndata_dir = \"data\"\ndomain = \"home.internal\"\n"),
            ["stack-core-caddy"]
        );
    }
}
