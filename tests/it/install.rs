//! `stack install`: the real wizard driven through a pseudo-terminal (tmux: keys in, screen out),
//! the flag form for scripts, and the promise never to overwrite an existing file.

use std::path::Path;
use std::process::Command as Process;
use std::time::{Duration, Instant};

use crate::support::{Repo, Web, stderr, stdout};

const WIZ_PORT: u16 = 42850;
const FLAGS_PORT: u16 = 42851;

/// A repo with one web stacklet (`login_field = "email"`) and no `stack.toml` yet.
fn fresh_repo(id: &str, port: u16) -> Repo {
    let repo = Repo::new().web_stacklet(
        id,
        port,
        Web {
            manifest: "login_field = \"email\"\n",
            ..Web::default()
        },
    );
    std::fs::remove_file(repo.join("stack.toml")).expect("remove the builder's stack.toml");
    repo
}

fn assert_has(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(text.contains(line), "missing {line:?}:\n{text}");
    }
}

/// A tmux session running `stack install` in `dir`; killed when dropped.
struct Terminal {
    session: String,
}

impl Terminal {
    /// `stack <args>` in `dir`; `tag` keeps concurrent sessions of one test process apart.
    fn start(dir: &Path, tag: &str, args: &str) -> Self {
        let session = format!("new-wiz-{tag}-{}", std::process::id());
        let bin = env!("CARGO_BIN_EXE_stack");
        // The exit code goes to a file; the pane stays open for the last screen.
        let script = format!(
            "cd '{}' && env -u STACK_DIR -u STACK_ROOT -u NO_COLOR HOME='{}' STACK_LAN_IP=127.0.0.1 TZ=Europe/Vienna '{bin}' {args}; echo $? > install.exit; sleep 600",
            dir.display(),
            dir.join("home").display(),
        );
        let out = Process::new("tmux")
            .args(["new-session", "-d", "-s", &session, "-x", "120", "-y", "60"])
            .arg(&script)
            .output()
            .expect("tmux is required for the wizard test: apt-get install tmux (scripts/test.sh installs it)");
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { session }
    }

    fn screen(&self) -> String {
        let out = Process::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until `text` is on the screen (the wizard is ready for the next key), or fails with
    /// the screen as it is.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the wizard never showed {text:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &[&str]) {
        let out = Process::new("tmux")
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .output()
            .expect("tmux send-keys");
        assert!(out.status.success());
    }

    /// Type `text` and Enter once `prompt` is shown.
    fn answer(&self, prompt: &str, text: &str) {
        self.wait_for(prompt);
        if text.is_empty() {
            self.keys(&["Enter"]);
        } else {
            self.keys(&["-l", text]);
            self.keys(&["Enter"]);
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = Process::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .output();
    }
}

#[test]
fn the_wizard_in_a_terminal_writes_the_config_and_starts_a_first_stacklet() {
    let repo = fresh_repo("new-wiz", WIZ_PORT);
    let _cleanup = repo.cleanup(&["new-wiz"]);
    let term = Terminal::start(repo.path(), "wizard", "install");

    let checks = term.wait_for("Family name");
    assert!(checks.contains("Found Python 3."), "{checks}");
    assert!(checks.contains("Found Docker Engine"), "{checks}");
    term.answer("Family name", "The Smiths");
    // The server name is derived from the family name: Enter takes it.
    term.wait_for("(thesmiths)");
    term.answer("Matrix server name", "");
    term.answer("Your name", "Arthur Dent");
    term.wait_for("(arthur)");
    term.answer("Your id", "");
    term.answer("Another family member's name", "Sarah Connor");
    term.answer("Sarah Connor's id", "");
    term.answer("Another family member's name", "");
    // Validation: a misspelt zone is refused with the right spelling, then accepted.
    term.wait_for("Time zone (Europe/Vienna)");
    term.answer("Time zone", "europe/berlin");
    term.wait_for("did you mean `Europe/Berlin`?");
    term.keys(&["-l", "Europe/Berlin"]);
    term.keys(&["Enter"]);
    // The language follows the chosen time zone.
    term.wait_for("Language (de)");
    term.answer("Language", "");
    // Arrow keys: down to domain mode and back up to port mode.
    term.wait_for("How should the family reach the services?");
    term.keys(&["Down"]);
    term.keys(&["Up"]);
    term.keys(&["Enter"]);
    term.answer("Data folder", "data");
    let summary = term.wait_for("Write stack.toml and users.toml?");
    assert!(
        summary.contains("@sarah:thesmiths  Sarah Connor"),
        "{summary}"
    );
    term.keys(&["Enter"]);
    term.wait_for("Start a first service?");
    term.keys(&["Down"]);
    term.keys(&["Enter"]);
    let end = term.wait_for("Done. Next:");
    assert!(end.contains("Ready NEW-WIZ"), "{end}");
    let exit = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(code) = std::fs::read_to_string(repo.join("install.exit")) {
                break code;
            }
            assert!(
                Instant::now() < deadline,
                "no exit code:\n{}",
                term.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    assert_eq!(exit.trim(), "0", "{}", term.screen());
    if let Ok(path) = std::env::var("STACK_WIZARD_TRANSCRIPT") {
        std::fs::write(path, term.screen()).expect("write the transcript");
    }

    assert_has(
        &repo.read("stack.toml"),
        &[
            "family   = \"The Smiths\"",
            "domain   = \"\"",
            "data_dir = \"data\"",
            "timezone = \"Europe/Berlin\"",
            "language = \"de\"",
            "server_name = \"thesmiths\"",
        ],
    );
    let users = repo.read("users.toml");
    assert!(
        users.contains("id        = \"sarah\"\nname      = \"Sarah Connor\""),
        "{users}"
    );
    assert!(users.contains("stacklets = [\"new-wiz\"]"), "{users}");
    // The config is what every other command reads, without a warning.
    let out = repo.stack().args(["config"]).output().unwrap();
    assert!(
        out.status.success() && !stderr(&out).contains("warning"),
        "{}",
        stderr(&out)
    );
    // The first stacklet runs and the start page lists it.
    let page = repo.read(".stack/start/index.html");
    assert!(page.contains("The Smiths"), "{page}");
    assert!(
        page.contains(&format!("href=\"http://127.0.0.1:{WIZ_PORT}\"")),
        "{page}"
    );
    let _ = repo.stack().args(["destroy", "new-wiz", "--yes"]).output();
}

#[test]
fn the_flag_form_answers_everything_without_a_terminal() {
    let repo = fresh_repo("new-flags", FLAGS_PORT);
    let _cleanup = repo.cleanup(&["new-flags"]);
    let out = repo
        .stack()
        .env("STACK_LAN_IP", "127.0.0.1")
        .args([
            "install",
            "--yes",
            "--family",
            "Müller",
            "--admin",
            "Anna-Lena Müller:anna",
            "--member",
            "Tom",
            "--member",
            "Zoë:zoe",
            "--timezone",
            "Europe/Zurich",
            "--domain",
            "home.internal",
            "--data-dir",
            "data",
            "--up",
            "new-flags",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "progress goes to stderr");
    assert_has(
        &repo.read("stack.toml"),
        &[
            "family   = \"Müller\"",
            "domain   = \"home.internal\"",
            "timezone = \"Europe/Zurich\"",
            // Derived from the time zone.
            "language = \"de\"",
            // Only [a-z0-9._-] of the family name.
            "server_name = \"mller\"",
        ],
    );
    let users = repo.read("users.toml");
    for id in ["anna", "tom", "zoe"] {
        assert!(users.contains(&format!("id        = \"{id}\"")), "{users}");
    }
    assert!(users.contains("name      = \"Anna-Lena Müller\""));
    assert!(repo.join(".stack/start/index.html").exists(), "--up ran");
    let _ = repo
        .stack()
        .args(["destroy", "new-flags", "--yes"])
        .output();
}

#[test]
fn existing_files_are_shown_and_kept_byte_for_byte() {
    let repo = fresh_repo("new-keep", 42852);
    let mine = "# my own\n[core]\ndata_dir = \"data\"\n";
    let repo = repo.file("stack.toml", mine);
    let out = repo
        .stack()
        .args([
            "install",
            "--yes",
            "--admin",
            "Arthur",
            "--data-dir",
            "data",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("already exists:\n  │ # my own"), "{err}");
    assert!(err.contains("Kept"), "{err}");
    assert_eq!(repo.read("stack.toml"), mine);
    assert!(repo.read("users.toml").contains("id        = \"arthur\""));

    // Both exist now: nothing is asked or written.
    let users = repo.read("users.toml");
    let out = repo.stack().args(["install", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(repo.read("stack.toml"), mine);
    assert_eq!(repo.read("users.toml"), users);
}

#[test]
fn usage_errors_without_a_terminal_or_without_an_admin() {
    let repo = fresh_repo("new-usage", 42853);
    let out = repo.stack().arg("install").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    let out = repo.stack().args(["install", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--admin"), "{}", stderr(&out));
    let out = repo
        .stack()
        .args([
            "install",
            "--yes",
            "--admin",
            "A",
            "--timezone",
            "Mars/Base",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!repo.join("stack.toml").exists() && !repo.join("users.toml").exists());
}

#[test]
fn a_bare_stack_on_a_terminal_without_config_suggests_the_wizard() {
    let repo = fresh_repo("new-bare", 42854);
    let term = Terminal::start(repo.path(), "bare", "");
    term.wait_for("No `stack.toml` in");
    term.wait_for("run `stack install` to set up this machine");
    // Not on a terminal (scripts, pipes): only the help, no suggestion.
    let out = repo.stack().output().unwrap();
    assert!(out.status.success());
    assert!(!stderr(&out).contains("stack install"), "{}", stderr(&out));
}
