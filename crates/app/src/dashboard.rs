//! What the dashboard's overview shows, assembled from the same use cases the API
//! answers with (`statements::list`, `statements::entries`), so a page never shows
//! more than the API shows its caller: revenue and the licensor's share (the lines'
//! amounts) per period by model, use case and host, the exceptions of the
//! statements read, and a beneficiary's payouts. Sums are exact decimals; the bars
//! are a share of the largest value in thousandths, computed exactly too.

use std::collections::BTreeMap;

use revshare_core::money::{Decimal, RoundingMode};

use crate::views::StatementEntry;
use crate::{Actor, Backend, Result};

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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breakdown {
    pub dimension: Dimension,
    pub rows: Vec<Row>,
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overview {
    /// By model, use case and host, in that order.
    pub breakdowns: Vec<Breakdown>,
    pub exceptions: Vec<Exception>,
    /// What the actor reads of the closed statements (a beneficiary: its payout
    /// notices), as `GET /v1/statements` lists them.
    pub entries: Vec<StatementEntry>,
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

/// The overview of what `actor` reads.
pub fn overview(backend: &mut dyn Backend, actor: &Actor) -> Result<Overview> {
    let statements = crate::statements::list(backend, actor)?;
    let entries = crate::statements::entries(backend, actor, None, None)?;
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
            let rows = sums
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
            Breakdown {
                dimension: *dimension,
                rows,
            }
        })
        .collect();
    Ok(Overview {
        breakdowns,
        exceptions,
        entries,
    })
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
