//! The shipped `messages` hooks against a real Synapse (`synapse::shared()`): `stack up` and
//! `stack setup` of a repo holding `stacklets/messages/stacklet.toml` and its hooks unchanged,
//! except for three lines that point the hooks at the test server and give each test an admin
//! name of its own (the server is shared). There is no compose file: the containers are the one
//! thing this test cannot run here (no registry), so Synapse runs from PyPI at the pinned version.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::{Repo, stderr};
use crate::synapse::{self, Synapse};

/// A repo with the shipped messages stacklet pointed at `synapse`, admin `admin` (a name of the
/// test's own: the server is shared), and `users` (users.toml). `stack up messages` in it runs
/// the real hooks against the real server; other Matrix tests can start from it.
pub fn messages_repo(synapse: &Synapse, admin: &str, users: &str) -> Repo {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut manifest =
        std::fs::read_to_string(root.join("stacklets/messages/stacklet.toml")).unwrap();
    for (from, to) in [
        (
            "SYNAPSE_API_URL     = \"http://localhost:42031\"",
            format!("SYNAPSE_API_URL     = \"{}\"", synapse.url),
        ),
        (
            "url     = \"http://localhost:42031/health\"",
            format!("url     = \"{}/health\"", synapse.url),
        ),
        (
            "ADMIN_USER          = \"{admin_username}\"",
            format!("ADMIN_USER          = \"{admin}\""),
        ),
    ] {
        assert!(
            manifest.contains(from),
            "the messages manifest no longer has `{from}`"
        );
        manifest = manifest.replace(from, &to);
    }
    // Without its compose file the stacklet is declared a host stacklet (a Docker one without one
    // is a manifest error): its service is the Synapse above, running outside Docker.
    manifest.insert_str(0, "type = \"host\"\n");
    // The server's registration secret, as if `stack` had generated it for this Synapse.
    let mut repo = Repo::new()
        .file(
            ".stack/secrets.toml",
            &format!(
                "messages__REGISTRATION_SHARED_SECRET = \"{}\"\n",
                synapse.shared_secret
            ),
        )
        .file("stacklets/messages/stacklet.toml", &manifest)
        .file("users.toml", users)
        .file(
            "stack.toml",
            &format!(
                "[core]\ndata_dir = \"data\"\n\n[messages]\nserver_name = \"{}\"\n",
                synapse.server_name
            ),
        );
    for (from, to) in [
        ("stacklets/messages/hooks", "stacklets/messages/hooks"),
        ("stacklets/messages/cli", "stacklets/messages/cli"),
        ("lib", "lib"),
    ] {
        for entry in std::fs::read_dir(root.join(from)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "py") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                repo = repo.file(
                    &format!("{to}/{name}"),
                    &std::fs::read_to_string(&path).unwrap(),
                );
            }
        }
    }
    std::fs::set_permissions(
        repo.join(".stack/secrets.toml"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    repo
}

fn secrets(repo: &Repo) -> toml::Table {
    toml::from_str(&repo.read(".stack/secrets.toml")).expect("secrets.toml parses")
}

fn mode(repo: &Repo, rel: &str) -> u32 {
    std::fs::metadata(repo.join(rel))
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

fn ok(repo: &Repo, args: &[&str]) -> String {
    let out = repo.stack().args(args).output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "stack {args:?} failed:\n{err}");
    err
}

#[test]
fn messages_hooks_make_the_accounts_on_a_real_synapse_and_reruns_change_nothing() {
    let synapse = synapse::shared();
    // A mixed-case admin name: Synapse lowercases it on registration, the hooks must too.
    let repo = messages_repo(
        synapse,
        "StkAdminA",
        r#"
[[users]]
id = "stk-arthur"
name = "Arthur"
role = "admin"

[[users]]
id = "stk-sarah"
name = "Sarah"
role = "member"
stacklets = ["messages"]

[[users]]
id = "stk-tom"
name = "Tom"
role = "member"
"#,
    );
    let first = ok(&repo, &["up", "messages"]);
    assert!(
        first.contains("Creating the Matrix admin stkadmina"),
        "{first}"
    );
    assert!(
        first.contains("Creating the Matrix account @stk-sarah:stk.test"),
        "{first}"
    );

    // The stored admin token is the admin's; the family logs in with the printed passwords.
    let token = repo.secret("messages__ADMIN_ACCESS_TOKEN");
    let (status, me) = synapse
        .request(
            "GET",
            "/_matrix/client/v3/account/whoami",
            None,
            Some(&token),
        )
        .unwrap();
    assert_eq!(
        (status, me["user_id"].as_str()),
        (200, Some("@stkadmina:stk.test"))
    );
    for (user, admin) in [("stk-arthur", true), ("stk-sarah", false)] {
        let password = repo.secret(&format!(
            "messages__USER_{}_PASSWORD",
            user.replace('-', "_").to_uppercase()
        ));
        synapse
            .login(user, &password)
            .unwrap_or_else(|e| panic!("{user} cannot log in with its first password: {e:?}"));
        let (status, info) = synapse.admin_user(&token, &synapse.mxid(user));
        assert_eq!(
            (status, info["admin"].as_bool()),
            (200, Some(admin)),
            "{info}"
        );
    }
    assert_eq!(
        synapse.admin_user(&token, &synapse.mxid("stk-tom")).0,
        404,
        "tom is not in messages"
    );

    // homeserver.yaml and the signing key hold secrets: nobody but the owner reads them (the
    // container hands them to uid 991); Postgres 18's uid 70 must get through the database folder.
    assert_eq!(mode(&repo, "data/messages/synapse/homeserver.yaml"), 0o600);
    assert_eq!(mode(&repo, "data/messages/synapse/signing.key"), 0o600);
    assert_eq!(mode(&repo, "data/messages/postgres"), 0o711);
    synapse_container_can_read_what_others_cannot(&repo.join("data/messages/synapse"));

    // `stack setup` again: everyone exists, nothing is registered twice.
    let again = ok(&repo, &["setup", "messages"]);
    assert!(!again.contains("Creating"), "{again}");
    assert!(
        again.contains("@stk-arthur:stk.test already exists"),
        "{again}"
    );

    // Without the stored token the admin logs in (by its mixed-case name) instead of registering.
    let mut table = secrets(&repo);
    table.remove("messages__ADMIN_ACCESS_TOKEN");
    std::fs::write(
        repo.join(".stack/secrets.toml"),
        toml::to_string(&table).unwrap(),
    )
    .unwrap();
    let relogin = ok(&repo, &["setup", "messages"]);
    assert!(!relogin.contains("Creating"), "{relogin}");
    assert_ne!(
        repo.secret("messages__ADMIN_ACCESS_TOKEN"),
        token,
        "a fresh login token is stored"
    );

    // The accounts work for chat: with matrix-nio, the admin (stored token) creates a room and
    // invites Sarah, who signs in with her first password, joins and writes.
    let sarah = repo.secret("messages__USER_STK_SARAH_PASSWORD");
    let script = r#"
import asyncio, sys
from nio import AsyncClient, RoomCreateResponse, JoinResponse, RoomSendResponse, LoginResponse

async def main(url, admin_token, admin_id, sarah_id, sarah_password):
    admin = AsyncClient(url, admin_id)
    admin.access_token, admin.user_id = admin_token, admin_id
    room = await admin.room_create(name="Family", invite=[sarah_id])
    assert isinstance(room, RoomCreateResponse), room
    sarah = AsyncClient(url, sarah_id)
    login = await sarah.login(sarah_password)
    assert isinstance(login, LoginResponse), login
    joined = await sarah.join(room.room_id)
    assert isinstance(joined, JoinResponse), joined
    sent = await sarah.room_send(room.room_id, "m.room.message", {"msgtype": "m.text", "body": "hello"})
    assert isinstance(sent, RoomSendResponse), sent
    await admin.close(); await sarah.close()
    print(room.room_id)

asyncio.run(main(*sys.argv[1:]))
"#;
    let token = repo.secret("messages__ADMIN_ACCESS_TOKEN");
    let out = synapse.run_python(&[
        "-c",
        script,
        &synapse.url,
        &token,
        &synapse.mxid("stkadmina"),
        &synapse.mxid("stk-sarah"),
        &sarah,
    ]);
    assert!(
        out.status.success(),
        "matrix-nio: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with('!'));
}

/// The shipped Synapse entrypoint's first step (hand the private files to uid 991) replayed on
/// the real engine with busybox standing in for the image (its `/start.py` only exits): uid 991
/// can then read homeserver.yaml and write media, another uid cannot read the config.
fn synapse_container_can_read_what_others_cannot(data: &Path) {
    crate::support::ensure_test_images();
    let compose: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("stacklets/messages/docker-compose.yml"),
        )
        .unwrap(),
    )
    .unwrap();
    let entrypoint: Vec<String> = compose["services"]["stack-messages-synapse"]["entrypoint"]
        .as_array()
        .expect("the synapse service has an entrypoint list")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let start = data.parent().unwrap().join("start.py");
    std::fs::write(&start, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&start, std::fs::Permissions::from_mode(0o755)).unwrap();
    let volume = format!("{}:/data", data.display());
    let docker = |args: &[&str]| {
        std::process::Command::new("docker")
            .args(args)
            .output()
            .expect("docker")
    };
    let mut run = vec!["run", "--rm", "-v", &volume];
    let start_mount = format!("{}:/start.py:ro", start.display());
    run.extend([
        "-v",
        &start_mount,
        "--user",
        "0:0",
        "--entrypoint",
        &entrypoint[0],
        "stack-test/busybox:1",
    ]);
    run.extend(entrypoint[1..].iter().map(String::as_str));
    let out = docker(&run);
    assert!(
        out.status.success(),
        "entrypoint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "entrypoint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let as_user = |user: &str, script: &str| {
        docker(&[
            "run",
            "--rm",
            "-v",
            &volume,
            "--user",
            user,
            "stack-test/busybox:1",
            "sh",
            "-c",
            script,
        ])
        .status
        .success()
    };
    assert!(as_user(
        "991:991",
        "cat /data/homeserver.yaml /data/signing.key >/dev/null && touch /data/media_store/probe"
    ));
    assert!(
        !as_user("1234:1234", "cat /data/homeserver.yaml"),
        "homeserver.yaml is readable by others"
    );
    assert!(
        !as_user("1234:1234", "cat /data/signing.key"),
        "signing.key is readable by others"
    );
}

#[test]
fn an_admin_made_by_hand_with_another_password_is_a_warning_not_a_failure() {
    let synapse = synapse::shared();
    synapse.register_by_hand("stkadminb", "chosen-by-hand", true);
    let repo = messages_repo(
        synapse,
        "StkAdminB",
        "[[users]]\nid = \"stk-bea\"\nname = \"Bea\"\nrole = \"admin\"\n",
    );
    // Login fails (other password), registration answers M_USER_IN_USE: the account exists.
    let out = ok(&repo, &["up", "messages"]);
    assert!(
        out.contains("stkadminb exists but does not accept the stack admin password"),
        "{out}"
    );
    let admin = synapse
        .login("stkadminb", "chosen-by-hand")
        .expect("the hand-made admin is untouched");
    assert_eq!(synapse.admin_user(&admin, &synapse.mxid("stk-bea")).0, 404);
}

#[test]
fn a_family_account_made_by_hand_is_left_alone() {
    let synapse = synapse::shared();
    synapse.register_by_hand("stk-carl", "carls-own", false);
    let repo = messages_repo(
        synapse,
        "StkAdminC",
        "[[users]]\nid = \"stk-carl\"\nname = \"Carl\"\nrole = \"admin\"\n",
    );
    let out = ok(&repo, &["up", "messages"]);
    assert!(out.contains("@stk-carl:stk.test already exists"), "{out}");
    assert!(
        !secrets(&repo).contains_key("messages__USER_STK_CARL_PASSWORD"),
        "no password was made up"
    );
    synapse
        .login("stk-carl", "carls-own")
        .expect("Carl's own password still works");
}

/// Kills the child process when dropped, so a failing assertion leaves no server behind.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET <path>` with `Host: <host>` on 127.0.0.1:`port`: the whole answer, headers included.
fn get(port: u16, host: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

#[test]
fn the_messages_caddy_snippet_serves_matrix_discovery() {
    const PORT: u16 = 44970;
    let snippet = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("stacklets/messages/caddy.snippet"),
    )
    .unwrap();
    // As the runtime assembles it with `[core].https = false` (docs/domain-mode.md): every site
    // address gets `http://`; the port is moved off 80 for the test.
    let sites = snippet
        .replace(
            "messages.{$FAMSTACK_DOMAIN},",
            "http://messages.{$FAMSTACK_DOMAIN},",
        )
        .replace(", messages-element.", ", http://messages-element.")
        .replace("\nmessages-synapse.", "\nhttp://messages-synapse.");
    let repo = Repo::new().file(
        "Caddyfile",
        &format!("{{\n\tadmin off\n\thttp_port {PORT}\n}}\n\n{sites}"),
    );
    let _caddy = Running(
        std::process::Command::new("caddy")
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(repo.join("Caddyfile"))
            .env("FAMSTACK_DOMAIN", "stk.test")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("caddy must be installed (scripts/test.sh installs it)"),
    );
    let started = std::time::Instant::now();
    while get(PORT, "messages.stk.test", "/").is_none() {
        assert!(
            started.elapsed().as_secs() < 20,
            "caddy did not start on {PORT}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for host in [
        "messages.stk.test",
        "messages-element.stk.test",
        "messages-synapse.stk.test",
    ] {
        let client = get(PORT, host, "/.well-known/matrix/client").unwrap();
        let (head, body) = client.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.0 200") && head.contains("Content-Type: application/json"),
            "{client}"
        );
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(
            json["m.homeserver"]["base_url"], "http://messages-synapse.stk.test",
            "{host}"
        );
        let server = get(PORT, host, "/.well-known/matrix/server").unwrap();
        let json: serde_json::Value =
            serde_json::from_str(server.split_once("\r\n\r\n").unwrap().1).expect("JSON");
        assert_eq!(json["m.server"], "messages-synapse.stk.test:443");
    }
}
