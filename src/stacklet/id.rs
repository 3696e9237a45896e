//! A stacklet id: lowercase ASCII letters, digits and `-`, starting with a letter (`photos`,
//! `ai-chat`). It names the stacklet's directory, its compose project, its secrets namespace and its
//! bot, so the rule is checked once, here, and a `StackletId` is valid by construction.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct StackletId(String);

/// What the id rule expects, for messages.
pub const ID_RULE: &str = "lowercase letters, digits and `-`, starting with a letter";

impl StackletId {
    /// `None` when `id` breaks the rule.
    pub fn parse(id: &str) -> Option<Self> {
        Self::is_valid(id).then(|| Self(id.to_string()))
    }

    /// Whether `id` has the shape of a stacklet id.
    pub fn is_valid(id: &str) -> bool {
        id.starts_with(|c: char| c.is_ascii_lowercase())
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
    }
}
