//! Bots (reference "Bot Convention"): discovery, `stack bots`, the `.stack/bots.json` manifest
//! written on `up` and `destroy`, and every convention error. The stacklets here have no compose
//! file, so `up` needs no Docker.

use predicates::prelude::*;
use predicates::str::contains;

use crate::support::{Repo, stderr, stdout};

const BOT_TOML: &str = r#"id          = "archivist-bot"
name        = "Archivist"
description = "Auto-files documents"
room        = "documents"
room_topic  = "Drop files here"

[settings]
classify = true
workers = 2
"#;

const MODULE: &str = "from microbot import MicroBot\n\n\nclass ArchivistBot(MicroBot):\n    pass\n";

/// `docs` with the archivist bot, and a plain `photos` stacklet.
fn repo() -> Repo {
    Repo::new()
        .host_stacklet(
            "docs",
            "[env]\ngenerate = [\"DB_PASSWORD\", \"ARCHIVIST_BOT_PASSWORD\"]\n",
        )
        .file("stacklets/docs/bot/bot.toml", BOT_TOML)
        .file("stacklets/docs/bot/archivist.py", MODULE)
        .host_stacklet("photos", "")
}

fn manifest(repo: &Repo) -> serde_json::Value {
    serde_json::from_str(&repo.read(".stack/bots.json")).expect("bots.json is JSON")
}

#[test]
fn bots_lists_every_bot_and_whether_it_is_active() {
    let repo = repo();
    let out = repo.stack().arg("bots").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "ID             NAME       STACKLET  ROOM       ACTIVE\narchivist-bot  Archivist  docs      documents  no\n"
    );

    let out = repo.stack().args(["bots", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["id"], "archivist-bot");
    assert_eq!(v[0]["class"], "ArchivistBot");
    assert_eq!(v[0]["active"], false);
    assert_eq!(v[0]["password_secret"], "docs__ARCHIVIST_BOT_PASSWORD");
}

#[test]
fn up_writes_the_manifest_and_destroy_removes_the_bot() {
    let repo = repo();
    let out = repo.stack().args(["up", "docs"]).output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Registering archivist-bot for the bot runner"),
        "{err}"
    );

    let m = manifest(&repo);
    assert_eq!(m["version"], 1);
    let bot = &m["bots"][0];
    assert_eq!(bot["id"], "archivist-bot");
    assert_eq!(bot["name"], "Archivist");
    assert_eq!(bot["stacklet"], "docs");
    assert_eq!(bot["module_name"], "archivist");
    assert_eq!(bot["class"], "ArchivistBot");
    assert_eq!(bot["room"], "documents");
    assert_eq!(bot["room_topic"], "Drop files here");
    assert_eq!(
        bot["settings"],
        serde_json::json!({"classify": true, "workers": 2})
    );
    assert_eq!(bot["password_env"], "ARCHIVIST_BOT_PASSWORD");
    assert_eq!(bot["password_secret"], "docs__ARCHIVIST_BOT_PASSWORD");
    let module = bot["module"].as_str().unwrap();
    assert!(
        module.ends_with("stacklets/docs/bot/archivist.py"),
        "{module}"
    );
    assert!(std::path::Path::new(module).is_absolute());

    // The password itself is never in the manifest, only in secrets.toml.
    let secrets: toml::Table = toml::from_str(&repo.read(".stack/secrets.toml")).unwrap();
    let password = secrets["docs__ARCHIVIST_BOT_PASSWORD"].as_str().unwrap();
    assert_eq!(password.len(), 32);
    assert!(!repo.read(".stack/bots.json").contains(password));

    let out = repo.stack().arg("bots").output().unwrap();
    assert!(stdout(&out).contains("documents  yes"), "{}", stdout(&out));

    repo.stack()
        .args(["destroy", "docs", "--yes"])
        .assert()
        .success();
    assert_eq!(manifest(&repo)["bots"], serde_json::json!([]));
}

#[test]
fn up_of_a_stacklet_without_bots_leaves_the_manifest_alone() {
    let repo = repo();
    repo.stack().args(["up", "photos"]).assert().success();
    assert!(!repo.join(".stack/bots.json").exists());
}

#[test]
fn a_bot_without_room_has_null_room() {
    let repo = repo().file(
        "stacklets/docs/bot/bot.toml",
        "id = \"archivist-bot\"\nname = \"Archivist\"\n",
    );
    repo.stack().args(["up", "docs"]).assert().success();
    let bot = &manifest(&repo)["bots"][0];
    assert_eq!(bot["room"], serde_json::Value::Null);
    assert_eq!(bot["settings"], serde_json::json!({}));
}

/// `stack bots` and `stack up docs` both refuse a bot that breaks the convention.
fn assert_bot_error(repo: &Repo, expected: &[&str]) {
    for args in [&["bots"][..], &["up", "docs"][..]] {
        let out = repo.stack().args(args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        for e in expected {
            assert!(err.contains(e), "{args:?}: missing {e:?} in:\n{err}");
        }
    }
    assert!(!repo.join(".stack/bots.json").exists());
    assert!(!repo.join(".stack/docs.setup-done").exists());
}

#[test]
fn an_id_without_the_bot_suffix_is_refused() {
    let repo = repo().file(
        "stacklets/docs/bot/bot.toml",
        "id = \"archivist\"\nname = \"Archivist\"\n",
    );
    assert_bot_error(
        &repo,
        &[
            "error: Invalid `stacklets/docs/bot/bot.toml` key `id`: `archivist` must end with `-bot` (for example `docs-bot`) (line 1)",
        ],
    );
}

#[test]
fn a_missing_module_is_refused() {
    let repo = repo().file(
        "stacklets/docs/bot/bot.toml",
        "name = \"Filer\"\nid = \"filer-bot\"\n",
    );
    assert_bot_error(
        &repo,
        &[
            "error: Invalid `stacklets/docs/bot/bot.toml` key `id`: `filer-bot` needs its module `stacklets/docs/bot/filer.py`, which does not exist (line 2)",
            "hint: the module is the id without `-bot`: create `stacklets/docs/bot/filer.py` with `class FilerBot(MicroBot)`",
        ],
    );
}

#[test]
fn a_module_without_the_class_is_refused() {
    let repo = repo().file(
        "stacklets/docs/bot/archivist.py",
        "class Archivist(MicroBot):\n    pass\n",
    );
    assert_bot_error(
        &repo,
        &[
            "error: `stacklets/docs/bot/archivist.py` defines no class `ArchivistBot`, which the bot runner loads for `archivist-bot`",
            "hint: name the bot's class `ArchivistBot`",
        ],
    );
}

#[test]
fn an_undeclared_password_is_refused() {
    let repo = repo().host_stacklet("docs", "[env]\ngenerate = [\"DB_PASSWORD\"]\n");
    assert_bot_error(
        &repo,
        &[
            "error: `archivist-bot` needs its password `ARCHIVIST_BOT_PASSWORD` in `[env].generate` of `stacklets/docs/stacklet.toml`",
            "hint: add it: `generate = [\"DB_PASSWORD\", \"ARCHIVIST_BOT_PASSWORD\"]`",
        ],
    );
}

#[test]
fn a_wrong_type_names_the_key() {
    let repo = repo().file(
        "stacklets/docs/bot/bot.toml",
        "id = \"archivist-bot\"\nname = \"Archivist\"\nroom = 7\n",
    );
    assert_bot_error(
        &repo,
        &[
            "error: Invalid `stacklets/docs/bot/bot.toml` key `room`: expected a string, found integer (line 3)",
        ],
    );
    let repo = repo.file(
        "stacklets/docs/bot/bot.toml",
        "id = \"archivist-bot\"\nname = \"Archivist\"\nsettings = \"fast\"\n",
    );
    assert_bot_error(
        &repo,
        &[
            "error: Invalid `stacklets/docs/bot/bot.toml` key `settings`: expected a table (`[settings]`), found string (line 3)",
        ],
    );
}

#[test]
fn a_topic_without_a_room_is_refused() {
    let repo = repo().file(
        "stacklets/docs/bot/bot.toml",
        "id = \"archivist-bot\"\nname = \"Archivist\"\nroom_topic = \"Files\"\n",
    );
    assert_bot_error(
        &repo,
        &[
            "error: Invalid `stacklets/docs/bot/bot.toml` key `room_topic`: is set but `room` is not",
        ],
    );
}

#[test]
fn a_missing_name_and_bad_toml_are_refused() {
    let repo = repo().file("stacklets/docs/bot/bot.toml", "id = \"archivist-bot\"\n");
    assert_bot_error(
        &repo,
        &["error: Invalid `stacklets/docs/bot/bot.toml`: missing key `name`"],
    );
    let repo = repo.file(
        "stacklets/docs/bot/bot.toml",
        "id = \"archivist-bot\"\nname = Archivist\n",
    );
    assert_bot_error(
        &repo,
        &["error: Invalid `stacklets/docs/bot/bot.toml`", "line 2"],
    );
}

#[test]
fn two_stacklets_claiming_one_bot_id_are_refused() {
    let repo = repo()
        .host_stacklet("files", "[env]\ngenerate = [\"ARCHIVIST_BOT_PASSWORD\"]\n")
        .file("stacklets/files/bot/bot.toml", BOT_TOML)
        .file("stacklets/files/bot/archivist.py", MODULE);
    repo.stack().arg("bots").assert().code(1).stderr(contains(
        "error: Bot id `archivist-bot` is claimed by both `docs` and `files`",
    ));
}

#[test]
fn unknown_keys_are_warned_about() {
    let repo = repo().file(
        "stacklets/docs/bot/bot.toml",
        "id = \"archivist-bot\"\nname = \"Archivist\"\nrom = \"documents\"\n",
    );
    repo.stack().arg("bots").assert().success().stderr(
        contains("warning: Unknown key `rom` in `stacklets/docs/bot/bot.toml` (ignored)")
            .and(contains("did you mean `room`?")),
    );
}
