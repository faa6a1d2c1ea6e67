//! The parallel offline pipeline agrees with the core's one-thread reference path on
//! usage large enough to span many chunks and batches, with duplicates, conflicts
//! and invalid records mixed in.

use std::path::PathBuf;

use revshare_core::contract::{Contract, ContractSet};
use revshare_core::event::UsageEvent;
use revshare_core::rating::{rate_events, KeyedFacts, RatingInputs};
use revshare_core::statement::Statement;
use revshare_core::tables::{Contributions, FxTable};
use revshare_ingest::offline::{rate_usage, InputError, Problem, ProblemKind, RateOutput, UsageInput};

fn fixture(relative: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/spec-examples")
            .join(relative),
    )
    .unwrap()
}

fn inputs() -> RatingInputs {
    let contracts = ["acme-llama", "nimbus-llama", "orbit-llama"]
        .iter()
        .map(|c| {
            let file = format!("contracts/{c}.toml");
            (file.clone(), Contract::from_toml(&file, &fixture(&file)).unwrap())
        })
        .collect();
    RatingInputs {
        contracts: ContractSet::new(contracts).unwrap(),
        fx: FxTable::from_csv("fx.csv", &fixture("fx.csv")).unwrap(),
        contributions: Contributions::from_csv("contributions.csv", &fixture("contributions.csv")).unwrap(),
        registry: None,
    }
}

/// 20 copies of the small example under new ids (about 7 MB, two chunks), then
/// repeats, a conflicting copy and invalid lines, deterministically interleaved.
fn usage() -> Vec<String> {
    let small = String::from_utf8(fixture("usage-small.ndjson")).unwrap();
    let base: Vec<&str> = small.lines().collect();
    let mut lines = Vec::new();
    for copy in 0..20 {
        for line in &base {
            lines.push(line.replacen("\"id\":\"e1-", &format!("\"id\":\"c{copy:02}-"), 1));
        }
    }
    let count = lines.len();
    for i in (0..count).step_by(97) {
        let repeat = lines[i].clone();
        lines.push(repeat);
    }
    for i in (5..count).step_by(1013) {
        let conflict = lines[i].replacen("\"region\":\"", "\"region\":\"x", 1);
        lines.insert(i / 2, conflict);
    }
    for i in (0..lines.len()).step_by(777) {
        lines.insert(i, "{\"specversion\":\"1.0\"}".to_string());
    }
    lines
}

/// Rates one usage file with the parallel pipeline, collecting the problems it
/// reports (also when the run fails).
fn rate_file(inputs: &RatingInputs, name: &str, text: String) -> (Result<RateOutput, InputError>, Vec<Problem>) {
    let mut problems = Vec::new();
    let output = rate_usage(
        inputs,
        vec![UsageInput {
            name: name.into(),
            reader: Box::new(std::io::Cursor::new(text.into_bytes())),
        }],
        None,
        &mut |p| problems.push(p.clone()),
    );
    (output, problems)
}

/// Rates the lines as one NDJSON file.
fn rate_lines(inputs: &RatingInputs, lines: &[String]) -> (RateOutput, Vec<Problem>) {
    let (output, problems) = rate_file(inputs, "u.ndjson", lines.join("\n"));
    (output.unwrap(), problems)
}

/// The statements the core's one-thread reference path makes of the valid lines
/// (it keeps the first copy of each key too).
fn reference(inputs: &RatingInputs, lines: &[String]) -> Vec<Statement> {
    let events: Vec<UsageEvent<'_>> = lines
        .iter()
        .filter_map(|l| UsageEvent::parse(l.as_bytes()).ok())
        .collect();
    let keyed: Vec<KeyedFacts<'_>> = events.iter().map(|e| KeyedFacts::of(e, e.leaf_hash())).collect();
    rate_events(inputs, &keyed, None)
        .into_iter()
        .map(|r| r.statement)
        .collect()
}

#[test]
fn parallel_pipeline_equals_the_reference_path() {
    let inputs = inputs();
    let lines = usage();
    let (output, problems) = rate_lines(&inputs, &lines);
    assert_eq!(output.statements, reference(&inputs, &lines));

    let invalid = problems.iter().filter(|p| p.kind == ProblemKind::Invalid).count() as u64;
    let conflicts = problems.iter().filter(|p| p.kind == ProblemKind::Conflict).count() as u64;
    assert_eq!(output.summary.invalid, invalid);
    assert_eq!(output.summary.conflicts, conflicts);
    assert!(invalid > 0 && conflicts > 0 && output.summary.duplicates > 0);
    assert_eq!(output.summary.read, lines.len() as u64);
    // Reported in input order, with 1-based line numbers that point at the record.
    assert!(problems
        .iter()
        .filter(|p| p.kind == ProblemKind::Invalid)
        .all(|p| lines[p.line as usize - 1] == "{\"specversion\":\"1.0\"}"));
    let conflict_lines: Vec<u64> = problems
        .iter()
        .filter(|p| p.kind == ProblemKind::Conflict)
        .map(|p| p.line)
        .collect();
    assert!(conflict_lines.windows(2).all(|w| w[0] < w[1]));
}

/// Runs of several copies of one key: each later copy is judged against the first
/// in input order, whatever copies lie between, and the first stands.
#[test]
fn every_repeat_is_judged_against_the_first_copy() {
    let inputs = inputs();
    let small = String::from_utf8(fixture("usage-small.ndjson")).unwrap();
    let mut base = small.lines();
    let (a, b) = (base.next().unwrap(), base.next().unwrap());
    let other = |line: &str| line.replacen("\"region\":\"", "\"region\":\"x", 1);
    // a: first, duplicate, conflict, duplicate; b: first, conflict, conflict (the
    // second conflicting copy equals the first conflicting one, not the original).
    let lines = [
        a.to_string(),
        b.to_string(),
        a.to_string(),
        other(a),
        other(b),
        a.to_string(),
        other(b),
    ];
    assert_ne!(other(a), a);
    let (output, problems) = rate_lines(&inputs, &lines);
    assert_eq!(output.summary.duplicates, 2);
    assert_eq!(output.summary.conflicts, 3);
    assert_eq!(output.summary.unique, 2);
    let conflict_lines: Vec<u64> = problems
        .iter()
        .filter(|p| p.kind == ProblemKind::Conflict)
        .map(|p| p.line)
        .collect();
    assert_eq!(conflict_lines, [4, 5, 7]);
    // The statements count each key's first copy only.
    assert_eq!(output.statements, reference(&inputs, &[a.to_string(), b.to_string()]));
}

/// Chunks are parsed as tasks on the pool while the caller reads ahead; called from
/// a thread of a one-thread pool, the caller must run those tasks itself rather
/// than wait for a thread that is not there.
#[test]
fn rating_from_inside_a_one_thread_pool_finishes() {
    let inputs = inputs();
    let lines = usage();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let (output, problems) = pool.install(|| rate_lines(&inputs, &lines));
    assert!(problems.iter().any(|p| p.kind == ProblemKind::Invalid));
    assert_eq!(output.statements, reference(&inputs, &lines));
}

/// A file that breaks off (here, a JSON array never closed) fails the run, but only
/// after the problems of the records before the break are reported.
#[test]
fn a_read_error_comes_after_the_problems_before_it() {
    let inputs = inputs();
    let small = String::from_utf8(fixture("usage-small.ndjson")).unwrap();
    let mut elements: Vec<&str> = small.lines().collect();
    elements.insert(1, "{\"specversion\":\"1.0\"}");
    let (output, problems) = rate_file(&inputs, "u.json", format!("[{}", elements.join(",\n")));
    let error = output.err().expect("an unclosed array is an error");
    assert!(error.to_string().starts_with("u.json: "), "{error}");
    assert!(error.to_string().contains("not closed"), "{error}");
    assert_eq!(problems.len(), 1);
    assert_eq!((problems[0].kind, problems[0].line), (ProblemKind::Invalid, 2));
}
