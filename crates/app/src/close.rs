//! Closing a period into signed, immutable statements (statements.md).
//!
//! A close is one write transaction: the store's write lock keeps every other writer
//! out, so the close rates exactly the rows stored at or before the audit log's head
//! (its `audit_head`), and the same inputs give the same statement when a closed
//! period is re-rated later ([`build`] is shared with `audit verify`). Closing again
//! returns the stored statements; a concurrent second close waits and finds them.

use revshare_core::audit::{Action, Head};
use revshare_core::contract::{Contract, ContractVersions};
use revshare_core::merkle;
use revshare_core::period::{date_of_rfc3339, day_start_rfc3339, rfc3339, Day, Period};
use revshare_core::rating::{adjustment_only, rate_statement, version_for, StatementKey, TreeSummary};
use revshare_core::statement::{PayoutNotice, Statement};
use revshare_core::verify::{sign, sign_notice, statement_sha256, TreeName};
use revshare_store::backend::{NoticeRow, StatementRow, TreeRow};

use crate::keys::Keys;
use crate::period_events::PeriodEvents;
use crate::rows::{object, payload};
use crate::settle::{pending, Settled, VerifiedStatements};
use crate::snapshot::Snapshot;
use crate::tx::{self, Tx};
use crate::{AppError, Backend, Ctx, Result};

/// Seconds after a period's end before it may close (stragglers): at most a year.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Grace(u32);

impl Grace {
    pub const MAX_SECONDS: i64 = 366 * 86_400;

    pub fn new(seconds: i64) -> Result<Grace> {
        if !(0..=Grace::MAX_SECONDS).contains(&seconds) {
            return Err(AppError::Invalid(format!(
                "--grace-seconds: {seconds} must be from 0 to {} (a year)",
                Grace::MAX_SECONDS
            )));
        }
        Ok(Grace(seconds as u32))
    }

    pub fn seconds(self) -> i64 {
        i64::from(self.0)
    }
}

/// What to close.
#[derive(Clone, Debug)]
pub struct CloseRequest {
    pub period: Period,
    /// Only this contract.
    pub contract: Option<String>,
    pub grace: Grace,
    /// Rate and return the unsigned statements; store nothing.
    pub dry_run: bool,
}

/// One statement a close produced, found, or (dry run) would produce.
#[derive(Clone, Debug)]
pub struct Closed {
    pub statement_id: String,
    /// `false` when it was already closed (closing is idempotent).
    pub new: bool,
    /// The exact stored bytes (a dry run: the unsigned statement's JSON).
    pub json: String,
    pub statement: Statement,
}

/// Closes `period` for every contract whose term covers it, or settles what is
/// pending for contracts whose term has ended (or just `request.contract`).
pub fn close(backend: &mut dyn Backend, keys: &Keys, ctx: Ctx<'_>, request: &CloseRequest) -> Result<Vec<Closed>> {
    let ends = request.period.end().unix_seconds() + request.grace.seconds();
    if ctx.now.seconds < ends && !request.dry_run {
        return Err(AppError::TooEarly(format!(
            "period {} cannot be closed yet: it ends at {}{}, and it is now {}",
            request.period,
            day_start_rfc3339(request.period.end()),
            if request.grace.seconds() > 0 {
                format!(" plus a grace of {} s ({})", request.grace.seconds(), rfc3339(ends))
            } else {
                String::new()
            },
            ctx.time()
        )));
    }
    let work = |tx: &mut Tx<'_>| close_in(tx, keys, request);
    if request.dry_run {
        tx::dry(backend, ctx, work)
    } else {
        tx::write(backend, ctx, work)
    }
}

fn close_in(tx: &mut Tx<'_>, keys: &Keys, request: &CloseRequest) -> Result<Vec<Closed>> {
    let head = tx.head();
    let snapshot = Snapshot::load(tx.backend, head.seq as i64)?;
    if let Some(id) = &request.contract {
        if snapshot.contract_index(id).is_none() {
            return Err(AppError::NotFound(format!("no contract `{id}` is stored")));
        }
    }
    let mut verified = VerifiedStatements::new(crate::keys::public_keys(tx.backend)?);
    let closed_at = tx.time().to_string();
    let mut closed = Vec::new();
    for index in 0..snapshot.contracts.contracts.len() {
        let id = snapshot.contracts.contracts[index].id.clone();
        if request.contract.as_ref().is_some_and(|only| *only != id) {
            continue;
        }
        let statement_id = format!("{id}/{}", request.period);
        if let Some(row) = snapshot.statements.iter().find(|s| s.statement_id == statement_id) {
            let statement = verified.get(tx.backend, row)?.statement().clone();
            closed.push(Closed {
                statement_id,
                new: false,
                json: row.json.clone(),
                statement,
            });
            continue;
        }
        check_order(&snapshot, index, request)?;
        let built = build(
            tx.backend,
            &snapshot,
            &mut verified,
            index,
            request.period,
            &closed_at,
            head,
        )?;
        let Some(built) = built else { continue };
        closed.push(match request.dry_run {
            true => Closed {
                statement_id,
                new: true,
                json: built.statement.to_json_pretty(),
                statement: built.statement,
            },
            false => store(tx, keys, &snapshot, built)?,
        });
    }
    Ok(closed)
}

/// Where a period stands in a contract's term.
enum Term<'c> {
    /// Covered: this version rates it.
    In(&'c Contract),
    /// After the term ended, in the last version's cadence.
    After(&'c Contract),
    Outside,
}

fn term_of<'c>(versions: &'c ContractVersions, index: usize, period: Period, snapshot: &Snapshot) -> Term<'c> {
    let key = StatementKey {
        contract: index as u32,
        period,
    };
    if version_for(&snapshot.contracts, &key).is_some() {
        return match versions.version_on(period.start()) {
            Some(version) => Term::In(version),
            None => Term::Outside,
        };
    }
    let last_index = versions.versions.len() - 1;
    let last = &versions.versions[last_index];
    match versions.end_of(last_index) {
        Some(end) if period.start() >= end && last.cadence == period.cadence => Term::After(last),
        _ => Term::Outside,
    }
}

/// The period after `period` in the contract's cadence then, if its term goes on.
fn next_period(versions: &ContractVersions, period: Period) -> Option<Period> {
    let day = period.end();
    versions.version_on(day).map(|v| v.cadence.period_of(day))
}

/// Closes run in order (statements.md): the first close of a contract fixes where
/// its settlement starts; after it, each close must be the next period.
fn check_order(snapshot: &Snapshot, index: usize, request: &CloseRequest) -> Result<()> {
    let versions = &snapshot.contracts.contracts[index];
    let period = request.period;
    let own: Vec<Period> = snapshot
        .statements_of(&versions.id)
        .filter_map(|s| Period::parse(&s.period))
        .filter(|p| matches!(term_of(versions, index, *p, snapshot), Term::In(_)))
        .collect();
    let (Some(first), Some(last)) = (own.first(), own.last()) else {
        return Ok(());
    };
    let covered = match term_of(versions, index, period, snapshot) {
        Term::In(_) => true,
        Term::After(_) => false,
        Term::Outside => return Ok(()),
    };
    if covered && period.start() < first.start() {
        return Err(AppError::Conflict(format!(
            "{}/{period} is before {}'s settlement start {first} (its first close); periods before it \
             are outside settlement",
            versions.id, versions.id
        )));
    }
    match next_period(versions, *last) {
        Some(next) if next.start() < period.start() || (covered && next != period) => Err(AppError::Conflict(format!(
            "cannot close {}/{period}: {}/{next} is still open (a contract's periods close in order)",
            versions.id, versions.id
        ))),
        _ => Ok(()),
    }
}

/// A statement as a close computes it, before signing.
pub(crate) struct Built {
    pub statement: Statement,
    pub trees: Vec<crate::settle::Tree>,
    pub settled: Vec<Settled>,
    pub host: String,
}

/// Computes contract `index`'s statement for `period` as of `head`, the way a close
/// does: `None` when there is nothing to close (a period outside the term, or after
/// it with nothing pending).
pub(crate) fn build(
    backend: &mut dyn Backend,
    snapshot: &Snapshot,
    verified: &mut VerifiedStatements,
    index: usize,
    period: Period,
    closed_at: &str,
    head: Head,
) -> Result<Option<Built>> {
    let versions = &snapshot.contracts.contracts[index];
    let (rated, leaves, version) = match term_of(versions, index, period, snapshot) {
        Term::Outside => return Ok(None),
        Term::After(last) => {
            if snapshot.statements_of(&versions.id).next().is_none() {
                return Ok(None);
            }
            let pending = pending(backend, snapshot, verified, index, period)?;
            if pending.carried.is_empty() {
                return Ok(None);
            }
            let rated = adjustment_only(last, period, &pending.carried);
            ((rated, pending), Vec::new(), last)
        }
        Term::In(version) => {
            let pending = pending(backend, snapshot, verified, index, period)?;
            let key = StatementKey {
                contract: index as u32,
                period,
            };
            let events = PeriodEvents::read(backend, &version.host, period, snapshot.seq)?;
            let inputs = snapshot.inputs_for(period);
            let voided = |i: u32| {
                snapshot
                    .voids
                    .contains_key(&(events.source(i).to_string(), events.id(i).to_string()))
            };
            let usage = events.accumulate(&inputs, key, |i| !voided(i));
            let leaves = events.leaves(&usage.events);
            let tree = TreeSummary {
                count: leaves.len() as u64,
                root: merkle::root(&leaves),
            };
            let rated = rate_statement(
                version,
                period,
                &usage,
                &events.symbols,
                &inputs,
                tree,
                &pending.carried,
            );
            ((rated, pending), leaves, version)
        }
    };
    let ((rated, pending), own_leaves) = (rated, leaves);
    let mut statement = rated.statement;
    statement.statement_id = Some(format!("{}/{period}", versions.id));
    statement.contract_sha256 = Some(version.sha256.clone());
    statement.closed_at = Some(closed_at.to_string());
    statement.due_date = Some(due_date(closed_at, version)?);
    statement.audit_head = Some(head.anchor());
    if let Some(member) = statement.integer_too_large() {
        return Err(AppError::Conflict(format!(
            "{}: {member} is 2^53 or more, which a statement cannot hold exactly (JCS)",
            versions.id
        )));
    }
    let mut trees = vec![(TreeName::Events, own_leaves)];
    trees.extend(pending.trees);
    Ok(Some(Built {
        statement,
        trees,
        settled: pending.settled,
        host: version.host.clone(),
    }))
}

/// The UTC date of `closed_at` plus the contract's payment terms.
fn due_date(closed_at: &str, version: &Contract) -> Result<String> {
    let day = date_of_rfc3339(closed_at)
        .ok_or_else(|| AppError::Integrity(format!("closed_at {closed_at} is not an RFC 3339 time")))?;
    Ok(Day(day.0 + version.payment_terms_days as i32).to_string())
}

/// Signs a built statement and its payout notices, and stores them with one audit
/// entry.
fn store(tx: &mut Tx<'_>, keys: &Keys, snapshot: &Snapshot, built: Built) -> Result<Closed> {
    let Built {
        mut statement,
        trees,
        settled,
        host,
    } = built;
    sign(&mut statement, keys.signing());
    let statement_id = statement.statement_id.clone().unwrap_or_default();
    let period = Period::parse(&statement.period)
        .ok_or_else(|| AppError::Integrity(format!("bad period {}", statement.period)))?;
    let json = statement.to_json_pretty();
    let mut row = StatementRow {
        statement_id: statement_id.clone(),
        contract: statement.contract.clone(),
        period: statement.period.clone(),
        host,
        start_day: period.start().0,
        end_day: period.end().0,
        close_seq: snapshot.seq,
        settled: serde_json::to_string(&settled).expect("settlements serialize"),
        json: json.clone(),
        closed_at: statement.closed_at.clone().unwrap_or_default(),
        seq: 0,
    };
    let tree_rows: Vec<TreeRow> = trees
        .iter()
        .map(|(name, leaves)| TreeRow {
            statement_id: statement_id.clone(),
            tree: name.to_string(),
            count: leaves.len() as i64,
            root: hex::encode(merkle::root(leaves)),
            leaves: leaves.concat(),
        })
        .collect();
    let notices = payout_notices(&statement, keys);
    let entry = tx.record(Action::StatementClosed, object::statement(&statement_id), payload(&row))?;
    row.seq = entry.seq as i64;
    if !tx.backend.insert_statement(&row, &tree_rows, &notices)? {
        return Err(AppError::Conflict(format!(
            "statement {statement_id} was closed meanwhile"
        )));
    }
    Ok(Closed {
        statement_id,
        new: true,
        json,
        statement,
    })
}

/// A signed payout notice for each beneficiary that is neither licensor nor host.
fn payout_notices(statement: &Statement, keys: &Keys) -> Vec<NoticeRow> {
    let statement_id = statement.statement_id.clone().unwrap_or_default();
    let sha256 = statement_sha256(statement);
    statement
        .payouts
        .iter()
        .filter(|(b, _)| **b != statement.licensor && **b != statement.host)
        .map(|(beneficiary, payout)| {
            let mut notice = PayoutNotice {
                kind: revshare_core::statement::NoticeKind::PayoutNotice,
                statement_id: statement_id.clone(),
                statement_sha256: sha256.clone(),
                contract: statement.contract.clone(),
                period: statement.period.clone(),
                currency: statement.currency.clone(),
                closed_at: statement.closed_at.clone().unwrap_or_default(),
                due_date: statement.due_date.clone().unwrap_or_default(),
                beneficiary: beneficiary.clone(),
                payout: payout.clone(),
                audit_head: statement.audit_head.clone().unwrap_or_else(|| Head::EMPTY.anchor()),
                signature: None,
            };
            sign_notice(&mut notice, keys.signing());
            NoticeRow {
                statement_id: statement_id.clone(),
                beneficiary: beneficiary.clone(),
                json: notice.to_json_pretty(),
            }
        })
        .collect()
}
