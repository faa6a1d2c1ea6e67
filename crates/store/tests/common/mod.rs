//! Test stores: a fresh SQLite file, or a fresh PostgreSQL database that is dropped
//! afterwards. PostgreSQL tests fail (never skip) when `CI` is set and the server is
//! unreachable; elsewhere they say so and pass.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use revshare_store::keys::Keys;
use revshare_store::{Location, Store};

pub const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct TestStore {
    pub location: Location,
    pub keys_path: PathBuf,
    dir: PathBuf,
    database: Option<String>,
}

impl TestStore {
    pub fn open(&self) -> Store {
        Store::open(&self.location).expect("the test store opens")
    }

    pub fn keys(&self) -> Keys {
        Keys::load(&self.keys_path).expect("the test keys load")
    }
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
    let dir = std::env::temp_dir().join(format!("revshare-store-test-{kind}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn sqlite() -> TestStore {
    let dir = scratch("sqlite");
    let keys_path = dir.join("test.key");
    Keys::create(&keys_path).unwrap();
    TestStore {
        location: Location::Sqlite(dir.join("test.db")),
        keys_path,
        dir,
        database: None,
    }
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
    let keys_path = dir.join("test.key");
    Keys::create(&keys_path).unwrap();
    Some(TestStore {
        location: Location::Postgres(format!("postgres://postgres@127.0.0.1:5432/{database}")),
        keys_path,
        dir,
        database: Some(database),
    })
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
