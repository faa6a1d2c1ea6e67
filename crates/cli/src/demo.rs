//! `revshare demo`: the whole flow on the embedded store, from nothing.
//!
//! It creates `./revshare-demo.db` (or `--db`), replaced on each run if the demo
//! made it (anything else there is refused; a key file is never deleted), loads the
//! example contracts shipped in the repository, synthesizes usage for three hosts
//! over September and October 2026 (deterministic, with retried duplicates and late
//! events), imports it, records contributions, closes September (confirming that
//! settlement starts there, `--settlement-start`), imports the late
//! September events, closes October (which settles them as a prior-period
//! adjustment), prints the statements, and verifies signatures and one inclusion
//! proof offline. Then it settles (`settle`): a dispute opened by the host and
//! resolved by the licensor, carried by November's statement; a payment recorded
//! and confirmed; balances with ageing; `audit verify`. Its files stay in
//! `revshare-demo/` for you to try the commands on.

mod settle;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use revshare_app::close::{CloseRequest, Closed, Grace};
use revshare_app::contributions::{Decision, Proposal};
use revshare_app::keys::Keys;
use revshare_app::{Backend, Ctx, Location};
use revshare_core::contract::{ContributionKind, Party};
use revshare_core::period::Day;
use revshare_core::verify::{verify_inclusion, verify_statement_bytes, PublicKey};

use crate::{close, format, import, stateful, Failure, StoreArgs};

const CONTRACTS: [(&str, &[u8]); 3] = [
    (
        "acme-llama.toml",
        include_bytes!("../../../fixtures/spec-examples/contracts/acme-llama.toml"),
    ),
    (
        "nimbus-llama.toml",
        include_bytes!("../../../fixtures/spec-examples/contracts/nimbus-llama.toml"),
    ),
    (
        "orbit-llama.toml",
        include_bytes!("../../../fixtures/spec-examples/contracts/orbit-llama.toml"),
    ),
];
const FX: &[u8] = include_bytes!("../../../fixtures/spec-examples/fx.csv");

/// Hosts with their currency and share of traffic (as in the spec's generator).
const HOSTS: [(&str, &str, u32); 3] = [
    ("acme-cloud", "USD", 55),
    ("nimbus-ai", "EUR", 30),
    ("orbit-compute", "USD", 15),
];
/// Models with their traffic weight and price per 1k tokens in micro-units.
const MODELS: [(&str, u32, u64); 6] = [
    ("llama-3.1-8b-instruct", 30, 50_000),
    ("llama-3.1-70b-instruct", 30, 400_000),
    ("llama-3.1-405b-instruct", 8, 1_800_000),
    ("llama-3.3-70b-instruct", 20, 400_000),
    ("llama-3.1-8b-medical-ft", 7, 200_000),
    ("mixtral-8x7b", 5, 300_000),
];
const USE_CASES: [(&str, u32); 8] = [
    ("customer_service", 300),
    ("content_moderation", 120),
    ("recommendations", 150),
    ("content_generation", 220),
    ("search", 120),
    ("accessibility", 60),
    ("translation", 28),
    ("surveillance", 2),
];
const REGIONS: [&str; 3] = ["us", "eu", "apac"];

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    let mut ticket = rng.u32(0..total);
    for item in items {
        let w = weight(item);
        if ticket < w {
            return item;
        }
        ticket -= w;
    }
    unreachable!("the ticket falls inside the total weight")
}

/// Deterministic usage for `year-month` (`days` days). `retry_every` repeats an
/// earlier line now and then, as a host retrying a batch would.
fn synthesize(rng: &mut fastrand::Rng, count: u32, month: u32, days: u32, prefix: &str, out: &mut Vec<u8>) {
    let mut recent: Vec<Vec<u8>> = Vec::new();
    for i in 0..count {
        if !recent.is_empty() && rng.u32(0..200) == 0 {
            let line = recent[rng.usize(0..recent.len())].clone();
            out.extend_from_slice(&line);
            continue;
        }
        let (host, currency, _) = *pick(rng, &HOSTS, |h| h.2);
        let (model, _, price) = *pick(rng, &MODELS, |m| m.1);
        let (use_case, _) = *pick(rng, &USE_CASES, |u| u.1);
        let region = REGIONS[(i % 3) as usize];
        let day = rng.u32(1..=days);
        let seconds = rng.u32(0..86_400);
        let millis = rng.u32(0..1000);
        // 60% single requests, 40% roll-ups of many (a long tail).
        let requests: u64 = if rng.u32(0..10) < 6 {
            1
        } else {
            (10.0 / (1.0 - rng.f64()).powf(1.0 / 1.3)).min(10_000.0) as u64
        };
        let input = requests * rng.u64(100..1_400) + 1;
        let output = requests * rng.u64(30..500) + 1;
        let micros = (input + 3 * output) * price / 1000;
        let customer = (1.0 / (1.0 - rng.f64()).powf(1.0 / 1.2)) as u64 % 50_000;
        let line = format!(
            "{{\"specversion\":\"1.0\",\"type\":\"ai.usage.v1\",\"source\":\"{host}/{region}\",\"id\":\"{prefix}-{i:08}\",\
             \"time\":\"2026-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z\",\"data\":{{\"host\":\"{host}\",\
             \"model\":\"{model}\",\"use_case\":\"{use_case}\",\"region\":\"{region}\",\"customer\":\"c-{customer}\",\
             \"requests\":{requests},\"input_tokens\":{input},\"output_tokens\":{output},\
             \"revenue\":\"{}.{:06}\",\"currency\":\"{currency}\"}}}}\n",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60,
            micros / 1_000_000,
            micros % 1_000_000
        );
        if recent.len() < 4096 {
            recent.push(line.clone().into_bytes());
        }
        out.extend_from_slice(line.as_bytes());
    }
}

/// The demo replaces only a store it made: anything else at its path is refused,
/// and a key file is never deleted. The next demo store adopts the key of the store
/// it replaces, and no other: a key beside no demo store could be another store's,
/// and the demo must never sign with it.
fn replace_demo_store(path: &Path) -> Result<(), Failure> {
    let mut key = path.as_os_str().to_owned();
    key.push(".key");
    let key = PathBuf::from(key);
    let refuse = |why: String| {
        Failure::input(format!(
            "{why}; the demo works only in a store of its own (default revshare-demo.db): give another --db, \
             or move those files away"
        ))
    };
    if !path.exists() {
        if key.exists() {
            return Err(refuse(format!(
                "{} exists but {} does not: the demo signs only with a key it made",
                key.display(),
                path.display()
            )));
        }
        return Ok(());
    }
    if !revshare_app::setup::is_demo_file(path)? {
        return Err(refuse(format!(
            "{} exists and was not made by `revshare demo`",
            path.display()
        )));
    }
    if key.exists() {
        let mut backend = revshare_app::open(&Location::Sqlite(path.to_path_buf()))?;
        revshare_app::keys::Keys::open(&key, backend.as_mut()).map_err(|_| {
            refuse(format!(
                "{} is not the key of the demo store {}",
                key.display(),
                path.display()
            ))
        })?;
        // The key goes to the next demo store: it no longer names the one replaced.
        revshare_app::setup::release_key_file(&key)?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(PathBuf::from(&name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Failure::other(format!(
                    "cannot replace {}: {e}",
                    PathBuf::from(name).display()
                )))
            }
        }
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes).map_err(|e| Failure::other(format!("cannot write {}: {e}", path.display())))
}

fn step(text: &str) {
    println!("\n== {text}");
}

/// `revshare demo [--events N]`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// How many events to synthesize.
    #[arg(long, default_value_t = 240_000)]
    pub events: u32,
    /// Then serve the dashboard and the API on the demo store, printing the URL and
    /// sign-in tokens for a host, a licensor, a beneficiary and an auditor (until
    /// SIGTERM or Ctrl-C); without it the demo exits.
    #[arg(long)]
    pub serve: bool,
    /// Where `--serve` listens.
    #[arg(long, default_value = "127.0.0.1:8080", requires = "serve")]
    pub listen: std::net::SocketAddr,
}

pub fn run(args: &StoreArgs, demo: &DemoArgs) -> Result<(), Failure> {
    let started = Instant::now();
    if args.database_url.is_some() {
        return Err(Failure::input(
            "the demo runs on an embedded store of its own; drop --database-url (and REVSHARE_DATABASE_URL)",
        ));
    }
    let db = args.db.clone().unwrap_or_else(|| PathBuf::from("revshare-demo.db"));
    let dir = db.with_file_name("revshare-demo");
    revshare_app::check_parent(&db)?;
    replace_demo_store(&db)?;
    std::fs::create_dir_all(&dir).map_err(|e| Failure::other(format!("cannot create {}: {e}", dir.display())))?;
    let store_args = StoreArgs {
        db: Some(db.clone()),
        database_url: None,
        key_file: None,
    };

    step(&format!("a new embedded store at {}", db.display()));
    stateful::init(&store_args)?;
    let mut backend = stateful::open(&store_args)?;
    revshare_app::setup::mark_demo(backend.as_mut())?;

    step("the example contracts, FX rates and contributions");
    let keys = stateful::keys(&store_args, backend.as_mut())?;
    load_terms(backend.as_mut(), &keys, &dir)?;
    drop(backend);

    let events = demo.events;
    step(&format!(
        "{events} synthetic usage events for three hosts, September and October 2026"
    ));
    let mut rng = fastrand::Rng::with_seed(7);
    let late_count = events / 100;
    let mut usage = Vec::with_capacity(events as usize * 340);
    synthesize(&mut rng, (events - late_count) / 2, 9, 30, "sep", &mut usage);
    synthesize(&mut rng, (events - late_count) / 2, 10, 31, "oct", &mut usage);
    let mut late = Vec::new();
    synthesize(&mut rng, late_count, 9, 30, "sep-late", &mut late);
    let usage_file = dir.join("usage-sep-oct.ndjson");
    let late_file = dir.join("usage-sep-late.ndjson");
    write(&usage_file, &usage)?;
    write(&late_file, &late)?;
    println!("wrote {} and {}", usage_file.display(), late_file.display());
    import::import_files(&store_args, std::slice::from_ref(&usage_file), None)?;
    println!("importing the same file again changes nothing (idempotency is for life):");
    import::import_files(&store_args, std::slice::from_ref(&usage_file), None)?;

    step("close September 2026, where settlement starts (--settlement-start: earlier periods, such as nimbus-llama's July and August, were settled elsewhere)");
    let mut first = request("2026-09", None);
    first.settlement_start = true;
    let september = close::close_period(&store_args, &first, close::Summary::Stdout)?;
    step("late September usage arrives after the close");
    import::import_files(&store_args, std::slice::from_ref(&late_file), None)?;
    step("close October 2026 (settles the late September usage as a prior-period adjustment)");
    let october = close::close_period(&store_args, &request("2026-10", None), close::Summary::Stdout)?;
    step("orbit-llama settles quarterly: its 2026-Q4 closes once the quarter has ended");
    match close::close_period(
        &store_args,
        &request("2026-Q4", Some("orbit-llama")),
        close::Summary::Stdout,
    ) {
        Ok(_) => {}
        Err(refused) => println!("refused, as it should be: {}", refused.message),
    }

    step("the statements");
    let mut out = std::io::stdout().lock();
    for closed in september.iter().chain(&october) {
        format::write_table(&mut out, &closed.statement).map_err(|e| Failure::other(e.to_string()))?;
        writeln!(out).map_err(|e| Failure::other(e.to_string()))?;
    }
    drop(out);

    step("offline verification with only the public key");
    let proven = verify_offline(&store_args, &september, &october, &usage, &dir)?;
    settle::run(&store_args, &september, &october, &proven)?;

    step(&format!("done in {:.1} s; try next", started.elapsed().as_secs_f64()));
    print_next_steps(&db, &dir, &proven);
    if demo.serve {
        serve(&store_args, demo.listen)?;
    }
    Ok(())
}

/// `--serve`: a token for each kind of party, then the server on the demo store.
fn serve(store: &StoreArgs, listen: std::net::SocketAddr) -> Result<(), Failure> {
    use revshare_app::tokens::{create, NewToken};
    use revshare_core::records::Role;
    step("the dashboard: sign in with one of these tokens (each is shown this once)");
    let mut backend = stateful::open(store)?;
    let keys = stateful::keys(store, backend.as_mut())?;
    let actor = stateful::operator();
    let ctx = Ctx::now(&actor);
    revshare_app::parties::add(backend.as_mut(), &keys, ctx, "audit-co", Some("Audit Co"))?;
    let mut tokens = Vec::new();
    for (label, party, role, contracts) in [
        ("host", "acme-cloud", Role::Host, &[][..]),
        ("licensor", "meta", Role::Licensor, &[][..]),
        ("beneficiary", "finetune-labs", Role::Beneficiary, &[][..]),
        ("auditor", "audit-co", Role::Auditor, &["acme-llama".to_string()][..]),
    ] {
        let created = create(
            backend.as_mut(),
            &keys,
            ctx,
            &NewToken {
                party: party.into(),
                role,
                contracts: contracts.to_vec(),
                expires: None,
            },
        )?;
        tokens.push((label, party, created.token));
    }
    drop(backend);
    crate::serve::serve_then(store, listen, move |address| {
        println!("dashboard: http://{address}/");
        for (label, party, token) in &tokens {
            println!("  {label:<12} {party:<14} {token}");
        }
        println!("(the API answers at http://{address}/v1/ with the same tokens as bearer tokens; Ctrl-C stops)");
        let _ = std::io::stdout().flush();
    })
}

fn request(period: &str, contract: Option<&str>) -> CloseRequest {
    CloseRequest {
        period: revshare_core::period::Period::parse(period).expect("a valid literal"),
        contract: contract.map(str::to_string),
        grace: Grace::default(),
        dry_run: false,
        allow_empty: false,
        settlement_start: false,
    }
}

/// The commands to try next, each runnable as printed (with `revshare` installed).
fn print_next_steps(db: &Path, dir: &Path, (source, id): &(String, String)) {
    let db_arg = db.display();
    let d = dir.display();
    println!("(install the binary first: cargo install --path crates/cli --locked)");
    println!("revshare --db {db_arg} statement list");
    println!("revshare --db {db_arg} statement show acme-llama/2026-10 --format table");
    println!("revshare --db {db_arg} audit verify");
    println!("revshare --db {db_arg} locate {source} {id}");
    println!("revshare --db {db_arg} prove acme-llama/2026-10 {source} {id}");
    println!("revshare verify --statement {d}/acme-llama-2026-10.json --public-key {d}/public-key.json --event {d}/event.json --proof {d}/proof.json");
    println!("revshare --db {db_arg} audit chain --format json > {d}/chain.json && revshare verify --statement {d}/acme-llama-2026-10.json --public-key {d}/public-key.json --audit-chain {d}/chain.json");
    println!("revshare rate --contract {d}/acme-llama.toml --usage {d}/usage-sep-oct.ndjson --usage {d}/usage-sep-late.ndjson --fx {d}/fx.csv --contributions {d}/contributions.csv --period 2026-10 --format table");
    println!("   (the same lines and subtotal as acme-llama/2026-10; the closed statement adds the prior-period adjustment for the late September usage)");
}

fn load_terms(backend: &mut dyn Backend, keys: &Keys, dir: &Path) -> Result<(), Failure> {
    let actor = stateful::operator();
    let ctx = Ctx::now(&actor);
    for (name, bytes) in CONTRACTS {
        revshare_app::contracts::add_version(backend, keys, ctx, name, bytes)?;
        write(&dir.join(name), bytes)?;
        println!("contract {name}");
    }
    let added = revshare_app::tables::add_fx(backend, keys, ctx, "fx.csv", FX)?;
    write(&dir.join("fx.csv"), FX)?;
    println!("{} EUR→USD rates", added.stored);
    for (by, kind, date, reference, accept) in CONTRIBUTIONS {
        let proposal = Proposal {
            contract: "acme-llama".into(),
            by,
            kind,
            date: Day::parse(date).expect("a valid literal"),
            reference: reference.into(),
        };
        let row = revshare_app::contributions::propose(backend, keys, ctx, &proposal)?;
        if accept {
            revshare_app::contributions::decide(backend, keys, ctx, row.number, Decision::Accept)?;
        }
        println!(
            "contribution {}: acme-llama, {} by the {} on {date}: {}",
            row.number,
            kind.as_str(),
            by.as_str(),
            if accept { "proposed and accepted" } else { "proposed" }
        );
    }
    let mut csv = String::from("contract,by,kind,date,status,reference\n");
    for c in revshare_app::contributions::list(backend, &stateful::operator())? {
        csv.push_str(&format!(
            "{},{},{},{},{},\"{}\"\n",
            c.contract,
            c.by.as_str(),
            c.kind.as_str(),
            Day(c.date),
            c.status.as_str(),
            c.reference.replace('"', "\"\"")
        ));
    }
    write(&dir.join("contributions.csv"), csv.as_bytes())
}

const CONTRIBUTIONS: [(Party, ContributionKind, &str, &str, bool); 4] = [
    (
        Party::Host,
        ContributionKind::Maintenance,
        "2026-09-14",
        "security patch for the 70b serving stack",
        true,
    ),
    (
        Party::Host,
        ContributionKind::Maintenance,
        "2026-10-03",
        "tokenizer fix upstreamed",
        true,
    ),
    (
        Party::Licensor,
        ContributionKind::Update,
        "2026-10-08",
        "llama-3.3 weights refresh",
        true,
    ),
    (
        Party::Host,
        ContributionKind::Maintenance,
        "2026-10-20",
        "eval harness (still under review)",
        false,
    ),
];

/// Verifies every statement from its bytes, and one inclusion proof, as a host would.
fn verify_offline(
    args: &StoreArgs,
    september: &[Closed],
    october: &[Closed],
    usage: &[u8],
    dir: &Path,
) -> Result<(String, String), Failure> {
    let mut backend = stateful::open(args)?;
    let public = revshare_app::keys::public_keys(backend.as_mut())?;
    let current = public
        .last()
        .cloned()
        .ok_or_else(|| Failure::other("the demo store has no key"))?;
    write(
        &dir.join("public-key.json"),
        serde_json::to_string_pretty(&current)
            .expect("keys serialize")
            .as_bytes(),
    )?;
    for closed in september.iter().chain(october) {
        let verified = verify_statement_bytes(closed.json.as_bytes(), &public)
            .map_err(|e| Failure::other(format!("demo statement failed to verify: {e}")))?;
        write(
            &dir.join(format!("{}.json", closed.statement_id.replace('/', "-"))),
            closed.json.as_bytes(),
        )?;
        println!("{}: signature valid (key {})", verified.id(), current.key_id);
    }
    let acme = october
        .iter()
        .find(|c| c.statement.contract == "acme-llama")
        .ok_or_else(|| Failure::other("October has no acme-llama statement"))?;
    let (proven, key) = prove_one(backend.as_mut(), acme, &public, usage, dir)?;
    println!("{proven}");
    Ok(key)
}

/// Proves one acme-cloud October event and verifies the proof as a host would.
fn prove_one(
    backend: &mut dyn Backend,
    statement: &Closed,
    public: &[PublicKey],
    usage: &[u8],
    dir: &Path,
) -> Result<(String, (String, String)), Failure> {
    let (line, event) = usage
        .split(|b| *b == b'\n')
        .filter_map(|line| {
            revshare_core::event::UsageEvent::parse(line)
                .ok()
                .map(|event| (line, event))
        })
        .find(|(_, event)| event.data.host == "acme-cloud" && event.id.starts_with("oct-"))
        .ok_or_else(|| Failure::other("no acme-cloud October event was synthesized"))?;
    let proof = revshare_app::statements::prove(
        backend,
        &stateful::operator(),
        &statement.statement_id,
        &event.source,
        &event.id,
    )?;
    let verified = verify_statement_bytes(statement.json.as_bytes(), public)
        .map_err(|e| Failure::other(format!("demo statement failed to verify: {e}")))?;
    verify_inclusion(&verified, line, &proof).map_err(|e| Failure::other(format!("demo proof failed: {e}")))?;
    write(&dir.join("event.json"), line)?;
    write(
        &dir.join("proof.json"),
        serde_json::to_string_pretty(&proof)
            .expect("proofs serialize")
            .as_bytes(),
    )?;
    let message = format!(
        "event ({}, {}) is leaf #{} of {} in {}: its inclusion proof verifies against the signed root {}",
        event.source, event.id, proof.leaf_index, proof.tree_size, statement.statement_id, proof.root
    );
    Ok((message, (event.source.to_string(), event.id.to_string())))
}
