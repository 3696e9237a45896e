//! `stack messages …` commands (`stacklets/messages/cli/`) against the real Synapse of the test
//! run, as the stack admin that `stack up messages` created: each command's effect is read back
//! from the server itself.

use crate::messages::messages_repo;
use crate::support::{Repo, stderr, stdout};
use crate::synapse;

fn run(repo: &Repo, args: &[&str]) -> (String, String) {
    let out = repo.stack().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "stack {args:?} failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    (stdout(&out), stderr(&out))
}

#[test]
fn messages_commands_send_create_join_list_and_set_up_on_a_real_synapse() {
    let synapse = synapse::shared();
    let repo = messages_repo(
        synapse,
        "stkcliadmin",
        "[[users]]\nid = \"stk-cli-ann\"\nname = \"Ann\"\nrole = \"admin\"\n",
    );
    run(&repo, &["up", "messages"]);

    // `room` creates the room once, then shows it.
    let (out, err) = run(&repo, &["messages", "room", "stk-family"]);
    let alias = format!("#stk-family:{}", synapse.server_name);
    assert!(out.starts_with(&format!("{alias}\t!")), "{out}");
    assert!(err.contains("Creating the room"), "{err}");
    let room_id = out.split('\t').nth(1).unwrap().to_string();
    let (again, err) = run(&repo, &["messages", "room", "stk-family"]);
    assert!(
        !err.contains("Creating the room"),
        "second call created again: {err}"
    );
    assert!(again.contains(&room_id), "{again}");
    assert!(again.contains(&synapse.mxid("stkcliadmin")), "{again}");

    // `send` posts as the admin; the server has the message.
    let (event, _) = run(
        &repo,
        &["messages", "send", "stk-family", "Photos", "is", "back"],
    );
    let event = event.trim();
    assert!(event.starts_with('$'), "{event}");
    let token = synapse
        .login("stkcliadmin", &repo.secret("global__ADMIN_PASSWORD"))
        .unwrap();
    let (status, body) = synapse
        .request(
            "GET",
            &format!("/_matrix/client/v3/rooms/{room_id}/event/{event}"),
            None,
            Some(&token),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["content"]["body"], "Photos is back");

    // `users` lists the accounts with their flags.
    let (users, _) = run(&repo, &["messages", "users"]);
    let admin_line = users
        .lines()
        .find(|l| l.starts_with(&synapse.mxid("stkcliadmin")))
        .unwrap_or_else(|| panic!("{users}"));
    assert!(admin_line.ends_with("admin"), "{admin_line}");
    assert!(users.contains(&synapse.mxid("stk-cli-ann")), "{users}");

    // `join` of a room that does not exist fails naming it; of an existing one prints its id.
    let out = repo
        .stack()
        .args(["messages", "join", "stk-nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("#stk-nowhere"), "{}", stderr(&out));
    let (joined, _) = run(&repo, &["messages", "join", &alias]);
    assert_eq!(joined.trim(), room_id);

    // `setup` creates an account added to users.toml afterwards.
    std::fs::write(
        repo.join("users.toml"),
        "[[users]]\nid = \"stk-cli-ann\"\nname = \"Ann\"\nrole = \"admin\"\n\n[[users]]\nid = \"stk-cli-bob\"\nname = \"Bob\"\nrole = \"member\"\nstacklets = [\"messages\"]\n",
    )
    .unwrap();
    let (_, err) = run(&repo, &["messages", "setup"]);
    assert!(err.contains("stk-cli-bob"), "{err}");
    let (status, _) = synapse.admin_user(&token, &synapse.mxid("stk-cli-bob"));
    assert_eq!(status, 200);
}
