//! Oracle tests: every case in `tests/fixtures/compose/` is loaded by `load` and by Docker Compose
//! v2 (`docker-compose-v2 … config --format json`); compose's JSON is converted to our model and
//! compared field by field. Negative cases (`bad-*`) must fail in both, with our exact message.
//!
//! The oracle is required: without it these tests fail with the install hint, never pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::model::{
    Build, Condition, Dependency, Device, Healthcheck, Mount, MountKind, Network, PortMapping,
    Project, Service, ServiceNetwork, Volume,
};
use super::{dotenv, load, syntax};

const ORACLE: &str = "/usr/local/bin/docker-compose-v2";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compose")
}

fn oracle() -> &'static str {
    assert!(
        Path::new(ORACLE).exists(),
        "Docker Compose v2 is missing at `{ORACLE}`; install it with `scripts/install-compose.sh`"
    );
    ORACLE
}

/// The environment both sides see: a fixed process env plus the case's `.env` (process wins).
fn case_env(dir: &Path) -> (BTreeMap<String, String>, Vec<(String, String)>) {
    let process: Vec<(String, String)> = vec![
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("HOME".into(), std::env::var("HOME").unwrap_or_default()),
    ];
    let lookup: BTreeMap<String, String> = process.iter().cloned().collect();
    let text = std::fs::read_to_string(dir.join(".env")).unwrap_or_default();
    let dotenv: BTreeMap<String, String> = dotenv::parse(&text, &lookup)
        .expect("fixture .env parses")
        .into_iter()
        .collect();
    // Compose's own precedence: the process environment wins over `.env`.
    let mut env = dotenv.clone();
    env.extend(process.clone());
    (env, process)
}

fn run_oracle(dir: &Path, project: &str, process: &[(String, String)]) -> Result<Value, String> {
    let out = Command::new(oracle())
        .env_clear()
        .envs(process.iter().cloned())
        .current_dir(dir)
        .args(["-f", "docker-compose.yml", "--project-directory", "."])
        .args(["-p", project, "config", "--format", "json"])
        .output()
        .expect("run docker-compose-v2");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("compose prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

// ---- compose JSON → model ---------------------------------------------------------------------

/// `config` re-escapes `$` as `$$` in its output.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.replace("$$", "$"),
        other => other.to_string(),
    }
}

fn opt_text(v: Option<&Value>) -> Option<String> {
    v.filter(|v| !v.is_null()).map(text)
}

fn texts(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default()
}

fn text_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default()
}

fn dur(v: Option<&Value>) -> Option<Duration> {
    opt_text(v).map(|s| syntax::duration(&s).expect("compose prints Go durations"))
}

fn flag(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool).unwrap_or(false)
}

fn service_from(name: &str, s: &Value) -> Service {
    let get = |k: &str| s.get(k);
    Service {
        name: name.to_owned(),
        image: opt_text(get("image")),
        build: get("build").map(|b| Build {
            context: PathBuf::from(text(&b["context"])),
            dockerfile: opt_text(b.get("dockerfile")).unwrap_or_else(|| "Dockerfile".into()),
            args: text_map(b.get("args")),
            target: opt_text(b.get("target")),
        }),
        container_name: opt_text(get("container_name")),
        command: get("command")
            .filter(|v| !v.is_null())
            .map(|v| texts(Some(v))),
        entrypoint: get("entrypoint")
            .filter(|v| !v.is_null())
            .map(|v| texts(Some(v))),
        environment: get("environment")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), (!v.is_null()).then(|| text(v))))
                    .collect()
            })
            .unwrap_or_default(),
        ports: get("ports")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|p| PortMapping {
                        target: u16::try_from(p["target"].as_u64().unwrap()).unwrap(),
                        published: opt_text(p.get("published")).map(|p| p.parse().unwrap()),
                        host_ip: opt_text(p.get("host_ip")),
                        protocol: opt_text(p.get("protocol")).unwrap_or_else(|| "tcp".into()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        volumes: get("volumes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|m| {
                        let kind = match m["type"].as_str().unwrap() {
                            "bind" => MountKind::Bind,
                            "volume" => MountKind::Volume,
                            _ => MountKind::Tmpfs,
                        };
                        Mount {
                            kind,
                            source: opt_text(m.get("source")),
                            target: text(&m["target"]),
                            read_only: flag(m.get("read_only")),
                            create_host_path: flag(
                                m.get("bind").and_then(|b| b.get("create_host_path")),
                            ),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default(),
        networks: get("networks")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let n = ServiceNetwork {
                            aliases: texts(v.get("aliases")),
                            ipv4_address: opt_text(v.get("ipv4_address")),
                        };
                        (k.clone(), n)
                    })
                    .collect()
            })
            .unwrap_or_default(),
        depends_on: get("depends_on")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, d)| {
                        let condition = match d["condition"].as_str().unwrap() {
                            "service_healthy" => Condition::ServiceHealthy,
                            "service_completed_successfully" => {
                                Condition::ServiceCompletedSuccessfully
                            }
                            _ => Condition::ServiceStarted,
                        };
                        let dep = Dependency {
                            condition,
                            required: d.get("required").and_then(Value::as_bool).unwrap_or(true),
                            restart: flag(d.get("restart")),
                        };
                        (k.clone(), dep)
                    })
                    .collect()
            })
            .unwrap_or_default(),
        healthcheck: get("healthcheck").and_then(|h| {
            if flag(h.get("disable")) {
                return Some(Healthcheck {
                    disable: true,
                    test: vec!["NONE".into()],
                    ..Healthcheck::default()
                });
            }
            let h = Healthcheck {
                disable: false,
                test: texts(h.get("test")),
                interval: dur(h.get("interval")),
                timeout: dur(h.get("timeout")),
                retries: h.get("retries").and_then(Value::as_u64),
                start_period: dur(h.get("start_period")),
                start_interval: dur(h.get("start_interval")),
            };
            (h != Healthcheck::default()).then_some(h)
        }),
        restart: opt_text(get("restart")),
        labels: text_map(get("labels")),
        user: opt_text(get("user")),
        working_dir: opt_text(get("working_dir")),
        extra_hosts: texts(get("extra_hosts"))
            .iter()
            .map(|e| {
                let (h, ip) = e.split_once('=').unwrap();
                (h.to_owned(), ip.to_owned())
            })
            .collect(),
        devices: get("devices")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|d| Device {
                        source: text(&d["source"]),
                        target: text(&d["target"]),
                        permissions: text(&d["permissions"]),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        cap_add: texts(get("cap_add")),
        cap_drop: texts(get("cap_drop")),
        security_opt: texts(get("security_opt")),
        shm_size: opt_text(get("shm_size")).map(|s| s.parse().unwrap()),
        tmpfs: texts(get("tmpfs"))
            .iter()
            .map(|t| {
                let (p, o) = t.split_once(':').unwrap_or((t, ""));
                (p.to_owned(), o.to_owned())
            })
            .collect(),
        init: get("init").and_then(Value::as_bool),
        stop_grace_period: dur(get("stop_grace_period")),
        stop_signal: opt_text(get("stop_signal")),
        profiles: texts(get("profiles")),
    }
}

fn project_from(json: &Value, ours: &Project) -> Project {
    let resource = |v: &Value| {
        (
            text(&v["name"]),
            flag(v.get("external")),
            opt_text(v.get("driver")),
            text_map(v.get("labels")),
        )
    };
    Project {
        name: text(&json["name"]),
        // Not part of `config` output; checked separately.
        working_dir: ours.working_dir.clone(),
        config_files: ours.config_files.clone(),
        services: json["services"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), service_from(k, v)))
            .collect(),
        networks: json
            .get("networks")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let (name, external, driver, labels) = resource(v);
                        let n = Network {
                            name,
                            external,
                            driver,
                            labels,
                        };
                        (k.clone(), n)
                    })
                    .collect()
            })
            .unwrap_or_default(),
        volumes: json
            .get("volumes")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let (name, external, driver, labels) = resource(v);
                        let vol = Volume {
                            name,
                            external,
                            driver,
                            labels,
                        };
                        (k.clone(), vol)
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Compares two serialisable values key by key, collecting "path: ours != compose" lines.
fn diff(path: &str, ours: &Value, theirs: &Value, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                diff(
                    &format!("{path}.{k}"),
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (a, b) if a != b => out.push(format!("{path}:\n    ours:    {a}\n    compose: {b}")),
        _ => {}
    }
}

fn sorted_hosts(mut p: Project) -> Project {
    // `config` sorts extra_hosts; the engine does not care about their order.
    for s in p.services.values_mut() {
        s.extra_hosts.sort();
    }
    p
}

/// "path: ours != compose" lines for every field where `ours` and compose's `json` differ.
fn differences(name: &str, ours: &Project, json: &Value) -> Vec<String> {
    let theirs = project_from(json, ours);
    let mut problems = Vec::new();
    diff(
        name,
        &serde_json::to_value(sorted_hosts(ours.clone())).unwrap(),
        &serde_json::to_value(sorted_hosts(theirs)).unwrap(),
        &mut problems,
    );
    problems
}

fn check_case(name: &str) {
    let dir = fixtures().join(name);
    let (env, process) = case_env(&dir);
    let loaded = load(
        &dir.join("docker-compose.yml"),
        &format!("stack-{name}"),
        &env,
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let ours = loaded.project;
    let json = run_oracle(&dir, &ours.name, &process)
        .unwrap_or_else(|e| panic!("{name}: compose failed: {e}"));
    let problems = differences(name, &ours, &json);
    assert!(
        problems.is_empty(),
        "`{name}` differs from docker compose:\n  {}",
        problems.join("\n  ")
    );
    assert_eq!(ours.working_dir, dir);
    assert_eq!(ours.config_files, vec![dir.join("docker-compose.yml")]);
}

/// Every shipped stacklet's compose file, with the `.env` the runtime renders for it (as `stack
/// env <id> --reveal` shows it, written by the same writer `stack up` uses), must load under the
/// runtime exactly as `docker compose config` reads it — in port mode and in domain mode (which
/// enables core's `domain` profile and binds to 127.0.0.1).
fn check_shipped(domain: &str) {
    use crate::config::{Config, Users};
    use crate::instance::Instance;
    use crate::lifecycle::project::load_project_with;
    use crate::output::{Printer, Verbosity};
    use crate::render::{env, envfile};
    use crate::stacklet::Catalog;
    use crate::workspace::Workspace;

    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let instance_dir = tmp.path().join("instance");
    std::fs::create_dir_all(&instance_dir).unwrap();
    std::fs::write(
        instance_dir.join("stack.toml"),
        format!(
            "[core]\ndata_dir = \"data\"\ndomain = \"{domain}\"\ntimezone = \"Europe/Berlin\"\n\n[messages]\nserver_name = \"home\"\n"
        ),
    )
    .unwrap();
    let instance = Instance::discover(
        repo,
        Some(repo.to_str().unwrap()),
        Some(instance_dir.to_str().unwrap()),
    )
    .unwrap();
    let catalog = Catalog::load(&instance).unwrap();
    let ids = catalog.ids().map(str::to_string).collect();
    let (config, _) = Config::load(&instance, &ids).unwrap();
    let users = Users::load(&instance, &ids).unwrap();
    let namespace = crate::namespace::Namespace::default_instance(&instance.dir, 0);
    let ws = Workspace {
        instance,
        catalog,
        config,
        users,
        namespace,
    };
    let mut checked = 0;
    for stacklet in &ws.catalog.stacklets {
        let Some(file) = stacklet.compose_file() else {
            continue;
        };
        let id = stacklet.id();
        let rendered = env::render(&ws, stacklet, "192.0.2.10").unwrap();
        let dir = tmp.path().join(id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&file, dir.join("docker-compose.yml")).unwrap();
        std::fs::write(
            dir.join(".env"),
            envfile::format(&rendered.entries).unwrap(),
        )
        .unwrap();

        // The real `load_project`, on the copy (which holds the `.env` compose reads), with the
        // same minimal process environment compose gets. It adds the `domain` profile itself in
        // domain mode; compose is told through `COMPOSE_PROFILES`.
        let mut process: Vec<(String, String)> = vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("HOME".into(), std::env::var("HOME").unwrap_or_default()),
        ];
        let mut copy = stacklet.clone();
        copy.dir = dir.clone();
        let (printer, capture) = Printer::capturing(Verbosity::Normal);
        let ours = load_project_with(&ws, &copy, &rendered, process.clone(), &printer)
            .unwrap_or_else(|e| panic!("{id}: {e}"))
            .expect("a stacklet with a compose file has a project");
        assert!(capture.stderr().is_empty(), "{id}: {:?}", capture.stderr());
        if !domain.is_empty() {
            process.push(("COMPOSE_PROFILES".into(), "domain".into()));
        }
        let project = ours.name.clone();
        let json = run_oracle(&dir, &project, &process)
            .unwrap_or_else(|e| panic!("{id}: compose failed: {e}"));
        let problems = differences(id, &ours, &json);
        assert!(
            problems.is_empty(),
            "stacklet `{id}` differs from docker compose:\n  {}",
            problems.join("\n  ")
        );
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} compose files found");
}

#[test]
fn oracle_shipped_stacklets_port_mode() {
    check_shipped("");
}

#[test]
fn oracle_shipped_stacklets_domain_mode() {
    check_shipped("home.internal");
}

#[test]
fn oracle_immich() {
    check_case("immich");
}

#[test]
fn oracle_anchors_and_extensions() {
    check_case("anchors");
}

#[test]
fn oracle_every_supported_key() {
    check_case("everything");
}

fn check_failure(name: &str) -> String {
    let dir = fixtures().join(name);
    let (env, process) = case_env(&dir);
    let err = load(&dir.join("docker-compose.yml"), "stack-bad", &env)
        .expect_err("stack must reject this file");
    let compose = run_oracle(&dir, "stack-bad", &process);
    assert!(compose.is_err(), "compose accepts `{name}` too");
    err.to_string().replace(&dir.display().to_string(), "<dir>")
}

#[test]
fn oracle_rejects_unsupported_key() {
    assert_eq!(
        check_failure("bad-unsupported-key"),
        "Unsupported key `imagee` in service `web` in `<dir>/docker-compose.yml` line 4"
    );
}

#[test]
fn oracle_rejects_unset_required_variable() {
    assert_eq!(
        check_failure("bad-required-var"),
        "Required variable `DB_PASSWORD` is not set in `<dir>/docker-compose.yml` line 5: DB_PASSWORD must be set"
    );
}

#[test]
fn oracle_rejects_unknown_dependency() {
    assert_eq!(
        check_failure("bad-unknown-dependency"),
        "Service `app` depends on unknown service `databse` in `<dir>/docker-compose.yml`"
    );
}
