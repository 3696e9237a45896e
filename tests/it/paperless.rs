//! The shipped `docs` stacklet's settings for Paperless that depend on the machine, as
//! `stack env` renders them (no Paperless image can be pulled here; upstream's meaning of each
//! variable: paperless-ngx v3.0.5 `docs/configuration.md` and `init-modify-user/run`).

use std::os::unix::fs::chown;
use std::path::Path;

use crate::support::{Repo, stderr};

#[test]
fn paperless_runs_as_the_owner_of_the_data_dir_and_polls_only_off_linux() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut repo = Repo::new();
    for file in ["stacklet.toml", "docker-compose.yml"] {
        repo = repo.file(
            &format!("stacklets/docs/{file}"),
            &std::fs::read_to_string(root.join("stacklets/docs").join(file)).unwrap(),
        );
    }
    // The person who owns the data dir (this test runs as root, so it can hand it to anyone).
    std::fs::create_dir_all(repo.join("data")).unwrap();
    chown(repo.join("data"), Some(1234), Some(2345)).expect("chown (the test suite runs as root)");

    let out = repo
        .stack()
        .args(["env", "docs", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let env: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(env["USERMAP_UID"], "1234");
    assert_eq!(env["USERMAP_GID"], "2345");
    let poll = if cfg!(target_os = "linux") { "0" } else { "10" };
    assert_eq!(env["PAPERLESS_CONSUMER_POLLING_INTERVAL"], poll);

    // The compose file hands them to the container.
    let compose = repo.read("stacklets/docs/docker-compose.yml");
    for key in [
        "USERMAP_UID",
        "USERMAP_GID",
        "PAPERLESS_CONSUMER_POLLING_INTERVAL",
    ] {
        assert!(
            compose.contains(&format!("{key}: ${{{key}}}")),
            "{key} is not passed on"
        );
    }
}
