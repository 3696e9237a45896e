//! Family notifications: after a stacklet's state changes, stacker-bot says so in the family's
//! server room ("Photos is back online."), docs/bots.md.
//!
//! Best effort by design: nothing here can fail or noticeably slow the command. Each request has
//! a one-second connect and two-second read limit, every failure is a debug line, and nothing is
//! sent unless the messages stacklet is set up, `[messages] notify` is not `false`, stacker-bot's
//! password exists and its room exists (the bot runner creates it). The bot's session is shared
//! with the runner (`<data>/<stacklet>/bot/stacker-bot/session.json`), so notifications add no
//! Matrix devices.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::{Value, json};

use crate::history::{Action, Event, Outcome};
use crate::lifecycle::bots::bot_state_dir;
use crate::workspace::Workspace;

const BOT: &str = "stacker-bot";
const MESSAGES: &str = "messages";

/// The sentence for `event`, or `None` when it is not worth a message.
pub fn sentence(name: &str, event: &Event) -> Option<String> {
    Some(match (event.action, event.outcome) {
        (Action::Up | Action::Restart, Outcome::Ok) => format!("{name} is back online."),
        (Action::Up | Action::Restart, Outcome::Failed) => format!("{name} failed to start."),
        (Action::Down, Outcome::Ok) => format!("{name} was stopped."),
        (Action::Destroy, Outcome::Ok) => format!("{name} was uninstalled."),
        (Action::Update, Outcome::Ok) => match &event.images {
            Some(images) => {
                let versions: Vec<String> = images
                    .after
                    .iter()
                    .filter(|(service, after)| images.before.get(*service) != Some(*after))
                    .map(|(service, after)| {
                        let before = images.before.get(service).map_or("none", |b| short(b));
                        format!("{service} {before} → {}", short(after))
                    })
                    .collect();
                if versions.is_empty() {
                    format!("{name} was updated.")
                } else {
                    format!("{name} was updated: {}.", versions.join(", "))
                }
            }
            None => format!("{name} was updated."),
        },
        (Action::Update | Action::Rollback, Outcome::RolledBack | Outcome::Failed) => {
            format!("{name} could not be updated and runs its previous version.")
        }
        _ => return None,
    })
}

/// `sha256:0123456789ab…` → `0123456789ab`.
fn short(digest: &str) -> &str {
    let hex = digest.rsplit(':').next().unwrap_or(digest);
    hex.get(..12).unwrap_or(hex)
}

/// Post the message for `event`, if any; returns why nothing was sent (for a debug line).
pub fn after(ws: &Workspace, lan_ip: &str, event: &Event) -> Result<(), String> {
    if event.stacklet == MESSAGES {
        return Err("no notifications about messages itself".into());
    }
    if ws.config.messages.notify == Some(false) {
        return Err("[messages] notify = false".into());
    }
    let Some(stacklet) = ws.catalog.get(&event.stacklet) else {
        return Err("unknown stacklet".into());
    };
    let Some(text) = sentence(&stacklet.manifest.name, event) else {
        return Err("nothing to say".into());
    };
    let Some(messages) = ws
        .catalog
        .get(MESSAGES)
        .filter(|_| ws.instance.is_set_up(MESSAGES))
    else {
        return Err("messages is not set up".into());
    };
    let (bots, _) =
        crate::bots::discover(&ws.instance, &ws.catalog.stacklets).map_err(|e| e.to_string())?;
    let bot = bots
        .iter()
        .find(|b| b.id == BOT && ws.instance.is_set_up(&b.stacklet))
        .ok_or("stacker-bot is not set up")?;
    let room = bot.room.clone().ok_or("stacker-bot has no room")?;
    let secrets =
        crate::secrets::Secrets::load(&ws.instance.secrets_file()).map_err(|e| e.to_string())?;
    let password = secrets
        .get(&bot.password_secret)
        .ok_or("no stacker-bot password")?;
    let homeserver =
        crate::lifecycle::bots::homeserver(ws, messages, lan_ip).map_err(|e| format!("{e:#}"))?;
    let server = crate::lifecycle::bots::server_name(ws);
    let client = Client::new(&homeserver)?;
    let session_file = bot_state_dir(ws, &bot.stacklet, &bot.id).join("session.json");
    let mut token = std::fs::read(&session_file)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["access_token"].as_str().map(str::to_string));
    let alias = format!("#{room}:{server}");
    for attempt in 0..2 {
        let tok = match &token {
            Some(t) if attempt == 0 => t.clone(),
            _ => {
                let fresh = client.login(BOT, password)?;
                save_session(&session_file, &fresh);
                fresh["access_token"]
                    .as_str()
                    .ok_or("login without a token")?
                    .to_string()
            }
        };
        let (status, answer) = client.call(
            "GET",
            &format!("/_matrix/client/v3/directory/room/{}", encode(&alias)),
            None,
            Some(&tok),
        )?;
        if status == 401 {
            token = None;
            continue;
        }
        let room_id = answer["room_id"]
            .as_str()
            .ok_or_else(|| format!("no room {alias} ({status})"))?
            .to_string();
        let txn = format!(
            "stack-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let (status, answer) = client.call(
            "PUT",
            &format!(
                "/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}",
                encode(&room_id)
            ),
            Some(&json!({"msgtype": "m.notice", "body": text})),
            Some(&tok),
        )?;
        return if status == 200 {
            Ok(())
        } else {
            Err(format!("send: {status} {answer}"))
        };
    }
    Err("stacker-bot cannot log in".into())
}

fn save_session(path: &std::path::Path, login: &Value) {
    let session = json!({"device_id": login["device_id"], "access_token": login["access_token"]});
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = crate::atomic::write_private(path, session.to_string().as_bytes());
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A tiny HTTP/1.0 JSON client (HTTP/1.0: the answer is never chunked) with short timeouts.
struct Client {
    host: String,
    addr: std::net::SocketAddr,
}

impl Client {
    fn new(base: &str) -> Result<Self, String> {
        let rest = base
            .strip_prefix("http://")
            .ok_or("only http:// homeservers are notified")?;
        let host = rest.split('/').next().unwrap_or(rest).to_string();
        let with_port = if host.contains(':') {
            host.clone()
        } else {
            format!("{host}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| e.to_string())?
            .next()
            .ok_or("no address")?;
        Ok(Self { host, addr })
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Result<(u16, Value), String> {
        let io = |e: std::io::Error| e.to_string();
        let mut stream =
            TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).map_err(io)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(io)?;
        stream
            .set_write_timeout(Some(Duration::from_secs(2)))
            .map_err(io)?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: {}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        )
        .map_err(io)?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).map_err(io)?;
        let answer = String::from_utf8_lossy(&answer);
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let json = answer
            .split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        Ok((status, json))
    }

    fn login(&self, user: &str, password: &str) -> Result<Value, String> {
        let body = json!({
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
            "initial_device_display_name": "Stacker",
        });
        let (status, answer) = self.call("POST", "/_matrix/client/v3/login", Some(&body), None)?;
        if status == 200 {
            Ok(answer)
        } else {
            Err(format!("login: {status} {answer}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Images;

    #[test]
    fn sentences_for_the_family() {
        let e = |action, outcome| Event::new("photos", action, outcome, "");
        assert_eq!(
            sentence("Photos", &e(Action::Up, Outcome::Ok)).unwrap(),
            "Photos is back online."
        );
        assert_eq!(
            sentence("Photos", &e(Action::Up, Outcome::Failed)).unwrap(),
            "Photos failed to start."
        );
        assert_eq!(
            sentence("Photos", &e(Action::Down, Outcome::Ok)).unwrap(),
            "Photos was stopped."
        );
        assert_eq!(
            sentence("Photos", &e(Action::Destroy, Outcome::Ok)).unwrap(),
            "Photos was uninstalled."
        );
        assert_eq!(sentence("Photos", &e(Action::Setup, Outcome::Ok)), None);
        let mut update = e(Action::Update, Outcome::Ok);
        update.images = Some(Images {
            before: [("server".to_string(), "sha256:aaaaaaaaaaaa1111".to_string())].into(),
            after: [("server".to_string(), "sha256:bbbbbbbbbbbb2222".to_string())].into(),
        });
        assert_eq!(
            sentence("Photos", &update).unwrap(),
            "Photos was updated: server aaaaaaaaaaaa → bbbbbbbbbbbb."
        );
        assert!(
            sentence("Photos", &e(Action::Update, Outcome::RolledBack))
                .unwrap()
                .contains("previous version")
        );
        assert_eq!(encode("#server:home"), "%23server%3Ahome");
    }
}
