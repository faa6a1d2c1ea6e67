//! The small tables rating reads besides contracts: FX rates, contributions and the
//! model registry (spec: contracts.md). Each parses from CSV bytes with its header.

use std::collections::BTreeMap;

use crate::contract::{is_party_id, ContributionKind, Glob, Party};
use crate::event::is_currency_code;
use crate::money::Decimal;
use crate::period::Day;

/// FX rates have at most this many fractional digits.
pub const FX_SCALE_MAX: u32 = 10;
/// How many days an FX rate reaches forward.
pub const FX_LOOK_BACK_DAYS: i32 = 7;
const ROWS_MAX: usize = 10_000_000;

/// A table row that failed to load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct TableError {
    pub file: String,
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    pub message: String,
}

/// Reads a CSV with exactly the `expected` header, yielding `(line, record)`.
fn read_rows(file: &str, bytes: &[u8], expected: &[&str]) -> Result<Vec<(u64, csv::StringRecord)>, TableError> {
    let error = |line: u64, message: String| TableError {
        file: file.to_string(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|e| error(1, format!("unreadable header: {e}")))?
        .clone();
    let header: Vec<&str> = header.iter().map(str::trim).collect();
    if header != expected {
        return Err(error(
            1,
            format!(
                "the header must be `{}`, found `{}`",
                expected.join(","),
                header.join(",")
            ),
        ));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            error(line, format!("unreadable row: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != expected.len() {
            return Err(error(
                line,
                format!("has {} fields, expected {}", record.len(), expected.len()),
            ));
        }
        if rows.len() >= ROWS_MAX {
            return Err(error(line, format!("more than {ROWS_MAX} rows")));
        }
        rows.push((line, record));
    }
    Ok(rows)
}

/// FX rates `date,from,to,rate`.
#[derive(Clone, Debug, Default)]
pub struct FxTable {
    /// `(from, to)` → `(date, rate)` ascending by date.
    pairs: BTreeMap<(String, String), Vec<(Day, Decimal)>>,
}

impl FxTable {
    pub fn from_csv(file: &str, bytes: &[u8]) -> Result<FxTable, TableError> {
        let mut table = FxTable::default();
        for (line, row) in read_rows(file, bytes, &["date", "from", "to", "rate"])? {
            let error = |message: String| TableError {
                file: file.to_string(),
                line,
                message,
            };
            let date = Day::parse(&row[0]).ok_or_else(|| error(format!("date: \"{}\" must be YYYY-MM-DD", &row[0])))?;
            for (field, code) in [("from", &row[1]), ("to", &row[2])] {
                if !is_currency_code(code) {
                    return Err(error(format!("{field}: \"{code}\" must be an ISO 4217 code")));
                }
            }
            let rate = Decimal::parse_bounded(&row[3], FX_SCALE_MAX, 15).map_err(|e| error(format!("rate: {e}")))?;
            if rate <= Decimal::zero() {
                return Err(error(format!("rate: {} must be > 0", &row[3])));
            }
            table.insert(date, &row[1], &row[2], rate).map_err(error)?;
        }
        Ok(table)
    }

    /// Adds one rate; `(date, from, to)` is unique.
    pub fn insert(&mut self, date: Day, from: &str, to: &str, rate: Decimal) -> Result<(), String> {
        let rows = self.pairs.entry((from.to_string(), to.to_string())).or_default();
        match rows.binary_search_by(|(d, _)| d.cmp(&date)) {
            Ok(_) => Err(format!("a rate for {date} {from}->{to} is given twice")),
            Err(position) => {
                rows.insert(position, (date, rate));
                Ok(())
            }
        }
    }

    /// The rate for converting `from` to `to` on `day`: the latest row dated at most
    /// 7 days before.
    pub fn rate(&self, from: &str, to: &str, day: Day) -> Option<&Decimal> {
        let rows = self.pairs.get(&(from.to_string(), to.to_string()))?;
        let index = rows.partition_point(|(d, _)| *d <= day);
        let (date, rate) = rows.get(index.checked_sub(1)?)?;
        (day.0 - date.0 <= FX_LOOK_BACK_DAYS).then_some(rate)
    }

    pub fn rows(&self) -> impl Iterator<Item = (Day, &str, &str, &Decimal)> {
        self.pairs
            .iter()
            .flat_map(|((from, to), rows)| rows.iter().map(move |(d, r)| (*d, from.as_str(), to.as_str(), r)))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContributionStatus {
    Proposed,
    Accepted,
    Rejected,
}

impl ContributionStatus {
    pub fn parse(text: &str) -> Option<ContributionStatus> {
        match text {
            "proposed" => Some(ContributionStatus::Proposed),
            "accepted" => Some(ContributionStatus::Accepted),
            "rejected" => Some(ContributionStatus::Rejected),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContributionStatus::Proposed => "proposed",
            ContributionStatus::Accepted => "accepted",
            ContributionStatus::Rejected => "rejected",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    pub contract: String,
    pub by: Party,
    pub kind: ContributionKind,
    pub date: Day,
    pub status: ContributionStatus,
    pub reference: String,
}

/// Contributions `contract,by,kind,date,status,reference`.
#[derive(Clone, Debug, Default)]
pub struct Contributions {
    pub rows: Vec<Contribution>,
}

impl Contributions {
    pub fn from_csv(file: &str, bytes: &[u8]) -> Result<Contributions, TableError> {
        let mut rows = Vec::new();
        for (line, row) in read_rows(file, bytes, &["contract", "by", "kind", "date", "status", "reference"])? {
            let error = |message: String| TableError {
                file: file.to_string(),
                line,
                message,
            };
            if !is_party_id(&row[0]) {
                return Err(error(format!("contract: \"{}\" is not a contract id", &row[0])));
            }
            let by =
                Party::parse(&row[1]).ok_or_else(|| error(format!("by: \"{}\" must be host or licensor", &row[1])))?;
            let kind = ContributionKind::parse(&row[2]).ok_or_else(|| {
                error(format!(
                    "kind: \"{}\" must be maintenance, update or improvement",
                    &row[2]
                ))
            })?;
            let date = Day::parse(&row[3]).ok_or_else(|| error(format!("date: \"{}\" must be YYYY-MM-DD", &row[3])))?;
            let status = ContributionStatus::parse(&row[4]).ok_or_else(|| {
                error(format!(
                    "status: \"{}\" must be proposed, accepted or rejected",
                    &row[4]
                ))
            })?;
            rows.push(Contribution {
                contract: row[0].to_string(),
                by,
                kind,
                date,
                status,
                reference: row[5].to_string(),
            });
        }
        Ok(Contributions { rows })
    }

    /// Accepted contributions of `by`/`kind` to `contract` dated in `[start, end)`.
    pub fn accepted_count(&self, contract: &str, by: Party, kind: ContributionKind, start: Day, end: Day) -> u64 {
        self.rows
            .iter()
            .filter(|c| {
                c.contract == contract
                    && c.by == by
                    && c.kind == kind
                    && c.status == ContributionStatus::Accepted
                    && c.date >= start
                    && c.date < end
            })
            .count() as u64
    }
}

/// The model registry `pattern,licensor`: the first matching row owns a model.
#[derive(Clone, Debug, Default)]
pub struct ModelRegistry {
    pub rows: Vec<(Glob, String)>,
}

impl ModelRegistry {
    pub fn from_csv(file: &str, bytes: &[u8]) -> Result<ModelRegistry, TableError> {
        let mut rows = Vec::new();
        for (line, row) in read_rows(file, bytes, &["pattern", "licensor"])? {
            if row[0].is_empty() || !is_party_id(&row[1]) {
                return Err(TableError {
                    file: file.to_string(),
                    line,
                    message: format!(
                        "needs a model pattern and a licensor id, found \"{}\",\"{}\"",
                        &row[0], &row[1]
                    ),
                });
            }
            rows.push((Glob::new(&row[0]), row[1].to_string()));
        }
        Ok(ModelRegistry { rows })
    }

    pub fn owner(&self, model: &str) -> Option<&str> {
        self.rows
            .iter()
            .find(|(glob, _)| glob.matches(model))
            .map(|(_, licensor)| licensor.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fx_looks_back_at_most_seven_days() {
        let fx = FxTable::from_csv(
            "fx.csv",
            b"date,from,to,rate\n2026-10-05,EUR,USD,1.1\n2026-10-14,EUR,USD,1.2\n",
        )
        .unwrap();
        let day = |s: &str| Day::parse(s).unwrap();
        let rate = |s: &str| fx.rate("EUR", "USD", day(s)).map(Decimal::to_normalized_string);
        assert_eq!(rate("2026-10-04"), None);
        assert_eq!(rate("2026-10-05").as_deref(), Some("1.1"));
        assert_eq!(rate("2026-10-12").as_deref(), Some("1.1"));
        assert_eq!(rate("2026-10-13"), None);
        assert_eq!(rate("2026-10-14").as_deref(), Some("1.2"));
        assert_eq!(fx.rate("USD", "EUR", day("2026-10-14")), None);
    }

    #[test]
    fn bad_tables_name_the_line_and_field() {
        let cases: [(&[u8], &str); 6] = [
            (
                b"date,from,to,rate\n2026-10-05,EUR,USD,1.1\n2026-10-05,EUR,USD,1.2\n",
                "fx.csv:3: a rate for 2026-10-05 EUR->USD is given twice",
            ),
            (
                b"date,from,to,rate\n2026-10-05,EUR,USD,0\n",
                "fx.csv:2: rate: 0 must be > 0",
            ),
            (
                b"date,from,to,rate\n2026-10-05,EUR,USD,1.12345678901\n",
                "fx.csv:2: rate: `1.12345678901` has 11 fractional digits",
            ),
            (
                b"date,from,to,rate\n2026-10-05,EUR,USD,-1\n",
                "fx.csv:2: rate: -1 must be > 0",
            ),
            (b"day,from,to,rate\n", "fx.csv:1: the header must be"),
            (b"date,from,to,rate\n2026-10-32,EUR,USD,1\n", "fx.csv:2: date"),
        ];
        for (bytes, expected) in cases {
            let error = FxTable::from_csv("fx.csv", bytes).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{error}");
        }
        let error = Contributions::from_csv(
            "c.csv",
            b"contract,by,kind,date,status,reference\nx,host,repair,2026-10-01,accepted,r\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.starts_with("c.csv:2: kind"), "{error}");
    }
}
