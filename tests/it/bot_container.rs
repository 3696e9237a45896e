//! Core's `bot-runner` container, end to end: the shipped core compose file and Dockerfile, built
//! by `stack up core` through the engine's build API, running the shipped runner and bots against
//! the real Synapse of the test run, and stacker-bot answering an admin through the real
//! `stack serve`. Without `messages` set up there is no runner: no image, no container.
//!
//! No registry is reachable here, so the Dockerfile's base is the offline stand-in
//! `stack-test/python:3.11` (scripts/test-images.sh: the host's CPython 3.11 with exactly the
//! pinned requirements), passed the way a user passes a mirror: `BOT_RUNNER_PYTHON_IMAGE`. The
//! Dockerfile's `pip install` runs for real and finds every pin satisfied.
//!
//! The test runs in a `STACK_DIR` instance of its own (`stkbotctr`), so its project, container,
//! network and image names never meet the default instance's `stack-core` of the Caddy tests.
//! The test has a Synapse of its own (its stacker-bot and scribe-bot would otherwise be the
//! accounts and rooms of `bot_runner.rs` and `scribe_bot.rs`). Synapse listens on loopback only;
//! containers reach the host through `host.docker.internal` (the bridge's gateway), so a small
//! forwarder there hands their connections to it.

use std::io::Write as _;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bot_runner::{Killed, join_server_room, login};
use crate::messages::messages_repo;
use crate::support::{Repo, docker_lines, ensure_test_images, secret, stderr, stdout};
use crate::synapse::{self, Synapse};

const INSTANCE: &str = "stkbotctr";
const CONTAINER: &str = "stkbotctr_stack-core-bot-runner";
const IMAGE: &str = "stkbotctr_stack-core-stack-core-bot-runner";
const NETWORK: &str = "stkbotctr_stack";
/// The signed API's port: 42001 plus the instance's `port_offset` (3622).
const PORT_OFFSET: u16 = 3622;
const API_PORT: u16 = 42001 + PORT_OFFSET;

/// Removes what the test made on the engine, by exact name, even when an assertion failed.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        for args in [
            &["rm", "-f", CONTAINER][..],
            &["network", "rm", NETWORK][..],
            &["rmi", "-f", IMAGE][..],
        ] {
            let _ = std::process::Command::new("docker").args(args).output();
        }
    }
}

/// The address `host-gateway` (`host.docker.internal`) stands for on this engine, as a
/// container sees it.
fn host_gateway() -> IpAddr {
    let hosts = docker_lines(&[
        "run",
        "--rm",
        "--add-host",
        "host.docker.internal:host-gateway",
        "stack-test/busybox:1",
        "cat",
        "/etc/hosts",
    ]);
    hosts
        .iter()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            let address = words.next()?;
            words
                .any(|w| w == "host.docker.internal")
                .then(|| address.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no host.docker.internal in a container: {hosts:?}"))
}

/// Forwards every TCP connection to `listen_ip:<port>` to `to`, for the life of the test process;
/// returns the port.
fn forward(listen_ip: IpAddr, to: SocketAddr) -> u16 {
    let listener = TcpListener::bind((listen_ip, 0)).expect("bind the forwarder");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(to) else {
                continue;
            };
            let (client2, server2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || pipe(client, server));
            std::thread::spawn(move || pipe(server2, client2));
        }
    });
    port
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// `stack` in the instance, with the offline base image for the bot runner's build.
fn stack(repo: &Repo, dir: &Path) -> assert_cmd::Command {
    let mut cmd = repo.stack();
    cmd.env("STACK_DIR", dir)
        .env("BOT_RUNNER_PYTHON_IMAGE", "stack-test/python:3.11");
    cmd
}

fn exists(kind: &str, name: &str) -> bool {
    std::process::Command::new("docker")
        .args([kind, "inspect", name])
        .output()
        .expect("run docker")
        .status
        .success()
}

/// The repo: the fake `messages` on `synapse` (with scribe-bot), the shipped `core`
/// (compose file, Dockerfile, requirements, stacker-bot; not its hooks, which install a system
/// service), and an instance directory holding the configuration and secrets.
fn repo(synapse: &Synapse, synapse_docker_url: &str) -> (Repo, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut repo = messages_repo(
        synapse,
        "stkctradmin",
        "[[users]]\nid = \"stk-ctr-ann\"\nname = \"Ann\"\nrole = \"admin\"\n",
    );
    for file in [
        "stacklets/core/stacklet.toml",
        "stacklets/core/docker-compose.yml",
        "stacklets/core/bot-runner/Dockerfile",
        "stacklets/core/bot-runner/requirements.txt",
        "stacklets/core/bot/bot.toml",
        "stacklets/core/bot/stacker.py",
        "stacklets/messages/bot/bot.toml",
        "stacklets/messages/bot/scribe.py",
    ] {
        repo = repo.file(file, &std::fs::read_to_string(root.join(file)).unwrap());
    }
    // Containers reach this Synapse through the forwarder, not the stacklet's own container.
    let manifest = repo.read("stacklets/messages/stacklet.toml");
    let shipped = "SYNAPSE_API_URL_DOCKER = \"http://stack-messages-synapse:8008\"";
    assert!(
        manifest.contains(shipped),
        "the messages manifest no longer has `{shipped}`"
    );
    let repo = repo.file(
        "stacklets/messages/stacklet.toml",
        &manifest.replace(
            shipped,
            &format!("SYNAPSE_API_URL_DOCKER = \"{synapse_docker_url}\""),
        ),
    );
    // The instance: stack.toml, users.toml and the secrets move into `<repo>/stkbotctr/`.
    let dir = repo.join(INSTANCE);
    std::fs::create_dir_all(dir.join(".stack")).unwrap();
    for file in ["stack.toml", "users.toml", ".stack/secrets.toml"] {
        std::fs::rename(repo.join(file), dir.join(file)).unwrap();
    }
    let config = std::fs::read_to_string(dir.join("stack.toml"))
        .unwrap()
        .replace(
            "[core]\n",
            &format!("[core]\ninstance = \"{INSTANCE}\"\nport_offset = {PORT_OFFSET}\n"),
        );
    std::fs::write(dir.join("stack.toml"), config).unwrap();
    (repo, dir)
}

#[test]
fn stack_up_core_builds_and_runs_the_bot_runner_only_with_messages() {
    ensure_test_images();
    let synapse = &synapse::own();
    let _cleanup = Cleanup;
    let gateway = host_gateway();
    let synapse_addr: SocketAddr = synapse
        .url
        .strip_prefix("http://")
        .unwrap()
        .parse()
        .unwrap();
    let forwarded = forward(gateway, synapse_addr);
    let (repo, dir) = repo(synapse, &format!("http://host.docker.internal:{forwarded}"));

    // Without `messages`: core comes up with nothing to run — no image built, no container.
    let out = stack(&repo, &dir).args(["up", "core"]).output().unwrap();
    assert!(out.status.success(), "up core: {}", stderr(&out));
    assert!(!exists("container", CONTAINER), "a runner without messages");
    assert!(!exists("image", IMAGE), "built without messages");
    assert!(!dir.join(".stack/bot-runner/config.json").exists());

    let out = stack(&repo, &dir)
        .args(["up", "messages"])
        .output()
        .unwrap();
    assert!(out.status.success(), "up messages: {}", stderr(&out));

    // With it: `up core` builds the image from the shipped Dockerfile and starts the runner.
    let out = stack(&repo, &dir).args(["up", "core"]).output().unwrap();
    let log = stderr(&out);
    assert!(out.status.success(), "up core: {log}");
    assert!(
        log.contains(&format!("Building {IMAGE}")),
        "no build in: {log}"
    );
    assert_eq!(
        docker_lines(&[
            "inspect",
            "--format",
            "{{.State.Running}} {{.HostConfig.RestartPolicy.Name}}",
            CONTAINER
        ]),
        ["true unless-stopped"]
    );

    // Its configuration: a private file the runtime wrote, with the container's addresses.
    let config_file = dir.join(".stack/bot-runner/config.json");
    let mode = std::fs::metadata(&config_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "config.json is readable by others");
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(&config_file).unwrap()).unwrap();
    assert_eq!(
        config["homeserver"],
        format!("http://host.docker.internal:{forwarded}")
    );
    assert_eq!(
        config["api"]["url"],
        format!("http://host.docker.internal:{API_PORT}")
    );
    let bot = |id: &str| {
        config["bots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["id"] == id)
            .unwrap_or_else(|| panic!("no {id} in {config:#}"))
            .clone()
    };
    let scribe = bot("scribe-bot");
    assert_eq!(
        scribe["settings"]["whisper_url"], "http://host.docker.internal:42062/v1",
        "scribe-bot in the container takes {{ai_whisper_url_docker}}"
    );
    assert!(scribe["settings"].get("whisper_url_docker").is_none());
    assert!(
        bot("stacker-bot")["password"]
            .as_str()
            .is_some_and(|p| !p.is_empty())
    );
    // … and none of it in the image.
    let history = docker_lines(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", IMAGE]);
    let password = bot("stacker-bot")["password"].as_str().unwrap().to_string();
    assert!(!history.iter().any(|l| l.contains(&password)));

    // The signed API on its default addresses (loopback and the bridge's gateway).
    let serve_log = std::fs::File::create(repo.join("serve.log")).unwrap();
    let _api = Killed(
        std::process::Command::new(env!("CARGO_BIN_EXE_stack"))
            .arg("serve")
            .current_dir(repo.path())
            .env("STACK_DIR", &dir)
            .env_remove("STACK_ROOT")
            .env("NO_COLOR", "1")
            .env("STACK_LAN_IP", "192.0.2.10")
            .stdin(Stdio::null())
            .stdout(serve_log.try_clone().unwrap())
            .stderr(serve_log)
            .spawn()
            .unwrap(),
    );

    // The runner logs to stderr, which `docker logs` passes on as its own stderr.
    let runner_log = || {
        let out = std::process::Command::new("docker")
            .args(["logs", CONTAINER])
            .output()
            .expect("run docker logs");
        format!("{}{}", stdout(&out), stderr(&out))
    };
    let ann = login(
        synapse,
        "stk-ctr-ann",
        &secret(&dir, "messages__USER_STK_CTR_ANN_PASSWORD"),
    );
    let stacker = synapse.mxid("stacker-bot");
    let room = join_server_room(&ann);

    // An admin asks; the bot in the container asks the API and answers through Synapse.
    ann.say(&room, "status");
    let deadline = Instant::now() + Duration::from_secs(120);
    let reply = loop {
        if let Some(t) = ann
            .bot_texts(&room, &stacker)
            .into_iter()
            .find(|t| t.contains("(core)"))
        {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "no status reply; the runner's log:\n{}\nthe API's log:\n{}",
            runner_log(),
            repo.read("serve.log")
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(reply.contains("Core (core): running"), "{reply}");
    assert!(reply.contains("Messages (messages): running"), "{reply}");
    assert!(
        repo.read("serve.log").contains("/v1/stacklets"),
        "the bot did not go through the API"
    );

    // A second runner on the host would answer everything twice: `stack bots run` refuses.
    let python = synapse.python();
    let out = stack(&repo, &dir)
        .args(["bots", "run", "--python", python.to_str().unwrap()])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!(
            "Core's bot runner (`{CONTAINER}`) runs these bots already"
        )),
        "{}",
        stderr(&out)
    );

    // A restarted container answers nothing twice and still answers what is new.
    let said = ann.bot_texts(&room, &stacker).len();
    docker_lines(&["restart", CONTAINER]);
    ann.say(&room, "help");
    ann.await_bot(&room, &stacker, said, |t| {
        t.starts_with("I run the family server")
    });
    std::thread::sleep(Duration::from_secs(2));
    let texts = ann.bot_texts(&room, &stacker);
    assert_eq!(
        texts.len(),
        said + 1,
        "replayed after a restart: {:#?}\n{}",
        &texts[said..],
        runner_log()
    );

    // The runtime rewrites the configuration when something the bots use changes (here: `up
    // messages` with another admin in users.toml); the runner starts over with it, inside the
    // same container.
    let started = docker_lines(&["inspect", "--format", "{{.State.StartedAt}}", CONTAINER]);
    let mut users = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("users.toml"))
        .unwrap();
    writeln!(
        users,
        "\n[[users]]\nid = \"stk-ctr-bob\"\nname = \"Bob\"\nrole = \"admin\""
    )
    .unwrap();
    let out = stack(&repo, &dir)
        .args(["up", "messages"])
        .output()
        .unwrap();
    assert!(out.status.success(), "up messages: {}", stderr(&out));
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(&config_file).unwrap()).unwrap();
    assert!(
        config["admins"]
            .as_array()
            .unwrap()
            .contains(&Value::from(synapse.mxid("stk-ctr-bob"))),
        "{config:#}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !runner_log().contains("changed; restarting with the new configuration") {
        assert!(
            Instant::now() < deadline,
            "the runner missed the new configuration:\n{}",
            runner_log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        docker_lines(&["inspect", "--format", "{{.State.StartedAt}}", CONTAINER]),
        started,
        "the container itself was restarted"
    );

    // Without `messages` again: the configuration goes (the runner waits, running no bot), and
    // the next `up core` removes the runner.
    let out = stack(&repo, &dir)
        .args(["destroy", "messages", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "destroy messages: {}", stderr(&out));
    assert!(!config_file.exists(), "the configuration outlived messages");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !runner_log().contains("waiting for it") {
        assert!(
            Instant::now() < deadline,
            "the runner did not notice:\n{}",
            runner_log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = stack(&repo, &dir).args(["up", "core"]).output().unwrap();
    assert!(out.status.success(), "up core: {}", stderr(&out));
    assert!(!exists("container", CONTAINER), "a runner without messages");

    // The conversation, for whoever reads the test's output (`--nocapture`).
    let transcript: Vec<String> = ann
        .events(&room)
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .map(|e| {
            format!(
                "{}: {}",
                e["sender"].as_str().unwrap_or("?"),
                e["content"]["body"].as_str().unwrap_or("")
            )
        })
        .collect();
    eprintln!("#server:\n{}", transcript.join("\n"));
}
