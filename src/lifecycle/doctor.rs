//! `stack doctor`: preflight checks before anything is touched. Each check is one line — ok, warn
//! or fail with a hint — and nothing is changed (no pull, no container, no file outside a
//! temporary probe in the data dir).

use serde::Serialize;

use crate::engine;
use crate::lifecycle::Session;
use crate::lifecycle::project::load_project;
use crate::pins;
use crate::registry::{self, Reference};
use crate::render::env;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub check: String,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

fn check(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
    Check {
        check: name.into(),
        status,
        detail: detail.into(),
        hint: None,
    }
}

/// Every check for `ids` (the stacklets whose images and ports are checked). `platform`
/// overrides the engine's `os/arch` for the image check.
pub async fn run(session: &mut Session, ids: &[String], platform: Option<&str>) -> Vec<Check> {
    let mut checks = Vec::new();
    let engine_platform = match session.docker().await {
        Ok(docker) => match docker.version().await {
            Ok(v) => {
                let os = v.os.unwrap_or_default();
                let arch = v.arch.unwrap_or_default();
                checks.push(check(
                    "engine",
                    Status::Ok,
                    format!(
                        "Docker {} (API {}), {os}/{arch}",
                        v.version.unwrap_or_default(),
                        v.api_version.unwrap_or_default()
                    ),
                ));
                Some(format!("{os}/{arch}"))
            }
            Err(e) => {
                checks.push(check("engine", Status::Fail, e.to_string()));
                None
            }
        },
        Err(e) => {
            let mut c = check("engine", Status::Fail, e.message.clone());
            c.hint = e.hints.first().cloned();
            checks.push(c);
            None
        }
    };
    checks.push(python().await);
    checks.push(data_dir(session));
    let Some(engine_platform) = engine_platform else {
        return checks;
    };
    checks.push(docker_root(session).await);
    let wanted = platform.map_or(engine_platform, str::to_string);
    let mut images = Vec::new();
    for id in ids {
        stacklet(session, id, &wanted, &mut checks, &mut images).await;
    }
    checks.push(host_gateway(session, &images).await);
    checks
}

/// Free space where the engine keeps images and containers. On a Mac that folder is inside the
/// engine's VM (OrbStack, Docker Desktop), so it cannot be measured from here: a warning says so.
async fn docker_root(session: &mut Session) -> Check {
    let Ok(docker) = session.docker().await else {
        return check("docker root", Status::Warn, "the engine does not answer");
    };
    let root = match docker.info().await {
        Ok(info) => info.docker_root_dir.unwrap_or_default(),
        Err(e) => return check("docker root", Status::Warn, e.to_string()),
    };
    let path = std::path::Path::new(&root);
    match crate::disk::free(path).filter(|_| path.is_dir()) {
        Some(free) if free < 5 << 30 => Check {
            hint: Some("remove unused images (`docker image prune`) or grow the disk".into()),
            ..check(
                "docker root",
                Status::Warn,
                format!("`{root}`: {} free", crate::output::human_bytes(free)),
            )
        },
        Some(free) => check(
            "docker root",
            Status::Ok,
            format!("`{root}`: {} free", crate::output::human_bytes(free)),
        ),
        None => check(
            "docker root",
            Status::Warn,
            format!(
                "`{root}` is not on this machine's disk (inside the engine's VM); its free space cannot be measured here"
            ),
        ),
    }
}

/// Whether `host.docker.internal` resolves inside a container given `host-gateway` (how stacklets
/// reach host services such as the local AI). Runs a one-off container of an image that is
/// already on this machine (doctor never pulls) and reads its `/etc/hosts`.
async fn host_gateway(session: &mut Session, images: &[String]) -> Check {
    const NAME: &str = "host.docker.internal";
    let Ok(docker) = session.docker().await else {
        return check(NAME, Status::Warn, "the engine does not answer");
    };
    let argv = ["cat".to_string(), "/etc/hosts".to_string()];
    let extra_hosts = [format!("{NAME}:host-gateway")];
    // The stacklets' own images first, then a few others this machine already has.
    let local: Vec<String> = docker
        .list_images(None::<bollard::query_parameters::ListImagesOptions>)
        .await
        .unwrap_or_default()
        .into_iter()
        .flat_map(|i| i.repo_tags)
        .filter(|t| t != "<none>:<none>")
        .take(5)
        .collect();
    for image in images.iter().chain(&local).map(String::as_str) {
        let run = engine::OneOff {
            image,
            argv: &argv,
            env: &[],
            binds: &[],
            extra_hosts: &extra_hosts,
        };
        let mut hosts = Vec::new();
        match engine::run_once(&docker, &session.ws.namespace, &run, &mut |l| {
            hosts.push(l.to_string())
        })
        .await
        {
            // Not on this machine, or no `cat` in it: try the next image.
            Ok(None) | Err(_) => continue,
            Ok(Some(code)) if code != 0 => continue,
            Ok(Some(_)) => {
                let address = hosts.iter().find_map(|l| {
                    let mut words = l.split_whitespace();
                    let address = words.next()?;
                    words.any(|w| w == NAME).then(|| address.to_string())
                });
                return match address {
                    Some(a) => check(
                        NAME,
                        Status::Ok,
                        format!("resolves to {a} in a container ({image})"),
                    ),
                    None => Check {
                        hint: Some(
                            "use a Docker Engine 20.10 or newer, OrbStack or Docker Desktop".into(),
                        ),
                        ..check(NAME, Status::Fail, "the engine does not map `host-gateway`")
                    },
                };
            }
        }
    }
    check(
        NAME,
        Status::Warn,
        "not checked: no local image with `cat` to run it in (run doctor again after `stack up`)",
    )
}

#[cfg(feature = "python")]
async fn python() -> Check {
    match tokio::task::spawn_blocking(crate::hooks::running_python).await {
        Ok(Ok(p)) => check(
            "python",
            Status::Ok,
            format!("{} (stdlib `{}`)", p.version, p.stdlib.display()),
        ),
        Ok(Err(e)) => Check {
            hint: Some(e.hint()),
            ..check("python", Status::Fail, e.to_string())
        },
        Err(e) => check("python", Status::Fail, e.to_string()),
    }
}

#[cfg(not(feature = "python"))]
async fn python() -> Check {
    check("python", Status::Warn, "built without the embedded Python")
}

fn data_dir(session: &Session) -> Check {
    let dir = &session.ws.config.data_dir;
    let probe = std::fs::create_dir_all(dir).and_then(|()| tempfile::tempfile_in(dir));
    match probe {
        // Images and data of a family's services take gigabytes; less than 2 GiB left is a
        // problem waiting for the next pull.
        Ok(_) => match crate::disk::free(dir) {
            Some(free) if free < 2 << 30 => Check {
                hint: Some("free some space before pulling or updating images".into()),
                ..check(
                    "data dir",
                    Status::Warn,
                    format!(
                        "`{}` is writable, {} free",
                        dir.display(),
                        crate::output::human_bytes(free)
                    ),
                )
            },
            free => check(
                "data dir",
                Status::Ok,
                format!(
                    "`{}` is writable{}",
                    dir.display(),
                    free.map(|f| format!(", {} free", crate::output::human_bytes(f)))
                        .unwrap_or_default()
                ),
            ),
        },
        Err(e) => Check {
            hint: Some("check its owner and permissions, or set `[core].data_dir`".into()),
            ..check(
                "data dir",
                Status::Fail,
                format!("`{}` is not writable: {e}", dir.display()),
            )
        },
    }
}

/// The images of `id` (on their registries, with a variant for `platform`) and its ports.
async fn stacklet(
    session: &mut Session,
    id: &str,
    platform: &str,
    checks: &mut Vec<Check>,
    images: &mut Vec<String>,
) {
    let fail = |name: String, e: &dyn std::fmt::Display| check(name, Status::Fail, e.to_string());
    let Some(stacklet) = session.ws.catalog.get(id).cloned() else {
        return;
    };
    let project = env::render(&session.ws, &stacklet, &session.lan_ip)
        .map_err(|e| e.message)
        .and_then(|r| {
            load_project(&session.ws, &stacklet, &r, &session.printer).map_err(|e| e.message)
        });
    let project = match project {
        Ok(Some(p)) => p,
        Ok(None) => return,
        Err(e) => return checks.push(fail(format!("{id}: compose"), &e)),
    };
    let Ok(docker) = session.docker().await else {
        return;
    };
    let records = pins::load(&session.ws.instance, id).unwrap_or_default();
    for (name, service) in &project.services {
        if service.build.is_some() {
            continue;
        }
        let Some(image) = service.image.clone() else {
            continue;
        };
        images.push(image.clone());
        let label = format!("{id}: image `{image}`");
        // A recorded digest is what `up` would pull; ask for exactly that.
        let asked = match records.get(name).filter(|p| p.image == image) {
            Some(pins::Pin {
                digest: Some(d), ..
            }) => Reference::parse(&image).pinned(d),
            Some(_) => continue, // local-only: never pulled
            None => image.clone(),
        };
        match registry::remote(&docker, &asked).await {
            Ok(remote) if registry::has_platform(&remote.platforms, platform) => {
                checks.push(check(label, Status::Ok, format!("has {platform}")));
            }
            Ok(remote) => checks.push(Check {
                hint: Some(format!(
                    "`{image}` offers {}; pick a tag or image built for {platform}",
                    remote.platforms.join(", ")
                )),
                ..check(label, Status::Fail, format!("no variant for {platform}"))
            }),
            Err(e) => {
                let e = registry::refine(e).await;
                checks.push(Check {
                    hint: e.hint(),
                    ..fail(label, &e)
                });
            }
        }
    }
    match engine::check_ports(&docker, &session.ws.namespace, &project).await {
        Ok(()) => checks.push(check(
            format!("{id}: ports"),
            Status::Ok,
            "free or held by this instance",
        )),
        Err(e) => checks.push(Check {
            hint: e.hint(),
            ..fail(format!("{id}: ports"), &e)
        }),
    }
    let domain = session.ws.config.core.domain.trim().to_string();
    if session.ws.config.domain_mode() && stacklet.manifest.port.is_some() {
        let host = format!("{id}.{domain}");
        let name = format!("{id}: domain");
        let resolved = tokio::net::lookup_host((host.as_str(), 80))
            .await
            .is_ok_and(|mut addrs| addrs.next().is_some());
        match resolved {
            true => {
                checks.push(check(name, Status::Ok, format!("`{host}` resolves")));
            }
            false => checks.push(Check {
                hint: Some(format!(
                    "point `*.{domain}` at this machine in your router's or resolver's DNS"
                )),
                ..check(name, Status::Fail, format!("`{host}` does not resolve"))
            }),
        }
    }
}
