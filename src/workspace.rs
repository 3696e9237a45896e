//! A loaded workspace: the instance, every stacklet manifest, `stack.toml` and `users.toml`,
//! validated together. Commands that read or change stacklets start here.

use std::collections::BTreeSet;

use crate::config::{Config, Users};
use crate::error::UserError;
use crate::instance::Instance;
use crate::namespace::{self, Namespace};
use crate::output::Printer;
use crate::stacklet::Catalog;

/// Which broken stacklets (`Catalog::broken`) loading warns about. A command about one stacklet
/// reports that one's problem itself (as its error, or while tearing it down), so it is not
/// warned about twice; `lint` reports every problem as a finding instead.
#[derive(Clone, Copy, Debug)]
pub enum BrokenWarnings<'a> {
    All,
    Except(&'a str),
    None,
}

#[derive(Clone, Debug)]
pub struct Workspace {
    pub instance: Instance,
    pub catalog: Catalog,
    pub config: Config,
    pub users: Users,
    /// Docker names, labels and host ports of this instance.
    pub namespace: Namespace,
}

impl Workspace {
    /// Discover and load everything from the process environment; warnings go to the printer.
    pub fn load(printer: &Printer) -> Result<Self, UserError> {
        Self::load_with(printer, BrokenWarnings::All)
    }

    /// As [`Workspace::load`], warning only about the broken stacklets `broken` selects.
    pub fn load_with(printer: &Printer, broken: BrokenWarnings<'_>) -> Result<Self, UserError> {
        let root = std::env::var("STACK_ROOT").ok();
        let dir = std::env::var("STACK_DIR").ok();
        Self::load_from(printer, root.as_deref(), dir.as_deref(), broken)
    }

    /// Load the instance `stack_dir` of the checkout `stack_root`, as `STACK_ROOT` and `STACK_DIR`
    /// would (a restore drill's temporary instance beside the household one).
    pub fn load_from(
        printer: &Printer,
        stack_root: Option<&str>,
        stack_dir: Option<&str>,
        broken: BrokenWarnings<'_>,
    ) -> Result<Self, UserError> {
        let cwd = std::env::current_dir()
            .map_err(|e| UserError::new("Cannot read the current directory").because(e))?;
        let instance = Instance::discover(&cwd, stack_root, stack_dir)?;
        let catalog = Catalog::load(&instance)?;
        let ids: BTreeSet<String> = catalog.all_ids().map(str::to_string).collect();
        let (config, config_warnings) = Config::load(&instance, &ids)?;
        let users = Users::load(&instance, &ids)?;
        for w in catalog.warnings.iter().chain(&config_warnings) {
            printer.warn(w);
        }
        for b in &catalog.broken {
            let warn = match broken {
                BrokenWarnings::All => true,
                BrokenWarnings::Except(id) => b.id != id,
                BrokenWarnings::None => false,
            };
            if warn {
                printer.warn(format!(
                    "{} (`{}` is left out until this is fixed; `stack lint {}` shows more)",
                    b.problem.message, b.id, b.id
                ));
            }
        }
        let namespace = instance_namespace(&instance, &config, printer)?;
        Ok(Self {
            instance,
            catalog,
            config,
            users,
            namespace,
        })
    }

    /// A `STACK_DIR` instance must not share the default instance's data dir: its `up` would
    /// mount the household's data and its `destroy` would delete it. Checked by every command that
    /// changes state; the default is `~/famstack-data` for both unless `[core].data_dir` says
    /// otherwise.
    pub fn check_own_data_dir(&self) -> Result<(), UserError> {
        if !self.instance.separate {
            return Ok(());
        }
        let default_instance = Instance {
            dir: self.instance.root.clone(),
            separate: false,
            ..self.instance.clone()
        };
        let ids: BTreeSet<String> = self.catalog.ids().map(str::to_string).collect();
        // A default instance whose `stack.toml` does not load is compared by the default path.
        let theirs = Config::load(&default_instance, &ids)
            .map(|(config, _)| config.data_dir)
            .unwrap_or_else(|_| default_instance.resolve_data_dir(crate::config::DEFAULT_DATA_DIR));
        let same = |a: &std::path::Path, b: &std::path::Path| {
            a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
        };
        if same(&self.config.data_dir, &theirs) {
            let file = self.instance.config_file();
            return Err(UserError::new(format!(
                "The instance in `{}` would use the default instance's data dir `{}`",
                self.instance.dir.display(),
                theirs.display()
            ))
            .hint(format!(
                "give it its own: `data_dir = \"data\"` under `[core]` in `{}`",
                file.display()
            )));
        }
        Ok(())
    }
}

/// The instance's namespace: the default instance keeps today's names; another one is named by
/// `[core].instance`, else by its directory.
fn instance_namespace(
    instance: &Instance,
    config: &Config,
    printer: &Printer,
) -> Result<Namespace, UserError> {
    // Range-checked when `stack.toml` was read.
    let offset = u16::try_from(config.core.port_offset).unwrap_or_default();
    let chosen = config
        .core
        .instance
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let file = crate::config::display_path(instance, &instance.config_file());
    if !instance.separate {
        if let Some(name) = chosen.filter(|n| *n != namespace::DEFAULT_INSTANCE) {
            printer.warn(format!(
                "`[core].instance = \"{name}\"` in `{file}` is ignored: the repo root is the default instance, whose Docker names never change"
            ));
        }
        return Ok(Namespace::default_instance(&instance.dir, offset));
    }
    let name = match chosen {
        Some(name) if namespace::valid_name(name) => name.to_string(),
        Some(name) => {
            return Err(UserError::new(format!(
                "Invalid `{file}`: `[core].instance` must be lowercase letters, digits and `-`, starting with a letter or digit, at most 32 characters, and not `default` (got `{name}`)"
            ))
            .hint(format!("`instance = \"{}\"`", namespace::safe_name(name))));
        }
        None => namespace::safe_name(
            &instance
                .dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    };
    Ok(Namespace::named(&name, &instance.dir, offset))
}
