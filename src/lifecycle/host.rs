//! What hooks and stacklet commands reach through `ctx`: secrets (own namespace, then `global`),
//! the stacklet's own `[<id>]` table of `stack.toml`, and `exec` into containers through the Engine
//! API. Every call reads or writes the files on disk so a hook sees its own writes.

use crate::config;
use crate::hooks::HookHost;
use crate::instance::Instance;
use crate::namespace::Namespace;
use crate::secrets::Secrets;

pub struct Host {
    pub instance: Instance,
    /// Container names from hooks are the compose file's; this finds them in the instance.
    pub namespace: Namespace,
    pub id: String,
    pub docker: Option<bollard::Docker>,
    pub runtime: tokio::runtime::Handle,
}

impl HookHost for Host {
    fn secret(&self, name: &str) -> anyhow::Result<Option<String>> {
        let secrets = Secrets::load(&self.instance.secrets_file())?;
        Ok(secrets
            .get(&format!("{}__{name}", self.id))
            .or_else(|| secrets.get(&format!("global__{name}")))
            .map(str::to_string))
    }

    fn set_secret(&self, name: &str, value: &str) -> anyhow::Result<()> {
        Secrets::set(
            &self.instance.secrets_file(),
            &format!("{}__{name}", self.id),
            value,
        )?;
        Ok(())
    }

    fn cfg(&self, key: &str) -> anyhow::Result<Option<serde_json::Value>> {
        Ok(config::get_value(&self.instance, &self.id, key)?)
    }

    fn set_cfg(&self, key: &str, value: serde_json::Value) -> anyhow::Result<()> {
        Ok(config::set_value(&self.instance, &self.id, key, &value)?)
    }

    fn exec(
        &self,
        container: &str,
        argv: &[String],
        on_line: &mut dyn FnMut(&str),
    ) -> anyhow::Result<i64> {
        // A hook may exec before the pipeline first needed Docker (`on_install`): connect then.
        self.runtime
            .block_on(async {
                let docker = match &self.docker {
                    Some(docker) => docker.clone(),
                    None => crate::engine::connect().await?,
                };
                crate::engine::exec(&docker, &self.namespace, container, argv, on_line).await
            })
            .map_err(Into::into)
    }
}
