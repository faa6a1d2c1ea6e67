//! The small worlds worked by hand: events of host `h` and model `m`, imported
//! whole, and periods that close into one statement.

use revshare_app::close::{close, CloseRequest, Grace};
use revshare_app::import::{import, Observers};
use revshare_app::{Actor, Backend};
use revshare_core::period::Period;
use revshare_core::statement::Statement;
use revshare_ingest::offline::UsageInput;

use super::{ctx, TestStore};

/// An event of host `h` (source `h/eu`), model `m`, at noon UTC of `day`.
pub fn event(id: &str, day: &str, revenue: &str, currency: &str) -> String {
    format!(
        r#"{{"specversion":"1.0","type":"ai.usage.v1","source":"h/eu","id":"{id}","time":"{day}T12:00:00Z","data":{{"host":"h","model":"m","use_case":"chat","input_tokens":0,"output_tokens":0,"revenue":"{revenue}","currency":"{currency}"}}}}"#
    )
}

/// Imports `lines` at `time` as the operator; every one is accepted.
pub fn import_all(t: &TestStore, backend: &mut dyn Backend, time: &str, lines: &[String]) {
    let operator = Actor::cli();
    let summary = import(
        backend,
        &t.keys(),
        ctx(&operator, time),
        vec![UsageInput {
            name: "u.ndjson".into(),
            reader: Box::new(std::io::Cursor::new(lines.join("\n").into_bytes())),
        }],
        Observers {
            progress: &mut |_| {},
            rejected: &mut |_| {},
        },
    )
    .unwrap();
    assert_eq!(summary.accepted, lines.len() as u64);
}

/// Closes `period` at `time`: one statement.
pub fn close_one(t: &TestStore, backend: &mut dyn Backend, period: &str, time: &str) -> Statement {
    let operator = Actor::cli();
    let request = CloseRequest {
        period: Period::parse(period).unwrap(),
        contract: None,
        grace: Grace::default(),
        dry_run: false,
        allow_empty: false,
        // The hand-made contracts' terms start before the periods these tests close
        // (`split` owes a minimum guarantee from January): settlement starts where
        // each test starts it, confirmed.
        settlement_start: true,
    };
    let outcome = close(backend, &t.keys(), ctx(&operator, time), &request).unwrap();
    assert_eq!(outcome.statements.len(), 1);
    outcome.statements[0].statement.clone()
}
