//! FX rates and the model registry: the tables rating reads besides contracts.

use revshare_core::audit::Action;
use revshare_core::period::{Cadence, Day};
use revshare_core::tables::{FxTable, ModelRegistry};
use revshare_store::backend::{FxRow, RegistryRow};

use crate::access::{require, Permission};
use crate::keys::Keys;
use crate::rows::{fx_payload, object, payload};
use crate::tx::{self, Tx};
use crate::Field;
use crate::{Actor, AppError, Backend, Ctx, Result};

/// What adding an FX file did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FxAdded {
    pub stored: usize,
    /// Rows identical to stored ones.
    pub skipped: usize,
}

/// Adds FX rates. A row identical to a stored one is skipped; another rate for a
/// stored `(date, from, to)` refuses the whole file, naming both.
pub fn add_fx(backend: &mut dyn Backend, keys: &Keys, ctx: Ctx<'_>, file_name: &str, bytes: &[u8]) -> Result<FxAdded> {
    require(ctx.actor, Permission::WriteTables)?;
    let table = FxTable::from_csv(file_name, bytes).map_err(|e| AppError::Invalid(e.to_string()))?;
    tx::write(backend, keys, ctx, |tx| add_fx_in(tx, file_name, &table))
}

fn add_fx_in(tx: &mut Tx<'_>, file_name: &str, table: &FxTable) -> Result<FxAdded> {
    let stored = tx.backend.fx()?;
    let seq = tx.next_seq();
    let mut new = Vec::new();
    let mut skipped = 0;
    for (date, from, to, rate) in table.rows() {
        let rate = rate.to_normalized_string();
        match stored.iter().find(|r| r.date == date.0 && r.from == from && r.to == to) {
            Some(same) if same.rate == rate => skipped += 1,
            Some(other) => {
                return Err(AppError::Conflict(format!(
                    "{file_name}: the rate {date} {from}->{to} = {rate} differs from the stored {} (FX rates are \
                     never replaced: a closed statement must stay reproducible)",
                    other.rate
                )))
            }
            None => new.push(FxRow {
                date: date.0,
                from: from.to_string(),
                to: to.to_string(),
                rate,
                seq,
            }),
        }
    }
    if !new.is_empty() {
        tx.record(Action::FxRatesAdded, object::FX.to_string(), fx_payload(&new))?;
        tx.backend.add_fx(&new)?;
    }
    Ok(FxAdded {
        stored: new.len(),
        skipped,
    })
}

/// The stored FX rates, by `(from, to, date)`.
pub fn fx(backend: &mut dyn Backend, actor: &Actor) -> Result<Vec<FxRow>> {
    require(actor, Permission::ReadTables)?;
    Ok(backend.fx()?)
}

/// One page of [`fx`], in the order the rates were added, then by `(date, from, to)`.
pub fn fx_page(
    backend: &mut dyn Backend,
    actor: &Actor,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<crate::page::Page<FxRow>> {
    let mut rows = fx(backend, actor)?;
    rows.sort_by(|a, b| (a.seq, a.date, &a.from, &a.to).cmp(&(b.seq, b.date, &b.from, &b.to)));
    crate::page::page(rows, limit, cursor)
}

/// What adding a registry version did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryAdded {
    pub version: i64,
    pub effective_from: Day,
    pub rows: usize,
}

/// Adds a version of the model registry, effective from `from` (a UTC month start;
/// default: the month after the latest closed period, or from the start when none
/// is closed). It may not take effect inside a closed period.
pub fn add_registry(
    backend: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    file_name: &str,
    bytes: &[u8],
    from: Option<Day>,
) -> Result<RegistryAdded> {
    require(ctx.actor, Permission::WriteTables)?;
    let registry =
        ModelRegistry::from_csv(crate::file_label(file_name), bytes).map_err(|e| AppError::Invalid(e.to_string()))?;
    if let Some(day) = from {
        if !Cadence::Month.is_period_start(day) {
            return Err(AppError::InvalidField(
                Field::EffectiveFrom,
                format!("{day} must be the first day of a month (a registry version takes effect at a month start)"),
            ));
        }
    }
    let rows: Vec<(String, String)> = registry
        .rows
        .iter()
        .map(|(glob, licensor)| (glob.as_str().to_string(), licensor.clone()))
        .collect();
    tx::write(backend, keys, ctx, |tx| add_registry_in(tx, file_name, rows, from))
}

fn add_registry_in(
    tx: &mut Tx<'_>,
    file_name: &str,
    rows: Vec<(String, String)>,
    from: Option<Day>,
) -> Result<RegistryAdded> {
    let latest = tx.backend.statements()?.into_iter().max_by_key(|s| s.end_day);
    let earliest = latest.as_ref().map_or(Day(0), |s| Day(s.end_day));
    let effective_from = from.unwrap_or(earliest);
    if let Some(closed) = latest.filter(|s| effective_from.0 < s.end_day) {
        return Err(AppError::Conflict(format!(
            "a registry version from {effective_from} would take effect inside the closed statement {} \
             (which ends {}); it can take effect from {} or later",
            closed.statement_id,
            Day(closed.end_day),
            Day(closed.end_day)
        )));
    }
    let version = tx.backend.registries()?.iter().map(|r| r.version).max().unwrap_or(0) + 1;
    let mut row = RegistryRow {
        version,
        effective_from: effective_from.0,
        file_name: file_name.to_string(),
        added_at: tx.time().to_string(),
        rows,
        seq: tx.next_seq(),
    };
    let entry = tx.record(Action::RegistryVersionAdded, object::registry(version), payload(&row))?;
    row.seq = entry.seq;
    tx.backend.add_registry(&row)?;
    Ok(RegistryAdded {
        version,
        effective_from,
        rows: row.rows.len(),
    })
}

/// The registry versions, by version.
pub fn registries(backend: &mut dyn Backend, actor: &Actor) -> Result<Vec<RegistryRow>> {
    require(actor, Permission::ReadTables)?;
    Ok(backend.registries()?)
}

/// One page of [`registries`], in version order (the store's).
pub fn registries_page(
    backend: &mut dyn Backend,
    actor: &Actor,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<crate::page::Page<RegistryRow>> {
    crate::page::page(registries(backend, actor)?, limit, cursor)
}
