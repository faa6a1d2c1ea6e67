//! Proofs and leaf pages read from a tree's tiles and leaf index (a few stored hashes)
//! are the ones the whole tree gives: on trees of awkward sizes around the tiles'
//! edges with random leaves, on both backends, before and after a store of the
//! earlier schema is upgraded; and a stored node or index entry edited is named by
//! `audit verify` and refused by the reads that cross it.

mod common;

use revshare_app::page::page;
use revshare_app::statements::{leaves, leaves_page, prove};
use revshare_app::verify_store::verify;
use revshare_app::{Actor, AppError, Backend};
use revshare_core::merkle::Hash;
use revshare_core::verify::{prove as whole_tree_proof, TreeName};

use common::hand::{self, event};
use common::{ctx, TestStore};

const CONTRACT: &str = r#"
id = "split"
version = 1
licensor = "lic"
host = "h"
currency = "USD"
effective_from = "2026-01-01"
effective_to = "2027-01-01"
period = "month"
payment_terms_days = 30
dispute_window_days = 60
models = ["m"]

[rounding]
scale = 2
mode = "half_even"

[[rates]]
use_case = "*"
revenue_share = "0.10"

[[splits]]
models = ["*"]
shares = { lic = "0.70", lab = "0.30" }
"#;

const NOW: &str = "2026-12-02T00:00:00Z";

/// A small xorshift: the test's random ids, from a seed it prints.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One closed month: its statement and its events' ids in tree order.
struct Month {
    statement_id: String,
    ids: Vec<String>,
}

/// A store whose months 2026-01… each close into a statement of one of `sizes`
/// events with random ids.
fn closed_months(t: &TestStore, sizes: &[usize], random: &mut Random) -> Vec<Month> {
    let mut backend = t.open();
    let operator = Actor::cli();
    revshare_app::contracts::add_version(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, NOW),
        "split.toml",
        CONTRACT.as_bytes(),
    )
    .unwrap();
    let mut months = Vec::new();
    let mut lines = Vec::new();
    for (month, size) in (1..).zip(sizes) {
        let mut ids: Vec<String> = (0..*size).map(|_| format!("e{:016x}", random.next())).collect();
        for (n, id) in ids.iter().enumerate() {
            let day = format!("2026-{month:02}-{:02}", 1 + n % 28);
            lines.push(event(id, &day, "1.25", "USD"));
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), *size, "ids drawn twice: another seed");
        months.push(Month {
            statement_id: format!("split/2026-{month:02}"),
            ids,
        });
    }
    hand::import_all(t, backend.as_mut(), NOW, &lines);
    for month in &months {
        let period = month.statement_id.trim_start_matches("split/");
        let statement = hand::close_one(t, backend.as_mut(), period, NOW);
        assert_eq!(statement.events.count, month.ids.len() as u64);
    }
    months
}

/// The places of a month's tree its proofs are taken at: the edges of tiles, the
/// ends, and a few at random.
fn places(size: usize, random: &mut Random) -> Vec<usize> {
    let mut places: Vec<usize> = [0, 1, 127, 128, 254, 255, 256, 257, 511, 512, 65_535, 65_536, size / 2]
        .into_iter()
        .chain([size.saturating_sub(2), size - 1])
        .chain((0..4).map(|_| (random.next() % size as u64) as usize))
        .filter(|p| *p < size)
        .collect();
    places.sort();
    places.dedup();
    places
}

/// Every proof at `places` and every page (of 1000, and of 7 from a few places) equal
/// what the whole tree, read and checked against its root, gives.
fn same_as_the_whole_tree(backend: &mut dyn Backend, month: &Month, random: &mut Random) {
    let operator = Actor::cli();
    let id = month.statement_id.as_str();
    let whole: Vec<Hash> = leaves(backend, &operator, id, &TreeName::Events).unwrap().leaves;
    assert_eq!(whole.len(), month.ids.len());
    for place in places(whole.len(), random) {
        let proof = prove(backend, &operator, id, "h/eu", &month.ids[place]).unwrap();
        let expected = whole_tree_proof(id, &TreeName::Events, &whole, place);
        assert_eq!(
            serde_json::to_string(&proof).unwrap(),
            serde_json::to_string(&expected).unwrap(),
            "{id}: leaf {place}"
        );
        let located = revshare_app::locate::locate(backend, &operator, "h/eu", &month.ids[place]).unwrap();
        let indexes: Vec<u64> = located.places.iter().map(|p| p.leaf_index).collect();
        assert_eq!(indexes, [place as u64], "{id}: leaf {place} located");
    }
    // Every page of 1000 in turn, then pages of 7 from random places and past the end.
    let mut cursor: Option<String> = None;
    loop {
        let (count, got) =
            leaves_page(backend, &operator, id, &TreeName::Events, Some(1000), cursor.as_deref()).unwrap();
        let expected = page(whole.clone(), Some(1000), cursor.as_deref()).unwrap();
        assert_eq!(count, whole.len() as u64);
        assert_eq!(
            (&got.items, &got.next_cursor),
            (&expected.items, &expected.next_cursor),
            "{id}"
        );
        match got.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let starts = (0..3)
        .map(|_| random.next() % whole.len() as u64)
        .chain([whole.len() as u64 + 5]);
    for start in starts {
        let cursor = Some(cursor_at(start));
        let (_, got) = leaves_page(backend, &operator, id, &TreeName::Events, Some(7), cursor.as_deref()).unwrap();
        let expected = page(whole.clone(), Some(7), cursor.as_deref()).unwrap();
        assert_eq!(
            (&got.items, &got.next_cursor),
            (&expected.items, &expected.next_cursor),
            "{id} from {start}"
        );
    }
    let missing = prove(backend, &operator, id, "h/eu", "never-sent");
    assert!(matches!(missing, Err(AppError::NotFound(_))), "{missing:?}");
}

/// The cursor at `position`, as the API gives it (the page after one ending there).
fn cursor_at(position: u64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("p:{position}"))
}

fn seed() -> u64 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    eprintln!("seed {seed}");
    seed
}

fn proofs_and_pages_equal_the_whole_trees(t: &TestStore) {
    let mut random = Random(seed());
    let odd = 258 + (random.next() % 3000) as usize;
    let sizes = [1, 2, 255, 256, 257, odd, 65_537];
    let months = closed_months(t, &sizes, &mut random);
    let mut backend = t.open();
    for month in &months {
        same_as_the_whole_tree(backend.as_mut(), month, &mut random);
    }
    assert!(verify(backend.as_mut(), &Actor::cli(), None).unwrap().holds());
    drop(backend);

    // A store of the schema before the tiles: they are made again when it is opened.
    let earlier = if t.is_postgres() {
        "DROP TABLE statement_tree_tiles; DROP TABLE statement_tree_index; UPDATE schema_migrations SET version = 12;"
    } else {
        "DROP TABLE statement_tree_tiles; DROP TABLE statement_tree_index; PRAGMA user_version = 10;"
    };
    t.tamper(earlier);
    let mut backend = t.open();
    let report = verify(backend.as_mut(), &Actor::cli(), None).unwrap();
    assert!(report.holds(), "after the upgrade: {:#?}", report.failures);
    for month in &months {
        same_as_the_whole_tree(backend.as_mut(), month, &mut random);
    }
    drop(backend);

    // A stored node changed: named, and a proof or page whose path crosses it refused.
    let big = &months[6];
    let node = if t.is_postgres() {
        "UPDATE statement_tree_tiles SET hashes = sha256(hashes) || substring(hashes from 33)
         WHERE statement_id = 'split/2026-07' AND level = 1 AND chunk = 0"
    } else {
        "UPDATE statement_tree_tiles SET hashes = CAST(randomblob(32) || substr(hashes, 33) AS BLOB)
         WHERE statement_id = 'split/2026-07' AND level = 1 AND chunk = 0"
    };
    t.tamper(node);
    let mut backend = t.open();
    let report = verify(backend.as_mut(), &Actor::cli(), None).unwrap();
    assert!(
        report.failures.iter().any(|f| f.check == 2
            && f.object == "statement:split/2026-07"
            && f.message.contains("node 0 of tile level 1")),
        "{:#?}",
        report.failures
    );
    let operator = Actor::cli();
    let crossing = prove(backend.as_mut(), &operator, &big.statement_id, "h/eu", &big.ids[300]);
    assert!(matches!(crossing, Err(AppError::Integrity(_))), "{crossing:?}");
    let page = leaves_page(
        backend.as_mut(),
        &operator,
        &big.statement_id,
        &TreeName::Events,
        None,
        Some(&cursor_at(1000)),
    );
    assert!(matches!(page, Err(AppError::Integrity(_))), "{page:?}");
    assert!(
        prove(backend.as_mut(), &operator, &big.statement_id, "h/eu", &big.ids[3]).is_ok(),
        "its own path does not cross it"
    );
    drop(backend);

    // An entry of the leaf index changed: named.
    let entry = if t.is_postgres() {
        "UPDATE statement_tree_index SET entries = substring(sha256(entries) from 1 for 12) || substring(entries from 13)
         WHERE statement_id = 'split/2026-06' AND chunk = 0"
    } else {
        "UPDATE statement_tree_index SET entries = CAST(randomblob(12) || substr(entries, 13) AS BLOB)
         WHERE statement_id = 'split/2026-06' AND chunk = 0"
    };
    t.tamper(entry);
    let mut backend = t.open();
    let report = verify(backend.as_mut(), &Actor::cli(), None).unwrap();
    assert!(
        report.failures.iter().any(|f| f.check == 2
            && f.object == "statement:split/2026-06"
            && f.message.contains("entry 0 of the leaf index")),
        "{:#?}",
        report.failures
    );
}

both_backends!(proofs_and_pages_equal_the_whole_trees);
