//! The shipped stacklets' account hooks (`on_install_success` of photos, docs and chatai) run
//! through the embedded interpreter against small local servers that play each service's API
//! with state (no real Immich, Paperless or Open WebUI runs here: docs/stacklets.md, "Tests").
//! The messages hooks meet a real Synapse instead (`tests/it/messages.rs`). Each test checks the
//! requests made, the accounts and secrets that result, and that a second run (`stack setup <id>`)
//! changes nothing.
//!
//! The hook files are copied from `stacklets/<id>/` unchanged; only the API URL in the rendered
//! env points at the fake server (that is what the `*_API_URL` defaults exist for).

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
