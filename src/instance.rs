//! Where things live: the repo root (the checkout with `stacklets/`), the instance directory
//! (the repo root itself, or `STACK_DIR`; README "Configuration"), the instance directory and every path derived
//! from them.
//!
//! Invariant: no other module joins paths onto the repo root or the instance dir by hand. Every path
//! of config, secrets, markers, rendered env, data and Caddy state comes from an `Instance` method,
//! so a `STACK_DIR` instance can never write into another instance's files.

use std::path::{Path, PathBuf};

use crate::error::UserError;

#[derive(Clone, Debug)]
pub struct Instance {
    /// The checkout holding `stacklets/`.
    pub root: PathBuf,
    /// Holds `stack.toml`, `users.toml`, `.stack/`. Equal to `root` unless `STACK_DIR` is set.
    pub dir: PathBuf,
    /// True when `dir` is not the repo root (a `STACK_DIR` instance).
    pub separate: bool,
}

impl Instance {
    /// Resolve from the environment: `STACK_ROOT` or walk up from `cwd`; `STACK_DIR` or the root.
    pub fn discover(
        cwd: &Path,
        stack_root: Option<&str>,
        stack_dir: Option<&str>,
    ) -> Result<Self, UserError> {
        let root = match stack_root.filter(|s| !s.is_empty()) {
            Some(raw) => {
                let path = absolute(cwd, &expand_tilde(raw));
                if !path.join("stacklets").is_dir() {
                    return Err(UserError::new(format!(
                        "`STACK_ROOT` points to `{}`, which has no `stacklets/` directory",
                        path.display()
                    ))
                    .hint("unset `STACK_ROOT`, or point it at a checkout of your stacklets repo"));
                }
                path
            }
            None => find_root(cwd).ok_or_else(|| {
                UserError::new(format!(
                    "No `stacklets/` directory in `{}` or any parent directory",
                    cwd.display()
                ))
                .hint("`cd` into a checkout of your stacklets repo, or set `STACK_ROOT`")
            })?,
        };
        let root = canonical(&root);
        let (dir, separate) = match stack_dir.filter(|s| !s.is_empty()) {
            Some(raw) => {
                let path = absolute(cwd, &expand_tilde(raw));
                if path.exists() && !path.is_dir() {
                    let parent = path.parent().unwrap_or(Path::new("/"));
                    return Err(UserError::new(format!(
                        "`STACK_DIR` is set to `{}`, which is a file, not a directory",
                        path.display()
                    ))
                    .hint(format!(
                        "`STACK_DIR` names the instance directory, the one that holds `stack.toml` \
                         and `.stack/`{}",
                        if path.file_name().is_some_and(|n| n == "stack.toml") {
                            format!(": `STACK_DIR={}`", parent.display())
                        } else {
                            String::new()
                        }
                    )));
                }
                if !path.is_dir() {
                    return Err(UserError::new(format!(
                        "`STACK_DIR` is set to `{}`, which does not exist",
                        path.display()
                    ))
                    .hint(format!(
                        "create it first (`mkdir -p {}`), or unset `STACK_DIR` to use the repo root",
                        path.display()
                    )));
                }
                let path = canonical(&path);
                let separate = path != root;
                (path, separate)
            }
            None => (root.clone(), false),
        };
        Ok(Self {
            root,
            dir,
            separate,
        })
    }

    pub fn stacklets_dir(&self) -> PathBuf {
        self.root.join("stacklets")
    }

    pub fn stacklet_dir(&self, id: &str) -> PathBuf {
        self.stacklets_dir().join(id)
    }

    pub fn config_file(&self) -> PathBuf {
        self.dir.join("stack.toml")
    }

    pub fn users_file(&self) -> PathBuf {
        self.dir.join("users.toml")
    }

    /// `.stack/`: runtime state of this instance.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join(".stack")
    }

    pub fn secrets_file(&self) -> PathBuf {
        self.state_dir().join("secrets.toml")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.state_dir().join("stack.lock")
    }

    pub fn marker_file(&self, id: &str) -> PathBuf {
        self.state_dir().join(format!("{id}.setup-done"))
    }

    pub fn is_set_up(&self, id: &str) -> bool {
        self.marker_file(id).is_file()
    }

    /// Mark `id` set up: its first run is done, so `on_configure`/`on_install` do not run again.
    pub fn mark_set_up(&self, id: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(self.state_dir())?;
        crate::atomic::write_private(&self.marker_file(id), b"")
    }

    /// `stacklets/<id>/.env` for the default instance (plain `docker compose` keeps working there),
    /// `.stack/env/<id>.env` for any other instance.
    pub fn env_file(&self, id: &str) -> PathBuf {
        if self.separate {
            self.state_dir().join("env").join(format!("{id}.env"))
        } else {
            self.stacklet_dir(id).join(".env")
        }
    }

    /// `.stack/bots.json`: the bots of set-up stacklets, for the core bot runner.
    pub fn bots_manifest(&self) -> PathBuf {
        self.state_dir().join("bots.json")
    }

    pub fn caddy_dir(&self) -> PathBuf {
        self.state_dir().join("caddy")
    }

    /// `.stack/bot-runner/`: the configuration of core's bot-runner container (`config.json`,
    /// with the bots' passwords), mounted read-only into it. A folder, not a file, so an atomic
    /// rewrite (a new inode) is seen by the running container.
    pub fn bot_runner_dir(&self) -> PathBuf {
        self.state_dir().join("bot-runner")
    }

    /// `lib/` of the checkout: the bot runner and MicroBot (also the hooks' helpers).
    pub fn lib_dir(&self) -> PathBuf {
        self.root.join("lib")
    }

    /// Per-stacklet runtime state (e.g. native services this runtime started).
    pub fn stacklet_state_dir(&self, id: &str) -> PathBuf {
        self.state_dir().join("state").join(id)
    }

    /// Resolve `[core].data_dir`: `~` expanded, relative paths relative to the instance dir.
    pub fn resolve_data_dir(&self, raw: &str) -> PathBuf {
        absolute(&self.dir, &expand_tilde(raw))
    }
}

fn find_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join("stacklets").is_dir())
        .map(Path::to_path_buf)
}

/// Expand a leading `~` or `~/` to the home directory.
pub fn expand_tilde(raw: &str) -> PathBuf {
    if raw == "~" {
        return std::env::home_dir().unwrap_or_else(|| PathBuf::from("/"));
    }
    if let Some(rest) = raw.strip_prefix("~/")
        && let Some(home) = std::env::home_dir()
    {
        return home.join(rest);
    }
    PathBuf::from(raw)
}

fn absolute(base: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    normalize(&joined)
}

/// Lexical normalisation (`a/./b/../c` → `a/c`) without touching the filesystem.
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    }

    #[test]
    fn tilde_expands_to_home() {
        let home = std::env::home_dir().expect("home");
        assert_eq!(expand_tilde("~/x"), home.join("x"));
        assert_eq!(expand_tilde("/abs"), PathBuf::from("/abs"));
        assert_eq!(expand_tilde("rel/~"), PathBuf::from("rel/~"));
    }
}
