//! Shell completion (issue 15 §4): the registration scripts, the dynamic candidates — verbs,
//! stacklet ids, a stacklet's own commands — as the shell would ask for them, and the man pages.

use crate::support::{Repo, stderr, stdout};

fn repo() -> Repo {
    Repo::new()
        .host_stacklet("py-notes", "")
        .host_stacklet("py-photos", "")
        .file(
            "stacklets/py-notes/cli/echo.py",
            "HELP = \"Print the arguments\"\ndef run(args, stacklet, config):\n    pass\n",
        )
        .file("stacklets/py-notes/cli/tidy.py", "print('tidy')\n")
}

/// What bash's registration asks: `COMPLETE=bash stack -- <words…>` with the cursor on `index`.
fn complete(repo: &Repo, shell: &str, words: &[&str]) -> Vec<String> {
    let out = repo
        .stack()
        .env("COMPLETE", shell)
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .env("_CLAP_IFS", "\n")
        .arg("--")
        .args(words)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "completion prints only candidates");
    stdout(&out).lines().map(str::to_string).collect()
}

#[test]
fn completion_offers_verbs_ids_and_a_stacklets_commands() {
    let repo = repo();
    let first = complete(&repo, "bash", &["stack", ""]);
    for word in ["up", "status", "completions", "py-notes", "py-photos"] {
        assert!(first.iter().any(|w| w == word), "{word} in {first:?}");
    }
    assert_eq!(complete(&repo, "bash", &["stack", "py-n"]), ["py-notes"]);
    let commands = complete(&repo, "bash", &["stack", "py-notes", ""]);
    assert!(
        commands.starts_with(&["echo".to_string(), "tidy".to_string()]),
        "{commands:?}"
    );
    let targets = complete(&repo, "bash", &["stack", "up", ""]);
    assert!(
        targets.starts_with(&["py-notes".into(), "py-photos".into(), "all".into()]),
        "{targets:?}"
    );
    let ids = complete(&repo, "bash", &["stack", "logs", "py-p"]);
    assert_eq!(ids, ["py-photos"]);
    // fish shows each candidate's help after a tab.
    let fish = complete(&repo, "fish", &["stack", "py-notes", ""]);
    assert!(
        fish.iter().any(|l| l == "echo\tPrint the arguments"),
        "{fish:?}"
    );
}

#[test]
fn completion_scripts_for_each_shell_call_back_into_stack() {
    let repo = repo();
    for shell in ["bash", "zsh", "fish"] {
        let out = repo.stack().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let script = stdout(&out);
        assert!(
            script.contains(&format!("COMPLETE=\"{shell}\""))
                || script.contains(&format!("COMPLETE={shell}")),
            "{shell}: {script}"
        );
    }
    let out = repo.stack().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_writes_a_page_per_verb() {
    let repo = repo();
    let dir = repo.join("man");
    let out = repo
        .stack()
        .args(["man", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for page in [
        "stack.1",
        "stack-up.1",
        "stack-completions.1",
        "stack-version.1",
    ] {
        assert!(dir.join(page).is_file(), "{page}");
    }
    let up = std::fs::read_to_string(dir.join("stack-up.1")).unwrap();
    assert!(up.contains("stack\\-up"), "{up}");
}
