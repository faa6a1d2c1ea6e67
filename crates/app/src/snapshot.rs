//! The store as of an audit seq (statements.md, What a close uses): exactly the rows
//! added at or before it. A close rates as of its `audit_head.seq`, and re-rating a
//! closed period as of that seq reproduces its statement.
//!
//! The configuration tables (contracts, FX, contributions, registries, periods
//! closed after a term) are small and read whole; what grows with the store is read
//! by key: a close's snapshot holds the statements and disputes of the contracts it
//! closes only ([`Snapshot::for_close`]), and voids are read by host and days where
//! they are needed ([`Snapshot::voids_in`]).

use std::collections::HashMap;

use revshare_core::contract::{Contract, ContractSet, Glob};
use revshare_core::money::Decimal;
use revshare_core::period::{Day, Period};
use revshare_core::rating::RatingInputs;
use revshare_core::tables::{Contribution, ContributionStatus, Contributions, FxTable, ModelRegistry};
use revshare_store::backend::{
    ClosedAfterTermRow, ContractRow, ContributionRow, FxRow, RegistryRow, StatementRow, VoidRow,
};

use revshare_core::audit::Seq;

use crate::checked::Trust;
use crate::{AppError, Backend, Result};

pub struct Snapshot {
    pub seq: Seq,
    pub contract_rows: Vec<ContractRow>,
    pub contracts: ContractSet,
    pub fx_rows: Vec<FxRow>,
    pub fx: FxTable,
    /// Contributions proposed by then, each with its status as of then.
    pub contribution_rows: Vec<ContributionRow>,
    pub contributions: Contributions,
    pub registries: Vec<RegistryRow>,
    /// [`Snapshot::registries`] with their patterns compiled, in the same order.
    compiled: Vec<ModelRegistry>,
    /// The contract whose statements and disputes the snapshot holds, or none for
    /// every contract's.
    scope: Option<String>,
    /// The statements (of the contract in scope), by `(contract, start_day)`.
    pub statements: Vec<StatementRow>,
    /// Periods closed after a contract's term without a statement.
    pub closed_after_term: Vec<ClosedAfterTermRow>,
    /// Disputes resolved by then (a resolved dispute never changes again): the
    /// next statement closed for their contract carries them (of the contract in
    /// scope).
    pub disputes: Vec<revshare_core::dispute::DisputeRow>,
}

/// The voids of one host's days as of a snapshot.
pub(crate) struct Voids(Vec<VoidRow>);

impl Voids {
    /// The seq of every void by its event's `(source, id)`, borrowed: what checking
    /// the events a close reads against the voids needs, without a key allocated
    /// per event.
    pub(crate) fn voided(&self) -> HashMap<(&str, &str), Seq> {
        self.0
            .iter()
            .map(|row| ((row.source.as_str(), row.id.as_str()), row.seq))
            .collect()
    }
}

/// A registry version's patterns, compiled once.
fn compile(row: &RegistryRow) -> ModelRegistry {
    ModelRegistry {
        rows: row
            .rows
            .iter()
            .map(|(pattern, licensor)| (Glob::new(pattern), licensor.clone()))
            .collect(),
    }
}

fn corrupt(what: String) -> AppError {
    AppError::Integrity(what)
}

impl Snapshot {
    /// Everything stored at or before `seq`, every contract's statements and
    /// disputes.
    pub fn load(backend: &mut dyn Backend, seq: Seq) -> Result<Snapshot> {
        let statements = backend.statements()?;
        let disputes = revshare_store::backend::Disputes::disputes(backend)?;
        Snapshot::with(backend, seq, None, statements, disputes)
    }

    /// What a close as of `seq` reads: [`Snapshot::load`], with the statements and
    /// disputes of `contract` only when it closes one (keyed reads).
    pub(crate) fn for_close(backend: &mut dyn Backend, seq: Seq, contract: Option<&str>) -> Result<Snapshot> {
        match contract {
            None => Snapshot::load(backend, seq),
            Some(contract) => {
                let statements = backend.statements_of(contract)?;
                let disputes = backend.disputes_of(contract)?;
                Snapshot::with(backend, seq, Some(contract.to_string()), statements, disputes)
            }
        }
    }

    fn with(
        backend: &mut dyn Backend,
        seq: Seq,
        scope: Option<String>,
        statements: Vec<StatementRow>,
        disputes: Vec<revshare_core::dispute::DisputeRow>,
    ) -> Result<Snapshot> {
        let contract_rows: Vec<ContractRow> = backend.contracts()?.into_iter().filter(|r| r.seq <= seq).collect();
        let contracts = contract_set(&contract_rows)?;
        let fx_rows: Vec<FxRow> = backend.fx()?.into_iter().filter(|r| r.seq <= seq).collect();
        let fx = fx_table(&fx_rows)?;
        let contribution_rows: Vec<ContributionRow> = backend
            .contributions()?
            .into_iter()
            .filter(|r| r.proposed_seq <= seq)
            .map(|r| as_of(r, seq))
            .collect();
        let contributions = contributions(&contribution_rows)?;
        let registries: Vec<RegistryRow> = backend.registries()?.into_iter().filter(|r| r.seq <= seq).collect();
        let compiled = registries.iter().map(compile).collect();
        let statements = statements.into_iter().filter(|r| r.seq <= seq).collect();
        let closed_after_term = backend
            .closed_after_term()?
            .into_iter()
            .filter(|r| r.seq <= seq)
            .collect();
        let disputes = disputes
            .into_iter()
            .filter(|d| crate::disputes::resolved_by(d, seq))
            .collect();
        Ok(Snapshot {
            disputes,
            seq,
            scope,
            contract_rows,
            contracts,
            fx_rows,
            fx,
            contribution_rows,
            contributions,
            registries,
            compiled,
            statements,
            closed_after_term,
        })
    }

    /// The voids of `host`'s events dated in `[start, end)` stored by the
    /// snapshot's seq, checked against the log as `trust` says (a close's are).
    pub(crate) fn voids_in(
        &self,
        backend: &mut dyn Backend,
        trust: &mut Trust,
        host: &str,
        start: i32,
        end: i32,
    ) -> Result<Voids> {
        let rows = backend.voids_in(host, start, end, self.seq)?;
        trust.voids(backend, &rows)?;
        Ok(Voids(rows))
    }

    /// The registry version in force on `day`: the latest effective at or before it
    /// (for the same start, the later version).
    pub(crate) fn registry_on(&self, day: Day) -> Option<&RegistryRow> {
        self.registry_index(day).map(|i| &self.registries[i])
    }

    /// [`Snapshot::registry_on`], compiled: what step 1 reads.
    pub(crate) fn model_registry_on(&self, day: Day) -> Option<&ModelRegistry> {
        self.registry_index(day).map(|i| &self.compiled[i])
    }

    fn registry_index(&self, day: Day) -> Option<usize> {
        self.registries
            .iter()
            .enumerate()
            .filter(|(_, r)| r.effective_from <= day.0)
            .max_by_key(|(_, r)| (r.effective_from, r.version))
            .map(|(index, _)| index)
    }

    /// What rating a period reads: contracts, FX, contributions, and the registry in
    /// force at the period's start.
    pub(crate) fn inputs_for(&self, period: Period) -> RatingInputs {
        let registry = self.model_registry_on(period.start()).cloned();
        RatingInputs {
            contracts: self.contracts.clone(),
            fx: self.fx.clone(),
            contributions: self.contributions.clone(),
            registry,
        }
    }

    /// The contract versions and FX rates stored at or before an earlier `seq` (what
    /// step 2 read then), from this snapshot's rows without reading the store again.
    pub(crate) fn terms_as_of(&self, seq: Seq) -> Result<(ContractSet, FxTable)> {
        let contract_rows: Vec<ContractRow> = self.contract_rows.iter().filter(|r| r.seq <= seq).cloned().collect();
        let fx_rows: Vec<FxRow> = self.fx_rows.iter().filter(|r| r.seq <= seq).cloned().collect();
        Ok((contract_set(&contract_rows)?, fx_table(&fx_rows)?))
    }

    /// The index of a contract id in [`Snapshot::contracts`].
    pub(crate) fn contract_index(&self, id: &str) -> Option<usize> {
        self.contracts.contracts.iter().position(|c| c.id == id)
    }

    /// The stored statements of one contract, by period.
    pub(crate) fn statements_of<'s>(&'s self, contract: &'s str) -> impl Iterator<Item = &'s StatementRow> + 's {
        self.in_scope(contract);
        self.statements.iter().filter(move |s| s.contract == contract)
    }

    /// The resolved disputes of one contract, in the order they were opened.
    pub(crate) fn disputes_of<'s>(
        &'s self,
        contract: &'s str,
    ) -> impl Iterator<Item = &'s revshare_core::dispute::DisputeRow> + 's {
        self.in_scope(contract);
        self.disputes.iter().filter(move |d| d.contract == contract)
    }

    /// A snapshot of one contract's statements answers for no other's.
    fn in_scope(&self, contract: &str) {
        assert!(
            self.scope.as_deref().is_none_or(|only| only == contract),
            "a snapshot of {:?}'s statements asked for {contract}'s",
            self.scope
        );
    }

    /// The periods of one contract closed after its term without a statement.
    pub(crate) fn closed_after_term_of<'s>(
        &'s self,
        contract: &'s str,
    ) -> impl Iterator<Item = &'s ClosedAfterTermRow> + 's {
        self.closed_after_term.iter().filter(move |s| s.contract == contract)
    }
}

/// A contribution as it stood at `seq`: proposed until its decision's seq.
fn as_of(mut row: ContributionRow, seq: Seq) -> ContributionRow {
    if row.decided_seq.is_some_and(|decided| decided > seq) {
        row.status = ContributionStatus::Proposed;
        row.decided_by = None;
        row.decided_at = None;
        row.decided_seq = None;
    }
    row
}

/// The contract set the stored versions make.
pub(crate) fn contract_set(rows: &[ContractRow]) -> Result<ContractSet> {
    let mut loaded: Vec<(String, Contract)> = Vec::with_capacity(rows.len());
    for row in rows {
        loaded.push((crate::file_label(&row.file_name).to_string(), parsed(row)?));
    }
    ContractSet::new(loaded).map_err(|e| corrupt(format!("the stored contracts are inconsistent: {e}")))
}

/// Contracts parsed before, by the digest of what they were parsed from: access
/// decisions and closes read the contracts on every request, and a version's text
/// never changes once stored (an edited row has another digest and is parsed anew).
static PARSED: std::sync::LazyLock<std::sync::Mutex<HashMap<[u8; 32], Contract>>> =
    std::sync::LazyLock::new(Default::default);

/// More versions than a deployment holds means rows that change: start over.
const PARSED_MAX: usize = 4096;

/// A stored version, parsed (once per text).
fn parsed(row: &ContractRow) -> Result<Contract> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    hasher.update((row.file_name.len() as u64).to_be_bytes());
    hasher.update(row.file_name.as_bytes());
    hasher.update(row.toml.as_bytes());
    let digest: [u8; 32] = hasher.finalize().into();
    let cache = || PARSED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(contract) = cache().get(&digest) {
        return Ok(contract.clone());
    }
    let contract = Contract::from_toml(crate::file_label(&row.file_name), row.toml.as_bytes()).map_err(|e| {
        corrupt(format!(
            "stored contract {} version {} no longer loads: {e}",
            row.id, row.version
        ))
    })?;
    let mut cache = cache();
    if cache.len() >= PARSED_MAX {
        cache.clear();
    }
    cache.insert(digest, contract.clone());
    Ok(contract)
}

fn fx_table(rows: &[FxRow]) -> Result<FxTable> {
    let mut fx = FxTable::default();
    for row in rows {
        let rate = Decimal::parse(&row.rate, revshare_core::tables::FX_SCALE_MAX).map_err(|e| {
            corrupt(format!(
                "stored FX rate {} {}->{}: {e}",
                Day(row.date),
                row.from,
                row.to
            ))
        })?;
        fx.insert(Day(row.date), &row.from, &row.to, rate).map_err(corrupt)?;
    }
    Ok(fx)
}

fn contributions(rows: &[ContributionRow]) -> Result<Contributions> {
    let mut table = Contributions::default();
    for row in rows {
        table.rows.push(Contribution {
            contract: row.contract.clone(),
            by: row.by,
            kind: row.kind,
            date: Day(row.date),
            status: row.status,
            reference: row.reference.clone(),
        });
    }
    Ok(table)
}
