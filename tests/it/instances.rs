//! Instances side by side on one Docker engine (docs/engine.md, "Instances"): the default
//! instance and a `STACK_DIR` instance run the same stacklet at once, each in its own Docker
//! namespace, and no command of one touches the other's containers, volumes or files.
//!
//! Ids `iso-*`, host ports 44000–44499 (and +1000 through `port_offset`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use crate::support::{Repo, Web, docker_lines, get, ok, stderr, stdout, try_docker_lines};

/// `docker inspect -f <format> <name>`, trimmed; `None` when the object does not exist.
fn inspect(kind: &str, name: &str, format: &str) -> Option<String> {
    let out = std::process::Command::new("docker")
        .args([kind, "inspect", "-f", format, name])
        .output()
        .expect("run docker");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn docker_ok(args: &[&str]) -> String {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    assert!(out.status.success(), "docker {args:?}: {}", stderr(&out));
    stdout(&out)
}

/// A `STACK_DIR` instance directory `<tmp>/<dir_name>` with `stack.toml` holding `core`.
struct Other {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Other {
    fn new(dir_name: &str, core: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(dir_name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("stack.toml"),
            format!("[core]\ndata_dir = \"data\"\n{core}"),
        )
        .unwrap();
        Self { _tmp: tmp, dir }
    }

    fn path(&self) -> &Path {
        &self.dir
    }
}

/// Removes, whatever a failed test left behind, every object of the given projects and networks.
struct Cleanup {
    projects: Vec<String>,
    networks: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for project in &self.projects {
            let filter = format!("label=com.docker.compose.project={project}");
            for (list, remove) in [
                (&["ps", "-aq"][..], &["rm", "-f"][..]),
                (&["network", "ls", "-q"][..], &["network", "rm"][..]),
                (&["volume", "ls", "-q"][..], &["volume", "rm", "-f"][..]),
            ] {
                let ids =
                    try_docker_lines(&[list, &["--filter", &filter]].concat()).unwrap_or_default();
                if !ids.is_empty() {
                    let _ = std::process::Command::new("docker")
                        .args(remove)
                        .args(&ids)
                        .output();
                }
            }
        }
        for network in &self.networks {
            let _ = std::process::Command::new("docker")
                .args(["network", "rm", network])
                .output();
        }
    }
}

fn cleanup(projects: &[&str], networks: &[&str]) -> Cleanup {
    let cleanup = Cleanup {
        projects: projects.iter().map(|p| p.to_string()).collect(),
        networks: networks.iter().map(|n| n.to_string()).collect(),
    };
    // Leftovers of an earlier, interrupted run would be "another instance's" objects.
    drop(Cleanup {
        projects: cleanup.projects.clone(),
        networks: cleanup.networks.clone(),
    });
    cleanup
}

#[test]
fn two_instances_run_one_stacklet_side_by_side_and_leave_each_other_alone() {
    let id = "iso-two";
    let repo = Repo::new().web_stacklet(
        id,
        44010,
        Web {
            manifest: "[env]\ngenerate = [\"KEY\"]\n[env.defaults]\nWHERE = \"{data_dir}/iso-two\"\nSELF = \"{iso-two_url}\"\n",
            ..Web::default()
        },
    );
    let other = Other::new("b", "instance = \"iso-b\"\nport_offset = 1000\n");
    let _cleanup = cleanup(&["stack-iso-two", "iso-b_stack-iso-two"], &["iso-b_stack"]);
    let in_other = || {
        let mut cmd = repo.stack();
        cmd.env("STACK_DIR", other.path());
        cmd
    };

    ok(repo.stack().args(["up", id]));
    docker_ok(&[
        "exec",
        "stack-iso-two-web",
        "sh",
        "-c",
        "echo household > /cache/who",
    ]);
    let household = inspect("container", "stack-iso-two-web", "{{.Id}}").unwrap();

    let up = ok(in_other().args(["up", id]));
    let text = stderr(&up);
    assert!(text.contains("http://192.0.2.10:45010"), "{text}");
    assert!(
        !text.contains("Recreating") && !text.contains("Stopping"),
        "{text}"
    );
    // Both serve at once, each on its own port.
    assert_eq!(get(44010).as_deref(), Some("ok\n"));
    assert_eq!(get(45010).as_deref(), Some("ok\n"));
    // The household's container was not touched.
    assert_eq!(
        inspect("container", "stack-iso-two-web", "{{.Id}}").as_deref(),
        Some(household.as_str())
    );
    // The instance's objects carry its name and label; the compose file's container name is an
    // alias on the instance's own network.
    let theirs = "iso-b_stack-iso-two-web";
    assert_eq!(
        inspect(
            "container",
            theirs,
            "{{index .Config.Labels \"io.stack.instance\"}}"
        )
        .as_deref(),
        Some("iso-b")
    );
    assert!(inspect("volume", "iso-b_stack-iso-two_cache", "{{.Name}}").is_some());
    assert_eq!(
        docker_ok(&[
            "exec",
            theirs,
            "wget",
            "-qO-",
            "http://stack-iso-two-web:8080/"
        ]),
        "ok\n"
    );
    // Plain `docker compose -p stack-<id>` still sees the household's project, and only it.
    let compose = std::process::Command::new("/usr/local/bin/docker-compose-v2")
        .args(["-p", "stack-iso-two", "ps", "--format", "{{.Name}}"])
        .output()
        .expect("Docker Compose v2 (scripts/install-compose.sh)");
    assert!(compose.status.success(), "{}", stderr(&compose));
    assert_eq!(stdout(&compose).trim(), "stack-iso-two-web");
    // Files: every one in the instance dir, none in the repo's.
    let o = other.path();
    let env = std::fs::read_to_string(o.join(format!(".stack/env/{id}.env"))).unwrap();
    assert!(env.contains("SELF=http://192.0.2.10:45010"), "{env}");
    assert!(o.join(format!(".stack/{id}.setup-done")).is_file());
    let secrets = std::fs::read_to_string(o.join(".stack/secrets.toml")).unwrap();
    assert_ne!(secrets, repo.read(".stack/secrets.toml"));

    // Each instance sees only its own containers and URLs.
    let list = stdout(&ok(in_other().args(["list", "--json"])));
    assert!(list.contains("http://192.0.2.10:45010"), "{list}");
    let ps = stdout(&ok(repo.stack().args(["ps", id])));
    assert!(
        ps.contains("stack-iso-two-web") && !ps.contains(theirs),
        "{ps}"
    );
    let ps = stdout(&ok(in_other().args(["ps", id])));
    assert!(ps.contains(theirs), "{ps}");
    let status = stdout(&ok(in_other().args(["status"])));
    assert!(status.contains("`iso-b`, ports +1000"), "{status}");

    // `down all`, `destroy` and `uninstall` in the instance leave the household running.
    ok(in_other().args(["down", "all"]));
    assert_eq!(
        inspect("container", theirs, "{{.State.Running}}").as_deref(),
        Some("false")
    );
    assert_eq!(get(44010).as_deref(), Some("ok\n"));
    ok(in_other().args(["up", id]));
    ok(in_other().args(["destroy", id, "--yes"]));
    assert!(inspect("container", theirs, "{{.Id}}").is_none());
    assert!(inspect("volume", "iso-b_stack-iso-two_cache", "{{.Name}}").is_none());
    assert!(!o.join("data/iso-two").exists());
    ok(in_other().args(["up", id]));
    ok(in_other().args(["uninstall", "--yes", "--delete-data"]));
    assert!(inspect("container", theirs, "{{.Id}}").is_none());
    assert!(!o.join(".stack").exists());

    assert_eq!(get(44010).as_deref(), Some("ok\n"));
    assert_eq!(
        inspect("container", "stack-iso-two-web", "{{.Id}}").as_deref(),
        Some(household.as_str())
    );
    assert_eq!(
        docker_ok(&["exec", "stack-iso-two-web", "cat", "/cache/who"]),
        "household\n"
    );
    assert!(repo.join(&format!(".stack/{id}.setup-done")).is_file());

    // And the other way round: the household's destroy leaves a running instance alone.
    // (`uninstall` removed the instance's `stack.toml`.)
    std::fs::write(
        o.join("stack.toml"),
        "[core]\ndata_dir = \"data\"\ninstance = \"iso-b\"\nport_offset = 1000\n",
    )
    .unwrap();
    ok(in_other().args(["up", id]));
    ok(repo.stack().args(["destroy", id, "--yes"]));
    assert!(inspect("container", "stack-iso-two-web", "{{.Id}}").is_none());
    assert_eq!(get(45010).as_deref(), Some("ok\n"));
    ok(in_other().args(["destroy", id, "--yes"]));
}

#[test]
fn a_taken_port_fails_up_before_anything_changes() {
    let id = "iso-clash";
    let repo = Repo::new().web_stacklet(id, 44020, Web::default()).file(
        &format!("stacklets/{id}/hooks/on_install.sh"),
        "mkdir -p \"$STACK_DATA_DIR\" && touch \"$STACK_DATA_DIR/installed\"\n",
    );
    // No `[core].instance`: the directory's name, made safe.
    let other = Other::new("Iso Clash", "");
    let _cleanup = cleanup(
        &["stack-iso-clash", "iso-clash_stack-iso-clash"],
        &["iso-clash_stack"],
    );
    ok(repo.stack().args(["up", id]));
    let household = inspect("container", "stack-iso-clash-web", "{{.Id}}").unwrap();

    let out = repo
        .stack()
        .env("STACK_DIR", other.path())
        .args(["up", id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.contains(
            "Port 44020/tcp of service `web` is already in use by container `stack-iso-clash-web` of the default instance"
        ),
        "{text}"
    );
    assert!(
        text.contains("hint:") && text.contains("port_offset"),
        "{text}"
    );
    assert!(
        !text.contains("Creating") && !text.contains("Stopping"),
        "{text}"
    );
    // Found before the first-run hooks did their work.
    assert!(repo.join("data/installed").is_file());
    assert!(!other.path().join("data/installed").exists(), "{text}");
    assert!(inspect("container", "iso-clash_stack-iso-clash-web", "{{.Id}}").is_none());
    assert_eq!(
        inspect("container", "stack-iso-clash-web", "{{.Id}}").as_deref(),
        Some(household.as_str())
    );
    assert_eq!(get(44020).as_deref(), Some("ok\n"));

    // A port held by a program that is not a container.
    let listener = TcpListener::bind(("0.0.0.0", 44030)).expect("port 44030 free for the test");
    let repo = repo.web_stacklet("iso-clash2", 44030, Web::default());
    let _cleanup2 = cleanup(&["stack-iso-clash2"], &[]);
    let out = repo.stack().args(["up", "iso-clash2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.contains("Port 44030/tcp of service `web` is already in use by another program"),
        "{text}"
    );
    assert!(
        docker_lines(&[
            "ps",
            "-aq",
            "--filter",
            "label=com.docker.compose.project=stack-iso-clash2"
        ])
        .is_empty()
    );
    drop(listener);
    ok(repo.stack().args(["destroy", id, "--yes"]));
}

#[test]
fn an_instance_never_adopts_or_removes_a_twin_of_the_same_name() {
    let id = "iso-twin";
    let repo = Repo::new().web_stacklet(id, 44040, Web::default());
    let first = Other::new("a", "instance = \"iso-twin\"\n");
    let second = Other::new("a", "instance = \"iso-twin\"\nport_offset = 1000\n");
    let _cleanup = cleanup(&["iso-twin_stack-iso-twin"], &["iso-twin_stack"]);
    ok(repo.stack().env("STACK_DIR", first.path()).args(["up", id]));
    let before = inspect("container", "iso-twin_stack-iso-twin-web", "{{.Id}}").unwrap();

    for verb in [&["up", id][..], &["destroy", id, "--yes"], &["down", id]] {
        let out = repo
            .stack()
            .env("STACK_DIR", second.path())
            .args(verb)
            .output()
            .unwrap();
        let text = stderr(&out);
        if verb[0] == "down" {
            // Nothing of its own is set up: nothing to stop, and nothing else is touched.
            assert!(out.status.success(), "{text}");
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{verb:?}: {text}");
        assert!(
            text.contains(&format!(
                "belongs to instance `iso-twin` (`{}`)",
                first.path().canonicalize().unwrap().display()
            )),
            "{verb:?}: {text}"
        );
        assert!(text.contains("[core].instance"), "{text}");
    }
    assert_eq!(
        inspect("container", "iso-twin_stack-iso-twin-web", "{{.Id}}").as_deref(),
        Some(before.as_str())
    );
    assert_eq!(get(44040).as_deref(), Some("ok\n"));
    ok(repo
        .stack()
        .env("STACK_DIR", first.path())
        .args(["destroy", id, "--yes"]));
}

#[test]
fn hyphenated_ids_are_template_variables_as_written() {
    let repo = Repo::new()
        .host_stacklet("iso-app", "port = 44050\n[ports]\nweb-ui = 44051\n[env]\ngenerate = [\"TOKEN\"]\n")
        .host_stacklet(
            "iso-user",
            "[env.defaults]\nA = \"{iso-app_url}\"\nB = \"{iso-app_web-ui_url}\"\nC = \"{iso-app__TOKEN}\"\nD = \"{iso_app_url}\"\n",
        );
    ok(repo.stack().args(["up", "iso-app"]));
    let env = stdout(&ok(repo.stack().args(["env", "iso-user", "--reveal"])));
    assert!(env.contains("A=http://192.0.2.10:44050"), "{env}");
    assert!(env.contains("B=http://192.0.2.10:44051"), "{env}");
    assert!(env.contains("D=http://192.0.2.10:44050"), "{env}");
    let secrets = repo.read(".stack/secrets.toml");
    let token = secrets
        .lines()
        .find_map(|l| l.strip_prefix("iso-app__TOKEN = "))
        .expect("token generated")
        .trim_matches('"');
    assert!(env.contains(&format!("C={token}")), "{env}");
    let lint = repo.stack().args(["lint", "iso-user"]).output().unwrap();
    assert!(
        !stderr(&lint).contains("Unknown template variable")
            && !stdout(&lint).contains("Unknown template variable"),
        "{}{}",
        stdout(&lint),
        stderr(&lint)
    );
}

#[test]
fn an_instance_sharing_the_default_data_dir_is_refused_before_anything_runs() {
    let repo = Repo::new().host_stacklet("iso-data", "[env.defaults]\nWHERE = \"{data_dir}\"\n");
    let shared = repo.join("data");
    let other = Other::new("shared", "");
    std::fs::write(
        other.path().join("stack.toml"),
        format!("[core]\ndata_dir = \"{}\"\n", shared.display()),
    )
    .unwrap();
    let out = repo
        .stack()
        .env("STACK_DIR", other.path())
        .args(["up", "iso-data"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.contains("would use the default instance's data dir") && text.contains("hint:"),
        "{text}"
    );
    assert!(!other.path().join(".stack").exists(), "nothing was written");
    // Read-only commands still work there.
    ok(repo.stack().env("STACK_DIR", other.path()).args(["list"]));
}

#[test]
fn a_bad_instance_name_or_port_offset_names_the_file_and_key() {
    let repo = Repo::new().host_stacklet("iso-bad", "");
    let other = Other::new("bad", "instance = \"Bad_Name\"\n");
    let out = repo
        .stack()
        .env("STACK_DIR", other.path())
        .args(["list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.contains("`[core].instance` must be lowercase letters")
            && text.contains("`Bad_Name`")
            && text.contains("hint: `instance = \"bad-name\"`"),
        "{text}"
    );
    std::fs::write(
        other.path().join("stack.toml"),
        "[core]\ndata_dir = \"data\"\nport_offset = -5\n",
    )
    .unwrap();
    let out = repo
        .stack()
        .env("STACK_DIR", other.path())
        .args(["list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.contains("`[core].port_offset` must be an integer from 0 to 65535, not -5"),
        "{text}"
    );
}
