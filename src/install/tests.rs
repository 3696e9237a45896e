use std::collections::BTreeSet;

use super::*;
use crate::config::{Config, Users};
use crate::instance::Instance;

fn answers() -> Answers {
    Answers {
        family: "Smith \"the great\"".into(),
        server_name: "smith".into(),
        admin: Member {
            id: "arthur".into(),
            name: "Arthur".into(),
        },
        members: vec![Member {
            id: "sarah".into(),
            name: "Sarah Smith".into(),
        }],
        timezone: "Europe/Berlin".into(),
        language: "de".into(),
        domain: Some("home.internal".into()),
        data_dir: "~/famstack-data".into(),
    }
}

#[test]
fn family_names_become_server_names() {
    assert_eq!(server_name("The Smiths!"), "thesmiths");
    assert_eq!(server_name("Müller-Lüdenscheidt"), "mller-ldenscheidt");
    assert_eq!(server_name("  "), "home");
    assert_eq!(server_name(""), DEFAULT_FAMILY);
    assert!(check_server_name("smith.home").is_ok());
    assert!(
        check_server_name("Smith")
            .unwrap_err()
            .contains("`S` is not allowed")
    );
    assert!(check_server_name("").is_err());
}

#[test]
fn member_ids_and_other_answers_are_checked() {
    assert_eq!(member_id("Anna-Lena Smith"), "annalena");
    assert_eq!(member_id("Zoë"), "zo");
    assert!(check_member_id("arthur", &["sarah"]).is_ok());
    assert!(
        check_member_id("sarah", &["sarah"])
            .unwrap_err()
            .contains("taken")
    );
    assert!(check_member_id("Sarah", &[]).is_err());
    assert!(check_domain("home.internal").is_ok());
    assert!(check_domain("http://home.internal").is_err());
    assert!(check_domain("home..internal").is_err());
    assert!(check_language("pt-BR").is_ok());
    assert!(check_language("German").is_err());
    assert!(check_timezone("Europe/Berlin").is_ok());
    assert!(
        check_timezone("europe/berlin")
            .unwrap_err()
            .contains("did you mean `Europe/Berlin`")
    );
    assert!(answers().check().is_ok());
    let mut twice = answers();
    twice.members[0].id = "arthur".into();
    assert!(twice.check().unwrap_err().contains("already taken"));
}

/// What `stack install` writes loads with the loaders every other command uses, with the values
/// the wizard chose and no warnings.
#[test]
fn written_files_load_with_the_runtime_loaders() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("stacklets/photos")).unwrap();
    let a = answers();
    let created = create_unless_exists(&tmp.path().join("stack.toml"), &stack_toml(&a)).unwrap();
    assert!(matches!(created, Written::Created(_)));
    create_unless_exists(
        &tmp.path().join("users.toml"),
        &users_toml(&a, &["photos".to_string()]),
    )
    .unwrap();
    let instance = Instance::discover(tmp.path(), None, None).unwrap();
    let ids: BTreeSet<String> = ["photos".to_string()].into();
    let (config, warnings) = Config::load(&instance, &ids).unwrap();
    assert_eq!(warnings, Vec::<String>::new());
    assert_eq!(config.core.family.as_deref(), Some("Smith \"the great\""));
    assert_eq!(config.core.domain, "home.internal");
    assert_eq!(config.core.timezone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(config.core.language.as_deref(), Some("de"));
    assert_eq!(config.messages.server_name.as_deref(), Some("smith"));
    let users = Users::load(&instance, &ids).unwrap();
    let summary: Vec<(&str, &str, &str, Vec<String>)> = users
        .users
        .iter()
        .map(|u| {
            (
                u.id.as_str(),
                u.email.as_str(),
                u.role.as_str(),
                u.stacklets.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("arthur", "arthur@home.local", "admin", vec![]),
            (
                "sarah",
                "sarah@home.local",
                "member",
                vec!["photos".to_string()]
            ),
        ]
    );
    let text = std::fs::read_to_string(tmp.path().join("stack.toml")).unwrap();
    assert!(text.contains("# Permanent: part of every Matrix user id (@arthur:smith)"));
}

#[test]
fn an_existing_file_is_kept_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("stack.toml");
    std::fs::write(&path, "# mine\n").unwrap();
    let outcome = create_unless_exists(&path, "[core]\n").unwrap();
    assert_eq!(outcome, Written::Kept(path.clone()));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
    let leftovers = std::fs::read_dir(tmp.path()).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file is left behind");
}
