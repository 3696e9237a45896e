//! What people read, pinned word for word: the main success and error output of `list`, `status`,
//! `up` (the welcome screen), `env`, `lint` and errors with hints. A wording change shows up here
//! as a snapshot diff to review; `SNAPSHOTS=overwrite cargo test --test integration snapshots`
//! rewrites the `str![]` literals after an intended change.
//!
//! The temporary repo's path is redacted to `[REPO]` and durations to `[TIME]`, so the snapshots
//! hold on any machine. The stacklets here have no containers: the output is the runtime's own.

use snapbox::assert_data_eq;
use snapbox::str;

use crate::support::Repo;

/// stdout and stderr of `stack <args>` (exit code checked), paths and times redacted.
fn run(repo: &Repo, args: &[&str], success: bool) -> (String, String) {
    let out = repo.stack().args(args).output().expect("run stack");
    assert_eq!(
        out.status.success(),
        success,
        "stack {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let redact = |bytes: &[u8]| {
        let text =
            String::from_utf8_lossy(bytes).replace(&repo.path().display().to_string(), "[REPO]");
        redact_times(&text)
    };
    (redact(&out.stdout), redact(&out.stderr))
}

/// Durations after " in " become `[TIME]`; the Docker version and the free space of `status`
/// become `[VERSION]` and `[FREE]`.
fn redact_times(text: &str) -> String {
    text.lines()
        .map(|line| {
            if let Some(version) = line.strip_prefix("Docker:") {
                let pad = version.len() - version.trim_start().len();
                return format!("Docker:{}[VERSION]", " ".repeat(pad));
            }
            match line.rfind(" (").zip(line.strip_suffix(" free)")) {
                Some((at, _)) => format!("{} ([FREE] free)", &line[..at]),
                None => line.to_string(),
            }
        })
        .map(|line| match line.rfind(" in ") {
            Some(at)
                if line[at + 4..].trim_end().ends_with('s')
                    && line[at + 4..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_digit()) =>
            {
                format!("{} in [TIME]", &line[..at])
            }
            _ => line,
        })
        .map(|line| line + "\n")
        .collect()
}

/// Two stacklets without containers: `notes` (with a port, env and hints) requires `base`.
fn repo() -> Repo {
    Repo::new()
        .host_stacklet("hsbase", "")
        .host_stacklet(
            "hsnotes",
            "port = 42871\nrequires = [\"hsbase\"]\nhints = [\"Open {hsnotes_url} and sign in as {admin_username}\"]\n\n[env.defaults]\nNOTES_URL = \"{hsnotes_url}\"\nNOTES_DATA = \"{data_dir}/hsnotes\"\n",
        )
}

#[test]
fn list() {
    let repo = repo();
    let (stdout, _) = run(&repo, &["list"], true);
    assert_data_eq!(
        stdout,
        str![[r#"
ID       NAME     CATEGORY        STATE      URL
hsbase   HSBASE   infrastructure  available
hsnotes  HSNOTES  infrastructure  available  http://192.0.2.10:42871

"#]]
    );
}

#[test]
fn status() {
    let repo = repo();
    let (stdout, _) = run(&repo, &["status"], true);
    assert_data_eq!(
        stdout,
        str![[r#"
Mode:      port
Instance:  [REPO] (default)
Docker:    [VERSION]
Data:      [REPO]/data ([FREE] free)

ID       NAME     CATEGORY        STATE      URL
hsbase   HSBASE   infrastructure  available
hsnotes  HSNOTES  infrastructure  available  http://192.0.2.10:42871

"#]]
    );
}

#[test]
fn up_welcome_screen() {
    let repo = repo();
    run(&repo, &["up", "hsbase"], true);
    let (stdout, stderr) = run(&repo, &["up", "hsnotes"], true);
    assert_data_eq!(stdout, str![]);
    assert_data_eq!(
        stderr,
        str![[r#"
   Rendering HSNOTES environment
       Ready HSNOTES in [TIME]

  HSNOTES — Test stacklet hsnotes
  URL:    http://192.0.2.10:42871
  → Open http://192.0.2.10:42871 and sign in as stackadmin


"#]]
    );
}

#[test]
fn env() {
    let repo = repo();
    let (stdout, _) = run(&repo, &["env", "hsnotes"], true);
    assert_data_eq!(
        stdout,
        str![[r#"
# Written by `stack` on every `stack up`; edits here are overwritten.
NOTES_URL=http://192.0.2.10:42871
NOTES_DATA=[REPO]/data/hsnotes
PORT_BIND_IP=0.0.0.0
WATCHTOWER_ENABLE=true

"#]]
    );
}

#[test]
fn lint_findings() {
    let repo = repo().file(
        "stacklets/hsnotes/docker-compose.yml",
        "name: stack-hsnotes\nservices:\n  app:\n    image: busybox:latest\n    ports:\n      - \"8080:80\"\n",
    );
    let (stdout, stderr) = run(&repo, &["lint", "hsnotes"], false);
    assert_data_eq!(
        stdout,
        str![[r#"
stacklets/hsnotes/docker-compose.yml:1: error: The `stack` network is not declared; add `networks: {stack: {external: true}}`
stacklets/hsnotes/docker-compose.yml:3: error: Service `app` must be named `stack-hsnotes-<service>` (or `stack-hsnotes` when it is the only one)
stacklets/hsnotes/docker-compose.yml:3: error: Service `app` has no `container_name`; set `container_name: app`
stacklets/hsnotes/docker-compose.yml:3: error: Service `app` is not on the `stack` network
stacklets/hsnotes/docker-compose.yml:3: error: Service `app` lacks the label `com.centurylinklabs.watchtower.enable=${WATCHTOWER_ENABLE:-true}`
stacklets/hsnotes/docker-compose.yml:3: error: Service `app` has no `restart: unless-stopped`
stacklets/hsnotes/docker-compose.yml:4: warning: Image `busybox:latest` of service `app` uses the floating tag `latest`; pin a release tag
stacklets/hsnotes/docker-compose.yml:6: error: Port `8080:80` of service `app` must be exactly `${PORT_BIND_IP:-127.0.0.1}:<host>:<container>`
stacklets/hsnotes/stacklet.toml:7: warning: `port` = 42871 is not published by any service of the compose file

"#]]
    );
    assert_data_eq!(
        stderr,
        str![[r#"
error: Lint found 7 errors and 2 warnings in 1 stacklet

"#]]
    );
}

#[test]
fn up_of_a_stacklet_whose_requirement_is_not_set_up() {
    let (_, stderr) = run(&repo(), &["up", "hsnotes"], false);
    assert_data_eq!(
        stderr,
        str![[r#"
error: `hsnotes` requires `hsbase`, which is not set up

hint: stack up hsbase

"#]]
    );
}

#[test]
fn unknown_stacklet_gets_the_closest_id() {
    let (_, stderr) = run(&repo(), &["up", "hsnote"], false);
    assert_data_eq!(
        stderr,
        str![[r#"
error: Unknown stacklet `hsnote`

hint: did you mean `hsnotes`?

"#]]
    );
}

#[test]
fn unknown_command_gets_the_closest_verb() {
    let (_, stderr) = run(&repo(), &["stauts"], false);
    assert_data_eq!(
        stderr,
        str![[r#"
error: Unknown command or stacklet `stauts`

hint: did you mean `stack status`?

"#]]
    );
}

#[test]
fn invalid_manifest_names_file_key_and_line() {
    let repo = repo().file(
        "stacklets/hsbase/stacklet.toml",
        &crate::support::manifest("hsbase", "port = 99999\n"),
    );
    // A broken manifest blocks only its own stacklet: `up` of it names the problem.
    let (_, stderr) = run(&repo, &["up", "hsbase"], false);
    assert_data_eq!(
        stderr,
        str![[r#"
error: Invalid `stacklets/hsbase/stacklet.toml` key `port`: port 99999 is out of range (line 6); expected 1–65535

"#]]
    );
}

#[test]
fn unknown_template_variable_gets_a_hint() {
    let repo = repo().host_stacklet("hstypo", "[env.defaults]\nDATA = \"{dta_dir}/x\"\n");
    let (_, stderr) = run(&repo, &["env", "hstypo"], false);
    assert_data_eq!(
        stderr,
        str![[r#"
error: Unknown template variable `dta_dir` in `stacklets/hstypo/stacklet.toml` [env.defaults].DATA

hint: did you mean `data_dir`?

"#]]
    );
}
