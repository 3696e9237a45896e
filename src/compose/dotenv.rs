//! Compose's `.env` / `env_file` format, read the way compose-go's `dotenv` package reads it.
//!
//! Rules (checked against `docker compose config`): blank lines and `#` lines are skipped; an
//! optional `export ` prefix; `KEY=VALUE` or `KEY: VALUE`; single quotes are literal; double quotes
//! understand `\n`, `\r`, `\t`, `\\`, `\"`, `\$` and may span lines; unquoted values end at ` #`;
//! unquoted and double-quoted values are interpolated with compose rules, looking a name up first
//! in the lookup environment (the project's interpolation env) and then in the keys defined earlier
//! in the same file; a bare `KEY` takes its value from the lookup environment or is dropped.

use std::collections::BTreeMap;

use super::yaml::{self, ReadError};

/// One syntax problem, with its 1-based line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DotenvError {
    pub line: u64,
    pub reason: String,
}

/// Parses dotenv text. Returns the entries in file order (later duplicates win when collected).
pub(crate) fn parse(
    text: &str,
    lookup: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, DotenvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut defined: BTreeMap<String, String> = BTreeMap::new();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i as u64 + 1;
        let line = lines[i].trim_end_matches('\r').trim_start();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let sep = line.find(['=', ':']);
        let Some(sep) = sep else {
            let key = line.trim();
            check_key(key, line_no)?;
            if let Some(v) = lookup.get(key) {
                defined.insert(key.to_owned(), v.clone());
                out.push((key.to_owned(), v.clone()));
            }
            continue;
        };
        let key = line[..sep].trim();
        check_key(key, line_no)?;
        let rest = line[sep + 1..].trim_start();
        let (raw, expand) = if let Some(body) = rest.strip_prefix('\'') {
            (quoted(body, '\'', &lines, &mut i, line_no)?, false)
        } else if let Some(body) = rest.strip_prefix('"') {
            let value = quoted(body, '"', &lines, &mut i, line_no)?;
            (unescape_double(&value), true)
        } else {
            let value = match rest.find(" #").or_else(|| rest.find("\t#")) {
                Some(pos) => &rest[..pos],
                None => rest,
            };
            (value.trim_end().to_owned(), true)
        };
        let value = if expand {
            // Lookup env wins over earlier keys of the same file (compose-go's lookup order).
            let mut vars = defined.clone();
            vars.extend(lookup.iter().map(|(k, v)| (k.clone(), v.clone())));
            yaml::substitute(&raw, &vars).map_err(|e| DotenvError {
                line: line_no,
                reason: match e {
                    ReadError::Required { name, message, .. } => {
                        format!("required variable `{name}` is not set: {message}")
                    }
                    ReadError::Syntax(s) => s,
                },
            })?
        } else {
            raw
        };
        defined.insert(key.to_owned(), value.clone());
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

fn check_key(key: &str, line: u64) -> Result<(), DotenvError> {
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '[' | ']'));
    if ok {
        Ok(())
    } else {
        Err(DotenvError {
            line,
            reason: format!("`{key}` is not a valid variable name"),
        })
    }
}

/// The text up to the closing `quote` (which may be on a later line), with escapes still in place
/// for double quotes. Advances `next_line` past any extra lines consumed.
fn quoted(
    first: &str,
    quote: char,
    lines: &[&str],
    next_line: &mut usize,
    line_no: u64,
) -> Result<String, DotenvError> {
    let mut text = first.to_owned();
    loop {
        if let Some(end) = closing(&text, quote) {
            // compose-go reads what follows the closing quote as the next entry: a comment or
            // nothing is fine, a name would be a bare key, anything else is its parse error
            // (`J='it''s'`). Never cut the value short silently.
            let after = text[end + quote.len_utf8()..].trim();
            let starts_entry = after
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            if !after.is_empty() && !after.starts_with('#') {
                return Err(DotenvError {
                    line: line_no,
                    reason: if starts_entry {
                        format!(
                            "unexpected `{after}` after the closing {quote}; put one entry per line"
                        )
                    } else {
                        format!(
                            "unexpected `{after}` after the closing {quote}; quote the whole value"
                        )
                    },
                });
            }
            text.truncate(end);
            return Ok(text);
        }
        let Some(next) = lines.get(*next_line) else {
            return Err(DotenvError {
                line: line_no,
                reason: format!("unterminated {quote}quoted{quote} value"),
            });
        };
        text.push('\n');
        text.push_str(next.trim_end_matches('\r'));
        *next_line += 1;
    }
}

fn closing(text: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if quote == '"' && escaped {
            escaped = false;
            continue;
        }
        if quote == '"' && c == '\\' {
            escaped = true;
        } else if c == quote {
            return Some(i);
        }
    }
    None
}

/// Double-quote escapes. `\$` becomes `$$` so the interpolation pass leaves a literal `$`.
fn unescape_double(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('$') => out.push_str("$$"),
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            // `\0` and three octal digits is that byte (how `stack`'s own `.env` writer spells a
            // control character); any other `\0` loses its `0`, as Docker Compose reads it.
            Some('0') => {
                let digits: String = chars.clone().take(3).collect();
                match u8::from_str_radix(&digits, 8) {
                    Ok(byte) if digits.len() == 3 && digits.bytes().all(|d| d.is_ascii_digit()) => {
                        out.push(char::from(byte));
                        chars.nth(2);
                    }
                    _ => out.push('\\'),
                }
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `dotenv` fuzz target: a control character that `render::envfile` writes as
    /// `\0027` came back as the literal text. Expected values checked against Docker Compose v2.
    #[test]
    fn octal_and_bell_escapes_read_as_compose_reads_them() {
        let cases = [
            ("K=\"a\\0027b\"", "a\u{17}b"),
            ("K=\"1\\a2\"", "1\u{7}2"),
            ("K=\"1\\b2\"", "1\u{8}2"),
            ("K=\"1\\0412\"", "1\\412"),
            ("K=\"1\\101x\"", "1\\101x"),
            ("K=\"1\\04\"", "1\\4"),
        ];
        for (line, value) in cases {
            let parsed = parse(line, &BTreeMap::new()).unwrap();
            assert_eq!(parsed, [("K".to_string(), value.to_string())], "{line}");
        }
    }

    /// Found by the `dotenv` fuzz target: a value holding the noncharacter U+FFFF, written by
    /// `render::envfile` as it is, was refused by this reader ("invalid character"). Docker Compose
    /// v2 reads all of these (checked with `docker compose config`).
    #[test]
    fn noncharacters_and_unicode_breaks_are_plain_text() {
        let cases = [
            ("K=\u{ffff}", "\u{ffff}"),
            ("K='x\u{ffff}y'", "x\u{ffff}y"),
            ("K=\"q'\u{ffff}\\$z\"", "q'\u{ffff}$z"),
            (
                "K=\"\u{fffe}\u{85}\u{2028}\u{feff}\"",
                "\u{fffe}\u{85}\u{2028}\u{feff}",
            ),
            ("K=a\u{ffff}${X:-\u{ffff}}", "a\u{ffff}\u{ffff}"),
        ];
        for (line, value) in cases {
            let parsed = parse(line, &BTreeMap::new()).unwrap();
            assert_eq!(parsed, [("K".to_string(), value.to_string())], "{line:?}");
        }
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn parsed(text: &str, lookup: &[(&str, &str)]) -> Vec<(String, String)> {
        parse(text, &env(lookup)).unwrap()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn forms() {
        let text = "# c\n\nA=1\nexport B = two \nC: 3\nD=x # comment\nE=x#y\nF='$A \\n'\nG=\"a\\tb\\n\\$A\"\nH=\"multi\nline\"\nI=\n";
        assert_eq!(
            parsed(text, &[]),
            pairs(&[
                ("A", "1"),
                ("B", "two"),
                ("C", "3"),
                ("D", "x"),
                ("E", "x#y"),
                ("F", "$A \\n"),
                ("G", "a\tb\n$A"),
                ("H", "multi\nline"),
                ("I", ""),
            ])
        );
    }

    #[test]
    fn expansion_prefers_lookup_then_earlier_keys() {
        let text = "A=1\nB=${A}-$T\nT=file\nC=$T\nK\nM\n";
        assert_eq!(
            parsed(text, &[("T", "env"), ("K", "k")]),
            pairs(&[
                ("A", "1"),
                ("B", "1-env"),
                ("T", "file"),
                ("C", "env"),
                ("K", "k")
            ])
        );
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("A=1\nB=\"open\n", &env(&[])).unwrap_err(),
            DotenvError {
                line: 2,
                reason: "unterminated \"quoted\" value".into()
            }
        );
        assert_eq!(parse("A B=1\n", &env(&[])).unwrap_err().line, 1);
        // Text after a closing quote is never dropped silently.
        let e = parse("A=1\nJ='it''s'\n", &env(&[])).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("after the closing '"), "{}", e.reason);
        assert!(parse("K=\"x\" # note\n", &env(&[])).is_ok());
        assert!(
            parse("A=${X:?needed}\n", &env(&[]))
                .unwrap_err()
                .reason
                .contains("`X`")
        );
    }
}
