//! Issue 2: repo discovery, instances, manifests, config, and the read-only commands.

use predicates::prelude::*;
use predicates::str::contains;

use crate::support::{Repo, stdout};

#[test]
fn list_shows_every_stacklet_sorted() {
    let repo = Repo::new()
        .host_stacklet(
            "photos",
            "port = 42010\ncategory = \"media\"\n"
                .replace("category = \"media\"\n", "")
                .as_str(),
        )
        .host_stacklet("docs", "port = 42020\nrequires = [\"photos\"]\n");
    let out = repo.stack().arg("list").output().unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("ID"));
    assert!(lines[1].starts_with("docs "), "{text}");
    assert!(lines[2].contains("http://192.0.2.10:42010"), "{text}");
}

#[test]
fn list_json_is_pure_json() {
    let repo = Repo::new().host_stacklet("photos", "port = 42010\n[ports]\nml = 42011\n");
    let out = repo.stack().args(["list", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(v[0]["id"], "photos");
    assert_eq!(v[0]["port"], 42010);
    assert_eq!(v[0]["ports"]["ml"], 42011);
    assert_eq!(v[0]["state"], "available");
    assert_eq!(v[0]["url"], "http://192.0.2.10:42010");
}

#[test]
fn domain_mode_urls() {
    let repo = Repo::new().host_stacklet("photos", "port = 42010\n").file(
        "stack.toml",
        "[core]\ndata_dir = \"data\"\ndomain = \"home.internal\"\n",
    );
    let out = repo.stack().args(["list", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["url"], "http://photos.home.internal");
}

#[test]
fn malformed_manifest_names_file_and_line() {
    let repo = Repo::new().file(
        "stacklets/photos/stacklet.toml",
        "id = \"photos\"\nname = \"Photos\"\ndescription = [\n",
    );
    repo.stack().args(["up", "photos"]).assert().code(1).stderr(
        contains("error: Invalid `stacklets/photos/stacklet.toml`").and(contains("line 3")),
    );
}

#[test]
fn wrong_type_names_key_and_line() {
    let repo = Repo::new().host_stacklet("photos", "port = \"high\"\n");
    repo.stack().args(["up", "photos"]).assert().code(1).stderr(
        contains("stacklets/photos/stacklet.toml")
            .and(contains("line 7"))
            .and(contains("port")),
    );
}

#[test]
fn bad_id_is_rejected() {
    let repo = Repo::new().file(
        "stacklets/Photos/stacklet.toml",
        &crate::support::manifest("Photos", ""),
    );
    repo.stack()
        .args(["up", "Photos"])
        .assert()
        .code(1)
        .stderr(contains("key `id`: `Photos` is not a valid id (line 1)"));
}

#[test]
fn id_must_equal_directory() {
    let repo = Repo::new().file(
        "stacklets/pics/stacklet.toml",
        &crate::support::manifest("photos", ""),
    );
    repo.stack()
        .args(["up", "pics"])
        .assert()
        .code(1)
        .stderr(contains("id `photos` does not match its directory `pics`").and(contains("hint:")));
}

#[test]
fn duplicate_port_names_both_owners() {
    let repo = Repo::new()
        .host_stacklet("photos", "port = 42010\n")
        .host_stacklet("docs", "[ports]\nweb = 42010\n");
    // Both claimants are broken (which came first is not knowable); each names both owners.
    for id in ["docs", "photos"] {
        repo.stack()
            .args(["up", id])
            .assert()
            .code(1)
            .stderr(contains(
                "Port 42010 is claimed twice: by `docs` (ports.web) and by `photos` (port)",
            ));
    }
}

#[test]
fn unknown_requires_hints_closest() {
    let repo = Repo::new()
        .host_stacklet("core", "")
        .host_stacklet("photos", "requires = [\"cor\"]\n");
    repo.stack().args(["up", "photos"]).assert().code(1).stderr(
        contains("key `requires`: unknown stacklet `cor` (line 7)")
            .and(contains("hint: did you mean `core`?")),
    );
}

#[test]
fn requires_cycle_names_members() {
    let repo = Repo::new()
        .host_stacklet("a", "requires = [\"b\"]\n")
        .host_stacklet("b", "requires = [\"c\"]\n")
        .host_stacklet("c", "requires = [\"a\"]\n");
    repo.stack()
        .args(["up", "b"])
        .assert()
        .code(1)
        .stderr(contains("`requires` forms a cycle: `a` → `b` → `c` → `a`"));
}

#[test]
fn unknown_key_is_a_warning_not_an_error() {
    let repo = Repo::new().host_stacklet("photos", "colour = \"blue\"\n");
    repo.stack().arg("list").assert().success().stderr(contains(
        "warning: Unknown key `colour` in `stacklets/photos/stacklet.toml` (ignored)",
    ));
}

#[test]
fn malformed_stack_toml_is_an_error() {
    let repo = Repo::new()
        .host_stacklet("photos", "")
        .file("stack.toml", "[core]\ndomain = 5\n");
    repo.stack()
        .arg("list")
        .assert()
        .code(1)
        .stderr(contains("Invalid `stack.toml`").and(contains("line 2")));
}

#[test]
fn no_repo_root_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_stack"))
        .current_dir(dir.path())
        .env_remove("STACK_ROOT")
        .env_remove("STACK_DIR")
        .arg("list")
        .assert()
        .code(1)
        .stderr(
            contains("No `stacklets/` directory in").and(contains("hint: `cd` into a checkout")),
        );
}

#[test]
fn stack_root_overrides_discovery() {
    let repo = Repo::new().host_stacklet("photos", "");
    let elsewhere = tempfile::tempdir().unwrap();
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_stack"))
        .current_dir(elsewhere.path())
        .env("STACK_ROOT", repo.path())
        .env_remove("STACK_DIR")
        .arg("list")
        .assert()
        .success()
        .stdout(contains("photos"));
}

#[test]
fn missing_stack_dir_fails_fast() {
    let repo = Repo::new().host_stacklet("photos", "");
    repo.stack()
        .env("STACK_DIR", repo.join("nowhere"))
        .arg("list")
        .assert()
        .code(1)
        .stderr(contains("`STACK_DIR` is set to").and(contains("which does not exist")));
}

#[test]
fn walks_up_from_a_subdirectory() {
    let repo = Repo::new().host_stacklet("photos", "");
    repo.stack()
        .current_dir(repo.join("stacklets/photos"))
        .arg("list")
        .assert()
        .success()
        .stdout(contains("photos"));
}

#[test]
fn usage_errors_exit_2() {
    let repo = Repo::new().host_stacklet("photos", "");
    repo.stack().arg("photso").assert().code(2).stderr(
        contains("error: Unknown command or stacklet `photso`")
            .and(contains("hint: did you mean `stack photos`?")),
    );
    repo.stack().args(["list", "--bogus"]).assert().code(2);
}

#[test]
fn version_and_help_exit_0() {
    let repo = Repo::new();
    repo.stack()
        .arg("--version")
        .assert()
        .success()
        .stdout(contains("stack "));
    repo.stack()
        .arg("help")
        .assert()
        .success()
        .stdout(contains("Usage"));
    repo.stack()
        .arg("-h")
        .assert()
        .success()
        .stdout(contains("Usage"));
}

#[test]
fn users_toml_is_validated() {
    let repo = Repo::new().host_stacklet("photos", "").file(
        "users.toml",
        "[[users]]\nid = \"arthur\"\nname = \"Arthur\"\nrole = \"admn\"\n",
    );
    repo.stack()
        .arg("list")
        .assert()
        .code(1)
        .stderr(contains("role `admn`").and(contains("did you mean `admin`?")));
}
