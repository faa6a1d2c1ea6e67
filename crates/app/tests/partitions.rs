//! PostgreSQL keeps events in a partition of `segments` per month (schema 13), so
//! that an old month can move to cheaper storage: a month moved to a tablespace of
//! its own is read as before, by `audit verify` (every event hashed again), by a
//! proof of one of its events and by a close that re-rates it.

mod common;

use revshare_app::close::{close, CloseRequest, Grace};
use revshare_app::import::{import, Observers};
use revshare_app::verify_store::verify;
use revshare_app::Actor;
use revshare_core::period::Period;
use revshare_ingest::offline::UsageInput;

use common::scenario::{first_event, fixture, prepared};

/// A tablespace made for a test, dropped after the test's database (whose tables
/// it holds) when the test ends, whichever way.
struct Tablespace {
    name: String,
    database: String,
}

impl Drop for Tablespace {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect("postgres://postgres@127.0.0.1:5432/postgres", postgres::NoTls)
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database));
            let _ = admin.batch_execute(&format!("DROP TABLESPACE IF EXISTS {}", self.name));
        }
    }
}

#[test]
fn a_month_moved_to_another_tablespace_is_read_as_before() {
    let Some(t) = common::postgres() else { return };
    let mut backend = prepared(&t);
    let before = verify(backend.as_mut(), &Actor::cli(), None).unwrap();
    let (source, id) = first_event(&fixture("usage-small.ndjson"), "acme-cloud", "2026-09");
    let prove = |backend: &mut dyn revshare_app::Backend| {
        revshare_app::statements::prove(backend, &Actor::cli(), "acme-llama/2026-09", &source, &id).unwrap()
    };
    let proof = prove(backend.as_mut());
    let revshare_app::Location::Postgres(url) = &t.location else {
        unreachable!("a PostgreSQL store")
    };
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let partitions: Vec<String> = client
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'segments'::regclass ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        partitions.contains(&"segments_2026_09".to_string()) && partitions.contains(&"segments_2026_10".to_string()),
        "a partition per month of the example's usage: {partitions:?}"
    );

    // The server runs on this machine: the tablespace's folder is made here, its own.
    let folder = t.dir.join("cold");
    std::fs::create_dir_all(&folder).unwrap();
    let owned = std::process::Command::new("chown")
        .args(["postgres:postgres", folder.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(owned.success(), "the tablespace's folder is the server's");
    let database = url.rsplit('/').next().unwrap().to_string();
    let cold = Tablespace {
        name: format!("{database}_cold"),
        database,
    };
    client
        .batch_execute(&format!(
            "CREATE TABLESPACE {} LOCATION '{}'",
            cold.name,
            folder.display()
        ))
        .unwrap();
    client
        .batch_execute(&format!("ALTER TABLE segments_2026_09 SET TABLESPACE {}", cold.name))
        .unwrap();
    let moved: String = client
        .query_one(
            "SELECT coalesce(tablespace, '') FROM pg_tables WHERE tablename = 'segments_2026_09'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(moved, cold.name);

    let after = verify(backend.as_mut(), &Actor::cli(), None).unwrap();
    assert!(after.holds(), "{:#?}", after.failures);
    assert_eq!((after.events, after.rerated), (before.events, before.rerated));
    assert_eq!(prove(backend.as_mut()), proof, "the same proof of one of its events");
    // A late September event goes into the moved partition, November's into its
    // own; November's close re-rates September from there.
    let usage: String = [("late", "2026-09-21"), ("nov", "2026-11-12")]
        .iter()
        .map(|(tag, day)| {
            format!(
                r#"{{"specversion":"1.0","type":"ai.usage.v1","source":"acme-cloud/us","id":"{tag}-1","time":"{day}T08:00:00Z","data":{{"host":"acme-cloud","model":"llama-3.1-8b-instruct","use_case":"chat","customer":"c-1","requests":1,"input_tokens":100,"output_tokens":50,"revenue":"2.500000","currency":"USD"}}}}"#
            ) + "\n"
        })
        .collect();
    let operator = Actor::cli();
    let december = common::ctx(&operator, "2026-12-02T00:00:00Z");
    let imported = import(
        backend.as_mut(),
        &t.keys(),
        december,
        vec![UsageInput {
            name: "late.ndjson".into(),
            reader: Box::new(std::io::Cursor::new(usage.into_bytes())),
        }],
        Observers {
            progress: &mut |_| {},
            rejected: &mut |_| {},
        },
    )
    .unwrap();
    assert_eq!((imported.accepted, imported.late), (2, 1));
    let request = CloseRequest {
        period: Period::parse("2026-11").unwrap(),
        contract: Some("acme-llama".into()),
        grace: Grace::default(),
        dry_run: false,
        allow_empty: true,
        settlement_start: false,
    };
    let closed = close(backend.as_mut(), &t.keys(), december, &request).unwrap();
    let november = &closed.statements[0].statement;
    assert!(
        november
            .adjustments
            .iter()
            .any(|a| a.period.as_deref() == Some("2026-09")),
        "September re-rated from the moved partition: {:?}",
        november.adjustments
    );
    let last = verify(backend.as_mut(), &Actor::cli(), None).unwrap();
    assert!(last.holds(), "{:#?}", last.failures);
}
