//! `.env` files: writing the rendered environment so that every value reaches the container byte
//! for byte, also when plain `docker compose` reads the file, and reading our own files back.
//!
//! Invariants:
//! - Every value `format` writes is read back unchanged by Docker Compose v2's `.env` reader
//!   (compose-go `dotenv`), both as the interpolation source of `${VAR}` and through `env_file:`.
//!   The oracle test below checks this against the real `docker compose` binary.
//! - No value is ever subject to `$` interpolation when read: single-quoted values are literal in
//!   compose-go, and every `$` in a double-quoted value is written as `\$`.
//! - The file on disk is never torn and is mode 0600 (it holds secrets).
//!
//! compose-go's rules that the quoting relies on (v2, `dotenv/parser.go`):
//! - `'…'` is taken literally up to the next `'` that is not preceded by `\`; no escapes, no
//!   interpolation. So it is used only for values without `'`, without control characters and not
//!   ending in `\`.
//! - `"…"` ends at the first `"` not escaped by `\`; inside, `\\ \" \$ \n \r \t \a \b \f \v` and
//!   `\0ooo` (octal) are unescaped, then `$` is interpolated (`\$` became `$$`, i.e. a literal `$`).
//! - Unquoted values are trimmed, cut at ` #` and interpolated, so they are used only for values
//!   made of characters none of those rules touch.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    #[error(
        "Invalid environment variable name `{key}` (use letters, digits and `_`, not starting with a digit)"
    )]
    InvalidKey { key: String },
    #[error("Environment variable `{key}` is set twice")]
    DuplicateKey { key: String },
    #[error(
        "The value of `{key}` contains a NUL character, which no environment variable can hold"
    )]
    NulInValue { key: String },
    #[cfg(test)]
    #[error("Line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("Could not write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

const HEADER: &str = "# Written by `stack` on every `stack up`; edits here are overwritten.\n";

/// The text of a `.env` file holding `entries` in the given order.
pub fn format(entries: &[(String, String)]) -> Result<String, EnvFileError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = String::from(HEADER);
    for (key, value) in entries {
        if !is_env_name(key) {
            return Err(EnvFileError::InvalidKey { key: key.clone() });
        }
        if !seen.insert(key.as_str()) {
            return Err(EnvFileError::DuplicateKey { key: key.clone() });
        }
        if value.contains('\0') {
            return Err(EnvFileError::NulInValue { key: key.clone() });
        }
        out.push_str(key);
        out.push('=');
        quote_into(&mut out, value);
        out.push('\n');
    }
    Ok(out)
}

/// Write `entries` to `path` atomically, mode 0600, creating parent directories.
pub fn write(path: &Path, entries: &[(String, String)]) -> Result<(), EnvFileError> {
    let text = format(entries)?;
    crate::atomic::write_private(path, text.as_bytes()).map_err(|source| EnvFileError::Write {
        path: path.to_owned(),
        source,
    })
}

fn quote_into(out: &mut String, value: &str) {
    if !value.is_empty() && value.chars().all(is_bare) {
        out.push_str(value);
    } else if !value.contains('\'') && !value.ends_with('\\') && !value.chars().any(is_control) {
        out.push('\'');
        out.push_str(value);
        out.push('\'');
    } else {
        out.push('"');
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '$' => out.push_str("\\$"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                // compose-go reads `\0` plus exactly three octal digits as one byte, so no
                // following digit can be swallowed.
                c if is_control(c) => {
                    let _ = write!(out, "\\0{:03o}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

/// Characters an unquoted compose-go value keeps as they are: no whitespace, quotes, `#`, `$` or `\`.
fn is_bare(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-./:@%+,=".contains(c)
}

fn is_control(c: char) -> bool {
    c.is_ascii_control()
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Read a `.env` file written by [`format`]. It understands the subset of compose-go's syntax
/// that `format` produces, plus comments and blank lines, and refuses anything that compose-go
/// would interpolate (an unescaped `$` outside single quotes), because reading that literally would
/// give a different value than Docker does.
#[cfg(test)]
pub fn parse(text: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    let mut entries = Vec::new();
    let mut rest = text;
    let mut line = 1;
    let err = |line, message: &str| EnvFileError::Parse {
        line,
        message: message.to_owned(),
    };
    loop {
        // Skip blank lines and comment lines.
        let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        line += rest[..rest.len() - trimmed.len()].matches('\n').count();
        rest = trimmed;
        if rest.is_empty() {
            break;
        }
        if rest.starts_with('#') {
            rest = rest.find('\n').map_or("", |i| &rest[i..]);
            continue;
        }
        let Some(eq) = rest.find('=') else {
            return Err(err(line, "expected `KEY=value`"));
        };
        let key = rest[..eq].trim_end_matches([' ', '\t']);
        if key.contains('\n') || !is_env_name(key) {
            return Err(err(line, "expected `KEY=value`"));
        }
        rest = rest[eq + 1..].trim_start_matches([' ', '\t']);
        let start_line = line;
        let value = match rest.chars().next() {
            Some('\'') => {
                let Some(end) = rest[1..].find('\'') else {
                    return Err(err(start_line, "unterminated `'` quote"));
                };
                let value = &rest[1..=end];
                line += value.matches('\n').count();
                rest = &rest[end + 2..];
                value.to_owned()
            }
            Some('"') => {
                let (value, used) = unescape_double(&rest[1..]).map_err(|(offset, message)| {
                    err(start_line + rest[..=offset].matches('\n').count(), message)
                })?;
                line += rest[..=used].matches('\n').count();
                rest = &rest[used + 1..];
                value
            }
            _ => {
                let end = rest.find('\n').unwrap_or(rest.len());
                let raw = &rest[..end];
                let raw = raw.find(" #").map_or(raw, |i| &raw[..i]).trim_end();
                if raw.contains('$') {
                    return Err(err(line, "unquoted `$` (interpolation) is not supported"));
                }
                rest = &rest[end..];
                raw.to_owned()
            }
        };
        // Only a comment may follow a quoted value on its line.
        let tail_end = rest.find('\n').unwrap_or(rest.len());
        let tail = rest[..tail_end].trim();
        if !tail.is_empty() && !tail.starts_with('#') {
            return Err(err(line, "unexpected text after the closing quote"));
        }
        rest = &rest[tail_end..];
        entries.push((key.to_owned(), value));
    }
    Ok(entries)
}

/// Unescape the body of a double-quoted value (`s` starts after the opening quote). Returns the
/// value and the byte offset in `s` of the closing quote; errors carry a byte offset too.
#[cfg(test)]
fn unescape_double(s: &str) -> Result<(String, usize), (usize, &'static str)> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((value, at + 1)),
            '$' => return Err((at, "unescaped `$` (interpolation) is not supported")),
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                match e {
                    '\\' | '"' | '$' => value.push(e),
                    'n' => value.push('\n'),
                    'r' => value.push('\r'),
                    't' => value.push('\t'),
                    'a' => value.push('\u{7}'),
                    'b' => value.push('\u{8}'),
                    'f' => value.push('\u{c}'),
                    'v' => value.push('\u{b}'),
                    '0' => {
                        let digits: String = chars.clone().take(3).map(|(_, d)| d).collect();
                        let code = (digits.len() == 3)
                            .then(|| u32::from_str_radix(&digits, 8).ok())
                            .flatten()
                            .filter(|&code| code < 0o200)
                            .ok_or((at, "expected three octal digits after `\\0`"))?;
                        value.extend(char::from_u32(code));
                        chars.nth(2);
                    }
                    // compose-go keeps unknown escapes as they are.
                    other => {
                        value.push('\\');
                        value.push(other);
                    }
                }
            }
            c => value.push(c),
        }
    }
    Err((0, "unterminated `\"` quote"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values that break naive quoting, each with a reason to be here.
    pub(super) fn nasty_values() -> Vec<String> {
        [
            "",
            "plain",
            "/srv/data/photos/library",
            "http://host.docker.internal:8000/v1",
            "with space",
            "  leading and trailing  ",
            "$",
            "$$",
            "$HOME",
            "${HOME}",
            "${X:-default}",
            "a$b",
            "pa$$word",
            "'",
            "\"",
            "it's",
            "say \"hi\"",
            "both ' and \"",
            "#",
            "#start",
            "a #comment",
            "a#b",
            "\\",
            "back\\slash",
            "ends with backslash\\",
            "\\n is not a newline",
            "\\$ and \\\" and \\'",
            "\\0123",
            "\\x41 \\u0041",
            "tab\there",
            "new\nline",
            "trailing newline\n",
            "\ncrlf\r\n",
            "\u{1}\u{7f}5",
            "ünïcödé € 😀 日本",
            "\u{85}nel\u{a0}nbsp",
            // Noncharacters and Unicode line/paragraph separators and BOM: YAML refuses or breaks
            // on them as literal text (the `dotenv` fuzz target found U+FFFF); Compose keeps them.
            "\u{ffff}",
            "x\u{fffe}\u{feff}y",
            "\u{2028}\u{2029}",
            "it's \u{ffff} $HOME",
            "=",
            "a=b=c",
            "`cmd` $(cmd)",
            "{x} {{y}}",
            "export FOO=1",
            "  #  ",
            "'single'",
            "\"double\"",
            ":",
            "-",
            // Double-quoted values (they hold `'`, a control character or a final `\`) with `$`:
            "it's $HOME",
            "line\n${HOME}\n",
            "'$$'",
            "$X ends\\",
            "\t${X:-d} $1 $ {",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }

    pub(super) fn nasty_entries() -> Vec<(String, String)> {
        nasty_values()
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("V{i:02}"), v))
            .collect()
    }

    #[test]
    fn round_trips_every_value() {
        let entries = nasty_entries();
        let text = format(&entries).unwrap();
        assert_eq!(parse(&text).unwrap(), entries, "{text}");
    }

    #[test]
    fn picks_the_plainest_safe_quoting() {
        let line = |v: &str| {
            format(&[("K".into(), v.into())])
                .unwrap()
                .strip_prefix(HEADER)
                .unwrap()
                .to_owned()
        };
        assert_eq!(line("plain/path:1"), "K=plain/path:1\n");
        assert_eq!(line(""), "K=''\n");
        assert_eq!(line("a $b #c"), "K='a $b #c'\n");
        assert_eq!(line("it's $x"), "K=\"it's \\$x\"\n");
        assert_eq!(line("a\nb"), "K=\"a\\nb\"\n");
        assert_eq!(line("end\\"), "K=\"end\\\\\"\n");
        assert_eq!(line("\u{1}1"), "K=\"\\00011\"\n");
    }

    #[test]
    fn refuses_what_cannot_be_written() {
        let one = |k: &str, v: &str| format(&[(k.into(), v.into())]);
        assert!(matches!(
            one("1A", "x"),
            Err(EnvFileError::InvalidKey { .. })
        ));
        assert!(matches!(
            one("A B", "x"),
            Err(EnvFileError::InvalidKey { .. })
        ));
        assert!(matches!(one("", "x"), Err(EnvFileError::InvalidKey { .. })));
        assert!(matches!(
            one("A", "a\0b"),
            Err(EnvFileError::NulInValue { .. })
        ));
        let twice = format(&[("A".into(), "1".into()), ("A".into(), "2".into())]);
        assert!(matches!(twice, Err(EnvFileError::DuplicateKey { .. })));
    }

    #[test]
    fn parse_reads_comments_and_reports_lines() {
        let text = "# c\n\nA=1 # note\nB='x' # note\n  C = \"y\"\n";
        let got = parse(text).unwrap();
        let want = [("A", "1"), ("B", "x"), ("C", "y")].map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(got, want);
        let line_of = |text: &str| match parse(text) {
            Err(EnvFileError::Parse { line, .. }) => line,
            other => panic!("{text:?}: {other:?}"),
        };
        assert_eq!(line_of("A=1\nB=\"unterminated\n"), 2);
        assert_eq!(line_of("A=1\n\nB='x\n"), 3);
        assert_eq!(line_of("A=$HOME\n"), 1);
        assert_eq!(line_of("A=\"a\nb\n$c\"\n"), 3);
        assert_eq!(line_of("A='x' y\n"), 1);
        assert_eq!(line_of("no equals\n"), 1);
    }

    #[test]
    fn write_is_atomic_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stacklets/photos/.env");
        write(&path, &nasty_entries()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(parse(&text).unwrap(), nasty_entries());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

/// Docker Compose v2 itself as the judge: every value must come back byte for byte.
#[cfg(test)]
mod oracle {
    use super::tests::nasty_entries;
    use super::*;
    use std::process::Command;

    const COMPOSE: &str = "/usr/local/bin/docker-compose-v2";

    /// The service's environment as `docker compose config --format json` reports it.
    fn compose_environment(
        dir: &Path,
        compose_yaml: &str,
    ) -> serde_json::Map<String, serde_json::Value> {
        assert!(
            Path::new(COMPOSE).is_file(),
            "`{COMPOSE}` is missing: this test needs Docker Compose v2 as an oracle; run `scripts/install-compose.sh`"
        );
        std::fs::write(dir.join("x.yml"), compose_yaml).unwrap();
        let output = Command::new(COMPOSE)
            .args([
                "-f",
                "x.yml",
                "--project-directory",
                ".",
                "config",
                "--format",
                "json",
            ])
            .current_dir(dir)
            // Only the file may supply values: compose lets the process environment win over `.env`.
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "docker compose config failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        json["services"]["s"]["environment"]
            .as_object()
            .unwrap_or_else(|| panic!("no environment in {json}"))
            .clone()
    }

    fn assert_same(got: &serde_json::Map<String, serde_json::Value>, entries: &[(String, String)]) {
        for (key, want) in entries {
            // `config` prints a re-loadable file, so it writes every literal `$` as `$$`.
            let want = want.replace('$', "$$");
            assert_eq!(
                got.get(key).and_then(|v| v.as_str()),
                Some(want.as_str()),
                "{key}"
            );
        }
        assert_eq!(got.len(), entries.len());
    }

    #[test]
    fn compose_reads_every_value_back_through_interpolation() {
        let dir = tempfile::tempdir().unwrap();
        let entries = nasty_entries();
        write(&dir.path().join(".env"), &entries).unwrap();
        let mut yaml = String::from("services:\n  s:\n    image: busybox\n    environment:\n");
        for (key, _) in &entries {
            let _ = writeln!(yaml, "      {key}: \"${{{key}}}\"");
        }
        assert_same(&compose_environment(dir.path(), &yaml), &entries);
    }

    #[test]
    fn compose_reads_every_value_back_through_env_file() {
        let dir = tempfile::tempdir().unwrap();
        let entries = nasty_entries();
        write(&dir.path().join("app.env"), &entries).unwrap();
        let yaml = "services:\n  s:\n    image: busybox\n    env_file: [app.env]\n";
        assert_same(&compose_environment(dir.path(), yaml), &entries);
    }
}
