//! The error a person is meant to read: a one-line message, the causes underneath it, optional
//! `hint:` lines and the exit code.
//!
//! Domain modules return their own `thiserror` enums; anything that should reach the user as a clear
//! `error:` line converts into (or wraps) a `UserError`, keeping the domain error as its cause so
//! nothing underneath is lost. `commands::exit` renders the whole chain once through the `Printer`
//! ([`Report`]): the error line, each cause once under `Caused by:`, then the hints.
//!
//! Invariant: an error's message never repeats its source's text. A `thiserror` variant with a
//! `#[source]` says what failed (`Cannot write `x``) and leaves the why to the cause line.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// Exit 1: the command could not do what was asked.
    Failure,
    /// Exit 2: the command line itself was wrong.
    Usage,
    /// Exit 128 + signal: `stack` was asked to stop (130 for Ctrl-C), as a shell reports it.
    Stopped(u8),
}

type Shared = Arc<dyn Error + Send + Sync + 'static>;

#[derive(Clone, Debug)]
pub struct UserError {
    pub message: String,
    pub hints: Vec<String>,
    pub kind: ExitKind,
    cause: Option<Cause>,
}

/// What sits under a `UserError`'s message.
#[derive(Clone, Debug)]
enum Cause {
    /// The message says what failed; this error says why (its own chain follows).
    Source(Shared),
    /// The message *is* this error's text, so the chain continues with this error's source.
    Wrapped(Shared),
}

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hints: Vec::new(),
            kind: ExitKind::Failure,
            cause: None,
        }
    }

    /// The command was stopped by a signal (`stop`); exits as a process ended by it would.
    pub fn stopped(message: impl Into<String>, stop: crate::interrupt::Stop) -> Self {
        Self {
            kind: ExitKind::Stopped(stop.exit_status()),
            ..Self::new(message)
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            kind: ExitKind::Usage,
            ..Self::new(message)
        }
    }

    /// A domain error shown as it is: its text becomes the message and its sources the causes.
    pub fn wrap(err: impl Error + Send + Sync + 'static) -> Self {
        let message = err.to_string();
        Self {
            cause: Some(Cause::Wrapped(Arc::new(err))),
            ..Self::new(message)
        }
    }

    /// Keep `err` as the reason this error happened; it is shown under `Caused by:`.
    #[must_use]
    pub fn because(mut self, err: impl Error + Send + Sync + 'static) -> Self {
        self.cause = Some(Cause::Source(Arc::new(err)));
        self
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

impl Error for UserError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.cause {
            Some(Cause::Source(err)) => Some(err.as_ref()),
            Some(Cause::Wrapped(err)) => err.source(),
            None => None,
        }
    }
}

/// An error chain laid out for a person: the error line, each distinct cause once, the hints.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    pub message: String,
    pub causes: Vec<String>,
    pub hints: Vec<String>,
    pub kind: ExitKind,
}

impl Report {
    /// The report of `err` and everything under it.
    pub fn of(err: &(dyn Error + 'static)) -> Self {
        Report::new(std::iter::successors(Some(err), |&e| e.source()))
    }

    /// Walk the chain once. A cause whose text the line above already ends with (a message that
    /// embeds its source, as many library errors do) is not shown again.
    pub fn new<'a>(chain: impl IntoIterator<Item = &'a (dyn Error + 'static)>) -> Self {
        let mut lines: Vec<String> = Vec::new();
        let mut hints: Vec<String> = Vec::new();
        let mut kind = ExitKind::Failure;
        let mut kind_set = false;
        for err in chain {
            if let Some(user) = err.downcast_ref::<UserError>() {
                for hint in &user.hints {
                    if !hints.contains(hint) {
                        hints.push(hint.clone());
                    }
                }
                if !kind_set {
                    kind = user.kind;
                    kind_set = true;
                }
            }
            let text = err.to_string();
            let text = text.trim_end();
            if text.is_empty() || lines.last().is_some_and(|l| l.ends_with(text)) {
                continue;
            }
            lines.push(text.to_string());
        }
        let mut lines = lines.into_iter();
        Report {
            message: lines.next().unwrap_or_default(),
            causes: lines.collect(),
            hints,
            kind,
        }
    }
}

/// The chain on one line (`message: cause: cause`), each cause once, for places that hold a single
/// line: lint findings, warnings, exceptions raised into a Python hook.
pub fn one_line(err: &(dyn Error + 'static)) -> String {
    let report = Report::of(err);
    std::iter::once(report.message)
        .chain(report.causes)
        .collect::<Vec<_>>()
        .join(": ")
}

/// The closest candidate to `input` by edit distance, if it is close enough to be a useful hint.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = strsim::levenshtein(input, candidate);
        let limit = (input.len().max(candidate.len()) / 3).max(2);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(err: &anyhow::Error) -> Report {
        Report::new(err.chain())
    }

    #[test]
    fn report_shows_each_cause_once_after_the_message() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "Permission denied");
        let err = anyhow::Error::new(
            UserError::new("Cannot write `secrets.toml`")
                .because(io)
                .hint("check the permissions"),
        );
        let r = report(&err);
        assert_eq!(r.message, "Cannot write `secrets.toml`");
        assert_eq!(r.causes, ["Permission denied"]);
        assert_eq!(r.hints, ["check the permissions"]);
    }

    #[test]
    fn a_message_that_embeds_its_source_does_not_repeat_it() {
        #[derive(Debug, thiserror::Error)]
        #[error("Cannot read `x`: {source}")]
        struct Embeds {
            source: std::io::Error,
        }
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let err = anyhow::Error::new(Embeds { source: io });
        let r = report(&err);
        assert_eq!(r.message, "Cannot read `x`: entity not found");
        assert!(r.causes.is_empty(), "{:?}", r.causes);
    }

    #[test]
    fn wrap_keeps_the_domain_errors_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("Cannot read `x`")]
        struct Read {
            source: std::io::Error,
        }
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let err = anyhow::Error::new(UserError::wrap(Read { source: io }).hint("h"));
        let r = report(&err);
        assert_eq!(r.message, "Cannot read `x`");
        assert_eq!(r.causes, ["entity not found"]);
        assert_eq!(r.hints, ["h"]);
    }

    #[test]
    fn closest_finds_typos() {
        assert_eq!(closest("dta_dir", ["data_dir", "domain"]), Some("data_dir"));
        assert_eq!(closest("photso", ["photos", "docs"]), Some("photos"));
        assert_eq!(closest("zzzzzz", ["photos", "docs"]), None);
    }
}
