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
