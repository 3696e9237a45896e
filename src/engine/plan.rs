//! `stack plan`: what `up` would do to each container, and why, without changing anything.
//!
//! The decision is [`converge::decide`] (the one `up` uses) on the same config hash; the reasons
//! compare the desired per-aspect hashes with the container's [`labels::ASPECTS`] label.

use std::collections::BTreeMap;

use bollard::Docker;

use super::converge::{self, Change};
use super::lifecycle::{project_containers, summary_label, summary_name};
use super::{EngineError, labels};
use crate::compose::model::Project;
use crate::namespace::Namespace;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Keep,
    Start,
    Create,
    Recreate,
    /// An orphan: `up` removes it.
    Remove,
}

impl Action {
    pub fn word(self) -> &'static str {
        match self {
            Action::Keep => "keep",
            Action::Start => "start",
            Action::Create => "create",
            Action::Recreate => "recreate",
            Action::Remove => "remove",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePlan {
    pub service: String,
    pub container: String,
    pub action: Action,
    pub reasons: Vec<String>,
}

/// The plan for `project`, given the image id each service would run (`None`: `up` would build
/// or pull it first). Reads the engine only.
pub async fn plan(
    docker: &Docker,
    ns: &Namespace,
    project: &Project,
    image_ids: &BTreeMap<String, Option<String>>,
) -> Result<Vec<ServicePlan>, EngineError> {
    let containers = project_containers(docker, ns, &project.name).await?;
    let (existing, orphans) = converge::by_service(project, containers);
    let mut plans = Vec::new();
    for (name, service) in &project.services {
        let container = super::create::container_name(project, service);
        let current = existing.get(name);
        let image_id = image_ids.get(name).cloned().flatten();
        let (action, reasons) = match &image_id {
            None => {
                let why = "image not present locally: `up` builds or pulls it".to_string();
                let action = if current.is_some() {
                    Action::Recreate
                } else {
                    Action::Create
                };
                (action, vec![why])
            }
            Some(id) => {
                let hash = labels::config_hash(project, service, id);
                match converge::decide(current, &hash) {
                    Change::Keep => (Action::Keep, Vec::new()),
                    Change::Start => (Action::Start, vec!["stopped".to_string()]),
                    Change::Create => (Action::Create, vec!["no container".to_string()]),
                    Change::Recreate => {
                        let desired = labels::aspects(project, service, id);
                        let label = current.and_then(|c| summary_label(c, labels::ASPECTS));
                        let reasons = labels::changed_aspects(label, &desired)
                            .filter(|r| !r.is_empty())
                            .unwrap_or_else(|| vec!["configuration changed".to_string()]);
                        (Action::Recreate, reasons)
                    }
                }
            }
        };
        plans.push(ServicePlan {
            service: name.clone(),
            container,
            action,
            reasons,
        });
    }
    for orphan in orphans {
        plans.push(ServicePlan {
            service: summary_label(&orphan, labels::SERVICE)
                .unwrap_or_default()
                .to_string(),
            container: summary_name(&orphan),
            action: Action::Remove,
            reasons: vec!["orphan: no service defines it any more".to_string()],
        });
    }
    Ok(plans)
}
