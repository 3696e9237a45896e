//! The family start page: one HTML page listing every running stacklet — its name, description,
//! URL as a big link, what to log in with, and a QR code of the URL so a phone opens it.
//!
//! This module renders and writes; which stacklets are running and what their URLs are comes from
//! the caller (`lifecycle::start_page`), which uses the shared URL code (`render::vars`).
//!
//! Invariants:
//! - The page carries no secret: no password, no token, no secret-derived value. A login is only
//!   *which* identifier to use (a username or an email address) and the family's own ids.
//! - The file is self-contained (inline CSS, QR codes as inline SVG, no script, no external
//!   request), so it works from `file://`, from Caddy's `file_server` and from `stack serve`.
//! - It is replaced atomically (`atomic::write_keeping_mode`), mode 0644: Caddy may run as another
//!   user, and the page is public within the home network by design.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use qrcode::QrCode;
use qrcode::render::svg;

use crate::instance::Instance;

/// The page's directory under `.stack/`; core's Caddy mounts it (domain mode).
pub const DIR: &str = "start";
pub const FILE: &str = "index.html";

/// One running stacklet as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub name: String,
    pub description: String,
    pub url: String,
    pub login: Option<Login>,
}

/// What a family member logs in with: the kind of identifier and, for each member who has an
/// account there, their identifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    /// `username` or `email` (the manifest's `login_field`).
    pub field: String,
    pub identifiers: Vec<String>,
}

/// `<instance>/.stack/start/`.
pub fn dir(instance: &Instance) -> PathBuf {
    instance.state_dir().join(DIR)
}

/// `<instance>/.stack/start/index.html`: the file `stack serve` serves at `/`.
pub fn path(instance: &Instance) -> PathBuf {
    dir(instance).join(FILE)
}

/// Replace the page at `path` atomically.
pub fn write(path: &Path, html: &str) -> std::io::Result<()> {
    crate::atomic::write_keeping_mode(path, html.as_bytes())
}

/// The page's heading for `[core].family`: `Smith` → `The Smith family`; a name that already
/// starts with "The" (`The Smiths`) stays as written; none → `Our family server`.
pub fn title(family: &str) -> String {
    let family = family.trim();
    if family.is_empty() {
        "Our family server".to_string()
    } else if family.to_lowercase().starts_with("the ") {
        family.to_string()
    } else {
        format!("The {family} family")
    }
}

/// The whole page. `family` is `[core].family` (may be empty).
pub fn render(family: &str, entries: &[Entry]) -> String {
    let title = title(family);
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{title}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{title}</h1>
<p class="lead">Everything running on our home server. Tap a link, or scan its code with your phone's camera.</p>
</header>
<main>
"#,
        title = escape(&title),
    );
    if entries.is_empty() {
        html.push_str(
            "<p class=\"empty\">Nothing is running yet. The person who looks after the server starts services with <code>stack up &lt;name&gt;</code>.</p>\n",
        );
    }
    for entry in entries {
        card(&mut html, entry);
    }
    html.push_str(
        "</main>\n<footer>This page is rewritten whenever a service starts or stops. Passwords are never shown here.</footer>\n</body>\n</html>\n",
    );
    html
}

fn card(html: &mut String, entry: &Entry) {
    let _ = write!(
        html,
        r#"<section class="card" id="{id}">
<div class="text">
<h2>{name}</h2>
<p class="description">{description}</p>
<a class="url" href="{url}">{url_text}</a>
"#,
        id = escape(&entry.id),
        name = escape(&entry.name),
        description = escape(&entry.description),
        url = escape(&entry.url),
        url_text = escape(strip_scheme(&entry.url)),
    );
    if let Some(login) = &entry.login {
        let what = if login.field == "email" {
            "your email address"
        } else {
            "your username"
        };
        let _ = write!(html, r#"<p class="login">Log in with {what}"#);
        if !login.identifiers.is_empty() {
            let ids: Vec<String> = login
                .identifiers
                .iter()
                .map(|i| format!("<code>{}</code>", escape(i)))
                .collect();
            let _ = write!(html, ": {}", ids.join(", "));
        }
        html.push_str("</p>\n");
    }
    let _ = write!(
        html,
        "</div>\n<div class=\"qr\" title=\"QR code of {url}\" data-url=\"{url}\">{svg}</div>\n</section>\n",
        url = escape(&entry.url),
        svg = qr_svg(&entry.url),
    );
}

/// The QR code of `url` as inline SVG (dark modules on white, with the quiet zone scanners need),
/// empty when the text cannot be encoded (far longer than any URL).
pub fn qr_svg(url: &str) -> String {
    let Ok(code) = QrCode::new(url.as_bytes()) else {
        return String::new();
    };
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(180, 180)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build();
    // Inline SVG must not carry an XML declaration.
    match image.find("<svg") {
        Some(at) => image[at..].to_string(),
        None => image,
    }
}

fn strip_scheme(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

/// HTML text and attribute escaping.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Light by default, dark when the device asks for it; one column on a phone, a grid on wider
/// screens. The QR tile stays black on white in both schemes: scanners need the contrast.
const STYLE: &str = r"
:root { --bg: #f6f4ef; --card: #ffffff; --text: #1d1d1f; --muted: #5c5c66; --link: #0b57d0; --border: #e2dfd8; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #15161a; --card: #1f2127; --text: #f2f2f4; --muted: #a7a9b3; --link: #8ab4ff; --border: #30323a; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 17px/1.5 -apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif; }
header, main, footer { max-width: 1100px; margin: 0 auto; padding: 0 16px; }
header { padding-top: 28px; }
h1 { font-size: 1.9rem; margin: 0 0 4px; }
.lead, footer, .empty { color: var(--muted); }
main { display: grid; gap: 16px; grid-template-columns: 1fr; padding-top: 8px; padding-bottom: 24px; }
@media (min-width: 760px) { main { grid-template-columns: repeat(2, 1fr); } }
.card { background: var(--card); border: 1px solid var(--border); border-radius: 16px; padding: 18px;
  display: flex; gap: 16px; align-items: center; justify-content: space-between; }
.card h2 { margin: 0; font-size: 1.35rem; }
.description { margin: 4px 0 10px; color: var(--muted); }
.url { display: inline-block; font-size: 1.25rem; font-weight: 600; color: var(--link);
  text-decoration: none; word-break: break-all; padding: 6px 0; }
.url:hover, .url:focus { text-decoration: underline; }
.login { margin: 8px 0 0; font-size: 0.95rem; }
code { font: 0.95em ui-monospace, SFMono-Regular, Menlo, monospace; }
.qr { flex: none; width: 132px; height: 132px; background: #fff; border-radius: 10px; overflow: hidden; }
.qr svg { width: 100%; height: 100%; display: block; }
@media (max-width: 420px) { .card { flex-direction: column; align-items: flex-start; } .qr { width: 160px; height: 160px; } }
footer { font-size: 0.85rem; padding-bottom: 32px; }
";

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, url: &str, login: Option<Login>) -> Entry {
        Entry {
            id: id.into(),
            name: format!("Name of {id}"),
            description: "A <b>bold</b> & \"quoted\" service".into(),
            url: url.into(),
            login,
        }
    }

    #[test]
    fn lists_every_entry_with_link_login_and_qr() {
        let html = render(
            "Smith",
            &[
                entry("photos", "http://10.0.0.2:42010", None),
                entry(
                    "docs",
                    "http://docs.home.internal",
                    Some(Login {
                        field: "email".into(),
                        identifiers: vec!["arthur@home.local".into()],
                    }),
                ),
            ],
        );
        assert!(html.contains("<title>The Smith family</title>"));
        assert!(html.contains(r#"<a class="url" href="http://10.0.0.2:42010">10.0.0.2:42010</a>"#));
        assert!(html.contains(r#"href="http://docs.home.internal""#));
        assert!(html.contains("Log in with your email address: <code>arthur@home.local</code>"));
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(!html.contains("<?xml"));
        // Text from manifests is escaped, never interpreted.
        assert!(html.contains("A &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; service"));
    }

    #[test]
    fn an_empty_page_says_so() {
        let html = render("", &[]);
        assert!(html.contains("<title>Our family server</title>"));
        assert_eq!(title("The Smiths"), "The Smiths");
        assert_eq!(title(" Smith "), "The Smith family");
        assert!(html.contains("Nothing is running yet"));
        assert!(!html.contains("<section"));
    }

    #[test]
    fn the_page_is_responsive_and_has_a_dark_scheme() {
        let html = render("", &[]);
        assert!(html.contains(r#"name="viewport" content="width=device-width"#));
        assert!(html.contains("prefers-color-scheme: dark"));
    }
}
