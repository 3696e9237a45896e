use super::*;
use crate::engine::ExposedPort;

fn request(id: &str) -> Request {
    Request {
        id: id.into(),
        host_port: None,
        container_port: None,
        category: "productivity".into(),
        command: Vec::new(),
    }
}

fn facts() -> ImageFacts {
    ImageFacts {
        reference: "ghcr.io/acme/notes:1.4".into(),
        ports: vec![
            ExposedPort {
                port: 3000,
                protocol: "tcp".into(),
            },
            ExposedPort {
                port: 9100,
                protocol: "tcp".into(),
            },
        ],
        volumes: vec!["/app/data".into(), "/config".into(), "/srv/data".into()],
        healthcheck: Some(Healthcheck {
            test: vec![
                "CMD-SHELL".into(),
                "wget -qO- http://127.0.0.1:3000/api/health || exit 1".into(),
            ],
            interval: 30_000_000_000,
            timeout: 1_500_000_000,
            start_period: 0,
            retries: 3,
        }),
        env: vec![
            ("PATH".into(), "/usr/bin".into()),
            ("NOTES_MODE".into(), "prod $x".into()),
        ],
        user: Some("1000".into()),
        cmd: vec![],
        entrypoint: vec![],
    }
}

fn file<'a>(s: &'a Scaffold, name: &str) -> &'a str {
    &s.files
        .iter()
        .find(|(p, _)| p == Path::new(name))
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

#[test]
fn next_free_block_skips_every_block_with_a_used_port() {
    let taken = |ports: &[u16]| -> Vec<(u16, String)> {
        ports.iter().map(|p| (*p, "x".to_string())).collect()
    };
    assert_eq!(next_free_block(&[]), Ok(42000));
    assert_eq!(next_free_block(&taken(&[42000, 42010, 42031])), Ok(42020));
    assert_eq!(next_free_block(&taken(&[42000, 42019, 42020])), Ok(42030));
}

#[test]
fn plans_ports_volumes_health_and_every_convention() {
    let taken = vec![(42000, "hello".to_string())];
    let s = plan(&request("my-notes"), &facts(), &taken).unwrap();
    assert_eq!((s.host_port, s.container_port), (Some(42010), Some(3000)));
    let manifest = file(&s, "stacklet.toml");
    assert!(manifest.contains("id          = \"my-notes\""));
    assert!(manifest.contains("name        = \"My Notes\""));
    assert!(manifest.contains("port        = 42010"));
    assert!(manifest.contains("image   = \"ghcr.io/acme/notes\""));
    assert!(manifest.contains("MY_NOTES_DATA_DIR = \"{data_dir}/my-notes/data\"   # → /app/data"));
    assert!(manifest.contains("MY_NOTES_CONFIG_DIR = \"{data_dir}/my-notes/config\""));
    assert!(
        manifest.contains("MY_NOTES_DATA2_DIR = \"{data_dir}/my-notes/data2\"   # → /srv/data")
    );
    // The image's healthcheck probes /api/health on the service port: [health] follows it.
    assert!(manifest.contains("url    = \"http://localhost:42010/api/health\""));

    let compose = file(&s, "docker-compose.yml");
    for line in [
        "name: stack-my-notes",
        "  stack-my-notes:",
        "    container_name: stack-my-notes",
        "    image: \"ghcr.io/acme/notes:1.4\"",
        "      - ${MY_NOTES_DATA_DIR}:/app/data",
        "      - \"${PORT_BIND_IP:-127.0.0.1}:42010:3000\"",
        "      # The image also exposes 9100/tcp",
        "      test: [\"CMD-SHELL\", \"wget -qO- http://127.0.0.1:3000/api/health || exit 1\"]",
        "      interval: 30s",
        "      timeout: 1500ms",
        "      retries: 3",
        "      - \"com.centurylinklabs.watchtower.enable=${WATCHTOWER_ENABLE:-true}\"",
        "      - stack",
        "    restart: unless-stopped",
        "    external: true",
        // Image env as comments, with compose's `$` escaped.
        "      # NOTES_MODE: \"prod $$x\"",
        "    # The image runs as user `1000`: the bind mounts below must be writable by it.",
    ] {
        assert!(compose.contains(line), "missing {line:?} in\n{compose}");
    }
    assert!(!compose.contains("# PATH"));
    assert!(file(&s, "caddy.snippet").contains("reverse_proxy stack-my-notes:3000"));
    assert!(file(&s, "hooks/on_install.py").contains("def run(ctx):"));
}

#[test]
fn an_explicit_port_must_be_free_and_a_portless_image_needs_a_container_port() {
    let taken = vec![(42010, "photos".to_string())];
    let mut r = request("a");
    r.host_port = Some(42010);
    assert_eq!(
        plan(&r, &facts(), &taken).unwrap_err(),
        ScaffoldError::PortTaken {
            port: 42010,
            owner: "photos".into()
        }
    );
    let bare = ImageFacts {
        reference: "busybox".into(),
        ..ImageFacts::default()
    };
    r.host_port = Some(45000);
    assert!(matches!(
        plan(&r, &bare, &taken),
        Err(ScaffoldError::NoContainerPort { .. })
    ));
    // Without any port the stacklet is a background service: no port, no [health], no snippet.
    let s = plan(&request("worker"), &bare, &taken).unwrap();
    assert_eq!(s.host_port, None);
    assert!(!file(&s, "stacklet.toml").contains("[health]"));
    assert!(!file(&s, "docker-compose.yml").contains("ports:"));
    assert!(s.files.iter().all(|(p, _)| p != Path::new("caddy.snippet")));
}

#[test]
fn a_healthcheck_on_another_port_falls_back_to_the_exposed_port() {
    let mut f = facts();
    f.healthcheck = Some(Healthcheck {
        test: vec![
            "CMD".into(),
            "curl".into(),
            "http://localhost:9100/metrics".into(),
        ],
        ..Healthcheck::default()
    });
    let s = plan(&request("n"), &f, &[]).unwrap();
    assert!(file(&s, "stacklet.toml").contains("url    = \"http://localhost:42000/\""));
    assert_eq!(
        http_path(&["CMD".into(), "wget http://localhost/ok".into()], 80),
        Some("/ok".into())
    );
}

#[test]
fn repository_drops_tag_and_digest() {
    assert_eq!(repository("ghcr.io/a/b:1.2"), "ghcr.io/a/b");
    assert_eq!(repository("localhost:5000/b"), "localhost:5000/b");
    assert_eq!(repository("busybox@sha256:abc"), "busybox");
    assert_eq!(folder_name("/"), "data");
    assert_eq!(folder_name("/var/lib/Postgres_Data/"), "postgres-data");
}

#[test]
fn write_creates_the_directory_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let s = plan(&request("n"), &facts(), &[]).unwrap();
    let dir = tmp.path().join("stacklets/n");
    write(&dir, &s).unwrap();
    assert!(dir.join("hooks/on_install.py").exists());
    assert!(dir.join("stacklet.toml").exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("stacklets"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers, [std::ffi::OsString::from("n")]);
}
