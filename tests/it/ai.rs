//! The `ai` host stacklet's prerequisites, checked before anything calls `brew`: macOS 15+ on
//! Apple Silicon for oMLX, Homebrew, and a whisper.cpp build that ships `whisper-server` (the
//! Homebrew formula builds without it). The decision is a pure function of the facts in
//! `stacklets/ai/hooks/_host.py`, exercised here with the facts of Macs this machine is not; on
//! this Linux machine `stack up ai` itself must stop with the "needs macOS" message.

use std::path::Path;

use crate::support::{Repo, stderr};

/// `missing_prerequisites(facts)` of the shipped `_host.py`, one problem a line.
fn problems(facts: &str) -> Vec<String> {
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacklets/ai/hooks");
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sys; sys.path.insert(0, sys.argv[1]); from _host import missing_prerequisites\n\
             for p in missing_prerequisites({facts}): print(p.replace('\\n', ' '))"
        ))
        .arg(&hooks)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn mac(macos: &str, machine: &str, brew: bool, server: bool) -> String {
    let path = |yes: bool, p: &str| if yes { format!("'{p}'") } else { "None".into() };
    format!(
        "{{'system': 'Darwin', 'macos': '{macos}', 'machine': '{machine}', 'brew': {}, 'whisper_server': {}}}",
        path(brew, "/opt/homebrew/bin/brew"),
        path(server, "/opt/homebrew/bin/whisper-server")
    )
}

#[test]
fn a_mac_with_everything_has_no_missing_prerequisite() {
    assert!(problems(&mac("15.1", "arm64", true, true)).is_empty());
    assert!(problems(&mac("26.0", "arm64", true, true)).is_empty());
}

#[test]
fn each_missing_prerequisite_says_what_to_do() {
    let old = problems(&mac("14.6.1", "arm64", true, true));
    assert_eq!(old.len(), 1, "{old:?}");
    assert!(
        old[0].contains("oMLX needs macOS 15 (Sequoia) or newer; this Mac runs macOS 14.6.1"),
        "{old:?}"
    );
    assert!(old[0].contains("Software Update"), "{old:?}");

    let intel = problems(&mac("15.0", "x86_64", true, true));
    assert!(intel[0].contains("needs Apple Silicon"), "{intel:?}");

    let no_brew = problems(&mac("15.0", "arm64", false, true));
    assert!(
        no_brew[0].contains("install it from https://brew.sh"),
        "{no_brew:?}"
    );

    let no_server = problems(&mac("15.0", "arm64", true, false));
    assert_eq!(no_server.len(), 1, "{no_server:?}");
    assert!(
        no_server[0].contains("-DWHISPER_BUILD_SERVER=ON"),
        "{no_server:?}"
    );
    assert!(
        no_server[0].contains("[ai].whisper_server"),
        "{no_server:?}"
    );

    assert_eq!(problems(&mac("13.0", "x86_64", false, false)).len(), 4);
}

#[test]
fn up_ai_on_linux_stops_before_brew_with_what_to_do() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut repo = Repo::new().file(
        "stacklets/ai/stacklet.toml",
        &std::fs::read_to_string(root.join("stacklets/ai/stacklet.toml")).unwrap(),
    );
    for entry in std::fs::read_dir(root.join("stacklets/ai/hooks")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        repo = repo.file(
            &format!("stacklets/ai/hooks/{name}"),
            &std::fs::read_to_string(&path).unwrap(),
        );
    }
    let out = repo.stack().args(["up", "ai"]).output().unwrap();
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    let system = if cfg!(target_os = "linux") {
        "Linux"
    } else {
        "Darwin"
    };
    assert!(
        err.contains(&format!("needs macOS with Homebrew; this is {system}")),
        "{err}"
    );
    assert!(
        err.contains("point [ai].openai_url and [ai].whisper_url"),
        "{err}"
    );
    assert!(
        !repo.join("data/ai/.state").exists(),
        "nothing was prepared"
    );
}
