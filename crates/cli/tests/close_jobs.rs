//! A close job cut by the end of `revshare serve` (api.md: a close is one store
//! transaction): the real binary, a store with enough usage that its close takes a
//! noticeable time, an asynchronous close started, then SIGTERM or SIGKILL. After
//! either, the store holds no statement of the period or all of them, `audit verify`
//! holds, and the restarted server reads the job as ended (`done`), or as
//! `interrupted` once no process has reported it for a while: never as running for
//! ever. Closing again then closes, or returns what was stored.

mod common;

use std::time::{Duration, Instant};

use common::{batch, Request, Serve, Store};
use serde_json::Value;

/// Enough events that the close takes a noticeable time (tenths of a second here).
const EVENTS: usize = 200_000;
const CLOSE: &str = "/v1/periods/2026-10/close?settlement_start=true";

/// A second contract of acme-cloud, with another licensor, for its mistral models.
const ACME_MISTRAL: &str = r#"
id = "acme-mistral"
version = 1
licensor = "mistral"
host = "acme-cloud"
currency = "USD"
effective_from = "2026-10-01"
period = "month"
payment_terms_days = 30
dispute_window_days = 60
models = ["mistral-*"]

[rounding]
scale = 2
mode = "half_even"

[[rates]]
use_case = "*"
revenue_share = "0.10"

[[splits]]
models = ["*"]
shares = { mistral = "1" }
"#;

/// acme-llama and acme-mistral, each with half of [`EVENTS`] of acme-cloud's October
/// events (the registry says whose model is whose): a whole close of October stores
/// both statements, or neither.
fn loaded(store: Store, events: usize) -> (Store, String) {
    store.setup();
    let contract = store.dir.join("acme-mistral.toml");
    std::fs::write(&contract, ACME_MISTRAL).unwrap();
    store.run(&["contract", "add", &contract.display().to_string()]);
    let registry = store.dir.join("models.csv");
    std::fs::write(&registry, "pattern,licensor\nllama-*,meta\nmistral-*,mistral\n").unwrap();
    store.run(&["models", "add", &registry.display().to_string(), "--from", "2026-01-01"]);
    let usage = store.dir.join("usage.ndjson");
    let mistral = batch("mistral", events / 2).replace("llama-3.1-8b-instruct", "mistral-large-2");
    std::fs::write(&usage, batch("llama", events / 2) + &mistral).unwrap();
    store.run(&["import", &usage.display().to_string()]);
    std::fs::remove_file(&usage).unwrap();
    let operator = store.token("ops", "operator");
    (store, operator)
}

/// October's statements as stored, by id, read behind the service's back.
fn october(store: &Store) -> Vec<(String, String)> {
    const QUERY: &str = "SELECT statement_id, json FROM statements WHERE period = '2026-10' ORDER BY statement_id";
    if store.file.is_some() {
        let connection = store.sqlite_connection();
        let mut query = connection.prepare(QUERY).unwrap();
        return query
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    }
    let url = &store.args[store.args.iter().position(|a| a == "--database-url").unwrap() + 1];
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .query(QUERY, &[])
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// Starts an asynchronous close; the job's location, once the job is seen running.
fn start_close(server: &Serve, operator: &str) -> String {
    let answer = Request::post(&format!("{CLOSE}&async=true"))
        .bearer(operator)
        .send(server.address)
        .unwrap();
    assert_eq!(answer.status, 202, "{}", answer.text());
    let location = answer.header("location").expect("a 202 names its job").to_string();
    let job = server.get(&location, operator).json();
    eprintln!("the job when the signal is sent: {job}");
    location
}

fn cut_close(store: Store, signal: i32) {
    let (store, operator) = loaded(store, EVENTS);
    let server = Serve::start(&store, &[]);
    let started = Instant::now();
    let location = start_close(&server, &operator);
    let status = match signal {
        libc::SIGKILL => {
            server.kill();
            None
        }
        _ => {
            server.signal(signal);
            Some(server.wait_exit().0)
        }
    };
    eprintln!("the server ended {:?} after the close started", started.elapsed());
    if let Some(status) = status {
        assert!(status.success(), "serve did not exit 0 on SIGTERM: {status}");
    }

    // Nothing, or the whole close; and the store checks out.
    let cut = october(&store);
    eprintln!("statements of 2026-10 stored: {}", cut.len());
    assert!(cut.is_empty() || cut.len() == 2, "{cut:?}");
    store.assert_audit_verifies();

    // The restarted server reads the job as running only until no process has
    // reported it for a while (app::jobs::STALE_SECONDS, 20 s), never for ever.
    let server = Serve::start(&store, &[]);
    let restarted = Instant::now();
    let job = loop {
        let job = server.get(&location, &operator).json();
        if job["state"] != "running" {
            break job;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(40),
            "still running after a restart: {job}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    eprintln!(
        "after the restart, the job reads {} after {:?}",
        job["state"],
        restarted.elapsed()
    );
    match job["state"].as_str().unwrap() {
        "done" => {
            assert_eq!(cut.len(), 2, "a done job's close is stored: {job}");
            let answered: Vec<&str> = job["result"]["statements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["statement_id"].as_str().unwrap())
                .collect();
            let stored: Vec<&str> = cut.iter().map(|(id, _)| id.as_str()).collect();
            assert_eq!(answered, stored);
        }
        "interrupted" => {
            assert_eq!(job["result"]["error"]["code"], "interrupted", "{job}");
            assert_eq!(job["progress"], Value::Null, "{job}");
        }
        other => panic!("the job reads {other} after the restart: {job}"),
    }
    if signal == libc::SIGTERM {
        // The server finishes its jobs before it exits.
        assert_eq!(job["state"], "done", "{job}");
    }

    // Closing again closes (nothing was stored) or returns what was (closing nothing anew).
    let again = server.post(CLOSE, &operator, "application/json", Vec::new());
    assert_eq!(again.status, 200, "{}", again.text());
    let again = again.json();
    let after = october(&store);
    assert_eq!(after.len(), 2, "{again}");
    if !cut.is_empty() {
        assert_eq!(after, cut, "the stored statements are returned, not closed anew");
        assert_eq!(again["contracts"], Value::Array(Vec::new()), "{again}");
    }
    let (status, _) = server.terminate();
    assert!(status.success());
    store.assert_audit_verifies();
}

#[test]
fn sigkill_during_a_close_job_leaves_nothing_or_the_whole_close() {
    cut_close(Store::sqlite("close-kill"), libc::SIGKILL);
}

#[test]
fn sigterm_during_a_close_job_lets_it_end_whole() {
    cut_close(Store::sqlite("close-term"), libc::SIGTERM);
}

#[test]
fn sigkill_during_a_close_job_leaves_nothing_or_the_whole_close_on_postgresql() {
    if let Some(store) = Store::postgres("close_kill") {
        cut_close(store, libc::SIGKILL);
    }
}

#[test]
fn sigterm_during_a_close_job_lets_it_end_whole_on_postgresql() {
    if let Some(store) = Store::postgres("close_term") {
        cut_close(store, libc::SIGTERM);
    }
}

/// Two processes on one PostgreSQL database: a close job started on one is read on
/// the other as running (never interrupted), then as it ended, the same answer.
#[test]
fn a_close_job_on_one_process_is_read_on_another_on_postgresql() {
    let Some(store) = Store::postgres("close_two") else {
        return;
    };
    let (store, operator) = loaded(store, EVENTS / 2);
    let a = Serve::start(&store, &[]);
    let b = Serve::start(&store, &[]);
    let location = start_close(&a, &operator);
    let started = Instant::now();
    let mut seen = Vec::new();
    let job = loop {
        let answer = b.get(&location, &operator);
        assert_eq!(answer.status, 200, "{}", answer.text());
        let job = answer.json();
        let state = job["state"].as_str().unwrap().to_string();
        if seen.last() != Some(&state) {
            seen.push(state.clone());
        }
        if state != "running" {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{job}");
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("states read on the other process: {seen:?}");
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(a.get(&location, &operator).body, b.get(&location, &operator).body);
    assert_eq!(october(&store).len(), 2);
}

#[test]
fn a_close_job_polled_until_it_ends_shows_its_progress() {
    let (store, operator) = loaded(Store::sqlite("close-poll"), EVENTS);
    let server = Serve::start(&store, &[]);
    let location = start_close(&server, &operator);
    let started = Instant::now();
    let mut phases = Vec::new();
    let job = loop {
        let answer = server.get(&location, &operator);
        assert_eq!(answer.status, 200, "{}", answer.text());
        let job = answer.json();
        if job["state"] != "running" {
            break job;
        }
        if let Some(phase) = job["progress"]["phase"].as_str() {
            if phases.last().map(String::as_str) != Some(phase) {
                phases.push(phase.to_string());
            }
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{job}");
        // Well within the token's rate limit (100 requests a second).
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!("phases seen: {phases:?}; the job: {:.300}", job.to_string());
    assert_eq!(job["state"], "done", "{job}");
    // The phases come in the close's order (some may pass between two reads).
    let order = ["reading", "rating", "committing"];
    let ranks: Vec<usize> = phases
        .iter()
        .map(|p| order.iter().position(|o| o == p).unwrap_or_else(|| panic!("{p}")))
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{phases:?}");
}
