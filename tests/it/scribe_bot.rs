//! scribe-bot against the real Synapse of the test run: a family member (not an admin) invites it
//! into a room, uploads real audio bytes to Synapse's media repo and sends a voice message; the
//! bot downloads them through the authenticated media endpoint, posts them to a local stub of the
//! OpenAI transcription route, and replies the text in the voice message's thread. An error answer
//! and a stopped service get clear replies.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::messages::messages_repo;
use crate::support::{Repo, stderr};
use crate::synapse::{self, Synapse};

const TRANSCRIPT: &str = "Buy milk on the way home.";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A stub of `POST /v1/audio/transcriptions`: answers `{"text": TRANSCRIPT}` only when the
/// multipart body has a `model` field and a `file` part carrying exactly `expected`; anything else
/// gets a 400 that says what was wrong. Dropping it closes the port.
struct Whisper {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Whisper {
    fn start(expected: Vec<u8>) -> Whisper {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    answer(stream, &expected);
                }
            }
        });
        Whisper {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Whisper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

fn answer(mut stream: TcpStream, expected: &[u8]) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut buf).unwrap_or(0);
        if n == 0 {
            return;
        }
        request.extend_from_slice(&buf[..n]);
        if let Some(i) = find(&request, b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while request.len() < head_end + length {
        let n = stream.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let body = &request[head_end..];
    let problem = if !head.starts_with("POST /v1/audio/transcriptions ") {
        Some(format!(
            "unexpected request {}",
            head.lines().next().unwrap_or("")
        ))
    } else if !head
        .to_lowercase()
        .contains("content-type: multipart/form-data; boundary=")
    {
        Some("not multipart/form-data".to_string())
    } else if find(body, b"name=\"model\"").is_none() {
        Some("no model field".to_string())
    } else if find(body, b"name=\"file\"").is_none() {
        Some("no file part".to_string())
    } else if find(body, expected).is_none() {
        Some("the file is not the uploaded audio".to_string())
    } else {
        None
    };
    let (status, json) = match problem {
        None => ("200 OK", json!({ "text": TRANSCRIPT })),
        Some(p) => ("400 Bad Request", json!({ "error": { "message": p } })),
    };
    let json = json.to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A real (tiny) WAV file: 0.25 s of a 440 Hz square wave, 8 kHz mono, 16 bit.
fn wav(seed: u8) -> Vec<u8> {
    let samples: Vec<i16> = (0..2000)
        .map(|i| {
            let level: i16 = if (i * 440 / 8000) % 2 == 0 {
                8000
            } else {
                -8000
            };
            level + i16::from(seed)
        })
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16000u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Upload bytes to Synapse's media repo; their `mxc://` address.
fn upload(synapse: &Synapse, token: &str, bytes: &[u8], mimetype: &str) -> String {
    let address = synapse.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /_matrix/media/v3/upload?filename=voice HTTP/1.0\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Type: {mimetype}\r\nContent-Length: {}\r\n\r\n",
        bytes.len()
    )
    .unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let json: Value = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    json["content_uri"]
        .as_str()
        .unwrap_or_else(|| panic!("upload failed: {answer}"))
        .to_string()
}

fn call(synapse: &Synapse, token: &str, method: &str, path: &str, body: Option<&Value>) -> Value {
    let (status, answer) = synapse
        .request(method, path, body, Some(token))
        .expect("reach Synapse");
    assert_eq!(status, 200, "{method} {path}: {answer}");
    answer
}

/// Send a message; its event id.
fn send(synapse: &Synapse, token: &str, room: &str, content: &Value) -> String {
    let txn = format!(
        "sc{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let answer = call(
        synapse,
        token,
        "PUT",
        &format!("/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}"),
        Some(content),
    );
    answer["event_id"].as_str().unwrap().to_string()
}

/// The bot's reply in the thread of `event_id`.
fn await_reply(
    synapse: &Synapse,
    token: &str,
    room: &str,
    bot: &str,
    event_id: &str,
    log: &Path,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answer = call(
            synapse,
            token,
            "GET",
            &format!("/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=100"),
            None,
        );
        let reply = answer["chunk"].as_array().unwrap().iter().find(|e| {
            e["sender"] == bot
                && e["content"]["m.relates_to"]["rel_type"] == "m.thread"
                && e["content"]["m.relates_to"]["event_id"] == event_id
        });
        if let Some(reply) = reply {
            return reply["content"]["body"].as_str().unwrap().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no threaded reply; runner log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn scribe_bot_transcribes_voice_messages_in_their_thread() {
    let synapse = synapse::shared();
    let audio = wav(0);
    let whisper = Whisper::start(audio.clone());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo: Repo = messages_repo(
        synapse,
        "scscribeadmin",
        "[[users]]\nid = \"sc-scribe-ann\"\nname = \"Ann\"\nrole = \"admin\"\n\n[[users]]\nid = \"sc-scribe-tom\"\nname = \"Tom\"\nrole = \"member\"\nstacklets = [\"messages\"]\n",
    );
    let repo = ["bot.toml", "scribe.py"].iter().fold(repo, |repo, name| {
        repo.file(
            &format!("stacklets/messages/bot/{name}"),
            &std::fs::read_to_string(root.join("stacklets/messages/bot").join(name)).unwrap(),
        )
    });
    let config = format!(
        "{}\n[ai]\nwhisper_url = \"http://127.0.0.1:{}/v1\"\n",
        repo.read("stack.toml"),
        whisper.port
    );
    std::fs::write(repo.join("stack.toml"), config).unwrap();
    let out = repo.stack().args(["up", "messages"]).output().unwrap();
    assert!(out.status.success(), "up messages: {}", stderr(&out));

    let log = repo.join("runner.log");
    let python = synapse.python();
    let _runner = Killed(
        std::process::Command::new(env!("CARGO_BIN_EXE_stack"))
            .args(["bots", "run", "--python", python.to_str().unwrap()])
            .current_dir(repo.path())
            .env_remove("STACK_DIR")
            .env_remove("STACK_ROOT")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(repo.join("runner.err")).unwrap())
            .spawn()
            .unwrap(),
    );

    // Tom, a member (not an admin), makes a room and brings the scribe in.
    let secrets: toml::Table = toml::from_str(&repo.read(".stack/secrets.toml")).unwrap();
    let password = secrets["messages__USER_SC_SCRIBE_TOM_PASSWORD"]
        .as_str()
        .unwrap();
    let token = synapse.login("sc-scribe-tom", password).unwrap();
    let bot = synapse.mxid("scribe-bot");
    let room = call(
        synapse,
        &token,
        "POST",
        "/_matrix/client/v3/createRoom",
        Some(&json!({"preset": "private_chat"})),
    )["room_id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, _) = synapse
            .request(
                "POST",
                &format!("/_matrix/client/v3/rooms/{room}/invite"),
                Some(&json!({"user_id": bot})),
                Some(&token),
            )
            .unwrap();
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "cannot invite {bot}: {status}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while !call(
        synapse,
        &token,
        "GET",
        &format!("/_matrix/client/v3/rooms/{room}/joined_members"),
        None,
    )["joined"]
        .as_object()
        .unwrap()
        .contains_key(&bot)
    {
        assert!(
            Instant::now() < deadline,
            "the bot never joined; runner log:\n{}",
            std::fs::read_to_string(repo.join("runner.err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let err = repo.join("runner.err");

    // A voice message: the real upload reaches the stub, its text comes back in the thread.
    let mxc = upload(synapse, &token, &audio, "audio/wav");
    let voice = send(
        synapse,
        &token,
        &room,
        &json!({"msgtype": "m.audio", "body": "voice.wav", "url": mxc,
                "info": {"mimetype": "audio/wav", "size": audio.len(), "duration": 250}}),
    );
    assert_eq!(
        await_reply(synapse, &token, &room, &bot, &voice, &err),
        TRANSCRIPT
    );

    // An audio file sent as `m.file` is a voice message too; the service's error is told.
    let other = wav(7);
    let mxc = upload(synapse, &token, &other, "audio/ogg");
    let file = send(
        synapse,
        &token,
        &room,
        &json!({"msgtype": "m.file", "body": "memo.ogg", "url": mxc,
                "info": {"mimetype": "audio/ogg", "size": other.len()}}),
    );
    let reply = await_reply(synapse, &token, &room, &bot, &file, &err);
    assert!(
        reply.starts_with("I could not transcribe this: the speech-to-text service answered 400")
            && reply.contains("the file is not the uploaded audio"),
        "{reply}"
    );

    // With the service gone, the reply says so.
    drop(whisper);
    let mxc = upload(synapse, &token, &audio, "audio/wav");
    let voice = send(
        synapse,
        &token,
        &room,
        &json!({"msgtype": "m.audio", "body": "voice.wav", "url": mxc,
                "info": {"mimetype": "audio/wav", "size": audio.len()}}),
    );
    let reply = await_reply(synapse, &token, &room, &bot, &voice, &err);
    assert!(
        reply.starts_with(
            "I could not transcribe this: the speech-to-text service does not answer ("
        ),
        "{reply}"
    );
    // A text message is not a voice message: the scribe stays quiet.
    let text = send(
        synapse,
        &token,
        &room,
        &json!({"msgtype": "m.text", "body": "hello"}),
    );
    std::thread::sleep(Duration::from_secs(2));
    let events = call(
        synapse,
        &token,
        "GET",
        &format!("/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=100"),
        None,
    );
    assert!(
        !events["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["content"]["m.relates_to"]["event_id"] == text),
        "answered a text message"
    );
}
