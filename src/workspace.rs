//! A loaded workspace: the instance, every stacklet manifest, `stack.toml` and `users.toml`,
//! validated together. Commands that read or change stacklets start here.

use std::collections::BTreeSet;

use crate::config::{Config, Users};
use crate::error::UserError;
use crate::instance::Instance;
use crate::output::Printer;
use crate::stacklet::Catalog;

#[derive(Clone, Debug)]
pub struct Workspace {
    pub instance: Instance,
    pub catalog: Catalog,
    pub config: Config,
    pub users: Users,
}

impl Workspace {
    /// Discover and load everything from the process environment; warnings go to the printer.
    pub fn load(printer: &Printer) -> Result<Self, UserError> {
        let cwd = std::env::current_dir()
            .map_err(|e| UserError::new("Cannot read the current directory").because(e))?;
        let root = std::env::var("STACK_ROOT").ok();
        let dir = std::env::var("STACK_DIR").ok();
        let instance = Instance::discover(&cwd, root.as_deref(), dir.as_deref())?;
        let catalog = Catalog::load(&instance)?;
        let ids: BTreeSet<String> = catalog.ids().map(str::to_string).collect();
        let (config, config_warnings) = Config::load(&instance, &ids)?;
        let users = Users::load(&instance, &ids)?;
        for w in catalog.warnings.iter().chain(&config_warnings) {
            printer.warn(w);
        }
        Ok(Self {
            instance,
            catalog,
            config,
            users,
        })
    }
}
