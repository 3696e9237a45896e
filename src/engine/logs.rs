//! Container logs of a project as a stream of lines (tail N, follow, per service), and a writer
//! that prefixes each line with its service name when several services are shown (`web | …`).
//!
//! The engine sends frames, not lines: a frame can hold several lines or half of one. Each
//! container's frames are split into whole lines here, so callers never see torn lines.

use std::collections::VecDeque;
use std::io::Write;
use std::pin::Pin;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures_util::stream::{self, BoxStream, Stream, StreamExt};

use super::lifecycle::{own_containers, summary_label, summary_name};
use super::{EngineError, labels};
use crate::namespace::Namespace;

#[derive(Clone, Debug, Default)]
pub struct LogOptions {
    /// Only these services; empty means all.
    pub services: Vec<String>,
    /// Last N lines per container; `None` means all.
    pub tail: Option<usize>,
    pub follow: bool,
    pub timestamps: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub service: String,
    pub container: String,
    pub stderr: bool,
    /// One line, without its newline.
    pub text: String,
}

pub struct LogStream {
    /// The services whose containers are streamed, sorted.
    pub services: Vec<String>,
    pub lines: Pin<Box<dyn Stream<Item = Result<LogLine, EngineError>> + Send>>,
}

pub async fn logs(
    docker: &Docker,
    ns: &Namespace,
    project: &str,
    opts: &LogOptions,
) -> Result<LogStream, EngineError> {
    let mut services = Vec::new();
    let mut streams = Vec::new();
    for c in own_containers(docker, ns, project).await? {
        let service = summary_label(&c, labels::SERVICE)
            .unwrap_or_default()
            .to_string();
        if !opts.services.is_empty() && !opts.services.contains(&service) {
            continue;
        }
        let container = summary_name(&c);
        let options = LogsOptions {
            follow: opts.follow,
            stdout: true,
            stderr: true,
            timestamps: opts.timestamps,
            tail: opts
                .tail
                .map_or_else(|| "all".to_string(), |n| n.to_string()),
            ..Default::default()
        };
        let frames = docker.clone().logs(&container, Some(options)).boxed();
        streams.push(container_lines(service.clone(), container, frames));
        if !services.contains(&service) {
            services.push(service);
        }
    }
    services.sort();
    Ok(LogStream {
        services,
        lines: Box::pin(stream::select_all(streams)),
    })
}

struct Splitter {
    frames: BoxStream<'static, Result<LogOutput, bollard::errors::Error>>,
    service: String,
    container: String,
    stdout: String,
    stderr: String,
    ready: VecDeque<Result<LogLine, EngineError>>,
    done: bool,
}

pub(crate) fn container_lines(
    service: String,
    container: String,
    frames: BoxStream<'static, Result<LogOutput, bollard::errors::Error>>,
) -> BoxStream<'static, Result<LogLine, EngineError>> {
    let state = Splitter {
        frames,
        service,
        container,
        stdout: String::new(),
        stderr: String::new(),
        ready: VecDeque::new(),
        done: false,
    };
    stream::unfold(state, |mut s| async move {
        loop {
            if let Some(item) = s.ready.pop_front() {
                return Some((item, s));
            }
            if s.done {
                return None;
            }
            match s.frames.next().await {
                Some(Ok(frame)) => {
                    let (stderr, bytes) = match &frame {
                        LogOutput::StdErr { message } => (true, message),
                        LogOutput::StdOut { message }
                        | LogOutput::Console { message }
                        | LogOutput::StdIn { message } => (false, message),
                    };
                    let text = String::from_utf8_lossy(bytes).into_owned();
                    s.push(stderr, &text);
                }
                Some(Err(e)) => {
                    s.done = true;
                    let action = format!("read the log of `{}`", s.container);
                    s.flush();
                    s.ready.push_back(Err(EngineError::api(action, e)));
                }
                None => {
                    s.done = true;
                    s.flush();
                }
            }
        }
    })
    .boxed()
}

impl Splitter {
    fn push(&mut self, stderr: bool, text: &str) {
        let buffer = if stderr {
            &mut self.stderr
        } else {
            &mut self.stdout
        };
        buffer.push_str(text);
        let mut lines = Vec::new();
        while let Some(i) = buffer.find('\n') {
            let line: String = buffer.drain(..=i).collect();
            lines.push(line.trim_end_matches(['\n', '\r']).to_string());
        }
        for text in lines {
            self.emit(stderr, text);
        }
    }

    /// A last line without a newline is still a line.
    fn flush(&mut self) {
        for stderr in [false, true] {
            let buffer = if stderr {
                &mut self.stderr
            } else {
                &mut self.stdout
            };
            if !buffer.is_empty() {
                let text = std::mem::take(buffer);
                self.emit(stderr, text);
            }
        }
    }

    fn emit(&mut self, stderr: bool, text: String) {
        self.ready.push_back(Ok(LogLine {
            service: self.service.clone(),
            container: self.container.clone(),
            stderr,
            text,
        }));
    }
}

/// Writes every line to `sink`; with more than one service each line is prefixed with the
/// service name, padded so the text lines up (`db  | …`, `web | …`).
pub async fn write_logs(mut logs: LogStream, sink: &mut dyn Write) -> Result<(), EngineError> {
    let width = logs.services.iter().map(String::len).max().unwrap_or(0);
    let prefix = logs.services.len() > 1;
    while let Some(line) = logs.lines.next().await {
        let line = line?;
        let result = if prefix {
            writeln!(sink, "{:width$} | {}", line.service, line.text)
        } else {
            writeln!(sink, "{}", line.text)
        };
        // A closed pipe (`stack logs | head`) ends the output, it is not an engine error.
        if result.is_err() {
            break;
        }
    }
    Ok(())
}

/// The container to blame when a stacklet is not healthy — the first unhealthy or exited one,
/// else the first — with the last `lines` lines of its log.
pub async fn failing_logs(
    docker: &Docker,
    ns: &Namespace,
    project: &str,
    lines: usize,
) -> Option<(String, Vec<String>)> {
    let containers = super::ps(docker, ns, project).await.ok()?;
    let culprit = containers
        .iter()
        .find(|c| c.health.as_deref() == Some("unhealthy") || c.state != "running")
        .or_else(|| containers.first())?;
    let out = log_tail(docker, ns, project, &culprit.service, lines).await;
    Some((culprit.name.clone(), out))
}

/// The last `lines` lines of service `service`'s log, best effort (empty when unreadable): it
/// only decorates an error message.
pub async fn log_tail(
    docker: &Docker,
    ns: &Namespace,
    project: &str,
    service: &str,
    lines: usize,
) -> Vec<String> {
    let opts = LogOptions {
        services: vec![service.to_string()],
        tail: Some(lines),
        follow: false,
        timestamps: false,
    };
    let Ok(mut stream) = logs(docker, ns, project, &opts).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while let Some(item) = stream.lines.next().await {
        match item {
            Ok(line) => out.push(line.text),
            Err(_) => break,
        }
    }
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn frames_become_whole_lines() {
        let mut s = Splitter {
            frames: stream::empty().boxed(),
            service: "web".into(),
            container: "c".into(),
            stdout: String::new(),
            stderr: String::new(),
            ready: VecDeque::new(),
            done: false,
        };
        s.push(false, "one\ntw");
        s.push(true, "err\r\n");
        s.push(false, "o\nthree");
        s.flush();
        let lines: Vec<(bool, String)> = s
            .ready
            .into_iter()
            .map(|l| l.map(|l| (l.stderr, l.text)).unwrap())
            .collect();
        assert_eq!(
            lines,
            [
                (false, "one".to_string()),
                (true, "err".to_string()),
                (false, "two".to_string()),
                (false, "three".to_string())
            ]
        );
    }
}
