//! Ctrl-C and `kill` during a shell hook: the hook's whole process group is stopped before `stack`
//! exits (so the instance lock is never released while a child of it runs), and `up` says what was
//! interrupted and that nothing was marked set up.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use rustix::process::{Pid, Signal, kill_process};

use crate::support::Repo;

/// `up` of a host stacklet whose `on_install` writes its own pid and a background child's pid (a
/// background job of a script ignores SIGINT, so only the kill after the grace ends it), says
/// `started`, then runs on. `hook_prelude` goes first (e.g. a `trap` that ignores the signal).
fn interrupted_up(signal: Signal, hook_prelude: &str) -> (Repo, std::process::Output) {
    let repo = Repo::new().stacklet("rb2-sig", "type = \"host\"\n").file(
        "stacklets/rb2-sig/hooks/on_install.sh",
        &format!(
            "{hook_prelude}\necho $$ > hook.pid\nsleep 300 &\necho $! > child.pid\necho started\nsleep 300\ntouch late\n"
        ),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_stack"))
        .args(["up", "rb2-sig"])
        .current_dir(repo.path())
        .env_remove("STACK_DIR")
        .env_remove("STACK_ROOT")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stack");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    // Wait for the hook to be running (an observable event, not a sleep).
    loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "stack ended before the hook started:\n{seen}");
        seen.push_str(&line);
        if line.contains("started") {
            break;
        }
    }
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    kill_process(pid, signal).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let mut out = child.wait_with_output().unwrap();
    out.stderr = (seen + &rest).into_bytes();
    (repo, out)
}

/// True while `pid` exists and is not a zombie waiting to be reaped.
fn alive(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
    stat.is_ok_and(|s| {
        let state = s.rsplit(')').next().unwrap_or("").split_whitespace().next();
        state != Some("Z")
    })
}

fn assert_hook_group_gone(repo: &Repo) {
    for file in ["hook.pid", "child.pid"] {
        let pid = repo.read(&format!("stacklets/rb2-sig/{file}"));
        assert!(!alive(&pid), "{file} ({}) outlived stack", pid.trim());
    }
    assert!(!repo.join("stacklets/rb2-sig/late").exists());
    assert!(!repo.join(".stack/rb2-sig.setup-done").exists());
}

#[test]
fn sigint_during_a_shell_hook_stops_its_group_and_says_so() {
    let (repo, out) = interrupted_up(Signal::INT, "");
    let err = crate::support::stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains(
            "error: Interrupted (SIGINT) during on_install of `rb2-sig`; nothing was marked set up"
        ),
        "{err}"
    );
    assert_hook_group_gone(&repo);
}

/// A hook that ignores the signal is killed after the grace period; `stack` still waits for it.
#[test]
fn sigterm_to_a_hook_that_ignores_it_kills_the_group_after_the_grace() {
    let (repo, out) = interrupted_up(Signal::TERM, "trap '' TERM INT");
    let err = crate::support::stderr(&out);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(
        err.contains(
            "error: Interrupted (SIGTERM) during on_install of `rb2-sig`; nothing was marked set up"
        ),
        "{err}"
    );
    assert_hook_group_gone(&repo);
}
