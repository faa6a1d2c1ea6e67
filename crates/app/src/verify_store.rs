//! `audit verify` (statements.md, Audit log): everything stored is checked against
//! what was signed and chained, so an edit that bypasses the service (an event's
//! quantities or hash, a statement's bytes, an input table, an audit entry, a deleted
//! row) is named:
//!
//! 1. the chain: each entry's digest, hash and link, and each statement's
//!    `audit_head` against the entry it names;
//! 2. every statement and payout notice: its signature over the stored bytes, and
//!    its trees' roots from the stored leaves;
//! 3. every closed period, re-rated as of its close, equals its signed statement;
//! 4. the ledger (not kept by this version: nothing to check);
//! 5. every audited row against the payload of its latest entry, rows without
//!    entries and entries without rows, and the idempotency keys against the events.

use std::collections::{BTreeMap, HashMap};

use revshare_core::audit::{check_entries, Entry, Head};
use revshare_core::period::Period;
use revshare_core::verify::{verify_bytes, PublicKey, Verified};
use revshare_store::backend::{EventView, StatementRow};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::close::build;
use crate::rows::{fx_payload, object, payload, BatchHasher};
use crate::settle::VerifiedStatements;
use crate::snapshot::Snapshot;
use crate::statements::{split_leaves, tree_names};
use crate::{Backend, Result};

/// One thing that does not hold, named.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Which of the five checks found it.
    pub check: u8,
    /// The object: `audit:<seq>`, `statement:<id>`, `event:<source>/<id>`, ….
    pub object: String,
    pub message: String,
}

/// What `audit verify` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub entries: u64,
    pub statements: u64,
    pub rerated: u64,
    pub events: u64,
    pub failures: Vec<Failure>,
}

impl Report {
    pub fn holds(&self) -> bool {
        self.failures.is_empty()
    }

    fn fail(&mut self, check: u8, object: impl Into<String>, message: impl Into<String>) {
        self.failures.push(Failure {
            check,
            object: object.into(),
            message: message.into(),
        });
    }
}

/// Runs the five checks for `actor` (the operator, or an auditor, who is told of
/// the failures about its own contracts and of the chain). `since_seq` skips
/// re-rating (check 3) of statements closed at or before that entry; every other
/// check always runs in full.
pub fn verify(backend: &mut dyn Backend, actor: &crate::Actor, since_seq: Option<i64>) -> Result<Report> {
    crate::access::require(actor, crate::access::Permission::VerifyStore)?;
    let mut report = verify_all(backend, since_seq)?;
    if !actor.is_operator() {
        let own = crate::access::Own::of(backend, actor)?;
        report.failures.retain(|f| {
            let object = f.object.strip_prefix("notice:").map_or_else(
                || f.object.clone(),
                |rest| format!("statement:{}", rest.rsplit_once(':').map_or(rest, |(s, _)| s)),
            );
            object.starts_with("audit:") || own.sees_entry(&object)
        });
        // The counts too are of what the actor may see, not of the whole store
        // (another host's volume is not an auditor's business).
        let contracts = crate::access::own_contracts(backend, actor)?;
        let statements: Vec<StatementRow> = backend
            .statements()?
            .into_iter()
            .filter(|s| contracts.contains(&s.contract))
            .collect();
        report.statements = statements.len() as u64;
        report.rerated = statements
            .iter()
            .filter(|r| since_seq.is_none_or(|since| r.close_seq > since))
            .count() as u64;
        report.events = 0;
        for host in own.hosts() {
            report.events += backend.count_events(host, i32::MIN, i32::MAX, 0, i64::MAX)?;
        }
    }
    Ok(report)
}

fn verify_all(backend: &mut dyn Backend, since_seq: Option<i64>) -> Result<Report> {
    let mut report = Report::default();
    let entries = crate::audit::all_entries(backend, 0)?;
    report.entries = entries.len() as u64;
    let statements = backend.statements()?;
    report.statements = statements.len() as u64;
    check_chain(&entries, &statements, &mut report);
    let keys = crate::keys::public_keys(backend)?;
    check_signatures(backend, &keys, &statements, &mut report)?;
    check_rerating(backend, &keys, &entries, &statements, since_seq, &mut report)?;
    check_rows(backend, &entries, &mut report)?;
    Ok(report)
}

/// Check 1.
fn check_chain(entries: &[Entry], statements: &[StatementRow], report: &mut Report) {
    if let Err(error) = check_entries(entries) {
        let seq = match &error {
            revshare_core::audit::ChainError::Digest { seq }
            | revshare_core::audit::ChainError::Link { seq, .. }
            | revshare_core::audit::ChainError::Hash { seq }
            | revshare_core::audit::ChainError::Sequence { seq, .. }
            | revshare_core::audit::ChainError::Encoding { seq, .. } => *seq,
            _ => 0,
        };
        report.fail(1, format!("audit:{seq}"), error.to_string());
    }
    if entries.first().is_some_and(|e| e.seq != 1) {
        report.fail(1, "audit:1", "the log's first entries are missing");
    }
    let by_seq: HashMap<u64, &Entry> = entries.iter().map(|e| (e.seq, e)).collect();
    for row in statements {
        let head = serde_json::from_str::<serde_json::Value>(&row.json)
            .ok()
            .and_then(|v| serde_json::from_value::<revshare_core::statement::AuditHead>(v["audit_head"].clone()).ok());
        let Some(head) = head else {
            report.fail(
                1,
                object::statement(&row.statement_id),
                "its audit_head is missing or malformed",
            );
            continue;
        };
        let holds = head.seq == 0 && head.hash == Head::EMPTY.anchor().hash
            || by_seq.get(&head.seq).is_some_and(|e| e.hash == head.hash);
        if !holds {
            report.fail(
                1,
                object::statement(&row.statement_id),
                format!(
                    "its signed audit_head (entry {}, hash {}) is not the log's entry {}: the log's history was rewritten",
                    head.seq, head.hash, head.seq
                ),
            );
        }
    }
}

/// Check 2.
fn check_signatures(
    backend: &mut dyn Backend,
    keys: &[PublicKey],
    statements: &[StatementRow],
    report: &mut Report,
) -> Result<()> {
    for row in statements {
        let name = object::statement(&row.statement_id);
        let verified = match verify_bytes(row.json.as_bytes(), keys) {
            Ok(Verified::Statement(statement)) => statement,
            Ok(Verified::PayoutNotice(_)) => {
                report.fail(2, name, "the stored bytes are a payout notice, not a statement");
                continue;
            }
            Err(error) => {
                report.fail(2, name, format!("its signature fails over the stored bytes: {error}"));
                continue;
            }
        };
        for tree in tree_names(verified.statement()) {
            let signed = revshare_core::verify::signed_tree(verified.statement(), &tree);
            let stored = backend.tree(&row.statement_id, &tree.to_string())?;
            let holds = match (signed, stored) {
                (Some((count, root)), Some(stored)) => split_leaves(&stored).is_ok_and(|leaves| {
                    leaves.len() as u64 == count && hex::encode(revshare_core::merkle::root(&leaves)) == root
                }),
                _ => false,
            };
            if !holds {
                report.fail(
                    2,
                    name.clone(),
                    format!("the stored leaves of its tree `{tree}` do not make the signed root"),
                );
            }
        }
        check_notices(backend, keys, &verified, row, report)?;
    }
    Ok(())
}

fn check_notices(
    backend: &mut dyn Backend,
    keys: &[PublicKey],
    verified: &revshare_core::verify::VerifiedStatement,
    row: &StatementRow,
    report: &mut Report,
) -> Result<()> {
    let statement = verified.statement();
    let notices = backend.notices(&row.statement_id)?;
    for (beneficiary, payout) in &statement.payouts {
        if *beneficiary == statement.licensor || *beneficiary == statement.host {
            continue;
        }
        let name = format!("notice:{}:{beneficiary}", row.statement_id);
        let Some(stored) = notices.iter().find(|n| n.beneficiary == *beneficiary) else {
            report.fail(2, name, "the payout notice is missing");
            continue;
        };
        match verify_bytes(stored.json.as_bytes(), keys) {
            Ok(Verified::PayoutNotice(notice)) => {
                let n = notice.notice();
                if n.statement_sha256 != verified.sha256()
                    || n.payout != *payout
                    || n.beneficiary != *beneficiary
                    || Some(&n.audit_head) != statement.audit_head.as_ref()
                {
                    report.fail(2, name, "the payout notice does not match its statement");
                }
            }
            Ok(Verified::Statement(_)) => report.fail(2, name, "the stored bytes are not a payout notice"),
            Err(error) => report.fail(2, name, format!("its signature fails over the stored bytes: {error}")),
        }
    }
    Ok(())
}

/// Check 3.
fn check_rerating(
    backend: &mut dyn Backend,
    keys: &[PublicKey],
    entries: &[Entry],
    statements: &[StatementRow],
    since_seq: Option<i64>,
    report: &mut Report,
) -> Result<()> {
    let mut snapshots: BTreeMap<i64, Vec<&StatementRow>> = BTreeMap::new();
    for row in statements
        .iter()
        .filter(|r| since_seq.is_none_or(|since| r.close_seq > since))
    {
        snapshots.entry(row.close_seq).or_default().push(row);
    }
    for (seq, rows) in snapshots {
        let head = match seq {
            0 => Head::EMPTY,
            _ => match entries.iter().find(|e| e.seq as i64 == seq).map(Entry::head) {
                Some(Ok(head)) => head,
                _ => {
                    for row in rows {
                        report.fail(
                            3,
                            object::statement(&row.statement_id),
                            format!("entry {seq} it closed at is gone"),
                        );
                    }
                    continue;
                }
            },
        };
        let snapshot = Snapshot::load(backend, seq)?;
        let mut verified = VerifiedStatements::new(keys.to_vec());
        for row in rows {
            report.rerated += 1;
            if let Err(message) = rerate_one(backend, &snapshot, &mut verified, row, head) {
                report.fail(3, object::statement(&row.statement_id), message);
            }
        }
    }
    Ok(())
}

/// A closed statement re-rated as of its close: its JSON without `signature`, as the
/// close would have printed it (what check 3 compares with the stored statement).
pub fn rerated_json(backend: &mut dyn Backend, statement_id: &str) -> Result<String> {
    let row = backend
        .statement(statement_id)?
        .ok_or_else(|| crate::AppError::NotFound(format!("no statement `{statement_id}` is closed")))?;
    let head = match row.close_seq {
        0 => Head::EMPTY,
        seq => backend
            .audit_entry(seq)?
            .ok_or_else(|| crate::AppError::Integrity(format!("entry {seq} is gone")))?
            .head()
            .map_err(|e| crate::AppError::Integrity(e.to_string()))?,
    };
    let snapshot = Snapshot::load(backend, row.close_seq)?;
    let mut verified = VerifiedStatements::new(crate::keys::public_keys(backend)?);
    let period = Period::parse(&row.period).ok_or_else(|| crate::AppError::Integrity("bad period".into()))?;
    let index = snapshot
        .contract_index(&row.contract)
        .ok_or_else(|| crate::AppError::Integrity("its contract is gone".into()))?;
    let mut hosts = crate::close::HostEvents::new(period);
    let inputs = crate::close::Inputs {
        snapshot: &snapshot,
        verified: &mut verified,
        hosts: &mut hosts,
    };
    let built = build(backend, inputs, index, period, &row.closed_at, head)?
        .ok_or_else(|| crate::AppError::Integrity("nothing to close".into()))?;
    Ok(built.statement.to_json_pretty())
}

/// Re-rates one statement as of its close and compares it with the signed one.
fn rerate_one(
    backend: &mut dyn Backend,
    snapshot: &Snapshot,
    verified: &mut VerifiedStatements,
    row: &StatementRow,
    head: Head,
) -> std::result::Result<(), String> {
    let period = Period::parse(&row.period).ok_or("its period does not parse")?;
    let index = snapshot
        .contract_index(&row.contract)
        .ok_or("its contract was not stored when it closed")?;
    let mut hosts = crate::close::HostEvents::new(period);
    let inputs = crate::close::Inputs {
        snapshot,
        verified,
        hosts: &mut hosts,
    };
    let built = build(backend, inputs, index, period, &row.closed_at, head)
        .map_err(|e| format!("re-rating it as of its close failed: {e}"))?
        .ok_or("re-rated as of its close, there is nothing to close")?;
    let stored: serde_json::Value = serde_json::from_str(&row.json).map_err(|e| format!("unreadable: {e}"))?;
    let mut stored = match stored {
        serde_json::Value::Object(map) => map,
        _ => return Err("not a JSON object".into()),
    };
    stored.remove("signature");
    let rebuilt = match serde_json::to_value(&built.statement) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => return Err("the re-rated statement does not serialize".into()),
    };
    if stored == rebuilt {
        return Ok(());
    }
    let differing: Vec<&String> = stored
        .keys()
        .chain(rebuilt.keys())
        .filter(|k| stored.get(*k) != rebuilt.get(*k))
        .collect();
    let mut names: Vec<&str> = differing.iter().map(|k| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    Err(format!(
        "re-rated as of its close (entry {}), it differs from the signed statement in: {}",
        snapshot.seq,
        names.join(", ")
    ))
}

/// Check 5.
fn check_rows(backend: &mut dyn Backend, entries: &[Entry], report: &mut Report) -> Result<()> {
    let mut covered = Covered::new(entries);
    check_table_rows(backend, &mut covered, report)?;
    check_event_rows(backend, &mut covered, report)?;
    for entry in entries {
        if !covered.seen.contains_key(&entry.seq) {
            report.fail(
                5,
                format!("audit:{}", entry.seq),
                format!(
                    "entry {} ({} {}) names a row that is gone",
                    entry.seq,
                    entry.action.as_str(),
                    entry.object
                ),
            );
        }
    }
    Ok(())
}

/// The entries by seq, and which of them a stored row answers to.
struct Covered<'e> {
    by_seq: HashMap<i64, &'e Entry>,
    latest: HashMap<&'e str, u64>,
    seen: HashMap<u64, ()>,
}

impl<'e> Covered<'e> {
    fn new(entries: &'e [Entry]) -> Covered<'e> {
        let mut latest = HashMap::new();
        for entry in entries {
            latest.insert(entry.object.as_str(), entry.seq);
        }
        Covered {
            by_seq: entries.iter().map(|e| (e.seq as i64, e)).collect(),
            latest,
            seen: HashMap::new(),
        }
    }

    /// Checks a row: the entry at its seq names it, is the latest about it, and
    /// holds the hash of its columns.
    fn row(&mut self, report: &mut Report, object: String, seq: i64, payload_sha256: [u8; 32]) {
        self.check(report, object, seq, payload_sha256, true);
    }

    /// Checks a group of rows stored by one entry (FX rates, a batch of events):
    /// entries about the same object name each stand for their own group.
    fn group(&mut self, report: &mut Report, object: String, seq: i64, payload_sha256: [u8; 32]) {
        self.check(report, object, seq, payload_sha256, false);
    }

    fn check(&mut self, report: &mut Report, object: String, seq: i64, payload_sha256: [u8; 32], latest: bool) {
        let Some(entry) = self.by_seq.get(&seq) else {
            report.fail(
                5,
                object,
                format!("the row claims entry {seq}, which does not exist (a row without an entry)"),
            );
            return;
        };
        self.seen.insert(entry.seq, ());
        if entry.object != object {
            report.fail(
                5,
                object,
                format!("the row claims entry {seq}, which is about {}", entry.object),
            );
        } else if latest && self.latest.get(entry.object.as_str()) != Some(&entry.seq) {
            report.fail(
                5,
                object,
                format!("the row is older than the latest entry about it (it claims {seq})"),
            );
        } else if entry.payload_sha256 != hex::encode(payload_sha256) {
            report.fail(
                5,
                object,
                format!("the stored row does not match entry {seq}'s payload: it was edited"),
            );
        }
    }

    /// Marks the entries about an object as answered to by its row (the older ones
    /// of a row that changed).
    fn older(&mut self, object: &str) {
        let seqs: Vec<u64> = self
            .by_seq
            .values()
            .filter(|e| e.object == object)
            .map(|e| e.seq)
            .collect();
        for seq in seqs {
            self.seen.insert(seq, ());
        }
    }
}

fn check_table_rows(backend: &mut dyn Backend, covered: &mut Covered<'_>, report: &mut Report) -> Result<()> {
    for row in backend.signing_keys()? {
        covered.row(report, object::key(&row.key_id), row.seq, payload(&row));
    }
    for row in backend.parties()? {
        covered.row(report, object::party(&row.id), row.seq, payload(&row));
    }
    for row in backend.tokens()? {
        let name = object::token(&row.token_id);
        covered.older(&name);
        covered.row(report, name, row.seq, payload(&row));
    }
    for row in backend.contracts()? {
        covered.row(report, object::contract(&row.id, row.version), row.seq, payload(&row));
    }
    let mut fx: BTreeMap<i64, Vec<revshare_store::backend::FxRow>> = BTreeMap::new();
    for row in backend.fx()? {
        fx.entry(row.seq).or_default().push(row);
    }
    for (seq, rows) in fx {
        covered.group(report, object::FX.to_string(), seq, fx_payload(&rows));
    }
    for row in backend.registries()? {
        covered.row(report, object::registry(row.version), row.seq, payload(&row));
    }
    for row in backend.contributions()? {
        let name = object::contribution(&row.contract, row.number);
        covered.older(&name);
        covered.row(report, name, row.seq, payload(&row));
    }
    for row in backend.voids()? {
        covered.row(report, object::void(&row.host, row.number), row.seq, payload(&row));
    }
    for row in backend.statements()? {
        covered.row(report, object::statement(&row.statement_id), row.seq, payload(&row));
    }
    Ok(())
}

/// The events of one batch (one seq), owned for sorting.
#[derive(Default)]
struct Group {
    seq: i64,
    host: String,
    hosts: usize,
    rows: Vec<(Vec<u8>, Vec<u8>, [u8; 32])>,
}

fn check_event_rows(backend: &mut dyn Backend, covered: &mut Covered<'_>, report: &mut Report) -> Result<()> {
    let mut group = Group::default();
    let mut event_digests: Vec<[u8; 32]> = Vec::new();
    let mut visit = |e: &EventView<'_>| -> revshare_store::backend::Result<()> {
        if e.seq != group.seq && !group.rows.is_empty() {
            finish_group(std::mem::take(&mut group), covered, report);
        }
        if group.rows.is_empty() {
            group.seq = e.seq;
            group.host = e.host.to_string();
            group.hosts = 1;
        } else if group.host != e.host {
            group.hosts += 1;
        }
        let mut jcs = Vec::with_capacity(400);
        crate::rows::write_event_row(e, &mut jcs);
        let mut key = e.source.as_bytes().to_vec();
        key.push(0);
        key.extend_from_slice(e.id.as_bytes());
        let leaf: [u8; 32] = e.leaf.try_into().unwrap_or([0; 32]);
        event_digests.push(key_digest(e.source, e.id, e.leaf, e.host, e.day));
        group.rows.push((key, jcs, leaf));
        Ok(())
    };
    backend.scan_all_events(&mut visit)?;
    if !group.rows.is_empty() {
        finish_group(group, covered, report);
    }
    report.events = event_digests.len() as u64;
    let mut key_digests = Vec::with_capacity(event_digests.len());
    backend.scan_keys(&mut |k| {
        key_digests.push(key_digest(&k.source, &k.id, &k.leaf, &k.host, k.day));
        Ok(())
    })?;
    event_digests.sort_unstable();
    key_digests.sort_unstable();
    if event_digests != key_digests {
        name_key_differences(backend, &event_digests, &key_digests, report)?;
    }
    Ok(())
}

fn finish_group(mut group: Group, covered: &mut Covered<'_>, report: &mut Report) {
    group.rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hasher = BatchHasher::default();
    for (_, jcs, leaf) in &group.rows {
        hasher.add(leaf, jcs);
    }
    let name = object::events(&group.host);
    if group.hosts > 1 {
        report.fail(
            5,
            name.clone(),
            format!("the events stored at entry {} belong to more than one host", group.seq),
        );
    }
    covered.group(report, name, group.seq, hasher.finish());
}

/// One digest of an event's key row, the same from both tables.
fn key_digest(source: &str, id: &str, leaf: &[u8], host: &str, day: i32) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in [source.as_bytes(), id.as_bytes(), leaf, host.as_bytes()] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.update(day.to_le_bytes());
    hasher.finalize().into()
}

/// Names the events whose key row and event row disagree.
fn name_key_differences(
    backend: &mut dyn Backend,
    events: &[[u8; 32]],
    keys: &[[u8; 32]],
    report: &mut Report,
) -> Result<()> {
    let only_events: std::collections::HashSet<&[u8; 32]> =
        events.iter().filter(|d| keys.binary_search(d).is_err()).collect();
    let only_keys: std::collections::HashSet<&[u8; 32]> =
        keys.iter().filter(|d| events.binary_search(d).is_err()).collect();
    let mut named = Vec::new();
    backend.scan_all_events(&mut |e| {
        if only_events.contains(&key_digest(e.source, e.id, e.leaf, e.host, e.day)) {
            named.push((
                format!("event:{}/{}", e.source, e.id),
                "its idempotency key row is missing or differs",
            ));
        }
        Ok(())
    })?;
    backend.scan_keys(&mut |k| {
        if only_keys.contains(&key_digest(&k.source, &k.id, &k.leaf, &k.host, k.day)) {
            named.push((
                format!("event:{}/{}", k.source, k.id),
                "its idempotency key row has no such stored event",
            ));
        }
        Ok(())
    })?;
    for (object, message) in named {
        report.fail(5, object, message);
    }
    Ok(())
}
