//! The Postgres 18 data folder of `docs` and `messages` on a real Linux engine. No Postgres image
//! can be pulled here, so two busybox containers replay what docker-library/postgres
//! `18/alpine3.23/docker-entrypoint.sh` does with the folder mounted at /var/lib/postgresql
//! (`docker_create_db_directories` as root: create `18/docker`, chmod 700, chown it to uid 70;
//! then initdb as uid 70 writing into it). The folder itself is made by the shipped `docs`
//! `on_install` hook, unchanged. With a 0700 mount root, uid 70 cannot get in and `up` fails.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::{Repo, ensure_test_images, stderr};

const PORT: u16 = 44960;

#[test]
fn postgres_18_entrypoint_steps_get_through_the_folder_the_docs_hook_makes() {
    ensure_test_images();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let hook = std::fs::read_to_string(root.join("stacklets/docs/hooks/on_install.py")).unwrap();
    let lib = std::fs::read_to_string(root.join("lib/stack_postgres.py")).unwrap();
    let manifest = format!(
        r#"port = {PORT}

[env.defaults]
DOCS_DATA_DIR    = "{{data_dir}}/stk-pg/data"
DOCS_MEDIA_DIR   = "{{data_dir}}/stk-pg/media"
DOCS_EXPORT_DIR  = "{{data_dir}}/stk-pg/export"
DOCS_CONSUME_DIR = "{{data_dir}}/stk-pg/consume"
DOCS_DB_DIR      = "{{data_dir}}/stk-pg/postgres"

[health]
url     = "http://127.0.0.1:{PORT}/PG_VERSION"
expect  = "200"
timeout = 20
"#
    );
    let compose = format!(
        r#"name: stack-stk-pg
services:
  # docker_create_db_directories, as root.
  stk-pg-init:
    container_name: stk-pg-init
    image: stack-test/busybox:1
    user: "0:0"
    command: ["sh", "-c", "mkdir -p /var/lib/postgresql/18/docker && chmod 700 /var/lib/postgresql/18/docker && chown -R 70:70 /var/lib/postgresql/18/docker"]
    volumes:
      - ${{DOCS_DB_DIR}}:/var/lib/postgresql
  # initdb and the server, as the image's postgres user (uid 70 on Alpine).
  stk-pg-db:
    container_name: stk-pg-db
    image: stack-test/busybox:1
    user: "70:70"
    init: true
    command: ["sh", "-c", "echo 18 > /var/lib/postgresql/18/docker/PG_VERSION && exec httpd -f -p 8080 -h /var/lib/postgresql/18/docker"]
    volumes:
      - ${{DOCS_DB_DIR}}:/var/lib/postgresql
    ports:
      - "127.0.0.1:{PORT}:8080"
    depends_on:
      stk-pg-init:
        condition: service_completed_successfully
"#
    );
    let repo = Repo::new()
        .stacklet("stk-pg", &manifest)
        .file("stacklets/stk-pg/docker-compose.yml", &compose)
        .file("stacklets/stk-pg/hooks/on_install.py", &hook)
        .file("lib/stack_postgres.py", &lib);
    let _cleanup = repo.cleanup(&["stk-pg"]);

    let out = repo.stack().args(["up", "stk-pg"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let db = repo.join("data/stk-pg/postgres");
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o711
    );
    // Postgres' own folder stays private to it.
    let pgdata = std::fs::metadata(db.join("18/docker")).unwrap();
    assert_eq!(pgdata.permissions().mode() & 0o777, 0o700);

    let down = repo
        .stack()
        .args(["destroy", "stk-pg", "--yes"])
        .output()
        .unwrap();
    assert!(down.status.success(), "{}", stderr(&down));
}
