//! `ledger balances` over a ledger of STATEMENTS statements and PAYMENTS payments
//! (each posting two legs per beneficiary), beside a plain `SELECT sum(…) GROUP BY`
//! over the same legs, in the same run (bench/ledger.sh).
//!
//!   ledger_balances STORE [STATEMENTS] [PAYMENTS]
//!
//! STORE is a new SQLite file or a `postgres://` URL of an empty database. The legs
//! are written straight through the store (one transaction, no audit entries): what
//! is measured is the read, which is the same whatever wrote them.

use std::time::Instant;

use revshare_app::ledger::{balances, Filter};
use revshare_app::{Actor, Ctx, Location};
use revshare_core::audit::Seq;
use revshare_core::event::parse_time;
use revshare_store::backend::LegRow;

const CONTRACTS: usize = 100;
const HOSTS: usize = 20;
const BENEFICIARIES: usize = 7;
const RUNS: usize = 7;

fn contract(i: usize) -> String {
    format!(
        r#"id = "c{i}"
version = 1
licensor = "lic"
host = "h{host}"
currency = "USD"
effective_from = "2020-01-01"
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
shares = {{ lic = "0.5", b{b} = "0.5" }}
"#,
        host = i % HOSTS,
        b = i % BENEFICIARIES
    )
}

/// A pseudo-random amount in cents, the same every run.
fn cents(n: usize) -> i64 {
    ((n as u64).wrapping_mul(2_654_435_761) % 1_000_000) as i64 + 1
}

fn amount(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

fn pair(txn: &str, contract: usize, beneficiary: &str, owed: i64, day: i32, due: Option<i32>, seq: u64) -> [LegRow; 2] {
    let leg = |side: &str, cents: i64| LegRow {
        txn: txn.to_string(),
        contract: format!("c{contract}"),
        currency: "USD".into(),
        host: format!("h{}", contract % HOSTS),
        beneficiary: beneficiary.to_string(),
        side: side.into(),
        amount: amount(cents),
        day,
        due,
        seq: Seq::new(seq),
    };
    [leg("receivable", owed), leg("payable", -owed)]
}

fn legs(statements: usize, payments: usize) -> Vec<LegRow> {
    let mut legs = Vec::new();
    for s in 0..statements {
        let c = s % CONTRACTS;
        let day = 18_000 + (s / CONTRACTS) as i32 * 30;
        let txn = format!("statement:c{c}/s{s}");
        for b in ["lic".to_string(), format!("b{}", c % BENEFICIARIES)] {
            legs.extend(pair(&txn, c, &b, cents(s), day, Some(day + 30), s as u64 + 1));
        }
    }
    for p in 0..payments {
        let c = p % CONTRACTS;
        let b = if p % 2 == 0 {
            "lic".to_string()
        } else {
            format!("b{}", c % BENEFICIARIES)
        };
        let day = 18_010 + (p / CONTRACTS) as i32 * 6;
        legs.extend(pair(
            &format!("payment:P-{p:012x}"),
            c,
            &b,
            -cents(p) / 3,
            day,
            None,
            (statements + p) as u64 + 1,
        ));
    }
    legs
}

fn median(mut ms: Vec<f64>) -> f64 {
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let store = args
        .get(1)
        .expect("usage: ledger_balances STORE [STATEMENTS] [PAYMENTS]");
    let statements: usize = args.get(2).map_or(10_000, |n| n.parse().expect("STATEMENTS"));
    let payments: usize = args.get(3).map_or(50_000, |n| n.parse().expect("PAYMENTS"));
    let location = match store.starts_with("postgres") {
        true => Location::Postgres(store.clone()),
        false => Location::Sqlite(store.into()),
    };
    let mut backend = revshare_app::open(&location).expect("the store opens");
    let key_file = std::env::temp_dir().join(format!("revshare-ledger-bench-{}.key", std::process::id()));
    let operator = Actor::cli();
    let ctx = Ctx {
        actor: &operator,
        now: parse_time("2027-01-01T00:00:00Z").expect("a time"),
    };
    revshare_app::setup::init(backend.as_mut(), &key_file, ctx).expect("init");
    let keys = revshare_app::keys::Keys::open(&key_file, backend.as_mut()).expect("the key file");
    for i in 0..CONTRACTS {
        revshare_app::contracts::add_version(
            backend.as_mut(),
            &keys,
            ctx,
            &format!("c{i}.toml"),
            contract(i).as_bytes(),
        )
        .expect("a contract");
    }
    let legs = legs(statements, payments);
    backend.begin_write().expect("the write lock");
    backend.add_legs(&legs).expect("the legs");
    backend.commit().expect("commit");
    settle(&location);

    let filter = Filter::default();
    let mut ours = Vec::new();
    let mut count = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        count = balances(backend.as_mut(), ctx, &filter).expect("balances").len();
        ours.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let plain = plain_sum(&location);
    println!(
        "{{\"store\":\"{}\",\"statements\":{statements},\"payments\":{payments},\"legs\":{},\"balances\":{count},\
         \"ledger_balances_ms\":{:.1},\"plain_sum_group_by_ms\":{:.1}}}",
        revshare_app::store_name(backend.as_ref()),
        legs.len(),
        median(ours),
        median(plain)
    );
    let _ = std::fs::remove_file(&key_file);
}

/// Leaves the legs as a ledger written over months finds them: on PostgreSQL,
/// vacuumed and analysed, as autovacuum leaves a table long before anyone reads
/// balances (both queries below are timed after it).
fn settle(location: &Location) {
    if let Location::Postgres(url) = location {
        let mut client = postgres::Client::connect(url, postgres::NoTls).expect("postgres");
        client.batch_execute("VACUUM ANALYZE ledger_legs").expect("vacuum");
    }
}

/// The same sums as one plain query, timed the same way.
fn plain_sum(location: &Location) -> Vec<f64> {
    let query = |numeric: &str| {
        format!(
            "SELECT host, beneficiary, contract, currency, sum({numeric}) FROM ledger_legs WHERE side = 'receivable' \
             GROUP BY host, beneficiary, contract, currency ORDER BY host, beneficiary, contract, currency"
        )
    };
    let mut times = Vec::new();
    match location {
        Location::Sqlite(path) => {
            let connection = rusqlite::Connection::open(path).expect("sqlite");
            let sql = query("CAST(amount AS REAL)");
            for _ in 0..RUNS {
                let start = Instant::now();
                let mut statement = connection.prepare(&sql).expect("the query");
                let rows = statement.query_map([], |r| r.get::<_, f64>(4)).expect("rows").count();
                assert!(rows > 0);
                times.push(start.elapsed().as_secs_f64() * 1000.0);
            }
        }
        Location::Postgres(url) => {
            let mut client = postgres::Client::connect(url, postgres::NoTls).expect("postgres");
            let sql = query("amount::numeric");
            for _ in 0..RUNS {
                let start = Instant::now();
                let rows = client.query(&sql, &[]).expect("the query").len();
                assert!(rows > 0);
                times.push(start.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    times
}
