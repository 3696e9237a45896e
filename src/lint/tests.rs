//! One good and one bad case per rule: a conforming stacklet passes clean, and each edit that
//! breaks one convention yields exactly the finding (file, line, severity, rule) it should.

use std::collections::BTreeMap;

use super::*;

const MANIFEST: &str = r#"id = "demo"
name = "Demo"
description = "Lint test stacklet"
version = "0.1.0"
category = "infrastructure"
port = 42090

hints = ["Open {url}"]

[env]
generate = ["DB_PASSWORD"]

[env.defaults]
DEMO_DIR = "{data_dir}/demo/app"
DEMO_DB_DIR = "{data_dir}/demo/db"
TZ = "{timezone}"

[health]
url = "http://localhost:42090/"
"#;

const COMPOSE: &str = r#"name: stack-demo

services:
  stack-demo-app:
    container_name: stack-demo-app
    image: example/app:1
    environment:
      DB_PASSWORD: ${DB_PASSWORD}
    volumes:
      - ${DEMO_DIR}:/data
    ports:
      - "${PORT_BIND_IP:-127.0.0.1}:42090:8080"
    depends_on:
      stack-demo-db:
        condition: service_healthy
    labels:
      - "com.centurylinklabs.watchtower.enable=${WATCHTOWER_ENABLE:-true}"
    networks:
      - stack
    restart: unless-stopped

  stack-demo-db:
    container_name: stack-demo-db
    image: docker.io/library/postgres:18-alpine
    volumes:
      - ${DEMO_DB_DIR}:/var/lib/postgresql
    healthcheck:
      test: ["CMD-SHELL", "pg_isready"]
      interval: 10s
    labels:
      com.centurylinklabs.watchtower.enable: ${WATCHTOWER_ENABLE:-true}
    networks:
      - stack
    restart: unless-stopped

networks:
  stack:
    external: true
"#;

const SNIPPET: &str = "demo.{$FAMSTACK_DOMAIN} {\n    reverse_proxy stack-demo-app:8080\n}\n";

/// A stacklet `demo` in a temp dir with the given files, linted with a small variable table.
fn lint_files(files: &[(&str, &str)]) -> Vec<Finding> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stacklets/demo");
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let source = std::fs::read_to_string(dir.join("stacklet.toml")).unwrap();
    let (manifest, _) = Manifest::parse(&source, "stacklets/demo/stacklet.toml", "demo").unwrap();
    let vars: BTreeMap<String, String> = ["data_dir", "timezone", "url", "demo_url", "domain"]
        .iter()
        .map(|k| ((*k).to_string(), format!("/{k}")))
        .collect();
    let mut containers = BTreeMap::new();
    if let Ok(compose) = std::fs::read_to_string(dir.join("docker-compose.yml")) {
        containers.extend(compose::containers_of(&compose));
    }
    containers.insert("stack-other".to_string(), vec![3000]);
    let input = Input {
        id: "demo",
        manifest: &manifest,
        rel_dir: "stacklets/demo".into(),
        dir,
        vars: &vars,
        containers: &containers,
    };
    check(&input)
}

/// Lint the good stacklet with `compose`, `manifest` and `snippet` replacing the good files.
fn lint_with(manifest: &str, compose: &str, snippet: &str) -> Vec<Finding> {
    lint_files(&[
        ("stacklet.toml", manifest),
        ("docker-compose.yml", compose),
        ("caddy.snippet", snippet),
        ("hooks/on_install.py", "def run(ctx):\n    pass\n"),
        ("hooks/_helper.py", "X = 1\n"),
    ])
}

fn compose_edit(from: &str, to: &str) -> Vec<Finding> {
    assert!(
        COMPOSE.contains(from),
        "{from:?} not in the good compose file"
    );
    lint_with(MANIFEST, &COMPOSE.replacen(from, to, 1), SNIPPET)
}

fn manifest_edit(from: &str, to: &str) -> Vec<Finding> {
    assert!(MANIFEST.contains(from), "{from:?} not in the good manifest");
    lint_with(&MANIFEST.replacen(from, to, 1), COMPOSE, SNIPPET)
}

/// The one finding of `rule` (panics with all findings otherwise).
#[track_caller]
fn only(findings: &[Finding], rule: Rule) -> Finding {
    let of_rule: Vec<&Finding> = findings.iter().filter(|f| f.rule == rule).collect();
    assert_eq!(of_rule.len(), 1, "{findings:#?}");
    of_rule[0].clone()
}

#[test]
fn a_conforming_stacklet_is_clean() {
    assert_eq!(lint_with(MANIFEST, COMPOSE, SNIPPET), Vec::<Finding>::new());
}

#[test]
fn project_name() {
    let f = only(
        &compose_edit("name: stack-demo", "name: demo"),
        Rule::ProjectName,
    );
    assert_eq!(
        f.to_string(),
        "stacklets/demo/docker-compose.yml:1: error: Project name `demo` must be `stack-demo`"
    );
    let f = only(&compose_edit("name: stack-demo\n", "\n"), Rule::ProjectName);
    assert!(f.message.contains("No top-level `name`"), "{f}");
}

#[test]
fn container_name_equals_key_and_follows_the_pattern() {
    let f = only(
        &compose_edit("container_name: stack-demo-app", "container_name: app"),
        Rule::ContainerName,
    );
    assert_eq!((f.line, f.severity), (5, Severity::Error));
    assert!(
        f.message
            .contains("must equal the service key `stack-demo-app`"),
        "{f}"
    );

    let findings = compose_edit("    container_name: stack-demo-db\n", "");
    let f = only(&findings, Rule::ContainerName);
    assert_eq!(f.line, 22, "{f}");
    assert!(f.message.contains("has no `container_name`"), "{f}");

    let renamed = COMPOSE.replace("stack-demo-db", "demo-db");
    let findings = lint_with(MANIFEST, &renamed, SNIPPET);
    let f = only(&findings, Rule::ContainerName);
    assert!(
        f.message.contains("must be named `stack-demo-<service>`"),
        "{f}"
    );

    // A bare `stack-<id>` is for single-container stacklets: a warning otherwise.
    let bare = COMPOSE.replace("stack-demo-app", "stack-demo");
    let snippet = SNIPPET.replace("stack-demo-app", "stack-demo");
    let f = only(&lint_with(MANIFEST, &bare, &snippet), Rule::ContainerName);
    assert_eq!(f.severity, Severity::Warning);
}

#[test]
fn every_service_on_the_external_stack_network() {
    let f = only(
        &compose_edit(
            "    networks:\n      - stack\n    restart: unless-stopped\n\n  stack-demo-db",
            "    networks:\n      - other\n    restart: unless-stopped\n\n  stack-demo-db",
        ),
        Rule::Network,
    );
    assert!(
        f.message
            .contains("`stack-demo-app` is not on the `stack` network"),
        "{f}"
    );
    let findings = compose_edit("    external: true\n", "    driver: bridge\n");
    let f = only(&findings, Rule::Network);
    assert!(f.message.contains("must be `external: true`"), "{f}");
}

#[test]
fn ports_bind_through_port_bind_ip_to_a_declared_port() {
    let good = "\"${PORT_BIND_IP:-127.0.0.1}:42090:8080\"";
    for (bad, says) in [
        ("\"42090:8080\"", "must be exactly"),
        ("\"${PORT_BIND_IP}:42090:8080\"", "must be exactly"),
        ("\"0.0.0.0:42090:8080\"", "must be exactly"),
        (
            "\"${PORT_BIND_IP:-127.0.0.1}:8080:8080\"",
            "outside 42000–42999",
        ),
        (
            "\"${PORT_BIND_IP:-127.0.0.1}:42091:8080\"",
            "not the manifest's `port`/`[ports]` (the manifest declares 42090)",
        ),
        ("{target: 8080, published: 42090}", "short form"),
    ] {
        let findings = compose_edit(good, bad);
        let f = findings
            .iter()
            .find(|f| f.rule == Rule::Ports && f.file.ends_with("docker-compose.yml"))
            .unwrap_or_else(|| panic!("{bad}: {findings:#?}"));
        assert_eq!(f.line, 12, "{f}");
        assert!(f.message.contains(says), "{bad}: {f}");
    }
}

#[test]
fn manifest_ports_are_in_range_and_published() {
    let findings = manifest_edit("port = 42090", "port = 8080");
    let range = findings
        .iter()
        .find(|f| f.message.contains("outside"))
        .unwrap();
    assert_eq!(
        (range.file.as_str(), range.line),
        ("stacklets/demo/stacklet.toml", 6)
    );
    assert!(
        findings
            .iter()
            .any(|f| f.message.contains("(the manifest declares 8080)"))
    );
    let unpublished = findings
        .iter()
        .find(|f| f.message.contains("is not published"))
        .unwrap();
    assert_eq!(unpublished.severity, Severity::Warning);
}

#[test]
fn watchtower_label_exact_in_both_forms() {
    let f = only(
        &compose_edit(
            "\"com.centurylinklabs.watchtower.enable=${WATCHTOWER_ENABLE:-true}\"",
            "\"com.centurylinklabs.watchtower.enable=true\"",
        ),
        Rule::Watchtower,
    );
    assert_eq!(f.line, 17);
    let f = only(
        &compose_edit(
            "      com.centurylinklabs.watchtower.enable: ${WATCHTOWER_ENABLE:-true}\n",
            "      other: x\n",
        ),
        Rule::Watchtower,
    );
    assert!(f.message.contains("lacks the label"), "{f}");
}

#[test]
fn restart_unless_stopped() {
    let f = only(
        &compose_edit("restart: unless-stopped", "restart: always"),
        Rule::Restart,
    );
    assert_eq!((f.line, f.severity), (20, Severity::Error));
    assert!(f.message.contains("not `always`"), "{f}");
}

#[test]
fn volumes_come_from_variables_below_the_data_dir() {
    let f = only(
        &compose_edit("${DEMO_DIR}:/data", "/srv/demo:/data"),
        Rule::Volumes,
    );
    assert_eq!((f.line, f.severity), (10, Severity::Error));
    assert!(f.message.contains("hard-coded path `/srv/demo`"), "{f}");

    let f = only(
        &compose_edit("${DEMO_DIR}:/data", "./data:/data"),
        Rule::Volumes,
    );
    assert_eq!(f.severity, Severity::Error);

    let named =
        COMPOSE.replacen("${DEMO_DIR}:/data", "appdata:/data", 1) + "volumes:\n  appdata: {}\n";
    let f = only(&lint_with(MANIFEST, &named, SNIPPET), Rule::Volumes);
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.contains("named volume `appdata`"), "{f}");

    let f = only(&compose_edit("${DEMO_DIR}:/data", "/data"), Rule::Volumes);
    assert_eq!(f.severity, Severity::Warning);

    let f = only(
        &manifest_edit("\"{data_dir}/demo/app\"", "\"{data_dir}/elsewhere\""),
        Rule::Volumes,
    );
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.contains("not below `{data_dir}/demo/`"), "{f}");

    // The runtime's own state dir for Caddy is not data and is allowed.
    let caddy = lint_with(
        &MANIFEST.replace("\"{data_dir}/demo/app\"", "\"{caddy_dir}\""),
        COMPOSE,
        SNIPPET,
    );
    assert!(!caddy.iter().any(|f| f.rule == Rule::Volumes), "{caddy:?}");
}

#[test]
fn databases_and_caches_need_a_healthcheck() {
    let without = COMPOSE.replacen(
        "    healthcheck:\n      test: [\"CMD-SHELL\", \"pg_isready\"]\n      interval: 10s\n",
        "",
        1,
    );
    let f = only(&lint_with(MANIFEST, &without, SNIPPET), Rule::Healthcheck);
    assert_eq!(f.line, 22);
    assert!(f.message.contains("(`postgres`)"), "{f}");
    // An application image needs none (its health is `[health]` in the manifest).
    let app = without.replace("docker.io/library/postgres:18-alpine", "example/api:2");
    assert!(
        lint_with(MANIFEST, &app, SNIPPET)
            .iter()
            .all(|f| f.rule != Rule::Healthcheck)
    );
}

#[test]
fn images_need_a_tag_that_names_a_release() {
    for (image, expect) in [
        ("example/app", "has no tag"),
        ("example/app:latest", "floating tag `latest`"),
        ("example/app:main", "floating tag `main`"),
    ] {
        let findings = compose_edit("image: example/app:1", &format!("image: {image}"));
        let f = only(&findings, Rule::ImageTag);
        assert_eq!((f.line, f.severity), (6, Severity::Warning), "{f}");
        assert!(f.message.contains(expect), "{f}");
    }
    let pinned = compose_edit("image: example/app:1", "image: example/app@sha256:0123abcd");
    assert!(
        pinned.iter().all(|f| f.rule != Rule::ImageTag),
        "{pinned:?}"
    );
}

#[test]
fn the_runtime_loader_runs_too() {
    let f = only(
        &compose_edit(
            "    image: example/app:1\n",
            "    image: example/app:1\n    imagee: x\n",
        ),
        Rule::Compose,
    );
    assert_eq!((f.line, f.severity), (7, Severity::Error));
    assert!(f.message.contains("Unsupported key `imagee`"), "{f}");
    assert!(!f.message.contains("/tmp"), "paths are not repeated: {f}");

    let f = only(
        &compose_edit("${DB_PASSWORD}", "${DB_PASSWRD}"),
        Rule::Compose,
    );
    assert_eq!((f.line, f.severity), (8, Severity::Warning));
    assert!(
        f.message.contains("`DB_PASSWRD` variable is not set"),
        "{f}"
    );
}

#[test]
fn template_variables_are_known() {
    let f = only(
        &manifest_edit("\"{timezone}\"", "\"{timezon}\""),
        Rule::Templates,
    );
    assert_eq!(
        f.to_string(),
        "stacklets/demo/stacklet.toml:16: error: Unknown template variable `timezon` in [env.defaults].TZ; did you mean `timezone`?"
    );
    let f = only(&manifest_edit("Open {url}", "Open {url"), Rule::Templates);
    assert!(f.message.contains("Invalid template in hints[0]"), "{f}");
    let f = only(
        &manifest_edit("localhost:42090/", "localhost:42090/{nope}"),
        Rule::Templates,
    );
    assert!(f.message.contains("[health] health"), "{f}");
}

#[test]
fn hooks_resolve() {
    let base = [
        ("stacklet.toml", MANIFEST),
        ("docker-compose.yml", COMPOSE),
        ("caddy.snippet", SNIPPET),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut files = base.to_vec();
        files.extend_from_slice(extra);
        lint_files(&files)
    };
    assert!(with(&[("hooks/on_start.sh", "echo hi\n"), ("hooks/_x.py", "")]).is_empty());

    let f = only(
        &with(&[
            ("hooks/on_install.py", "def run(ctx): pass\n"),
            ("hooks/on_install.sh", ""),
        ]),
        Rule::Hooks,
    );
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message
            .contains("Both `hooks/on_install.py` and `hooks/on_install.sh`"),
        "{f}"
    );

    let f = only(
        &with(&[("hooks/on_instal.py", "def run(ctx): pass\n")]),
        Rule::Hooks,
    );
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.contains("did you mean `on_install`?"), "{f}");

    let f = only(
        &with(&[("hooks/on_stop.py", "def stop(ctx): pass\n")]),
        Rule::Hooks,
    );
    assert_eq!(f.file, "stacklets/demo/hooks/on_stop.py");
    assert!(f.message.contains("must define `run(ctx)`"), "{f}");
}

#[test]
fn caddy_upstreams_are_containers_and_published_ports() {
    let lint = |snippet: &str| lint_with(MANIFEST, COMPOSE, snippet);
    // Another stacklet's container is fine, and so is a scheme.
    assert!(lint("x {\n    reverse_proxy http://stack-other:3000\n}\n").is_empty());

    let f = only(
        &lint(&SNIPPET.replace("stack-demo-app", "stack-demo-ap")),
        Rule::Caddy,
    );
    assert_eq!(f.line, 2);
    assert!(
        f.message
            .contains("not a container of any stacklet; did you mean `stack-demo-app`?"),
        "{f}"
    );

    let f = only(&lint(&SNIPPET.replace(":8080", ":9000")), Rule::Caddy);
    assert!(
        f.message
            .contains("does not listen on 9000 (it publishes container port 8080)"),
        "{f}"
    );

    let f = only(
        &lint(&SNIPPET.replace("stack-demo-app:8080", "stack-demo-db:5432")),
        Rule::Caddy,
    );
    assert!(f.message.contains("it publishes no port"), "{f}");
}

#[test]
fn allow_comments_silence_one_rule_on_their_line_or_the_next() {
    let bad = "\"42090:8080\"";
    let inline = COMPOSE.replace(
        "\"${PORT_BIND_IP:-127.0.0.1}:42090:8080\"",
        &format!("{bad} # stack-lint: allow ports — reason"),
    );
    let findings = lint_with(MANIFEST, &inline, SNIPPET);
    assert!(
        findings
            .iter()
            .all(|f| f.rule != Rule::Ports || !f.file.ends_with(".yml")),
        "{findings:#?}"
    );

    let above = COMPOSE.replace(
        "      - \"${PORT_BIND_IP:-127.0.0.1}:42090:8080\"",
        &format!("      # stack-lint: allow ports\n      - {bad}"),
    );
    let findings = lint_with(MANIFEST, &above, SNIPPET);
    assert!(
        findings
            .iter()
            .all(|f| f.rule != Rule::Ports || !f.file.ends_with(".yml")),
        "{findings:#?}"
    );

    // Another rule's name does not silence it.
    let other = COMPOSE.replace(
        "\"${PORT_BIND_IP:-127.0.0.1}:42090:8080\"",
        &format!("{bad} # stack-lint: allow restart"),
    );
    let findings = lint_with(MANIFEST, &other, SNIPPET);
    assert!(
        findings
            .iter()
            .any(|f| f.rule == Rule::Ports && f.line == 12),
        "{findings:#?}"
    );
}
