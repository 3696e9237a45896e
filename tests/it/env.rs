//! Issue 2: rendered environments, templates, secrets and STACK_DIR isolation through `stack env`.

use predicates::prelude::*;
use predicates::str::contains;

use crate::support::{Repo, stdout};

fn photos() -> Repo {
    Repo::new().host_stacklet(
        "photos",
        r#"port = 42010
[env]
generate = ["DB_PASSWORD"]
[env.defaults]
UPLOAD = "{data_dir}/photos/library"
TZ = "{timezone}"
WORKERS = 4
DEBUG = false
ADMIN = "{admin_email}"
ADMIN_PASSWORD = "{admin_password}"
LITERAL = "{{not a var}}"
URL = "{photos_url}"
OPENAI_API_KEY = "{ai_openai_key}"
"#,
    )
}

fn env_json(repo: &Repo, extra: &[&str]) -> serde_json::Value {
    let out = repo
        .stack()
        .args(["env", "photos", "--json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("pure JSON on stdout")
}

#[test]
fn renders_defaults_secrets_and_runtime_vars() {
    let repo = photos();
    let v = env_json(&repo, &["--reveal"]);
    let data = repo.path().canonicalize().unwrap().join("data");
    assert_eq!(v["UPLOAD"], format!("{}/photos/library", data.display()));
    assert_eq!(v["TZ"], "UTC");
    assert_eq!(v["WORKERS"], "4");
    assert_eq!(v["DEBUG"], "false");
    assert_eq!(v["ADMIN"], "stackadmin@home.local");
    assert_eq!(v["LITERAL"], "{not a var}");
    assert_eq!(v["URL"], "http://192.0.2.10:42010");
    assert_eq!(v["PORT_BIND_IP"], "0.0.0.0");
    assert_eq!(v["WATCHTOWER_ENABLE"], "true");
    let pw = v["DB_PASSWORD"].as_str().unwrap();
    assert_eq!(pw.len(), 32);
    assert!(pw.chars().all(|c| c.is_ascii_alphanumeric()));
    let admin = v["ADMIN_PASSWORD"].as_str().unwrap();
    assert_eq!(admin.len(), 8);
    assert!(
        admin
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    );
    // Stored, namespaced, mode 0600, and stable on the next run.
    let secrets = repo.read(".stack/secrets.toml");
    assert!(
        secrets.contains(&format!("photos__DB_PASSWORD = \"{pw}\"")),
        "{secrets}"
    );
    assert!(secrets.contains(&format!("global__ADMIN_PASSWORD = \"{admin}\"")));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(repo.join(".stack/secrets.toml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = env_json(&repo, &["--reveal"]);
    assert_eq!(again["DB_PASSWORD"], v["DB_PASSWORD"]);
    assert_eq!(again["ADMIN_PASSWORD"], v["ADMIN_PASSWORD"]);
}

#[test]
fn secrets_are_masked_unless_revealed() {
    let repo = photos().file(
        "stack.toml",
        "[core]\ndata_dir = \"data\"\n[ai]\nopenai_key = \"sk-test-secret\"\n",
    );
    let v = env_json(&repo, &[]);
    assert_eq!(v["DB_PASSWORD"], "********");
    assert_eq!(v["ADMIN_PASSWORD"], "********");
    assert_eq!(v["OPENAI_API_KEY"], "********");
    assert_eq!(v["TZ"], "UTC");
    let out = repo.stack().args(["env", "photos"]).output().unwrap();
    let text = stdout(&out);
    assert!(text.contains("DB_PASSWORD="), "{text}");
    let secrets = repo.read(".stack/secrets.toml");
    let real = secrets
        .lines()
        .find(|l| l.starts_with("photos__DB_PASSWORD"))
        .unwrap();
    let value = real.split('"').nth(1).unwrap();
    assert!(
        !text.contains(value),
        "secret leaked in masked output: {text}"
    );
    assert!(!text.contains("sk-test-secret"), "API key leaked: {text}");
}

#[test]
fn domain_mode_binds_loopback_and_channel_none_disables_watchtower() {
    let repo = Repo::new()
        .host_stacklet("photos", "[upstream]\nimage = \"x\"\nchannel = \"none\"\n")
        .file(
            "stack.toml",
            "[core]\ndata_dir = \"data\"\ndomain = \"home.internal\"\n",
        );
    let v = env_json(&repo, &[]);
    assert_eq!(v["PORT_BIND_IP"], "127.0.0.1");
    assert_eq!(v["WATCHTOWER_ENABLE"], "false");
}

#[test]
fn unknown_variable_names_stacklet_key_and_closest() {
    let repo = Repo::new().host_stacklet("photos", "[env.defaults]\nUPLOAD = \"{dta_dir}/x\"\n");
    repo.stack()
        .args(["env", "photos"])
        .assert()
        .code(1)
        .stderr(contains(
            "error: Unknown template variable `dta_dir` in `stacklets/photos/stacklet.toml` [env.defaults].UPLOAD",
        ).and(contains("hint: did you mean `data_dir`?")));
}

#[test]
fn lone_brace_is_an_error() {
    let repo = Repo::new().host_stacklet("photos", "[env.defaults]\nBAD = \"a { b\"\n");
    repo.stack()
        .args(["env", "photos"])
        .assert()
        .code(1)
        .stderr(
            contains("Invalid template in `stacklets/photos/stacklet.toml` [env.defaults].BAD")
                .and(contains("Lone `{`")),
        );
}

#[test]
fn corrupt_secrets_file_stops_and_is_left_untouched() {
    let repo = photos().file(
        ".stack/secrets.toml",
        "photos__DB_PASSWORD = \"unterminated\n",
    );
    let before = std::fs::read(repo.join(".stack/secrets.toml")).unwrap();
    repo.stack()
        .args(["env", "photos"])
        .assert()
        .code(1)
        .stderr(contains(".stack/secrets.toml").and(contains("line 1")));
    assert_eq!(
        std::fs::read(repo.join(".stack/secrets.toml")).unwrap(),
        before
    );
}

#[test]
fn existing_secrets_are_never_overwritten() {
    let repo = photos().file(
        ".stack/secrets.toml",
        "# keep this comment\nphotos__DB_PASSWORD = \"it's \\\"mine\\\" $HOME \\\\ \\n\"\n",
    );
    let v = env_json(&repo, &["--reveal"]);
    assert_eq!(v["DB_PASSWORD"], "it's \"mine\" $HOME \\ \n");
    assert!(
        repo.read(".stack/secrets.toml")
            .starts_with("# keep this comment\n")
    );
}

#[test]
fn unknown_stacklet_is_exit_1_with_hint() {
    let repo = photos();
    repo.stack().args(["env", "photo"]).assert().code(1).stderr(
        contains("error: Unknown stacklet `photo`").and(contains("hint: did you mean `photos`?")),
    );
}

#[test]
fn stack_dir_instance_is_isolated() {
    let repo = photos();
    let other = tempfile::tempdir().unwrap();
    std::fs::write(
        other.path().join("stack.toml"),
        "[core]\ndata_dir = \"d2\"\ntimezone = \"Europe/Berlin\"\n",
    )
    .unwrap();
    let out = repo
        .stack()
        .env("STACK_DIR", other.path())
        .args(["env", "photos", "--json", "--reveal"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["TZ"], "Europe/Berlin");
    let d2 = other.path().canonicalize().unwrap().join("d2");
    assert_eq!(v["UPLOAD"], format!("{}/photos/library", d2.display()));
    assert!(other.path().join(".stack/secrets.toml").is_file());
    // Nothing was written into the default instance.
    assert!(!repo.join(".stack").exists(), "default instance got state");
    assert!(!repo.join("stacklets/photos/.env").exists());
}

#[test]
fn config_admin_prints_a_stable_login() {
    let repo = photos();
    let out = repo
        .stack()
        .args(["config", "admin", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["username"], "stackadmin");
    assert_eq!(v["email"], "stackadmin@home.local");
    let pw = v["password"].as_str().unwrap().to_string();
    assert_eq!(pw.len(), 8);
    let env = env_json(&repo, &["--reveal"]);
    assert_eq!(env["ADMIN_PASSWORD"], pw.as_str());
    repo.stack()
        .args(["config", "admin"])
        .assert()
        .success()
        .stdout(contains(format!("Password: {pw}")));
}

#[test]
fn config_prints_stack_toml() {
    let repo = photos();
    repo.stack()
        .arg("config")
        .assert()
        .success()
        .stdout(contains("data_dir = \"data\""));
}

/// The dotenv that `stack env --reveal` prints (the `.env` format) reads back byte for byte
/// through Docker Compose v2's own `.env` reader.
#[test]
fn dotenv_output_round_trips_through_docker_compose() {
    let compose = "/usr/local/bin/docker-compose-v2";
    assert!(
        std::path::Path::new(compose).exists(),
        "Docker Compose v2 missing: run scripts/install-compose.sh"
    );
    let nasty = [
        ("DOLLAR", "pa$$word $HOME ${HOME}"),
        ("QUOTES", "it's \"quoted\""),
        ("HASH", "a # not a comment"),
        ("SPACES", "  padded  "),
        ("BACKSLASH", "C:\\path\\"),
        ("NEWLINE", "line1\nline2"),
        ("UNICODE", "Grüße ☃"),
    ];
    let mut defaults = String::from("[env.defaults]\n");
    for (k, v) in nasty {
        // Literal braces are written `{{`/`}}` in templates.
        let template = v.replace('{', "{{").replace('}', "}}");
        defaults.push_str(&format!("{k} = {}\n", toml_string(&template)));
    }
    let repo = Repo::new().host_stacklet("photos", &defaults);
    let out = repo
        .stack()
        .args(["env", "photos", "--reveal"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), &out.stdout).unwrap();
    let mut yml = String::from("services:\n  app:\n    image: busybox\n    environment:\n");
    for (k, _) in nasty {
        yml.push_str(&format!("      {k}: ${{{k}}}\n"));
    }
    std::fs::write(dir.path().join("docker-compose.yml"), yml).unwrap();
    let config = std::process::Command::new(compose)
        .current_dir(dir.path())
        .args(["config", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        config.status.success(),
        "{}",
        String::from_utf8_lossy(&config.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&config.stdout).unwrap();
    for (k, expected) in nasty {
        // `config` prints every literal `$` as `$$`.
        let got = v["services"]["app"]["environment"][k]
            .as_str()
            .unwrap()
            .replace("$$", "$");
        assert_eq!(got, expected, "{k}");
    }
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
