//! A fluent builder for temporary stacklet repos, and a `stack` command bound to one.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

pub struct Repo {
    dir: TempDir,
}

/// A minimal valid manifest for `id`, followed by `extra` TOML.
pub fn manifest(id: &str, extra: &str) -> String {
    format!(
        "id = \"{id}\"\nname = \"{}\"\ndescription = \"Test stacklet {id}\"\nversion = \"0.1.0\"\ncategory = \"infrastructure\"\n{extra}",
        id.to_uppercase()
    )
}

impl Repo {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("stack-it-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("stacklets")).expect("stacklets dir");
        // Keep data inside the temp repo, never in the real home directory.
        std::fs::write(
            dir.path().join("stack.toml"),
            "[core]\ndata_dir = \"data\"\n",
        )
        .expect("stack.toml");
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A stacklet with a valid manifest plus `extra` TOML lines.
    pub fn stacklet(self, id: &str, extra: &str) -> Self {
        self.file(
            &format!("stacklets/{id}/stacklet.toml"),
            &manifest(id, extra),
        )
    }

    pub fn file(self, rel: &str, contents: &str) -> Self {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, contents).expect("write");
        self
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(rel))
            .unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `stack` with the repo as working directory and a clean, deterministic environment.
    pub fn stack(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stack"));
        cmd.current_dir(self.dir.path())
            .env_remove("STACK_DIR")
            .env_remove("STACK_ROOT")
            .env("NO_COLOR", "1")
            .env("STACK_LAN_IP", "192.0.2.10");
        cmd
    }
}

/// stderr of a finished command as text.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}
