//! The offline demo end to end with a real container: the shipped `hello` stacklet in a temp copy
//! of the repo, `busybox:1.36.1` made locally (scripts/test-images.sh, no registry), `stack up
//! hello` twice, the page fetched over HTTP, then `stack destroy hello --yes`.
//!
//! `hello` has a fixed container name and port (stack-hello, 42000), so this test and a running
//! `scripts/demo.sh` on the same machine exclude each other.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use crate::support::{Repo, stderr, stdout};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        // A developer's rendered `.env` or Python caches are not part of the stacklet.
        if name == ".env" || name == "__pycache__" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).expect("copy");
        }
    }
}

/// `GET /` on 127.0.0.1:42000: the status line and body, or `None` when nothing answers.
fn get_page() -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", 42000)).ok()?;
    write!(stream, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text)
}

/// Removes the demo even when an assertion fails half way.
struct Destroy<'a>(&'a Repo);

impl Drop for Destroy<'_> {
    fn drop(&mut self) {
        let _ = self.0.stack().args(["destroy", "hello", "--yes"]).output();
    }
}

#[test]
fn hello_demo_runs_offline_with_a_local_busybox_image() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let images = Command::new(root.join("scripts/test-images.sh"))
        .args(["--busybox-tag", "busybox:1.36.1"])
        .output()
        .expect("run scripts/test-images.sh");
    assert!(
        images.status.success(),
        "cannot prepare busybox:1.36.1 (needs Docker and Debian's busybox-static; scripts/test.sh installs them): {}",
        stderr(&images)
    );

    let repo = Repo::new();
    copy_dir(&root.join("stacklets/hello"), &repo.join("stacklets/hello"));
    let _cleanup = Destroy(&repo);

    let up = repo.stack().args(["up", "hello"]).output().unwrap();
    let log = stderr(&up);
    assert!(up.status.success(), "{}{log}", stdout(&up));
    assert!(log.contains("Wrote "), "on_install writes the page:\n{log}");
    assert!(log.contains("Ready Hello"), "{log}");

    let page = get_page().expect("hello answers on 42000");
    assert!(
        page.starts_with("HTTP/1.1 200") || page.starts_with("HTTP/1.0 200"),
        "{page}"
    );
    assert!(page.contains("Hello from your stack"), "{page}");
    assert!(page.contains("Time zone: <strong>UTC</strong>"), "{page}");

    // Idempotent: a second `up` converges to the same state and keeps the page.
    let again = repo.stack().args(["up", "hello"]).output().unwrap();
    let log = stderr(&again);
    assert!(again.status.success(), "{log}");
    assert!(!log.contains("Wrote "), "first-run hooks ran again:\n{log}");
    assert!(
        !log.contains("Creating"),
        "the container was recreated:\n{log}"
    );
    assert!(get_page().is_some_and(|p| p.contains("Hello from your stack")));

    let destroy = repo
        .stack()
        .args(["destroy", "hello", "--yes"])
        .output()
        .unwrap();
    assert!(destroy.status.success(), "{}", stderr(&destroy));
    assert!(!repo.join("data/hello").exists(), "data folder removed");
    assert!(get_page().is_none(), "nothing answers after destroy");
}
