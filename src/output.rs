//! The one `Printer`: every byte `stack` shows a person goes through here.
//!
//! stdout carries data (tables, JSON, dotenv); stderr carries progress, warnings and errors. Colour is
//! decided once: only when stderr is a terminal and `NO_COLOR` is unset (or `--color` forces it).
//! Spinners and bars are only drawn on a terminal. Domain modules never print; they receive a
//! `Printer` (it is cheap to clone) and report through it.

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use owo_colors::OwoColorize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

#[derive(Debug)]
struct Inner {
    color: bool,
    terminal: bool,
    verbosity: Verbosity,
    /// Set only by [`Printer::capturing`]: lines are recorded instead of written.
    capture: Option<Capture>,
}

/// Cheap to clone; shared by every task that reports progress.
#[derive(Clone, Debug)]
pub struct Printer {
    inner: Arc<Inner>,
}

impl Printer {
    pub fn new(choice: ColorChoice, verbosity: Verbosity) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && !no_color,
        };
        Self {
            inner: Arc::new(Inner {
                color,
                terminal,
                verbosity,
                capture: None,
            }),
        }
    }

    /// True when progress animations may be drawn (stderr is a terminal and not quiet).
    pub fn animate(&self) -> bool {
        self.inner.terminal && self.inner.verbosity != Verbosity::Quiet
    }

    pub fn verbose(&self) -> bool {
        self.inner.verbosity == Verbosity::Verbose
    }

    /// Whether output is styled (so prompts drawn by another library can match).
    pub fn color(&self) -> bool {
        self.inner.color
    }

    /// A cargo-style status line: the verb right-aligned in 12 columns, then the message.
    /// `   Rendering .env`, `     Pulling postgres:16`, `       Ready Documents in 14.2s`.
    pub fn status(&self, verb: &str, message: impl Display) {
        if self.inner.verbosity == Verbosity::Quiet {
            return;
        }
        let verb = format!("{verb:>12}");
        let line = if self.inner.color {
            format!("{} {message}", verb.green().bold())
        } else {
            format!("{verb} {message}")
        };
        self.err_line(&line);
    }

    /// A line shown under the current step (hook output, `print()` from Python), indented.
    pub fn detail(&self, line: impl Display) {
        if self.inner.verbosity == Verbosity::Quiet {
            return;
        }
        let line = line.to_string();
        let prefix = if self.inner.color {
            format!("{}", "             │".dimmed())
        } else {
            "             │".to_string()
        };
        // Hook output carries the child's own colour codes; without colour (NO_COLOR, `--color
        // never`, not a terminal) they are removed like ours.
        if self.inner.color {
            self.err_line(&format!("{prefix} {line}"));
        } else {
            let plain = anstream::adapter::strip_str(&line);
            self.err_line(&format!("{prefix} {plain}"));
        }
    }

    /// Extra information only shown with `-v`.
    pub fn debug(&self, message: impl Display) {
        if self.verbose() {
            self.err_line(&format!("{:>12} {message}", "debug"));
        }
    }

    pub fn warn(&self, message: impl Display) {
        let label = if self.inner.color {
            format!("{}", "warning:".yellow().bold())
        } else {
            "warning:".to_string()
        };
        self.err_line(&format!("{label} {message}"));
    }

    /// `error: <message>`, then (cargo-style) a blank line, `Caused by:` and each cause indented on
    /// its own line, then for each hint a blank line and `hint: <hint>`.
    pub fn failure(&self, report: &crate::error::Report) {
        let mut message = report.message.clone();
        if !report.causes.is_empty() {
            let heading = if self.inner.color {
                format!("{}", "Caused by:".bold())
            } else {
                "Caused by:".to_string()
            };
            message.push_str(&format!("\n\n{heading}"));
            for cause in &report.causes {
                for line in cause.lines() {
                    message.push_str(&format!("\n  {line}"));
                }
            }
        }
        self.error(message, &report.hints);
    }

    /// `error: <message>`, then for each hint a blank line and `hint: <hint>`.
    pub fn error(&self, message: impl Display, hints: &[String]) {
        let (label, hint_label) = if self.inner.color {
            (
                format!("{}", "error:".red().bold()),
                format!("{}", "hint:".cyan().bold()),
            )
        } else {
            ("error:".to_string(), "hint:".to_string())
        };
        let mut text = format!("{label} {message}");
        for hint in hints {
            text.push_str(&format!("\n\n{hint_label} {hint}"));
        }
        self.err_line(&text);
    }

    /// Plain text on stderr (welcome screens, prompts), never suppressed by colour choice.
    pub fn note(&self, message: impl Display) {
        if self.inner.verbosity == Verbosity::Quiet {
            return;
        }
        self.err_line(&message.to_string());
    }

    pub fn bold(&self, text: &str) -> String {
        if self.inner.color {
            text.bold().to_string()
        } else {
            text.to_string()
        }
    }

    /// Data on stdout. A closed pipe (`stack list | head`) is not an error worth a panic.
    pub fn out(&self, text: impl Display) {
        if let Some(capture) = &self.inner.capture {
            capture.push(Stream::Stdout, text.to_string());
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }

    /// A plain text table on stdout: left-aligned columns two spaces apart, no trailing spaces.
    pub fn table<const N: usize>(&self, headers: [&str; N], rows: &[[String; N]]) {
        let mut widths = headers.map(|h| h.chars().count());
        for row in rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        self.out(line(headers.to_vec()));
        for row in rows {
            self.out(line(row.iter().map(String::as_str).collect()));
        }
    }

    /// One JSON document on stdout, nothing else there.
    pub fn json(&self, value: &serde_json::Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
        self.out(text);
    }

    /// Draw target for indicatif bars: hidden unless animations are allowed.
    pub fn draw_target(&self) -> indicatif::ProgressDrawTarget {
        if self.animate() {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        }
    }

    fn err_line(&self, line: &str) {
        if let Some(capture) = &self.inner.capture {
            capture.push(Stream::Stderr, line.to_string());
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

// --- Capture: lets tests (and callers that need the text) read what a `Printer` would have shown. ---

/// Which stream a captured line would have gone to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The lines a capturing `Printer` recorded, in order. Cheap to clone; clones share the record.
#[derive(Clone, Debug, Default)]
pub struct Capture(Arc<Mutex<Vec<(Stream, String)>>>);

impl Capture {
    fn push(&self, stream: Stream, text: String) {
        // A poisoned lock only means another thread panicked mid-push; the record is still usable.
        let mut lines = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lines.extend(text.lines().map(|l| (stream, l.to_string())));
    }

    /// Every recorded line of one stream.
    #[cfg(test)]
    pub fn lines(&self, stream: Stream) -> Vec<String> {
        let lines = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lines
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Every recorded stderr line (progress, details, warnings, errors).
    #[cfg(test)]
    pub fn stderr(&self) -> Vec<String> {
        self.lines(Stream::Stderr)
    }

    /// Every recorded stdout line (data).
    #[cfg(test)]
    pub fn stdout(&self) -> Vec<String> {
        self.lines(Stream::Stdout)
    }
}

impl Printer {
    /// A colourless, non-terminal `Printer` that records its lines in the returned [`Capture`]
    /// instead of writing them.
    pub fn capturing(verbosity: Verbosity) -> (Self, Capture) {
        let capture = Capture::default();
        let printer = Self {
            inner: Arc::new(Inner {
                color: false,
                terminal: false,
                verbosity,
                capture: Some(capture.clone()),
            }),
        };
        (printer, capture)
    }
}

/// `1.5 MiB`: sizes for people.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
