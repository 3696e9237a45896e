//! Stacklet CLI commands (contract §5): `stack <id> <command> [args…]` runs `cli/<command>.py`;
//! `stack <id> --help` lists the commands with their `HELP` strings.

use predicates::prelude::*;
use predicates::str::contains;

use crate::support::{Repo, stderr, stdout};

fn repo() -> Repo {
    Repo::new()
        .host_stacklet("notes",
            "[env]\ngenerate = [\"NOTES_TOKEN\"]\n\n[env.defaults]\nNOTES_DIR = \"{data_dir}/notes\"\n",
        )
        .file(
            "stacklets/notes/cli/_fmt.py",
            "def shout(words):\n    return ' '.join(w.upper() for w in words)\n",
        )
        .file(
            "stacklets/notes/cli/echo.py",
            r#"HELP = "Print the arguments in capitals"
import sys
from _fmt import shout

def run(args, stacklet, config):
    print(shout(args))
    print("argv", sys.argv)
    print("id", stacklet["id"], stacklet.stacklet_id)
    print("dir", stacklet.env["NOTES_DIR"].endswith("/data/notes"))
    print("token", len(stacklet.secret("NOTES_TOKEN")))
    print("data_dir", config["core"]["data_dir"])
    print("to stderr", file=sys.stderr)
"#,
        )
        .file(
            "stacklets/notes/cli/fail.py",
            "HELP = \"\"\"Always fails.\n\nA second line that the listing leaves out.\"\"\"\n\ndef run(args, stacklet, config):\n    raise ValueError('no notes for ' + ','.join(args))\n",
        )
        .file(
            "stacklets/notes/cli/quit.py",
            "import sys\nprint('before exit')\nsys.exit(int(sys.argv[1]))\n",
        )
        .file(
            "stacklets/notes/cli/post_setup.py",
            "HELP = 'not a command'\n",
        )
}

#[test]
fn a_command_gets_args_env_secrets_config_and_private_helpers() {
    let repo = repo();
    let out = repo
        .stack()
        .args(["notes", "echo", "hello", "--flag", "two words"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let text = stdout(&out);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "HELLO --FLAG TWO WORDS",
            "argv ['echo', 'hello', '--flag', 'two words']",
            "id notes notes",
            "dir True",
            "token 32",
            "data_dir data",
        ],
        "stderr: {err}"
    );
    assert!(err.contains("to stderr"), "{err}");
}

#[test]
fn help_lists_commands_with_their_help_strings() {
    let repo = repo();
    for args in [
        &["notes", "--help"][..],
        &["notes"][..],
        &["notes", "-h"][..],
    ] {
        let out = repo.stack().args(args).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "NOTES (notes) commands:\n\n  echo  Print the arguments in capitals\n  fail  Always fails.\n  quit\n\nUsage: stack notes <command> [args…]\n"
        );
    }
}

#[test]
fn a_stacklet_without_commands_says_so() {
    let repo = Repo::new().host_stacklet("plain", "");
    repo.stack()
        .args(["plain", "--help"])
        .assert()
        .success()
        .stdout("")
        .stderr(contains("`plain` (PLAIN) has no commands"));
}

#[test]
fn an_exception_exits_1_with_the_error() {
    let repo = repo();
    repo.stack()
        .args(["notes", "fail", "a", "b"])
        .assert()
        .code(1)
        .stderr(contains("error: `").and(contains(
            "stacklets/notes/cli/fail.py` failed at line 6: ValueError: no notes for a,b",
        )));
}

#[test]
fn sys_exit_sets_the_exit_code() {
    let repo = repo();
    let out = repo.stack().args(["notes", "quit", "7"]).output().unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(stdout(&out), "before exit\n");
    assert!(!stderr(&out).contains("error:"), "{}", stderr(&out));
    repo.stack().args(["notes", "quit", "0"]).assert().success();
}

#[test]
fn an_unknown_command_is_a_usage_error_with_the_closest_one() {
    let repo = repo();
    repo.stack()
        .args(["notes", "ecco"])
        .assert()
        .code(2)
        .stderr(
            contains("error: Unknown command `ecco` for `notes`")
                .and(contains("hint: did you mean `stack notes echo`?")),
        );
    // Helpers and post_setup are not commands.
    repo.stack()
        .args(["notes", "_fmt"])
        .assert()
        .code(2)
        .stderr(contains("Unknown command `_fmt`"));
    repo.stack().args(["notes", "post_setup"]).assert().code(2);
    repo.stack()
        .args(["notes", "zzzzzzzz"])
        .assert()
        .code(2)
        .stderr(contains("hint: `stack notes --help` lists its commands"));
}

#[test]
fn an_unknown_first_word_is_still_a_usage_error() {
    let repo = repo();
    repo.stack()
        .args(["notez", "echo"])
        .assert()
        .code(2)
        .stderr(contains("hint: did you mean `stack notes`?"));
}
