//! A statement as a table for people, fitted to a width.
//!
//! Amounts and counts are grouped by thousands; amounts have the contract's scale,
//! and `revenue` and `base` one precision per column (the most places a value of
//! the column has, padded with zeros; when rounded, the contract's scale + 2). The
//! table tries layouts from the widest to the narrowest and prints the first that
//! fits: unrounded decimals (`revenue`, `base`) exact, then rounded for display,
//! then requests and then tokens left out, then revenue and base left out, then
//! model and use case shortened with `…` in the middle (never split across lines).
//! Amounts and event counts are never shortened or left out; a note under the table
//! says what was rounded, shortened or left out (JSON and CSV keep every value
//! exactly).

use std::io::{self, Write};

use comfy_table::{CellAlignment, ContentArrangement, Table};
use revshare_app::render::Names;
use revshare_core::statement::{Adjustment, Statement};

use super::text::{at_places, columns, count, counted, fitted, grouped, rounded, scale_of, short_hash, words, wrapped};

/// No side borders and no column rules: a rule above, under the header and below.
pub const STYLE: &str = "  ── ══      ──    ";

/// How the unrounded decimals (`revenue`, `base`) are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unrounded {
    Exact,
    Rounded,
    Hidden,
}

/// Which counts besides `events` are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Counts {
    /// `requests`, `tokens in`, `tokens out`.
    All,
    /// `tokens in`, `tokens out`.
    Tokens,
    None,
}

/// One arrangement of the table.
#[derive(Clone, Copy, Debug)]
struct Layout {
    unrounded: Unrounded,
    counts: Counts,
    /// How narrow model and use case may be shortened (`None`: they are whole).
    shorten: Option<usize>,
}

/// From the widest to the narrowest: unrounded digits go first, then the counts,
/// then revenue and base; model and use case are shortened only when nothing else
/// is left to take out (a shortened name can read like its neighbour's:
/// `llama-3.1-…-instruct`).
const LAYOUTS: [Layout; 6] = [
    layout(Unrounded::Exact, Counts::All, None),
    layout(Unrounded::Rounded, Counts::All, None),
    layout(Unrounded::Rounded, Counts::Tokens, None),
    layout(Unrounded::Rounded, Counts::None, None),
    layout(Unrounded::Hidden, Counts::None, None),
    layout(Unrounded::Hidden, Counts::None, Some(8)),
];

const fn layout(unrounded: Unrounded, counts: Counts, shorten: Option<usize>) -> Layout {
    Layout {
        unrounded,
        counts,
        shorten,
    }
}

/// The table's possible columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Model,
    UseCase,
    Events,
    Requests,
    TokensIn,
    TokensOut,
    Revenue,
    Base,
    Amount,
}

impl Col {
    fn header(self) -> &'static str {
        match self {
            Col::Model => "model",
            Col::UseCase => "use case",
            Col::Events => "events",
            Col::Requests => "requests",
            Col::TokensIn => "tokens in",
            Col::TokensOut => "tokens out",
            Col::Revenue => "revenue",
            Col::Base => "base",
            Col::Amount => "amount",
        }
    }

    fn is_text(self) -> bool {
        matches!(self, Col::Model | Col::UseCase)
    }
}

impl Layout {
    fn columns(self) -> Vec<Col> {
        let mut cols = vec![Col::Model, Col::UseCase, Col::Events];
        if self.counts == Counts::All {
            cols.push(Col::Requests);
        }
        if self.counts != Counts::None {
            cols.extend([Col::TokensIn, Col::TokensOut]);
        }
        if self.unrounded != Unrounded::Hidden {
            cols.extend([Col::Revenue, Col::Base]);
        }
        cols.push(Col::Amount);
        cols
    }
}

/// One row of the table with every possible cell (empty where it does not apply);
/// `revenue` and `base` exact.
#[derive(Default)]
struct Row {
    model: String,
    use_case: String,
    events: String,
    requests: String,
    tokens_in: String,
    tokens_out: String,
    revenue: String,
    base: String,
    amount: String,
}

impl Row {
    fn summary(label: String, amount: &str) -> Row {
        Row {
            model: label,
            amount: grouped(amount),
            ..Row::default()
        }
    }

    /// The cell of `col`: model and use case fitted to `cap` columns, revenue and
    /// base at their column's precision.
    fn cell(&self, col: Col, precision: Precision, cap: Option<usize>) -> String {
        let text = |value: &str| cap.map_or_else(|| value.to_string(), |cap| fitted(value, cap));
        match col {
            Col::Model => text(&self.model),
            Col::UseCase => text(&self.use_case),
            Col::Events => self.events.clone(),
            Col::Requests => self.requests.clone(),
            Col::TokensIn => self.tokens_in.clone(),
            Col::TokensOut => self.tokens_out.clone(),
            Col::Revenue => grouped(&at_places(&self.revenue, precision.revenue)),
            Col::Base => grouped(&at_places(&self.base, precision.base)),
            Col::Amount => self.amount.clone(),
        }
    }

    /// Whether display rounding to `places` changes its revenue or base.
    fn loses_digits(&self, places: u32) -> bool {
        rounded(&self.revenue, places) != self.revenue || rounded(&self.base, places) != self.base
    }
}

/// The places `revenue` and `base` are shown with, one per column.
#[derive(Clone, Copy, Debug)]
struct Precision {
    revenue: u32,
    base: u32,
}

impl Precision {
    /// The most places a value of the column has; at most `places` when rounded.
    fn of(rows: &[Row], unrounded: Unrounded, places: u32) -> Precision {
        let widest = |value: fn(&Row) -> &str| {
            let most = rows.iter().map(|r| scale_of(value(r))).max().unwrap_or(0);
            match unrounded {
                Unrounded::Exact => most,
                _ => most.min(places),
            }
        };
        Precision {
            revenue: widest(|r| &r.revenue),
            base: widest(|r| &r.base),
        }
    }
}

/// The label of an adjustment's row: its kind and what it settles.
fn adjustment_label(adjustment: &Adjustment) -> String {
    let settles = adjustment.period.as_ref().or(adjustment.dispute_id.as_ref());
    match settles {
        Some(settles) => format!("{} {settles}", adjustment.kind.as_str()),
        None => adjustment.kind.as_str().to_string(),
    }
}

fn rows(s: &Statement) -> Vec<Row> {
    let mut rows: Vec<Row> = s
        .lines
        .iter()
        .map(|line| Row {
            model: line.model.clone(),
            use_case: line.use_case.clone(),
            events: count(line.events),
            requests: count(line.requests),
            tokens_in: count(line.input_tokens),
            tokens_out: count(line.output_tokens),
            revenue: line.revenue.clone(),
            base: line.base.clone(),
            amount: grouped(&line.amount),
        })
        .collect();
    rows.push(Row::summary("subtotal".to_string(), &s.subtotal));
    for adjustment in &s.adjustments {
        let mut row = Row::summary(adjustment_label(adjustment), &adjustment.amount);
        if let Some(events) = &adjustment.events {
            row.events = count(events.count);
        }
        rows.push(row);
    }
    rows.push(Row::summary("total".to_string(), &s.total));
    rows
}

/// The table in one layout, model and use case fitted to `cap` columns (`None`:
/// whole); comfy-table wraps nothing.
fn build(rows: &[Row], layout: Layout, places: u32, cap: Option<usize>) -> Table {
    let cols = layout.columns();
    let precision = Precision::of(rows, layout.unrounded, places);
    let mut table = Table::new();
    table
        .load_preset(STYLE)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(cols.iter().map(|c| c.header()));
    for row in rows {
        table.add_row(cols.iter().map(|c| row.cell(*c, precision, cap)));
    }
    for (index, col) in cols.iter().enumerate() {
        if let Some(column) = table.column_mut(index) {
            column.set_padding(padding(index, cols.len()));
            if !col.is_text() {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    table
}

/// Two spaces between columns (one of padding, one where a rule would be), none at
/// the ends.
pub fn padding(index: usize, count: usize) -> (u16, u16) {
    (0, u16::from(index + 1 < count))
}

fn fits(table: &Table, width: usize) -> bool {
    table.lines().all(|line| columns(&line) <= width)
}

/// The layout fitted to `width`: whole, or (when the layout shortens) model and use
/// case at the widest cap that fits, no narrower than the layout's.
fn fitted_layout(rows: &[Row], layout: Layout, places: u32, width: usize) -> Option<(Table, Option<usize>)> {
    let Some(narrowest) = layout.shorten else {
        let table = build(rows, layout, places, None);
        return fits(&table, width).then_some((table, None));
    };
    let widest = rows
        .iter()
        .flat_map(|r| [columns(&r.model), columns(&r.use_case)])
        .max()
        .unwrap_or(0);
    let (mut low, mut high) = (narrowest, widest.max(narrowest + 1));
    let mut best = None;
    while low < high {
        let cap = (low + high) / 2;
        let table = build(rows, layout, places, Some(cap));
        if fits(&table, width) {
            best = Some((table, Some(cap)));
            low = cap + 1;
        } else {
            high = cap;
        }
    }
    best
}

/// The first layout that fits, else the narrowest; and the cap model and use case
/// were shortened to, if they were.
fn arranged(rows: &[Row], places: u32, width: usize) -> (Table, Layout, Option<usize>) {
    for layout in &LAYOUTS {
        if let Some((table, cap)) = fitted_layout(rows, *layout, places, width) {
            return (table, *layout, cap);
        }
    }
    let narrowest = LAYOUTS[LAYOUTS.len() - 1];
    let cap = narrowest.shorten;
    (build(rows, narrowest, places, cap), narrowest, cap)
}

/// The statement's parties by name, one a line (`licensor meta: Meta Platforms,
/// Inc.`), when any has a name besides its id: the signed JSON names ids only.
fn parties(s: &Statement, width: usize, names: &Names) -> Vec<String> {
    let mut parties = vec![("licensor", s.licensor.as_str()), ("host", s.host.as_str())];
    for beneficiary in s.payouts.keys() {
        if *beneficiary != s.licensor && *beneficiary != s.host {
            parties.push(("beneficiary", beneficiary.as_str()));
        }
    }
    if !names.any_for(parties.iter().map(|(_, id)| *id)) {
        return Vec::new();
    }
    parties
        .into_iter()
        .flat_map(|(role, id)| {
            words(&format!("{role} {id}: {}", names.name(id)), width)
                .into_iter()
                .enumerate()
                .map(|(index, line)| if index == 0 { line } else { format!("  {line}") })
        })
        .collect()
}

fn title(s: &Statement, width: usize) -> Vec<String> {
    let id = s
        .statement_id
        .as_ref()
        .map_or_else(|| format!("{}/{}", s.contract, s.period), ToString::to_string);
    let parts = [
        format!("contract {} v{}", s.contract, s.contract_version),
        format!("{} → {}", s.host, s.licensor),
        format!("{} to {}", s.period_start, s.period_end),
        s.currency.clone(),
    ];
    let mut lines = wrapped(&format!("{id}:"), &parts, width);
    let mut closed = Vec::new();
    if let Some(closed_at) = &s.closed_at {
        closed.push(format!("closed_at {closed_at}"));
    }
    if let Some(due_date) = &s.due_date {
        closed.push(format!("due_date {due_date}"));
    }
    if let Some(head) = &s.audit_head {
        closed.push(format!("audit_head seq {}", head.seq));
    }
    if let Some(signature) = &s.signature {
        closed.push(format!("signed with {} key {}", signature.alg, signature.key_id));
    }
    if !closed.is_empty() {
        lines.extend(wrapped("", &closed, width));
    }
    lines
}

/// The settled trees, reasons and payouts of a prior-period or dispute adjustment.
fn adjustment_detail(adjustment: &Adjustment, width: usize) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(events) = &adjustment.events {
        parts.push(format!(
            "{} (merkle root {})",
            counted(events.count, "late event"),
            short_hash(&events.merkle_root)
        ));
    }
    if let Some(voided) = &adjustment.voided {
        parts.push(format!(
            "{} voided (merkle root {})",
            count(voided.count),
            short_hash(&voided.merkle_root)
        ));
    }
    if let Some(reasons) = &adjustment.reasons {
        let reasons: Vec<&str> = reasons.iter().map(|r| r.as_str()).collect();
        parts.push(format!("reasons {}", reasons.join(" ")));
    }
    let mut lines = wrapped(&format!("{}:", adjustment_label(adjustment)), &parts, width);
    if let Some(payouts) = &adjustment.payouts {
        let payouts: Vec<String> = payouts.iter().map(|(b, a)| format!("{b} {}", grouped(a))).collect();
        lines.extend(wrapped("  payouts:", &payouts, width));
    }
    // How a prior-period amount arises: the period's new rating less what was
    // settled for it before, in total and per beneficiary.
    if let Some(rerated) = &adjustment.rerated {
        let figures = [
            format!("subtotal {}", grouped(&rerated.subtotal)),
            format!("minimum_guarantee_topup {}", grouped(&rerated.minimum_guarantee_topup)),
            format!("cap_reduction {}", grouped(&rerated.cap_reduction)),
            format!("total {}", grouped(&rerated.total)),
        ];
        lines.extend(wrapped("  rerated:", &figures, width));
        lines.extend(wrapped("  rerated payouts:", &beneficiaries(&rerated.payouts), width));
    }
    if let Some(before) = &adjustment.settled_before {
        lines.extend(wrapped(
            "  settled before:",
            &[format!("total {}", grouped(&before.total))],
            width,
        ));
        lines.extend(wrapped(
            "  settled before payouts:",
            &beneficiaries(&before.payouts),
            width,
        ));
    }
    lines
}

fn beneficiaries(payouts: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    payouts.iter().map(|(b, a)| format!("{b} {}", grouped(a))).collect()
}

/// What the layout rounded or left out, if anything.
fn layout_note(rows: &[Row], layout: Layout, shortened: bool, places: u32, width: usize) -> Option<String> {
    let mut left_out = Vec::new();
    if layout.unrounded == Unrounded::Hidden {
        left_out.extend(["revenue", "base"]);
    }
    match layout.counts {
        Counts::All => {}
        Counts::Tokens => left_out.push("requests"),
        Counts::None => left_out.extend(["requests", "tokens"]),
    }
    let mut changes = Vec::new();
    if layout.unrounded == Unrounded::Rounded && rows.iter().any(|r| r.loses_digits(places)) {
        changes.push(format!("revenue and base rounded to {places} places"));
    }
    if let Some((last, first)) = left_out.split_last() {
        let names = if first.is_empty() {
            last.to_string()
        } else {
            format!("{} and {last}", first.join(", "))
        };
        changes.push(format!("{names} left out"));
    }
    if shortened {
        changes.push("long model and use case names shortened with …".to_string());
    }
    (!changes.is_empty()).then(|| {
        format!(
            "({} to fit {width} columns; --format json or csv has every value)",
            changes.join(", ")
        )
    })
}

fn footer(s: &Statement, width: usize) -> Vec<String> {
    let payouts: Vec<String> = s.payouts.iter().map(|(b, a)| format!("{b} {}", grouped(a))).collect();
    let mut lines = wrapped("payouts:", &payouts, width);
    for adjustment in s.adjustments.iter().filter(|a| a.kind.is_carried()) {
        lines.extend(adjustment_detail(adjustment, width));
    }
    let volume = [
        format!(
            "{} {} (multiplier {})",
            s.volume.metric,
            grouped(&s.volume.value),
            s.volume.multiplier
        ),
        format!("contribution delta {}", s.contribution_delta),
    ];
    lines.extend(wrapped("volume:", &volume, width));
    if !s.exceptions.is_empty() {
        let exceptions: Vec<String> = s
            .exceptions
            .iter()
            .map(|e| {
                format!(
                    "{} {} ({} {})",
                    e.kind.as_str(),
                    counted(e.events, "event"),
                    grouped(&e.revenue),
                    e.currency
                )
            })
            .collect();
        lines.extend(wrapped("exceptions (not rated):", &exceptions, width));
    }
    let events = [
        format!(
            "{} (merkle root {})",
            count(s.events.count),
            short_hash(&s.events.merkle_root)
        ),
        format!("unique customers: {}", count(s.unique_customers)),
    ];
    lines.extend(wrapped("events:", &events, width));
    lines
}

/// Writes one statement's block fitted to `width` columns.
pub fn write(out: &mut dyn Write, s: &Statement, width: usize, names: &Names) -> io::Result<()> {
    let places = scale_of(&s.total) + 2;
    let rows = rows(s);
    let (table, layout, cap) = arranged(&rows, places, width);
    let shortened = cap.is_some_and(|cap| {
        rows.iter()
            .any(|r| columns(&r.model) > cap || columns(&r.use_case) > cap)
    });
    for line in title(s, width).into_iter().chain(parties(s, width, names)) {
        writeln!(out, "{line}")?;
    }
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    for line in footer(s, width) {
        writeln!(out, "{line}")?;
    }
    if let Some(note) = layout_note(&rows, layout, shortened, places, width) {
        for line in words(&note, width) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// nimbus-llama/2026-10 of the spec's small example, scaled up to a large host's
    /// month: 11-digit token counts, 13-decimal revenue, six-figure amounts.
    fn large_statement() -> Statement {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/spec-examples/expected-small.json"
        );
        let all: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut s = all
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["contract"] == "nimbus-llama" && s["period"] == "2026-10")
            .unwrap()
            .clone();
        for (index, line) in s["lines"].as_array_mut().unwrap().iter_mut().enumerate() {
            line["events"] = serde_json::json!(1_234_567 + index);
            line["input_tokens"] = serde_json::json!(98_765_432_109u64);
            line["output_tokens"] = serde_json::json!(12_345_678_901u64);
            line["revenue"] = serde_json::json!("1234567.1234567890123");
            line["base"] = serde_json::json!("87370.9212345678901");
            line["amount"] = serde_json::json!(format!("{}.92", 87_370 + index));
        }
        s["subtotal"] = serde_json::json!("1834977.32");
        s["total"] = serde_json::json!("-1234.50");
        serde_json::from_value(s).unwrap()
    }

    #[test]
    fn large_statements_fit_80_and_100_columns_with_every_amount_whole() {
        let s = large_statement();
        for width in [80, 100] {
            let mut out = Vec::new();
            write(&mut out, &s, width, &Names::default()).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.lines().all(|l| columns(l) <= width), "{text}");
            for (index, _) in s.lines.iter().enumerate() {
                let amount = format!("{}.92", grouped(&(87_370 + index).to_string()));
                assert!(text.contains(&format!(" {amount}\n")), "{amount} at {width}:\n{text}");
            }
            for amount in ["1,834,977.32", "24,999.08", "-1,234.50"] {
                assert!(text.contains(&format!(" {amount}\n")), "{amount} at {width}:\n{text}");
            }
            assert!(!text.contains("1234567.1234567890123"), "{text}");
        }
        let mut out = Vec::new();
        write(&mut out, &s, 250, &Names::default()).unwrap();
        let wide = String::from_utf8(out).unwrap();
        assert!(
            wide.contains("1,234,567.1234567890123") && wide.contains("98,765,432,109"),
            "{wide}"
        );
    }

    #[test]
    fn layouts_go_from_exact_to_narrow_in_order() {
        let s = large_statement();
        let rows = rows(&s);
        let (_, wide, _) = arranged(&rows, 4, 250);
        assert_eq!((wide.unrounded, wide.counts), (Unrounded::Exact, Counts::All));
        let (_, narrow, _) = arranged(&rows, 4, 80);
        assert_ne!(narrow.unrounded, Unrounded::Exact);
        assert_eq!(narrow.counts, Counts::None);
    }
}
