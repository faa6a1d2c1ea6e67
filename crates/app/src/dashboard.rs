//! What the dashboard's overview shows, assembled from the same use cases the API
//! answers with (`statements::list`, `statements::entries`), so a page never shows
//! more than the API shows its caller: revenue and the licensor's share (the lines'
//! amounts) per period by model, use case and host, the exceptions of the
//! statements read, and a beneficiary's payouts. Sums are exact decimals; the bars
//! are a share of the largest value in thousandths, computed exactly too. Beside
//! them, each open period's accrual so far: what a dry run of its close rates now
//! ([`accrual`]). Each table comes a page at a time, as the API pages lists.

use std::collections::BTreeMap;

use revshare_core::money::{Decimal, RoundingMode};
use revshare_core::period::{Day, Period};

use crate::closed::ClosedStatement;
use crate::limits::OVERVIEW_ROWS;
use crate::page::Page;
use crate::views::StatementEntry;
use crate::{Actor, Backend, Ctx, Result};

/// What a breakdown groups the lines by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dimension {
    Model,
    UseCase,
    Host,
}

impl Dimension {
    pub const ALL: [Dimension; 3] = [Dimension::Model, Dimension::UseCase, Dimension::Host];

    pub fn title(self) -> &'static str {
        match self {
            Dimension::Model => "model",
            Dimension::UseCase => "use case",
            Dimension::Host => "host",
        }
    }
}

/// One row of a breakdown: a period, a currency and a model (use case, host).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub period: String,
    pub currency: String,
    pub key: String,
    pub events: u64,
    pub revenue: String,
    /// The licensor's share: the sum of the lines' amounts.
    pub share: String,
    /// `share` as thousandths of the largest share of the breakdown in its
    /// currency (0 to 1000), for a bar.
    pub bar: u32,
}

#[derive(Clone, Debug)]
pub struct Breakdown {
    pub dimension: Dimension,
    /// One page of the rows, by period, currency and key.
    pub rows: Page<Row>,
}

/// An exception row of a statement read: events no contract rates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exception {
    pub statement_id: String,
    pub kind: &'static str,
    pub currency: String,
    pub events: u64,
    pub revenue: String,
}

/// An open period's accrual so far, for one contract the actor reads: its own
/// usage as its next close would rate it now, from the rollups stored with the
/// events ([`crate::accrual`]), before the adjustments that close carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accrual {
    pub contract: String,
    /// The period its next close would close: after its latest closed one, or
    /// before its first close, the one holding today.
    pub period: String,
    /// Whether the period still runs (else it has ended and waits for its close).
    pub running: bool,
    /// When the dry run rated it (RFC 3339).
    pub as_of: String,
    pub estimate: Estimate,
}

/// What an open period's usage rates so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Estimate {
    /// The figures: events, the lines' revenue and the licensor's share (the
    /// subtotal, the lines' amounts), and the total with the period's own minimum
    /// guarantee and cap, before carried adjustments.
    Rated {
        currency: String,
        events: u64,
        revenue: String,
        share: String,
        total: String,
    },
    /// No version of the contract is in force for the period.
    Nothing,
}

/// Which page of each of the overview's tables to show: a cursor each, as the
/// page before gave it (`None`: the first).
#[derive(Clone, Debug, Default)]
pub struct Pages {
    pub accrual: Option<String>,
    pub model: Option<String>,
    pub use_case: Option<String>,
    pub host: Option<String>,
    pub exceptions: Option<String>,
    pub statements: Option<String>,
}

impl Pages {
    /// The cursor of a breakdown's table.
    pub fn cursor_of(&self, dimension: Dimension) -> Option<&str> {
        match dimension {
            Dimension::Model => self.model.as_deref(),
            Dimension::UseCase => self.use_case.as_deref(),
            Dimension::Host => self.host.as_deref(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Overview {
    /// Each open period's accrual so far, by contract; `None` for a caller who may
    /// not run a close (the API's dry runs are the operator's: no other party gets
    /// a figure of a period before its close).
    pub accrual: Option<Page<Accrual>>,
    /// By model, use case and host, in that order.
    pub breakdowns: Vec<Breakdown>,
    pub exceptions: Page<Exception>,
    /// What the actor reads of the closed statements (a beneficiary: its payout
    /// notices), as `GET /v1/statements` lists them.
    pub entries: Page<StatementEntry>,
}

#[derive(Default)]
struct Sum {
    events: u64,
    revenue: Decimal,
    share: Decimal,
}

fn decimal(text: &str) -> Decimal {
    // Signed statements hold amounts the close wrote: they parse.
    Decimal::parse(text, 64).unwrap_or_default()
}

/// Thousandths of `value` in `max` (0 for a zero or negative maximum), exactly.
pub fn thousandths(value: &Decimal, max: &Decimal) -> u32 {
    if max.is_zero() || max.is_negative() || value.is_negative() {
        return 0;
    }
    let bar = value.mul_div_round(&Decimal::from_int(1000), max, 0, RoundingMode::HalfEven);
    bar.to_fixed_string(0).parse::<u32>().unwrap_or(0).min(1000)
}

/// The overview of what `ctx.actor` reads, each table at the page asked for.
pub fn overview(backend: &mut dyn Backend, ctx: Ctx<'_>, pages: &Pages) -> Result<Overview> {
    let statements = crate::statements::list(backend, ctx.actor)?;
    let entries = crate::page::page(
        crate::statements::entries(backend, ctx.actor, None, None)?,
        Some(OVERVIEW_ROWS),
        pages.statements.as_deref(),
    )?;
    let accrual = match crate::access::require(ctx.actor, crate::access::Permission::Close) {
        Ok(()) => Some(accrual(backend, ctx, &statements, pages.accrual.as_deref())?),
        Err(_) => None,
    };
    let mut sums: [BTreeMap<(String, String, String), Sum>; 3] = Default::default();
    let mut exceptions = Vec::new();
    for closed in &statements {
        let statement = closed.statement();
        for line in &statement.lines {
            for (dimension, sums) in Dimension::ALL.iter().zip(sums.iter_mut()) {
                let key = match dimension {
                    Dimension::Model => &line.model,
                    Dimension::UseCase => &line.use_case,
                    Dimension::Host => &statement.host,
                };
                let sum = sums
                    .entry((statement.period.clone(), statement.currency.clone(), key.clone()))
                    .or_default();
                sum.events += line.events;
                sum.revenue = sum.revenue.add(&decimal(&line.revenue));
                sum.share = sum.share.add(&decimal(&line.amount));
            }
        }
        for exception in &statement.exceptions {
            exceptions.push(Exception {
                statement_id: closed.id().to_string(),
                kind: exception.kind.as_str(),
                currency: exception.currency.clone(),
                events: exception.events,
                revenue: exception.revenue.clone(),
            });
        }
    }
    let breakdowns = Dimension::ALL
        .iter()
        .zip(sums)
        .map(|(dimension, sums)| {
            let mut max: BTreeMap<&str, Decimal> = BTreeMap::new();
            for ((_, currency, _), sum) in &sums {
                let top = max.entry(currency.as_str()).or_default();
                if sum.share > *top {
                    *top = sum.share.clone();
                }
            }
            let rows: Vec<Row> = sums
                .iter()
                .map(|((period, currency, key), sum)| Row {
                    period: period.clone(),
                    currency: currency.clone(),
                    key: key.clone(),
                    events: sum.events,
                    revenue: sum.revenue.to_string(),
                    share: sum.share.to_string(),
                    bar: thousandths(&sum.share, max.get(currency.as_str()).unwrap_or(&Decimal::zero())),
                })
                .collect();
            Ok(Breakdown {
                dimension: *dimension,
                rows: crate::page::page(rows, Some(OVERVIEW_ROWS), pages.cursor_of(*dimension))?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Overview {
        accrual,
        breakdowns,
        exceptions: crate::page::page(exceptions, Some(OVERVIEW_ROWS), pages.exceptions.as_deref())?,
        entries,
    })
}

/// One page of the open periods' accruals of the contracts the actor reads (the
/// statements' readers; a beneficiary reads its payout notices once a period
/// closes), in the order contracts are stored. `statements` are the closed
/// statements the actor reads ([`crate::statements::list`]): where each contract's
/// settlement stands. Each is rated from the rollups stored with the events
/// ([`crate::accrual`]), as of the log's head.
fn accrual(
    backend: &mut dyn Backend,
    ctx: Ctx<'_>,
    statements: &[ClosedStatement],
    cursor: Option<&str>,
) -> Result<Page<Accrual>> {
    let head = backend.audit_head()?;
    let snapshot = crate::snapshot::Snapshot::load(backend, head.seq)?;
    let today = Day(ctx.now.utc_day());
    let mut open = Vec::new();
    for (index, versions) in snapshot.contracts.contracts.iter().enumerate() {
        if !crate::access::reads_contract(ctx.actor, versions) {
            continue;
        }
        let latest = statements
            .iter()
            .filter(|s| s.statement().contract == versions.id)
            .filter_map(|s| Period::parse(&s.statement().period))
            .max_by_key(|p| p.start());
        // Before a contract's first close, the estimate is of the period holding
        // today (a real close confirms where settlement starts).
        if let Some((period, _)) = crate::close::open_period(versions, latest, today) {
            open.push((index, period));
        }
    }
    let page = crate::page::page(open, Some(OVERVIEW_ROWS), cursor)?;
    let items = page
        .items
        .into_iter()
        .map(|(index, period)| {
            let rated = crate::accrual::rate(backend, &snapshot, index, period)?;
            Ok(Accrual {
                contract: snapshot.contracts.contracts[index].id.clone(),
                estimate: rated.map_or(Estimate::Nothing, estimate),
                running: today < period.end(),
                period: period.to_string(),
                as_of: ctx.time(),
            })
        })
        .collect::<Result<_>>()?;
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// The figures of a period's rating so far.
fn estimate(rated: revshare_core::rating::Rated) -> Estimate {
    let statement = rated.statement;
    let revenue = statement
        .lines
        .iter()
        .fold(Decimal::zero(), |sum, line| sum.add(&decimal(&line.revenue)));
    Estimate::Rated {
        currency: statement.currency,
        events: statement.events.count,
        revenue: revenue.to_string(),
        share: statement.subtotal,
        total: statement.total,
    }
}

/// The revenue share each line's use case has in the statement's contract version
/// (`rate_for`: its own rule, else `*`), read as the actor reads the contract; the
/// line's rate before the contribution delta and any exclusivity delta.
pub fn line_rates(
    backend: &mut dyn Backend,
    actor: &Actor,
    statement: &revshare_core::statement::Statement,
) -> Result<BTreeMap<String, String>> {
    let row = crate::contracts::show(
        backend,
        actor,
        &statement.contract,
        Some(i64::from(statement.contract_version)),
    )?;
    let contract = revshare_core::contract::Contract::from_toml(&row.file_name, row.toml.as_bytes())
        .map_err(|e| crate::AppError::Integrity(format!("a stored contract does not parse: {e}")))?;
    Ok(statement
        .lines
        .iter()
        .filter_map(|line| {
            let rule = contract.rate_for(&line.use_case)?;
            Some((line.use_case.clone(), rule.revenue_share.to_string()))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_exact_thousandths_of_the_largest() {
        let d = |s: &str| Decimal::parse(s, 10).unwrap();
        assert_eq!(thousandths(&d("5"), &d("10")), 500);
        assert_eq!(thousandths(&d("10"), &d("10")), 1000);
        assert_eq!(thousandths(&d("1"), &d("3")), 333);
        assert_eq!(thousandths(&d("2"), &d("3")), 667);
        assert_eq!(thousandths(&d("1"), &d("0")), 0);
        assert_eq!(thousandths(&d("-1"), &d("3")), 0);
    }
}
