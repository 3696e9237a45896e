//! How errors read: the error line, each cause once under `Caused by:`, then the hint that fits
//! the failure.

use crate::support::{Repo, ensure_test_images, stderr};

/// A write to `.stack/secrets.toml` that the file system refuses says why, and its hint is about
/// the file system, not about a corrupt file. `ulimit -f 0` makes every write to a regular file fail
/// with EFBIG, even for root (the shell ignores SIGXFSZ so the write returns an error instead).
#[test]
fn a_failed_secrets_write_names_its_cause_and_a_fitting_hint() {
    let repo = Repo::new().host_stacklet("docs", "[env]\ngenerate = [\"DB_PASSWORD\"]\n");
    let bin = env!("CARGO_BIN_EXE_stack");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("trap '' XFSZ; ulimit -f 0; exec '{bin}' env docs"))
        .current_dir(repo.path())
        .env_remove("STACK_DIR")
        .env_remove("STACK_ROOT")
        .env("NO_COLOR", "1")
        .output()
        .expect("run stack");
    assert!(!out.status.success());
    let err = stderr(&out);
    let secrets = repo.join(".stack/secrets.toml");
    let expected_head = format!(
        "error: Could not write `{}`\n\nCaused by:\n  File too large (os error 27)",
        secrets.display()
    );
    assert!(err.starts_with(&expected_head), "{err}");
    assert!(
        err.contains(&format!(
            "hint: check the permissions of `{}` and that its disk has free space; the secrets were not changed",
            repo.join(".stack").display()
        )),
        "{err}"
    );
    assert!(!err.contains("fix or move"), "{err}");
    assert!(!secrets.exists(), "nothing half-written");
}

/// A cause is printed once: a bind mount source below a regular file cannot be created, and the
/// OS error appears on one `Caused by:` line, not repeated after the message.
#[test]
fn a_cause_is_printed_once() {
    ensure_test_images();
    let repo = Repo::new()
        .stacklet("rb2-bindsrc", "")
        .file("stacklets/rb2-bindsrc/afile", "")
        .file(
            "stacklets/rb2-bindsrc/docker-compose.yml",
            "services:\n  web:\n    image: stack-test/busybox:1\n    command: [\"sleep\", \"5\"]\n    volumes:\n      - ./afile/sub:/x\n",
        );
    let out = repo.stack().args(["up", "rb2-bindsrc"]).output().unwrap();
    let err = stderr(&out);
    let _ = repo
        .stack()
        .args(["destroy", "rb2-bindsrc", "--yes"])
        .output();
    assert!(!out.status.success(), "{err}");
    let expected = format!(
        "error: Cannot create bind mount source `{}` for service `web`\n\nCaused by:\n  Not a directory (os error 20)\n",
        repo.join("stacklets/rb2-bindsrc/afile/sub").display()
    );
    assert!(err.contains(&expected), "{err}");
    assert_eq!(err.matches("Not a directory").count(), 1, "{err}");
}

/// Why the engine cannot be reached is kept: each candidate's failure is a cause.
#[test]
fn an_unreachable_engine_says_why() {
    let repo = Repo::new();
    let out = repo
        .stack()
        .args(["ps"])
        .env("DOCKER_HOST", "ftp://rb2.invalid")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "error: Cannot reach the Docker engine (looked at ftp://rb2.invalid)\n\nCaused by:\n  Unsupported DOCKER_HOST `ftp://rb2.invalid` (use unix:// or tcp://)\n\nhint: start Docker"
        ),
        "{err}"
    );
}
