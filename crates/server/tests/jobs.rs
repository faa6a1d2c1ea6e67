//! Closes as jobs over the API (api.md, `POST /v1/periods/{period}/close`): `?async=true`
//! answers 202 with the job and its `Location`, and so does a close still running when
//! the server's wait for it ends; `GET /v1/jobs/{id}` gives the job's progress, then the
//! close's answer; an `Idempotency-Key` gives the same job again; only the operator
//! closes, and a job is seen only by whoever may see it (to anyone else it is exactly
//! as missing as an unknown id); an asynchronous dry run is refused.
//!
//! Each test serves a store of its own in process: the spec's three example contracts,
//! the FX rates and the small usage file, September and October not yet closed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use revshare_app::import::Observers;
use revshare_app::keys::Keys;
use revshare_app::tokens::NewToken;
use revshare_app::{Actor, Ctx, Location};
use revshare_core::event::parse_time;
use revshare_core::records::Role;
use revshare_ingest::offline::UsageInput;
use serde_json::Value;

const SETUP: &str = "2026-11-20T00:00:00Z";
const CLOSE_OCTOBER: &str = "/v1/periods/2026-10/close?settlement_start=true";
const CLOSE_OCTOBER_ASYNC: &str = "/v1/periods/2026-10/close?settlement_start=true&async=true";

fn fixture(relative: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/spec-examples")
            .join(relative),
    )
    .unwrap()
}

/// A served store and the tokens of its callers.
struct World {
    dir: PathBuf,
    db: PathBuf,
    operator: String,
    host: String,
    licensor: String,
    auditor: String,
    address: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl World {
    /// A store as the module's header says, served with `close_wait` (how long a close
    /// request waits for its close before answering 202).
    fn new(name: &str, close_wait: Option<Duration>) -> World {
        let dir = std::env::temp_dir().join(format!("revshare-jobs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("jobs.db");
        let keys_path = dir.join("jobs.key");
        let location = Location::Sqlite(db.clone());
        let mut backend = revshare_app::open(&location).unwrap();
        let backend = backend.as_mut();
        let cli = Actor::cli();
        let ctx = Ctx {
            actor: &cli,
            now: parse_time(SETUP).unwrap(),
        };
        revshare_app::setup::init(backend, &keys_path, ctx).unwrap();
        let keys = Keys::open(&keys_path, backend).unwrap();
        for file in ["acme-llama.toml", "nimbus-llama.toml", "orbit-llama.toml"] {
            let bytes = fixture(&format!("contracts/{file}"));
            revshare_app::contracts::add_version(backend, &keys, ctx, file, &bytes).unwrap();
        }
        revshare_app::tables::add_fx(backend, &keys, ctx, "fx.csv", &fixture("fx.csv")).unwrap();
        revshare_app::import::import(
            backend,
            &keys,
            ctx,
            vec![UsageInput {
                name: "usage.ndjson".into(),
                reader: Box::new(std::io::Cursor::new(fixture("usage-small.ndjson"))),
            }],
            Observers {
                progress: &mut |_| {},
                rejected: &mut |r| panic!("the setup's usage is refused: {r:?}"),
            },
        )
        .unwrap();
        for party in ["ops", "audit-co"] {
            revshare_app::parties::add(backend, &keys, ctx, party, None).unwrap();
        }
        let mut token = |party: &str, role: Role, contracts: &[&str]| {
            let new = NewToken {
                party: party.into(),
                role,
                contracts: contracts.iter().map(|c| c.to_string()).collect(),
                expires: None,
            };
            revshare_app::tokens::create(backend, &keys, ctx, &new).unwrap().token
        };
        let operator = token("ops", Role::Operator, &[]);
        let host = token("acme-cloud", Role::Host, &[]);
        let licensor = token("meta", Role::Licensor, &[]);
        let auditor = token("audit-co", Role::Auditor, &["acme-llama"]);

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut config = revshare_server::Config::new("127.0.0.1:0".parse().unwrap(), location, keys);
        config.rate = revshare_server::Rate {
            per_second: NonZeroU32::new(100_000).unwrap(),
            burst: NonZeroU32::new(100_000).unwrap(),
        };
        if let Some(wait) = close_wait {
            config.close_wait = wait;
        }
        let server = runtime.block_on(revshare_server::start(config)).unwrap();
        World {
            dir,
            db,
            operator,
            host,
            licensor,
            auditor,
            address: server.address,
            _runtime: runtime,
        }
    }

    /// How many jobs the store keeps, read behind the service's back.
    fn stored_jobs(&self) -> i64 {
        rusqlite::Connection::open(&self.db)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM jobs", [], |r| r.get(0))
            .unwrap()
    }

    /// Reads job `location` until it is no longer running (at most a minute), checking
    /// each progress it reports on the way; the job as it ended.
    fn ended(&self, location: &str) -> Value {
        let started = Instant::now();
        loop {
            let job = ok(&send(self.address, "GET", location, Some(&self.operator), &[]), 200);
            if job["state"] != "running" {
                assert_eq!(job["progress"], Value::Null, "an ended job reports no progress: {job}");
                return job;
            }
            check_progress(&job["progress"]);
            assert!(started.elapsed() < Duration::from_secs(60), "still running: {job}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A running close's progress: none yet, or one of its steps, counts consistent.
fn check_progress(progress: &Value) {
    match progress["phase"].as_str() {
        None => assert_eq!(*progress, Value::Null, "{progress}"),
        Some("reading") | Some("committing") => {}
        Some("rating") => {
            let (done, total) = (progress["done"].as_u64().unwrap(), progress["total"].as_u64().unwrap());
            assert!(done <= total, "{progress}");
        }
        Some(other) => panic!("a step no close takes: {other}: {progress}"),
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

#[track_caller]
fn ok(answer: &Answer, status: u16) -> Value {
    assert_eq!(answer.status, status, "{}", String::from_utf8_lossy(&answer.body));
    answer.json()
}

/// One HTTP/1.1 request with an empty body on its own connection.
fn send(address: SocketAddr, method: &str, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Answer {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: 0\r\n");
    if let Some(token) = token {
        request += &format!("authorization: Bearer {token}\r\n");
    }
    for (name, value) in headers {
        request += &format!("{name}: {value}\r\n");
    }
    request += "\r\n";
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    assert!(
        !headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked")),
        "the API answers whole bodies"
    );
    Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// A 202's job: its `Location` names it, and it is a close, running.
#[track_caller]
fn accepted_job(answer: &Answer) -> (Value, String) {
    let job = ok(answer, 202);
    let id = job["id"].as_str().expect("a job id").to_string();
    assert!(
        id.len() == 18 && id.starts_with("J-") && id[2..].bytes().all(|b| b.is_ascii_hexdigit()),
        "{job}"
    );
    let location = answer.header("location").expect("a 202 names its job").to_string();
    assert_eq!(location, format!("/v1/jobs/{id}"));
    assert_eq!(job["kind"], "close", "{job}");
    assert_eq!(job["state"], "running", "{job}");
    assert_eq!(job["finished_at"], Value::Null, "{job}");
    assert_eq!(job["result"], Value::Null, "{job}");
    (job, location)
}

/// The keys of a close's answer, whichever way it is given.
fn keys_of(value: &Value) -> Vec<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn an_async_close_answers_202_with_its_job_whose_get_gives_progress_then_the_close_answer() {
    let world = World::new("async", None);
    // September closes as a request answered in time: 200 with the close's answer.
    let september = ok(
        &send(
            world.address,
            "POST",
            "/v1/periods/2026-09/close?settlement_start=true",
            Some(&world.operator),
            &[],
        ),
        200,
    );
    assert_eq!(september["period"], "2026-09", "{september}");

    let answer = send(world.address, "POST", CLOSE_OCTOBER_ASYNC, Some(&world.operator), &[]);
    let (_, location) = accepted_job(&answer);
    let job = world.ended(&location);
    assert_eq!(job["state"], "done", "{job}");
    assert!(job["finished_at"].is_string(), "{job}");
    let result = &job["result"];
    // The same answer a synchronous close gives.
    assert_eq!(keys_of(result), keys_of(&september), "{result}");
    assert_eq!(result["period"], "2026-10");
    assert_eq!(result["dry_run"], false);
    let statements = result["statements"].as_array().unwrap();
    assert!(!statements.is_empty(), "{result}");
    for statement in statements {
        let id = statement["statement_id"].as_str().unwrap();
        assert!(id.ends_with("/2026-10"), "{id}");
        // Each is the statement stored and signed.
        let stored = ok(
            &send(
                world.address,
                "GET",
                &format!("/v1/statements/{id}"),
                Some(&world.operator),
                &[],
            ),
            200,
        );
        assert_eq!(*statement, stored);
    }
    // Closing again returns the same statements (now as a request answered at once).
    let again = ok(
        &send(world.address, "POST", CLOSE_OCTOBER, Some(&world.operator), &[]),
        200,
    );
    assert_eq!(again["statements"], result["statements"]);
}

#[test]
fn a_close_still_running_when_the_wait_for_it_ends_answers_202_with_its_job() {
    // The server waits a millisecond for a close (by default: until the request limit nears).
    let world = World::new("deadline", Some(Duration::from_millis(1)));
    let answer = send(world.address, "POST", CLOSE_OCTOBER, Some(&world.operator), &[]);
    let (_, location) = accepted_job(&answer);
    let job = world.ended(&location);
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["result"]["period"], "2026-10", "{job}");
    assert!(!job["result"]["statements"].as_array().unwrap().is_empty(), "{job}");
    // A period not yet ended is refused before any job starts.
    let early = send(
        world.address,
        "POST",
        "/v1/periods/2099-01/close",
        Some(&world.operator),
        &[],
    );
    assert_eq!(early.status, 409, "{}", String::from_utf8_lossy(&early.body));
    assert_eq!(early.json()["error"]["code"], "too_early");
    assert_eq!(world.stored_jobs(), 1, "only October's close is a job");
    // A refusal found while closing, after the wait, is the job's end: the error
    // answer the request would have had.
    let missing = send(
        world.address,
        "POST",
        "/v1/periods/2026-11/close?contract=no-such-contract",
        Some(&world.operator),
        &[],
    );
    let (_, location) = accepted_job(&missing);
    let job = world.ended(&location);
    assert_eq!(job["state"], "error", "{job}");
    assert_eq!(job["result"]["error"]["code"], "not_found", "{job}");
    assert!(
        job["result"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-contract"),
        "{job}"
    );
}

#[test]
fn the_same_idempotency_key_gives_the_same_job_and_another_key_another() {
    let world = World::new("idempotent", None);
    let with_key = |key: &str| {
        send(
            world.address,
            "POST",
            CLOSE_OCTOBER_ASYNC,
            Some(&world.operator),
            &[("idempotency-key", key)],
        )
    };
    let first = with_key("close-october-1");
    let (job, location) = accepted_job(&first);
    let repeat = with_key("close-october-1");
    assert_eq!(repeat.status, 202);
    assert_eq!(repeat.body, first.body, "the same job, answered again");
    assert_eq!(repeat.header("location"), Some(location.as_str()));
    world.ended(&location);
    // After the job ended, the repeat still names the same job.
    let late = with_key("close-october-1");
    assert_eq!((late.status, &late.body), (202, &first.body));
    let other = with_key("close-october-2");
    let (second, second_location) = accepted_job(&other);
    assert_ne!(second["id"], job["id"]);
    // It finds October closed and gives the same statements.
    let (a, b) = (world.ended(&location), world.ended(&second_location));
    assert_eq!(a["result"]["statements"], b["result"]["statements"]);
    // The key with another query (a synchronous close) is a conflict.
    let sync = send(
        world.address,
        "POST",
        CLOSE_OCTOBER,
        Some(&world.operator),
        &[("idempotency-key", "close-october-1")],
    );
    assert_eq!(sync.status, 409, "{}", String::from_utf8_lossy(&sync.body));
    assert_eq!(sync.json()["error"]["code"], "idempotency_conflict");
}

#[test]
fn only_the_operator_closes_and_a_job_is_seen_only_by_whoever_may_see_it() {
    let world = World::new("access", None);
    for token in [&world.host, &world.licensor, &world.auditor] {
        let refused = send(world.address, "POST", CLOSE_OCTOBER_ASYNC, Some(token), &[]);
        assert_eq!(refused.status, 403, "{}", String::from_utf8_lossy(&refused.body));
        assert_eq!(refused.json()["error"]["code"], "forbidden");
    }
    assert_eq!(world.stored_jobs(), 0, "a refused close starts no job");
    let unauthenticated = send(world.address, "POST", CLOSE_OCTOBER_ASYNC, None, &[]);
    assert_eq!(unauthenticated.status, 401);

    let (job, location) = accepted_job(&send(
        world.address,
        "POST",
        CLOSE_OCTOBER_ASYNC,
        Some(&world.operator),
        &[],
    ));
    let id = job["id"].as_str().unwrap();
    world.ended(&location);
    let unknown = "J-0000000000000000";
    for token in [&world.host, &world.licensor, &world.auditor] {
        let hidden = send(world.address, "GET", &location, Some(token), &[]);
        let missing = send(world.address, "GET", &format!("/v1/jobs/{unknown}"), Some(token), &[]);
        assert_eq!((hidden.status, missing.status), (404, 404));
        // Exactly as missing: the same body but for the id asked for.
        let hidden_text = String::from_utf8(hidden.body).unwrap().replace(id, unknown);
        assert_eq!(hidden_text, String::from_utf8(missing.body).unwrap());
    }
    assert_eq!(send(world.address, "GET", &location, None, &[]).status, 401);

    // The auditor's own audit verify job is its to read here too; the operator reads
    // it as well, but not as a verification's job when it is a close.
    let verify = send(world.address, "POST", "/v1/audit/verify", Some(&world.auditor), &[]);
    let verify_job = ok(&verify, 202);
    let own = format!("/v1/jobs/{}", verify_job["id"].as_str().unwrap());
    assert_eq!(
        ok(&send(world.address, "GET", &own, Some(&world.auditor), &[]), 200)["kind"],
        "audit_verify"
    );
    assert_eq!(
        ok(&send(world.address, "GET", &own, Some(&world.operator), &[]), 200)["kind"],
        "audit_verify"
    );
    let as_verify = send(
        world.address,
        "GET",
        &format!("/v1/audit/verify/{id}"),
        Some(&world.operator),
        &[],
    );
    assert_eq!(as_verify.status, 404);
}

#[test]
fn an_async_dry_run_is_refused_naming_dry_run_and_stores_nothing() {
    let world = World::new("dry", None);
    let refused = send(
        world.address,
        "POST",
        "/v1/periods/2026-10/close?settlement_start=true&dry_run=true&async=true",
        Some(&world.operator),
        &[],
    );
    assert_eq!(refused.status, 400, "{}", String::from_utf8_lossy(&refused.body));
    let error = refused.json();
    assert_eq!(error["error"]["code"], "invalid_request");
    assert!(
        error["error"]["message"].as_str().unwrap().starts_with("dry_run:"),
        "{error}"
    );
    assert_eq!(world.stored_jobs(), 0);
    // A dry run as a request answers its unsigned statements, and starts no job either.
    let dry = ok(
        &send(
            world.address,
            "POST",
            "/v1/periods/2026-10/close?settlement_start=true&dry_run=true",
            Some(&world.operator),
            &[],
        ),
        200,
    );
    assert_eq!(dry["dry_run"], true);
    assert_eq!(world.stored_jobs(), 0);
}
