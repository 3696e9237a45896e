//! `load` end to end on small files written to a temp dir: validation messages (exact), warnings,
//! profiles, defaults, ordering and the config hash.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::model::{Condition, MountKind};
use super::project::service_order;
use super::{ComposeError, Loaded, load};

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(yaml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), yaml).unwrap();
        Case { dir }
    }

    fn file(&self, name: &str, text: &str) -> &Self {
        std::fs::write(self.dir.path().join(name), text).unwrap();
        self
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("docker-compose.yml")
    }

    fn load_with(&self, env: &[(&str, &str)]) -> Result<Loaded, ComposeError> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        load(&self.path(), "stack-test", &env)
    }

    fn load(&self) -> Loaded {
        self.load_with(&[]).unwrap()
    }

    /// The error text with the temp dir replaced by `<dir>`.
    fn error(&self) -> String {
        crate::error::one_line(&self.load_with(&[]).unwrap_err())
            .replace(&self.dir.path().display().to_string(), "<dir>")
    }
}

#[test]
fn defaults_and_default_network() {
    let loaded = Case::new("services:\n  web:\n    image: nginx\n").load();
    let p = loaded.project;
    assert_eq!(p.name, "stack-test");
    assert_eq!(p.networks["default"].name, "stack-test_default");
    assert!(p.services["web"].networks.contains_key("default"));
    assert!(loaded.warnings.is_empty());
}

#[test]
fn top_level_name_wins_and_resources_get_engine_names() {
    let p = Case::new(
        "name: stack-docs\nservices:\n  db:\n    image: postgres\n    volumes: [data:/var/lib]\n    networks: [stack, back]\nnetworks:\n  stack:\n    external: true\n  back:\nvolumes:\n  data:\n  spare:\n",
    )
    .load()
    .project;
    assert_eq!(p.name, "stack-docs");
    assert_eq!(p.networks["stack"].name, "stack");
    assert!(p.networks["stack"].external);
    assert_eq!(p.networks["back"].name, "stack-docs_back");
    assert_eq!(p.volumes["data"].name, "stack-docs_data");
    assert!(
        !p.volumes.contains_key("spare"),
        "unused volumes are dropped"
    );
    assert_eq!(p.services["db"].volumes[0].kind, MountKind::Volume);
}

#[test]
fn unset_variables_and_version_warn() {
    let loaded = Case::new("version: '3'\nservices:\n  web:\n    image: nginx:${TAG}\n").load();
    assert_eq!(
        loaded.project.services["web"].image.as_deref(),
        Some("nginx:")
    );
    assert_eq!(loaded.warnings.len(), 2);
    assert!(loaded.warnings[0].starts_with("The `TAG` variable is not set in `"));
    assert!(loaded.warnings[1].starts_with("The top-level `version` in `"));
}

#[test]
fn environment_overrides_env_file_and_bare_keys_resolve() {
    let case = Case::new(
        "services:\n  web:\n    image: x\n    env_file: vars.env\n    environment:\n      A: from-environment\n      B:\n      C:\n",
    );
    case.file("vars.env", "A=from-file\nD=${HOST_VAR}-d\n");
    let s = case
        .load_with(&[("B", "from-env"), ("HOST_VAR", "h")])
        .unwrap();
    let env = &s.project.services["web"].environment;
    assert_eq!(env["A"].as_deref(), Some("from-environment"));
    assert_eq!(env["B"].as_deref(), Some("from-env"));
    assert_eq!(env["C"], None);
    assert_eq!(env["D"].as_deref(), Some("h-d"));
}

#[test]
fn profiles_need_compose_profiles() {
    let yaml = "services:\n  web:\n    image: x\n  debug:\n    image: x\n    profiles: [debug]\n";
    let case = Case::new(yaml);
    assert!(!case.load().project.services.contains_key("debug"));
    let p = case
        .load_with(&[("COMPOSE_PROFILES", "other,debug")])
        .unwrap();
    assert!(p.project.services.contains_key("debug"));
    let p = case.load_with(&[("COMPOSE_PROFILES", "*")]).unwrap();
    assert!(p.project.services.contains_key("debug"));
}

#[test]
fn inactive_required_dependency_is_an_error() {
    let case = Case::new(
        "services:\n  web:\n    image: x\n    depends_on: [debug]\n  debug:\n    image: x\n    profiles: [debug]\n",
    );
    let err = case.load_with(&[]).unwrap_err();
    assert_eq!(
        err.hint().as_deref(),
        Some("enable a profile with `COMPOSE_PROFILES=debug`")
    );
    assert_eq!(
        case.error(),
        "Service `web` depends on `debug`, which is not active (profiles debug) in `<dir>/docker-compose.yml`"
    );
}

#[test]
fn unsupported_keys_name_key_service_file_and_line() {
    let case = Case::new("services:\n  web:\n    image: x\n    x-ok: 1\n    privileged: true\n");
    assert_eq!(
        case.error(),
        "Unsupported key `privileged` in service `web` in `<dir>/docker-compose.yml` line 5"
    );
    let case =
        Case::new("services:\n  web:\n    image: x\n    healthcheck:\n      tset: [CMD, true]\n");
    assert_eq!(
        case.error(),
        "Unsupported key `tset` in `healthcheck` of service `web` in `<dir>/docker-compose.yml` line 5"
    );
    assert_eq!(
        case.load_with(&[]).unwrap_err().hint().as_deref(),
        Some("did you mean `test`?")
    );
    let case = Case::new("secrets:\n  a:\n    file: x\nservices: {}\n");
    assert_eq!(
        case.error(),
        "Unsupported key `secrets` at the top level in `<dir>/docker-compose.yml` line 1"
    );
}

#[test]
fn validation_messages() {
    let cases = [
        (
            "services:\n  web:\n    container_name: x\n",
            "Service `web` has neither `image` nor `build` in `<dir>/docker-compose.yml`",
        ),
        (
            "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
            "Services depend on each other in a cycle: a -> b -> a in `<dir>/docker-compose.yml`",
        ),
        (
            "services:\n  web:\n    image: x\n    networks: [backend]\n",
            "Service `web` uses network `backend`, which is not declared under top-level `networks` in `<dir>/docker-compose.yml`",
        ),
        (
            "services:\n  web:\n    image: x\n    volumes: [data:/data]\n",
            "Service `web` uses volume `data`, which is not declared under top-level `volumes` in `<dir>/docker-compose.yml`",
        ),
        (
            "services:\n  web:\n    image: x\n    ports: ['80:http']\n",
            "Invalid `ports` of service `web` in `<dir>/docker-compose.yml` line 4: `80:http`: `http` is not a port number (1-65535)",
        ),
        (
            "services:\n  web:\n    image: x\n    stop_grace_period: 10\n",
            "Invalid `stop_grace_period` of service `web` in `<dir>/docker-compose.yml` line 4: `10` is not a duration (use e.g. `30s`, `1m30s`, `500ms`)",
        ),
        (
            "services:\n  web:\n    image: x\n    init: maybe\n",
            "Invalid `init` of service `web` in `<dir>/docker-compose.yml` line 4: expected `true` or `false`, found a string",
        ),
        (
            "services:\n  web:\n    image: x\n    volumes: ['./a:/a:z']\n",
            "Invalid `volumes` of service `web` in `<dir>/docker-compose.yml` line 4: `./a:/a:z`: the option `z` is not supported by `stack` (only `ro` and `rw`)",
        ),
        (
            "services:\n  web:\n    image: x\n    env_file: missing.env\n",
            "Cannot read env_file `<dir>/missing.env` of service `web`: No such file or directory (os error 2)",
        ),
        (
            "services:\n  web: [1]\n",
            "Invalid service `web` in `<dir>/docker-compose.yml` line 2: expected a mapping, found a list",
        ),
        (
            "name: Bad Name\nservices: {}\n",
            "Invalid `name` in `<dir>/docker-compose.yml` line 1: `Bad Name` must be lowercase letters, digits, `-` and `_`, starting with a letter or digit",
        ),
    ];
    for (yaml, expected) in cases {
        assert_eq!(Case::new(yaml).error(), expected, "for:\n{yaml}");
    }
}

#[test]
fn unknown_dependency_hints_the_closest_name() {
    let case = Case::new(
        "services:\n  app:\n    image: x\n    depends_on: [databse]\n  database:\n    image: x\n",
    );
    let err = case.load_with(&[]).unwrap_err();
    assert_eq!(err.hint().as_deref(), Some("did you mean `database`?"));
}

#[test]
fn optional_env_file_and_long_forms() {
    let case = Case::new(
        "services:\n  web:\n    image: x\n    env_file:\n      - path: nope.env\n        required: false\n    depends_on:\n      db:\n        condition: service_healthy\n  db:\n    image: x\n    healthcheck:\n      test: pg_isready\n      disable: true\n",
    );
    let p = case.load().project;
    assert_eq!(
        p.services["web"].depends_on["db"].condition,
        Condition::ServiceHealthy
    );
    let h = p.services["db"].healthcheck.as_ref().unwrap();
    assert!(h.disable);
    assert_eq!(h.test, vec!["NONE".to_owned()]);
}

#[test]
fn order() {
    let case = Case::new(
        "services:\n  web:\n    image: x\n    depends_on: [app]\n  app:\n    image: x\n    depends_on: [db, redis]\n  db:\n    image: x\n  redis:\n    image: x\n",
    );
    let p = case.load().project;
    assert_eq!(
        service_order(&p).unwrap(),
        vec![vec!["db", "redis"], vec!["app"], vec!["web"]]
    );
}
