//! The small string syntaxes inside a compose file: durations, byte sizes, short port and volume
//! specs, shell words, `extra_hosts`, devices and tmpfs entries.
//!
//! Every function is pure and returns the reason text on failure; `service.rs` adds the file, line
//! and service. The rules follow what compose-go accepts (Go `time.ParseDuration`, docker's
//! `units.RAMInBytes`, `nat.ParsePortSpec`, `shellwords`), checked against `docker compose config`.

use std::time::Duration;

use super::model::PortMapping;

/// A Go-style duration: `1m30s`, `10s`, `500ms`, `1.5h`, `0`.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration (use e.g. `30s`, `1m30s`, `500ms`)");
    let s = text.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += number * nanos_per;
    }
    // The engine takes durations as signed 64-bit nanoseconds (about 292 years); anything longer
    // is a typo, and must be an error rather than a silently clamped value (issue 10 §13).
    #[allow(clippy::cast_precision_loss)]
    if !total.is_finite() || total > i64::MAX as f64 {
        return Err(format!(
            "`{text}` is longer than Docker can represent (about 292 years); use e.g. `30s`"
        ));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Duration::from_nanos(total.round() as u64))
}

/// A byte size: an integer, or `64m`, `1gb`, `512k`, `1.5g` (binary multiples, like docker).
pub(crate) fn size(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a size (use e.g. `64m`, `1gb` or a number of bytes)");
    let s = text.trim().to_ascii_lowercase();
    let num_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    if num_len == 0 {
        return Err(bad());
    }
    let number: f64 = s[..num_len].parse().map_err(|_| bad())?;
    let unit = s[num_len..].trim_start();
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let multiplier: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return Err(bad()),
    };
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    Ok((number * multiplier as f64) as u64)
}

fn port_range(text: &str) -> Result<(u16, u16), String> {
    let one = |p: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("`{p}` is not a port number (1-65535)")),
        }
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if a > b {
                return Err(format!("`{text}` is an empty port range"));
            }
            Ok((a, b))
        }
        None => one(text).map(|p| (p, p)),
    }
}

pub(crate) fn protocol(text: &str) -> Result<String, String> {
    match text {
        "tcp" | "udp" => Ok(text.to_owned()),
        _ => Err(format!("protocol `{text}` is not `tcp` or `udp`")),
    }
}

/// Expands a target and optional published spec (each a port or `a-b` range) into mappings.
pub(crate) fn port_mappings(
    target: &str,
    published: Option<&str>,
    host_ip: Option<&str>,
    proto: &str,
) -> Result<Vec<PortMapping>, String> {
    let (t0, t1) = port_range(target)?;
    let published = published.filter(|p| !p.is_empty());
    let host = published.map(port_range).transpose()?;
    let mapping = |target, published| PortMapping {
        target,
        published,
        host_ip: host_ip.filter(|ip| !ip.is_empty()).map(str::to_owned),
        protocol: proto.to_owned(),
    };
    match host {
        None => Ok((t0..=t1).map(|t| mapping(t, None)).collect()),
        Some((h0, h1)) if h1 - h0 == t1 - t0 => Ok((t0..=t1)
            .zip(h0..=h1)
            .map(|(t, h)| mapping(t, Some(h)))
            .collect()),
        Some(_) if t0 == t1 => Err(
            "a host port range for a single container port is not supported; publish one host port"
                .to_owned(),
        ),
        Some(_) => Err("host and container port ranges differ in length".to_owned()),
    }
}

/// Short port syntax: `[ip:][host:]container[/proto]`; IPv6 addresses in brackets.
pub(crate) fn short_port(spec: &str) -> Result<Vec<PortMapping>, String> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((rest, proto)) => (rest, protocol(proto)?),
        None => (spec, "tcp".to_owned()),
    };
    let (ip, rest) = if let Some(after) = rest.strip_prefix('[') {
        let (ip, rest) = after
            .split_once(']')
            .ok_or_else(|| format!("`{spec}` has an unclosed `[`"))?;
        let rest = rest
            .strip_prefix(':')
            .ok_or_else(|| format!("`{spec}` needs `:` after the IPv6 address"))?;
        (Some(ip), rest)
    } else {
        (None, rest)
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match (ip, parts.as_slice()) {
        (None, [c]) => (None, None, *c),
        (None, [h, c]) => (None, Some(*h), *c),
        (None, [ip, h, c]) => (Some(*ip), Some(*h), *c),
        (Some(ip), [h, c]) => (Some(ip), Some(*h), *c),
        _ => {
            return Err(format!(
                "`{spec}` is not `[ip:][host:]container[/protocol]`"
            ));
        }
    };
    port_mappings(container, host, ip, &proto).map_err(|e| format!("`{spec}`: {e}"))
}

/// The parts of a short volume spec `[source:]target[:options]`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ShortVolume {
    pub source: Option<String>,
    pub target: String,
    pub options: Vec<String>,
}

pub(crate) fn short_volume(spec: &str) -> Result<ShortVolume, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [t] => (None, *t, ""),
        [s, t] => (Some(*s), *t, ""),
        [s, t, o] => (Some(*s), *t, *o),
        _ => return Err(format!("`{spec}` is not `[source:]target[:options]`")),
    };
    if target.is_empty() || source.is_some_and(str::is_empty) {
        return Err(format!(
            "`{spec}` has an empty source or target (an unset variable?)"
        ));
    }
    if !target.starts_with('/') {
        return Err(format!(
            "`{spec}`: the container path `{target}` is not absolute"
        ));
    }
    Ok(ShortVolume {
        source: source.map(str::to_owned),
        target: target.to_owned(),
        options: options
            .split(',')
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// A volume source that is a host path rather than a volume name (compose-go's `isFilePath`).
pub(crate) fn is_host_path(source: &str) -> bool {
    source.starts_with(['.', '/', '~'])
}

/// Splits a shell-form `command`/`entrypoint` string like compose (POSIX shell words, no
/// expansion): quotes group, backslash escapes, `'…'` is literal.
pub(crate) fn shell_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated single quote in `{text}`")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("unterminated double quote in `{text}`")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated double quote in `{text}`")),
                    }
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// `host:ip` or `host=ip` (the `=` form allows IPv6 addresses).
pub(crate) fn extra_host(entry: &str) -> Result<(String, String), String> {
    let split = entry.split_once('=').or_else(|| entry.split_once(':'));
    match split {
        Some((host, ip)) if !host.is_empty() && !ip.is_empty() => {
            let ip = ip
                .strip_prefix('[')
                .and_then(|i| i.strip_suffix(']'))
                .unwrap_or(ip);
            Ok((host.trim().to_owned(), ip.trim().to_owned()))
        }
        _ => Err(format!("`{entry}` is not `host:ip` or `host=ip`")),
    }
}

/// `source[:target[:permissions]]`.
pub(crate) fn device(entry: &str) -> Result<(String, String, String), String> {
    let parts: Vec<&str> = entry.split(':').collect();
    let (s, t, p) = match parts.as_slice() {
        [s] => (*s, *s, "rwm"),
        [s, t] if is_permissions(t) => (*s, *s, *t),
        [s, t] => (*s, *t, "rwm"),
        [s, t, p] if is_permissions(p) => (*s, *t, *p),
        _ => return Err(format!("`{entry}` is not `source[:target[:permissions]]`")),
    };
    if s.is_empty() || t.is_empty() {
        return Err(format!("`{entry}` has an empty path"));
    }
    Ok((s.to_owned(), t.to_owned(), p.to_owned()))
}

fn is_permissions(text: &str) -> bool {
    !text.is_empty() && text.len() <= 3 && text.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
}

/// `path[:options]`.
pub(crate) fn tmpfs(entry: &str) -> Result<(String, String), String> {
    let (path, options) = entry.split_once(':').unwrap_or((entry, ""));
    if !path.starts_with('/') {
        return Err(format!("tmpfs path `{path}` is not absolute"));
    }
    Ok((path.to_owned(), options.to_owned()))
}

pub(crate) fn restart(policy: &str) -> Result<(), String> {
    let ok = match policy.split_once(':') {
        Some(("on-failure", n)) => n.parse::<u32>().is_ok(),
        Some(_) => false,
        None => matches!(policy, "no" | "always" | "on-failure" | "unless-stopped"),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{policy}` is not `no`, `always`, `on-failure[:N]` or `unless-stopped`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm(target: u16, published: Option<u16>, ip: Option<&str>, proto: &str) -> PortMapping {
        PortMapping {
            target,
            published,
            host_ip: ip.map(str::to_owned),
            protocol: proto.to_owned(),
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("1h2m3s4ms"), Ok(Duration::from_millis(3_723_004)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert_eq!(
            duration("10"),
            Err("`10` is not a duration (use e.g. `30s`, `1m30s`, `500ms`)".to_owned())
        );
        assert!(duration("1d").is_err());
        assert!(
            duration("2562048h")
                .unwrap_err()
                .contains("longer than Docker can represent")
        );
        assert!(duration(&format!("{}s", "9".repeat(400))).is_err());
        assert!(duration("-5s").unwrap_err().contains("is not a duration"));
        assert!(duration("2562047h").is_ok());
        assert!(duration("s").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(size("1024"), Ok(1024));
        assert_eq!(size("64m"), Ok(64 << 20));
        assert_eq!(size("1gb"), Ok(1 << 30));
        assert_eq!(size("1GiB"), Ok(1 << 30));
        assert_eq!(size("512k"), Ok(512 << 10));
        assert_eq!(size("1.5g"), Ok(3 << 29));
        assert_eq!(
            size("lots"),
            Err("`lots` is not a size (use e.g. `64m`, `1gb` or a number of bytes)".to_owned())
        );
    }

    #[test]
    fn short_ports() {
        assert_eq!(short_port("80"), Ok(vec![pm(80, None, None, "tcp")]));
        assert_eq!(
            short_port("8080:80/udp"),
            Ok(vec![pm(80, Some(8080), None, "udp")])
        );
        assert_eq!(
            short_port("127.0.0.1:8080:80"),
            Ok(vec![pm(80, Some(8080), Some("127.0.0.1"), "tcp")])
        );
        assert_eq!(
            short_port("127.0.0.1::80"),
            Ok(vec![pm(80, None, Some("127.0.0.1"), "tcp")])
        );
        assert_eq!(
            short_port("[::1]:8080:80"),
            Ok(vec![pm(80, Some(8080), Some("::1"), "tcp")])
        );
        assert_eq!(
            short_port("9000-9001:8000-8001"),
            Ok(vec![
                pm(8000, Some(9000), None, "tcp"),
                pm(8001, Some(9001), None, "tcp")
            ])
        );
        assert_eq!(
            short_port("3000-3001"),
            Ok(vec![
                pm(3000, None, None, "tcp"),
                pm(3001, None, None, "tcp")
            ])
        );
        assert_eq!(
            short_port("80:http"),
            Err("`80:http`: `http` is not a port number (1-65535)".to_owned())
        );
        assert_eq!(
            short_port("70000:80"),
            Err("`70000:80`: `70000` is not a port number (1-65535)".to_owned())
        );
        assert_eq!(
            short_port("80/sctp"),
            Err("protocol `sctp` is not `tcp` or `udp`".to_owned())
        );
        assert_eq!(
            short_port("1:2:3:4"),
            Err("`1:2:3:4` is not `[ip:][host:]container[/protocol]`".to_owned())
        );
        assert_eq!(
            short_port("9000-9002:80"),
            Err("`9000-9002:80`: a host port range for a single container port is not supported; publish one host port".to_owned())
        );
    }

    #[test]
    fn short_volumes() {
        assert_eq!(
            short_volume("./data:/data:ro,z"),
            Ok(ShortVolume {
                source: Some("./data".into()),
                target: "/data".into(),
                options: vec!["ro".into(), "z".into()]
            })
        );
        assert_eq!(short_volume("/anon").unwrap().source, None);
        assert_eq!(
            short_volume(":/data"),
            Err("`:/data` has an empty source or target (an unset variable?)".to_owned())
        );
        assert_eq!(
            short_volume("db:data"),
            Err("`db:data`: the container path `data` is not absolute".to_owned())
        );
        assert!(is_host_path("./x") && is_host_path("~/x") && is_host_path("/x"));
        assert!(!is_host_path("db"));
    }

    #[test]
    fn shell_splitting() {
        assert_eq!(
            shell_words(r#"sh -c "echo \"hi\" $$X" 'a b' c\ d"#),
            Ok(vec![
                "sh".into(),
                "-c".into(),
                "echo \"hi\" $$X".into(),
                "a b".into(),
                "c d".into()
            ])
        );
        assert_eq!(shell_words("  "), Ok(vec![]));
        assert!(shell_words("echo 'open").is_err());
    }

    #[test]
    fn hosts_devices_tmpfs_restart() {
        assert_eq!(
            extra_host("h:host-gateway"),
            Ok(("h".into(), "host-gateway".into()))
        );
        assert_eq!(extra_host("h=::1"), Ok(("h".into(), "::1".into())));
        assert!(extra_host("nohost").is_err());
        assert_eq!(
            device("/dev/a"),
            Ok(("/dev/a".into(), "/dev/a".into(), "rwm".into()))
        );
        assert_eq!(
            device("/dev/a:/dev/b:r"),
            Ok(("/dev/a".into(), "/dev/b".into(), "r".into()))
        );
        assert_eq!(
            device("/dev/a:rw"),
            Ok(("/dev/a".into(), "/dev/a".into(), "rw".into()))
        );
        assert_eq!(
            tmpfs("/run:size=64m"),
            Ok(("/run".into(), "size=64m".into()))
        );
        assert!(tmpfs("run").is_err());
        assert!(restart("on-failure:3").is_ok() && restart("unless-stopped").is_ok());
        assert!(restart("sometimes").is_err());
    }
}
