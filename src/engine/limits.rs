//! What the engine can never start, checked before anything is created (issue 10 §7).
//!
//! A container's environment and command reach its first process through `execve`, which takes
//! no single string longer than Linux's `MAX_ARG_STRLEN` (32 pages: 131072 bytes with the final
//! NUL). Docker accepts such a container and then it exits at once with "argument list too long",
//! every restart alike. Docker Desktop and OrbStack run containers on a Linux kernel too, so the
//! limit holds on every platform.

use crate::compose::model::Project;

use super::EngineError;

/// The longest `KEY=VALUE` (or argument) `execve` passes on: `MAX_ARG_STRLEN` minus the NUL.
pub const MAX_ENV_ENTRY_BYTES: usize = 131_071;

/// Every service's environment entries and command/entrypoint arguments fit `execve`.
pub fn check_limits(project: &Project) -> Result<(), EngineError> {
    for service in project.services.values() {
        for (key, value) in &service.environment {
            let Some(value) = value else { continue };
            let bytes = key.len() + 1 + value.len();
            if bytes > MAX_ENV_ENTRY_BYTES {
                return Err(EngineError::OverLimit {
                    service: service.name.clone(),
                    what: format!("environment variable `{key}`"),
                    bytes,
                });
            }
        }
        let args = service.entrypoint.iter().chain(&service.command).flatten();
        for (i, arg) in args.enumerate() {
            if arg.len() > MAX_ENV_ENTRY_BYTES {
                return Err(EngineError::OverLimit {
                    service: service.name.clone(),
                    what: format!("argument {} of its entrypoint and command", i + 1),
                    bytes: arg.len(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testing::{project, service};

    fn project_with(env: &[(&str, usize)]) -> Project {
        let mut app = service("app");
        app.environment = env
            .iter()
            .map(|(k, n)| ((*k).to_string(), Some("a".repeat(*n))))
            .collect();
        project("stack-x", vec![app])
    }

    #[test]
    fn the_longest_entry_execve_takes_passes_and_one_more_byte_fails() {
        // `X=` + 131069 bytes = 131071: measured to start; one byte more exits with E2BIG.
        assert!(check_limits(&project_with(&[("X", 131_069)])).is_ok());
        let err = check_limits(&project_with(&[("X", 131_070)])).unwrap_err();
        assert!(
            err.to_string().contains("environment variable `X`"),
            "{err}"
        );
    }
}
