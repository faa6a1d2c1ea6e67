//! Test stores: a fresh SQLite file, or a fresh PostgreSQL database that is dropped
//! afterwards. PostgreSQL tests fail (never skip) when `CI` is set and the server is
//! unreachable; elsewhere they say so and pass.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use revshare_app::keys::Keys;
use revshare_app::{Actor, Backend, Ctx, Location};
use revshare_core::event::{parse_time, Timestamp};

pub const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct TestStore {
    pub location: Location,
    pub keys_path: PathBuf,
    dir: PathBuf,
    database: Option<String>,
}

impl TestStore {
    /// A connection to the store (initialized by `sqlite()` / `postgres()`).
    pub fn open(&self) -> Box<dyn Backend> {
        revshare_store::open(&self.location).expect("the test store opens")
    }

    pub fn keys(&self) -> Keys {
        let mut backend = self.open();
        Keys::open(&self.keys_path, backend.as_mut()).expect("the test keys load")
    }

    /// Runs SQL directly on the store, behind the service's back.
    pub fn tamper(&self, sql: &str) {
        match &self.location {
            Location::Sqlite(path) => {
                let connection = rusqlite::Connection::open(path).unwrap();
                connection.execute_batch(sql).unwrap();
            }
            Location::Postgres(url) => {
                let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
                client.batch_execute(sql).unwrap();
            }
        }
    }

    /// One integer that `sql` selects, read behind the service's back.
    pub fn scalar(&self, sql: &str) -> i64 {
        match &self.location {
            Location::Sqlite(path) => {
                let connection = rusqlite::Connection::open(path).unwrap();
                connection.query_row(sql, [], |r| r.get(0)).unwrap()
            }
            Location::Postgres(url) => {
                let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
                client.query_one(sql, &[]).unwrap().get(0)
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.location, Location::Postgres(_))
    }
}

/// The operator acting at `time` (RFC 3339).
pub fn at(time: &str) -> Timestamp {
    parse_time(time).unwrap()
}

pub fn ctx<'a>(actor: &'a Actor, time: &str) -> Ctx<'a> {
    Ctx { actor, now: at(time) }
}

/// A new store at `location` with a fresh key file, initialized.
fn initialized(location: Location, dir: PathBuf, database: Option<String>) -> TestStore {
    let keys_path = dir.join("test.key");
    let store = TestStore {
        location,
        keys_path,
        dir,
        database,
    };
    let mut backend = store.open();
    let operator = Actor::cli();
    revshare_app::setup::init(
        backend.as_mut(),
        &store.keys_path,
        ctx(&operator, "2026-09-01T00:00:00Z"),
    )
    .unwrap();
    store
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some(database) = &self.database {
            if let Ok(mut admin) = postgres::Client::connect(PG_ADMIN, postgres::NoTls) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn scratch(kind: &str) -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("revshare-app-test-{kind}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn sqlite() -> TestStore {
    let dir = scratch("sqlite");
    initialized(Location::Sqlite(dir.join("test.db")), dir, None)
}

/// A fresh database, or `None` (outside CI) when PostgreSQL is unreachable.
pub fn postgres() -> Option<TestStore> {
    let mut admin = match postgres::Client::connect(PG_ADMIN, postgres::NoTls) {
        Ok(admin) => admin,
        Err(error) => {
            if std::env::var_os("CI").is_some() {
                panic!("PostgreSQL at 127.0.0.1:5432 is unreachable in CI: {error}");
            }
            eprintln!("skipping a PostgreSQL test outside CI: {error}");
            return None;
        }
    };
    let dir = scratch("pg");
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let database = format!("revshare_test_{}_{n}", std::process::id());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {database}")).unwrap();
    Some(initialized(
        Location::Postgres(format!("postgres://postgres@127.0.0.1:5432/{database}")),
        dir,
        Some(database),
    ))
}

/// Defines one test per backend from a function taking the test store.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::common::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(store) = super::common::postgres() {
                        super::$name(&store);
                    }
                }
            )*
        }
    };
}
