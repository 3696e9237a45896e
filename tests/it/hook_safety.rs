//! A hook cannot end `stack` behind its back, and its output follows `stack`'s colour choice.

use crate::support::{Repo, stderr};

fn with_hook(file: &str, body: &str) -> Repo {
    Repo::new()
        .stacklet("rb2-hook", "type = \"host\"\n")
        .file(&format!("stacklets/rb2-hook/hooks/{file}"), body)
}

/// `os._exit(3)` in the embedded interpreter would end the whole process silently; it ends the
/// hook as `sys.exit(3)` would, and `up` reports it.
#[test]
fn os_exit_in_a_python_hook_is_reported_not_silent() {
    let repo = with_hook(
        "on_install.py",
        "import os\n\ndef run(ctx):\n    print('before exit')\n    try:\n        os._exit(3)\n    finally:\n        print('cleanup')\n    print('never')\n",
    );
    let out = repo.stack().args(["up", "rb2-hook"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("before exit"), "{err}");
    assert!(!err.contains("never"), "{err}");
    assert!(
        err.contains(&format!(
            "error: `{}` exited with status 3",
            repo.join("stacklets/rb2-hook/hooks/on_install.py")
                .display()
        )),
        "{err}"
    );
    assert!(!repo.join(".stack/rb2-hook.setup-done").exists());
}

/// `os._exit(0)` ends the hook successfully and `up` goes on.
#[test]
fn os_exit_zero_ends_only_the_hook() {
    let repo = with_hook(
        "on_install.py",
        "import os\n\ndef run(ctx):\n    os._exit(0)\n",
    );
    let out = repo.stack().args(["up", "rb2-hook"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(repo.join(".stack/rb2-hook.setup-done").exists());
}

/// Colour codes a hook prints are removed under `NO_COLOR` (the test harness sets it), from
/// shell and Python hooks alike.
#[test]
fn hook_colour_codes_are_stripped_without_colour() {
    for (file, body) in [
        (
            "on_install.sh",
            "printf '\\033[31mred\\033[0m \\033[1;32mbold green\\033[0m\\n'\n",
        ),
        (
            "on_install.py",
            "def run(ctx):\n    print('\\x1b[31mred\\x1b[0m \\x1b[1;32mbold green\\x1b[0m')\n",
        ),
    ] {
        let repo = with_hook(file, body);
        let out = repo.stack().args(["up", "rb2-hook"]).output().unwrap();
        let err = stderr(&out);
        assert!(out.status.success(), "{err}");
        assert!(err.contains("│ red bold green\n"), "{file}: {err:?}");
        assert!(!err.contains('\u{1b}'), "{file}: {err:?}");
    }
}
