//! Closed statements as stored: every read checks the signature over the stored
//! bytes first, and proofs and leaf lists come from the leaves each statement was
//! closed with (never from re-deriving membership under today's contracts or
//! registry), so proving an event gives the same answer forever.

use revshare_core::event::Timestamp;
use revshare_core::merkle::{self, Hash};
use revshare_core::verify::{signed_tree, tree_names, InclusionProof, TreeName};
use revshare_store::backend::{StatementRead, TreeRow};

use crate::closed::{ClosedStatement, VerifiedStatements};
use crate::trees::split_leaves;
use crate::views::StatementEntry;
use crate::{Actor, AppError, Backend, Result};

fn verifier(backend: &mut dyn Backend) -> Result<VerifiedStatements> {
    Ok(VerifiedStatements::new(crate::keys::public_keys(backend)?))
}

/// The closed statements the actor reads, each checked (a beneficiary reads none:
/// it receives payout notices, see [`notices`]).
pub fn list(backend: &mut dyn Backend, actor: &Actor) -> Result<Vec<ClosedStatement>> {
    let readable = crate::access::readable_contracts(backend, actor)?;
    let mut verified = verifier(backend)?;
    let mut shown = Vec::new();
    for row in backend
        .statements()?
        .into_iter()
        .filter(|r| readable.contains(&r.contract))
    {
        shown.push(verified.get(backend, &row)?.clone());
    }
    Ok(shown)
}

/// One closed statement the actor reads, checked.
pub fn show(backend: &mut dyn Backend, actor: &Actor, statement_id: &str) -> Result<ClosedStatement> {
    let read = backend.statement_read(statement_id)?;
    show_read(backend, actor, statement_id, read)
}

fn show_read(
    backend: &mut dyn Backend,
    actor: &Actor,
    statement_id: &str,
    read: Option<StatementRead>,
) -> Result<ClosedStatement> {
    let missing = || format!("no statement `{statement_id}` is closed");
    // Access is decided, with the same reads, whether or not the statement exists: a
    // missing statement and another party's take the same work to refuse.
    let contract = read.as_ref().map_or("", |r| r.row.contract.as_str());
    let readable = crate::access::require_readable(backend, actor, contract, &missing());
    let read = read.ok_or_else(|| AppError::NotFound(missing()))?;
    readable?;
    crate::closed::verify_read(read)
}

/// One tree of a closed statement as it was closed.
#[derive(Clone, Debug)]
pub struct Leaves {
    pub statement_id: String,
    pub tree: TreeName,
    pub leaves: Vec<Hash>,
}

/// The size and root a signed statement names for one of its trees.
fn signed(shown: &ClosedStatement, tree: &TreeName) -> Result<(u64, Hash)> {
    let id = shown.id();
    let (count, root) = signed_tree(shown.statement(), tree)
        .ok_or_else(|| AppError::NotFound(format!("statement {id} has no tree `{tree}`")))?;
    let root = hex::decode(&root)
        .ok()
        .and_then(|r| Hash::try_from(r).ok())
        .ok_or_else(|| AppError::Integrity(format!("statement {id}: the root of its tree `{tree}` is not a hash")))?;
    Ok((count, root))
}

/// The proof of `leaf` in one of a statement's stored trees, if the tree holds it.
fn proof_in(
    backend: &mut dyn Backend,
    shown: &ClosedStatement,
    tree: &TreeName,
    leaf: &Hash,
) -> Result<Option<InclusionProof>> {
    let (size, root) = signed(shown, tree)?;
    crate::trees::proof(backend, shown.id(), tree, size, &root, leaf)
}

/// A stored tree, checked against the root its signed statement names.
fn checked_tree(backend: &mut dyn Backend, shown: &ClosedStatement, tree: &TreeName) -> Result<Vec<Hash>> {
    let id = shown.id();
    let (count, root) = signed_tree(shown.statement(), tree)
        .ok_or_else(|| AppError::NotFound(format!("statement {id} has no tree `{tree}`")))?;
    let row: TreeRow = backend
        .tree(id, &tree.to_string())?
        .ok_or_else(|| AppError::Integrity(format!("statement {id}: the leaves of its tree `{tree}` are missing")))?;
    let leaves = split_leaves(&row)?;
    if leaves.len() as u64 != count || hex::encode(merkle::root(&leaves)) != root {
        return Err(AppError::Integrity(format!(
            "statement {id}: the stored leaves of tree `{tree}` do not make its signed root {root}"
        )));
    }
    Ok(leaves)
}

/// The leaves of one of a statement's trees, in tree order.
pub fn leaves(backend: &mut dyn Backend, actor: &Actor, statement_id: &str, tree: &TreeName) -> Result<Leaves> {
    let shown = show(backend, actor, statement_id)?;
    let leaves = checked_tree(backend, &shown, tree)?;
    Ok(Leaves {
        statement_id: statement_id.to_string(),
        tree: tree.clone(),
        leaves,
    })
}

/// The inclusion proof of event `(source, id)` in a closed statement: in the tree
/// that counts it (`events`, `prior_period:`), or that removed it (`voided:`).
pub fn prove(
    backend: &mut dyn Backend,
    actor: &Actor,
    statement_id: &str,
    source: &str,
    id: &str,
) -> Result<InclusionProof> {
    let shown = show(backend, actor, statement_id)?;
    // An event never received is answered like one the actor may not see (another
    // host's): the explanation comes from `locate`, as far as the actor may see.
    if let Some(key) = backend.event_key(source, id)? {
        for tree in tree_names(shown.statement()) {
            if let Some(proof) = proof_in(backend, &shown, &tree, &key.leaf)? {
                return Ok(proof);
            }
        }
    }
    Err(AppError::NotFound(format!(
        "event ({source}, {id}) is not counted in statement {statement_id}: {}",
        explain(backend, actor, source, id)?
    )))
}

/// Where else an event is counted, or why it is not, in a sentence.
fn explain(backend: &mut dyn Backend, actor: &Actor, source: &str, id: &str) -> Result<String> {
    let located = match crate::locate::locate(backend, actor, source, id) {
        Ok(located) => located,
        Err(AppError::NotFound(_) | AppError::Forbidden(_)) => return Ok("it is not in your statements".into()),
        Err(other) => return Err(other),
    };
    let mut parts: Vec<String> = located
        .places
        .iter()
        .map(|p| {
            format!(
                "{} in {} (tree `{}`, leaf {})",
                if p.counted { "it is counted" } else { "it is removed" },
                p.statement_id,
                p.tree,
                p.leaf_index
            )
        })
        .collect();
    parts.extend(located.not_counted.iter().map(ToString::to_string));
    Ok(parts.join("; "))
}

/// A beneficiary's signed payout notice, checked.
#[derive(Clone, Debug)]
pub struct NoticeShown {
    /// The exact stored (signed) bytes.
    pub json: String,
    pub notice: revshare_core::statement::PayoutNotice,
}

/// What a party reads of one closed statement: the statement itself, or, for a
/// beneficiary that is neither its licensor nor its host, its payout notice.
#[derive(Clone, Debug)]
pub enum Document {
    Statement(Box<ClosedStatement>),
    Notice(Box<NoticeShown>),
}

impl Document {
    /// The exact signed bytes.
    pub fn json(&self) -> &str {
        match self {
            Document::Statement(s) => s.json(),
            Document::Notice(n) => &n.json,
        }
    }
}

fn verified_notice(backend: &mut dyn Backend, row: &revshare_store::backend::NoticeRow) -> Result<NoticeShown> {
    let keys = crate::keys::public_keys(backend)?;
    match revshare_core::verify::verify_bytes(row.json.as_bytes(), &keys) {
        Ok(revshare_core::verify::Verified::PayoutNotice(notice)) => Ok(NoticeShown {
            json: row.json.clone(),
            notice: notice.notice().clone(),
        }),
        Ok(_) => Err(AppError::Integrity(format!(
            "the payout notice of {} for {} is not a payout notice",
            row.statement_id, row.beneficiary
        ))),
        Err(e) => Err(AppError::Integrity(format!(
            "the payout notice of {} for {} fails verification: {e}",
            row.statement_id, row.beneficiary
        ))),
    }
}

/// A beneficiary's payout notices, each checked, with the audit seq of its
/// statement's close (empty for other roles).
fn notices(backend: &mut dyn Backend, actor: &Actor) -> Result<Vec<(revshare_core::audit::Seq, NoticeShown)>> {
    let Some(party) = crate::access::notices_of(actor) else {
        return Ok(Vec::new());
    };
    let own = crate::access::own_contracts(backend, actor)?;
    let mut shown = Vec::new();
    for row in backend.statements()?.into_iter().filter(|r| own.contains(&r.contract)) {
        for notice in backend
            .notices(&row.statement_id)?
            .iter()
            .filter(|n| n.beneficiary == party)
        {
            shown.push((row.seq, verified_notice(backend, notice)?));
        }
    }
    Ok(shown)
}

/// What the actor reads of the closed statements, in the order they were closed
/// (api.md, lists): its statements, or a beneficiary's payout notices; only those
/// of `contract` and `period` when given.
pub fn entries(
    backend: &mut dyn Backend,
    actor: &Actor,
    contract: Option<&str>,
    period: Option<&str>,
) -> Result<Vec<StatementEntry>> {
    let mut entries: Vec<(revshare_core::audit::Seq, StatementEntry)> = list(backend, actor)?
        .iter()
        .map(|shown| (shown.row().seq, StatementEntry::of_statement(shown)))
        .collect();
    entries.extend(
        notices(backend, actor)?
            .iter()
            .map(|(seq, shown)| (*seq, StatementEntry::of_notice(shown))),
    );
    entries.retain(|(_, e)| contract.is_none_or(|c| c == e.contract) && period.is_none_or(|p| p == e.period));
    entries.sort_by(|a, b| (a.0, &a.1.statement_id).cmp(&(b.0, &b.1.statement_id)));
    Ok(entries.into_iter().map(|(_, entry)| entry).collect())
}

/// [`document`] for the bearer of `token`, checked as [`crate::tokens::authenticate`]
/// checks it before anything of the statement is used; the token and the statement
/// are read together (the statement only for a token that holds the hash and is not
/// revoked): the API's most frequent read.
pub fn document_for_token(
    backend: &mut dyn Backend,
    token: &str,
    statement_id: &str,
    now: Timestamp,
) -> Result<Document> {
    let token_id = crate::tokens::well_formed_id(token)?;
    let (row, read) = backend.token_and_statement(token_id, &crate::tokens::sha256_hex(token), statement_id)?;
    let actor = crate::tokens::actor_of(token, row, now)?;
    if !crate::access::reads_statements(&actor) {
        return document(backend, &actor, statement_id);
    }
    Ok(Document::Statement(Box::new(show_read(
        backend,
        &actor,
        statement_id,
        read,
    )?)))
}

/// What the actor reads of one statement: the statement, or its payout notice.
pub fn document(backend: &mut dyn Backend, actor: &Actor, statement_id: &str) -> Result<Document> {
    if crate::access::reads_statements(actor) {
        return Ok(Document::Statement(Box::new(show(backend, actor, statement_id)?)));
    }
    let missing = || AppError::NotFound(format!("no statement `{statement_id}` is closed"));
    // The same reads whether or not the statement exists (see `show_read`).
    let row = backend.statement(statement_id)?;
    let own = crate::access::own_contracts(backend, actor)?;
    if !row.is_some_and(|r| own.contains(&r.contract)) {
        return Err(missing());
    }
    let party = crate::access::notices_of(actor).ok_or_else(missing)?;
    let notice = backend
        .notices(statement_id)?
        .into_iter()
        .find(|n| n.beneficiary == party)
        .ok_or_else(missing)?;
    Ok(Document::Notice(Box::new(verified_notice(backend, &notice)?)))
}

/// What a statement was closed with, as the files `revshare rate` reads
/// (statements.md, Reconciliation).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Inputs {
    pub statement_id: String,
    /// `contract.toml`: the version that rated it, exactly as added.
    pub contract: String,
    /// `fx.csv`: every FX rate stored by the close.
    pub fx: String,
    /// `contributions.csv`: the contract's contributions, each as it stood then.
    pub contributions: String,
    /// `models.csv`: the registry version in force at the period's start, or none.
    pub models: Option<String>,
    /// `voids.csv`: `source,id` of the host's events voided by the close.
    pub voids: String,
}

fn csv_of(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| AppError::Integrity(format!("writing CSV: {e}"));
    writer.write_record(header).map_err(fail)?;
    for row in rows {
        writer.write_record(&row).map_err(fail)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| AppError::Integrity(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| AppError::Integrity(e.to_string()))
}

/// The inputs of a closed statement the actor reads, as of its close.
pub fn inputs(backend: &mut dyn Backend, actor: &Actor, statement_id: &str) -> Result<Inputs> {
    use revshare_core::period::{Day, Period};
    let shown = show(backend, actor, statement_id)?;
    let statement = shown.statement();
    let snapshot = crate::snapshot::Snapshot::load(backend, shown.row().close_seq)?;
    let contract = snapshot
        .contract_rows
        .iter()
        .find(|r| r.id == statement.contract && r.version == i64::from(statement.contract_version))
        .ok_or_else(|| AppError::Integrity(format!("{statement_id}: its contract version is gone")))?;
    let fx = csv_of(
        &["date", "from", "to", "rate"],
        snapshot
            .fx_rows
            .iter()
            .map(|r| vec![Day(r.date).to_string(), r.from.clone(), r.to.clone(), r.rate.clone()]),
    )?;
    let contributions = csv_of(
        &["contract", "by", "kind", "date", "status", "reference"],
        snapshot
            .contribution_rows
            .iter()
            .filter(|c| c.contract == statement.contract)
            .map(|c| {
                vec![
                    c.contract.clone(),
                    c.by.as_str().to_string(),
                    c.kind.as_str().to_string(),
                    Day(c.date).to_string(),
                    c.status.as_str().to_string(),
                    c.reference.clone(),
                ]
            }),
    )?;
    let start = Period::parse(&statement.period)
        .ok_or_else(|| AppError::Integrity(format!("{statement_id}: bad period")))?
        .start();
    let models = snapshot
        .registry_on(start)
        .map(|r| {
            csv_of(
                &["pattern", "licensor"],
                r.rows.iter().map(|(p, l)| vec![p.clone(), l.clone()]),
            )
        })
        .transpose()?;
    let host_voids = backend.voids_in(&statement.host, i32::MIN, i32::MAX, snapshot.seq)?;
    let mut voided: Vec<(&str, &str)> = host_voids.iter().map(|v| (v.source.as_str(), v.id.as_str())).collect();
    voided.sort_unstable();
    let voids = csv_of(
        &["source", "id"],
        voided.into_iter().map(|(s, i)| vec![s.to_string(), i.to_string()]),
    )?;
    Ok(Inputs {
        statement_id: statement_id.to_string(),
        contract: contract.toml.clone(),
        fx,
        contributions,
        models,
        voids,
    })
}

/// One page of [`entries`] of `(contract, period)` when given, in the order closed.
pub fn entries_page(
    backend: &mut dyn Backend,
    actor: &Actor,
    (contract, period): (Option<&str>, Option<&str>),
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<crate::page::Page<StatementEntry>> {
    crate::page::page(entries(backend, actor, contract, period)?, limit, cursor)
}

/// One page of a statement's tree's leaves (see [`leaves`]), with the tree's count.
pub fn leaves_page(
    backend: &mut dyn Backend,
    actor: &Actor,
    statement_id: &str,
    tree: &TreeName,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<(u64, crate::page::Page<Hash>)> {
    let shown = show(backend, actor, statement_id)?;
    let (size, root) = signed(&shown, tree)?;
    let limit = crate::page::limit(limit)? as u64;
    let start = (crate::page::position(cursor)? as u64).min(size);
    let items = crate::trees::page(backend, shown.id(), tree, size, &root, start, limit)?;
    let end = start + items.len() as u64;
    let next_cursor = (end < size).then(|| crate::page::cursor_at(end as usize));
    Ok((size, crate::page::Page { items, next_cursor }))
}

/// The list entries of what a party reads (`views` holds the form both edges show).
impl StatementEntry {
    pub(crate) fn of_statement(shown: &ClosedStatement) -> StatementEntry {
        let s = shown.statement();
        StatementEntry {
            statement_id: shown.id().to_string(),
            contract: s.contract.clone(),
            period: s.period.clone(),
            currency: s.currency.clone(),
            closed_at: s.closed_at.clone(),
            due_date: s.due_date.clone(),
            total: Some(s.total.clone()),
            events: Some(s.events.count),
            payout: None,
        }
    }

    pub(crate) fn of_notice(shown: &NoticeShown) -> StatementEntry {
        let n = &shown.notice;
        StatementEntry {
            statement_id: n.statement_id.to_string(),
            contract: n.contract.clone(),
            period: n.period.clone(),
            currency: n.currency.clone(),
            closed_at: Some(n.closed_at.clone()),
            due_date: Some(n.due_date.clone()),
            total: None,
            events: None,
            payout: Some(n.payout.clone()),
        }
    }
}

/// The payout notice of `beneficiary` in a closed statement: the very document the
/// API gives that beneficiary. The operator reads any beneficiary's; a beneficiary
/// its own; any other party none (it reads the statement itself).
pub fn notice_of(
    backend: &mut dyn Backend,
    actor: &Actor,
    statement_id: &str,
    beneficiary: &str,
) -> Result<NoticeShown> {
    if crate::access::notices_of(actor) == Some(beneficiary) {
        return match document(backend, actor, statement_id)? {
            Document::Notice(notice) => Ok(*notice),
            Document::Statement(_) => Err(AppError::NotFound(format!(
                "no payout notice of `{beneficiary}` in {statement_id}"
            ))),
        };
    }
    if !crate::access::reads_any_notice(actor) {
        return Err(AppError::Forbidden(format!(
            "the payout notice of `{beneficiary}` is read by that beneficiary or the operator"
        )));
    }
    // The statement first: it must exist and verify before its notices are read.
    show(backend, actor, statement_id)?;
    let rows = backend.notices(statement_id)?;
    match rows.iter().find(|n| n.beneficiary == beneficiary) {
        Some(row) => verified_notice(backend, row),
        None => {
            let others: Vec<&str> = rows.iter().map(|n| n.beneficiary.as_str()).collect();
            Err(AppError::NotFound(if others.is_empty() {
                format!(
                    "statement {statement_id} has no payout notice for `{beneficiary}`: it has none (a licensor \
                     or host reads the statement itself)"
                )
            } else {
                format!(
                    "statement {statement_id} has no payout notice for `{beneficiary}`; it has notices for {}",
                    others.join(", ")
                )
            }))
        }
    }
}
