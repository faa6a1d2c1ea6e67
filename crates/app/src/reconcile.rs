//! Reconciliation (statements.md): a host checks a closed statement against its own
//! records, offline. The inputs of the close ([`crate::statements::inputs`]) are
//! written as the files `revshare rate` reads; the host's usage is rated with that
//! same offline pipeline and its `events` tree rebuilt, then both are compared with
//! the statement and its leaves. Nothing here reads a store or a clock.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use revshare_core::contract::{Contract, ContractSet, ContractVersions};
use revshare_core::event::UsageEvent;
use revshare_core::merkle::{self, Hash};
use revshare_core::period::Period;
use revshare_core::rating::{selects, RatingInputs};
use revshare_core::statement::{AdjustmentKind, Statement};
use revshare_core::tables::{Contributions, FxTable, ModelRegistry};
use revshare_core::verify::PublicKey;
use revshare_ingest::reader::RecordReader;
use sha2::{Digest, Sha256};

use crate::rate::{rate_usage_without, Problem, UsageInput, Voids};
use crate::statements::Inputs;
use crate::{AppError, Result};

pub const CONTRACT_FILE: &str = "contract.toml";
pub const FX_FILE: &str = "fx.csv";
pub const CONTRIBUTIONS_FILE: &str = "contributions.csv";
pub const MODELS_FILE: &str = "models.csv";
pub const VOIDS_FILE: &str = "voids.csv";

fn io_error(path: &Path, what: &str, error: std::io::Error) -> AppError {
    AppError::Invalid(format!("{}: cannot {what}: {error}", path.display()))
}

/// Writes a statement's inputs into `dir` (created if missing) as the files of
/// statements.md; `models.csv` only when a registry was in force (without one, no
/// file: an empty registry would mean that no model is the licensor's). Existing
/// files are never overwritten: each is checked before any is written.
pub fn write_inputs(dir: &Path, inputs: &Inputs) -> Result<Vec<PathBuf>> {
    let mut files: Vec<(&str, &str)> = vec![
        (CONTRACT_FILE, &inputs.contract),
        (FX_FILE, &inputs.fx),
        (CONTRIBUTIONS_FILE, &inputs.contributions),
    ];
    if let Some(models) = &inputs.models {
        files.push((MODELS_FILE, models));
    }
    files.push((VOIDS_FILE, &inputs.voids));
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "create the folder", e))?;
    for (name, _) in &files {
        let path = dir.join(name);
        if path.exists() {
            return Err(AppError::Invalid(format!(
                "{} already exists: give an empty or new folder (files are never overwritten)",
                path.display()
            )));
        }
    }
    let mut written = Vec::new();
    for (name, content) in files {
        let path = dir.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        let mut file = options.open(&path).map_err(|e| io_error(&path, "create", e))?;
        std::io::Write::write_all(&mut file, content.as_bytes()).map_err(|e| io_error(&path, "write", e))?;
        written.push(path);
    }
    Ok(written)
}

/// A file's name (for messages) and bytes.
#[derive(Clone, Debug)]
pub struct File {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl File {
    pub fn read(path: &Path) -> Result<File> {
        Ok(File {
            name: path.display().to_string(),
            bytes: std::fs::read(path).map_err(|e| io_error(path, "read", e))?,
        })
    }
}

/// The files of an inputs folder (see [`write_inputs`]).
#[derive(Clone, Debug)]
pub struct InputFiles {
    pub contract: File,
    pub fx: File,
    pub contributions: File,
    pub models: Option<File>,
    pub voids: File,
}

impl InputFiles {
    /// Reads the folder: every file but `models.csv` is required.
    pub fn read(dir: &Path) -> Result<InputFiles> {
        let required = |name: &str| {
            let path = dir.join(name);
            if !path.exists() {
                return Err(AppError::Invalid(format!(
                    "{}: missing (`revshare statement inputs ID --out DIR` writes it)",
                    path.display()
                )));
            }
            File::read(&path)
        };
        let models = dir.join(MODELS_FILE);
        Ok(InputFiles {
            contract: required(CONTRACT_FILE)?,
            fx: required(FX_FILE)?,
            contributions: required(CONTRIBUTIONS_FILE)?,
            models: if models.exists() {
                Some(File::read(&models)?)
            } else {
                None
            },
            voids: required(VOIDS_FILE)?,
        })
    }
}

/// What reconciliation is given. The usage is held in memory: it is read twice, once
/// by the rating pipeline and once for each event's key and leaf.
pub struct Given<'a> {
    pub statement: &'a File,
    pub leaves: &'a File,
    pub inputs: &'a InputFiles,
    pub usage: Vec<(String, Arc<[u8]>)>,
    /// When given, the statement's signature is checked with them; otherwise it is
    /// only parsed strictly.
    pub keys: Option<&'a [PublicKey]>,
}

/// An event by its key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct EventKey {
    pub source: String,
    pub id: String,
}

/// One value that differs between the statement and the host's rating. `field`
/// `None` is an item present on one side only (its value says which).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// `line MODEL/USE_CASE (CURRENCY)`, `subtotal`, `events`, …
    pub item: String,
    pub field: Option<String>,
    pub statement: Option<String>,
    pub host: Option<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = |v: &Option<String>| v.clone().unwrap_or_else(|| "absent".to_string());
        match &self.field {
            Some(field) => write!(
                f,
                "{}: {field}: statement {}, host {}",
                self.item,
                side(&self.statement),
                side(&self.host)
            ),
            None if self.host.is_none() => write!(f, "{}: in the statement only", self.item),
            None => write!(f, "{}: in the host's rating only", self.item),
        }
    }
}

/// What reconciliation found. Everything agrees exactly when there is no difference,
/// no uncounted event and no missing leaf.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub statement_id: String,
    pub contract: String,
    pub period: String,
    /// Whether the statement's signature was checked (`--public-key`).
    pub signature_checked: bool,
    pub agrees: bool,
    /// Events the statement counts, and the host's events of the statement (those its
    /// contract selects in its period, voided ones excepted).
    pub statement_events: u64,
    pub host_events: u64,
    /// The host's events of the period left out because the inputs list them voided.
    pub voided: u64,
    pub differences: Vec<Difference>,
    /// The host's events of the period the statement does not count (a late one
    /// too: `revshare locate` says where it was settled).
    pub not_counted: Vec<EventKey>,
    /// Leaves (hex) the statement counts that the host's copy lacks, in tree order.
    pub missing: Vec<String>,
    /// Records of the host's usage that are invalid or conflict with an earlier one
    /// (reported, not counted, as `revshare rate` does).
    pub problems: Vec<String>,
}

/// The statement, checked or strictly parsed, and closed.
fn statement_of(file: &File, keys: Option<&[PublicKey]>) -> Result<Statement> {
    let invalid = |message: String| AppError::Invalid(format!("{}: {message}", file.name));
    let statement = match keys {
        // A signature that does not verify is a failed check, as with `verify`, not
        // a file that cannot be read.
        Some(keys) => revshare_core::verify::verify_statement_bytes(&file.bytes, keys)
            .map_err(|e| AppError::Integrity(format!("{}: NOT VERIFIED: {e}", file.name)))?
            .into_statement(),
        None => {
            let object = revshare_core::json::parse_strict_object(&file.bytes)
                .map_err(|e| invalid(format!("not a statement: {e}")))?;
            if object.get("kind").and_then(serde_json::Value::as_str) == Some("payout_notice") {
                return Err(invalid("a payout notice, not a statement".to_string()));
            }
            serde_json::from_value(serde_json::Value::Object(object))
                .map_err(|e| invalid(format!("not a statement: {e}")))?
        }
    };
    if statement.statement_id.is_none() || statement.signature.is_none() {
        return Err(invalid(
            "not a closed statement (no statement_id or signature): reconcile one from `revshare statement show ID`"
                .to_string(),
        ));
    }
    Ok(statement)
}

/// The leaves file (`revshare statement leaves ID`, or the API's page of the
/// `events` tree with every leaf), checked against the statement's signed root.
fn leaves_of(file: &File, statement: &Statement, statement_id: &str) -> Result<Vec<Hash>> {
    #[derive(serde::Deserialize)]
    struct LeavesFile {
        statement_id: Option<String>,
        tree: Option<String>,
        leaves: Vec<String>,
    }
    let invalid = |message: String| AppError::Invalid(format!("{}: {message}", file.name));
    let parsed: LeavesFile =
        serde_json::from_slice(&file.bytes).map_err(|e| invalid(format!("not a leaves file: {e}")))?;
    if let Some(id) = parsed.statement_id.as_deref().filter(|id| *id != statement_id) {
        return Err(invalid(format!("the leaves of {id}, not of {statement_id}")));
    }
    if let Some(tree) = parsed.tree.as_deref().filter(|t| *t != "events") {
        return Err(invalid(format!("the leaves of tree `{tree}`, not of `events`")));
    }
    let leaves = parsed
        .leaves
        .iter()
        .enumerate()
        .map(|(n, text)| {
            hex::decode(text)
                .ok()
                .and_then(|bytes| <Hash>::try_from(bytes).ok())
                .ok_or_else(|| invalid(format!("leaf {n} is not 32 bytes in hex: `{text}`")))
        })
        .collect::<Result<Vec<Hash>>>()?;
    if leaves.len() as u64 != statement.events.count
        || hex::encode(merkle::root(&leaves)) != statement.events.merkle_root
    {
        return Err(invalid(format!(
            "its {} leaves do not make the statement's events tree ({} leaves, root {}): not the whole \
             `events` tree of this statement",
            leaves.len(),
            statement.events.count,
            statement.events.merkle_root
        )));
    }
    Ok(leaves)
}

/// The rating inputs of the folder, checked to be those of the statement.
fn rating_inputs(files: &InputFiles, statement: &Statement) -> Result<(RatingInputs, Voids)> {
    let contract_file = &files.contract;
    let contract =
        Contract::from_toml(&contract_file.name, &contract_file.bytes).map_err(|e| AppError::Invalid(e.to_string()))?;
    if contract.id != statement.contract || contract.version != statement.contract_version {
        return Err(AppError::Invalid(format!(
            "{}: contract {} version {}, but the statement was rated by {} version {}",
            contract_file.name, contract.id, contract.version, statement.contract, statement.contract_version
        )));
    }
    if let Some(expected) = &statement.contract_sha256 {
        let found = hex::encode(Sha256::digest(&contract_file.bytes));
        if &found != expected {
            return Err(AppError::Invalid(format!(
                "{}: its SHA-256 is {found}, but the statement's contract_sha256 is {expected}: not the file \
                 the statement was rated with",
                contract_file.name
            )));
        }
    }
    let table = |e: revshare_core::tables::TableError| AppError::Invalid(e.to_string());
    let fx = FxTable::from_csv(&files.fx.name, &files.fx.bytes).map_err(table)?;
    let contributions =
        Contributions::from_csv(&files.contributions.name, &files.contributions.bytes).map_err(table)?;
    let registry = files
        .models
        .as_ref()
        .map(|m| ModelRegistry::from_csv(&m.name, &m.bytes))
        .transpose()
        .map_err(table)?;
    let voids = crate::rate::voids_from_csv(&files.voids.name, &files.voids.bytes)?;
    let contracts =
        ContractSet::new(vec![(contract_file.name.clone(), contract)]).map_err(|e| AppError::Invalid(e.to_string()))?;
    Ok((
        RatingInputs {
            contracts,
            fx,
            contributions,
            registry,
        },
        voids,
    ))
}

/// The host's events of the statement, by key with their leaves, in tree order, and
/// how many of them the voids leave out. Duplicates count once (the first
/// occurrence, as `rate` does); invalid records are skipped (`rate` reports them).
fn host_events(
    usage: &[(String, Arc<[u8]>)],
    contract: &ContractVersions,
    registry: Option<&ModelRegistry>,
    period: Period,
    voids: &Voids,
) -> Result<(BTreeMap<EventKey, Hash>, u64)> {
    let mut seen: BTreeSet<EventKey> = BTreeSet::new();
    let mut events = BTreeMap::new();
    let mut voided = 0;
    for (name, bytes) in usage {
        let mut reader = RecordReader::new(Cursor::new(bytes.clone()));
        while let Some(chunk) = reader
            .next_chunk()
            .map_err(|e| AppError::Invalid(format!("{name}: {e}")))?
        {
            for record in &chunk.records {
                let Ok(event) = UsageEvent::parse(chunk.record_bytes(record)) else {
                    continue;
                };
                let key = EventKey {
                    source: event.source.to_string(),
                    id: event.id.to_string(),
                };
                if !seen.insert(key.clone()) {
                    continue;
                }
                let data = &event.data;
                let day = revshare_core::period::Day(event.time_utc.utc_day());
                if selects(contract, |_| registry, &data.host, &data.model, day) != Some(period) {
                    continue;
                }
                if voids.contains(&key.source, &key.id) {
                    voided += 1;
                    continue;
                }
                events.insert(key, event.leaf_hash());
            }
            reader.recycle(chunk);
        }
    }
    Ok((events, voided))
}

/// Reconciles a closed statement with the host's own usage (statements.md,
/// Reconciliation). An error is input that cannot be reconciled (a file that does
/// not parse, leaves or inputs not of this statement); a disagreement is a report
/// whose `agrees` is false.
pub fn reconcile(given: Given<'_>) -> Result<Report> {
    let statement = statement_of(given.statement, given.keys)?;
    let statement_id = statement
        .statement_id
        .as_ref()
        .map(ToString::to_string)
        .ok_or_else(|| {
            AppError::Invalid(format!(
                "{}: not a closed statement (no statement_id)",
                given.statement.name
            ))
        })?;
    let leaves = leaves_of(given.leaves, &statement, &statement_id)?;
    let period = Period::parse(&statement.period)
        .ok_or_else(|| AppError::Invalid(format!("{}: period `{}`", given.statement.name, statement.period)))?;
    let (inputs, voids) = rating_inputs(given.inputs, &statement)?;

    let mut problems = Vec::new();
    let mut report = |problem: &Problem| {
        problems.push(format!("{}:{}: {}", problem.file, problem.line, problem.message));
    };
    let usage: Vec<UsageInput> = given
        .usage
        .iter()
        .map(|(name, bytes)| UsageInput {
            name: name.clone(),
            reader: Box::new(Cursor::new(bytes.clone())),
        })
        .collect();
    let output = rate_usage_without(&inputs, usage, Some(period), &voids, &mut report)
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let rated = output
        .statements
        .into_iter()
        .find(|s| s.contract == statement.contract && s.period == statement.period);

    let versions = &inputs.contracts.contracts[0];
    let (events, voided) = host_events(&given.usage, versions, inputs.registry.as_ref(), period, &voids)?;
    let counted: BTreeSet<&Hash> = leaves.iter().collect();
    let held: BTreeSet<&Hash> = events.values().collect();
    let not_counted: Vec<EventKey> = events
        .iter()
        .filter(|(_, leaf)| !counted.contains(leaf))
        .map(|(key, _)| key.clone())
        .collect();
    let missing: Vec<String> = leaves
        .iter()
        .filter(|leaf| !held.contains(leaf))
        .map(hex::encode)
        .collect();

    let mut differences = Vec::new();
    match &rated {
        Some(rated) => compare(&statement, rated, &mut differences),
        None => differences.push(Difference {
            item: format!("statement {statement_id}"),
            field: None,
            statement: Some("present".to_string()),
            host: None,
        }),
    }
    let agrees = differences.is_empty() && not_counted.is_empty() && missing.is_empty();
    Ok(Report {
        statement_id,
        contract: statement.contract.clone(),
        period: statement.period.clone(),
        signature_checked: given.keys.is_some(),
        agrees,
        statement_events: statement.events.count,
        host_events: events.len() as u64,
        voided,
        differences,
        not_counted,
        missing,
        problems,
    })
}

/// Collects the differences of two sides keyed alike: an item on one side only, or
/// each field whose values differ.
struct Diff<'d> {
    out: &'d mut Vec<Difference>,
}

impl Diff<'_> {
    fn field(&mut self, item: &str, field: &str, statement: String, host: String) {
        if statement != host {
            self.out.push(Difference {
                item: item.to_string(),
                field: Some(field.to_string()),
                statement: Some(statement),
                host: Some(host),
            });
        }
    }

    /// Compares two maps of items, each item a list of `(field, value)`.
    fn items<K: Ord>(
        &mut self,
        name: impl Fn(&K) -> String,
        statement: BTreeMap<K, Vec<(&'static str, String)>>,
        mut host: BTreeMap<K, Vec<(&'static str, String)>>,
    ) {
        for (key, fields) in statement {
            let item = name(&key);
            match host.remove(&key) {
                Some(theirs) => {
                    for ((field, ours), (_, theirs)) in fields.into_iter().zip(theirs) {
                        self.field(&item, field, ours, theirs);
                    }
                }
                None => self.out.push(Difference {
                    item,
                    field: None,
                    statement: Some("present".to_string()),
                    host: None,
                }),
            }
        }
        for key in host.keys() {
            self.out.push(Difference {
                item: name(key),
                field: None,
                statement: None,
                host: Some("present".to_string()),
            });
        }
    }
}

/// What the host's rating can reproduce of the statement: its lines, exceptions,
/// volume, contribution delta, subtotal, the period's own adjustments (minimum
/// guarantee, cap), unique customers and `events` tree; the total and payouts too
/// unless the statement carries adjustments settled from other trees (prior periods,
/// disputes), which a rating of this period's usage cannot know.
fn compare(statement: &Statement, host: &Statement, out: &mut Vec<Difference>) {
    let mut diff = Diff { out };
    let currency = statement.currency.clone();
    let lines = |s: &Statement| {
        s.lines
            .iter()
            .map(|l| {
                (
                    (l.model.clone(), l.use_case.clone()),
                    vec![
                        ("events", l.events.to_string()),
                        ("requests", l.requests.to_string()),
                        ("input_tokens", l.input_tokens.to_string()),
                        ("output_tokens", l.output_tokens.to_string()),
                        ("revenue", l.revenue.clone()),
                        ("base", l.base.clone()),
                        ("amount", l.amount.clone()),
                    ],
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    diff.items(
        |(model, use_case)| format!("line {model}/{use_case} ({currency})"),
        lines(statement),
        lines(host),
    );
    let exceptions = |s: &Statement| {
        s.exceptions
            .iter()
            .map(|e| {
                (
                    (e.kind.as_str(), e.currency.clone()),
                    vec![("events", e.events.to_string()), ("revenue", e.revenue.clone())],
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    diff.items(
        |(kind, currency)| format!("exception {kind} ({currency})"),
        exceptions(statement),
        exceptions(host),
    );
    let own_adjustments = |s: &Statement| {
        s.adjustments
            .iter()
            .filter(|a| !a.kind.is_carried())
            .map(|a| (a.kind, vec![("amount", a.amount.clone())]))
            .collect::<BTreeMap<AdjustmentKind, _>>()
    };
    diff.items(
        |kind| format!("adjustment {}", kind.as_str()),
        own_adjustments(statement),
        own_adjustments(host),
    );
    let (s, h) = (&statement.volume, &host.volume);
    diff.field("volume", "metric", s.metric.clone(), h.metric.clone());
    diff.field("volume", "value", s.value.clone(), h.value.clone());
    diff.field("volume", "multiplier", s.multiplier.clone(), h.multiplier.clone());
    diff.field(
        "contribution_delta",
        "value",
        statement.contribution_delta.clone(),
        host.contribution_delta.clone(),
    );
    diff.field("subtotal", "amount", statement.subtotal.clone(), host.subtotal.clone());
    diff.field(
        "unique_customers",
        "count",
        statement.unique_customers.to_string(),
        host.unique_customers.to_string(),
    );
    diff.field(
        "events",
        "count",
        statement.events.count.to_string(),
        host.events.count.to_string(),
    );
    diff.field(
        "events",
        "merkle_root",
        statement.events.merkle_root.clone(),
        host.events.merkle_root.clone(),
    );
    if !statement.adjustments.iter().any(|a| a.kind.is_carried()) {
        diff.field("total", "amount", statement.total.clone(), host.total.clone());
        let payouts = |s: &Statement| {
            s.payouts
                .iter()
                .map(|(b, amount)| (b.clone(), vec![("amount", amount.clone())]))
                .collect::<BTreeMap<_, _>>()
        };
        diff.items(|b| format!("payout {b}"), payouts(statement), payouts(host));
    }
}
