//! PostgreSQL connection errors name the cause and the fix (issue 21, point 5): a
//! database that does not exist, a role that does not exist, a port nothing listens
//! on, and a URL that is not one (exit 2). Against the real server on 127.0.0.1:5432.

mod common;

use std::process::Output;

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// `party list` on `url`; `None` (the test skips) when PostgreSQL is unreachable
/// outside CI, as in `common`.
fn run(name: &str, url: &str) -> Option<Output> {
    if let Err(error) = postgres::Client::connect(PG_ADMIN, postgres::NoTls) {
        assert!(
            std::env::var_os("CI").is_none(),
            "PostgreSQL is unreachable in CI: {error}"
        );
        eprintln!("skipping a PostgreSQL test outside CI: {error}");
        return None;
    }
    let dir = common::dir(name);
    let key = dir.0.join("store.key").display().to_string();
    Some(
        std::process::Command::new(env!("CARGO_BIN_EXE_revshare"))
            .args(["party", "list", "--database-url", url, "--key-file", &key])
            .env_remove("REVSHARE_DATABASE_URL")
            .env_remove("REVSHARE_KEY_FILE")
            .output()
            .unwrap(),
    )
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_missing_database_names_createdb() {
    let database = format!("revshare_missing_{}", std::process::id());
    let Some(output) = run("connect-db", &format!("postgres://postgres@127.0.0.1:5432/{database}")) else {
        return;
    };
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains(&format!(
            "the database `{database}` does not exist on PostgreSQL at 127.0.0.1:5432"
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!("createdb -h 127.0.0.1 -p 5432 -U postgres {database}")),
        "{message}"
    );
    assert!(!message.contains("db error"), "{message}");
}

#[test]
fn a_missing_role_names_createuser() {
    let role = format!("revshare_nobody_{}", std::process::id());
    let Some(output) = run("connect-role", &format!("postgres://{role}@127.0.0.1:5432/postgres")) else {
        return;
    };
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains(&format!(
            "the role `{role}` does not exist on PostgreSQL at 127.0.0.1:5432"
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!("createuser -h 127.0.0.1 -p 5432 {role}")),
        "{message}"
    );
}

#[test]
fn an_unreachable_port_names_host_and_port() {
    let Some(output) = run("connect-port", "postgres://postgres@127.0.0.1:1/postgres") else {
        return;
    };
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains("cannot reach PostgreSQL at 127.0.0.1:1"), "{message}");
    assert!(message.contains("refused"), "{message}");
    assert!(message.contains("check the host and port"), "{message}");
    assert!(!message.contains("error connecting to server"), "{message}");
}

#[test]
fn a_malformed_url_is_refused_with_exit_2() {
    for url in [
        "postgres://postgres@127.0.0.1:notaport/postgres",
        "postgres//127.0.0.1/postgres",
        "postgres:///postgres",
    ] {
        let Some(output) = run("connect-url", url) else {
            return;
        };
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{url}: {message}");
        assert!(
            message.contains("postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"),
            "{url}: {message}"
        );
    }
}

#[test]
fn a_password_in_a_refused_url_is_not_shown() {
    let Some(output) = run(
        "connect-secret",
        "postgres://postgres:hunter2@127.0.0.1:notaport/postgres",
    ) else {
        return;
    };
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}
