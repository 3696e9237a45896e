//! A real registry for the tests: Debian's `docker-registry` (distribution 2.8) on a free loopback
//! port with a temporary storage dir, optionally behind htpasswd auth, and images pushed to it.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::support::ensure_test_images;

pub struct Registry {
    pub port: u16,
    child: Child,
    dir: TempDir,
    /// `DOCKER_CONFIG` holding a login, for registries with auth.
    pub docker_config: Option<TempDir>,
}

pub const USER: &str = "fam";
pub const PASSWORD: &str = "s3cret-pass";

/// A port nobody listens on right now (the registry binds it a moment later).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Registry {
    pub fn start() -> Self {
        Self::start_with(false)
    }

    pub fn start_with_auth() -> Self {
        Self::start_with(true)
    }

    fn start_with(auth: bool) -> Self {
        ensure_test_images();
        let bin = which("docker-registry").unwrap_or_else(|| {
            panic!("`docker-registry` is not installed, so the registry tests cannot run: `apt-get install docker-registry` (scripts/test.sh does it)")
        });
        let dir = tempfile::Builder::new()
            .prefix("reg-registry-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        let mut docker_config = None;
        if auth {
            let htpasswd = run(Command::new("htpasswd").args(["-Bbn", USER, PASSWORD]));
            std::fs::write(dir.path().join("htpasswd"), format!("{htpasswd}\n")).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
            let cfg = tempfile::Builder::new()
                .prefix("reg-dockercfg-")
                .tempdir()
                .unwrap();
            docker_config = Some(cfg);
        }
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("registry.log")).unwrap())
            .spawn()
            .expect("start docker-registry");
        let registry = Self {
            port,
            child,
            dir,
            docker_config,
        };
        registry.wait_ready();
        if let Some(cfg) = &registry.docker_config {
            registry.login(cfg.path(), PASSWORD);
        }
        registry
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "the registry did not listen on {} within 20s: {}",
            self.port,
            std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
        );
    }

    /// `docker login` into `config_dir` (a `DOCKER_CONFIG`), with `password`.
    pub fn login(&self, config_dir: &Path, password: &str) {
        use std::io::Write;
        let mut child = Command::new("docker")
            .arg("--config")
            .arg(config_dir)
            .args(["login", "-u", USER, "--password-stdin"])
            .arg(self.host())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker login");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "docker login: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:<port>/<repo>:<tag>`.
    pub fn image(&self, repo: &str, tag: &str) -> String {
        format!("{}/{repo}:{tag}", self.host())
    }

    /// Build an image from `stack-test/busybox:1` holding `/version` = `version`, push it as
    /// `repo:tag` and remove the local copy, so `stack` has to pull it. Returns the manifest digest.
    pub fn push(&self, repo: &str, tag: &str, version: &str) -> String {
        let image = self.image(repo, tag);
        let ctx = tempfile::tempdir().unwrap();
        std::fs::write(
            ctx.path().join("Dockerfile"),
            "FROM stack-test/busybox:1\nCOPY version /version\n",
        )
        .unwrap();
        std::fs::write(ctx.path().join("version"), format!("{version}\n")).unwrap();
        run(Command::new("docker")
            .args(["build", "-q", "-t", &image])
            .arg(ctx.path())
            .env("DOCKER_BUILDKIT", "0"));
        let out = run(self.docker().args(["push", &image]));
        let digest = out
            .split_whitespace()
            .find(|w| w.starts_with("sha256:"))
            .unwrap_or_else(|| panic!("no digest in push output: {out}"))
            .to_string();
        self.forget_local(&image);
        digest
    }

    /// Remove the local tag (and the image, when nothing else uses it).
    pub fn forget_local(&self, image: &str) {
        let _ = Command::new("docker").args(["rmi", "-f", image]).output();
    }

    /// `docker` with this registry's login, if it has auth.
    pub fn docker(&self) -> Command {
        let mut cmd = Command::new("docker");
        if let Some(cfg) = &self.docker_config {
            cmd.arg("--config").arg(cfg.path());
        }
        cmd
    }
}

impl Drop for Registry {
    /// Tests declare the registry first, so this runs after their `Cleanup` removed the
    /// containers, and the images they pulled can go too.
    fn drop(&mut self) {
        remove_images_of(&self.host());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Every local reference (`repo:tag`, `repo@digest`) into `host`'s repositories: tests remove what
/// they pulled. By reference, never by image id: an image pushed from a local tag (`stack-test/…`)
/// shares its id with that tag, which must survive.
pub fn remove_images_of(host: &str) {
    let prefix = format!("{host}/");
    let refs: Vec<String> = crate::support::docker_lines(&[
        "images",
        "--digests",
        "--format",
        "{{.Repository}} {{.Tag}} {{.Digest}}",
    ])
    .into_iter()
    .filter(|line| line.starts_with(&prefix))
    .flat_map(|line| {
        let mut parts = line.split_whitespace();
        let (repo, tag, digest) = (
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
        );
        let mut refs = Vec::new();
        if tag != "<none>" {
            refs.push(format!("{repo}:{tag}"));
        }
        if digest.starts_with("sha256:") {
            refs.push(format!("{repo}@{digest}"));
        }
        refs
    })
    .collect();
    if !refs.is_empty() {
        let _ = Command::new("docker").arg("rmi").args(&refs).output();
    }
}
