//! Finding hook and CLI files by convention.
//!
//! A hook is `hooks/<name>.py` or `hooks/<name>.sh`. Only one should exist; when both do, the `.py`
//! runs and `stack lint` points at the `.sh`. A CLI command is any `cli/<name>.py` except
//! private helpers (`_*.py`) and `post_setup.py`. Listing commands reads each file's `HELP` string
//! without running it (a listing must not have side effects, nor need Python at all).

use std::path::{Path, PathBuf};

use super::{HookError, HookName};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookKind {
    Python,
    Shell,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookFile {
    pub path: PathBuf,
    pub kind: HookKind,
}

/// The hook file for `name` in `<stacklet_dir>/hooks/`, if any.
pub fn resolve(stacklet_dir: &Path, name: HookName) -> Result<Option<HookFile>, HookError> {
    let dir = stacklet_dir.join("hooks");
    let py = dir.join(format!("{name}.py"));
    let sh = dir.join(format!("{name}.sh"));
    // `.py` wins over `.sh` (docs/hooks.md): a stray second file is `stack lint`'s to point out,
    // not a reason to refuse `up`.
    match (py.is_file(), sh.is_file()) {
        (true, _) => Ok(Some(HookFile {
            path: py,
            kind: HookKind::Python,
        })),
        (false, true) => Ok(Some(HookFile {
            path: sh,
            kind: HookKind::Shell,
        })),
        (false, false) => Ok(None),
    }
}

/// The stacklet's CLI commands, sorted by name, each with its `HELP` string when it has one.
pub fn list_cli(stacklet_dir: &Path) -> Vec<(String, Option<String>)> {
    let Ok(entries) = std::fs::read_dir(stacklet_dir.join("cli")) else {
        return Vec::new();
    };
    let mut commands: Vec<(String, Option<String>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter_map(|e| {
            let file_name = e.file_name().into_string().ok()?;
            let name = file_name.strip_suffix(".py")?;
            is_command(name).then(|| {
                let help = std::fs::read_to_string(e.path())
                    .ok()
                    .and_then(|src| help_string(&src));
                (name.to_string(), help)
            })
        })
        .collect();
    commands.sort();
    commands
}

/// `<stacklet_dir>/cli/<command>.py`, or `UnknownCommand` listing the real ones.
pub(super) fn cli_file(
    stacklet_dir: &Path,
    stacklet_id: &str,
    command: &str,
) -> Result<PathBuf, HookError> {
    let path = stacklet_dir.join("cli").join(format!("{command}.py"));
    // The name comes from the command line: refuse anything that is not a plain command name, so
    // `stack x ../../evil` or `stack x _helpers` cannot reach files that are not commands.
    let plain = !command.is_empty()
        && command
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain && is_command(command) && path.is_file() {
        return Ok(path);
    }
    Err(HookError::UnknownCommand {
        stacklet: stacklet_id.to_string(),
        command: command.to_string(),
        available: list_cli(stacklet_dir).into_iter().map(|(n, _)| n).collect(),
    })
}

fn is_command(name: &str) -> bool {
    !name.starts_with('_') && name != "post_setup"
}

/// The value of a top-level `HELP = "…"` assignment: one string literal, a triple-quoted one, or
/// adjacent literals inside parentheses. Anything computed is not a listing's business: `None`.
pub(super) fn help_string(source: &str) -> Option<String> {
    let mut offset = 0;
    let mut value_start = None;
    for line in source.split_inclusive('\n') {
        if let Some(rest) = assigned_value(line) {
            value_start = Some(offset + (line.len() - rest.len()));
            break;
        }
        offset += line.len();
    }
    let rest = &source[value_start?..];
    let mut rest = rest.trim_start_matches([' ', '\t']);
    let parenthesised = rest.starts_with('(');
    if parenthesised {
        rest = &rest[1..];
    }
    let mut text = String::new();
    let mut found = false;
    loop {
        rest = if parenthesised {
            skip_space_and_comments(rest)
        } else {
            rest.trim_start_matches([' ', '\t'])
        };
        match string_literal(rest) {
            Some((value, after)) => {
                text.push_str(&value);
                found = true;
                rest = after;
            }
            None => break,
        }
    }
    let closed = !parenthesised || rest.starts_with(')');
    (found && closed).then(|| text.trim().to_string())
}

/// For a line `HELP = …` or `HELP: str = …` at column 0, the text after `=`.
fn assigned_value(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("HELP")?.trim_start();
    match rest.strip_prefix(':') {
        Some(annotated) => Some(annotated.split_once('=')?.1),
        None => rest.strip_prefix('='),
    }
}

fn skip_space_and_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        match s.strip_prefix('#') {
            Some(comment) => s = comment.split_once('\n').map_or("", |(_, r)| r),
            None => return s,
        }
    }
}

/// Parse one Python string literal at the start of `s`: `(value, rest)`.
fn string_literal(s: &str) -> Option<(String, &str)> {
    let prefix_len = s
        .char_indices()
        .find(|(_, c)| !matches!(c, 'r' | 'R' | 'u' | 'U'))
        .map(|(i, _)| i)?;
    if prefix_len > 1 {
        return None;
    }
    let raw = s[..prefix_len].eq_ignore_ascii_case("r");
    let body = &s[prefix_len..];
    let quote = ["\"\"\"", "'''", "\"", "'"]
        .into_iter()
        .find(|q| body.starts_with(q))?;
    let body = &body[quote.len()..];
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if body[i..].starts_with(quote) {
            return Some((value, &body[i + quote.len()..]));
        }
        match c {
            '\n' if quote.len() == 1 => return None,
            '\\' if !raw => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, '\n')) => {}
                Some((_, other @ ('\\' | '\'' | '"'))) => value.push(other),
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => return None,
            },
            _ => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_string_forms() {
        assert_eq!(
            help_string("import x\nHELP = \"Seed demo data\"\n").as_deref(),
            Some("Seed demo data")
        );
        assert_eq!(
            help_string("HELP='it\\'s here'  # comment\n").as_deref(),
            Some("it's here")
        );
        assert_eq!(
            help_string("HELP: str = r'raw\\n'\n").as_deref(),
            Some("raw\\n")
        );
        assert_eq!(
            help_string("HELP = \"\"\"\nSend a message.\n\nUsage: send <text>\n\"\"\"\n")
                .as_deref(),
            Some("Send a message.\n\nUsage: send <text>")
        );
        assert_eq!(
            help_string("HELP = (\n    \"Send a \"  # first\n    'message'\n)\n").as_deref(),
            Some("Send a message")
        );
        // Only top-level assignments count, and computed values are not evaluated.
        assert_eq!(help_string("def f():\n    HELP = 'no'\n"), None);
        assert_eq!(help_string("HELP = make_help()\n"), None);
        assert_eq!(help_string("HELPER = 'no'\n"), None);
    }
}
