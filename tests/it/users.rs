//! `users.toml` (reference "Users", "Admin Password"): every validation error through the binary,
//! and the users reaching templates (`{admin_user_ids}`) and commands (`ctx.users`).

use predicates::prelude::*;
use predicates::str::contains;

use crate::support::{Repo, stderr, stdout};

const ARTHUR: &str = "[[users]]\nid = \"arthur\"\nname = \"Arthur\"\nemail = \"arthur@home.local\"\nrole = \"admin\"\n\n";

fn repo(users: &str) -> Repo {
    Repo::new()
        .host_stacklet("photos", "port = 42010\n")
        .host_stacklet("docs", "port = 42020\n")
        .file("users.toml", users)
}

#[test]
fn a_duplicate_id_is_an_error() {
    repo(&format!("{ARTHUR}{ARTHUR}"))
        .stack()
        .arg("list")
        .assert()
        .code(1)
        .stderr(contains(
            "error: Invalid `users.toml` users[1]: id `arthur` is used twice",
        ));
}

#[test]
fn a_bad_role_lists_the_roles_and_hints_the_closest() {
    repo("[[users]]\nid = \"sarah\"\nname = \"Sarah\"\nrole = \"membr\"\n")
        .stack()
        .arg("list")
        .assert()
        .code(1)
        .stderr(
            contains("error: Invalid `users.toml` users[0]: role `membr`; expected one of admin, member, restricted")
                .and(contains("hint: did you mean `member`?")),
        );
}

#[test]
fn an_unknown_stacklet_in_stacklets_is_an_error() {
    repo(&format!(
        "{ARTHUR}[[users]]\nid = \"sarah\"\nname = \"Sarah\"\nstacklets = [\"photos\", \"dosc\"]\n"
    ))
    .stack()
    .arg("list")
    .assert()
    .code(1)
    .stderr(
        contains("error: Invalid `users.toml` users[1]: stacklets names unknown stacklet `dosc`")
            .and(contains("hint: did you mean `docs`?")),
    );
}

#[test]
fn a_toml_error_names_the_line() {
    repo("[[users]]\nid = \"arthur\"\nname = Arthur\n")
        .stack()
        .arg("list")
        .assert()
        .code(1)
        .stderr(contains("error: Invalid `users.toml`").and(contains("line 3")));
}

#[test]
fn an_unknown_key_is_an_error() {
    repo("[[users]]\nid = \"arthur\"\nname = \"Arthur\"\npassword = \"x\"\n")
        .stack()
        .arg("list")
        .assert()
        .code(1)
        .stderr(contains("error: Invalid `users.toml`").and(contains("password")));
}

#[test]
fn admin_user_ids_and_ctx_users_reach_stacklets() {
    let repo = Repo::new()
        .host_stacklet("chat",
            "[env.defaults]\nADMINS = \"{admin_user_ids}\"\n",
        )
        .file(
            "users.toml",
            &format!(
                "{ARTHUR}[[users]]\nid = \"sarah\"\nname = \"Sarah\"\nrole = \"member\"\nstacklets = [\"chat\"]\n\n[[users]]\nid = \"mia\"\nname = \"Mia\"\nrole = \"admin\"\n"
            ),
        )
        .file(
            "stacklets/chat/cli/who.py",
            "HELP = 'Family members'\ndef run(args, stacklet, config):\n    print(stacklet.env['ADMINS'])\n    for u in stacklet.users:\n        print(u.id, u['role'], ','.join(u.stacklets))\n",
        );
    let out = repo.stack().args(["env", "chat"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("ADMINS=arthur,mia"),
        "{}",
        stdout(&out)
    );

    let out = repo.stack().args(["chat", "who"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "arthur,mia\narthur admin \nsarah member chat\nmia admin \n"
    );
}
