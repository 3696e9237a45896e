//! Making sure every image a project needs is present: build services with `build` (through the
//! Engine build API from an in-memory tar of the context), pull the others when missing.
//!
//! Everything here happens before a single container is touched (image problems are
//! reported before anything is stopped, so a failed pull never leaves a stacklet half down). Pull and build errors arrive *inside* the response stream;
//! every stream item is inspected and the first error ends the operation with the image name and a
//! hint (not found / no access / no network / platform).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptions, CreateImageOptions};
use futures_util::StreamExt;
use futures_util::future::join_all;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::EngineError;
use super::error::is_not_found;
use crate::compose::model::{Build, Project, Service};
use crate::output::Printer;
use crate::pins::{Pin, Pins};
use crate::registry::{Reference, RegistryError};

#[derive(Clone, Debug, Default)]
pub struct ImageOptions {
    /// Build services with `build` every time, even when the image exists (`build = true`).
    pub rebuild: bool,
    /// The recorded images (`pins.rs`): a service whose record still names its compose reference
    /// runs the recorded digest (or image id), never what the tag points to now.
    pub pins: Pins,
}

/// The image a service runs: the reference its container is created from, the ID it resolved
/// to, and the record that says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedImage {
    /// `repo@sha256:…` for a recorded registry image, the image id for a recorded local one,
    /// else the compose reference.
    pub reference: String,
    pub id: String,
    pub pin: Pin,
}

/// The image reference of a service: `image`, or for a build without `image`, `<project>-<service>`
/// (compose v2's name for it).
pub fn image_ref(project: &Project, service: &Service) -> Result<String, EngineError> {
    match (&service.image, &service.build) {
        (Some(image), _) => Ok(image.clone()),
        (None, Some(_)) => Ok(format!("{}-{}", project.name, service.name)),
        (None, None) => Err(EngineError::NoImage {
            service: service.name.clone(),
        }),
    }
}

/// What a service must run: its compose reference, and the exact image to create it from.
struct Target {
    compose: String,
    /// What to look up locally (and pull when missing, unless `local_only`).
    want: String,
    digest: Option<String>,
    local_only: bool,
}

/// What `service` must run given its record: the compose reference, or the recorded digest or
/// image id when the record still names that reference. The one owner of this choice, for
/// [`ensure_images`] and [`local_ids`].
fn target(service: &Service, compose: String, pins: &Pins) -> Target {
    let name = &service.name;
    let pin = pins.get(name).filter(|p| p.image == compose);
    match (service.build.is_some(), pin) {
        // Built images follow the build (`build = true` rebuilds on every `up` by design).
        (true, _) | (false, None) => Target {
            want: compose.clone(),
            digest: None,
            local_only: service.build.is_some(),
            compose,
        },
        (false, Some(pin)) => match &pin.digest {
            Some(digest) => Target {
                want: Reference::parse(&compose).pinned(digest),
                digest: Some(digest.clone()),
                local_only: false,
                compose,
            },
            None => Target {
                want: pin.id.clone(),
                digest: None,
                local_only: true,
                compose,
            },
        },
    }
}

/// The local image id each service would run, without building or pulling anything: `None` for
/// a service whose image `up` would still have to build or pull (`stack plan`).
pub async fn local_ids(
    docker: &Docker,
    project: &Project,
    pins: &Pins,
) -> Result<BTreeMap<String, Option<String>>, EngineError> {
    let mut ids = BTreeMap::new();
    for (name, service) in &project.services {
        let t = target(service, image_ref(project, service)?, pins);
        ids.insert(name.clone(), image_id(docker, &t.want).await?);
    }
    Ok(ids)
}

// Long by design: the three phases (builds, what each service must run given its record, pulls)
// share the project's references and must all finish before any container is touched.
/// Builds and pulls what is needed; returns service name → image. Pulls run concurrently, builds
/// one after another (they are CPU-bound and their output would interleave).
pub async fn ensure_images(
    docker: &Docker,
    project: &Project,
    opts: &ImageOptions,
    printer: &Printer,
) -> Result<BTreeMap<String, ResolvedImage>, EngineError> {
    let mut refs = BTreeMap::new();
    for (name, service) in &project.services {
        refs.insert(name.clone(), image_ref(project, service)?);
    }

    for (name, service) in &project.services {
        if let Some(build) = &service.build {
            let reference = &refs[name];
            if opts.rebuild || image_id(docker, reference).await?.is_none() {
                build_image(docker, name, reference, build, printer).await?;
            }
        }
    }

    let mut targets: BTreeMap<String, Target> = BTreeMap::new();
    for (name, service) in &project.services {
        let compose = refs[name].clone();
        let target = target(service, compose, &opts.pins);
        targets.insert(name.clone(), target);
    }

    let mut missing: Vec<&str> = Vec::new();
    for (service, t) in &targets {
        if missing.contains(&t.want.as_str()) || image_id(docker, &t.want).await?.is_some() {
            continue;
        }
        if t.local_only && project.services[service].build.is_none() {
            return Err(EngineError::RecordedImageGone {
                service: service.clone(),
                image: t.compose.clone(),
                id: t.want.clone(),
            });
        }
        missing.push(&t.want);
    }
    if !missing.is_empty() {
        let multi = MultiProgress::with_draw_target(printer.draw_target());
        let results = join_all(
            missing
                .iter()
                .map(|image| pull_image(docker, image, printer, &multi)),
        )
        .await;
        // All pulls ran to the end; report the first failure (in project order).
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
    }

    let mut resolved = BTreeMap::new();
    for (name, t) in targets {
        let info = inspect(docker, &t.want)
            .await?
            .ok_or_else(|| EngineError::Pull {
                image: t.want.clone(),
                message: "the image is still missing after the pull".into(),
                hint: "check `docker images`".into(),
            })?;
        let id = info.id.unwrap_or_default();
        let digest = match t.digest {
            Some(d) => Some(d),
            None if t.local_only => None,
            // First sight of a registry image: record the digest the pull (or an earlier one)
            // left in `RepoDigests`; an image that only exists locally has none.
            None => Reference::parse(&t.compose).digest_in(&info.repo_digests.unwrap_or_default()),
        };
        let reference = match (&digest, t.local_only) {
            (Some(d), _) => Reference::parse(&t.compose).pinned(d),
            (None, true) if t.want != t.compose => id.clone(),
            _ => t.compose.clone(),
        };
        let pin = Pin {
            image: t.compose,
            digest,
            id: id.clone(),
        };
        resolved.insert(name, ResolvedImage { reference, id, pin });
    }
    Ok(resolved)
}

/// The local image ID of `reference`, `None` when it is not present.
pub async fn image_id(docker: &Docker, reference: &str) -> Result<Option<String>, EngineError> {
    Ok(inspect(docker, reference).await?.and_then(|i| i.id))
}

async fn inspect(
    docker: &Docker,
    reference: &str,
) -> Result<Option<bollard::models::ImageInspect>, EngineError> {
    match docker.inspect_image(reference).await {
        Ok(info) => Ok(Some(info)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(EngineError::api(format!("inspect image `{reference}`"), e)),
    }
}

/// `repo[:tag]` or `repo@digest` → (from_image, tag). Without a tag the engine would pull every
/// tag of the repository, so `latest` is made explicit.
fn split_reference(reference: &str) -> (String, Option<String>) {
    if reference.contains('@') {
        return (reference.to_string(), None);
    }
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last_slash..].rfind(':') {
        Some(i) => (
            reference[..last_slash + i].to_string(),
            Some(reference[last_slash + i + 1..].to_string()),
        ),
        None => (reference.to_string(), Some("latest".to_string())),
    }
}

/// Pull `image` with the user's registry credentials. On a terminal each layer gets a bar; without
/// one, each finished layer is a plain line. Either way one summary line ends it.
// Long by design: one pass over the engine's pull stream, where progress and errors arrive
// interleaved; the per-layer progress state lives only for this loop.
pub async fn pull_image(
    docker: &Docker,
    image: &str,
    printer: &Printer,
    multi: &MultiProgress,
) -> Result<(), EngineError> {
    let started = std::time::Instant::now();
    let (from_image, tag) = split_reference(image);
    let options = CreateImageOptions {
        from_image: Some(from_image),
        tag,
        ..Default::default()
    };
    let credentials = crate::registry::credentials(&Reference::parse(image).registry);
    multi.suspend(|| printer.status("Pulling", image));
    let header = multi.add(ProgressBar::new_spinner());
    header.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    header.set_message(image.to_string());
    header.enable_steady_tick(Duration::from_millis(120));
    let layer_style =
        ProgressStyle::with_template("  {prefix:12} {msg:12} {bar:30} {bytes}/{total_bytes}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    let mut layers: BTreeMap<String, ProgressBar> = BTreeMap::new();
    // Layer → (bytes, already present), for the plain lines and the summary.
    let mut sizes: BTreeMap<String, (u64, bool)> = BTreeMap::new();

    let mut stream = docker.create_image(Some(options), None, credentials);
    let mut failure = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                let (Some(id), Some(status)) = (info.id, info.status) else {
                    continue;
                };
                // Lines without a layer (`Pulling from library/x`, `Digest: …`) carry the
                // image tag as id; only real layers get a bar.
                if id.len() != 12 {
                    continue;
                }
                let bar = layers.entry(id.clone()).or_insert_with(|| {
                    let bar = multi.add(ProgressBar::new(0));
                    bar.set_style(layer_style.clone());
                    bar.set_prefix(id.clone());
                    bar
                });
                bar.set_message(status.clone());
                if let Some(detail) = info.progress_detail {
                    if let Some(total) = detail.total.filter(|t| *t > 0) {
                        let total = u64::try_from(total).unwrap_or(0);
                        bar.set_length(total);
                        if status == "Downloading" {
                            sizes.entry(id.clone()).or_default().0 = total;
                        }
                    }
                    if let Some(current) = detail.current {
                        bar.set_position(u64::try_from(current).unwrap_or(0));
                    }
                }
                if status == "Pull complete" || status == "Already exists" {
                    bar.finish();
                    let entry = sizes.entry(id.clone()).or_default();
                    entry.1 = status == "Already exists";
                    if !printer.animate() {
                        let size = if entry.1 {
                            "already present".to_string()
                        } else {
                            crate::output::human_bytes(entry.0)
                        };
                        printer.detail(format!("layer {id} {size}"));
                    }
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    for bar in layers.values() {
        bar.finish_and_clear();
    }
    header.finish_and_clear();

    match failure {
        None => {
            let fetched: Vec<u64> = sizes
                .values()
                .filter(|(_, had)| !had)
                .map(|(b, _)| *b)
                .collect();
            let summary = if sizes.is_empty() {
                format!("{image} (every layer was already present)")
            } else {
                format!(
                    "{image} ({} layer{}, {} downloaded, {} already present) in {:.1}s",
                    sizes.len(),
                    if sizes.len() == 1 { "" } else { "s" },
                    crate::output::human_bytes(fetched.iter().sum()),
                    sizes.len() - fetched.len(),
                    started.elapsed().as_secs_f64()
                )
            };
            multi.suspend(|| printer.status("Pulled", summary));
            Ok(())
        }
        Some(e) => {
            let message = match e {
                bollard::errors::Error::DockerStreamError { error } => error,
                bollard::errors::Error::DockerResponseServerError { message, .. } => message,
                other => other.to_string(),
            };
            let classified =
                crate::registry::refine(RegistryError::classify(image, &message)).await;
            let hint = classified
                .hint()
                .unwrap_or_else(|| pull_hint(image, &message));
            let message = match classified {
                RegistryError::Other { .. } => message.trim().to_string(),
                known => format!("{known} ({})", message.trim()),
            };
            Err(EngineError::Pull {
                image: image.to_string(),
                message,
                hint,
            })
        }
    }
}

/// A hint for the four ways a pull fails in practice, recognised from the engine's message.
fn pull_hint(image: &str, message: &str) -> String {
    let m = message.to_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    if has(&["no matching manifest", "platform"]) {
        format!("`{image}` has no build for this machine's platform; pick another tag or image")
    } else if has(&[
        "unauthorized",
        "denied",
        "authentication required",
        "pull access",
    ]) {
        "the image does not exist or needs a login: check the name, or run `docker login` for its registry"
            .to_string()
    } else if has(&["not found", "manifest unknown", "does not exist"]) {
        format!("check the name and tag of `{image}`")
    } else if has(&[
        "dial tcp",
        "lookup ",
        "no such host",
        "timeout",
        "connection refused",
        "network is unreachable",
        "tls handshake",
        "i/o timeout",
    ]) {
        "the registry cannot be reached: check the network (or a proxy), then retry".into()
    } else {
        "retry with `docker pull` to see the engine's full message".into()
    }
}

async fn build_image(
    docker: &Docker,
    service: &str,
    image: &str,
    build: &Build,
    printer: &Printer,
) -> Result<(), EngineError> {
    printer.status("Building", format!("{image} (service `{service}`)"));
    let context = build.context.clone();
    let dockerfile = build.dockerfile.clone();
    // Reading and packing the context is blocking file I/O.
    let tar = tokio::task::spawn_blocking(move || context_tar(&context, &dockerfile))
        .await
        .map_err(|e| EngineError::BuildContext {
            path: build.context.clone(),
            source: std::io::Error::other(e),
        })?
        .map_err(|source| EngineError::BuildContext {
            path: build.context.clone(),
            source,
        })?;
    let options = BuildImageOptions {
        dockerfile: build.dockerfile.clone(),
        t: Some(image.to_string()),
        rm: true,
        // The classic builder keeps the container of a failed step unless told otherwise; a
        // failed `up` must not leave those behind.
        forcerm: true,
        buildargs: (!build.args.is_empty()).then(|| build.args.clone().into_iter().collect()),
        target: build.target.clone().unwrap_or_default(),
        ..Default::default()
    };
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(tar.into())));
    let mut pending = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(text) = info.stream {
                    pending.push_str(&text);
                    while let Some(i) = pending.find('\n') {
                        let line: String = pending.drain(..=i).collect();
                        let line = line.trim_end();
                        if !line.is_empty() {
                            printer.detail(line);
                        }
                    }
                }
                if let Some(detail) = info.error_detail {
                    return Err(build_error(
                        service,
                        image,
                        detail.message.unwrap_or_default(),
                    ));
                }
            }
            Err(e) => {
                let message = match e {
                    bollard::errors::Error::DockerStreamError { error } => error,
                    bollard::errors::Error::DockerResponseServerError { message, .. } => message,
                    other => other.to_string(),
                };
                return Err(build_error(service, image, message));
            }
        }
    }
    if !pending.trim().is_empty() {
        printer.detail(pending.trim_end());
    }
    Ok(())
}

fn build_error(service: &str, image: &str, message: String) -> EngineError {
    EngineError::Build {
        service: service.to_string(),
        image: image.to_string(),
        message: message.trim().to_string(),
    }
}

/// The build context as an uncompressed tar, honouring `.dockerignore` (see [`DockerIgnore`]). The
/// Dockerfile and `.dockerignore` are always sent: the engine needs the first, Docker's CLI sends
/// both.
pub fn context_tar(context: &Path, dockerfile: &str) -> std::io::Result<Vec<u8>> {
    let ignore = match std::fs::read_to_string(context.join(".dockerignore")) {
        Ok(text) => DockerIgnore::parse(&text).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("`{}`: {e}", context.join(".dockerignore").display()),
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DockerIgnore::default(),
        Err(e) => return Err(e),
    };
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    tar.mode(tar::HeaderMode::Deterministic);
    let always = [dockerfile.trim_start_matches("./"), ".dockerignore"];
    for entry in walkdir::WalkDir::new(context)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.map_err(std::io::Error::other)?;
        let Ok(rel) = entry.path().strip_prefix(context) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        if rel.is_empty() {
            continue;
        }
        if ignore.ignored(&rel) && !always.contains(&rel.as_str()) {
            continue;
        }
        tar.append_path_with_name(entry.path(), &rel)?;
    }
    tar.into_inner()
}

/// `.dockerignore` as Docker reads it: one glob per line relative to the context root (`*` and `?`
/// within one path segment, `**` across segments, `[...]` classes), `#` comments, `!` exceptions,
/// and the last matching line wins. A pattern matches a path or any of its parent directories, so a
/// directory pattern excludes everything beneath it. Unlike `.gitignore`, `*.log` matches only at
/// the root, hence `globset` with literal separators rather than the `ignore` crate.
#[derive(Debug, Default)]
struct DockerIgnore {
    /// `(exception, glob)` in file order.
    rules: Vec<(bool, globset::GlobMatcher)>,
}

impl DockerIgnore {
    fn parse(text: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pattern = pattern.trim_start_matches("./").trim_matches('/');
            let glob = globset::GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("line {}: {e}", n + 1))?;
            rules.push((exception, glob.compile_matcher()));
        }
        Ok(Self { rules })
    }

    fn ignored(&self, rel: &str) -> bool {
        // `a/b/c` is matched as `a`, `a/b` and `a/b/c`.
        let prefixes: Vec<&str> = rel
            .match_indices('/')
            .map(|(i, _)| &rel[..i])
            .chain([rel])
            .collect();
        let mut excluded = false;
        for (exception, glob) in &self.rules {
            if prefixes.iter().any(|p| glob.is_match(p)) {
                excluded = !exception;
            }
        }
        excluded
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn references_get_an_explicit_tag() {
        assert_eq!(
            split_reference("postgres"),
            ("postgres".into(), Some("latest".into()))
        );
        assert_eq!(
            split_reference("postgres:16"),
            ("postgres".into(), Some("16".into()))
        );
        assert_eq!(
            split_reference("registry:5000/team/app"),
            ("registry:5000/team/app".into(), Some("latest".into()))
        );
        assert_eq!(
            split_reference("ghcr.io/a/b@sha256:abc"),
            ("ghcr.io/a/b@sha256:abc".into(), None)
        );
    }

    #[test]
    fn dockerignore_globs() {
        let p =
            DockerIgnore::parse("# c\nnode_modules\n*.log\n!keep.log\n**/tmp\n/build/\n").unwrap();
        assert!(p.ignored("node_modules/x/y.js"));
        assert!(p.ignored("a.log"));
        assert!(!p.ignored("keep.log"));
        assert!(p.ignored("src/deep/tmp/f"));
        assert!(p.ignored("tmp"));
        assert!(p.ignored("build/out"));
        assert!(!p.ignored("src/main.rs"));
        // `*` stays within one segment: unlike `.gitignore`, `*.log` is a root-level pattern.
        assert!(!p.ignored("logs/today.log"));
        assert!(
            DockerIgnore::parse("[oops\n")
                .unwrap_err()
                .starts_with("line 1:")
        );
    }

    #[test]
    fn pull_hints() {
        assert!(
            pull_hint("x", "manifest for x:1 not found: manifest unknown").contains("name and tag")
        );
        assert!(
            pull_hint("x", "pull access denied for x, repository does not exist").contains("login")
        );
        assert!(pull_hint("x", "Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host").contains("network"));
        assert!(
            pull_hint(
                "x",
                "no matching manifest for linux/arm64/v8 in the manifest list entries"
            )
            .contains("platform")
        );
    }

    #[test]
    fn context_tar_honours_dockerignore() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(dir.path().join(".dockerignore"), "secret\nDockerfile\n").unwrap();
        std::fs::write(dir.path().join("secret"), "x").unwrap();
        std::fs::write(dir.path().join("app"), "y").unwrap();
        let bytes = context_tar(dir.path(), "Dockerfile").unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, [".dockerignore", "Dockerfile", "app"]);
    }
}
