//! Configuration and manifest mistakes are caught when the files are read, before anything runs,
//! and say what was expected.

use predicates::prelude::*;
use predicates::str::contains;

use crate::support::Repo;

/// A misspelled key inside a known table of `stack.toml` is not silently ignored.
#[test]
fn unknown_keys_in_stack_toml_tables_warn_with_did_you_mean() {
    let repo = Repo::new().file(
        "stack.toml",
        "[core]\ndata_dir = \"data\"\ndomian = \"home.internal\"\n\n[updates]\nschedul = \"daily\"\n",
    );
    repo.stack().arg("list").assert().success().stderr(
        contains("warning: Unknown key `domian` in `[core]` of `stack.toml` (ignored); did you mean `domain`?")
            .and(contains("warning: Unknown key `schedul` in `[updates]` of `stack.toml` (ignored); did you mean `schedule`?")),
    );
}

/// A time zone that is not an IANA name is an error naming the file, the key and a suggestion.
#[test]
fn an_unknown_timezone_is_an_error_with_the_closest_name() {
    let repo = Repo::new().file(
        "stack.toml",
        "[core]\ndata_dir = \"data\"\ntimezone = \"Europe/Berlni\"\n",
    );
    repo.stack().arg("list").assert().failure().stderr(
        "error: Invalid `stack.toml` key `core.timezone`: `Europe/Berlni` is not an IANA time zone name\n\nhint: did you mean `Europe/Berlin`?\n",
    );
    let repo = Repo::new().file(
        "stack.toml",
        "[core]\ndata_dir = \"data\"\ntimezone = \"Europe/Berlin\"\n",
    );
    repo.stack().arg("list").assert().success();
}

fn health_stacklet(url: &str) -> Repo {
    Repo::new().stacklet(
        "rb2-health",
        &format!("type = \"host\"\n\n[health]\nurl = \"{url}\"\ntimeout = 8\n"),
    )
}

/// An `https://` or malformed health URL is a manifest error when the manifest is read, before
/// anything is rendered or started, instead of a "did not become healthy within 8s" afterwards.
#[test]
fn health_urls_are_checked_when_the_manifest_is_read() {
    for (url, expected) in [
        (
            "https://127.0.0.1:44701/",
            "error: Invalid `stacklets/rb2-health/stacklet.toml` key `health`: the URL of check `health`: `https://127.0.0.1:44701/` uses HTTPS, which this build of `stack` does not support; use a plain `http://` URL (health checks normally target the local port)\n",
        ),
        (
            "garbage url",
            "error: Invalid `stacklets/rb2-health/stacklet.toml` key `health`: the URL of check `health`: `garbage url` is not an `http://` URL\n",
        ),
        (
            "http://exa mple:44701/",
            "error: Invalid `stacklets/rb2-health/stacklet.toml` key `health`: the URL of check `health`: `http://exa mple:44701/` is not a valid URL (invalid international domain name)\n",
        ),
        (
            "https://{domain}/health",
            "error: Invalid `stacklets/rb2-health/stacklet.toml` key `health`: the URL of check `health`: `https://…` uses HTTPS, which this build of `stack` does not support; use a plain `http://` URL (health checks normally target the local port)\n",
        ),
    ] {
        let repo = health_stacklet(url);
        let out = repo.stack().args(["up", "rb2-health"]).output().unwrap();
        assert!(!out.status.success(), "{url}");
        assert_eq!(crate::support::stderr(&out), expected, "{url}");
        assert!(
            !repo.join("stacklets/rb2-health/.env").exists(),
            "nothing rendered for {url}"
        );
    }
}

/// A URL that is only known once rendered (`{url}` is empty without a port) fails at once and
/// does not claim to have waited for its timeout.
#[test]
fn a_rendered_health_url_that_can_never_pass_fails_without_claiming_a_wait() {
    let repo = health_stacklet("{url}/health");
    let out = repo.stack().args(["up", "rb2-health"]).output().unwrap();
    assert!(!out.status.success());
    let err = crate::support::stderr(&out);
    assert!(
        err.contains("error: `rb2-health` cannot become healthy: check `health` can never pass: `/health` is not an `http://` URL"),
        "{err}"
    );
    assert!(!err.contains("within"), "{err}");
}
