//! Issue 13 §6: `stack plan` says what `up` would do, and why, and changes nothing. Ids `pl-*`.

use crate::support::{Repo, stderr, stdout};

fn run(repo: &Repo, args: &[&str]) -> std::process::Output {
    repo.stack().args(args).output().unwrap()
}

fn compose(side: bool) -> String {
    let service = |name: &str| {
        format!(
            r#"  {name}:
    container_name: stack-pl-plan-{name}
    image: stack-test/busybox:1
    init: true
    command: ["sleep", "3600"]
    environment:
      GREETING: ${{GREETING}}
      TOKEN: ${{TOKEN}}
"#
        )
    };
    let mut out = format!("name: stack-pl-plan\nservices:\n{}", service("web"));
    if side {
        out.push_str(&service("side"));
    }
    out
}

fn manifest(greeting: &str) -> String {
    format!("[env]\ngenerate = [\"TOKEN\"]\n[env.defaults]\nGREETING = \"{greeting}\"\n")
}

fn container_id(name: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["inspect", "-f", "{{.Id}}", name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_string()
}

fn plan(repo: &Repo) -> String {
    let out = run(repo, &["plan", "pl-plan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn plan_names_changes_masks_secrets_finds_orphans_and_changes_nothing() {
    let repo = Repo::new()
        .stacklet("pl-plan", &manifest("hello"))
        .file("stacklets/pl-plan/docker-compose.yml", &compose(true));
    let _cleanup = repo.cleanup(&["pl-plan"]);
    let out = run(&repo, &["up", "pl-plan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ids = [
        container_id("stack-pl-plan-web"),
        container_id("stack-pl-plan-side"),
    ];

    let unchanged = plan(&repo);
    assert!(unchanged.contains("pl-plan: up to date"), "{unchanged}");
    assert!(unchanged.contains("keep     web"), "{unchanged}");
    assert!(unchanged.contains("keep     side"), "{unchanged}");
    let out = run(&repo, &["status"]);
    assert!(!stdout(&out).contains("drifted"), "{}", stdout(&out));

    // An env value edited in the manifest, a secret changed, a service dropped.
    let secrets = repo.read(".stack/secrets.toml");
    let token = secrets
        .lines()
        .find_map(|l| l.strip_prefix("pl-plan__TOKEN = \""))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no TOKEN secret in {secrets}"))
        .to_string();
    let new_token = "0123456789abcdefNEWSECRET";
    std::fs::write(
        repo.join(".stack/secrets.toml"),
        secrets.replace(&token, new_token),
    )
    .unwrap();
    let edited = repo
        .read("stacklets/pl-plan/stacklet.toml")
        .replace("GREETING = \"hello\"", "GREETING = \"bye\"");
    let repo = repo
        .file("stacklets/pl-plan/stacklet.toml", &edited)
        .file("stacklets/pl-plan/docker-compose.yml", &compose(false));

    let changed = plan(&repo);
    assert!(changed.contains("pl-plan: 2 change(s)"), "{changed}");
    assert!(
        changed.contains(
            "recreate web [stack-pl-plan-web] (env key GREETING changed, env key TOKEN changed)"
        ),
        "{changed}"
    );
    assert!(
        changed.contains("remove   side [stack-pl-plan-side] (orphan"),
        "{changed}"
    );
    for value in [token.as_str(), new_token, "hello", "bye"] {
        assert!(!changed.contains(value), "plan shows a value: {changed}");
    }

    // Nothing changed: the same containers, and `up` still has the work to do.
    assert_eq!(container_id("stack-pl-plan-web"), ids[0]);
    assert_eq!(container_id("stack-pl-plan-side"), ids[1]);
    assert_eq!(plan(&repo), changed);

    // `status` marks the stacklet drifted and points at `plan`; after `up` it is running again.
    let out = run(&repo, &["status"]);
    let shown = format!("{}{}", stdout(&out), stderr(&out));
    assert!(shown.contains("drifted"), "{shown}");
    assert!(shown.contains("see `stack plan pl-plan`"), "{shown}");

    let out = run(&repo, &["up", "pl-plan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&repo, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &v["stacklets"].as_array().unwrap()[0];
    assert_eq!(row["state"], "running", "{row}");
    assert_eq!(row["drifted"], false, "{row}");
    assert_ne!(container_id("stack-pl-plan-web"), ids[0]);
    assert!(plan(&repo).contains("pl-plan: up to date"));
}
