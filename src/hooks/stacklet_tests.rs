//! The shipped stacklets' account hooks (`on_install_success` of photos, docs, chatai and
//! messages) run through the embedded interpreter against small local servers that play each
//! service's API with state. Each test checks the requests made, the accounts and secrets that
//! result, and that a second run (`stack setup <id>`) changes nothing.
//!
//! The hook files are copied from `stacklets/<id>/` unchanged; only the API URL in the rendered
//! env points at the fake server (that is what the `*_API_URL` defaults exist for).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tempfile::TempDir;

use super::test_http::{Reply, Request, TestServer};
use super::tests::FakeHost;
use super::*;
use crate::output::{Printer, Verbosity};

/// A copy of `stacklets/<id>/hooks` and a context whose env is `env`, with three family members:
/// an admin, a member of this stacklet and a member of another one (who gets no account).
fn shipped(id: &str, env: &[(&str, &str)]) -> (TempDir, HookContext) {
    let tmp = tempfile::tempdir().unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("stacklets")
        .join(id)
        .join("hooks");
    // A repo layout (`stacklets/<id>`, `lib/`) so the shared `lib/` is on the hooks' sys.path.
    let dir = tmp.path().join("stacklets").join(id);
    std::fs::create_dir_all(dir.join("hooks")).unwrap();
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("lib");
    std::fs::create_dir_all(tmp.path().join("lib")).unwrap();
    for entry in std::fs::read_dir(&lib).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "py") {
            continue;
        }
        std::fs::copy(
            &path,
            tmp.path().join("lib").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    for entry in std::fs::read_dir(&from).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "py") {
            std::fs::copy(&path, dir.join("hooks").join(path.file_name().unwrap())).unwrap();
        }
    }
    let ctx = HookContext {
        stacklet_id: id.to_string(),
        stacklet_dir: dir,
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
        data_dir: tmp.path().join("data"),
        domain: String::new(),
        users: json!([
            {"id": "arthur", "name": "Arthur", "email": "arthur@home.local", "role": "admin"},
            {"id": "sarah", "name": "Sarah", "email": "sarah@home.local", "role": "member", "stacklets": [id]},
            {"id": "tom", "name": "Tom", "email": "tom@home.local", "role": "member", "stacklets": ["nope"]},
        ]),
        config: json!({}),
    };
    (tmp, ctx)
}

async fn run_twice(
    ctx: &HookContext,
    host: &Arc<FakeHost>,
    server: &TestServer,
) -> [Vec<String>; 2] {
    let mut runs = [Vec::new(), Vec::new()];
    for run in &mut runs {
        let before = server.requests().len();
        let (printer, capture) = Printer::capturing(Verbosity::Normal);
        let result = run_hook(
            HookName::OnInstallSuccess,
            ctx.clone(),
            host.clone(),
            printer,
        )
        .await;
        assert!(
            matches!(result, Ok(HookRun::Ran { .. })),
            "{:?}\n{:#?}",
            result.err().map(|e| e.to_string()),
            capture.stderr()
        );
        *run = server.requests()[before..]
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
    }
    runs
}

fn body(req: &Request) -> Value {
    serde_json::from_str(&req.body).unwrap_or(Value::Null)
}

fn secret(host: &FakeHost, key: &str) -> Option<String> {
    host.secrets.lock().unwrap().get(key).cloned()
}

#[tokio::test]
async fn photos_creates_the_immich_admin_and_family_once() {
    // Immich: users by e-mail; the first is the admin made by admin-sign-up.
    let users: Arc<Mutex<Vec<Value>>> = Arc::default();
    let state = users.clone();
    let server = TestServer::start(move |req| {
        let mut users = state.lock().unwrap();
        let authed = req.header("authorization") == Some("Bearer immich-token");
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/server/config") => {
                Reply::json(200, json!({"isInitialized": !users.is_empty()}))
            }
            ("POST", "/api/auth/admin-sign-up") if users.is_empty() => {
                users.push(body(req));
                Reply::json(201, json!({}))
            }
            ("POST", "/api/auth/login") => {
                let b = body(req);
                let ok = users
                    .first()
                    .is_some_and(|a| a["email"] == b["email"] && a["password"] == b["password"]);
                if ok {
                    Reply::json(201, json!({"accessToken": "immich-token"}))
                } else {
                    Reply::json(401, json!({"message": "Incorrect email or password"}))
                }
            }
            ("GET", "/api/admin/users") if authed => Reply::json(200, json!(*users)),
            ("POST", "/api/admin/users") if authed => {
                users.push(body(req));
                Reply::json(201, json!({}))
            }
            _ => Reply::text(404, "unexpected"),
        }
    });
    let api = format!("{}/api", server.url);
    let (_tmp, ctx) = shipped(
        "photos",
        &[
            ("PHOTOS_API_URL", &api),
            ("ADMIN_EMAIL", "stackadmin@home.local"),
            ("ADMIN_PASSWORD", "pw123456"),
            ("ADMIN_NAME", "Stack Admin"),
        ],
    );
    let host = FakeHost::new("photos");
    let [first, second] = run_twice(&ctx, &host, &server).await;
    assert_eq!(
        first,
        [
            "GET /api/server/config",
            "POST /api/auth/admin-sign-up",
            "POST /api/auth/login",
            "GET /api/admin/users",
            "POST /api/admin/users",
            "POST /api/admin/users",
        ]
    );
    assert_eq!(
        second,
        [
            "GET /api/server/config",
            "POST /api/auth/login",
            "GET /api/admin/users"
        ]
    );
    let users = users.lock().unwrap();
    assert_eq!(users[0]["name"], "Stack Admin");
    assert_eq!(users[1]["email"], "arthur@home.local");
    assert_eq!(users[1]["isAdmin"], true);
    assert_eq!(users[2]["email"], "sarah@home.local");
    assert_eq!(users[2]["isAdmin"], false);
    assert_eq!(users[2]["shouldChangePassword"], true);
    assert_eq!(
        Some(users[2]["password"].as_str().unwrap().to_string()),
        secret(&host, "photos__USER_SARAH_PASSWORD")
    );
    assert_eq!(users.len(), 3, "tom is not a member of photos");
}

#[tokio::test]
async fn docs_obtains_a_token_creates_the_family_group_and_accounts_once() {
    #[derive(Default)]
    struct Paperless {
        users: Vec<Value>,
        groups: Vec<Value>,
    }
    let state: Arc<Mutex<Paperless>> = Arc::new(Mutex::new(Paperless {
        users: vec![json!({"username": "stackadmin"})],
        groups: Vec::new(),
    }));
    let shared = state.clone();
    let server = TestServer::start(move |req| {
        let mut s = shared.lock().unwrap();
        let authed = req.header("authorization") == Some("Token paperless-token");
        let page = |results: &Vec<Value>| json!({"count": results.len(), "next": null, "results": results});
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/api/token/") => {
                if req.body == "username=stackadmin&password=pw123456" {
                    Reply::json(200, json!({"token": "paperless-token"}))
                } else {
                    Reply::json(400, json!({"non_field_errors": ["Unable to log in"]}))
                }
            }
            (_, _) if !authed => Reply::json(401, json!({"detail": "Invalid token."})),
            ("GET", "/api/documents/?page_size=1") => Reply::json(200, page(&Vec::new())),
            ("GET", "/api/groups/?page_size=100") => Reply::json(200, page(&s.groups)),
            ("POST", "/api/groups/") => {
                let mut group = body(req);
                group["id"] = json!(7);
                s.groups.push(group.clone());
                Reply::json(201, group)
            }
            ("GET", "/api/users/?page_size=100") => Reply::json(200, page(&s.users)),
            ("POST", "/api/users/") => {
                s.users.push(body(req));
                Reply::json(201, json!({}))
            }
            _ => Reply::text(404, "unexpected"),
        }
    });
    let api = format!("{}/api", server.url);
    let (_tmp, ctx) = shipped(
        "docs",
        &[
            ("DOCS_API_URL", &api),
            ("ADMIN_USER", "stackadmin"),
            ("ADMIN_PASSWORD", "pw123456"),
        ],
    );
    let host = FakeHost::new("docs");
    let [first, second] = run_twice(&ctx, &host, &server).await;
    assert_eq!(
        first,
        [
            "POST /api/token/",
            "GET /api/groups/?page_size=100",
            "POST /api/groups/",
            "GET /api/users/?page_size=100",
            "POST /api/users/",
            "POST /api/users/",
        ]
    );
    // The stored token is verified, not replaced; nothing is created again.
    assert_eq!(
        second,
        [
            "GET /api/documents/?page_size=1",
            "GET /api/groups/?page_size=100",
            "GET /api/users/?page_size=100",
        ]
    );
    assert_eq!(
        secret(&host, "docs__API_TOKEN").as_deref(),
        Some("paperless-token")
    );
    let s = state.lock().unwrap();
    assert_eq!(s.groups[0]["name"], "Family");
    assert!(
        s.groups[0]["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("change_document"))
    );
    assert_eq!(s.users[1]["username"], "arthur");
    assert_eq!(s.users[1]["is_superuser"], true);
    assert!(s.users[1].get("groups").is_none());
    assert_eq!(s.users[2]["username"], "sarah");
    assert_eq!(s.users[2]["is_superuser"], false);
    assert_eq!(s.users[2]["groups"], json!([7]));
}

#[tokio::test]
async fn chatai_signs_up_the_first_admin_then_adds_the_family_once() {
    let users: Arc<Mutex<Vec<Value>>> = Arc::default();
    let state = users.clone();
    let server = TestServer::start(move |req| {
        let mut users = state.lock().unwrap();
        let authed = req.header("authorization") == Some("Bearer webui-token");
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/config") => Reply::json(200, json!({"onboarding": users.is_empty()})),
            ("POST", "/api/v1/auths/signup") if users.is_empty() => {
                users.push(body(req));
                Reply::json(200, json!({"token": "webui-token"}))
            }
            ("POST", "/api/v1/auths/signin") => {
                let b = body(req);
                let ok = users
                    .first()
                    .is_some_and(|a| a["email"] == b["email"] && a["password"] == b["password"]);
                if ok {
                    Reply::json(200, json!({"token": "webui-token"}))
                } else {
                    Reply::json(400, json!({"detail": "wrong"}))
                }
            }
            ("GET", "/api/v1/users/") if authed => {
                Reply::json(200, json!({"users": *users, "total": users.len()}))
            }
            ("POST", "/api/v1/auths/add") if authed => {
                users.push(body(req));
                Reply::json(200, json!({}))
            }
            _ => Reply::text(404, "unexpected"),
        }
    });
    let (_tmp, ctx) = shipped(
        "chatai",
        &[
            ("CHATAI_API_URL", &server.url),
            ("ADMIN_EMAIL", "stackadmin@home.local"),
            ("ADMIN_PASSWORD", "pw123456"),
        ],
    );
    let host = FakeHost::new("chatai");
    let [first, second] = run_twice(&ctx, &host, &server).await;
    assert_eq!(
        first,
        [
            "GET /api/config",
            "POST /api/v1/auths/signup",
            "GET /api/v1/users/",
            "POST /api/v1/auths/add",
            "POST /api/v1/auths/add",
        ]
    );
    assert_eq!(
        second,
        [
            "GET /api/config",
            "POST /api/v1/auths/signin",
            "GET /api/v1/users/"
        ]
    );
    let users = users.lock().unwrap();
    assert_eq!(users[1]["role"], "admin");
    assert_eq!(users[2]["role"], "user");
    assert_eq!(users[2]["email"], "sarah@home.local");
}

#[tokio::test]
async fn messages_registers_admin_and_family_with_the_shared_secret_once() {
    const SECRET: &str = "shared-secret";
    // Registered users: localpart → (password, admin).
    let users: Arc<Mutex<BTreeMap<String, (String, bool)>>> = Arc::default();
    let state = users.clone();
    let server = TestServer::start(move |req| {
        let mut users = state.lock().unwrap();
        let authed = req.header("authorization") == Some("Bearer syt-admin");
        let path = req.path.replace("%40", "@").replace("%3A", ":");
        match (req.method.as_str(), path.as_str()) {
            ("POST", "/_matrix/client/v3/login") => {
                let b = body(req);
                let user = b["identifier"]["user"].as_str().unwrap_or_default();
                match users.get(user) {
                    Some((pw, _)) if b["password"] == json!(pw) => {
                        Reply::json(200, json!({"access_token": "syt-admin"}))
                    }
                    _ => Reply::json(403, json!({"errcode": "M_FORBIDDEN"})),
                }
            }
            ("GET", "/_matrix/client/v3/account/whoami") if authed => {
                Reply::json(200, json!({"user_id": "@stackadmin:home"}))
            }
            ("GET", "/_synapse/admin/v1/register") => Reply::json(200, json!({"nonce": "n0nce"})),
            ("POST", "/_synapse/admin/v1/register") => {
                let b = body(req);
                let (name, pw) = (
                    b["username"].as_str().unwrap(),
                    b["password"].as_str().unwrap(),
                );
                let admin = b["admin"] == true;
                let mut message = format!("n0nce\0{name}\0{pw}\0").into_bytes();
                message.extend_from_slice(if admin { b"admin" } else { b"notadmin" });
                if b["mac"] != json!(hmac_sha1_hex(SECRET.as_bytes(), &message)) {
                    return Reply::json(
                        403,
                        json!({"errcode": "M_FORBIDDEN", "error": "HMAC incorrect"}),
                    );
                }
                if users.contains_key(name) {
                    return Reply::json(400, json!({"errcode": "M_USER_IN_USE"}));
                }
                users.insert(name.to_string(), (pw.to_string(), admin));
                Reply::json(
                    200,
                    json!({"access_token": "syt-admin", "user_id": format!("@{name}:home")}),
                )
            }
            ("GET", p) if authed && p.starts_with("/_synapse/admin/v2/users/@") => {
                let local = p["/_synapse/admin/v2/users/@".len()..]
                    .split(':')
                    .next()
                    .unwrap_or_default();
                if users.contains_key(local) {
                    Reply::json(200, json!({"name": format!("@{local}:home")}))
                } else {
                    Reply::json(404, json!({"errcode": "M_NOT_FOUND"}))
                }
            }
            _ => Reply::text(404, "unexpected"),
        }
    });
    let (_tmp, ctx) = shipped(
        "messages",
        &[
            ("SYNAPSE_API_URL", &server.url),
            ("MESSAGES_SERVER_NAME", "home"),
            ("ADMIN_USER", "stackadmin"),
            ("ADMIN_PASSWORD", "pw123456"),
            ("REGISTRATION_SHARED_SECRET", SECRET),
        ],
    );
    let host = FakeHost::new("messages");
    let [first, second] = run_twice(&ctx, &host, &server).await;
    let clean = |run: Vec<String>| -> Vec<String> {
        run.into_iter()
            .map(|r| r.replace("%40", "@").replace("%3A", ":"))
            .collect()
    };
    assert_eq!(
        clean(first),
        [
            "POST /_matrix/client/v3/login",
            "GET /_synapse/admin/v1/register",
            "POST /_synapse/admin/v1/register",
            "GET /_synapse/admin/v2/users/@arthur:home",
            "GET /_synapse/admin/v1/register",
            "POST /_synapse/admin/v1/register",
            "GET /_synapse/admin/v2/users/@sarah:home",
            "GET /_synapse/admin/v1/register",
            "POST /_synapse/admin/v1/register",
        ]
    );
    assert_eq!(
        clean(second),
        [
            "GET /_matrix/client/v3/account/whoami",
            "GET /_synapse/admin/v2/users/@arthur:home",
            "GET /_synapse/admin/v2/users/@sarah:home",
        ]
    );
    assert_eq!(
        secret(&host, "messages__ADMIN_ACCESS_TOKEN").as_deref(),
        Some("syt-admin")
    );
    let users = users.lock().unwrap();
    assert_eq!(users["stackadmin"], ("pw123456".to_string(), true));
    assert!(users["arthur"].1 && !users["sarah"].1);
    assert_eq!(
        Some(users["sarah"].0.clone()),
        secret(&host, "messages__USER_SARAH_PASSWORD")
    );
    assert!(!users.contains_key("tom"));
}

/// HMAC-SHA1 (RFC 2104) as Synapse checks the shared-secret registration MAC; SHA-1 is written
/// out here because no crate of the build provides it and only this test needs it.
fn hmac_sha1_hex(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..20].copy_from_slice(&sha1(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let mut inner = pad(0x36);
    inner.extend_from_slice(message);
    let mut outer = pad(0x5c);
    outer.extend_from_slice(&sha1(&inner));
    sha1(&outer).iter().map(|b| format!("{b:02x}")).collect()
}

fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in chunk.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            (e, d, c, b, a) = (d, c, b.rotate_left(30), a, t);
        }
        for (hv, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *hv = hv.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (i, v) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

#[test]
fn hmac_sha1_matches_rfc_2202() {
    assert_eq!(
        hmac_sha1_hex(b"key", b"The quick brown fox jumps over the lazy dog"),
        "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
    );
}
