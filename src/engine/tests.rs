//! Engine tests against the real Docker engine with the local busybox image. Each test owns a
//! project name (`stk-eng-<test>`), removes leftovers of an earlier run first and cleans up at the
//! end. They need a reachable engine and fail loudly without one.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, RemoveContainerOptions,
};

use super::testing::{BUSYBOX, docker, ensure_busybox, ns, project, quiet, service, up};
use super::*;
use crate::compose::model::{
    Build, Condition, Dependency, Healthcheck, Mount, MountKind, Network, PortMapping, Project,
    ServiceNetwork, Volume,
};

async fn setup(name: &str) -> Docker {
    let docker = docker().await;
    ensure_busybox(&docker).await;
    down(
        &docker,
        &ns(),
        name,
        &DownOptions { volumes: true },
        &quiet(),
    )
    .await
    .expect("clean leftovers");
    docker
}

async fn teardown(docker: &Docker, name: &str) {
    down(
        docker,
        &ns(),
        name,
        &DownOptions { volumes: true },
        &quiet(),
    )
    .await
    .expect("down");
    assert!(ps(docker, &ns(), name).await.unwrap().is_empty());
}

async fn converge(docker: &Docker, p: &Project) -> BTreeMap<String, ServiceOutcome> {
    up(docker, p, &UpOptions::default(), &quiet())
        .await
        .unwrap_or_else(|e| panic!("up failed: {e} ({:?})", e.hint()))
        .into_iter()
        .map(|o| (o.service.clone(), o))
        .collect()
}

fn outcomes(o: &BTreeMap<String, ServiceOutcome>) -> Vec<(&str, Outcome)> {
    o.values()
        .map(|o| (o.service.as_str(), o.outcome))
        .collect()
}

fn dep(condition: Condition) -> Dependency {
    Dependency {
        condition,
        required: true,
        restart: false,
    }
}

async fn inspect(docker: &Docker, name: &str) -> bollard::models::ContainerInspectResponse {
    docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
        .unwrap_or_else(|e| panic!("inspect {name}: {e}"))
}

/// `2026-11-22T04:20:58.123456789Z` → comparable (seconds part, nanoseconds).
fn instant(ts: &str) -> (String, u32) {
    let ts = ts.trim_end_matches('Z');
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    let nanos = format!("{frac:0<9}")[..9].parse().unwrap();
    (secs.to_string(), nanos)
}

#[tokio::test]
async fn converge_is_idempotent_and_restarts_stopped() {
    let name = "stk-eng-idem";
    let docker = setup(name).await;
    let mut web = service("web");
    web.depends_on
        .insert("db".into(), dep(Condition::ServiceStarted));
    let p = project(name, vec![service("db"), web]);

    let first = converge(&docker, &p).await;
    assert_eq!(
        outcomes(&first),
        [("db", Outcome::Created), ("web", Outcome::Created)]
    );
    assert_eq!(state_of_project(&docker, name).await, ProjectState::Running);

    let second = converge(&docker, &p).await;
    assert_eq!(
        outcomes(&second),
        [("db", Outcome::Unchanged), ("web", Outcome::Unchanged)]
    );
    for s in ["db", "web"] {
        assert_eq!(first[s].id, second[s].id, "{s} kept its container");
    }

    let stopped = stop(&docker, &ns(), name, &quiet()).await.unwrap();
    assert_eq!(
        stopped,
        ["stk-eng-idem-web-1", "stk-eng-idem-db-1"],
        "dependents first"
    );
    assert_eq!(state_of_project(&docker, name).await, ProjectState::Stopped);

    let third = converge(&docker, &p).await;
    assert_eq!(
        outcomes(&third),
        [("db", Outcome::Started), ("web", Outcome::Started)]
    );
    assert_eq!(first["db"].id, third["db"].id);
    teardown(&docker, name).await;
}

#[tokio::test]
async fn changing_one_service_recreates_exactly_that_one() {
    let name = "stk-eng-change";
    let docker = setup(name).await;
    let mut p = project(name, vec![service("a"), service("b")]);
    let first = converge(&docker, &p).await;

    p.services
        .get_mut("b")
        .unwrap()
        .environment
        .insert("COLOUR".into(), Some("blue".into()));
    let second = converge(&docker, &p).await;
    assert_eq!(
        outcomes(&second),
        [("a", Outcome::Unchanged), ("b", Outcome::Recreated)]
    );
    assert_eq!(first["a"].id, second["a"].id);
    assert_ne!(first["b"].id, second["b"].id);
    let env = inspect(&docker, "stk-eng-change-b-1")
        .await
        .config
        .unwrap()
        .env
        .unwrap();
    assert!(env.contains(&"COLOUR=blue".to_string()));
    teardown(&docker, name).await;
}

#[tokio::test]
async fn service_healthy_dependency_is_waited_for() {
    let name = "stk-eng-healthy";
    let docker = setup(name).await;
    let mut db = service("db");
    db.command = Some(vec![
        "sh".into(),
        "-c".into(),
        "sleep 1.5; touch /tmp/ready; exec sleep 3600".into(),
    ]);
    db.healthcheck = Some(Healthcheck {
        test: vec!["CMD-SHELL".into(), "test -f /tmp/ready".into()],
        interval: Some(Duration::from_millis(300)),
        retries: Some(30),
        ..Default::default()
    });
    let mut web = service("web");
    web.depends_on
        .insert("db".into(), dep(Condition::ServiceHealthy));
    let p = project(name, vec![db, web]);
    converge(&docker, &p).await;

    let db = inspect(&docker, "stk-eng-healthy-db-1")
        .await
        .state
        .unwrap();
    let healthy_at = db
        .health
        .unwrap()
        .log
        .unwrap()
        .into_iter()
        .find(|r| r.exit_code == Some(0))
        .and_then(|r| r.end)
        .expect("a passing health check");
    let web_started = inspect(&docker, "stk-eng-healthy-web-1")
        .await
        .state
        .unwrap()
        .started_at
        .unwrap();
    assert!(
        instant(&web_started) > instant(&healthy_at),
        "web started at {web_started}, before db was healthy at {healthy_at}"
    );
    teardown(&docker, name).await;
}

#[tokio::test]
async fn dependency_conditions_fail_clearly() {
    let name = "stk-eng-depfail";
    let docker = setup(name).await;
    // No healthcheck at all, but `service_healthy` asked for.
    let mut web = service("web");
    web.depends_on
        .insert("db".into(), dep(Condition::ServiceHealthy));
    let p = project(name, vec![service("db"), web]);
    let err = up(&docker, &p, &UpOptions::default(), &quiet())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("dependency `db` has no healthcheck"),
        "{err}"
    );

    // A one-shot job that fails.
    let mut job = service("job");
    job.command = Some(vec!["sh".into(), "-c".into(), "exit 3".into()]);
    let mut app = service("app");
    app.depends_on
        .insert("job".into(), dep(Condition::ServiceCompletedSuccessfully));
    let p = project(name, vec![job, app]);
    let err = up(&docker, &p, &UpOptions::default(), &quiet())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Service `app` cannot start: dependency `job` exited with code 3"
    );

    // An unhealthy dependency.
    let mut sick = service("sick");
    sick.healthcheck = Some(Healthcheck {
        test: vec!["CMD-SHELL".into(), "echo broken; exit 1".into()],
        interval: Some(Duration::from_millis(200)),
        retries: Some(1),
        ..Default::default()
    });
    let mut user = service("user");
    user.depends_on
        .insert("sick".into(), dep(Condition::ServiceHealthy));
    let p = project(name, vec![sick, user]);
    let err = up(&docker, &p, &UpOptions::default(), &quiet())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("dependency `sick` is unhealthy (last check: broken)"),
        "{err}"
    );
    teardown(&docker, name).await;
}

#[tokio::test]
async fn down_removes_exactly_the_project_objects() {
    let name = "stk-eng-down";
    let decoy = "stk-eng-down-decoy";
    let docker = setup(name).await;
    let _ = docker
        .remove_container(
            decoy,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await;
    // Same image, a name that looks like the project's, but no label.
    docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(decoy.into()),
                ..Default::default()
            }),
            ContainerCreateBody {
                image: Some(BUSYBOX.into()),
                cmd: Some(vec!["sleep".into(), "3600".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let mut p = project(name, vec![service("a"), service("b")]);
    p.volumes.insert(
        "data".into(),
        Volume {
            name: format!("{name}_data"),
            ..Default::default()
        },
    );
    p.networks.insert(
        "stack".into(),
        Network {
            name: "stack".into(),
            external: true,
            ..Default::default()
        },
    );
    let a = p.services.get_mut("a").unwrap();
    a.volumes.push(Mount {
        kind: MountKind::Volume,
        source: Some("data".into()),
        target: "/data".into(),
        read_only: false,
        create_host_path: false,
    });
    a.networks.insert("stack".into(), ServiceNetwork::default());
    converge(&docker, &p).await;
    assert_eq!(ps(&docker, &ns(), name).await.unwrap().len(), 2);

    let summary = down(
        &docker,
        &ns(),
        name,
        &DownOptions { volumes: true },
        &quiet(),
    )
    .await
    .unwrap();
    let mut containers = summary.containers.clone();
    containers.sort();
    assert_eq!(containers, ["stk-eng-down-a-1", "stk-eng-down-b-1"]);
    assert_eq!(summary.networks, ["stk-eng-down_default"]);
    assert_eq!(summary.volumes, ["stk-eng-down_data"]);
    assert!(docker.inspect_volume("stk-eng-down_data").await.is_err());
    // The decoy and the shared `stack` network are untouched.
    inspect(&docker, decoy).await;
    docker
        .inspect_network(
            "stack",
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .expect("the stack network survives");
    docker
        .remove_container(
            decoy,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn pull_failure_stops_nothing() {
    let name = "stk-eng-pullfail";
    let docker = setup(name).await;
    let mut p = project(name, vec![service("a"), service("b")]);
    let first = converge(&docker, &p).await;

    p.services.get_mut("b").unwrap().image = Some("stack-test/does-not-exist:1".into());
    let started = Instant::now();
    let err = up(&docker, &p, &UpOptions::default(), &quiet())
        .await
        .unwrap_err();
    let EngineError::Pull { image, .. } = &err else {
        panic!("expected a pull error, got {err}");
    };
    assert_eq!(image, "stack-test/does-not-exist:1");
    assert!(
        err.to_string()
            .starts_with("Cannot pull image `stack-test/does-not-exist:1`: "),
        "{err}"
    );
    assert!(err.hint().is_some());
    eprintln!(
        "pull error after {:?}: {err}\nhint: {}",
        started.elapsed(),
        err.hint().unwrap()
    );

    let now = ps(&docker, &ns(), name).await.unwrap();
    assert_eq!(now.len(), 2);
    for c in &now {
        assert_eq!(c.state, "running", "{} was disturbed", c.name);
        assert_eq!(c.id, first[&c.service].id);
    }
    teardown(&docker, name).await;
}

#[tokio::test]
async fn fields_reach_the_container() {
    let name = "stk-eng-fields";
    let docker = setup(name).await;
    let dir = tempfile::tempdir().unwrap();
    let bind = dir.path().join("made/by/stack");
    let mut s = service("web");
    s.command = Some(vec![
        "httpd".into(),
        "-f".into(),
        "-p".into(),
        "8080".into(),
    ]);
    s.ports.push(PortMapping {
        target: 8080,
        published: None,
        host_ip: Some("127.0.0.1".into()),
        protocol: "tcp".into(),
    });
    s.volumes.push(Mount {
        kind: MountKind::Bind,
        source: Some(bind.display().to_string()),
        target: "/srv".into(),
        read_only: true,
        create_host_path: true,
    });
    s.tmpfs.insert("/scratch".into(), "size=1m".into());
    s.environment.insert("A".into(), Some("x y $z".into()));
    s.environment.insert("UNSET".into(), None);
    s.extra_hosts
        .push(("host.docker.internal".into(), "host-gateway".into()));
    s.labels.insert(
        "com.centurylinklabs.watchtower.enable".into(),
        "false".into(),
    );
    s.user = Some("65534".into());
    s.working_dir = Some("/tmp".into());
    s.restart = Some("unless-stopped".into());
    s.healthcheck = Some(Healthcheck {
        disable: true,
        ..Default::default()
    });
    s.cap_drop.push("NET_RAW".into());
    s.shm_size = Some(8 * 1024 * 1024);
    s.stop_signal = Some("SIGINT".into());
    s.stop_grace_period = Some(Duration::from_secs(3));
    s.container_name = Some("stk-eng-fields-custom".into());
    s.networks
        .get_mut("default")
        .unwrap()
        .aliases
        .push("www".into());
    let p = project(name, vec![s]);
    converge(&docker, &p).await;

    assert!(bind.is_dir(), "bind source created");
    let info = inspect(&docker, "stk-eng-fields-custom").await;
    let config = info.config.unwrap();
    let host = info.host_config.unwrap();
    let env = config.env.unwrap();
    assert!(env.contains(&"A=x y $z".to_string()));
    assert!(!env.iter().any(|e| e.starts_with("UNSET")));
    assert_eq!(config.user.as_deref(), Some("65534"));
    assert_eq!(config.working_dir.as_deref(), Some("/tmp"));
    assert_eq!(config.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(config.stop_timeout, Some(3));
    assert_eq!(config.healthcheck.unwrap().test.unwrap(), ["NONE"]);
    let l = config.labels.unwrap();
    assert_eq!(l["com.centurylinklabs.watchtower.enable"], "false");
    assert_eq!(l["com.docker.compose.project"], name);
    assert_eq!(l["com.docker.compose.service"], "web");
    assert_eq!(l["com.docker.compose.oneoff"], "False");
    assert_eq!(l["com.docker.compose.container-number"], "1");
    assert!(l["com.docker.compose.image"].starts_with("sha256:"));
    assert_eq!(
        host.extra_hosts.unwrap(),
        ["host.docker.internal:host-gateway"]
    );
    assert_eq!(host.tmpfs.unwrap()["/scratch"], "size=1m");
    assert_eq!(host.cap_drop.unwrap(), ["NET_RAW"]);
    assert_eq!(host.shm_size, Some(8 * 1024 * 1024));
    assert_eq!(host.init, Some(true));
    assert_eq!(
        host.restart_policy.unwrap().name,
        Some(bollard::models::RestartPolicyNameEnum::UNLESS_STOPPED)
    );
    let aliases = info.network_settings.unwrap().networks.unwrap()["stk-eng-fields_default"]
        .aliases
        .clone()
        .unwrap();
    for a in ["stk-eng-fields-custom", "web", "www"] {
        assert!(aliases.contains(&a.to_string()), "{aliases:?}");
    }
    // The engine picked a host port; ps reports it, and httpd answers on it.
    let c = &ps(&docker, &ns(), name).await.unwrap()[0];
    let port = &c.ports[0];
    assert_eq!(
        (port.host_ip.as_str(), port.container_port),
        ("127.0.0.1", 8080)
    );
    assert!(port.host_port > 0);
    teardown(&docker, name).await;
}

#[tokio::test]
async fn builds_from_context_and_surfaces_build_errors() {
    let name = "stk-eng-build";
    let docker = setup(name).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile.stack"),
        format!("FROM {BUSYBOX}\nARG GREETING\nCOPY hello.txt /hello.txt\nRUN echo \"$GREETING\" >> /hello.txt\nCMD [\"sleep\", \"3600\"]\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hi\n").unwrap();
    let mut s = service("app");
    s.image = None;
    s.command = None;
    s.build = Some(Build {
        context: dir.path().to_path_buf(),
        dockerfile: "Dockerfile.stack".into(),
        args: BTreeMap::from([("GREETING".into(), "built by stack".into())]),
        target: None,
    });
    let p = project(name, vec![s.clone()]);
    converge(&docker, &p).await;
    let info = inspect(&docker, "stk-eng-build-app-1").await;
    assert_eq!(
        info.config.unwrap().image.as_deref(),
        Some("stk-eng-build-app")
    );

    // A failing RUN comes back as a build error naming service and image.
    std::fs::write(
        dir.path().join("Dockerfile.stack"),
        format!("FROM {BUSYBOX}\nRUN exit 7\n"),
    )
    .unwrap();
    let err = ensure_images(
        &docker,
        &p,
        &ImageOptions {
            rebuild: true,
            ..Default::default()
        },
        &quiet(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Cannot build image `stk-eng-build-app` for service `app`: "),
        "{err}"
    );
    assert!(err.to_string().contains("non-zero code: 7"), "{err}");
    let leftovers = docker
        .list_containers(Some(bollard::query_parameters::ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.command.as_deref().is_some_and(|c| c.contains("exit 7")))
        // Build steps carry no compose labels; other tests' service containers on the shared
        // engine may run `exit 7` too.
        .filter(|c| {
            c.labels
                .as_ref()
                .is_none_or(|l| !l.contains_key(labels::PROJECT))
        })
        .count();
    assert_eq!(
        leftovers, 0,
        "the failed build step's container was left behind"
    );
    teardown(&docker, name).await;
    let _ = docker
        .remove_image(
            "stk-eng-build-app",
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
}

#[tokio::test]
async fn logs_are_split_and_prefixed() {
    let name = "stk-eng-logs";
    let docker = setup(name).await;
    let mut a = service("a");
    a.command = Some(vec![
        "sh".into(),
        "-c".into(),
        "echo one; echo two >&2; sleep 0.2; echo three; exec sleep 3600".into(),
    ]);
    let mut bee = service("bee");
    bee.command = Some(vec![
        "sh".into(),
        "-c".into(),
        "echo buzz; exec sleep 3600".into(),
    ]);
    let p = project(name, vec![a, bee]);
    converge(&docker, &p).await;

    // Wait until both containers have written all their lines (`three` comes after a pause).
    let read_all = async || {
        let stream = logs(&docker, &ns(), name, &LogOptions::default())
            .await
            .unwrap();
        let mut out = Vec::new();
        write_logs(stream, &mut out).await.unwrap();
        let mut lines: Vec<String> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    let mut lines = Vec::new();
    crate::poll::poll_until(Duration::from_secs(30), async |_| {
        lines = read_all().await;
        (lines.len() >= 4).then_some(())
    })
    .await;
    assert_eq!(
        lines,
        ["a   | one", "a   | three", "a   | two", "bee | buzz"]
    );

    let only = LogOptions {
        services: vec!["a".into()],
        tail: Some(1),
        ..Default::default()
    };
    let mut out = Vec::new();
    write_logs(logs(&docker, &ns(), name, &only).await.unwrap(), &mut out)
        .await
        .unwrap();
    // One service: no prefix. Tail 1 of stdout+stderr is the last line written.
    assert_eq!(String::from_utf8(out).unwrap(), "three\n");
    teardown(&docker, name).await;
}

#[tokio::test]
async fn compose_v2_sees_and_removes_our_containers() {
    let name = "stk-eng-compose";
    let compose = "/usr/local/bin/docker-compose-v2";
    assert!(
        std::path::Path::new(compose).exists(),
        "{compose} is missing: run scripts/install-compose.sh"
    );
    let docker = setup(name).await;
    let mut web = service("web");
    web.depends_on
        .insert("db".into(), dep(Condition::ServiceStarted));
    let p = project(name, vec![service("db"), web]);
    converge(&docker, &p).await;

    let run = |args: &[&str]| {
        let out = std::process::Command::new(compose)
            .args(["-p", name])
            .args(args)
            .current_dir(std::env::temp_dir())
            .output()
            .expect("run docker-compose-v2");
        assert!(
            out.status.success(),
            "compose {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let listed = run(&["ps", "--format", "json"]);
    let mut services: Vec<String> = listed
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
        .map(|v| {
            format!(
                "{} {} {}",
                v["Service"].as_str().unwrap(),
                v["Name"].as_str().unwrap(),
                v["State"].as_str().unwrap()
            )
        })
        .collect();
    services.sort();
    assert_eq!(
        services,
        [
            "db stk-eng-compose-db-1 running",
            "web stk-eng-compose-web-1 running"
        ]
    );

    run(&["down"]);
    assert_eq!(state_of_project(&docker, name).await, ProjectState::Absent);
    assert!(
        docker
            .inspect_network(
                "stk-eng-compose_default",
                None::<bollard::query_parameters::InspectNetworkOptions>
            )
            .await
            .is_err(),
        "compose removed our network too"
    );
}

#[tokio::test]
async fn unreachable_engine_fails_fast_with_places() {
    let started = Instant::now();
    let err = connect::connect_to(vec![
        "unix:///nonexistent/docker.sock".into(),
        "tcp://127.0.0.1:1".into(),
    ])
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        err.to_string(),
        "Cannot reach the Docker engine (looked at unix:///nonexistent/docker.sock, tcp://127.0.0.1:1)"
    );
    assert!(err.hint().unwrap().contains("OrbStack"));
}

/// A project's state as `list` and `status` read it: from the one call for every project.
async fn state_of_project(docker: &Docker, name: &str) -> ProjectState {
    all_project_states(docker, &ns())
        .await
        .unwrap()
        .remove(name)
        .unwrap_or(ProjectState::Absent)
}

#[tokio::test]
async fn down_removes_two_networks_of_one_name() {
    // Engines before API 1.44 let two creates of one network name both succeed (a race between
    // two `up`s); `down` must still remove both, which by name fails as "ambiguous".
    let name = "stk-eng-twin-net";
    let docker = setup(name).await;
    let net = format!("{name}_default");
    let labels =
        labels::resource_labels(&ns(), name, (labels::NETWORK, "default"), &BTreeMap::new());
    for _ in 0..2 {
        docker
            .create_network(bollard::models::NetworkCreateRequest {
                name: net.clone(),
                driver: Some("bridge".into()),
                labels: Some(labels.clone()),
                ..Default::default()
            })
            .await
            .expect("create network");
    }
    let listed = |docker: Docker| async move {
        docker
            .list_networks(Some(bollard::query_parameters::ListNetworksOptions {
                filters: Some(labels::project_filter(name)),
            }))
            .await
            .unwrap()
            .len()
    };
    let twins = listed(docker.clone()).await;
    assert_eq!(twins, 2, "the engine made two networks of one name");
    down(
        &docker,
        &ns(),
        name,
        &DownOptions { volumes: true },
        &quiet(),
    )
    .await
    .expect("down removes both");
    assert_eq!(listed(docker.clone()).await, 0, "{twins} networks before");
}
