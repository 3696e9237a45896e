//! The error a person is meant to read: a one-line message, optional `hint:` lines and the exit code.
//!
//! Domain modules return their own `thiserror` enums; anything that should reach the user as a clear
//! `error:` line converts into (or wraps) a `UserError`. `main` renders it once through the `Printer`.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// Exit 1: the command could not do what was asked.
    Failure,
    /// Exit 2: the command line itself was wrong.
    Usage,
}

#[derive(Clone, Debug)]
pub struct UserError {
    pub message: String,
    pub hints: Vec<String>,
    pub kind: ExitKind,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hints: Vec::new(),
            kind: ExitKind::Failure,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            kind: ExitKind::Usage,
            ..Self::new(message)
        }
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    #[must_use]
    pub fn maybe_hint(self, hint: Option<String>) -> Self {
        match hint {
            Some(h) => self.hint(h),
            None => self,
        }
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// The closest candidate to `input` by edit distance, if it is close enough to be a useful hint.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = levenshtein(input, candidate);
        let limit = (input.len().max(candidate.len()) / 3).max(2);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos() {
        assert_eq!(closest("dta_dir", ["data_dir", "domain"]), Some("data_dir"));
        assert_eq!(closest("photso", ["photos", "docs"]), Some("photos"));
        assert_eq!(closest("zzzzzz", ["photos", "docs"]), None);
    }
}
