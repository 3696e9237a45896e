//! The family start page in a real headless Chromium: the page `stack up` writes lists every
//! running stacklet, its links point at the stacklets' URLs (which answer), its QR codes decode
//! (zbarimg on Chromium's screenshot) to the same URLs, and `down`/`destroy` take entries away.
//!
//! `STACK_START_PAGE_SCREENSHOTS=<dir>` (set by `scripts/start-page-screenshots.sh`) also keeps the
//! phone and desktop screenshots, light and dark, for `docs/`.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command as Process;
use std::time::Duration;

use crate::support::{Repo, Web, stderr};

const PHOTOS_PORT: u16 = 45310;
const DOCS_PORT: u16 = 45311;

fn manifest(id: &str, name: &str, description: &str, port: u16, login: &str) -> String {
    format!(
        r#"id = "{id}"
name = "{name}"
description = "{description}"
version = "0.1.0"
category = "media"
port = {port}
login_field = "{login}"

[health]
url = "http://127.0.0.1:{port}/"
expect = "200"
timeout = 30
"#
    )
}

fn repo() -> Repo {
    Repo::new()
        .web_stacklet("new-photos", PHOTOS_PORT, Web::default())
        .web_stacklet("new-docs", DOCS_PORT, Web::default())
        .file(
            "stacklets/new-photos/stacklet.toml",
            &manifest(
                "new-photos",
                "Photos",
                "Every family photo, backed up from your phone",
                PHOTOS_PORT,
                "email",
            ),
        )
        .file(
            "stacklets/new-docs/stacklet.toml",
            &manifest(
                "new-docs",
                "Documents",
                "Scanned letters and contracts, searchable",
                DOCS_PORT,
                "username",
            ),
        )
        .file(
            "stack.toml",
            "[core]\nfamily = \"Smith\"\ndata_dir = \"data\"\n",
        )
        .file(
            "users.toml",
            r#"[[users]]
id = "arthur"
name = "Arthur"
email = "arthur@home.local"
role = "admin"

[[users]]
id = "sarah"
name = "Sarah"
email = "sarah@home.local"
stacklets = ["new-photos"]
"#,
        )
}

/// `stack` with URLs on the loopback address, so the page's links can be followed from here.
fn stack(repo: &Repo, args: &[&str]) {
    let out = repo
        .stack()
        .env("STACK_LAN_IP", "127.0.0.1")
        .args(args)
        .output()
        .expect("run stack");
    assert!(out.status.success(), "stack {args:?}:\n{}", stderr(&out));
}

/// Headless Chromium; it must be installed (`scripts/test.sh` does), or the test fails.
fn chromium(args: &[&str]) -> std::process::Output {
    let out = Process::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(args)
        .output()
        .expect("chromium is required for the start page tests: apt-get install chromium (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "chromium {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn screenshot(page: &Path, png: &Path, size: &str, dark: bool) {
    let shot = format!("--screenshot={}", png.display());
    let window = format!("--window-size={size}");
    let url = format!("file://{}", page.display());
    let mut args = vec![shot.as_str(), window.as_str()];
    if dark {
        args.push("--force-dark-mode");
    }
    args.push(&url);
    chromium(&args);
    assert!(png.exists(), "no screenshot at {}", png.display());
}

/// The QR codes zbarimg finds in `png`.
fn qr_codes(png: &Path) -> BTreeSet<String> {
    let out = Process::new("zbarimg")
        .args(["--raw", "-q", "-Sdisable", "-Sqrcode.enable"])
        .arg(png)
        .output()
        .expect("zbarimg is required for the start page tests: apt-get install zbar-tools");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The `href` of every big link in the DOM as Chromium built it.
fn links(page: &Path) -> BTreeSet<String> {
    let url = format!("file://{}", page.display());
    let out = chromium(&["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    dom.split(r#"<a class="url" href=""#)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap_or_default().to_string())
        .collect()
}

/// `GET /` of `url` (`http://127.0.0.1:<port>`): the response text.
fn get(url: &str) -> String {
    let address = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap_or_else(|e| panic!("connect {url}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn start_page_links_and_qr_codes_lead_to_the_running_stacklets() {
    let repo = repo();
    let _cleanup = repo.cleanup(&["new-photos", "new-docs"]);
    let page = repo.join(".stack/start/index.html");
    let photos = format!("http://127.0.0.1:{PHOTOS_PORT}");
    let docs = format!("http://127.0.0.1:{DOCS_PORT}");

    stack(&repo, &["up", "new-photos"]);
    stack(&repo, &["up", "new-docs"]);
    let html = std::fs::read_to_string(&page).expect("up writes .stack/start/index.html");
    assert!(html.contains("The Smith family"), "{html}");
    // What to log in with, per the manifest's login_field and users.toml; never a password.
    assert!(
        html.contains(
            "Log in with your email address: <code>arthur@home.local</code>, <code>sarah@home.local</code>"
        ),
        "{html}"
    );
    assert!(
        html.contains("Log in with your username: <code>arthur</code>"),
        "{html}"
    );
    let secrets = std::fs::read_to_string(repo.join(".stack/secrets.toml")).unwrap_or_default();
    for line in secrets.lines().filter_map(|l| l.split_once('=')) {
        let value = line.1.trim().trim_matches('"');
        assert!(
            value.len() < 6 || !html.contains(value),
            "a secret is on the page"
        );
    }

    assert_eq!(links(&page), set(&[&docs, &photos]));
    for url in [&photos, &docs] {
        let response = get(url);
        assert!(response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"));
        assert!(response.ends_with("ok\n"), "{url} answered:\n{response}");
    }

    let shots = tempfile::tempdir().unwrap();
    let phone = shots.path().join("start-page-phone.png");
    let desktop = shots.path().join("start-page-desktop.png");
    screenshot(&page, &phone, "412,1100", false);
    screenshot(&page, &desktop, "1280,720", false);
    assert_eq!(qr_codes(&phone), set(&[&docs, &photos]), "phone width");
    assert_eq!(qr_codes(&desktop), set(&[&docs, &photos]), "desktop width");
    let phone_dark = shots.path().join("start-page-phone-dark.png");
    screenshot(&page, &phone_dark, "412,1100", true);
    assert_eq!(qr_codes(&phone_dark), set(&[&docs, &photos]), "dark scheme");
    if let Ok(dir) = std::env::var("STACK_START_PAGE_SCREENSHOTS") {
        let desktop_dark = shots.path().join("start-page-desktop-dark.png");
        screenshot(&page, &desktop_dark, "1280,720", true);
        for png in [&phone, &desktop, &phone_dark, &desktop_dark] {
            std::fs::copy(png, Path::new(&dir).join(png.file_name().unwrap()))
                .expect("copy screenshot");
        }
    }

    stack(&repo, &["down", "new-docs"]);
    assert_eq!(links(&page), set(&[&photos]), "down takes the entry away");
    assert!(
        !std::fs::read_to_string(&page)
            .unwrap()
            .contains("Documents")
    );

    stack(&repo, &["destroy", "new-photos", "--yes"]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Nothing is running yet"), "{html}");
    assert_eq!(links(&page), BTreeSet::new());
}
