//! Test support: the local busybox image (built through the Engine build API from an in-memory
//! tar, no registry needed), a quiet printer, and small builders for `Project`/`Service` values.
//!
//! The image has the same tag as `scripts/test-images.sh` builds (`stack-test/busybox:1`); whichever
//! made it, tests only need it to exist.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::BuildImageOptions;
use futures_util::StreamExt;
use tokio::sync::OnceCell;

use super::images::image_id;
use crate::compose::model::{Network, Project, Service, ServiceNetwork};
use crate::output::{ColorChoice, Printer, Verbosity};

pub const BUSYBOX: &str = "stack-test/busybox:1";

static BUSYBOX_READY: OnceCell<()> = OnceCell::const_new();

/// The default instance's namespace: engine tests name their projects themselves.
pub fn ns() -> crate::namespace::Namespace {
    crate::namespace::Namespace::default_instance(std::path::Path::new("/"), 0)
}

pub async fn docker() -> Docker {
    super::connect()
        .await
        .expect("tests need a running Docker engine")
}

/// Quiet unless `STACK_TEST_VERBOSE` is set (to read the progress lines a run produces).
pub fn quiet() -> Printer {
    let verbosity = if std::env::var_os("STACK_TEST_VERBOSE").is_some() {
        Verbosity::Verbose
    } else {
        Verbosity::Quiet
    };
    Printer::new(ColorChoice::Never, verbosity)
}

/// Builds `stack-test/busybox:1` once per test run when it is missing.
pub async fn ensure_busybox(docker: &Docker) {
    BUSYBOX_READY
        .get_or_init(|| async {
            if image_id(docker, BUSYBOX)
                .await
                .expect("inspect image")
                .is_some()
            {
                return;
            }
            let tar = busybox_context().expect(
                "busybox build context (is /bin/busybox installed? apt-get install busybox-static)",
            );
            let options = BuildImageOptions {
                t: Some(BUSYBOX.into()),
                ..Default::default()
            };
            let mut stream =
                docker.build_image(options, None, Some(bollard::body_full(tar.into())));
            while let Some(item) = stream.next().await {
                let info = item.expect("building the busybox test image");
                if let Some(e) = info.error_detail {
                    panic!("building the busybox test image: {e:?}");
                }
            }
        })
        .await;
}

fn busybox_context() -> std::io::Result<Vec<u8>> {
    let busybox = std::fs::read("/bin/busybox")?;
    let list = std::process::Command::new("/bin/busybox")
        .arg("--list")
        .output()?;
    let applets = String::from_utf8_lossy(&list.stdout).into_owned();
    let mut tar = tar::Builder::new(Vec::new());
    let dockerfile = "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD [\"sh\"]\n";
    let mut add = |path: &str, mode: u32, data: &[u8]| -> std::io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        tar.append_data(&mut header, path, data)
    };
    add("Dockerfile", 0o644, dockerfile.as_bytes())?;
    add("rootfs/bin/busybox", 0o755, &busybox)?;
    add(
        "rootfs/etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o1777);
    dir.set_size(0);
    dir.set_cksum();
    tar.append_data(&mut dir, "rootfs/tmp/", std::io::empty())?;
    for applet in applets.split_whitespace().filter(|a| *a != "busybox") {
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        link.set_mode(0o777);
        tar.append_link(&mut link, format!("rootfs/bin/{applet}"), "busybox")?;
    }
    tar.into_inner()
}

/// A project with the given services on its `default` network.
pub fn project(name: &str, services: Vec<Service>) -> Project {
    Project {
        name: name.into(),
        working_dir: PathBuf::from("/tmp"),
        config_files: vec![PathBuf::from("/tmp/compose.yaml")],
        services: services.into_iter().map(|s| (s.name.clone(), s)).collect(),
        networks: BTreeMap::from([(
            "default".to_string(),
            Network {
                name: format!("{name}_default"),
                ..Default::default()
            },
        )]),
        volumes: BTreeMap::new(),
    }
}

/// A busybox service that sleeps; `init: true` and a 1 s grace period so stopping is quick
/// (busybox as PID 1 ignores SIGTERM).
pub fn service(name: &str) -> Service {
    Service {
        name: name.into(),
        image: Some(BUSYBOX.into()),
        command: Some(vec!["sleep".into(), "3600".into()]),
        networks: BTreeMap::from([("default".to_string(), ServiceNetwork::default())]),
        init: Some(true),
        stop_grace_period: Some(Duration::from_secs(1)),
        ..Service::default()
    }
}

/// Ensure the images, then converge: the two steps the lifecycle runs around `on_start`.
pub async fn up(
    docker: &Docker,
    project: &Project,
    opts: &super::UpOptions,
    printer: &Printer,
) -> Result<Vec<super::ServiceOutcome>, super::EngineError> {
    let images =
        super::ensure_images(docker, project, &super::ImageOptions::default(), printer).await?;
    super::converge(docker, &ns(), project, &images, opts, printer).await
}
