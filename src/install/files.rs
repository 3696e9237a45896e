//! The text of the `stack.toml` and `users.toml` that `stack install` writes: every value the
//! wizard chose, with the comments a person needs to edit them later.

use std::fmt::Write as _;

use super::Answers;

/// A TOML basic string (quotes and escapes as needed).
fn s(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

pub fn stack_toml(a: &Answers) -> String {
    let mut t = String::new();
    let _ = write!(
        t,
        r#"# stack.toml — the one configuration file of this stack, written by `stack install`.
# Edit freely; `stack up <stacklet>` applies changes. Stacklets never read this file: the runtime
# renders what they need into their environment. Every key: stack.toml.example.

[core]
family   = {family}   # the family start page's title ("{title}")
domain   = {domain}   # empty = port mode (http://<this machine>:<port>); a name = domain mode (http://<stacklet>.<domain>)
https    = false   # domain mode only: true lets Caddy obtain certificates (needs a public DNS name)
data_dir = {data_dir}   # every stacklet keeps its files in <data_dir>/<stacklet>/ (relative = relative to this file)
timezone = {timezone}   # IANA name, given to every container as TZ
language = {language}   # document tags and UI language where services support it (de, en)

[updates]
schedule = "0 0 3 * * *"   # when Watchtower updates images: 03:00 nightly (six fields, seconds first)

[messages]
# Permanent: part of every Matrix user id (@{admin}:{server}). Changing it later means a new server.
server_name = {server_name}

# [ai] — a local or remote OpenAI-compatible server for the AI stacklets, when you have one:
# [ai]
# openai_url  = "http://localhost:8000/v1"
# openai_key  = "local"
# default     = "mlx-community/Qwen2.5-14B-Instruct-4bit"
# whisper_url = "http://localhost:42062/v1"
# language    = {language}

# Per-stacklet settings live in a table named after the stacklet; hooks read and write them.
# [photos]
# library = "/Volumes/Photos"
"#,
        family = s(&a.family),
        title = crate::start_page::title(&a.family).replace('\n', " "),
        domain = s(a.domain.as_deref().unwrap_or("")),
        data_dir = s(&a.data_dir),
        timezone = s(&a.timezone),
        language = s(&a.language),
        admin = a.admin.id,
        server = a.server_name,
        server_name = s(&a.server_name),
    );
    t
}

/// `member_stacklets`: where members get an account (admins get one everywhere).
pub fn users_toml(a: &Answers, member_stacklets: &[String]) -> String {
    let mut t = String::from(
        "# users.toml — the family, written by `stack install`. Identity only: passwords never live here.\n\
         # role: admin (an account on every stacklet), member or restricted (an account on each stacklet\n\
         # in `stacklets`).\n\
         # id: lowercase letters, digits, `-`, `_` or `.`; it becomes the login (and @id:<server> in Matrix).\n",
    );
    let list: Vec<String> = member_stacklets.iter().map(|id| s(id)).collect();
    let admin = std::iter::once((&a.admin, "admin"));
    for (m, role) in admin.chain(a.members.iter().map(|m| (m, "member"))) {
        let _ = write!(
            t,
            "\n[[users]]\nid        = {}\nname      = {}\nemail     = {}\nrole      = {}\n",
            s(&m.id),
            s(&m.name),
            s(&m.email()),
            s(role)
        );
        if role != "admin" {
            let _ = writeln!(t, "stacklets = [{}]", list.join(", "));
        }
    }
    t.push_str(
        "\n# Add someone later:\n# [[users]]\n# id        = \"tom\"\n# name      = \"Tom\"\n# email     = \"tom@home.local\"\n# role      = \"member\"\n# stacklets = [\"photos\", \"docs\"]\n",
    );
    t
}
