//! `audit verify` (statements.md, Audit log): everything stored is checked against
//! what was signed and chained, so an edit that bypasses the service (an event's
//! quantities or hash, a statement's bytes, an input table, an audit entry, a deleted
//! row, a derived column) is named:
//!
//! 1. the chain: each entry's digest, hash and link, and each statement's
//!    `audit_head` against the entry it names;
//! 2. every statement and payout notice: its signature over the stored bytes, its
//!    trees' roots from the stored leaves, and the counts and roots stored beside them;
//! 3. every closed period, re-rated as of its close, equals its signed statement;
//! 4. the ledger: every leg derived again from the statements' payouts and the
//!    payments' confirmations and reversals, and every transaction summing to zero
//!    (`ledger`);
//! 5. every audited row against the payload of its latest entry, rows without
//!    entries and entries without rows, the idempotency keys against the events, and
//!    the counts and day ranges stored beside the events, and every MAU flag derived
//!    again as of its entry (`rows`);
//! 6. the log's Merkle tree and its checkpoints (`tree`).
//!
//! Stored data that does not decode is named as its object, and the checks go on.

mod ledger;
mod rows;
mod tree;

use std::collections::BTreeMap;

use revshare_core::audit::{check_entries, Entry, Head, Seq};
use revshare_core::log_tree::Hash;
use revshare_core::period::Period;
use revshare_core::statement::{AdjustmentKind, AuditHead};
use revshare_core::verify::{verify_bytes, PublicKey, Verified};
use revshare_store::backend::{ClosedAfterTermRow, StatementRow};
use revshare_store::StoreError;
use serde::Serialize;

use crate::checked::Trust;
use crate::close::{build, Building};
use crate::closed::VerifiedStatements;
use crate::keys::Keys;
use crate::rows::object;
use crate::snapshot::Snapshot;
use crate::trees::split_leaves;
use crate::{AppError, Backend, Result};
use revshare_core::verify::tree_names;
use revshare_store::backend::{leaf_index, TreePart, INDEX_ENTRY};

/// One thing that does not hold, named.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Which of the six checks found it.
    pub check: u8,
    /// The object: `audit:<seq>`, `statement:<id>`, `event:<source>/<id>`, `log`, ….
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
    /// The size of the log's newest checkpoint, and of the one kept beside the key
    /// file when the key file was given.
    pub checkpoint: Option<u64>,
    pub kept_checkpoint: Option<u64>,
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

    /// A read that failed on stored data that does not decode: named, and the
    /// checks go on without it. Any other failure stops them.
    fn tolerate<T>(&mut self, check: u8, read: Result<T>) -> Result<Option<T>> {
        match read {
            Ok(value) => Ok(Some(value)),
            Err(AppError::Store(StoreError::Corrupt { object, message })) => {
                self.fail(check, object, message);
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }
}

/// The `--since-seq` bound as given (a signed number): a negative one skips no
/// statement, as every close is after it.
pub fn since_seq(given: Option<i64>) -> Option<Seq> {
    given.and_then(|seq| Seq::try_from(seq).ok())
}

/// Runs the checks for `actor` (the operator, or an auditor, who is told of the
/// failures about its own contracts, of the chain and of the log). `since_seq`
/// skips re-rating (check 3) of statements closed at or before that entry; every
/// other check always runs in full. Without the key file, the log is not checked
/// against the checkpoint kept beside it ([`verify_with_keys`] does that).
pub fn verify(backend: &mut dyn Backend, actor: &crate::Actor, since_seq: Option<Seq>) -> Result<Report> {
    crate::access::require(actor, crate::access::Permission::VerifyStore)?;
    let report = verify_all(backend, Checks::Tree(None), since_seq)?;
    for_actor(backend, actor, report, since_seq)
}

/// [`verify`], with the key file: the log is also checked against the checkpoint
/// kept beside it, and its newest checkpoint against the key.
pub fn verify_with_keys(
    backend: &mut dyn Backend,
    actor: &crate::Actor,
    keys: &Keys,
    since_seq: Option<Seq>,
) -> Result<Report> {
    crate::access::require(actor, crate::access::Permission::VerifyStore)?;
    let report = verify_all(backend, Checks::Tree(Some(keys)), since_seq)?;
    for_actor(backend, actor, report, since_seq)
}

/// Checks 1 to 5 of a store made before the log was a tree: what its upgrade
/// requires to hold first.
pub(crate) fn verify_before_tree(backend: &mut dyn Backend) -> Result<Report> {
    verify_all(backend, Checks::BeforeTree, None)
}

/// Which checks run besides checks 1 to 5.
#[derive(Clone, Copy)]
enum Checks<'k> {
    /// Check 6 too, with the key file if given.
    Tree(Option<&'k Keys>),
    /// A store not upgraded yet has no tree to check.
    BeforeTree,
}

/// What an auditor is told: failures about its own contracts, the chain and the
/// log, and counts of what it may see.
fn for_actor(
    backend: &mut dyn Backend,
    actor: &crate::Actor,
    mut report: Report,
    since_seq: Option<Seq>,
) -> Result<Report> {
    if crate::access::sees_everything(actor) {
        return Ok(report);
    }
    let own = crate::audit::reader(backend, actor)?;
    report.failures.retain(|f| {
        let object = f.object.strip_prefix("notice:").map_or_else(
            || f.object.clone(),
            |rest| format!("statement:{}", rest.rsplit_once(':').map_or(rest, |(s, _)| s)),
        );
        object.starts_with("audit:") || object == object::LOG || own.sees_entry(&object)
    });
    // The counts too are of what the actor may see, not of the whole store
    // (another host's volume is not an auditor's business).
    let contracts = crate::access::own_contracts(backend, actor)?;
    let stored = match backend.statements() {
        Ok(rows) => rows,
        // Named by the checks already (check 2), when the auditor may see it.
        Err(StoreError::Corrupt { .. }) => Vec::new(),
        Err(error) => return Err(error.into()),
    };
    let statements: Vec<StatementRow> = stored.into_iter().filter(|s| contracts.contains(&s.contract)).collect();
    report.statements = statements.len() as u64;
    report.rerated = statements
        .iter()
        .filter(|r| since_seq.is_none_or(|since| r.close_seq > since))
        .count() as u64;
    report.events = 0;
    for host in own.hosts() {
        report.events += backend.count_events(host, i32::MIN, i32::MAX, Seq::ZERO, Seq::MAX)?;
    }
    Ok(report)
}

fn verify_all(backend: &mut dyn Backend, checks: Checks<'_>, since_seq: Option<Seq>) -> Result<Report> {
    let mut report = Report::default();
    let entries = match report.tolerate(1, crate::audit::all_entries(backend, revshare_core::audit::Seq::ZERO))? {
        Some(entries) => entries,
        None => return Ok(report),
    };
    report.entries = entries.len() as u64;
    // A statement row that does not read back (an id that is not one) is named; the
    // checks go on over none, so that the rest of the store is still checked.
    let statements = report
        .tolerate(2, backend.statements().map_err(Into::into))?
        .unwrap_or_default();
    report.statements = statements.len() as u64;
    check_chain(&entries, &statements, &mut report);
    let keys = crate::keys::public_keys(backend)?;
    check_signatures(backend, &keys, &statements, &mut report)?;
    // The log's tree, rebuilt from the entries: what check 6 compares with the stored
    // one, and what check 3 derives anchors from.
    let tree = tree::rebuild(&entries);
    if let Checks::Tree(key_file) = checks {
        tree::check(backend, &tree, &entries, &statements, key_file, &mut report)?;
    }
    check_rerating(backend, &keys, &entries, &statements, &tree, since_seq, &mut report)?;
    check_after_term(backend, &keys, since_seq, &mut report)?;
    ledger::check(backend, &entries, &statements, &mut report)?;
    rows::check(backend, &entries, &mut report)?;
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
            _ => Seq::ZERO,
        };
        report.fail(1, format!("audit:{seq}"), error.to_string());
    }
    if entries.first().is_some_and(|e| e.seq != 1) {
        report.fail(1, "audit:1", "the log's first entries are missing");
    }
    let by_seq: BTreeMap<Seq, &Entry> = entries.iter().map(|e| (e.seq, e)).collect();
    for row in statements {
        let Some(head) = signed_anchor(row) else {
            report.fail(
                1,
                object::statement(&row.statement_id),
                "its audit_head is missing or malformed",
            );
            continue;
        };
        let holds = head.seq == 0 && head.hash == Head::EMPTY.chain_anchor().hash
            || by_seq.get(&Seq::new(head.seq)).is_some_and(|e| e.hash == head.hash);
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

/// The `audit_head` a stored statement signs, as stored.
fn signed_anchor(row: &StatementRow) -> Option<AuditHead> {
    serde_json::from_str::<serde_json::Value>(&row.json)
        .ok()
        .and_then(|v| serde_json::from_value::<AuditHead>(v["audit_head"].clone()).ok())
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
        check_trees(backend, &verified, row, report)?;
        check_notices(backend, keys, &verified, row, report)?;
    }
    Ok(())
}

/// Which stored node of a tree's tiles is not the one its leaves make (`stored[k - 1]`
/// the level k as stored, `made` as made), the first one, in words; none if all are.
fn tiles_differ(stored: &[Vec<u8>], made: &[Vec<revshare_core::merkle::Hash>]) -> Option<String> {
    for level in 0..stored.len().max(made.len()) {
        let made: Vec<u8> = made.get(level).map_or_else(Vec::new, |l| l.concat());
        let stored: &[u8] = stored.get(level).map_or(&[], Vec::as_slice);
        if let Some(at) = first_difference(stored, &made, 32) {
            return Some(format!(
                "the stored node {at} of tile level {} (height {})",
                level + 1,
                8 * (level + 1)
            ));
        }
    }
    None
}

/// The first item of `width` bytes where `stored` differs from `made` (one missing
/// or added counts).
fn first_difference(stored: &[u8], made: &[u8], width: usize) -> Option<usize> {
    let items = stored.len().max(made.len()).div_ceil(width);
    (0..items).find(|&i| {
        let range = |b: &[u8]| b.get(i * width..((i + 1) * width).min(b.len())).map(<[u8]>::to_vec);
        range(stored) != range(made)
    })
}

/// A statement's trees: the stored leaves make the signed root and the stored tiles
/// and leaf index (every node, every entry), and the count and root stored beside
/// them are the signed ones.
fn check_trees(
    backend: &mut dyn Backend,
    verified: &revshare_core::verify::VerifiedStatement,
    row: &StatementRow,
    report: &mut Report,
) -> Result<()> {
    let name = object::statement(&row.statement_id);
    let summaries = backend.tree_summaries(&row.statement_id)?;
    let names = tree_names(verified.statement());
    for tree in &names {
        let signed = revshare_core::verify::signed_tree(verified.statement(), tree);
        let Some(stored) = report.tolerate(
            2,
            backend.tree(&row.statement_id, &tree.to_string()).map_err(Into::into),
        )?
        else {
            continue;
        };
        let leaves = stored.as_ref().and_then(|stored| split_leaves(stored).ok());
        // Each node is hashed once, for the root and the tiles both.
        let made = leaves
            .as_ref()
            .map(|leaves| revshare_core::merkle::root_and_tiles(leaves));
        let holds = match (&signed, &leaves, &made) {
            (Some((count, root)), Some(leaves), Some((made, _))) => {
                leaves.len() as u64 == *count && hex::encode(made) == *root
            }
            _ => false,
        };
        if !holds {
            report.fail(
                2,
                name.clone(),
                format!("the stored leaves of its tree `{tree}` do not make the signed root"),
            );
        }
        if let (Some(stored), Some(leaves), Some((_, tiles))) = (&stored, &leaves, &made) {
            if let Some(wrong) = tiles_differ(&stored.tiles, tiles) {
                report.fail(
                    2,
                    name.clone(),
                    format!("{wrong} of its tree `{tree}` is not the one its leaves make"),
                );
            }
            let index = backend.tree_range(
                &row.statement_id,
                &tree.to_string(),
                TreePart::Index,
                0,
                leaves.len() as u64 + 1,
            )?;
            if let Some(at) = first_difference(&index, &leaf_index(&stored.leaves), INDEX_ENTRY) {
                report.fail(
                    2,
                    name.clone(),
                    format!(
                        "the stored entry {at} of the leaf index of its tree `{tree}` is not the one its leaves make"
                    ),
                );
            }
        }
        let beside = summaries.iter().find(|s| s.tree == tree.to_string());
        let matches = match (&signed, beside) {
            (Some((count, root)), Some(stored)) => stored.count == *count as i64 && stored.root == *root,
            _ => false,
        };
        if !matches {
            report.fail(
                2,
                name.clone(),
                format!("the count or root stored for its tree `{tree}` is not the signed one"),
            );
        }
    }
    for extra in summaries
        .iter()
        .filter(|s| !names.iter().any(|n| n.to_string() == s.tree))
    {
        report.fail(
            2,
            name.clone(),
            format!("a tree `{}` is stored that it does not sign", extra.tree),
        );
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
    for extra in notices
        .iter()
        .filter(|n| !statement.payouts.contains_key(&n.beneficiary))
    {
        report.fail(
            2,
            format!("notice:{}:{}", row.statement_id, extra.beneficiary),
            "a payout notice is stored for a beneficiary the statement does not pay",
        );
    }
    Ok(())
}

/// Check 3. `tree` holds the log's stored hashes recomputed from the entries (check
/// 6), from which the anchors of statements that name a root are derived anew.
fn check_rerating(
    backend: &mut dyn Backend,
    keys: &[PublicKey],
    entries: &[Entry],
    statements: &[StatementRow],
    tree: &[Hash],
    since_seq: Option<Seq>,
    report: &mut Report,
) -> Result<()> {
    let mut snapshots: BTreeMap<Seq, Vec<&StatementRow>> = BTreeMap::new();
    for row in statements
        .iter()
        .filter(|r| since_seq.is_none_or(|since| r.close_seq > since))
    {
        snapshots.entry(row.close_seq).or_default().push(row);
    }
    for (seq, rows) in snapshots {
        let head = match seq {
            Seq::ZERO => Some(Head::EMPTY),
            _ => entries.iter().find(|e| e.seq == seq).and_then(|e| e.head().ok()),
        };
        let snapshot = match (head, Snapshot::load(backend, seq)) {
            (Some(head), Ok(snapshot)) => Some((head, snapshot)),
            (None, _) => {
                fail_all(report, &rows, format!("entry {seq} it closed at is gone"));
                None
            }
            (_, Err(error @ (AppError::Integrity(_) | AppError::Store(StoreError::Corrupt { .. })))) => {
                fail_all(
                    report,
                    &rows,
                    format!("its inputs as of entry {seq} do not load: {error}"),
                );
                None
            }
            (_, Err(error)) => return Err(error),
        };
        let Some((head, snapshot)) = snapshot else {
            continue;
        };
        let mut verified = VerifiedStatements::new(keys.to_vec());
        for row in rows {
            report.rerated += 1;
            let anchor = anchor_of(row, head, tree);
            if let Err(message) = rerate_one(backend, &snapshot, &mut verified, row, &anchor) {
                report.fail(3, object::statement(&row.statement_id), message);
            }
        }
    }
    Ok(())
}

/// Check 3 for the periods closed after a contract's term without a statement: run
/// again as of its close, each comes to no statement and settles the same windows.
fn check_after_term(
    backend: &mut dyn Backend,
    keys: &[PublicKey],
    since_seq: Option<Seq>,
    report: &mut Report,
) -> Result<()> {
    let rows = report
        .tolerate(3, backend.closed_after_term().map_err(Into::into))?
        .unwrap_or_default();
    for row in rows
        .iter()
        .filter(|r| since_seq.is_none_or(|since| r.close_seq > since))
    {
        if let Err(message) = close_after_term_again(backend, keys, row) {
            report.fail(3, object::closed_after_term(&row.statement_id), message);
        }
    }
    Ok(())
}

fn close_after_term_again(
    backend: &mut dyn Backend,
    keys: &[PublicKey],
    row: &ClosedAfterTermRow,
) -> std::result::Result<(), String> {
    let period = Period::parse(&row.period).ok_or("its period does not parse")?;
    if row.statement_id != format!("{}/{period}", row.contract) {
        return Err("its id is not its contract and period".into());
    }
    let snapshot = Snapshot::load(backend, row.close_seq)
        .map_err(|e| format!("its inputs as of entry {} do not load: {e}", row.close_seq))?;
    let index = snapshot
        .contract_index(&row.contract)
        .ok_or("its contract was not stored when it closed")?;
    let mut verified = VerifiedStatements::new(keys.to_vec());
    // A close that issues no statement signs no anchor.
    let anchor = Head::EMPTY.chain_anchor();
    let closed = close_again(
        backend,
        &snapshot,
        &mut verified,
        index,
        period,
        &row.closed_at,
        &anchor,
    )
    .map_err(|e| format!("closing it again as of its close failed: {e}"))?;
    match closed {
        Building::AfterTerm(settled) if serde_json::to_string(&settled).ok().as_ref() == Some(&row.settled) => Ok(()),
        Building::AfterTerm(_) => Err("closed again as of its close, it settles other periods".into()),
        Building::Statement(_) => Err("closed again as of its close, it issues a statement".into()),
        Building::Nothing => Err("closed again as of its close, there is nothing to close".into()),
    }
}

fn fail_all(report: &mut Report, rows: &[&StatementRow], message: String) {
    for row in rows {
        report.fail(3, object::statement(&row.statement_id), message.clone());
    }
}

/// The anchor a close at `head` signs, derived anew: in the statement's own form
/// (with the log's root where it names one, from the rebuilt tree).
fn anchor_of(row: &StatementRow, head: Head, mut tree: &[Hash]) -> AuditHead {
    let names_root = signed_anchor(row).is_some_and(|a| a.root.is_some());
    let root = names_root
        .then(|| revshare_core::log_tree::root(head.size(), &mut tree).ok())
        .flatten();
    match root {
        Some(root) => head.anchor(&root),
        None => head.chain_anchor(),
    }
}

/// A closed statement re-rated as of its close: its JSON without `signature`, as the
/// close would have printed it (what check 3 compares with the stored statement).
pub fn rerated_json(backend: &mut dyn Backend, statement_id: &str) -> Result<String> {
    let row = backend
        .statement(statement_id)?
        .ok_or_else(|| AppError::NotFound(format!("no statement `{statement_id}` is closed")))?;
    let head = match row.close_seq {
        Seq::ZERO => Head::EMPTY,
        seq => backend
            .audit_entry(seq)?
            .ok_or_else(|| AppError::Integrity(format!("entry {seq} is gone")))?
            .head()
            .map_err(|e| AppError::Integrity(e.to_string()))?,
    };
    let anchor = match signed_anchor(&row).and_then(|a| a.root) {
        Some(_) => head.anchor(&crate::log::root_at(backend, head.size())?),
        None => head.chain_anchor(),
    };
    let snapshot = Snapshot::load(backend, row.close_seq)?;
    let mut verified = VerifiedStatements::new(crate::keys::public_keys(backend)?);
    let period = Period::parse(&row.period).ok_or_else(|| AppError::Integrity("bad period".into()))?;
    let index = snapshot
        .contract_index(&row.contract)
        .ok_or_else(|| AppError::Integrity("its contract is gone".into()))?;
    let built = close_again(
        backend,
        &snapshot,
        &mut verified,
        index,
        period,
        &row.closed_at,
        &anchor,
    )?
    .statement()
    .ok_or_else(|| AppError::Integrity("nothing to close".into()))?;
    Ok(built.statement.to_json_pretty())
}

/// Statements closed before prior-period adjustments showed `rerated` and
/// `settled_before` keep their form (statements.md): a stored prior-period adjustment
/// without `rerated` is compared without the two members, everything else as is.
fn in_closed_form(
    stored: &serde_json::Map<String, serde_json::Value>,
    rebuilt: &mut serde_json::Map<String, serde_json::Value>,
) {
    let Some(serde_json::Value::Array(stored)) = stored.get("adjustments") else {
        return;
    };
    let Some(serde_json::Value::Array(rebuilt)) = rebuilt.get_mut("adjustments") else {
        return;
    };
    for (old, new) in stored.iter().zip(rebuilt.iter_mut()) {
        let prior = old.get("kind").and_then(|k| k.as_str()) == Some(AdjustmentKind::PriorPeriod.as_str());
        if prior && old.get("rerated").is_none() {
            if let Some(new) = new.as_object_mut() {
                new.remove("rerated");
                new.remove("settled_before");
            }
        }
    }
}

/// Closes contract `index`'s `period` again as of `snapshot`, as its close did, over
/// the stored data as it is (what `audit verify` checks itself).
fn close_again(
    backend: &mut dyn Backend,
    snapshot: &Snapshot,
    verified: &mut VerifiedStatements,
    index: usize,
    period: Period,
    closed_at: &str,
    anchor: &AuditHead,
) -> Result<Building> {
    let mut hosts = crate::close::HostEvents::new(period);
    let inputs = crate::close::Inputs {
        snapshot,
        verified,
        trust: &mut Trust::Audited,
        hosts: &mut hosts,
    };
    build(backend, inputs, index, period, closed_at, anchor)
}

/// Re-rates one statement as of its close and compares it with the signed one.
fn rerate_one(
    backend: &mut dyn Backend,
    snapshot: &Snapshot,
    verified: &mut VerifiedStatements,
    row: &StatementRow,
    anchor: &AuditHead,
) -> std::result::Result<(), String> {
    let period = Period::parse(&row.period).ok_or("its period does not parse")?;
    let index = snapshot
        .contract_index(&row.contract)
        .ok_or("its contract was not stored when it closed")?;
    let built = close_again(backend, snapshot, verified, index, period, &row.closed_at, anchor)
        .map_err(|e| format!("re-rating it as of its close failed: {e}"))?
        .statement()
        .ok_or("re-rated as of its close, there is nothing to close")?;
    let stored: serde_json::Value = serde_json::from_str(&row.json).map_err(|e| format!("unreadable: {e}"))?;
    let mut stored = match stored {
        serde_json::Value::Object(map) => map,
        _ => return Err("not a JSON object".into()),
    };
    stored.remove("signature");
    let mut rebuilt = match serde_json::to_value(&built.statement) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => return Err("the re-rated statement does not serialize".into()),
    };
    in_closed_form(&stored, &mut rebuilt);
    if stored == rebuilt {
        return Ok(());
    }
    let mut names: Vec<&str> = stored
        .keys()
        .chain(rebuilt.keys())
        .filter(|k| stored.get(*k) != rebuilt.get(*k))
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names.dedup();
    Err(format!(
        "re-rated as of its close (entry {}), it differs from the signed statement in: {}",
        snapshot.seq,
        names.join(", ")
    ))
}
