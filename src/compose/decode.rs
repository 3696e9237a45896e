//! Typed reads from the line-annotated YAML tree: scalars, booleans, integers, lists, maps and the
//! key check that rejects unsupported keys. Shared by the service and project decoders.
//!
//! Invariant: every failure names the file, the line and what was being read; nothing is
//! silently dropped. Interpolated values arrive as strings, so numbers and booleans are also
//! accepted in their string form, as compose does after interpolation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::ComposeError;
use super::yaml::{Node, Value};

pub(crate) type Result<T> = std::result::Result<T, ComposeError>;

/// What a decoder needs to know about where it is reading.
pub(crate) struct Ctx<'a> {
    pub file: &'a Path,
    /// The project directory: relative paths resolve against it.
    pub dir: &'a Path,
    /// The interpolation environment (also the lookup for `K`-only environment entries).
    pub env: &'a BTreeMap<String, String>,
}

impl Ctx<'_> {
    pub fn invalid(&self, node: &Node, what: &str, reason: impl Into<String>) -> ComposeError {
        ComposeError::Invalid {
            file: self.file.to_owned(),
            line: node.line,
            what: what.to_owned(),
            reason: reason.into(),
        }
    }

    fn expected(&self, node: &Node, what: &str, expected: &str) -> ComposeError {
        self.invalid(
            node,
            what,
            format!("expected {expected}, found {}", node.kind()),
        )
    }

    /// A scalar as text (numbers and booleans in their YAML spelling).
    pub fn string(&self, node: &Node, what: &str) -> Result<String> {
        node.scalar()
            .ok_or_else(|| self.expected(node, what, "a string"))
    }

    /// `None` for null, else a scalar.
    pub fn opt_string(&self, node: &Node, what: &str) -> Result<Option<String>> {
        if node.is_null() {
            Ok(None)
        } else {
            self.string(node, what).map(Some)
        }
    }

    pub fn bool(&self, node: &Node, what: &str) -> Result<bool> {
        match &node.value {
            Value::Bool(b) => Ok(*b),
            Value::Str(s) => match s.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(self.expected(node, what, "`true` or `false`")),
            },
            _ => Err(self.expected(node, what, "`true` or `false`")),
        }
    }

    pub fn uint(&self, node: &Node, what: &str) -> Result<u64> {
        match &node.value {
            Value::Int(i) => u64::try_from(*i).map_err(|_| self.expected(node, what, "a number")),
            Value::Str(s) => s
                .trim()
                .parse()
                .map_err(|_| self.expected(node, what, "a number")),
            _ => Err(self.expected(node, what, "a number")),
        }
    }

    pub fn seq<'n>(&self, node: &'n Node, what: &str) -> Result<&'n [Node]> {
        match &node.value {
            Value::Seq(items) => Ok(items),
            _ => Err(self.expected(node, what, "a list")),
        }
    }

    pub fn map<'n>(&self, node: &'n Node, what: &str) -> Result<&'n [(Node, Node)]> {
        match &node.value {
            Value::Map(entries) => Ok(entries),
            Value::Null => Ok(&[]),
            _ => Err(self.expected(node, what, "a mapping")),
        }
    }

    pub fn key(&self, key: &Node, what: &str) -> Result<String> {
        self.string(key, what)
    }

    /// A list of scalars.
    pub fn strings(&self, node: &Node, what: &str) -> Result<Vec<String>> {
        self.seq(node, what)?
            .iter()
            .map(|n| self.string(n, what))
            .collect()
    }

    /// A single string or a list of strings.
    pub fn string_or_list(&self, node: &Node, what: &str) -> Result<Vec<String>> {
        match &node.value {
            Value::Seq(_) => self.strings(node, what),
            _ => Ok(vec![self.string(node, what)?]),
        }
    }

    /// Rejects any key outside `allowed` (extension keys `x-…` are always allowed and ignored).
    /// Returns the remaining entries with their key text.
    pub fn entries<'n>(
        &self,
        node: &'n Node,
        what: &str,
        place: &str,
        allowed: &[&'static str],
    ) -> Result<Vec<(String, &'n Node)>> {
        let mut out = Vec::new();
        for (k, v) in self.map(node, what)? {
            let key = self.key(k, what)?;
            if key.starts_with("x-") {
                continue;
            }
            if !allowed.contains(&key.as_str()) {
                return Err(ComposeError::UnsupportedKey {
                    file: self.file.to_owned(),
                    line: k.line,
                    key,
                    place: place.to_owned(),
                    supported: allowed.to_vec(),
                });
            }
            out.push((key, v));
        }
        Ok(out)
    }

    /// A `KEY: value` map or a `KEY=value` list. `default` decides what a key without a value
    /// becomes (environment: looked up; labels: empty string).
    pub fn key_values(
        &self,
        node: &Node,
        what: &str,
        default: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<(String, Option<String>)>> {
        match &node.value {
            Value::Seq(items) => items
                .iter()
                .map(|item| {
                    let text = self.string(item, what)?;
                    Ok(match text.split_once('=') {
                        Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                        None => {
                            let value = default(&text);
                            (text, value)
                        }
                    })
                })
                .collect(),
            _ => self
                .map(node, what)?
                .iter()
                .map(|(k, v)| {
                    let key = self.key(k, what)?;
                    let value = match self.opt_string(v, what)? {
                        Some(v) => Some(v),
                        None => default(&key),
                    };
                    Ok((key, value))
                })
                .collect(),
        }
    }

    /// An absolute, lexically normalised host path: `~` is the home directory, relative paths are
    /// relative to the project directory (compose resolves them the same way).
    pub fn host_path(&self, path: &str) -> PathBuf {
        let joined = if path == "~" || path.starts_with("~/") {
            let home = std::env::home_dir().unwrap_or_default();
            home.join(path.trim_start_matches('~').trim_start_matches('/'))
        } else {
            self.dir.join(path)
        };
        crate::instance::normalize(&joined)
    }
}
