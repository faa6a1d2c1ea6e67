//! Closing a period into signed, immutable statements (statements.md).
//!
//! A close is one write transaction: the store's write lock keeps every other writer
//! out, so the close rates exactly the rows stored at or before the audit log's head
//! (its `audit_head`), and the same inputs give the same statement when a closed
//! period is re-rated later ([`build::build`] is shared with `audit verify`).
//! Closing again returns the stored statements; a concurrent second close waits and
//! finds them. Every close, dry or real, first sums up what it found per contract.

mod build;
mod start;
mod summary;
mod term;

use revshare_core::audit::{Action, Seq};
use revshare_core::period::{day_start_rfc3339, rfc3339, Period};
use revshare_core::statement::{PayoutNotice, Statement, StatementId};
use revshare_core::verify::{sign, sign_notice, statement_sha256};
use revshare_store::backend::{ClosedAfterTermRow, NoticeRow, StatementRow, TreeRow};

pub(crate) use build::{build, Building, Built, Closing, Inputs};
pub use start::{Unsettled, UnsettledContract};
pub(crate) use summary::HostEvents;
pub use summary::{ContractSummary, ExceptionNote};
pub(crate) use term::open_period;

use crate::checked::{LogCheck, Trust};
use crate::closed::VerifiedStatements;
use crate::keys::Keys;
use crate::rows::{object, payload};
use crate::snapshot::Snapshot;
use crate::tx::{self, Tx};
use crate::Field;
use crate::{AppError, Backend, Ctx, Result};

/// Seconds after a period's end before it may close (stragglers): at most a year.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Grace(u32);

impl Grace {
    pub const MAX_SECONDS: i64 = crate::limits::GRACE_SECONDS_MAX;

    pub fn new(seconds: i64) -> Result<Grace> {
        if !(0..=Grace::MAX_SECONDS).contains(&seconds) {
            return Err(AppError::InvalidField(
                Field::GraceSeconds,
                format!("{seconds} must be from 0 to {} (a year)", Grace::MAX_SECONDS),
            ));
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
    /// Close a contract's period that has no events although its previous one had.
    pub allow_empty: bool,
    /// Confirms that settlement starts at `period` for every contract this close
    /// closes for the first time (a contract taken over mid-term, its earlier
    /// periods settled elsewhere). Without it, such a first close that would leave
    /// an earlier period of the contract's term unsettled is refused
    /// ([`AppError::Unsettled`]).
    pub settlement_start: bool,
}

/// One statement a close returns: signed and stored, or a dry run's rating, which
/// is neither (the two are told apart by type, not by a flag beside the bytes).
#[derive(Clone, Debug)]
pub enum Closed {
    /// Signed and stored: by this close (`new`), or by an earlier one (closing is
    /// idempotent, and a dry run shows what is already closed as it is).
    Signed { new: bool, document: Document },
    /// A dry run's statement: rated, unsigned, stored nowhere.
    Rated(Document),
}

/// A statement and its JSON: the exact stored bytes, or a dry run's unsigned form.
#[derive(Clone, Debug)]
pub struct Document {
    pub statement_id: StatementId,
    pub json: String,
    pub statement: Statement,
}

impl Closed {
    pub fn document(&self) -> &Document {
        match self {
            Closed::Signed { document, .. } | Closed::Rated(document) => document,
        }
    }

    pub fn into_document(self) -> Document {
        match self {
            Closed::Signed { document, .. } | Closed::Rated(document) => document,
        }
    }

    /// Signed and stored by this close.
    pub fn signed_now(&self) -> bool {
        matches!(self, Closed::Signed { new: true, .. })
    }
}

/// Either kind reads as its document (`closed.statement`, `closed.json`); what it
/// is (signed or only rated) is asked of the enum.
impl std::ops::Deref for Closed {
    type Target = Document;

    fn deref(&self) -> &Document {
        self.document()
    }
}

/// What a close found and did.
#[derive(Clone, Debug)]
pub struct CloseOutcome {
    /// Per contract that closes now (or would, for a dry run).
    pub contracts: Vec<ContractSummary>,
    /// Events of the period that no contract selects, per host.
    pub unselected: Vec<(String, u64)>,
    pub statements: Vec<Closed>,
    /// The contracts this close flagged for their host's unique customers (MAU
    /// monitor): one audit entry each. None on a dry run.
    pub mau_flags: Vec<crate::mau::Reached>,
}

/// Where a running close stands, for whoever shows it (a job's progress over the
/// API, the CLI's progress bar). The close only reports: it does no IO for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Step {
    /// Proving the log and reading the store as of its head.
    Reading,
    /// Rating (then hashing, signing and writing) the contracts in question: `done`
    /// of `total` are through.
    Rating { done: usize, total: usize },
    /// Every statement is written: sealing the log with a checkpoint and committing.
    Committing,
}

/// Told each [`Step`] of a close, from the close's thread.
pub trait Progress: Sync {
    fn step(&self, step: Step);
}

/// Progress nobody watches.
pub struct Unwatched;

impl Progress for Unwatched {
    fn step(&self, _: Step) {}
}

/// Closes `period` for every contract whose term covers it, or settles what is
/// pending for contracts whose term has ended (or just `request.contract`).
pub fn close(backend: &mut dyn Backend, keys: &Keys, ctx: Ctx<'_>, request: &CloseRequest) -> Result<CloseOutcome> {
    close_watched(backend, keys, ctx, request, &Unwatched)
}

/// [`close`], telling `progress` each step.
pub fn close_watched(
    backend: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    request: &CloseRequest,
    progress: &dyn Progress,
) -> Result<CloseOutcome> {
    due(ctx, request)?;
    let work = |tx: &mut Tx<'_>| close_in(tx, keys, request, progress);
    if request.dry_run {
        tx::dry(backend, ctx, work)
    } else {
        tx::write(backend, keys, ctx, work)
    }
}

/// Refuses a close the actor may not run, and one of a period that has not ended
/// (plus its grace), before anything is read or stored.
pub(crate) fn due(ctx: Ctx<'_>, request: &CloseRequest) -> Result<()> {
    crate::access::require(ctx.actor, crate::access::Permission::Close)?;
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
    Ok(())
}

/// A quarter when every contract in question settles by month (or the reverse) is a
/// mistake, not "nothing to close": refused, naming the cadence the contracts have.
fn check_cadence(snapshot: &Snapshot, request: &CloseRequest) -> Result<()> {
    use revshare_core::period::Cadence;
    let wanted = request.period.cadence;
    let mut in_question = snapshot
        .contracts
        .contracts
        .iter()
        .filter(|c| request.contract.as_ref().is_none_or(|only| *only == c.id))
        .peekable();
    if in_question.peek().is_none() || in_question.any(|c| c.versions.iter().any(|v| v.cadence == wanted)) {
        return Ok(());
    }
    let start = request.period.start();
    let (kind, instead) = match wanted {
        Cadence::Quarter => {
            let first = Cadence::Month.period_of(start);
            let second = first.next();
            (
                "quarterly",
                format!("close its months instead ({first}, {second}, {})", second.next()),
            )
        }
        Cadence::Month => (
            "monthly",
            format!("close its quarter instead ({})", Cadence::Quarter.period_of(start)),
        ),
    };
    let which = match &request.contract {
        Some(id) => format!("contract `{id}` does not settle {kind}"),
        None => format!("no contract settles {kind}"),
    };
    Err(AppError::Invalid(format!(
        "cannot close {}: {which}; {instead}",
        request.period
    )))
}

fn close_in(tx: &mut Tx<'_>, keys: &Keys, request: &CloseRequest, progress: &dyn Progress) -> Result<CloseOutcome> {
    progress.step(Step::Reading);
    let head = tx.head();
    // Nothing edited behind the service's back is signed: the log is proved, and
    // every row and batch the close uses is checked against it.
    let mut check = LogCheck::new(tx.backend, keys, head)?;
    let snapshot = Snapshot::for_close(tx.backend, head.seq, request.contract.as_deref())?;
    check.snapshot(tx.backend, &snapshot)?;
    let anchor = head.anchor(&check.root());
    let mut trust = Trust::Checked(Box::new(check));
    if let Some(id) = &request.contract {
        if snapshot.contract_index(id).is_none() {
            return Err(AppError::NotFound(format!("no contract `{id}` is stored")));
        }
    }
    check_cadence(&snapshot, request)?;
    start::check(tx.backend, &snapshot, &mut trust, request)?;
    let mut verified = VerifiedStatements::new(crate::keys::public_keys(tx.backend)?);
    let mut hosts = HostEvents::new(request.period);
    let mut outcome = CloseOutcome {
        contracts: Vec::new(),
        unselected: Vec::new(),
        statements: Vec::new(),
        mau_flags: Vec::new(),
    };
    let in_question = |id: &str| request.contract.as_ref().is_none_or(|only| only == id);
    let total = snapshot
        .contracts
        .contracts
        .iter()
        .filter(|c| in_question(&c.id))
        .count();
    let mut done = 0;
    for index in 0..snapshot.contracts.contracts.len() {
        let id = snapshot.contracts.contracts[index].id.clone();
        if !in_question(&id) {
            continue;
        }
        progress.step(Step::Rating { done, total });
        done += 1;
        let statement_id = StatementId::new(&id, request.period)
            .ok_or_else(|| AppError::Integrity(format!("contract `{id}`: its id is not a contract id")))?;
        if let Some(row) = snapshot.statements_of(&id).find(|s| s.statement_id == statement_id) {
            let statement = verified.get(tx.backend, row)?.statement().clone();
            trust.statement(tx.backend, row)?;
            outcome.statements.push(Closed::Signed {
                new: false,
                document: Document {
                    statement_id,
                    json: row.json.clone(),
                    statement,
                },
            });
            // Closing again flags what late events made reach a threshold since.
            if !request.dry_run {
                flag_mau(
                    tx,
                    &snapshot,
                    &mut trust,
                    &mut hosts,
                    index,
                    request.period,
                    &mut outcome,
                )?;
            }
            continue;
        }
        if term::closed_after_term(&snapshot, index, request.period) {
            continue;
        }
        term::check_order(&snapshot, index, request.period)?;
        let inputs = Inputs {
            snapshot: &snapshot,
            verified: &mut verified,
            trust: &mut trust,
            hosts: &mut hosts,
        };
        let closed_at = tx.time().to_string();
        let mut built = match build(tx.backend, inputs, index, request.period, &closed_at, &anchor)? {
            Building::Statement(built) => built,
            Building::AfterTerm(settled) => {
                if !request.dry_run {
                    record_after_term(tx, &snapshot, statement_id, settled)?;
                }
                continue;
            }
            Building::Nothing => continue,
        };
        describe_history(
            tx.backend,
            &snapshot,
            &mut verified,
            index,
            request.period,
            &mut built.summary,
        )?;
        refuse_empty(&built.summary, request)?;
        outcome.contracts.push(built.summary.clone());
        outcome.statements.push(match request.dry_run {
            true => Closed::Rated(Document {
                statement_id,
                json: built.statement.to_json_pretty(),
                statement: built.statement,
            }),
            false => {
                trust.settle()?;
                store(tx, keys, &snapshot, *built)?
            }
        });
        if !request.dry_run {
            flag_mau(
                tx,
                &snapshot,
                &mut trust,
                &mut hosts,
                index,
                request.period,
                &mut outcome,
            )?;
        }
    }
    progress.step(Step::Rating { done, total });
    outcome.unselected = hosts
        .all_unselected(tx.backend, &snapshot, &mut trust)?
        .into_iter()
        .collect();
    trust.settle()?;
    if !request.dry_run {
        progress.step(Step::Committing);
    }
    Ok(outcome)
}

/// Flags contract `index` where its host reached its `mau_threshold` in a month of
/// the period (`mau`), from the host's events of the period as the close read and
/// checked them.
fn flag_mau(
    tx: &mut Tx<'_>,
    snapshot: &Snapshot,
    trust: &mut Trust,
    hosts: &mut HostEvents,
    index: usize,
    period: Period,
    outcome: &mut CloseOutcome,
) -> Result<()> {
    let versions = &snapshot.contracts.contracts[index];
    let due = crate::mau::due(tx.backend, versions, period)?;
    if due.is_empty() {
        return Ok(());
    }
    let events = hosts.get(tx.backend, snapshot, trust, versions.host())?;
    let voids = snapshot.voids_in(tx.backend, trust, versions.host(), period.start().0, period.end().0)?;
    let flagged = crate::mau::flag_reached(tx, snapshot, index, due, events, &voids)?;
    outcome.mau_flags.extend(flagged);
    Ok(())
}

/// What a summary says of a contract's earlier periods: the events its previous
/// period counted, and on its first close, its host's events dated before it.
fn describe_history(
    backend: &mut dyn Backend,
    snapshot: &Snapshot,
    verified: &mut VerifiedStatements,
    index: usize,
    period: Period,
    summary: &mut ContractSummary,
) -> Result<()> {
    let versions = &snapshot.contracts.contracts[index];
    let earlier: Vec<&StatementRow> = snapshot
        .statements_of(&versions.id)
        .filter(|s| s.end_day <= period.start().0)
        .collect();
    match earlier.last() {
        Some(previous) => {
            let statement = verified.get(backend, previous)?.statement();
            summary.previous_events = Some(statement.events.count);
        }
        None => {
            let start = versions.versions[0].effective_from.0;
            if start < period.start().0 {
                summary.outside_settlement =
                    backend.count_events(versions.host(), start, period.start().0, Seq::ZERO, snapshot.seq)?;
            }
        }
    }
    Ok(())
}

/// A period with no events while the previous one had some is refused, unless
/// allowed: it is most often a close run before the month's usage was imported.
fn refuse_empty(summary: &ContractSummary, request: &CloseRequest) -> Result<()> {
    if summary.suspiciously_empty() && !request.allow_empty && !request.dry_run {
        return Err(AppError::Conflict(format!(
            "{}/{} counts no events, but its previous period counted {}: import the period's usage first, or \
             close it empty with --allow-empty",
            summary.contract,
            summary.period,
            summary.previous_events.unwrap_or(0)
        )));
    }
    Ok(())
}

/// Signs a built statement and its payout notices, and stores them with one audit
/// entry and the statement's ledger legs.
fn store(tx: &mut Tx<'_>, keys: &Keys, snapshot: &Snapshot, built: Built) -> Result<Closed> {
    let Built {
        mut statement,
        closing,
        trees,
        settled,
        host,
        summary: _,
    } = built;
    sign(&mut statement, keys.signing());
    let statement_id = closing.statement_id.clone();
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
        closed_at: closing.closed_at.clone(),
        seq: Seq::ZERO,
    };
    let tree_rows: Vec<TreeRow> = trees
        .iter()
        .map(|tree| TreeRow {
            statement_id: statement_id.to_string(),
            tree: tree.name.to_string(),
            count: tree.leaves.len() as i64,
            root: hex::encode(tree.root),
            leaves: tree.leaves.concat(),
            tiles: tree.tiles.iter().map(|level| level.concat()).collect(),
        })
        .collect();
    let notices = payout_notices(&statement, &closing, keys);
    let entry = tx.record(Action::StatementClosed, object::statement(&statement_id), payload(&row))?;
    row.seq = entry.seq;
    if !tx.backend.insert_statement(&row, &tree_rows, &notices)? {
        return Err(AppError::Conflict(format!(
            "statement {statement_id} was closed meanwhile"
        )));
    }
    // Every statement a close stores posts its payouts, in the close's transaction
    // (prior-period adjustments and adjustment-only statements too).
    let terms = crate::ledger::Terms::of(&snapshot.contracts, &row.contract)?;
    tx.backend
        .add_legs(&crate::ledger::statement_legs(&statement, &terms, row.seq)?)?;
    Ok(Closed::Signed {
        new: true,
        document: Document {
            statement_id,
            json,
            statement,
        },
    })
}

/// Records a period closed after the contract's term without a statement, with
/// what its close settled, in one audit entry.
fn record_after_term(
    tx: &mut Tx<'_>,
    snapshot: &Snapshot,
    statement_id: StatementId,
    settled: Vec<crate::settle::Settled>,
) -> Result<()> {
    let mut row = ClosedAfterTermRow {
        statement_id: statement_id.clone(),
        contract: statement_id.contract().to_string(),
        period: statement_id.period().to_string(),
        close_seq: snapshot.seq,
        settled: serde_json::to_string(&settled).expect("settlements serialize"),
        closed_at: tx.time().to_string(),
        seq: Seq::ZERO,
    };
    let entry = tx.record(
        Action::PeriodClosedAfterTerm,
        object::closed_after_term(&row.statement_id),
        payload(&row),
    )?;
    row.seq = entry.seq;
    if !tx.backend.add_closed_after_term(&row)? {
        return Err(AppError::Conflict(format!("{statement_id} was closed meanwhile")));
    }
    Ok(())
}

/// A signed payout notice for each beneficiary that is neither licensor nor host.
fn payout_notices(statement: &Statement, closing: &Closing, keys: &Keys) -> Vec<NoticeRow> {
    let sha256 = statement_sha256(statement);
    statement
        .payouts
        .iter()
        .filter(|(b, _)| **b != statement.licensor && **b != statement.host)
        .map(|(beneficiary, payout)| {
            let mut notice = PayoutNotice {
                kind: revshare_core::statement::NoticeKind::PayoutNotice,
                statement_id: closing.statement_id.clone(),
                statement_sha256: sha256.clone(),
                contract: statement.contract.clone(),
                period: statement.period.clone(),
                currency: statement.currency.clone(),
                closed_at: closing.closed_at.clone(),
                due_date: closing.due_date.clone(),
                beneficiary: beneficiary.clone(),
                payout: payout.clone(),
                audit_head: closing.audit_head.clone(),
                signature: None,
            };
            sign_notice(&mut notice, keys.signing());
            NoticeRow {
                statement_id: closing.statement_id.to_string(),
                beneficiary: beneficiary.clone(),
                json: notice.to_json_pretty(),
            }
        })
        .collect()
}
