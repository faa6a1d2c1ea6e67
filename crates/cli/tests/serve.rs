//! `revshare serve` as the parties reach it: the real binary over TCP (api.md). Two
//! processes on one PostgreSQL database; SIGTERM and SIGKILL in the middle of a
//! stream of batches (nothing acknowledged lost, nothing half-stored, the audit chain
//! whole); the logs (JSON lines, no secret, token or customer reference); /metrics;
//! the limits; bad input answered with a stable code and a message that names the
//! problem; and random requests that never cause a 500 or a dropped connection and,
//! when refused, store nothing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{batch, event, event_id, stored_events, token_id, token_secret, Request, Response, Serve, Store};
use proptest::prelude::*;
use serde_json::json;

const NDJSON: &str = "application/x-ndjson";

fn delete(server: &Serve, path: &str, token: &str) -> Response {
    Request::new("DELETE", path).bearer(token).send(server.address).unwrap()
}

/// A POST without a body or content type (closes, contribution steps).
fn post_empty(server: &Serve, path: &str, token: &str) -> Response {
    Request::post(path).bearer(token).send(server.address).unwrap()
}

#[track_caller]
fn assert_ok(response: &Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status, status, "{}", response.text());
    response.json()
}

// ---- 1. two processes, one PostgreSQL database ----

#[test]
fn two_serve_processes_on_one_postgresql_database_serve_the_same_data() {
    let Some(store) = Store::postgres("two") else { return };
    store.setup();
    let host = store.token("acme-cloud", "host");
    let operator = store.token("ops", "operator");
    let a = Serve::start(&store, &[]);
    let b = Serve::start(&store, &[]);

    // A batch posted to A is there for B, before and after a close on B.
    let outcome = assert_ok(&a.post("/v1/events", &host, NDJSON, batch("two", 120)), 200);
    assert_eq!(outcome, json!({"accepted": 120, "duplicates": 0, "rejected": []}));
    let locate = "/v1/events/locate?source=acme-cloud/us&id=two-00007";
    let before = assert_ok(&b.get(locate, &host), 200);
    assert_eq!(before["host"], "acme-cloud", "{before}");
    assert_eq!(before["places"], json!([]), "{before}");
    // B takes the same batch as duplicates: the idempotency of usage is the store's.
    let again = assert_ok(&b.post("/v1/events", &host, NDJSON, batch("two", 120)), 200);
    assert_eq!(again, json!({"accepted": 0, "duplicates": 120, "rejected": []}));

    let closed = assert_ok(
        &post_empty(&b, "/v1/periods/2026-10/close?contract=acme-llama", &operator),
        200,
    );
    assert_eq!(closed["statements"].as_array().unwrap().len(), 1, "{closed}");
    let listed = assert_ok(&a.get("/v1/statements?contract=acme-llama", &host), 200);
    assert_eq!(listed["items"][0]["statement_id"], "acme-llama/2026-10", "{listed}");
    assert_eq!(listed["items"][0]["events"], 120, "{listed}");
    for server in [&a, &b] {
        let after = assert_ok(&server.get(locate, &operator), 200);
        let places = after["places"].as_array().unwrap();
        assert_eq!(places.len(), 1, "{after}");
        assert_eq!(places[0]["statement_id"], "acme-llama/2026-10");
        assert_eq!(places[0]["counted"], true);
        // The signed statement is the same stored bytes from both.
        let statement = "/v1/statements/acme-llama/2026-10";
        assert_eq!(server.get(statement, &host).body, a.get(statement, &operator).body);
    }

    // An Idempotency-Key used on A is known to B (scoped to the token, not the process).
    let party = |server: &Serve, body: &str| {
        Request::post("/v1/parties")
            .bearer(&operator)
            .header("Idempotency-Key", "two-processes-1")
            .body("application/json", body)
            .send(server.address)
            .unwrap()
    };
    let first = party(&a, r#"{"id":"newco"}"#);
    assert_eq!(first.status, 201, "{}", first.text());
    let replayed = party(&b, r#"{"id":"newco"}"#);
    assert_eq!((replayed.status, &replayed.body), (201, &first.body));
    party(&b, r#"{"id":"other"}"#).assert_error(409, "idempotency_conflict", "two-processes-1");

    // A token revoked through B's API is refused by A on its very next request.
    let second = store.token("acme-cloud", "host");
    assert_ok(&a.get("/v1/me", &second), 200);
    let revoked = assert_ok(
        &delete(&b, &format!("/v1/tokens/{}", token_id(&second)), &operator),
        200,
    );
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let refused = a.get("/v1/me", &second);
    refused.assert_error(401, "unauthenticated", "token");
    assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
    a.post("/v1/events", &second, NDJSON, batch("late", 3))
        .assert_error(401, "unauthenticated", "token");
    // Also where the token is read together with what it asks for (a statement).
    a.get("/v1/statements/acme-llama/2026-10", &second)
        .assert_error(401, "unauthenticated", "token");

    // And one revoked with the CLI, while both serve.
    let third = store.token("acme-cloud", "host");
    assert_ok(&a.get("/v1/me", &third), 200);
    assert_ok(&b.get("/v1/me", &third), 200);
    store.run(&["token", "revoke", token_id(&third)]);
    a.get("/v1/me", &third).assert_error(401, "unauthenticated", "token");
    b.get("/v1/me", &third).assert_error(401, "unauthenticated", "token");
    // The tokens still valid are unaffected.
    assert_ok(&a.get("/v1/me", &host), 200);

    for server in [a, b] {
        let (status, logs) = server.terminate();
        assert!(status.success(), "{status}: {}", logs.join("\n"));
    }
    store.assert_audit_verifies();
}

/// PostgreSQL text cannot hold U+0000, which JSON can carry: an event holding one is
/// rejected alone (the batch's other events stored), any other request holding one
/// is a 400 that names it, never a 503 (the store is not unavailable).
#[test]
fn text_with_a_nul_character_is_refused_by_name_on_postgresql() {
    let Some(store) = Store::postgres("nul") else { return };
    store.setup();
    let host = store.token("acme-cloud", "host");
    let operator = store.token("ops", "operator");
    let server = Serve::start(&store, &[]);
    let with = |field: &str, value: &str| {
        let mut e: serde_json::Value = serde_json::from_str(&event("nul-1", "customer", 1)).unwrap();
        match field.strip_prefix("data.") {
            Some(inner) => e["data"][inner] = json!(value),
            None => e[field] = json!(value),
        }
        e.to_string()
    };
    let body = [
        with("id", "nul\u{0}id"),
        with("source", "acme-cloud/\u{0}"),
        with("data.model", "llama-3.1-8b\u{0}"),
        event("nul-ok", "c\u{0}ustomer", 1),
    ]
    .join("\n");
    let outcome = assert_ok(&server.post("/v1/events", &host, NDJSON, body), 200);
    assert_eq!(outcome["accepted"], 1, "{outcome}");
    let rejected = outcome["rejected"].as_array().unwrap();
    for (n, field) in ["id", "source", "data.model"].into_iter().enumerate() {
        assert_eq!(rejected[n]["index"], n, "{outcome}");
        assert_eq!(rejected[n]["code"], "invalid_field", "{outcome}");
        assert!(
            rejected[n]["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}: ")),
            "{outcome}"
        );
    }
    for path in [
        "/v1/statements/%00/2026-10",
        "/v1/events/locate?source=%00&id=x",
        "/v1/audit/verify/%00",
    ] {
        server
            .get(path, &operator)
            .assert_error(400, "invalid_request", "U+0000");
    }
    delete(&server, "/v1/tokens/%00", &operator).assert_error(400, "invalid_request", "U+0000");
    for (path, body) in [
        (
            "/v1/events/void",
            r#"{"source":"acme-cloud/us","id":"nul-ok","reason":"nul\u0000"}"#,
        ),
        ("/v1/parties", r#"{"id":"nul-party","name":"Nul\u0000"}"#),
        (
            "/v1/contributions",
            r#"{"contract":"acme-llama","by":"host","kind":"update","date":"2026-10-01","reference":"r\u0000"}"#,
        ),
    ] {
        server
            .post(path, &operator, "application/json", body)
            .assert_error(400, "invalid_request", "U+0000");
    }
    let (status, logs) = server.terminate();
    assert!(status.success(), "{}", logs.join("\n"));
    store.assert_audit_verifies();
}

// ---- 2 and 3. SIGTERM and SIGKILL in the middle of a stream of batches ----

/// Events in each batch of the stream.
const STREAM_BATCH: usize = 1000;

#[derive(Debug)]
enum Posted {
    /// Answered 200 with this outcome.
    Acknowledged(serde_json::Value),
    /// Answered with another status.
    Refused(u16, String),
    /// No answer (refused or dropped connection).
    Unanswered(String),
}

/// Posts unique batches of `STREAM_BATCH` events from `clients` threads until the
/// server stops answering; `signal` runs (once) after `acknowledged` batches were
/// stored. Every batch posted, by tag.
fn stream(
    server: &Serve,
    token: &str,
    prefix: &str,
    clients: usize,
    acknowledged: usize,
    signal: impl FnOnce(),
) -> BTreeMap<String, Posted> {
    let posted = Mutex::new(BTreeMap::new());
    let acks = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let address = server.address;
    std::thread::scope(|scope| {
        for client in 0..clients {
            let (posted, acks, stop) = (&posted, &acks, &stop);
            scope.spawn(move || {
                let started = Instant::now();
                for n in 0.. {
                    if stop.load(Ordering::SeqCst) || started.elapsed() > Duration::from_secs(60) {
                        break;
                    }
                    let tag = format!("{prefix}{client}b{n:04}");
                    let answer = Request::post("/v1/events")
                        .bearer(token)
                        .body(NDJSON, batch(&tag, STREAM_BATCH))
                        .send(address);
                    let (result, end) = match answer {
                        Ok(r) if r.status == 200 => {
                            acks.fetch_add(1, Ordering::SeqCst);
                            (Posted::Acknowledged(r.json()), false)
                        }
                        Ok(r) => (Posted::Refused(r.status, r.text()), false),
                        Err(e) => (Posted::Unanswered(e.to_string()), true),
                    };
                    posted.lock().unwrap().insert(tag, result);
                    if end {
                        break;
                    }
                }
            });
        }
        let started = Instant::now();
        while acks.load(Ordering::SeqCst) < acknowledged {
            assert!(started.elapsed() < Duration::from_secs(60), "the stream is too slow");
            std::thread::sleep(Duration::from_millis(5));
        }
        signal();
        // The clients end when the server stops answering; a safety net besides.
        let waited = Instant::now();
        while waited.elapsed() < Duration::from_secs(30)
            && posted
                .lock()
                .unwrap()
                .values()
                .filter(|p| matches!(p, Posted::Unanswered(_)))
                .count()
                < clients
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::SeqCst);
    });
    posted.into_inner().unwrap()
}

/// Checks a SQLite store after the stream: every acknowledged batch stored whole,
/// no batch stored in part, the events and their segments agree. The tags of the
/// batches stored.
fn check_stream(store: &Store, posted: &BTreeMap<String, Posted>) -> BTreeSet<String> {
    let connection = store.sqlite_connection();
    let mut stored = BTreeSet::new();
    for (tag, result) in posted {
        let count = stored_events(&connection, tag);
        assert!(
            count == 0 || count == STREAM_BATCH as u64,
            "batch {tag} is half-stored: {count} of {STREAM_BATCH} events ({result:?})"
        );
        if let Posted::Acknowledged(outcome) = result {
            assert_eq!(
                outcome,
                &json!({"accepted": STREAM_BATCH, "duplicates": 0, "rejected": []}),
                "{tag}"
            );
            assert_eq!(
                count, STREAM_BATCH as u64,
                "batch {tag} was acknowledged but is not stored"
            );
        }
        if count > 0 {
            stored.insert(tag.clone());
        }
        if !matches!(result, Posted::Acknowledged(_)) {
            eprintln!("{tag} not acknowledged, {count} events stored");
        }
    }
    let keys: i64 = connection
        .query_row("SELECT COUNT(*) FROM event_keys", [], |r| r.get(0))
        .unwrap();
    let in_segments: i64 = connection
        .query_row("SELECT COALESCE(SUM(count), 0) FROM segments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(keys, in_segments, "event keys and segment counts disagree");
    assert_eq!(keys as usize, stored.len() * STREAM_BATCH);
    stored
}

fn summary(posted: &BTreeMap<String, Posted>) -> (usize, usize, usize) {
    let acknowledged = posted.values().filter(|p| matches!(p, Posted::Acknowledged(_))).count();
    let refused = posted.values().filter(|p| matches!(p, Posted::Refused(..))).count();
    for (tag, result) in posted {
        if let Posted::Unanswered(why) = result {
            eprintln!("unanswered {tag}: {why}");
        }
    }
    (acknowledged, refused, posted.len() - acknowledged - refused)
}

#[test]
fn sigterm_during_a_stream_of_batches_keeps_every_acknowledged_batch_whole() {
    let store = Store::sqlite("sigterm");
    store.setup();
    let host = store.token("acme-cloud", "host");
    let server = Serve::start(&store, &["--writers", "2"]);
    // Besides the stream, one batch surely in flight when the signal comes: its
    // head and half its body are sent before, the rest after.
    let (half_sent, signalled) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
    let in_flight = batch("flight", STREAM_BATCH);
    let (address, token) = (server.address, host.clone());
    let slow = std::thread::spawn(move || {
        Request::post("/v1/events")
            .bearer(&token)
            .body(NDJSON, in_flight.clone())
            .send_split(address, in_flight.len() / 2, || {
                half_sent.0.send(()).unwrap();
                signalled.1.recv().unwrap();
                std::thread::sleep(Duration::from_millis(300));
            })
    });
    half_sent.1.recv().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let posted = stream(&server, &host, "term", 3, 6, || {
        server.signal(libc::SIGTERM);
        signalled.0.send(()).unwrap();
    });
    let slow = slow
        .join()
        .unwrap()
        .expect("the batch in flight at SIGTERM is answered");
    assert_eq!(
        assert_ok(&slow, 200),
        json!({"accepted": STREAM_BATCH, "duplicates": 0, "rejected": []})
    );
    let mut posted = posted;
    posted.insert("flight".into(), Posted::Acknowledged(slow.json()));
    let (acknowledged, refused, unanswered) = summary(&posted);
    eprintln!("SIGTERM: {acknowledged} batches acknowledged, {refused} refused, {unanswered} unanswered");
    for result in posted.values() {
        if let Posted::Refused(status, text) = result {
            // Only a request that came during the shutdown may be refused, and then
            // as unavailable, never as a failure.
            assert_eq!(*status, 503, "{text}");
        }
    }
    let (status, logs) = server.wait_exit();
    assert!(
        status.success(),
        "serve did not exit 0 on SIGTERM: {status}\n{}",
        logs.join("\n")
    );
    assert!(logs.last().is_some_and(|l| l.contains("stopped")), "{logs:?}");
    let stored = check_stream(&store, &posted);
    assert!(stored.len() >= acknowledged);
    store.assert_audit_verifies();
}

#[test]
fn sigterm_right_after_start_is_a_clean_stop() {
    let store = Store::sqlite("early");
    store.setup();
    for _ in 0..40 {
        let server = Serve::start(&store, &[]);
        let (status, logs) = server.terminate();
        assert!(status.success(), "{status}: {logs:?}");
    }
}

#[test]
fn sigkill_during_a_stream_then_restart_keeps_acknowledged_batches_and_takes_the_rest() {
    let store = Store::sqlite("sigkill");
    store.setup();
    let host = store.token("acme-cloud", "host");
    let server = Serve::start(&store, &["--writers", "2"]);
    let posted = stream(&server, &host, "kill", 3, 6, || server.signal(libc::SIGKILL));
    let (acknowledged, refused, unanswered) = summary(&posted);
    eprintln!("SIGKILL: {acknowledged} batches acknowledged, {refused} refused, {unanswered} unanswered");
    assert_eq!(refused, 0, "{posted:?}");
    drop(server);
    let stored = check_stream(&store, &posted);
    store.assert_audit_verifies();

    // Restarted on the same store: each batch not acknowledged is posted again and
    // taken (its events new, or all duplicates if they were stored before the kill).
    let server = Serve::start(&store, &[]);
    for (tag, result) in &posted {
        let again = assert_ok(&server.post("/v1/events", &host, NDJSON, batch(tag, STREAM_BATCH)), 200);
        let expected = if stored.contains(tag) {
            json!({"accepted": 0, "duplicates": STREAM_BATCH, "rejected": []})
        } else {
            json!({"accepted": STREAM_BATCH, "duplicates": 0, "rejected": []})
        };
        assert_eq!(again, expected, "{tag} ({result:?})");
    }
    let (status, _) = server.terminate();
    assert!(status.success());
    let all: BTreeMap<String, Posted> = posted
        .keys()
        .map(|tag| {
            (
                tag.clone(),
                Posted::Acknowledged(json!({"accepted": STREAM_BATCH, "duplicates": 0, "rejected": []})),
            )
        })
        .collect();
    assert_eq!(check_stream(&store, &all).len(), posted.len());
    store.assert_audit_verifies();
}

// ---- 4 and 5. logs and metrics ----

/// What a session used and posted, to look for in logs and metrics.
struct Session {
    tokens: Vec<String>,
    customers: Vec<String>,
}

/// A session of requests from several parties: events with customer references
/// (accepted, duplicates and rejected), a close, reads, refusals, a bad token, a
/// revoked one.
fn session(store: &Store, server: &Serve) -> Session {
    let host = store.token("acme-cloud", "host");
    let operator = store.token("ops", "operator");
    let licensor = store.token("meta", "licensor");
    let revoked = store.token("acme-cloud", "host");
    let junk = format!("rs_0123456789ab_{}", "Zq9".repeat(14) + "x");
    let mut customers: Vec<String> = (0..37).map(|i| format!("cust-logs-{i}")).collect();
    assert_ok(&server.post("/v1/events", &host, NDJSON, batch("logs", 200)), 200);
    assert_ok(&server.post("/v1/events", &host, NDJSON, batch("logs", 200)), 200);
    // Rejected events carrying customer references: content, another host, a conflict.
    let secret_customer = "very-private-customer-4711".to_string();
    let mut prompt: serde_json::Value = serde_json::from_str(&event("logs-bad-1", &secret_customer, 1)).unwrap();
    prompt["data"]["prompt"] = json!("tell me a secret");
    let mut other: serde_json::Value = serde_json::from_str(&event("logs-bad-2", "other-private-customer", 1)).unwrap();
    other["data"]["host"] = json!("orbit-compute");
    let conflict = event(&event_id("logs", 3), "conflicting-private-customer", 3);
    customers.extend(
        [
            "very-private-customer-4711",
            "other-private-customer",
            "conflicting-private-customer",
        ]
        .map(String::from),
    );
    let body = format!("{prompt}\n{other}\n{conflict}\nnot json with private-in-broken-line\n");
    customers.push("private-in-broken-line".into());
    let outcome = assert_ok(&server.post("/v1/events", &host, NDJSON, body), 200);
    assert_eq!(outcome["rejected"].as_array().unwrap().len(), 4, "{outcome}");
    // A JSON array batch too.
    let array = format!("[{}]", event("logs-array-1", "array-private-customer", 2));
    customers.push("array-private-customer".into());
    assert_ok(&server.post("/v1/events", &host, "application/json", array), 200);

    assert_ok(&server.get("/v1/me", &host), 200);
    assert_ok(&server.get("/v1/contracts", &licensor), 200);
    assert_ok(
        &server.get("/v1/events/locate?source=acme-cloud/us&id=logs-00001", &operator),
        200,
    );
    assert_ok(
        &post_empty(server, "/v1/periods/2026-10/close?contract=acme-llama", &operator),
        200,
    );
    assert_ok(&server.get("/v1/statements/acme-llama/2026-10", &licensor), 200);
    // Refusals: a forbidden step, a junk token, a revoked one, none, a token in the
    // query string and in an unknown path.
    server
        .post("/v1/events", &operator, NDJSON, batch("forbidden", 2))
        .assert_error(403, "forbidden", "");
    server
        .get("/v1/me", &junk)
        .assert_error(401, "unauthenticated", "token");
    store.run(&["token", "revoke", token_id(&revoked)]);
    server
        .get("/v1/me", &revoked)
        .assert_error(401, "unauthenticated", "token");
    Request::get("/v1/me")
        .send(server.address)
        .unwrap()
        .assert_error(401, "unauthenticated", "");
    let path = format!("/v1/contracts?token={host}&customer=cust-logs-5");
    server.get(&path, &host).assert_error(400, "invalid_request", "token");
    let path = format!("/v1/nothing/{}/cust-logs-6", token_secret(&operator));
    server.get(&path, &operator).assert_error(404, "not_found", "");
    // Bearer with the token in another case and with spaces around.
    let _ = Request::get("/v1/me")
        .header("Authorization", format!("bearer  {host} "))
        .send(server.address)
        .unwrap();
    Session {
        tokens: vec![host, operator, licensor, revoked, junk],
        customers,
    }
}

#[test]
fn logs_are_json_lines_without_secrets_tokens_or_customer_references() {
    let store = Store::sqlite("logs");
    store.setup();
    let server = Serve::start(&store, &[]);
    let session = session(&store, &server);
    let (status, logs) = server.terminate();
    assert!(status.success());
    let mut requests = 0;
    let mut token_ids = BTreeSet::new();
    for line in &logs {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line}"));
        let object = value.as_object().unwrap_or_else(|| panic!("not a JSON object: {line}"));
        assert!(
            object
                .get("time")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t.ends_with('Z')),
            "{line}"
        );
        if object.contains_key("request_id") {
            requests += 1;
            assert!(object["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{line}");
            assert!(object["token_id"].is_null() || object["token_id"].is_string(), "{line}");
            assert!(
                object["route"]
                    .as_str()
                    .is_some_and(|r| r.starts_with('/') || r == "unmatched"),
                "{line}"
            );
            assert!(
                object["status"].as_u64().is_some_and(|s| (100..600).contains(&s)),
                "{line}"
            );
            assert!(
                object
                    .iter()
                    .any(|(k, v)| k.starts_with("latency") && v.as_f64().is_some_and(|l| l >= 0.0)),
                "{line}"
            );
            if let Some(id) = object["token_id"].as_str() {
                token_ids.insert(id.to_string());
            }
        }
    }
    assert!(requests >= 15, "{requests} request lines: {logs:#?}");
    // Each real token's id is there (what the logs are for), never more of it.
    for token in &session.tokens[..4] {
        assert!(token_ids.contains(token_id(token)), "{token_ids:?}");
    }
    let all = logs.join("\n");
    for token in &session.tokens {
        assert!(!all.contains(token.as_str()), "a whole token is in the logs");
        assert!(!all.contains(token_secret(token)), "a token's secret is in the logs");
    }
    for customer in &session.customers {
        assert!(
            !all.contains(customer.as_str()),
            "customer reference {customer} is in the logs"
        );
    }
    assert!(!all.contains("tell me a secret"));
}

fn metric<'a>(
    scrape: &'a prometheus_parse::Scrape,
    name: &str,
    labels: &[(&str, &str)],
) -> Vec<&'a prometheus_parse::Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect()
}

fn counter(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    metric(scrape, name, labels)
        .iter()
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{name} is not a counter: {other:?}"),
        })
        .sum()
}

#[test]
fn metrics_parse_and_count_requests_latency_events_and_closes_without_party_data() {
    let store = Store::sqlite("metrics");
    store.setup();
    let server = Serve::start(&store, &[]);
    for probe in ["/healthz", "/readyz"] {
        let answer = Request::get(probe).send(server.address).unwrap();
        assert_eq!(answer.status, 200, "{probe}: {}", answer.text());
    }
    let session = session(&store, &server);
    let answer = Request::get("/metrics").send(server.address).unwrap();
    assert_eq!(answer.status, 200);
    assert!(answer
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain")));
    let text = answer.text();
    // Every sample line is `name{labels} value`.
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (_, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(value.parse::<f64>().is_ok() || value == "+Inf", "{line}");
    }
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();

    let requests = "revshare_http_requests_total";
    assert!(
        counter(&scrape, requests, &[("route", "/v1/events"), ("status", "200")]) >= 4.0,
        "{text}"
    );
    assert!(
        counter(&scrape, requests, &[("route", "/v1/events"), ("status", "403")]) >= 1.0,
        "{text}"
    );
    assert!(
        counter(&scrape, requests, &[("route", "/v1/me"), ("status", "401")]) >= 3.0,
        "{text}"
    );
    assert!(
        counter(&scrape, requests, &[("route", "/healthz"), ("status", "200")]) >= 1.0,
        "{text}"
    );
    assert!(
        counter(&scrape, requests, &[("route", "unmatched"), ("status", "404")]) >= 1.0,
        "{text}"
    );
    let latency = metric(
        &scrape,
        "revshare_http_request_duration_seconds",
        &[("route", "/v1/events")],
    );
    assert_eq!(latency.len(), 1, "{text}");
    match &latency[0].value {
        prometheus_parse::Value::Histogram(buckets) => {
            assert!(buckets.len() > 5);
            assert!(
                buckets.iter().any(|b| b.less_than.is_infinite() && b.count >= 5.0),
                "{buckets:?}"
            );
        }
        other => panic!("not a histogram: {other:?}"),
    }
    assert!(text.contains("revshare_http_request_duration_seconds_sum{route=\"/v1/events\"}"));
    let events = "revshare_events_total";
    assert_eq!(counter(&scrape, events, &[("outcome", "accepted")]), 201.0, "{text}");
    assert_eq!(counter(&scrape, events, &[("outcome", "duplicate")]), 200.0, "{text}");
    assert_eq!(counter(&scrape, events, &[("outcome", "rejected")]), 4.0, "{text}");
    assert_eq!(counter(&scrape, "revshare_statements_closed_total", &[]), 1.0, "{text}");

    // No party data: labels are routes, statuses, outcomes and buckets only.
    for sample in &scrape.samples {
        for (name, value) in sample.labels.iter() {
            assert!(
                ["route", "status", "outcome", "le"].contains(&name.as_str()),
                "label {name}={value}"
            );
            if name == "route" {
                assert!(value.starts_with('/') || value == "unmatched", "{value}");
                assert!(!value.contains("acme") && !value.contains("2026"), "{value}");
            }
        }
    }
    for party in ["acme-cloud", "meta", "ops", "orbit"] {
        assert!(!text.contains(party), "party {party} in /metrics");
    }
    for token in &session.tokens {
        assert!(!text.contains(token_id(token)), "a token id in /metrics");
    }
    assert!(!text.contains("cust-"));
    let (status, _) = server.terminate();
    assert!(status.success());
}

// ---- 6. limits ----

#[test]
fn bodies_and_batches_over_their_limits_are_413_json() {
    let store = Store::sqlite("limits");
    store.setup();
    let host = store.token("acme-cloud", "host");
    let operator = store.token("ops", "operator");
    let server = Serve::start(&store, &[]);

    // A usage batch over 16 MiB, in both content types.
    let over = vec![b' '; 16 * 1024 * 1024 + 1];
    for content_type in [NDJSON, "application/json"] {
        server
            .post("/v1/events", &host, content_type, over.clone())
            .assert_error(413, "payload_too_large", "");
    }
    // Any other body over 1 MiB: JSON, TOML, CSV, and one no endpoint reads.
    let over = vec![b' '; 1024 * 1024 + 1];
    for (path, content_type) in [
        ("/v1/parties", "application/json"),
        ("/v1/tokens", "application/json"),
        ("/v1/events/void", "application/json"),
        ("/v1/contracts", "application/toml"),
        ("/v1/fx", "text/csv"),
        ("/v1/models", "text/csv"),
        ("/v1/periods/2026-10/close", "application/json"),
    ] {
        let answer = server.post(path, &operator, content_type, over.clone());
        answer.assert_error(413, "payload_too_large", "");
    }
    // At the limit is read (and refused for what it says).
    let mut at = vec![b' '; 1024 * 1024 - 2];
    at.extend_from_slice(b"{}");
    server
        .post("/v1/parties", &operator, "application/json", at)
        .assert_error(400, "invalid_request", "id");

    // 10,001 events: refused whole, nothing stored; 10,000 are taken.
    let too_many = batch("many", 10_001);
    assert!(too_many.len() < 16 * 1024 * 1024);
    server
        .post("/v1/events", &host, NDJSON, too_many.clone())
        .assert_error(413, "payload_too_large", "10000");
    let array = format!("[{}]", too_many.trim_end().replace('\n', ","));
    server
        .post("/v1/events", &host, "application/json", array)
        .assert_error(413, "payload_too_large", "10000");
    assert_eq!(stored_events(&store.sqlite_connection(), "many"), 0);
    let outcome = assert_ok(&server.post("/v1/events", &host, NDJSON, batch("many", 10_000)), 200);
    assert_eq!(outcome["accepted"], 10_000);
    let (status, _) = server.terminate();
    assert!(status.success());
}

#[test]
fn the_rate_limit_is_per_token_with_retry_after() {
    let store = Store::sqlite("rate");
    store.setup();
    let first = store.token("acme-cloud", "host");
    let second = store.token("acme-cloud", "host");
    let server = Serve::start(&store, &["--rate-limit", "5", "--burst", "5"]);
    let started = Instant::now();
    let answers: Vec<Response> = (0..20).map(|_| server.get("/v1/me", &first)).collect();
    let elapsed = started.elapsed();
    let ok = answers.iter().filter(|a| a.status == 200).count();
    let limited: Vec<&Response> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!(ok + limited.len(), 20);
    // The burst of 5, and one more per 200 ms that passed.
    assert!(
        ok >= 5 && ok as f64 <= 6.0 + elapsed.as_secs_f64() * 5.0,
        "{ok} answered in {elapsed:?}"
    );
    assert!(!limited.is_empty());
    for answer in &limited {
        answer.assert_error(429, "rate_limited", "");
        let wait: u64 = answer.header("retry-after").expect("Retry-After").parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
    }
    // Another token is not affected, nor are the probes.
    assert_ok(&server.get("/v1/me", &second), 200);
    assert_eq!(Request::get("/healthz").send(server.address).unwrap().status, 200);
    // After the wait, the first token is served again.
    std::thread::sleep(Duration::from_millis(1100));
    assert_ok(&server.get("/v1/me", &first), 200);
    let (status, _) = server.terminate();
    assert!(status.success());
}

// ---- 7. bad input ----

#[test]
fn bad_input_is_answered_with_its_code_and_a_message_naming_it() {
    let store = Store::sqlite("bad");
    store.setup();
    let host = store.token("acme-cloud", "host");
    let operator = store.token("ops", "operator");
    let server = Serve::start(&store, &[]);
    assert_ok(&server.post("/v1/events", &host, NDJSON, batch("bad", 5)), 200);
    assert_ok(&post_empty(&server, "/v1/periods/2026-10/close", &operator), 200);
    let op = operator.as_str();

    // Malformed JSON.
    server
        .post("/v1/parties", op, "application/json", r#"{"id": "#)
        .assert_error(400, "invalid_request", "body");
    server
        .post("/v1/events/void", op, "application/json", "[1,")
        .assert_error(400, "invalid_request", "body");
    server
        .post("/v1/events", &host, "application/json", r#"[{"specversion":"1.0""#)
        .assert_error(400, "invalid_request", "batch");

    // Content types: wrong, missing.
    for (path, wrong) in [
        ("/v1/events", "text/csv"),
        ("/v1/parties", "text/plain"),
        ("/v1/contracts", "application/json"),
        ("/v1/fx", "application/json"),
        ("/v1/models", "application/x-ndjson"),
        ("/v1/tokens", "application/x-www-form-urlencoded"),
    ] {
        server
            .post(path, op, wrong, "x")
            .assert_error(415, "unsupported_media_type", wrong);
        Request::post(path)
            .bearer(if path == "/v1/events" { &host } else { op })
            .raw_body("x")
            .send(server.address)
            .unwrap()
            .assert_error(415, "unsupported_media_type", "Content-Type");
    }

    // Unknown fields, in bodies and queries.
    server
        .post("/v1/parties", op, "application/json", r#"{"id":"p1","nmae":"P"}"#)
        .assert_error(400, "invalid_request", "nmae");
    server
        .post(
            "/v1/tokens",
            op,
            "application/json",
            r#"{"party":"ops","role":"host","scope":"all"}"#,
        )
        .assert_error(400, "invalid_request", "scope");
    server
        .post(
            "/v1/contributions",
            op,
            "application/json",
            r#"{"contract":"acme-llama","by":"host","kind":"update","date":"2026-10-01","amount":1}"#,
        )
        .assert_error(400, "invalid_request", "amount");
    server
        .get("/v1/contracts?bogus=1", op)
        .assert_error(400, "invalid_request", "bogus");
    // Known fields with bad values are named too.
    server
        .post("/v1/tokens", op, "application/json", r#"{"party":"ops","role":"king"}"#)
        .assert_error(400, "invalid_request", "role");
    server
        .post("/v1/parties", op, "application/json", r#"{"id":"Not A Party"}"#)
        .assert_error(400, "invalid_request", "id");

    // Cursors and limits, on lists of the app and of the audit log.
    for list in [
        "/v1/contracts",
        "/v1/parties",
        "/v1/tokens",
        "/v1/statements",
        "/v1/audit/chain",
        "/v1/audit/entries",
    ] {
        for cursor in ["zzz", "cDo", "cDotMQ", "%FF", "cDo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ"] {
            server
                .get(&format!("{list}?cursor={cursor}"), op)
                .assert_error(400, "invalid_request", "cursor");
        }
        for limit in ["0", "1001", "-1", "abc", "1e3", "99999999999999999999999"] {
            server
                .get(&format!("{list}?limit={limit}"), op)
                .assert_error(400, "invalid_request", "limit");
        }
    }
    server
        .get("/v1/audit/chain?after_seq=-1", op)
        .assert_error(400, "invalid_request", "after_seq");
    server
        .get("/v1/audit/chain?after_seq=x", op)
        .assert_error(400, "invalid_request", "after_seq");

    // Periods.
    for bad in ["2026-13", "2026-00", "2026-Q5", "26-10", "x", "2026-10-01"] {
        post_empty(&server, &format!("/v1/periods/{bad}/close"), op).assert_error(400, "invalid_request", bad);
        server
            .get(&format!("/v1/statements?period={bad}"), op)
            .assert_error(400, "invalid_request", bad);
    }
    post_empty(&server, "/v1/periods/2026-10/close?grace_seconds=abc", op).assert_error(
        400,
        "invalid_request",
        "grace_seconds",
    );
    post_empty(&server, "/v1/periods/2026-10/close?dry_run=maybe", op).assert_error(400, "invalid_request", "dry_run");
    post_empty(&server, "/v1/periods/2099-10/close", op).assert_error(409, "too_early", "");

    // Statement ids, proofs, trees.
    server
        .get("/v1/statements/acme-llama/2026-13", op)
        .assert_error(400, "invalid_request", "2026-13");
    server
        .get("/v1/statements/nope/2026-10", op)
        .assert_error(404, "not_found", "");
    server
        .get("/v1/statements/acme-llama/2026-09", op)
        .assert_error(404, "not_found", "");
    server
        .get("/v1/statements/acme-llama", op)
        .assert_error(404, "not_found", "");
    server
        .get("/v1/statements/acme-llama/2026-10/proof", op)
        .assert_error(400, "invalid_request", "source");
    server
        .get(
            "/v1/statements/acme-llama/2026-10/proof?source=acme-cloud/us&id=nope",
            op,
        )
        .assert_error(404, "not_found", "");
    for tree in ["bogus", "prior_period:2026-13", "voided:", "events:x", "prior_period:"] {
        server
            .get(&format!("/v1/statements/acme-llama/2026-10/leaves?tree={tree}"), op)
            .assert_error(400, "invalid_request", "tree");
    }
    server
        .get("/v1/statements/acme-llama/2026-10/leaves", op)
        .assert_error(400, "invalid_request", "tree");
    assert_ok(
        &server.get("/v1/statements/acme-llama/2026-10/leaves?tree=events", op),
        200,
    );
    server
        .get("/v1/contracts/acme-llama?version=x", op)
        .assert_error(400, "invalid_request", "version");
    server.get("/v1/contracts/nope", op).assert_error(404, "not_found", "");
    server
        .get("/v1/events/locate?source=acme-cloud/us", op)
        .assert_error(400, "invalid_request", "id");
    server
        .get("/v1/audit/verify/nope", op)
        .assert_error(404, "not_found", "");
    delete(&server, "/v1/tokens/nope", op).assert_error(404, "not_found", "");

    // Idempotency-Key: the same body replays the first answer byte for byte,
    // another body is a conflict, a bad key is named.
    let keyed = |key: &str, body: &str| {
        Request::post("/v1/parties")
            .bearer(op)
            .header("Idempotency-Key", key)
            .body("application/json", body)
            .send(server.address)
            .unwrap()
    };
    let first = keyed("k-1", r#"{"id":"idem-co","name":"Idem"}"#);
    assert_eq!(first.status, 201, "{}", first.text());
    let again = keyed("k-1", r#"{"id":"idem-co","name":"Idem"}"#);
    assert_eq!(
        (again.status, &again.body, again.header("content-type")),
        (201, &first.body, first.header("content-type"))
    );
    keyed("k-1", r#"{"id":"idem-co","name":"Other"}"#).assert_error(409, "idempotency_conflict", "k-1");
    // A refusal is replayed too, and the key of a refusal still conflicts.
    let refused = keyed("k-2", r#"{"id":"Bad Id"}"#);
    refused.assert_error(400, "invalid_request", "id");
    assert_eq!(keyed("k-2", r#"{"id":"Bad Id"}"#).body, refused.body);
    keyed("k-2", r#"{"id":"good-id"}"#).assert_error(409, "idempotency_conflict", "k-2");
    keyed(&"k".repeat(256), r#"{"id":"long-key"}"#).assert_error(400, "invalid_request", "Idempotency-Key");
    keyed("", r#"{"id":"empty-key"}"#).assert_error(400, "invalid_request", "Idempotency-Key");
    Request::post("/v1/parties")
        .bearer(op)
        .header("Idempotency-Key", b"caf\xc3\xa9")
        .body("application/json", r#"{"id":"utf8-key"}"#)
        .send(server.address)
        .unwrap()
        .assert_error(400, "invalid_request", "Idempotency-Key");
    // The query is part of the request: the same key and body with another query
    // is a conflict, never the first answer (which did something else) replayed.
    let models = |from: &str| {
        Request::post(&format!("/v1/models?from={from}"))
            .bearer(op)
            .header("Idempotency-Key", "k-3")
            .body("text/csv", "pattern,licensor\nllama-*,meta\n")
            .send(server.address)
            .unwrap()
    };
    let first = models("2027-01-01");
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(models("2027-01-01").body, first.body);
    models("2027-02-01").assert_error(409, "idempotency_conflict", "k-3");
    // The key is the token's: another operator token with the same key is fresh.
    let other = store.token("ops", "operator");
    let fresh = Request::post("/v1/parties")
        .bearer(&other)
        .header("Idempotency-Key", "k-1")
        .body("application/json", r#"{"id":"idem-co-2"}"#)
        .send(server.address)
        .unwrap();
    assert_eq!(fresh.status, 201, "{}", fresh.text());

    // Authentication, methods, paths.
    Request::get("/v1/me")
        .send(server.address)
        .unwrap()
        .assert_error(401, "unauthenticated", "bearer");
    for junk in [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        "Bearer rs_",
        "rs_0123456789ab_x",
    ] {
        let answer = Request::get("/v1/me")
            .header("Authorization", junk)
            .send(server.address)
            .unwrap();
        answer.assert_error(401, "unauthenticated", "token");
        assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
    }
    Request::new("PUT", "/v1/parties")
        .bearer(op)
        .send(server.address)
        .unwrap()
        .assert_error(405, "method_not_allowed", "method");
    server.get("/v2/parties", op).assert_error(404, "not_found", "endpoint");

    let (status, logs) = server.terminate();
    assert!(status.success());
    assert!(!logs.iter().any(|l| l.contains("\"status\":500")), "a 500 was answered");
    store.assert_audit_verifies();
}

// ---- the operator's tokens ----

#[test]
fn an_operator_token_is_the_operator() {
    let store = Store::sqlite("operator");
    store.setup();
    let host = store.token("acme-cloud", "host");
    let operator = store.token("ops", "operator");
    let server = Serve::start(&store, &[]);
    assert_ok(&server.post("/v1/events", &host, NDJSON, batch("op", 3)), 200);
    // The operator locates any event, counted or not yet (api.md: locate ✔).
    let located = assert_ok(
        &server.get("/v1/events/locate?source=acme-cloud/us&id=op-00001", &operator),
        200,
    );
    assert_eq!(located["host"], "acme-cloud", "{located}");
    assert_eq!(located["not_counted"][0]["reason"], "open_period", "{located}");
    // It reads every full audit entry, as the chain has them.
    let chain = assert_ok(&server.get("/v1/audit/chain", &operator), 200);
    let entries = assert_ok(&server.get("/v1/audit/entries", &operator), 200);
    assert_eq!(
        entries["items"].as_array().unwrap().len(),
        chain["items"].as_array().unwrap().len(),
        "{entries}"
    );
    // It proposes, accepts and rejects contributions (api.md: ✔ / ✔).
    let proposal = json!({"contract": "acme-llama", "by": "host", "kind": "maintenance", "date": "2026-10-02"});
    let proposed = assert_ok(&server.post_json("/v1/contributions", &operator, &proposal), 201);
    let number = proposed["number"].as_i64().unwrap();
    assert_ok(
        &post_empty(&server, &format!("/v1/contributions/{number}/accept"), &operator),
        200,
    );
    let proposed = assert_ok(&server.post_json("/v1/contributions", &operator, &proposal), 201);
    let number = proposed["number"].as_i64().unwrap();
    assert_ok(
        &post_empty(&server, &format!("/v1/contributions/{number}/reject"), &operator),
        200,
    );
    let (status, _) = server.terminate();
    assert!(status.success());
    store.assert_audit_verifies();
}

// ---- 7b. the guarded first close ----

/// statements.md: a contract's first close that would leave an earlier period of its
/// term unsettled is 409 `settlement_start_required`, naming the period, with the
/// details a client acts on; dry run alike; `?settlement_start=true` confirms; a
/// close that is not the first is unaffected.
fn a_first_close_leaving_a_period_unsettled_is_409_unless_confirmed(store: Store) {
    store.setup();
    let host = store.token("acme-cloud", "host");
    let operator = store.token("ops", "operator");
    let server = Serve::start(&store, &[]);
    let september = event("first-sep", "c-1", 0).replace("2026-10-01T", "2026-09-01T");
    assert_ok(&server.post("/v1/events", &host, NDJSON, batch("first", 10)), 200);
    assert_ok(&server.post("/v1/events", &host, NDJSON, september), 200);

    let details = json!({"period": "2026-10", "contracts": [{"contract": "acme-llama", "earliest": "2026-09",
        "events": 1, "events_from": "2026-09", "minimum_guarantee_from": null}]});
    for path in ["/v1/periods/2026-10/close", "/v1/periods/2026-10/close?dry_run=true"] {
        let refused = post_empty(&server, path, &operator);
        refused.assert_error(409, "settlement_start_required", "leave 2026-09 unsettled");
        let (_, message) = refused.error();
        assert!(message.contains("?settlement_start=true"), "{message}");
        assert!(
            !message.contains("--settlement-start"),
            "the API's own words: {message}"
        );
        assert_eq!(refused.json()["error"]["details"], details, "{path}");
    }
    let listed = assert_ok(&server.get("/v1/statements", &operator), 200);
    assert_eq!(listed["items"], json!([]), "nothing stored");

    let preview = assert_ok(
        &post_empty(
            &server,
            "/v1/periods/2026-10/close?dry_run=true&settlement_start=true",
            &operator,
        ),
        200,
    );
    assert_eq!(preview["contracts"][0]["outside_settlement"], 1, "{preview}");
    let closed = assert_ok(
        &post_empty(&server, "/v1/periods/2026-10/close?settlement_start=true", &operator),
        200,
    );
    assert_eq!(
        closed["statements"][0]["statement_id"], "acme-llama/2026-10",
        "{closed}"
    );
    assert_eq!(closed["statements"][0]["events"]["count"], 10, "{closed}");
    // Not its first close: no confirmation asked.
    let november = assert_ok(
        &post_empty(&server, "/v1/periods/2026-11/close?allow_empty=true", &operator),
        200,
    );
    assert_eq!(
        november["statements"][0]["statement_id"], "acme-llama/2026-11",
        "{november}"
    );
}

#[test]
fn a_first_close_leaving_a_period_unsettled_is_409_unless_confirmed_on_sqlite() {
    a_first_close_leaving_a_period_unsettled_is_409_unless_confirmed(Store::sqlite("firstclose_sqlite"));
}

#[test]
fn a_first_close_leaving_a_period_unsettled_is_409_unless_confirmed_on_postgresql() {
    let Some(store) = Store::postgres("firstclose_pg") else {
        return;
    };
    a_first_close_leaving_a_period_unsettled_is_409_unless_confirmed(store);
}

// ---- 8. random requests ----

/// The POST endpoints, each with a body of the kind it takes (for near-valid ones).
const POSTS: &[(&str, &str)] = &[
    ("/v1/events", "events"),
    ("/v1/events/void", "void"),
    ("/v1/contracts", "toml"),
    ("/v1/fx", "fx"),
    ("/v1/models", "models"),
    ("/v1/models?from=2027-01-01", "models"),
    ("/v1/periods/2026-10/close", "none"),
    ("/v1/periods/2026-10/close?dry_run=true", "none"),
    ("/v1/contributions", "contribution"),
    ("/v1/contributions/1/accept", "none"),
    ("/v1/contributions/1/reject", "none"),
    ("/v1/audit/verify", "none"),
    ("/v1/parties", "party"),
    ("/v1/tokens", "token"),
];

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number)),
        "[ -~]{0,20}".prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
        Just(json!("2026-10-01")),
        Just(json!("acme-cloud")),
        Just(json!("0.001")),
        Just(json!("nul\u{0}inside")),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid body of each kind, to mutate.
fn template(kind: &str) -> serde_json::Value {
    match kind {
        "events" => serde_json::from_str(&event("prop-1", "cust-prop", 1)).unwrap(),
        "void" => json!({"source": "acme-cloud/us", "id": "bad-00001", "reason": "sent twice"}),
        "contribution" => {
            json!({"contract": "acme-llama", "by": "host", "kind": "maintenance", "date": "2026-10-02", "reference": "r"})
        }
        "party" => json!({"id": "prop-party", "name": "Prop"}),
        "token" => json!({"party": "ops", "role": "auditor", "contracts": ["acme-llama"], "expires": "2027-01-01"}),
        _ => json!({}),
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    Remove(usize),
    Replace(usize, serde_json::Value),
    Add(String, serde_json::Value),
    DataField(usize, serde_json::Value),
    AddData(String, serde_json::Value),
    None,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0usize..10).prop_map(Mutation::Remove),
        (0usize..10, json_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        ("[a-z_]{1,12}", json_value()).prop_map(|(k, v)| Mutation::Add(k, v)),
        (0usize..12, json_value()).prop_map(|(i, v)| Mutation::DataField(i, v)),
        (
            prop_oneof![Just("prompt".to_string()), Just("messages".to_string()), "[a-z_]{1,12}"],
            json_value()
        )
            .prop_map(|(k, v)| Mutation::AddData(k, v)),
        Just(Mutation::None),
    ]
}

fn mutate(mut value: serde_json::Value, mutation: &Mutation) -> serde_json::Value {
    fn nth_key(object: &serde_json::Map<String, serde_json::Value>, n: usize) -> Option<String> {
        (!object.is_empty())
            .then(|| object.keys().nth(n % object.len()).cloned())
            .flatten()
    }
    let Some(object) = value.as_object_mut() else {
        return value;
    };
    match mutation {
        Mutation::Remove(n) => {
            if let Some(key) = nth_key(object, *n) {
                object.remove(&key);
            }
        }
        Mutation::Replace(n, v) => {
            if let Some(key) = nth_key(object, *n) {
                object.insert(key, v.clone());
            }
        }
        Mutation::Add(k, v) => {
            object.insert(k.clone(), v.clone());
        }
        Mutation::DataField(n, v) => {
            if let Some(data) = object.get_mut("data").and_then(|d| d.as_object_mut()) {
                if let Some(key) = nth_key(data, *n) {
                    data.insert(key, v.clone());
                }
            }
        }
        Mutation::AddData(k, v) => {
            if let Some(data) = object.get_mut("data").and_then(|d| d.as_object_mut()) {
                data.insert(k.clone(), v.clone());
            }
        }
        Mutation::None => {}
    }
    value
}

/// Text bodies near what CSV and TOML endpoints take, and a mutated JSON one.
fn near_valid(kind: &str, mutations: &[Mutation], text: &str, ids: u32) -> Vec<u8> {
    match kind {
        "fx" => format!("date,from,to,rate\n2026-10-01,EUR,{text},1.08\n").into_bytes(),
        "models" => format!("pattern,licensor\n{text},meta\n").into_bytes(),
        "toml" => std::fs::read_to_string(common::fixture("contracts/acme-llama.toml"))
            .unwrap()
            .replace("version = 1", &format!("version = {}", ids % 4))
            .replacen("0.20", text, 1)
            .into_bytes(),
        "events" => {
            // One to three events: NDJSON lines (a JSON array is sent as such below).
            let mut lines = String::new();
            for (n, m) in mutations.iter().enumerate() {
                let mut e = template("events");
                e["id"] = json!(format!("prop-{ids}-{n}"));
                lines.push_str(&mutate(e, m).to_string());
                lines.push('\n');
            }
            lines.into_bytes()
        }
        "none" => text.as_bytes().to_vec(),
        _ => mutations.iter().fold(template(kind), mutate).to_string().into_bytes(),
    }
}

#[derive(Clone, Debug)]
struct Case {
    endpoint: usize,
    body: Vec<u8>,
    array: bool,
    content_type: Option<String>,
    idempotency_key: Option<Vec<u8>>,
    authorization: usize,
    junk_authorization: Vec<u8>,
}

fn case() -> impl Strategy<Value = Case> {
    (0..POSTS.len())
        .prop_flat_map(|endpoint| {
            let near = |kind: &'static str| {
                (prop::collection::vec(mutation(), 1..4), "[ -~]{0,12}", any::<u32>())
                    .prop_map(move |(m, t, ids)| near_valid(kind, &m, &t, ids))
            };
            // Mostly bodies near what the endpoint takes; random bytes and JSON besides.
            let body = prop_oneof![
                1 => prop::collection::vec(any::<u8>(), 0..200),
                1 => json_value().prop_map(|v| v.to_string().into_bytes()),
                3 => near(POSTS[endpoint].1),
                1 => (0..POSTS.len()).prop_flat_map(move |other| near(POSTS[other].1)),
            ];
            let own = match POSTS[endpoint].1 {
                "events" => NDJSON,
                "toml" => "application/toml",
                "fx" | "models" => "text/csv",
                _ => "application/json",
            };
            let content_type = prop_oneof![
                8 => Just(Some(own.to_string())),
                1 => Just(None),
                1 => Just(Some("application/json".to_string())),
                1 => Just(Some("application/x-ndjson".to_string())),
                1 => Just(Some("text/csv".to_string())),
                1 => Just(Some("application/toml".to_string())),
                1 => Just(Some("application/json; charset=utf-8".to_string())),
                1 => Just(Some("text/plain".to_string())),
                1 => "[ -~]{0,40}".prop_map(Some),
            ];
            // Header values: visible ASCII, spaces and obs-text (what HTTP allows).
            let header_bytes = prop::collection::vec(prop_oneof![32u8..=126, 128u8..=255], 0..300);
            let key = prop_oneof![
                Just(None),
                "[!-~]{1,20}".prop_map(|k| Some(k.into_bytes())),
                header_bytes.prop_map(Some)
            ];
            (
                Just(endpoint),
                body,
                any::<bool>(),
                content_type,
                key,
                0usize..6,
                prop::collection::vec(32u8..=126, 0..80),
            )
        })
        .prop_map(
            |(endpoint, body, array, content_type, idempotency_key, authorization, junk)| Case {
                endpoint,
                body,
                array,
                content_type,
                idempotency_key,
                authorization,
                junk_authorization: junk,
            },
        )
}

/// The last audit entry's seq, read from `after` on.
fn audit_head(address: SocketAddr, operator: &str, mut after: u64) -> u64 {
    loop {
        let answer = Request::get(&format!("/v1/audit/chain?after_seq={after}&limit=1000"))
            .bearer(operator)
            .send(address)
            .unwrap();
        let page = assert_ok(&answer, 200);
        match page["items"].as_array().unwrap().last() {
            Some(last) => after = last["seq"].as_u64().unwrap(),
            None => return after,
        }
    }
}

#[test]
fn random_requests_never_fail_the_server_and_refused_ones_store_nothing() {
    random_requests(Store::sqlite("random"), 1000);
}

#[test]
fn random_requests_never_fail_the_server_on_postgresql_either() {
    if let Some(store) = Store::postgres("randompg") {
        random_requests(store, 300);
    }
}

fn random_requests(store: Store, cases: u32) {
    store.setup();
    let host = store.token("acme-cloud", "host");
    let operator = store.token("ops", "operator");
    let server = Serve::start(&store, &["--rate-limit", "100000", "--burst", "100000"]);
    assert_ok(&server.post("/v1/events", &host, NDJSON, batch("bad", 5)), 200);
    let head = std::cell::Cell::new(audit_head(server.address, &operator, 0));
    let started = Instant::now();
    let statuses = std::cell::RefCell::new(BTreeMap::<(&str, u16), u32>::new());
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    });
    let result = runner.run(&case(), |case| {
        let (path, kind) = POSTS[case.endpoint];
        let mut body = case.body.clone();
        if kind == "events" && case.array && body.first() == Some(&b'{') {
            let text = String::from_utf8_lossy(&body).trim_end().replace('\n', ",");
            body = format!("[{text}]").into_bytes();
        }
        let mut request = Request::post(path).raw_body(body);
        if let Some(content_type) = &case.content_type {
            request = request.header("Content-Type", content_type);
        }
        if let Some(key) = &case.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let junk = String::from_utf8_lossy(&case.junk_authorization).into_owned();
        let authorization = match case.authorization {
            0 => Some(format!("Bearer {operator}")),
            1 | 2 => Some(format!("Bearer {host}")),
            3 => Some(format!("Bearer {}{}", &operator[..16], &junk[..junk.len().min(43)])),
            4 => Some(junk),
            _ => None,
        };
        if let Some(authorization) = &authorization {
            request = request.header("Authorization", authorization.trim());
        }
        let before = audit_head(server.address, &operator, head.get());
        let answer = request
            .send(server.address)
            .map_err(|e| TestCaseError::fail(format!("no answer from POST {path}: {e}")))?;
        *statuses.borrow_mut().entry((path, answer.status)).or_default() += 1;
        prop_assert!(answer.status < 500, "POST {path}: {} {}", answer.status, answer.text());
        let after = audit_head(server.address, &operator, before);
        head.set(after);
        if (400..500).contains(&answer.status) {
            let (code, message) = answer.error();
            prop_assert!(!code.is_empty() && !message.is_empty());
            prop_assert_eq!(
                after,
                before,
                "a refused POST {} stored something: {}",
                path,
                answer.text()
            );
        }
        if path == "/v1/events" && answer.status == 200 {
            let outcome = answer.json();
            if outcome["accepted"] == 0 {
                prop_assert_eq!(
                    after,
                    before,
                    "a batch with nothing accepted stored something: {}",
                    answer.text()
                );
            }
        }
        Ok(())
    });
    let statuses = statuses.into_inner();
    eprintln!("random requests in {:?}: {statuses:?}", started.elapsed());
    if let Err(error) = result {
        panic!("{error}");
    }
    assert!(
        statuses.keys().any(|(_, status)| *status < 300),
        "no request was ever taken"
    );
    assert_eq!(Request::get("/healthz").send(server.address).unwrap().status, 200);
    let (status, logs) = server.terminate();
    assert!(status.success(), "{}", logs.join("\n"));
    store.assert_audit_verifies();
}

/// Issue 21, point 10: `application/json` with a body that is not JSON is 400
/// `invalid_request`, never 200 with nothing accepted; the same text as NDJSON is a
/// refused line, and one event object as JSON is taken.
#[test]
fn a_json_batch_that_is_not_json_is_400() {
    let store = Store::sqlite("not-json");
    store.setup();
    let host = store.token("acme-cloud", "host");
    let server = Serve::start(&store, &[]);
    for body in ["hello", "not json\n", "", "{\"id\": ", "{} trailing", "42"] {
        server.post("/v1/events", &host, "application/json", body).assert_error(
            400,
            "invalid_request",
            "application/json",
        );
    }
    let outcome = assert_ok(&server.post("/v1/events", &host, NDJSON, "hello\n"), 200);
    assert_eq!(outcome["accepted"], 0);
    assert_eq!(outcome["rejected"].as_array().unwrap().len(), 1, "{outcome}");
    let one = batch("one", 1);
    let outcome = assert_ok(
        &server.post("/v1/events", &host, "application/json", one.trim_end()),
        200,
    );
    assert_eq!(outcome["accepted"], 1, "{outcome}");
    assert_eq!(stored_events(&store.sqlite_connection(), "one"), 1);
    let (status, _) = server.terminate();
    assert!(status.success());
}

/// Issue 21, point 10: a contract uploaded over the API has no file name, so none
/// is stored (it used to show `contract.toml`); a refusal calls it the uploaded
/// file; versions must be the next one over the API too.
#[test]
fn a_contract_uploaded_over_the_api_has_no_file_name() {
    let store = Store::sqlite("uploaded");
    store.setup();
    let operator = store.token("ops", "operator");
    let server = Serve::start(&store, &[]);
    let toml = std::fs::read_to_string(common::fixture("contracts/orbit-llama.toml")).unwrap();
    assert_ok(
        &server.post("/v1/contracts", &operator, "application/toml", toml.clone()),
        201,
    );
    let orbit = assert_ok(&server.get("/v1/contracts/orbit-llama", &operator), 200);
    assert_eq!(orbit["id"], "orbit-llama");
    assert!(orbit.get("file_name").is_none(), "{orbit}");
    let acme = assert_ok(&server.get("/v1/contracts/acme-llama", &operator), 200);
    // One added at the CLI keeps the file's name as given.
    assert!(
        acme["file_name"]
            .as_str()
            .unwrap()
            .ends_with("contracts/acme-llama.toml"),
        "{acme}"
    );
    server
        .post("/v1/contracts", &operator, "application/toml", "id = ")
        .assert_error(400, "invalid_request", "the uploaded file");
    let skipped = toml.replacen("version = 1", "version = 3", 1);
    server
        .post("/v1/contracts", &operator, "application/toml", skipped)
        .assert_error(400, "invalid_request", "the next must be version 2, not 3");
    store.assert_audit_verifies();
    let (status, _) = server.terminate();
    assert!(status.success());
}
