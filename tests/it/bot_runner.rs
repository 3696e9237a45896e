//! The bot runner and stacker-bot against the real Synapse of the test run, driving a real
//! container through the real `stack serve`: an admin's `up` and `down` work, a member is refused,
//! a restarted runner answers nothing twice, and the bot's `dev.famstack.stacklet` event reaches
//! another client. The family side talks raw Matrix client-server HTTP.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::messages::messages_repo;
use crate::support::{Repo, Web, stderr};
use crate::synapse::{self, Synapse};

pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(repo: &Repo, args: &[&str], log: &Path) -> Killed {
    let log = std::fs::File::create(log).unwrap();
    Killed(
        std::process::Command::new(env!("CARGO_BIN_EXE_stack"))
            .args(args)
            .current_dir(repo.path())
            .env_remove("STACK_DIR")
            .env_remove("STACK_ROOT")
            .env("NO_COLOR", "1")
            .env("STACK_LAN_IP", "192.0.2.10")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

pub struct Person<'a> {
    pub synapse: &'a Synapse,
    pub token: String,
    pub mxid: String,
}

impl Person<'_> {
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.synapse
            .request(method, path, body, Some(&self.token))
            .expect("reach Synapse")
    }

    pub fn say(&self, room: &str, text: &str) {
        let txn = format!(
            "t{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let (status, answer) = self.call(
            "PUT",
            &format!("/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}"),
            Some(&json!({"msgtype": "m.text", "body": text})),
        );
        assert_eq!(status, 200, "{answer}");
    }

    /// The room's last 100 events, oldest first.
    pub fn events(&self, room: &str) -> Vec<Value> {
        let (status, answer) = self.call(
            "GET",
            &format!("/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=100"),
            None,
        );
        assert_eq!(status, 200, "{answer}");
        let mut events = answer["chunk"].as_array().cloned().unwrap_or_default();
        events.reverse();
        events
    }

    pub fn bot_texts(&self, room: &str, bot: &str) -> Vec<String> {
        self.events(room)
            .iter()
            .filter(|e| e["sender"] == bot && e["type"] == "m.room.message")
            .filter_map(|e| e["content"]["body"].as_str().map(str::to_string))
            .collect()
    }

    /// Wait until the bot has said something matching `pred` after its first `skip` messages.
    pub fn await_bot(
        &self,
        room: &str,
        bot: &str,
        skip: usize,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let texts = self.bot_texts(room, bot);
            if let Some(t) = texts.iter().skip(skip).find(|t| pred(t)) {
                return t.clone();
            }
            assert!(
                Instant::now() < deadline,
                "the bot never said it; it said: {texts:#?}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

pub fn login<'a>(synapse: &'a Synapse, user: &str, password: &str) -> Person<'a> {
    Person {
        synapse,
        token: synapse
            .login(user, password)
            .unwrap_or_else(|e| panic!("{user}: {e:?}")),
        mxid: synapse.mxid(user),
    }
}

/// Accept the invitation to `#server` once the bot has made the room.
pub fn join_server_room(p: &Person<'_>) -> String {
    let alias = format!("#server:{}", p.synapse.server_name)
        .replace('#', "%23")
        .replace(':', "%3A");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, answer) = p.call(
            "POST",
            &format!("/_matrix/client/v3/join/{alias}"),
            Some(&json!({})),
        );
        if status == 200 {
            return answer["room_id"].as_str().unwrap().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "cannot join #server: {status} {answer}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn stacker_bot_runs_the_server_from_chat_through_the_signed_api() {
    let synapse = synapse::shared();
    let repo = messages_repo(
        synapse,
        "stkbotadmin",
        "[[users]]\nid = \"stk-bot-ann\"\nname = \"Ann\"\nrole = \"admin\"\n\n[[users]]\nid = \"stk-bot-tom\"\nname = \"Tom\"\nrole = \"member\"\nstacklets = [\"messages\"]\n",
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = repo
        .file(
            "stacklets/core/stacklet.toml",
            "id = \"core\"\nname = \"Core\"\ndescription = \"Core for the bot test\"\nversion = \"0.1.0\"\ncategory = \"infrastructure\"\ntype = \"host\"\n\n[env]\ngenerate = [\"STACKER_BOT_PASSWORD\"]\n",
        )
        .file(
            "stacklets/core/bot/bot.toml",
            &std::fs::read_to_string(root.join("stacklets/core/bot/bot.toml")).unwrap(),
        )
        .file(
            "stacklets/core/bot/stacker.py",
            &std::fs::read_to_string(root.join("stacklets/core/bot/stacker.py")).unwrap(),
        )
        .file("lib/microbot.py", &std::fs::read_to_string(root.join("lib/microbot.py")).unwrap())
        .file("lib/bot_runner.py", &std::fs::read_to_string(root.join("lib/bot_runner.py")).unwrap())
        .web_stacklet("bot-web", 45611, Web::default());
    let _cleanup = repo.cleanup(&["bot-web"]);
    for id in ["messages", "core"] {
        let out = repo.stack().args(["up", id]).output().unwrap();
        assert!(out.status.success(), "up {id}: {}", stderr(&out));
    }
    let api = spawn(
        &repo,
        &["serve", "--listen", "127.0.0.1:45612"],
        &repo.join("serve.log"),
    );
    let python = synapse.python();
    let runner_args = [
        "bots",
        "run",
        "--python",
        python.to_str().unwrap(),
        "--api",
        "http://127.0.0.1:45612",
    ];
    let runner = spawn(&repo, &runner_args, &repo.join("runner.log"));

    let ann = login(
        synapse,
        "stk-bot-ann",
        &repo.secret("messages__USER_STK_BOT_ANN_PASSWORD"),
    );
    let bot = synapse.mxid("stacker-bot");
    let room = join_server_room(&ann);

    // An admin's `up`: the container runs and the bot says so.
    ann.say(&room, "up bot-web");
    let reply = ann.await_bot(&room, &bot, 0, |t| {
        t.contains("is running") || t.contains("failed")
    });
    assert_eq!(
        reply,
        "BOT-WEB is running.",
        "runner log:\n{}",
        repo.read("runner.log")
    );
    let out = repo.stack().args(["list", "--json"]).output().unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == "bot-web" && s["state"] == "running")
    );

    // The event bus: another client (Ann's) sees the bot's custom event.
    let event = ann
        .events(&room)
        .into_iter()
        .find(|e| e["type"] == "dev.famstack.stacklet")
        .expect("dev.famstack.stacklet event");
    assert_eq!(event["content"]["id"], "bot-web");
    assert_eq!(event["content"]["actor"], ann.mxid);

    // The history records who asked.
    let out = repo
        .stack()
        .args(["history", "bot-web", "--json"])
        .output()
        .unwrap();
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(history[0]["actor"], ann.mxid, "{history}");

    // A member may ask, but not change.
    let (status, answer) = ann.call(
        "POST",
        &format!("/_matrix/client/v3/rooms/{room}/invite"),
        Some(&json!({"user_id": synapse.mxid("stk-bot-tom")})),
    );
    assert_eq!(status, 200, "{answer}");
    let tom = login(
        synapse,
        "stk-bot-tom",
        &repo.secret("messages__USER_STK_BOT_TOM_PASSWORD"),
    );
    let (status, answer) = tom.call(
        "POST",
        &format!("/_matrix/client/v3/join/{room}"),
        Some(&json!({})),
    );
    assert_eq!(status, 200, "{answer}");
    let before = tom.bot_texts(&room, &bot).len();
    tom.say(&room, "down bot-web");
    let reply = tom.await_bot(&room, &bot, before, |t| t.starts_with("Sorry"));
    assert!(reply.contains("only the family's admins"), "{reply}");
    tom.say(&room, "status");
    let reply = tom.await_bot(&room, &bot, before + 1, |t| t.contains("bot-web"));
    assert!(reply.contains("BOT-WEB (bot-web): running"), "{reply}");

    // A restarted runner answers nothing twice and still answers what is new.
    drop(runner);
    let said = ann.bot_texts(&room, &bot).len();
    let _runner = spawn(&repo, &runner_args, &repo.join("runner2.log"));
    ann.say(&room, "help");
    ann.await_bot(&room, &bot, said, |t| {
        t.starts_with("I run the family server")
    });
    std::thread::sleep(Duration::from_secs(2));
    let texts = ann.bot_texts(&room, &bot);
    assert_eq!(
        texts.len(),
        said + 1,
        "replayed after restart: {:#?}",
        &texts[said..]
    );

    // An admin's `down`.
    ann.say(&room, "down bot-web");
    let reply = ann.await_bot(&room, &bot, said + 1, |t| {
        t.contains("was stopped") || t.contains("failed")
    });
    assert_eq!(reply, "BOT-WEB was stopped.");

    // Notifications: a state change from the command line is told in the server room.
    let said = ann.bot_texts(&room, &bot).len();
    let out = repo.stack().args(["up", "bot-web"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    ann.await_bot(&room, &bot, said, |t| t == "BOT-WEB is back online.");
    // … and `[messages] notify = false` keeps the room quiet.
    let config = repo
        .read("stack.toml")
        .replace("[messages]\n", "[messages]\nnotify = false\n");
    std::fs::write(repo.join("stack.toml"), config).unwrap();
    let said = ann.bot_texts(&room, &bot).len();
    let out = repo.stack().args(["down", "bot-web"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        ann.bot_texts(&room, &bot).len(),
        said,
        "notified despite notify = false"
    );
    drop(api);
}
