//! Test stores: a fresh SQLite file, or a fresh PostgreSQL database that is dropped
//! afterwards. PostgreSQL tests fail (never skip) when `CI` is set and the server is
//! unreachable; elsewhere they say so and pass.

#![allow(dead_code)]

pub mod hand;
pub mod rich;
pub mod scenario;

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
    pub dir: PathBuf,
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

    /// A copy of the store as it is now, with its key file and the checkpoint file
    /// beside it: a PostgreSQL database made from this one as a template (no
    /// connection to it may be open), or the SQLite files copied.
    pub fn copy(&self) -> TestStore {
        let dir = scratch("copy");
        for file in std::fs::read_dir(&self.dir).unwrap() {
            let file = file.unwrap();
            std::fs::copy(file.path(), dir.join(file.file_name())).unwrap();
        }
        let keys_path = dir.join(self.keys_path.file_name().unwrap());
        match &self.location {
            Location::Sqlite(path) => TestStore {
                location: Location::Sqlite(dir.join(path.file_name().unwrap())),
                keys_path,
                dir,
                database: None,
            },
            Location::Postgres(_) => {
                let from = self.database.as_deref().unwrap();
                let n = NEXT.fetch_add(1, Ordering::SeqCst);
                let database = format!("revshare_test_{}_{n}", std::process::id());
                let mut admin = postgres::Client::connect(PG_ADMIN, postgres::NoTls).unwrap();
                // Closed connections may linger a moment on the server.
                let mut tries = 0;
                while let Err(error) = admin.batch_execute(&format!("CREATE DATABASE {database} TEMPLATE {from}")) {
                    tries += 1;
                    assert!(tries < 100, "copying {from}: {error}");
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                TestStore {
                    location: Location::Postgres(format!("postgres://postgres@127.0.0.1:5432/{database}")),
                    keys_path,
                    dir,
                    database: Some(database),
                }
            }
        }
    }

    /// A new store of the same kind.
    pub fn fresh(&self) -> TestStore {
        match self.location {
            Location::Sqlite(_) => sqlite(),
            Location::Postgres(_) => postgres().expect("PostgreSQL answered for this store"),
        }
    }
}

/// The stores' segment format (crates/store/src/segment.rs), as a tamperer who read
/// the code would write it.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Segment<'a> {
    #[serde(borrow)]
    pub names: Vec<&'a str>,
    #[serde(borrow)]
    pub events: Vec<Stored<'a>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct Stored<'a> {
    pub source: u32,
    pub id: &'a str,
    pub leaf: [u8; 32],
    pub model: u32,
    pub use_case: u32,
    pub currency: u32,
    pub customer: Option<[u8; 16]>,
    pub utc_seconds: i64,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub revenue_units: &'a str,
}

/// Edits the segment `select` finds (its `number, events`), behind the service's back.
pub fn edit_segment(t: &TestStore, select: &str, edit: impl Fn(&mut Segment<'_>)) {
    let edited = |bytes: &[u8]| {
        let mut segment: Segment<'_> = postcard::from_bytes(bytes).unwrap();
        edit(&mut segment);
        postcard::to_allocvec(&segment).unwrap()
    };
    match &t.location {
        Location::Sqlite(path) => {
            let connection = rusqlite::Connection::open(path).unwrap();
            let (number, bytes): (i64, Vec<u8>) = connection
                .query_row(select, [], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            connection
                .execute(
                    "UPDATE segments SET events = ?1 WHERE number = ?2",
                    rusqlite::params![edited(&bytes), number],
                )
                .unwrap();
        }
        Location::Postgres(url) => {
            let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let row = client.query_one(select, &[]).unwrap();
            let (number, bytes): (i64, Vec<u8>) = (row.get(0), row.get(1));
            client
                .execute(
                    "UPDATE segments SET events = $1 WHERE number = $2",
                    &[&edited(&bytes), &number],
                )
                .unwrap();
        }
    }
}

/// Edits the event `id` of the batch stored at entry `seq`.
pub fn edit_event(t: &TestStore, seq: u64, id: &str, edit: impl Fn(&mut Stored<'_>)) {
    let select = match t.is_postgres() {
        true => format!(
            "SELECT number, events FROM segments WHERE batch = (SELECT batch FROM event_batches WHERE seq = {seq}) \
             ORDER BY number"
        ),
        false => format!("SELECT number, events FROM segments WHERE seq = {seq} ORDER BY number"),
    };
    // The batch's segments are few: the one holding `id` is found by trying each.
    let numbers: Vec<i64> = match &t.location {
        Location::Sqlite(path) => {
            let connection = rusqlite::Connection::open(path).unwrap();
            let mut statement = connection.prepare(&select).unwrap();
            let rows = statement
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
                .unwrap();
            rows.map(Result::unwrap)
                .filter(|(_, bytes)| {
                    postcard::from_bytes::<Segment<'_>>(bytes)
                        .unwrap()
                        .events
                        .iter()
                        .any(|e| e.id == id)
                })
                .map(|(n, _)| n)
                .collect()
        }
        Location::Postgres(url) => {
            let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
            client
                .query(&select, &[])
                .unwrap()
                .iter()
                .filter(|r| {
                    postcard::from_bytes::<Segment<'_>>(r.get::<_, &[u8]>(1))
                        .unwrap()
                        .events
                        .iter()
                        .any(|e| e.id == id)
                })
                .map(|r| r.get(0))
                .collect()
        }
    };
    let number = numbers
        .first()
        .unwrap_or_else(|| panic!("no segment of entry {seq} holds {id}"));
    edit_segment(
        t,
        &format!("SELECT number, events FROM segments WHERE number = {number}"),
        |segment| {
            for event in segment.events.iter_mut().filter(|e| e.id == id) {
                edit(event);
            }
        },
    );
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
    init(TestStore {
        location,
        keys_path,
        dir,
        database,
    })
}

/// The store initialized, with a fresh key file at its `keys_path`.
fn init(store: TestStore) -> TestStore {
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

/// A new SQLite file, not initialized (`keys_path` names no file yet).
pub fn empty_sqlite() -> TestStore {
    let dir = scratch("sqlite");
    TestStore {
        location: Location::Sqlite(dir.join("test.db")),
        keys_path: dir.join("test.key"),
        dir,
        database: None,
    }
}

/// A new, empty database (not initialized: `keys_path` names no file yet), or
/// `None` (outside CI) when PostgreSQL is unreachable.
pub fn empty_postgres() -> Option<TestStore> {
    let mut store = postgres_database()?;
    store.keys_path = store.dir.join("test.key");
    Some(store)
}

/// A fresh database, or `None` (outside CI) when PostgreSQL is unreachable.
pub fn postgres() -> Option<TestStore> {
    Some(init(postgres_database()?))
}

fn postgres_database() -> Option<TestStore> {
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
    Some(TestStore {
        location: Location::Postgres(format!("postgres://postgres@127.0.0.1:5432/{database}")),
        keys_path: dir.join("test.key"),
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
