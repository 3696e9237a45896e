//! A stacklet id: lowercase ASCII letters, digits and `-`, starting with a letter, at most
//! [`MAX_LEN`] characters (`photos`, `ai-chat`). It names the stacklet's directory, its compose project, its secrets namespace and its
//! bot, so the rule is checked once, here, and a `StackletId` is valid by construction.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct StackletId(String);

/// The longest stacklet id. Every engine name is derived from it: the project `stack-<id>` (with
/// a non-default instance's prefix `<instance>_`, instance names being at most 32 characters),
/// then `_<volume>` or `-<service>`; the state files `.stack/<id>.setup-done` and
/// `.stack/env/<id>.env`. At 32 the default instance's `stack-<id>-<service>` stays a valid
/// 63-character DNS label for short service names, and the longest prefixed project (71
/// characters) leaves well over 100 for a volume's name within the file system's 255-byte limit
/// on names under the engine's data root. See docs/robustness.md.
pub const MAX_LEN: usize = 32;

/// What the id rule expects, for messages.
pub const ID_RULE: &str =
    "lowercase letters, digits and `-`, starting with a letter, at most 32 characters";

impl StackletId {
    /// `None` when `id` breaks the rule.
    pub fn parse(id: &str) -> Option<Self> {
        Self::is_valid(id).then(|| Self(id.to_string()))
    }

    /// Whether `id` has the shape of a stacklet id.
    pub fn is_valid(id: &str) -> bool {
        id.len() <= MAX_LEN
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StackletId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Read-only access as a string: everything downstream takes `&str`.
impl std::ops::Deref for StackletId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for StackletId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_rule() {
        for good in ["photos", "ai-chat", "a1", "x-"] {
            assert!(StackletId::parse(good).is_some(), "{good}");
        }
        for bad in ["", "Photos", "1photos", "-x", "ai_chat", "ai chat", "ä"] {
            assert!(StackletId::parse(bad).is_none(), "{bad}");
        }
        assert!(StackletId::parse(&"a".repeat(MAX_LEN)).is_some());
        assert!(StackletId::parse(&"a".repeat(MAX_LEN + 1)).is_none());
        assert!(ID_RULE.contains(&format!("at most {MAX_LEN} characters")));
    }
}
