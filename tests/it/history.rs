//! Issue 13 §5: `.stack/events.jsonl` records every state change, and `stack history` shows it
//! newest first. Ids `reg-h*`, ports 451xx.

use crate::support::{Repo, Web, stderr, stdout};

fn run(repo: &Repo, args: &[&str]) -> std::process::Output {
    repo.stack().args(args).output().unwrap()
}

fn history_json(repo: &Repo, args: &[&str]) -> Vec<serde_json::Value> {
    let out = run(repo, &[&["history", "--json"], args].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("history --json is one JSON list")
}

fn field<'a>(events: &'a [serde_json::Value], key: &str) -> Vec<&'a str> {
    events.iter().map(|e| e[key].as_str().unwrap()).collect()
}

#[test]
fn state_changes_are_recorded_newest_first() {
    let repo = Repo::new()
        .web_stacklet("reg-hist", 45101, Web::default())
        .host_stacklet("reg-hbad", "")
        .file(
            "stacklets/reg-hbad/hooks/on_configure.sh",
            "echo broken >&2\nexit 3\n",
        );
    let _cleanup = repo.cleanup(&["reg-hist"]);

    assert!(run(&repo, &["up", "reg-hist"]).status.success());
    assert!(run(&repo, &["down", "reg-hist"]).status.success());
    assert!(run(&repo, &["restart", "reg-hist"]).status.success());
    assert_eq!(run(&repo, &["up", "reg-hbad"]).status.code(), Some(1));
    let out = run(&repo, &["destroy", "reg-hist", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Unknown ids and no-op downs are not events.
    assert_eq!(run(&repo, &["up", "reg-nope"]).status.code(), Some(1));
    assert!(run(&repo, &["down", "reg-hbad"]).status.success());

    let events = history_json(&repo, &[]);
    assert_eq!(
        field(&events, "action"),
        ["destroy", "up", "restart", "down", "up"]
    );
    assert_eq!(
        field(&events, "stacklet"),
        ["reg-hist", "reg-hbad", "reg-hist", "reg-hist", "reg-hist"]
    );
    assert_eq!(
        field(&events, "outcome"),
        ["ok", "failed", "ok", "ok", "ok"]
    );
    assert!(
        events[1]["detail"]
            .as_str()
            .unwrap()
            .contains("on_configure"),
        "{:?}",
        events[1]
    );
    for e in &events {
        let time = e["time"].as_str().unwrap();
        assert!(
            time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
            "{time}"
        );
    }

    // Filter and limit.
    assert_eq!(
        field(
            &history_json(&repo, &["reg-hist", "--limit", "2"]),
            "action"
        ),
        ["destroy", "restart"]
    );
    let out = run(&repo, &["history"]);
    let text = stdout(&out);
    assert!(text.starts_with("TIME"), "{text}");
    assert!(text.lines().nth(1).unwrap().contains("destroy"), "{text}");
    // An id that is neither a stacklet nor in the history.
    let out = run(&repo, &["history", "reg-nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn a_torn_last_line_is_reported_and_never_fatal() {
    let repo = Repo::new().host_stacklet("reg-htorn", "").file(
        ".stack/events.jsonl",
        "{\"time\":\"2026-11-28T00:00:00Z\",\"stacklet\":\"reg-htorn\",\"action\":\"up\",\"outcome\":\"ok\",\"detail\":\"running\"}\n{\"time\":\"2026-11-28T00:0",
    );
    let out = run(&repo, &["history", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    let events: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(events.len(), 1);

    // The next event lands on its own line; only the torn one stays unreadable.
    assert!(run(&repo, &["up", "reg-htorn"]).status.success());
    let events = history_json(&repo, &[]);
    assert_eq!(field(&events, "stacklet"), ["reg-htorn", "reg-htorn"]);
    assert_eq!(
        repo.read(".stack/events.jsonl").lines().count(),
        3,
        "torn line ended, new event on its own line"
    );
}
