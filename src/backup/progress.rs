//! rustic's progress reports drawn as indicatif bars — on a terminal only: `Bars::hidden()`
//! (no terminal, `--quiet`, tests) draws nothing. The one place bars for backups are styled.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rustic_core::{Progress, ProgressBars, ProgressType, RusticProgress};

#[derive(Clone, Copy, Debug)]
pub struct Bars {
    visible: bool,
}

impl Bars {
    pub fn new(visible: bool) -> Self {
        Self { visible }
    }

    pub fn hidden() -> Self {
        Self::new(false)
    }
}

impl ProgressBars for Bars {
    fn progress(&self, kind: ProgressType, prefix: &str) -> Progress {
        if !self.visible {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let template = match kind {
            ProgressType::Bytes => {
                "{prefix:>12.cyan.bold} [{bar:25}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
            }
            ProgressType::Counter => "{prefix:>12.cyan.bold} [{bar:25}] {pos}/{len}",
            _ => "{prefix:>12.cyan.bold} {spinner} {msg}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(prefix.trim_end_matches("...").to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress::new(Bar(bar))
    }
}

#[derive(Debug)]
struct Bar(ProgressBar);

impl RusticProgress for Bar {
    fn is_hidden(&self) -> bool {
        false
    }
    fn set_length(&self, len: u64) {
        self.0.set_length(len);
    }
    fn set_title(&self, title: &str) {
        self.0.set_prefix(title.trim_end_matches("...").to_string());
    }
    fn inc(&self, inc: u64) {
        self.0.inc(inc);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
