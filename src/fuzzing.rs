//! The entry points of the fuzz targets in `fuzz/` (`scripts/fuzz.sh`): each feeds arbitrary text to
//! one parser of a file a user writes and ignores the outcome, so only a panic, a hang or a broken
//! round trip is a finding. Not part of `stack`'s interface; hidden from the docs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `stacklets/<id>/stacklet.toml`.
pub fn manifest(text: &str) {
    let _ =
        crate::stacklet::manifest::Manifest::parse(text, "stacklets/fuzz/stacklet.toml", "fuzz");
}

/// A template (`[env.defaults]` values, `check_url`, …), parsed and rendered.
pub fn template(text: &str) {
    let vars: BTreeMap<String, String> = [
        ("data_dir", "/data"),
        ("domain", "home.internal"),
        ("fuzz__DB_PASSWORD", "s3cret"),
        ("timezone", "Europe/Berlin"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Ok(template) = crate::render::template::Template::parse(text) {
        let _ = template.variables().count();
        let _ = template.render(&vars);
    }
}

/// A compose file with `${VAR}` interpolation, decoded into the project model. Relative paths
/// point into a directory that does not exist, so nothing on disk is read.
pub fn compose(text: &str) {
    let env: BTreeMap<String, String> = [("A", "x"), ("EMPTY", ""), ("PORT", "8080")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let file = Path::new("/nonexistent-stack-fuzz/docker-compose.yml");
    let _ = crate::compose::load_str(text, file, "stack-fuzz", &env);
}

/// A `.env` file as compose reads it, and the round trip of `stack`'s own `.env` writer: whatever
/// `format` writes, the reader must give back unchanged. `text` is split at NUL bytes into the
/// values to write.
pub fn dotenv(text: &str) {
    let _ = crate::compose::dotenv::parse(text, &BTreeMap::new());
    let entries: Vec<(String, String)> = text
        .split('\0')
        .enumerate()
        .map(|(i, v)| (format!("K{i}"), v.to_string()))
        .collect();
    let Ok(written) = crate::render::envfile::format(&entries) else {
        return;
    };
    let read = crate::compose::dotenv::parse(&written, &BTreeMap::new())
        .unwrap_or_else(|e| panic!("the reader refuses what the writer wrote: {e:?}\n{written}"));
    assert_eq!(read, entries, "round trip through\n{written}");
}

/// `.stack/secrets.toml`.
pub fn secrets(text: &str) {
    let _ = crate::secrets::parse(Path::new(".stack/secrets.toml"), text);
}

/// `users.toml`.
pub fn users(text: &str) {
    let ids: BTreeSet<String> = ["docs", "photos"].into_iter().map(String::from).collect();
    let _ = crate::config::Users::parse(text, "users.toml", &ids);
}

/// A stacklet's `caddy.snippet`, through the lexer that checks it and adds `http://`.
pub fn caddy_snippet(text: &str) {
    let _ = crate::caddy::lex::check(text);
    if let Ok(out) = crate::caddy::lex::plain_http(text) {
        // Adding schemes never breaks the structure that was valid before.
        assert!(
            crate::caddy::lex::check(&out).is_ok(),
            "plain_http broke a valid snippet:\n{out}"
        );
        // And leaves no site address without one: a second pass changes nothing.
        assert_eq!(
            crate::caddy::lex::plain_http(&out).as_deref(),
            Ok(out.as_str()),
            "plain_http left an address without a scheme:\n{out}"
        );
    }
}

/// The signed API's request check: arbitrary headers and body must never panic, and a request
/// signed with the key must verify while any other signature must not.
pub fn api_signature(data: &[u8]) {
    use crate::api::sign;
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(6, '\n');
    let method = parts.next().unwrap_or("");
    let pq = parts.next().unwrap_or("");
    let timestamp = parts.next().unwrap_or("");
    let nonce = parts.next().unwrap_or("");
    let signature = parts.next().unwrap_or("");
    let body = parts.next().unwrap_or("").as_bytes();
    let key = "fuzz-key";
    let request = sign::Request {
        method,
        path_and_query: pq,
        timestamp: Some(timestamp),
        nonce: Some(nonce),
        signature: Some(signature),
        body,
    };
    let now = timestamp.parse::<i64>().unwrap_or(0);
    let forged = sign::verify(key, &request, now);
    let good = sign::sign(key, &sign::canonical(method, pq, timestamp, nonce, body));
    assert!(
        forged.is_err() || signature == good,
        "a signature other than the key's verified"
    );
    let honest = sign::Request {
        signature: Some(&good),
        ..request
    };
    match sign::verify(key, &honest, now) {
        Ok(v) => assert_eq!(v.nonce, nonce),
        // Only the shape rules may refuse an honestly signed request made at its own time.
        Err(refusal) => assert!(
            matches!(
                refusal,
                sign::Refusal::BadTimestamp | sign::Refusal::BadNonce
            ),
            "an honest request was refused: {refusal}"
        ),
    }
}

#[cfg(test)]
mod tests {
    /// Every seed in `fuzz/seeds/` (among them each input a fuzz target once crashed on) passes its
    /// target's checks, so a fixed finding stays fixed without running the fuzzer.
    #[test]
    fn every_seed_passes_its_target() {
        let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
        type Target = fn(&[u8]);
        let targets: [(&str, Target); 8] = [
            ("manifest", |d| text(d, super::manifest)),
            ("template", |d| text(d, super::template)),
            ("compose", |d| text(d, super::compose)),
            ("dotenv", |d| text(d, super::dotenv)),
            ("secrets", |d| text(d, super::secrets)),
            ("users", |d| text(d, super::users)),
            ("caddy_snippet", |d| text(d, super::caddy_snippet)),
            ("api_signature", super::api_signature),
        ];
        let mut dirs: Vec<String> = std::fs::read_dir(&seeds)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        dirs.sort();
        let mut names: Vec<&str> = targets.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        assert_eq!(dirs, names, "a seed folder per fuzz target");
        for (name, run) in targets {
            let mut count = 0;
            for entry in std::fs::read_dir(seeds.join(name)).unwrap() {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| run(&data));
                assert!(outcome.is_ok(), "`{}` fails its target", path.display());
                count += 1;
            }
            assert!(count > 0, "no seeds for `{name}`");
        }
    }

    /// The text targets skip input that is not UTF-8, as the fuzz targets do.
    fn text(data: &[u8], target: fn(&str)) {
        if let Ok(text) = std::str::from_utf8(data) {
            target(text);
        }
    }
}
