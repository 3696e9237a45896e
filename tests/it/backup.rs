//! Backups through the binary (docs/backups.md): a real restic-format repository, real
//! containers, Debian's `restic` reading what `stack` wrote, restores, retention, integrity
//! checks and restore drills in a throw-away instance beside the household one.
//!
//! Ids `bk-*`, host ports 45700–45899 (drills land on +1000: 46700–46899).

use std::path::Path;

use crate::support::{Repo, docker_lines, fails, get, inspect, ok, stderr, stdout};

/// A repo whose `[backup]` points into it, with stacklet `id`: busybox httpd on `port` serving
/// `<data>/<id>/www` (bind-mounted read-write), a `[<id>]` table and a generated secret.
fn web_repo(id: &str, port: u16, extra_manifest: &str) -> Repo {
    crate::support::ensure_test_images();
    Repo::new()
        .file(
            "stack.toml",
            &format!(
                "[core]\ndata_dir = \"data\"\n\n[backup]\nrepository = \"backups\"\n\n[{id}]\ncolour = \"blue\" # the family's choice\n"
            ),
        )
        .stacklet(
            id,
            &format!(
                "port = {port}\n{extra_manifest}\n[env]\ngenerate = [\"TOKEN\"]\n\n[env.defaults]\nWWW = \"{{data_dir}}/{id}/www\"\n\n[health]\nurl = \"http://localhost:{port}/\"\nexpect = \"200\"\ntimeout = 30\n"
            ),
        )
        .file(
            &format!("stacklets/{id}/docker-compose.yml"),
            &format!(
                r#"name: stack-{id}
services:
  web:
    container_name: stack-{id}
    image: stack-test/busybox:1
    init: true
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    volumes:
      - ${{WWW}}:/www
    ports:
      - "127.0.0.1:{port}:8080"
"#
            ),
        )
        .file(&format!("data/{id}/www/index.html"), "v1\n")
        .file(&format!("data/{id}/www/photos/cat.jpg"), &"meow".repeat(5000))
        // The data exists before the first `up`, so its secret must too (a set-up stacklet's
        // missing secret is refused, never regenerated).
        .file(
            ".stack/secrets.toml",
            &format!("{id}__TOKEN = \"first-token-of-{id}\"\n"),
        )
}

/// Every container of any instance whose name is `drill-<id>-…`.
fn drill_containers(id: &str) -> Vec<String> {
    docker_lines(&["ps", "-a", "--format", "{{.Names}}"])
        .into_iter()
        .filter(|n| n.starts_with(&format!("drill-{id}-")))
        .collect()
}

fn drill_dirs(id: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .starts_with(&format!("stack-drill-{id}-"))
            })
        })
        .collect()
}

/// `restic -r <repo>/backups <args>` with the instance's password.
fn restic(repo: &Repo, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new("restic")
        .arg("-r")
        .arg(repo.join("backups"))
        .args(args)
        .env("RESTIC_PASSWORD", repo.secret("global__BACKUP_PASSWORD"))
        .env("RESTIC_CACHE_DIR", repo.join("restic-cache"))
        .output()
        .expect("restic is installed (scripts/test.sh installs it)");
    assert!(out.status.success(), "restic {args:?}: {}", stderr(&out));
    out
}

#[test]
fn backup_then_restore_puts_data_secrets_and_config_back() {
    let id = "bk-files";
    let port = 45701;
    let repo = web_repo(id, port, "");
    let _cleanup = repo.cleanup(&[id]);
    ok(repo.stack().args(["up", id]));
    assert_eq!(get(port).as_deref(), Some("v1\n"));
    let token = repo.read(".stack/secrets.toml");

    // `all` = every set-up stacklet: here, this one.
    let out = ok(repo.stack().args(["backup", "all"]));
    let err = stderr(&out);
    assert!(err.contains("Generated the backup password"), "{err}");
    assert!(err.contains("Store it off this machine"), "{err}");
    assert!(err.contains("Backed up BK-FILES: snapshot"), "{err}");
    assert!(err.contains("(stopped)"), "no consistency note: {err}");
    assert!(err.contains("deduplicated"), "{err}");
    // Stopped for the snapshot, started again.
    assert_eq!(get(port).as_deref(), Some("v1\n"));
    let history = repo.read(".stack/events.jsonl");
    assert!(
        history.contains("\"action\":\"backup\"") && history.contains("\"outcome\":\"ok\""),
        "{history}"
    );
    // The staging copy of the secrets is gone.
    assert!(!repo.join(".stack/backup").join(id).exists());

    // Debian's restic reads the repository: the snapshot, its tags, and its files.
    let snaps: serde_json::Value =
        serde_json::from_slice(&restic(&repo, &["snapshots", "--json"]).stdout).unwrap();
    let tags = snaps[0]["tags"].as_array().unwrap();
    assert!(tags.iter().any(|t| t == "stacklet=bk-files"), "{snaps}");
    let target = repo.join("restic-restore");
    restic(
        &repo,
        &["restore", "latest", "--target", target.to_str().unwrap()],
    );
    let data = repo.join("data").canonicalize().unwrap();
    let restored = target.join(data.strip_prefix("/").unwrap()).join(id);
    assert_eq!(
        std::fs::read_to_string(restored.join("www/index.html")).unwrap(),
        "v1\n"
    );

    // Change everything the snapshot holds.
    std::fs::write(repo.join(&format!("data/{id}/www/index.html")), "v2\n").unwrap();
    std::fs::write(repo.join(&format!("data/{id}/www/new.txt")), "later").unwrap();
    let config = repo.read("stack.toml").replace("blue", "red");
    std::fs::write(repo.join("stack.toml"), config).unwrap();
    let secrets = repo.read(".stack/secrets.toml");
    let changed = secrets
        .lines()
        .map(|l| {
            if l.starts_with("bk-files__TOKEN") {
                "bk-files__TOKEN = \"changed\"".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(repo.join(".stack/secrets.toml"), changed).unwrap();
    assert_eq!(get(port).as_deref(), Some("v2\n"));

    // Running: refused without --yes, nothing changed.
    let out = fails(repo.stack().args(["restore", id]));
    let err = stderr(&out);
    assert!(err.contains("is running"), "{err}");
    assert!(err.contains(&format!("stack restore {id} --yes")), "{err}");
    assert_eq!(get(port).as_deref(), Some("v2\n"));

    let out = ok(repo.stack().args(["restore", id, "--yes"]));
    let err = stderr(&out);
    assert!(err.contains("Restored bk-files from snapshot"), "{err}");
    assert_eq!(get(port).as_deref(), Some("v1\n"));
    assert!(!repo.join(&format!("data/{id}/www/new.txt")).exists());
    assert_eq!(
        repo.read(&format!("data/{id}/www/photos/cat.jpg")),
        "meow".repeat(5000)
    );
    assert!(
        repo.read("stack.toml")
            .contains("colour = \"blue\" # the family's choice")
    );
    let secrets = repo.read(".stack/secrets.toml");
    assert!(secrets.contains(token.trim()), "{secrets}");
    // Healthy, so the replaced data is gone; nothing else is left in the data dir.
    let leftovers: Vec<String> = std::fs::read_dir(repo.join("data"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, vec![id.to_string()]);
    assert!(
        repo.read(".stack/events.jsonl")
            .contains("\"action\":\"restore\"")
    );
}

#[test]
fn forget_keeps_the_policy_and_prunes_and_check_reads_everything() {
    // A stacklet without containers: its data dir alone is backed up.
    let id = "bk-plain";
    let repo = Repo::new()
        .file(
            "stack.toml",
            "[core]\ndata_dir = \"data\"\n\n[backup]\nrepository = \"backups\"\n",
        )
        .stacklet(id, "type = \"host\"\n")
        .file(&format!("data/{id}/notes.txt"), "first");
    ok(repo.stack().args(["backup", id]));
    std::fs::write(repo.join(&format!("data/{id}/notes.txt")), "second").unwrap();
    std::fs::write(
        repo.join(&format!("data/{id}/big.bin")),
        "x".repeat(300_000),
    )
    .unwrap();
    ok(repo.stack().args(["backup", id]));

    let list = ok(repo.stack().args(["backup", "list", id, "--json"]));
    let snaps: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(snaps.as_array().unwrap().len(), 2, "{snaps}");
    assert_eq!(snaps[1]["stacklet"], id);
    assert_eq!(snaps[1]["manifest"]["stacklet_version"], "0.1.0");
    assert_eq!(snaps[1]["manifest"]["consistency"], "stopped");
    let newest = snaps[1]["id"].as_str().unwrap().to_string();
    // The second snapshot has the first as its parent, so unchanged files are not read again
    // (bench/backup.sh measures what that saves).
    let raw: serde_json::Value =
        serde_json::from_slice(&restic(&repo, &["snapshots", "--json"]).stdout).unwrap();
    let id_of = |s: &serde_json::Value| s["id"].as_str().unwrap_or_default().to_string();
    let restic_snaps = raw.as_array().unwrap();
    let (second, first): (Vec<_>, Vec<_>) = restic_snaps
        .iter()
        .partition(|s| id_of(s).starts_with(&newest));
    // `stack backup list` puts the newer last even when both fell within one second.
    let (first, second) = (first[0], second[0]);
    assert_eq!(
        second["parent"].as_str(),
        Some(id_of(first).as_str()),
        "{raw}"
    );
    // restic shows when the repository's key was made (restic's own `init` records it too).
    let keys = stdout(&restic(&repo, &["key", "list", "--json"]));
    assert!(
        keys.contains("\"created\":\"20") && !keys.contains("0001-01-01"),
        "{keys}"
    );
    let table = stdout(&ok(repo.stack().args(["backup", "list"])));
    assert!(
        table.contains("SNAPSHOT") && table.contains(&newest[..8]),
        "{table}"
    );

    let packs_before = count_files(&repo.join("backups/data"));
    let out = ok(repo.stack().args([
        "backup",
        "forget",
        "--keep-daily",
        "1",
        "--keep-weekly",
        "0",
        "--keep-monthly",
        "0",
    ]));
    assert!(
        stderr(&out).contains("Forgot 1 snapshot(s)"),
        "{}",
        stderr(&out)
    );
    let snaps: serde_json::Value =
        serde_json::from_slice(&ok(repo.stack().args(["backup", "list", "--json"])).stdout)
            .unwrap();
    assert_eq!(snaps.as_array().unwrap().len(), 1);
    assert_eq!(snaps[0]["id"], newest.as_str());
    // Pruned: the first snapshot's "first" is no longer needed, so a pack was rewritten or removed.
    assert!(count_files(&repo.join("backups/data")) <= packs_before);

    let out = ok(repo.stack().args(["backup", "check"]));
    assert!(
        stderr(&out).contains("the repository is intact"),
        "{}",
        stderr(&out)
    );
    // The newest snapshot still restores (the data dir is stopped-state: no containers).
    std::fs::write(repo.join(&format!("data/{id}/notes.txt")), "third").unwrap();
    ok(repo.stack().args(["restore", id]));
    assert_eq!(repo.read(&format!("data/{id}/notes.txt")), "second");
}

fn count_files(dir: &Path) -> usize {
    walkdir(dir)
}

fn walkdir(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| {
            if e.path().is_dir() {
                walkdir(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn a_drill_passes_while_the_household_keeps_serving() {
    let id = "bk-drill";
    let port = 45710;
    let repo = web_repo(id, port, "").file(
        &format!("stacklets/{id}/hooks/on_verify.sh"),
        "grep -q v1 \"$STACK_DATA_DIR/bk-drill/www/index.html\"\n",
    );
    let _cleanup = repo.cleanup(&[id]);
    ok(repo.stack().args(["up", id]));
    ok(repo.stack().args(["backup", id]));
    let started = inspect(&format!("stack-{id}"), "{{.State.StartedAt}}");
    let before: Vec<(String, String)> =
        ["stack.toml", ".stack/secrets.toml", ".stack/events.jsonl"]
            .iter()
            .map(|f| (f.to_string(), repo.read(f)))
            .collect();

    // Serve while the drill runs: a thread asks the household all along.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut answers = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                assert_eq!(
                    get(port).as_deref(),
                    Some("v1\n"),
                    "the household stopped serving"
                );
                answers += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            answers
        })
    };
    let out = ok(repo.stack().args(["backup", "drill", id]));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answers = watcher
        .join()
        .expect("the household answered every request");
    assert!(answers > 0);

    let line = stdout(&out);
    assert!(
        line.starts_with("drill passed: bk-drill, snapshot "),
        "{line}"
    );
    assert!(
        line.contains("healthy in") && line.trim_end().ends_with(", verified"),
        "{line}"
    );
    // The household: same container, same files, still serving.
    assert_eq!(
        inspect(&format!("stack-{id}"), "{{.State.StartedAt}}"),
        started
    );
    for (file, text) in before {
        assert_eq!(repo.read(&file), text, "{file} changed");
    }
    assert_eq!(get(port).as_deref(), Some("v1\n"));
    // The throw-away instance is gone completely.
    assert_eq!(drill_containers(id), Vec::<String>::new());
    assert_eq!(drill_dirs(id), Vec::<std::path::PathBuf>::new());
    let networks = docker_lines(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        !networks
            .iter()
            .any(|n| n.starts_with(&format!("drill-{id}-"))),
        "{networks:?}"
    );
}

#[test]
fn a_drill_from_a_corrupt_pack_fails_at_its_step_and_harms_nothing() {
    let id = "bk-broken";
    let port = 45720;
    let repo = web_repo(id, port, "");
    let _cleanup = repo.cleanup(&[id]);
    ok(repo.stack().args(["up", id]));
    ok(repo.stack().args(["backup", id]));
    // Flip bytes in the middle of every pack file: the data can no longer be decrypted.
    for pack in files_under(&repo.join("backups/data")) {
        let mut bytes = std::fs::read(&pack).unwrap();
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid.saturating_sub(16)..mid + 16] {
            *b ^= 0xff;
        }
        let mut perms = std::fs::metadata(&pack).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&pack, perms).unwrap();
        std::fs::write(&pack, bytes).unwrap();
    }
    let started = inspect(&format!("stack-{id}"), "{{.State.StartedAt}}");

    let out = fails(repo.stack().args(["backup", "drill", id]));
    let err = stderr(&out);
    assert!(
        err.contains("Drill of `bk-broken` failed at restoring the snapshot"),
        "{err}"
    );
    assert!(!stdout(&out).contains("drill passed"));
    assert_eq!(
        inspect(&format!("stack-{id}"), "{{.State.StartedAt}}"),
        started
    );
    assert_eq!(get(port).as_deref(), Some("v1\n"));
    assert_eq!(drill_containers(id), Vec::<String>::new());
    assert_eq!(drill_dirs(id), Vec::<std::path::PathBuf>::new());

    // The damage is reported as such, in a few lines (rustic_core panics on a tree pack that
    // does not decrypt; that is the command's error, not a crash dump).
    let out = fails(repo.stack().args(["backup", "check"]));
    let err = stderr(&out);
    assert!(
        err.contains("damaged or unreadable repository data") || err.contains("problem(s)"),
        "{err}"
    );
    assert!(!err.contains("panicked at") && err.len() < 2000, "{err}");
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        if entry.path().is_dir() {
            out.extend(files_under(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

#[test]
fn an_on_backup_hook_dumps_while_the_stacklet_keeps_running() {
    let id = "bk-dump";
    let port = 45730;
    let repo = web_repo(id, port, "").file(
        &format!("stacklets/{id}/hooks/on_backup.py"),
        "def run(ctx):\n    ctx.exec(\"stack-bk-dump\", [\"sh\", \"-c\", \"echo 'dump of the database' > /www/dump.sql\"])\n",
    );
    let _cleanup = repo.cleanup(&[id]);
    ok(repo.stack().args(["up", id]));
    let started = inspect(&format!("stack-{id}"), "{{.State.StartedAt}}");
    let out = ok(repo.stack().args(["backup", id]));
    let err = stderr(&out);
    assert!(err.contains("(on_backup)"), "{err}");
    assert_eq!(
        inspect(&format!("stack-{id}"), "{{.State.StartedAt}}"),
        started
    );
    // The dump the container wrote is in the snapshot.
    let data = repo.join("data").canonicalize().unwrap();
    let listing = stdout(&restic(&repo, &["ls", "latest"]));
    let dump = data.join(id).join("www/dump.sql");
    assert!(
        listing.lines().any(|l| l == dump.to_str().unwrap()),
        "{listing}"
    );
}

/// The unit files in `dir`, by name.
fn unit_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `stack <verb> --install-schedule` (`update` or `backup`) with the units going to `units`. This
/// machine may run no service manager that could load them: then the files are still written and
/// the command says how to load them by hand.
fn install_schedule(repo: &Repo, verb: &str, units: &Path) -> String {
    let out = repo
        .stack()
        .args([verb, "--install-schedule"])
        .env("STACK_SERVICE_DIR", units)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        out.status.success() || err.contains("load them by hand"),
        "{err}"
    );
    err
}

/// `stack <verb> --remove-schedule` with the units in `units`.
fn remove_schedule(repo: &Repo, verb: &str, units: &Path) -> String {
    stderr(&ok(repo
        .stack()
        .args([verb, "--remove-schedule"])
        .env("STACK_SERVICE_DIR", units)))
}

/// The kinds of the jobs whose files are in `dir` (`stack-<kind>-…`), each once, sorted.
fn job_kinds(dir: &Path) -> Vec<String> {
    let mut kinds: Vec<String> = unit_files(dir)
        .iter()
        .map(|f| f.split('-').nth(1).unwrap().to_string())
        .collect();
    kinds.dedup();
    kinds
}

#[test]
fn a_backup_schedule_installs_the_backup_and_a_weekly_drill_on_its_own_beside_the_update_schedule()
{
    let units = tempfile::tempdir().unwrap();
    let repo = Repo::new().host_stacklet("bk-sched", "").file(
        "stack.toml",
        "[core]\ndata_dir = \"data\"\n[backup]\nschedule = \"0 30 2 * * *\"\n",
    );
    // A schedule with nowhere to back up to is refused before anything is written.
    let out = fails(
        repo.stack()
            .args(["backup", "--install-schedule"])
            .env("STACK_SERVICE_DIR", units.path()),
    );
    assert!(
        stderr(&out).contains("[backup].repository") && stderr(&out).contains("hint:"),
        "{}",
        stderr(&out)
    );
    assert!(unit_files(units.path()).is_empty());

    // Scheduled backups without automatic updates: the backup and the drill, no update job.
    let repo = repo.file(
        "stack.toml",
        "[core]\ndata_dir = \"data\"\n[backup]\nrepository = \"backups\"\nschedule = \"0 30 2 * * *\"\n",
    );
    install_schedule(&repo, "backup", units.path());
    assert_eq!(job_kinds(units.path()), ["backup", "drill"]);
    let files = unit_files(units.path());
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_stack")).unwrap();
    let root = std::fs::canonicalize(repo.path()).unwrap();
    let read = |name: &str| std::fs::read_to_string(units.path().join(name)).unwrap();
    let named = |kind: &str, ext: &str| {
        files
            .iter()
            .find(|f| f.starts_with(&format!("stack-{kind}-")) && f.ends_with(ext))
            .unwrap_or_else(|| panic!("no {kind} {ext} in {files:?}"))
            .clone()
    };
    if cfg!(target_os = "macos") {
        assert_eq!(files.len(), 2, "{files:?}");
        let drill = read(&named("drill", ".plist"));
        assert!(
            drill.contains("<string>backup</string>\n    <string>drill</string>"),
            "{drill}"
        );
        assert!(drill.contains("<key>Weekday</key><integer>0</integer>"));
    } else {
        assert_eq!(files.len(), 4, "{files:?}");
        let backup = read(&named("backup", ".service"));
        assert!(
            backup.contains(&format!("ExecStart={} backup all\n", exe.display())),
            "{backup}"
        );
        assert!(
            backup.contains(&format!("STACK_ROOT={}", root.display())),
            "{backup}"
        );
        assert!(
            backup.contains("`stack backup --remove-schedule` removes it"),
            "{backup}"
        );
        let timer = read(&named("backup", ".timer"));
        assert!(timer.contains("OnCalendar=*-*-* 02:30:00\n"), "{timer}");
        let drill = read(&named("drill", ".service"));
        assert!(
            drill.contains(&format!("ExecStart={} backup drill all\n", exe.display())),
            "{drill}"
        );
        // Weekly, an hour after that day's backup.
        let timer = read(&named("drill", ".timer"));
        assert!(timer.contains("OnCalendar=Sun *-*-* 03:30:00\n"), "{timer}");
    }

    // The update schedule is the update job alone, and removing it leaves the backup jobs.
    install_schedule(&repo, "update", units.path());
    assert_eq!(job_kinds(units.path()), ["backup", "drill", "update"]);
    if !cfg!(target_os = "macos") {
        let service = unit_files(units.path())
            .into_iter()
            .find(|f| f.starts_with("stack-update-") && f.ends_with(".service"))
            .unwrap();
        let update = read(&service);
        assert!(update.contains(" update all\n"), "{update}");
    }
    remove_schedule(&repo, "update", units.path());
    assert_eq!(job_kinds(units.path()), ["backup", "drill"]);

    // Without the key, `stack update --install-schedule` still leaves the backup jobs alone;
    // `stack backup --install-schedule` removes them and leaves the update job.
    let repo = repo.file(
        "stack.toml",
        "[core]\ndata_dir = \"data\"\n[backup]\nrepository = \"backups\"\n",
    );
    install_schedule(&repo, "update", units.path());
    assert_eq!(job_kinds(units.path()), ["backup", "drill", "update"]);
    let err = install_schedule(&repo, "backup", units.path());
    assert_eq!(job_kinds(units.path()), ["update"]);
    assert!(
        err.contains("Removed") && err.contains("`[backup].schedule` is not set"),
        "{err}"
    );

    // `stack backup --remove-schedule` removes the backup jobs only.
    let repo = repo.file(
        "stack.toml",
        "[core]\ndata_dir = \"data\"\n[backup]\nrepository = \"backups\"\nschedule = \"0 30 2 * * *\"\n",
    );
    install_schedule(&repo, "backup", units.path());
    assert_eq!(job_kinds(units.path()), ["backup", "drill", "update"]);
    remove_schedule(&repo, "backup", units.path());
    assert_eq!(job_kinds(units.path()), ["update"]);
    remove_schedule(&repo, "update", units.path());
    assert!(unit_files(units.path()).is_empty());
}

/// `psql` in the test database container as its owner: the output of `sql`, trimmed.
fn psql(container: &str, sql: &str) -> String {
    let out = std::process::Command::new("docker")
        .args([
            "exec",
            container,
            "psql",
            "-U",
            "paperless",
            "-d",
            "paperless",
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-tAc", sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "psql {sql}: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

/// A shipped hook of `docs` with its database container renamed to `container`.
fn docs_hook(name: &str, container: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("stacklets/docs/hooks/{name}"));
    let text = std::fs::read_to_string(&path).unwrap();
    if name != "on_start.py" {
        assert!(
            text.contains("\"stack-docs-db\""),
            "{name} no longer names stack-docs-db"
        );
    }
    text.replace("\"stack-docs-db\"", &format!("\"{container}\""))
}

/// A stacklet laid out like `docs` (its env keys, its `[backup] exclude`, Postgres 18's folders
/// under the mount root) with a real PostgreSQL server (stack-test/postgres:1, Debian's build)
/// and a busybox web service that waits for the database. Its `on_start`, `on_backup` and
/// `on_restore` are the shipped docs hooks, which call the shipped `lib/stack_postgres.py`.
fn postgres_repo(id: &str, port: u16) -> Repo {
    crate::support::ensure_test_images();
    let db = format!("stack-{id}-db");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut repo = Repo::new()
        .file(
            "stack.toml",
            "[core]\ndata_dir = \"data\"\n\n[backup]\nrepository = \"backups\"\n",
        )
        .stacklet(
            id,
            &format!(
                r#"port = {port}

[env]
generate = ["DB_PASSWORD"]

[env.defaults]
DOCS_DB_DIR      = "{{data_dir}}/{id}/postgres"
DOCS_DB_DUMP_DIR = "{{data_dir}}/{id}/postgres-dump"
DB_USER          = "paperless"
DB_NAME          = "paperless"

[backup]
exclude = ["postgres"]

[health]
url = "http://localhost:{port}/"
expect = "200"
timeout = 120
"#
            ),
        )
        .file(
            &format!("stacklets/{id}/docker-compose.yml"),
            &format!(
                r#"name: stack-{id}
services:
  db:
    container_name: {db}
    image: stack-test/postgres:1
    stop_signal: SIGINT
    environment:
      POSTGRES_DB: ${{DB_NAME}}
      POSTGRES_USER: ${{DB_USER}}
      POSTGRES_PASSWORD: ${{DB_PASSWORD}}
      # Postgres 18 images keep PGDATA one level below their mount root.
      PGDATA: /var/lib/postgresql/18/docker
    volumes:
      - ${{DOCS_DB_DIR}}:/var/lib/postgresql
      - ${{DOCS_DB_DUMP_DIR}}:/stack-dump
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U ${{DB_USER}} -d ${{DB_NAME}}"]
      interval: 1s
      timeout: 5s
      retries: 120
  web:
    container_name: stack-{id}-web
    image: stack-test/busybox:1
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports:
      - "127.0.0.1:{port}:8080"
    depends_on:
      db:
        condition: service_healthy
"#
            ),
        )
        .file(
            "lib/stack_postgres.py",
            &std::fs::read_to_string(root.join("lib/stack_postgres.py")).unwrap(),
        )
        // The drill's proof: the family table came back with its three rows.
        .file(
            &format!("stacklets/{id}/hooks/on_verify.py"),
            &format!(
                "def run(ctx):\n    out = ctx.exec(\"{db}\", [\"psql\", \"-U\", ctx.env[\"DB_USER\"], \"-d\", ctx.env[\"DB_NAME\"], \"-tAc\", \"SELECT count(*) FROM family\"])\n    if out.strip() != \"3\":\n        raise RuntimeError(f\"expected 3 family rows, found {{out!r}}\")\n"
            ),
        );
    for hook in ["on_start.py", "on_backup.py", "on_restore.py"] {
        repo = repo.file(
            &format!("stacklets/{id}/hooks/{hook}"),
            &docs_hook(hook, &db),
        );
    }
    repo
}

#[test]
fn a_postgres_stacklet_is_dumped_while_it_runs_and_its_dump_loaded_back_on_restore() {
    let id = "bk-pg";
    let port = 45740;
    let db = format!("stack-{id}-db");
    let repo = postgres_repo(id, port);
    let _cleanup = repo.cleanup(&[id]);
    ok(repo.stack().args(["up", id]));
    psql(
        &db,
        "CREATE TABLE family (name text PRIMARY KEY, born int); \
         INSERT INTO family VALUES ('Ana', 1980), ('Ben', 2012), ('Cleo', 2015);",
    );
    // An index over a function that calls another by its bare name, as Immich's do (earthdistance,
    // vectors): it only loads when the dump's empty search_path is not taken literally.
    psql(
        &db,
        "CREATE FUNCTION decade(y int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT y / 10'; \
         CREATE FUNCTION decade_of(y int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT decade(y)'; \
         CREATE INDEX family_decade ON family (decade_of(born));",
    );
    let started = inspect(&db, "{{.State.StartedAt}}");

    let out = ok(repo.stack().args(["backup", id]));
    let err = stderr(&out);
    assert!(err.contains("(on_backup)"), "{err}");
    assert!(err.contains("Dumping the database paperless"), "{err}");
    // pg_dump ran beside the live server: nothing was stopped.
    assert_eq!(inspect(&db, "{{.State.StartedAt}}"), started);
    let dump = repo.join(&format!("data/{id}/postgres-dump/paperless.sql"));
    let text = std::fs::read_to_string(&dump).unwrap();
    assert!(
        text.contains("COPY public.family") && text.contains("Cleo"),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dump).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // In the snapshot: the dump; not the live database folder (`[backup] exclude`).
    let data = repo.join("data").canonicalize().unwrap().join(id);
    let listing = stdout(&restic(&repo, &["ls", "latest"]));
    assert!(
        listing
            .lines()
            .any(|l| Path::new(l) == data.join("postgres-dump/paperless.sql")),
        "{listing}"
    );
    let live = data.join("postgres");
    assert!(
        !listing.lines().any(|l| Path::new(l).starts_with(&live)),
        "the live database folder is in the snapshot:\n{listing}"
    );
    let snaps: serde_json::Value =
        serde_json::from_slice(&ok(repo.stack().args(["backup", "list", id, "--json"])).stdout)
            .unwrap();
    assert_eq!(
        snaps[0]["manifest"]["excluded"],
        serde_json::json!(["postgres"])
    );
    assert_eq!(snaps[0]["manifest"]["consistency"], "on_backup");

    // The family changes its mind; a restore takes the database back to the snapshot.
    psql(
        &db,
        "DELETE FROM family WHERE name = 'Ben'; INSERT INTO family VALUES ('Zed', 1999); \
         CREATE TABLE scratch (x int);",
    );
    let out = ok(repo.stack().args(["restore", id, "--yes"]));
    let err = stderr(&out);
    assert!(err.contains("Loading the database paperless"), "{err}");
    assert!(err.contains("loaded paperless from paperless.sql"), "{err}");
    assert!(err.contains("Restarting"), "{err}");
    // One welcome screen, after the restart on the loaded data (not one per start).
    assert_eq!(err.matches("Ready BK-PG").count(), 1, "{err}");
    assert_eq!(
        psql(
            &db,
            "SELECT string_agg(name || ' ' || born, ', ' ORDER BY name) FROM family"
        ),
        "Ana 1980, Ben 2012, Cleo 2015"
    );
    assert_eq!(
        psql(
            &db,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'scratch'"
        ),
        "0"
    );
    assert_eq!(
        psql(
            &db,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'family_decade'"
        ),
        "1"
    );
    assert_eq!(
        psql(
            &db,
            "SELECT count(*) FROM pg_database WHERE datname LIKE '%stack_restore'"
        ),
        "0"
    );
    // The server runs on a cluster made anew from the dump, in the folder the restore left out.
    assert!(
        repo.join(&format!("data/{id}/postgres/18/docker/PG_VERSION"))
            .exists()
    );
    assert_eq!(get(port).as_deref(), Some("ok\n"));

    // A drill loads the dump into its throw-away instance too, and on_verify counts the rows.
    let out = ok(repo.stack().args(["backup", "drill", id]));
    let line = stdout(&out);
    assert!(line.starts_with("drill passed: bk-pg, snapshot "), "{line}");
    assert!(line.trim_end().ends_with(", verified"), "{line}");
    // The drill reports its own outcome: no welcome screens of its throw-away instance.
    assert!(!stderr(&out).contains("Ready BK-PG"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Loading the database paperless"),
        "{}",
        stderr(&out)
    );
    assert_eq!(drill_containers(id), Vec::<String>::new());

    // A stopped stacklet is started for its dump and stopped again.
    ok(repo.stack().args(["down", id]));
    assert_eq!(inspect(&db, "{{.State.Running}}"), "false");
    let out = ok(repo.stack().args(["backup", id]));
    let err = stderr(&out);
    assert!(err.contains("Starting BK-PG for its dump"), "{err}");
    assert!(err.contains("Dumping the database paperless"), "{err}");
    assert!(err.contains("Stopping BK-PG again"), "{err}");
    assert!(!err.contains("Ready BK-PG"), "{err}");
    assert_eq!(inspect(&db, "{{.State.Running}}"), "false");
    let snaps: serde_json::Value =
        serde_json::from_slice(&ok(repo.stack().args(["backup", "list", id, "--json"])).stdout)
            .unwrap();
    assert_eq!(snaps[1]["manifest"]["consistency"], "on_backup", "{snaps}");
}

/// Removes the test's own image tag and the image it committed, by exact name and id.
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        for image in &self.0 {
            let _ = std::process::Command::new("docker")
                .args(["rmi", image])
                .output();
        }
    }
}

fn image_id(reference: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", reference])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_string()
}

fn docker(args: &[&str]) {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "docker {args:?}: {}", stderr(&out));
}

#[test]
fn a_restore_brings_back_the_recorded_images_and_the_stacklet_runs_them_again() {
    let id = "bk-pins";
    let port = 45750;
    let tag = "stack-test/bk-pins:1";
    let repo = web_repo(id, port, "");
    let compose_path = format!("stacklets/{id}/docker-compose.yml");
    let compose = repo
        .read(&compose_path)
        .replace("stack-test/busybox:1", tag);
    let repo = repo.file(&compose_path, &compose);
    // Image X: the busybox image under a tag of this test's own (recorded by its id: it has no
    // registry digest).
    docker(&["tag", "stack-test/busybox:1", tag]);
    let mut images = Images(vec![tag.to_string()]);
    let _cleanup = repo.cleanup(&[id]);
    let first = image_id(tag);
    ok(repo.stack().args(["up", id]));
    let records_path = format!(".stack/state/{id}/images.json");
    let records = repo.read(&records_path);
    assert!(records.contains(&first), "{records}");

    ok(repo.stack().args(["backup", id]));
    let snaps: serde_json::Value =
        serde_json::from_slice(&ok(repo.stack().args(["backup", "list", id, "--json"])).stdout)
            .unwrap();
    assert_eq!(
        snaps[0]["manifest"]["digests"],
        serde_json::json!({ "web": first })
    );
    let staged = repo
        .join(".stack/backup")
        .canonicalize()
        .unwrap_or(repo.join(".stack/backup"))
        .join(id)
        .join("images.json");
    let listing = stdout(&restic(&repo, &["ls", "latest"]));
    assert!(
        listing
            .lines()
            .any(|l| l.ends_with(&format!("/backup/{id}/images.json"))),
        "{} not in\n{listing}",
        staged.display()
    );

    // The tag moves to image Y, the records are lost, and `up` records and runs Y.
    docker(&["create", "--name", "bk-pins-y", "stack-test/busybox:1"]);
    docker(&["commit", "--change", "LABEL bk-pins=y", "bk-pins-y", tag]);
    docker(&["rm", "bk-pins-y"]);
    let second = image_id(tag);
    images.0.push(second.clone());
    assert_ne!(first, second);
    std::fs::remove_file(repo.join(&records_path)).unwrap();
    ok(repo.stack().args(["up", id]));
    assert_eq!(inspect(&format!("stack-{id}"), "{{.Image}}"), second);

    // The restore puts the records back with the data: the stacklet runs X again.
    ok(repo.stack().args(["restore", id, "--yes"]));
    assert_eq!(repo.read(&records_path), records);
    assert_eq!(inspect(&format!("stack-{id}"), "{{.Image}}"), first);
    assert_eq!(get(port).as_deref(), Some("v1\n"));
}
