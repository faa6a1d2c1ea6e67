//! The dashboard's HTML (maud: compiled templates, every value escaped). Pages lay
//! out what the use cases returned; they compute nothing a rule decides.

use axum::http::StatusCode;
use maud::{html, Markup, DOCTYPE};
use revshare_app::dashboard::{Accrual, Breakdown, Dimension, Estimate, Overview, Pages};
use revshare_app::page::Page;
use revshare_app::payments::StepName;
use revshare_app::render::Names;
use revshare_app::sessions::Resumed;
use revshare_app::statements::Document;
use revshare_app::views::{Party, Payment, StatementEntry, Token};
use revshare_app::AppError;
use revshare_core::statement::Statement;
use revshare_core::verify::{PublicKey, TreeName};
use serde::Serialize;

use super::Paging;

const NAV: [(&str, &str); 8] = [
    ("/", "Overview"),
    ("/statements", "Statements"),
    ("/disputes", "Disputes"),
    ("/contributions", "Contributions"),
    ("/ledger", "Ledger"),
    ("/mau", "MAU"),
    ("/audit", "Audit log"),
    ("/parties", "Parties and tokens"),
];

/// Every page: the head, the navigation and who is signed in (with the sign-out
/// form and its CSRF field), then the page's body.
pub fn layout(title: &str, session: Option<&Resumed>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · revshare" }
                link rel="stylesheet" href="/assets/style.css";
                script src="/assets/dashboard.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "revshare" }
                    @if let Some(session) = session {
                        nav aria-label="Main" {
                            ul {
                                @for (href, label) in NAV {
                                    li { a href=(href) { (label) } }
                                }
                            }
                        }
                        form.signout method="post" action="/sign-out" {
                            span.who {
                                (session.actor.party().unwrap_or("operator")) " · " (session.actor.role().as_str())
                            }
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

pub fn error(status: StatusCode, message: &str) -> Markup {
    layout(
        &format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("")),
        None,
        html! {
            p role="alert" { (message) }
            p { a href="/" { "Back to the overview" } }
        },
    )
}

/// A form's step refused: why, in the use case's words, and the way back to the
/// page the form was on.
pub fn refused(status: StatusCode, message: &str, back: &str) -> Markup {
    layout(
        &format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("")),
        None,
        html! {
            p role="alert" { "Refused: " (message) }
            p { a href=(back) { "Back to " (back.trim_start_matches('/')) } }
        },
    )
}

pub fn sign_in(problem: Option<&str>) -> Markup {
    html! {
        @if let Some(problem) = problem {
            p.problem role="alert" { (problem) }
        }
        form.signin method="post" action="/sign-in" {
            label for="token" { "Your API token" }
            input #token type="password" name="token" autocomplete="off" required placeholder="rs_…";
            button type="submit" { "Sign in" }
        }
        p.note {
            "The token is checked and dropped: the browser keeps a session cookie that never holds it, "
            "ends after eight hours, on sign-out, or when the token is revoked."
        }
    }
}

/// An amount with its currency, grouped by thousands: `1,234.56 USD`.
pub fn money(amount: &str, currency: &str) -> String {
    let (sign, digits) = amount.strip_prefix('-').map_or(("", amount), |d| ("-", d));
    let (int, frac) = digits.split_once('.').map_or((digits, None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (n, c) in int.chars().enumerate() {
        if n > 0 && (int.len() - n) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(frac) => format!("{sign}{grouped}.{frac} {currency}"),
        None => format!("{sign}{grouped} {currency}"),
    }
}

fn count(n: impl std::fmt::Display) -> String {
    money(&n.to_string(), "").trim_end().to_string()
}

/// A query value in a link, percent-encoded but for the unreserved characters.
fn escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The links between the pages of a list: to the first and the previous page once
/// past the first, and to the next while there is one. Plain links, in a `nav`
/// list: the keyboard follows them as any link, and each page is an address.
pub struct Pager {
    /// The `?limit=` asked for, kept in the links.
    limit: Option<usize>,
    /// Past the first page.
    later: bool,
    previous: Option<String>,
    next: Option<String>,
}

impl Pager {
    /// A list paged as the API pages it (`?limit=`, `?cursor=`: a position).
    pub fn of(paging: &Paging, next: Option<&str>) -> Result<Pager, AppError> {
        let cursor = paging.cursor.as_deref();
        Ok(Pager {
            limit: paging.limit,
            later: revshare_app::page::position(cursor)? > 0,
            previous: revshare_app::page::previous_cursor(cursor, paging.limit)?,
            next: next.map(str::to_string),
        })
    }

    /// The audit log's entries: its cursor is a seq and a page holds the entries
    /// the reader sees, so the way back is to the first page only.
    pub fn forward(paging: &Paging, next: Option<&str>) -> Result<Pager, AppError> {
        Ok(Pager {
            limit: paging.limit,
            later: revshare_app::page::position(paging.cursor.as_deref())? > 0,
            previous: None,
            next: next.map(str::to_string),
        })
    }

    /// One of the overview's tables (pages of `OVERVIEW_ROWS`, no `?limit=`).
    fn overview(cursor: Option<&str>, next: Option<&str>) -> Result<Pager, AppError> {
        let rows = Some(revshare_app::limits::OVERVIEW_ROWS);
        Ok(Pager {
            limit: None,
            later: revshare_app::page::position(cursor)? > 0,
            previous: revshare_app::page::previous_cursor(cursor, rows)?,
            next: next.map(str::to_string),
        })
    }

    /// The links, labelled `label` for assistive technology; each goes to `path`
    /// with `fixed` query parameters, the page's cursor as `param`, and `#anchor`.
    fn links(&self, label: &str, path: &str, fixed: &[(&str, &str)], param: &str, anchor: &str) -> Markup {
        let href = |cursor: Option<&str>| {
            let mut query: Vec<String> = fixed.iter().map(|(k, v)| format!("{k}={}", escape(v))).collect();
            if let Some(limit) = self.limit {
                query.push(format!("limit={limit}"));
            }
            if let Some(cursor) = cursor {
                query.push(format!("{param}={}", escape(cursor)));
            }
            let mut url = path.to_string();
            if !query.is_empty() {
                url = format!("{url}?{}", query.join("&"));
            }
            if !anchor.is_empty() {
                url = format!("{url}#{anchor}");
            }
            url
        };
        html! {
            @if self.later || self.next.is_some() {
                nav.pager aria-label=(label) {
                    ul {
                        @if self.later {
                            li { a href=(href(None)) { "First page" } }
                            @if let Some(previous) = &self.previous {
                                li { a href=(href(Some(previous))) rel="prev" { "← Previous page" } }
                            }
                        }
                        @if let Some(next) = &self.next {
                            li { a href=(href(Some(next))) rel="next" { "Next page →" } }
                        }
                    }
                }
            }
        }
    }
}

/// The pagers of the overview's tables.
pub struct OverviewPagers {
    accrual: Pager,
    /// In the order of `Dimension::ALL`.
    breakdowns: Vec<Pager>,
    exceptions: Pager,
    statements: Pager,
}

impl OverviewPagers {
    pub fn of(pages: &Pages, overview: &Overview) -> Result<OverviewPagers, AppError> {
        Ok(OverviewPagers {
            accrual: Pager::overview(
                pages.accrual.as_deref(),
                overview.accrual.as_ref().and_then(|a| a.next_cursor.as_deref()),
            )?,
            breakdowns: overview
                .breakdowns
                .iter()
                .map(|b| Pager::overview(pages.cursor_of(b.dimension), b.rows.next_cursor.as_deref()))
                .collect::<Result<_, _>>()?,
            exceptions: Pager::overview(pages.exceptions.as_deref(), overview.exceptions.next_cursor.as_deref())?,
            statements: Pager::overview(pages.statements.as_deref(), overview.entries.next_cursor.as_deref())?,
        })
    }
}

/// A breakdown's query parameter and section id on the overview.
fn dimension_names(dimension: Dimension) -> (&'static str, &'static str) {
    match dimension {
        Dimension::Model => ("model", "by-model"),
        Dimension::UseCase => ("use_case", "by-use-case"),
        Dimension::Host => ("host", "by-host"),
    }
}

// ---- overview ----

/// A horizontal bar chart, drawn here as inline SVG (no script, no library): each
/// bar is the row's share as the app computed it, in thousandths of the largest.
fn chart(breakdown: &Breakdown) -> Markup {
    let rows = &breakdown.rows.items;
    let height = 22 * rows.len() + 4;
    html! {
        // Focusable: it scrolls sideways on a narrow screen, by keyboard too.
        figure.chart tabindex="0" {
            svg width="720" height=(height) viewBox={ "0 0 720 " (height) } role="img"
                aria-label={ "The licensor's share per period by " (breakdown.dimension.title()) "; the table below has the figures" } {
                @for (n, row) in rows.iter().enumerate() {
                    @let y = 22 * n + 2;
                    text x="0" y=(y + 15) font-size="12" { (row.period) " · " (row.key) }
                    rect x="260" y=(y + 3) width=(u64::from(row.bar) * 300 / 1000) height="16" class="bar" {}
                    text x=(270 + u64::from(row.bar) * 300 / 1000) y=(y + 15) font-size="12" { (money(&row.share, &row.currency)) }
                }
            }
            figcaption { "Licensor's share by " (breakdown.dimension.title()) }
        }
    }
}

pub fn overview(overview: &Overview, pagers: &OverviewPagers) -> Markup {
    html! {
        (accrual(overview.accrual.as_ref(), &pagers.accrual))
        @if overview.breakdowns.iter().all(|b| b.rows.items.is_empty()) && overview.entries.items.is_empty() {
            p { "No closed statement is yours to read yet." }
        }
        @for (breakdown, pager) in overview.breakdowns.iter().zip(&pagers.breakdowns) {
            @if !breakdown.rows.items.is_empty() {
                @let (param, anchor) = dimension_names(breakdown.dimension);
                section id=(anchor) {
                    h2 { "By " (breakdown.dimension.title()) }
                    (chart(breakdown))
                    table {
                        caption { "Revenue and the licensor's share per period by " (breakdown.dimension.title()) }
                        thead { tr { th scope="col" { "Period" } th scope="col" { (breakdown.dimension.title()) } th scope="col" { "Events" } th scope="col" { "Revenue" } th scope="col" { "Licensor's share" } } }
                        tbody {
                            @for row in &breakdown.rows.items {
                                tr { td { (row.period) } th scope="row" { (row.key) } td.num { (count(row.events)) } td.num { (money(&row.revenue, &row.currency)) } td.num { (money(&row.share, &row.currency)) } }
                            }
                        }
                    }
                    (pager.links(&format!("Pages of the table by {}", breakdown.dimension.title()), "/", &[], param, anchor))
                }
            }
        }
        section #exceptions {
            h2 { "Exceptions to look at" }
            @if overview.exceptions.items.is_empty() {
                p { "None in the statements you read." }
            } @else {
                table {
                    caption { "Events no contract rated: unlicensed models, prohibited uses, missing rates or FX" }
                    thead { tr { th scope="col" { "Statement" } th scope="col" { "Kind" } th scope="col" { "Events" } th scope="col" { "Revenue" } } }
                    tbody {
                        @for e in &overview.exceptions.items {
                            tr { td { (statement_link(&e.statement_id)) } td { (e.kind) } td.num { (count(e.events)) } td.num { (money(&e.revenue, &e.currency)) } }
                        }
                    }
                }
            }
            (pagers.exceptions.links("Pages of the exceptions", "/", &[], "exceptions", "exceptions"))
        }
        section #statements {
            h2 { "Closed statements" }
            (entries_table(&overview.entries.items))
            (pagers.statements.links("Pages of the closed statements", "/", &[], "statements", "statements"))
        }
    }
}

/// Each open period's accrual so far: unsigned estimates, said so; for a caller who
/// may not run a close, where the figures come from instead.
fn accrual(accrual: Option<&Page<Accrual>>, pager: &Pager) -> Markup {
    let Some(accrual) = accrual else {
        return html! {
            section #accrual {
                h2 { "Open periods" }
                p.note {
                    "An open period's figures are the operator's until its close (a dry run of a close, "
                    code { "revshare close PERIOD --dry-run" } ", is the operator's alone, in the API too): "
                    "each party sees what it is owed in the statements and payout notices the close signs."
                }
            }
        };
    };
    html! {
        section #accrual {
            h2 { "Open periods: accrual so far (unsigned estimate)" }
            p.note {
                "What each contract's open period rates so far: the usage stored until now, rated as its close "
                "rates it, before the adjustments that close carries (late usage of earlier periods, resolved "
                "disputes). An estimate, not a statement: nothing here is signed, it changes as usage arrives, "
                "and only the period's close settles it."
            }
            @if accrual.items.is_empty() {
                p { "No open period of a contract whose statements you read." }
            } @else {
                table {
                    caption { "Accrual so far per contract: unsigned estimates as of " (accrual.items[0].as_of) }
                    thead { tr {
                        th scope="col" { "Contract" } th scope="col" { "Period" } th scope="col" { "State" } th scope="col" { "Events" }
                        th scope="col" { "Revenue" } th scope="col" { "Licensor's share so far" } th scope="col" { "Total before adjustments" }
                    } }
                    tbody {
                        @for a in &accrual.items {
                            tr {
                                th scope="row" { (a.contract) }
                                td { (a.period) }
                                td { @if a.running { "running" } @else { "ended, awaiting its close" } }
                                @match &a.estimate {
                                    Estimate::Rated { currency, events, revenue, share, total } => {
                                        td.num { (count(events)) } td.num { (money(revenue, currency)) }
                                        td.num { (money(share, currency)) } td.num { (money(total, currency)) }
                                    }
                                    Estimate::Nothing => { td colspan="4" { "No version of the contract is in force for this period." } }
                                }
                            }
                        }
                    }
                }
            }
            (pager.links("Pages of the accrual", "/", &[], "accrual", "accrual"))
        }
    }
}

fn statement_link(id: &str) -> Markup {
    html! { a href={ "/statements/" (id) } { (id) } }
}

fn entries_table(entries: &[StatementEntry]) -> Markup {
    html! {
        @if entries.is_empty() {
            p { "None." }
        } @else {
            table {
                thead { tr { th scope="col" { "Statement" } th scope="col" { "Closed" } th scope="col" { "Due" } th scope="col" { "Events" } th scope="col" { "Total" } th scope="col" { "Your payout" } } }
                tbody {
                    @for e in entries {
                        tr {
                            th scope="row" { (statement_link(&e.statement_id)) }
                            td { (e.closed_at.as_deref().unwrap_or("—")) }
                            td { (e.due_date.as_deref().unwrap_or("—")) }
                            td.num { (e.events.map(count).unwrap_or_else(|| "—".into())) }
                            td.num { (e.total.as_deref().map(|t| money(t, &e.currency)).unwrap_or_else(|| "—".into())) }
                            td.num { (e.payout.as_deref().map(|t| money(t, &e.currency)).unwrap_or_else(|| "—".into())) }
                        }
                    }
                }
            }
        }
    }
}

pub fn statements(page: &Page<StatementEntry>, pager: &Pager) -> Markup {
    html! {
        (entries_table(&page.items))
        (pager.links("Pages of the statements", "/statements", &[], "cursor", ""))
    }
}

// ---- one statement ----

fn party(names: &Names, id: &str) -> Markup {
    html! { (names.name(id)) @if names.name(id) != id { " (" code { (id) } ")" } }
}

fn verify_block(json: &str, keys: &[PublicKey]) -> Markup {
    let keys = serde_json::to_string(keys).unwrap_or_else(|_| "[]".into());
    html! {
        section.verify #verify data-keys=(keys) {
            h2 { "Verify the signature" }
            p.note {
                "This page and the public key it checks against both come from the operator's server. "
                "Compare the key's fingerprint below with the one you hold (from "
                code { "revshare keys" } " or your own copy of " code { "/v1/keys" } "), or check the downloaded JSON offline with "
                code { "revshare verify" } "."
            }
            button #verify-button type="button" { "Verify" }
            output #verify-result role="status" aria-live="polite" {}
            pre #signed-json hidden { (json) }
        }
    }
}

fn kv(rows: &[(&str, Markup)]) -> Markup {
    html! {
        dl.kv { @for (k, v) in rows { dt { (k) } dd { (v) } } }
    }
}

fn payouts_table(payouts: &std::collections::BTreeMap<String, String>, currency: &str, names: &Names) -> Markup {
    html! {
        table {
            thead { tr { th scope="col" { "Party" } th scope="col" { "Payout" } } }
            tbody { @for (who, amount) in payouts { tr { th scope="row" { (party(names, who)) } td.num { (money(amount, currency)) } } } }
        }
    }
}

fn statement_body(s: &Statement, names: &Names, rates: &std::collections::BTreeMap<String, String>) -> Markup {
    let c = &s.currency;
    html! {
        section.parties {
            (kv(&[
                ("Licensor", party(names, &s.licensor)),
                ("Host", party(names, &s.host)),
                ("Contract", html! { (s.contract) " (version " (s.contract_version) ")" }),
                ("Period", html! { (s.period) ": " (s.period_start) " to " (s.period_end) }),
                ("Closed", html! { (s.closed_at.as_deref().unwrap_or("—")) }),
                ("Due date", html! { (s.due_date.as_deref().unwrap_or("—")) }),
                ("Volume", html! { (s.volume.metric) " " (count(&s.volume.value)) ": multiplier " (s.volume.multiplier) }),
                ("Contribution delta", html! { (s.contribution_delta) }),
                ("Unique customers", html! { (count(s.unique_customers)) }),
            ]))
        }
        section {
            h2 { "Lines" }
            table.lines {
                thead { tr {
                    th scope="col" { "Model" } th scope="col" { "Use case" } th scope="col" { "Events" } th scope="col" { "Requests" }
                    th scope="col" { "Revenue" } th scope="col" { "Rate" } th scope="col" { "Base" } th scope="col" { "Contribution delta" } th scope="col" { "Volume multiplier" } th scope="col" { "Amount" }
                } }
                tbody {
                    @for l in &s.lines {
                        tr {
                            th scope="row" { (l.model) } td { (l.use_case) } td.num { (count(l.events)) } td.num { (count(l.requests)) }
                            td.num { (money(&l.revenue, c)) } td.num { (rates.get(&l.use_case).map_or("—", String::as_str)) } td.num { (money(&l.base, c)) } td.num { (s.contribution_delta) } td.num { (s.volume.multiplier) } td.num { (money(&l.amount, c)) }
                        }
                    }
                }
                // Not a tfoot: a printed table repeats its tfoot on every page.
                tbody { tr.subtotal { th scope="row" colspan="9" { "Subtotal" } td.num { (money(&s.subtotal, c)) } } }
            }
        }
        @if !s.adjustments.is_empty() {
            section {
                h2 { "Adjustments" }
                table {
                    thead { tr { th scope="col" { "Kind" } th scope="col" { "Period or dispute" } th scope="col" { "Amount" } th scope="col" { "Re-rated" } th scope="col" { "Settled before" } } }
                    tbody {
                        @for a in &s.adjustments {
                            tr {
                                th scope="row" { (serde_json::to_value(a.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()) }
                                td { (a.period.as_deref().or(a.dispute_id.as_deref()).unwrap_or("—")) }
                                td.num { (money(&a.amount, c)) }
                                td {
                                    @if let Some(r) = &a.rerated {
                                        (kv(&[
                                            ("Subtotal", html! { (money(&r.subtotal, c)) }),
                                            ("Minimum guarantee top-up", html! { (money(&r.minimum_guarantee_topup, c)) }),
                                            ("Cap reduction", html! { (money(&r.cap_reduction, c)) }),
                                            ("Total", html! { (money(&r.total, c)) }),
                                        ]))
                                        (payouts_table(&r.payouts, c, names))
                                    } @else { "—" }
                                }
                                td {
                                    @if let Some(b) = &a.settled_before {
                                        (kv(&[("Total", html! { (money(&b.total, c)) })]))
                                        (payouts_table(&b.payouts, c, names))
                                    } @else { "—" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !s.exceptions.is_empty() {
            section {
                h2 { "Exceptions" }
                table {
                    thead { tr { th scope="col" { "Kind" } th scope="col" { "Events" } th scope="col" { "Revenue" } } }
                    tbody { @for e in &s.exceptions { tr { th scope="row" { (e.kind.as_str()) } td.num { (count(e.events)) } td.num { (money(&e.revenue, &e.currency)) } } } }
                }
            }
        }
        section.totals {
            h2 { "Total and payouts" }
            p.total { "Total: " strong { (money(&s.total, c)) } }
            (payouts_table(&s.payouts, c, names))
        }
        section.roots {
            h2 { "Signature and roots" }
            (kv(&[
                ("Events", html! { (count(s.events.count)) ", Merkle root " code.hash { (s.events.merkle_root) } }),
                ("Audit head", html! {
                    @if let Some(h) = &s.audit_head {
                        "seq " (h.seq) ", hash " code.hash { (h.hash) }
                        @if let (Some(size), Some(root)) = (h.tree_size, &h.root) { ", log size " (size) ", root " code.hash { (root) } }
                    } @else { "—" }
                }),
                ("Signature", html! {
                    @if let Some(sig) = &s.signature { (sig.alg) ", key " code { (sig.key_id) } ": " code.hash { (sig.value) } } @else { "—" }
                }),
            ]))
        }
    }
}

type Proof = (String, String, Result<revshare_core::verify::InclusionProof, String>);

fn proof_form(id: &str, proof: Option<&Proof>) -> Markup {
    html! {
        section.proof {
            h2 { "Is my event counted?" }
            form method="get" action={ "/statements/" (id) } {
                label for="source" { "Event source" } input #source name="source" required value=(proof.map_or("", |p| p.0.as_str()));
                label for="event" { "Event id" } input #event name="id" required value=(proof.map_or("", |p| p.1.as_str()));
                button type="submit" { "Get its inclusion proof" }
            }
            @if let Some((_, _, outcome)) = proof {
                @match outcome {
                    Ok(proof) => {
                        p { "Counted: its inclusion proof against the signed root (check it offline with " code { "revshare verify" } "):" }
                        pre.json { (serde_json::to_string_pretty(proof).unwrap_or_default()) }
                    }
                    Err(message) => { p.problem role="alert" { (message) } }
                }
            }
        }
    }
}

pub fn statement(
    id: &str,
    document: &Document,
    names: &Names,
    keys: &[PublicKey],
    rates: &std::collections::BTreeMap<String, String>,
    proof: Option<&Proof>,
    dispute_form: Option<&str>,
) -> Markup {
    html! {
        p.downloads {
            a href={ "/statements/" (id) "/json" } download { "Download the signed JSON" }
            " · "
            a href={ "/statements/" (id) "/csv" } download { "Download CSV" }
            " · "
            button #print type="button" { "Print" }
        }
        @match document {
            Document::Statement(shown) => {
                (statement_body(shown.statement(), names, rates))
                (verify_block(shown.json(), keys))
                (trees(id, shown.statement()))
                (proof_form(id, proof))
                @if let Some(csrf) = dispute_form {
                    (open_dispute_form(id, shown.statement(), csrf))
                }
            }
            Document::Notice(shown) => {
                @let n = &shown.notice;
                h2 { "Payout notice" }
                (kv(&[
                    ("Beneficiary", party(names, &n.beneficiary)),
                    ("Contract", html! { (n.contract) }),
                    ("Period", html! { (n.period) }),
                    ("Closed", html! { (n.closed_at) }),
                    ("Due date", html! { (n.due_date) }),
                    ("Payout", html! { strong { (money(&n.payout, &n.currency)) } }),
                    ("Audit head", html! { "seq " (n.audit_head.seq) ", hash " code.hash { (n.audit_head.hash) } }),
                    ("Signature", html! { @if let Some(sig) = &n.signature { (sig.alg) ", key " code { (sig.key_id) } ": " code.hash { (sig.value) } } }),
                ]))
                (verify_block(&shown.json, keys))
            }
        }
    }
}

/// The statement's trees (`events`, then each adjustment's), each a link to its
/// leaves.
fn trees(id: &str, s: &Statement) -> Markup {
    html! {
        section.trees {
            h2 { "Leaves" }
            p.note {
                "Each tree's leaves are the RFC 9162 leaf hashes of its events, in (source, id) order; "
                "the signed root above is computed over them."
            }
            ul {
                @for tree in revshare_core::verify::tree_names(s) {
                    @let signed = revshare_core::verify::signed_tree(s, &tree);
                    li {
                        a href={ "/statements/" (id) "/leaves?tree=" (escape(&tree.to_string())) } { "The " (tree_title(&tree)) " tree" }
                        @if let Some((n, _)) = signed { ": " (count(n)) " leaves" }
                    }
                }
            }
        }
    }
}

fn tree_title(tree: &TreeName) -> String {
    match tree {
        TreeName::Events => "events".to_string(),
        TreeName::PriorPeriod(period) => format!("{period} late events"),
        TreeName::Voided(period) => format!("{period} voided events"),
    }
}

/// One page of a tree's leaves, numbered from the tree's first.
pub fn leaves(
    id: &str,
    tree: &TreeName,
    total: u64,
    first: usize,
    page: &Page<revshare_core::merkle::Hash>,
    pager: &Pager,
) -> Markup {
    let tree_text = tree.to_string();
    html! {
        p { a href={ "/statements/" (id) } { "Back to the statement " (id) } }
        p {
            "The " (tree_title(tree)) " tree (" code { (tree_text) } "): " (count(total)) " leaves, in the order the signed root is computed over. "
            "Download them all from " code { "/v1/statements/" (id) "/leaves?tree=" (tree_text) } " or with " code { "revshare statement leaves " (id) " --tree " (tree_text) } "."
        }
        @if page.items.is_empty() {
            p { "No leaves on this page." }
        } @else {
            table.leaves {
                caption { "Leaves " (count(first)) " to " (count(first + page.items.len() - 1)) " of " (count(total)) " (numbered from 0)" }
                thead { tr { th scope="col" { "Leaf" } th scope="col" { "Leaf hash (SHA-256, hex)" } } }
                tbody {
                    @for (n, leaf) in page.items.iter().enumerate() {
                        tr { th scope="row" { (first + n) } td { code.hash { (hex::encode(leaf)) } } }
                    }
                }
            }
        }
        (pager.links("Pages of the leaves", &format!("/statements/{id}/leaves"), &[("tree", &tree_text)], "cursor", ""))
    }
}

fn open_dispute_form(id: &str, s: &Statement, csrf: &str) -> Markup {
    html! {
        section.dispute-open {
            h2 { "Dispute this statement" }
            form.stack method="post" action="/disputes" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="statement_id" value=(id);
                label for="dispute-line" { "What" }
                select #dispute-line name="line" {
                    option value="" { "The whole statement" }
                    @for l in &s.lines {
                        option value={ (l.model) "|" (l.use_case) } { (l.model) " · " (l.use_case) }
                    }
                }
                label for="dispute-amount" { "Claim in " (s.currency) " (positive: the host owes more)" }
                input #dispute-amount name="amount" required inputmode="decimal";
                label for="dispute-reason" { "Reason" }
                textarea #dispute-reason name="reason" required maxlength="2000" {}
                label for="dispute-evidence" { "Evidence: events counted in this statement, one per line as “source id”" }
                textarea #dispute-evidence name="evidence" {}
                button type="submit" { "Open the dispute" }
            }
        }
    }
}

fn step_form(dispute_id: &str, step: revshare_core::dispute::DisputeStep, csrf: &str) -> Markup {
    use revshare_core::dispute::DisputeStep as S;
    let name = step.as_str();
    html! {
        form.inline.step method="post" action={ "/disputes/" (dispute_id) "/" (name) } {
            input type="hidden" name="csrf" value=(csrf);
            @match step {
                S::Answer | S::Reject => {
                    label { "Note " input name="note" required maxlength="2000"; }
                }
                S::Resolve | S::Decide => {
                    label { "Amount " input name="amount" required inputmode="decimal"; }
                }
                _ => {}
            }
            " "
            button type="submit" { (name) }
        }
    }
}

// ---- lists shown as the API's JSON items ----

/// A table of items as the API serializes them, with the given columns (`amount`
/// columns shown with the item's `currency`).
fn json_table<T: Serialize>(items: &[T], columns: &[(&str, &str)]) -> Markup {
    let values: Vec<serde_json::Value> = items.iter().filter_map(|i| serde_json::to_value(i).ok()).collect();
    html! {
        @if values.is_empty() {
            p { "None." }
        } @else {
            table {
                thead { tr { @for (_, title) in columns { th scope="col" { (title) } } } }
                tbody {
                    @for v in &values {
                        tr {
                            @for (key, _) in columns {
                                (cell(v, key))
                            }
                        }
                    }
                }
            }
        }
    }
}

const MONEY_KEYS: [&str; 10] = [
    "amount",
    "claim",
    "outstanding",
    "current",
    "1-30",
    "31-60",
    "61-90",
    "91+",
    "unapplied",
    "total",
];

fn cell(item: &serde_json::Value, key: &str) -> Markup {
    let value = &item[key];
    let currency = item["currency"].as_str().unwrap_or("");
    match value {
        serde_json::Value::Null => html! { td { "—" } },
        serde_json::Value::String(s) if MONEY_KEYS.contains(&key) => html! { td.num { (money(s, currency)) } },
        serde_json::Value::String(s) if key == "statement_id" => html! { td { (statement_link(s)) } },
        serde_json::Value::String(s) => html! { td { (s) } },
        serde_json::Value::Number(n) => html! { td.num { (n) } },
        serde_json::Value::Object(line) if line.contains_key("model") && line.contains_key("use_case") => {
            html! { td { (line["model"].as_str().unwrap_or("")) " · " (line["use_case"].as_str().unwrap_or("")) } }
        }
        serde_json::Value::Array(a) if a.iter().all(|v| v.is_string()) => {
            html! { td { (a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", ")) } }
        }
        other => html! { td { code { (other.to_string()) } } },
    }
}

pub fn disputes(
    page: &Page<revshare_app::disputes::DisputeView>,
    steps: &[Vec<revshare_core::dispute::DisputeStep>],
    csrf: &str,
    pager: &Pager,
) -> Markup {
    html! {
        (json_table(&page.items, &[
            ("dispute_id", "Dispute"), ("statement_id", "Statement"), ("line", "Line"), ("opener", "Opened by"),
            ("counterparty", "Counterparty"), ("claim", "Claim"), ("amount", "Offered or resolved"),
            ("status", "Status"), ("window_ends", "Window ends"),
        ]))
        @for (d, open) in page.items.iter().zip(steps) {
            section.dispute id={ "dispute-" (d.dispute_id) } {
                h2 { (d.dispute_id) ": " (d.status.as_str()) }
                p { "Reason: " (d.reason) }
                @if !d.evidence.is_empty() {
                    p { "Evidence: " (d.evidence.iter().map(|e| format!("{} {}", e.source, e.id)).collect::<Vec<_>>().join(", ")) }
                }
                (json_table(&d.steps, &[("step", "Step"), ("party", "Party"), ("actor", "Actor"), ("at", "At"), ("seq", "Seq"), ("amount", "Amount"), ("note", "Note")]))
                @if !open.is_empty() {
                    div.steps { "Your steps: " @for step in open { (step_form(&d.dispute_id, *step, csrf)) } }
                }
            }
        }
        (pager.links("Pages of the disputes", "/disputes", &[], "cursor", ""))
    }
}

pub fn ledger(
    balances: &Page<revshare_app::ledger::Balance>,
    payments: &Page<Payment>,
    steps: &[Vec<StepName>],
    csrf: &str,
    party: Option<&str>,
    pagers: &(Pager, Pager),
) -> Markup {
    html! {
        section #balances {
            h2 { "Balances with ageing" }
            (json_table(&balances.items, &[
                ("contract", "Contract"), ("host", "Host"), ("beneficiary", "Beneficiary"), ("as_of", "As of"),
                ("outstanding", "Outstanding"), ("current", "Current"), ("1-30", "1–30 days"), ("31-60", "31–60 days"),
                ("61-90", "61–90 days"), ("91+", "91+ days"), ("unapplied", "Unapplied"),
            ]))
            (pagers.0.links("Pages of the balances", "/ledger", &[], "balances", "balances"))
        }
        section #payments {
            h2 { "Payments" }
            (json_table(&payments.items, &[
                ("payment_id", "Payment"), ("contract", "Contract"), ("payer", "Payer"), ("payee", "Payee"),
                ("amount", "Amount"), ("date", "Date"), ("reference", "Reference"), ("status", "Status"),
            ]))
            @let open: Vec<(&Payment, &Vec<StepName>)> = payments.items.iter().zip(steps).filter(|(_, s)| !s.is_empty()).collect();
            @if !open.is_empty() {
                h3 { "Steps you may take" }
                p.note {
                    "A payee confirms a payment received; its payer withdraws one not yet confirmed; "
                    "the operator reverses a confirmed one, with a reason (the ledger posts the opposite legs)."
                }
                ul.payment-steps {
                    @for (p, open) in open {
                        li {
                            (p.payment_id) ": " (money(&p.amount, &p.currency)) " from " (p.payer) " to " (p.payee) " on " (p.date) ", " (p.status)
                            div.steps { @for step in open { (payment_step_form(&p.payment_id, *step, csrf)) } }
                        }
                    }
                }
            }
            (pagers.1.links("Pages of the payments", "/ledger", &[], "payments", "payments"))
        }
        section.record {
            h2 { "Record a payment you made" }
            form.stack method="post" action="/payments" {
                input type="hidden" name="csrf" value=(csrf);
                label for="pay-contract" { "Contract" } input #pay-contract name="contract" required;
                @if party.is_none() {
                    label for="pay-payer" { "Payer (the operator names it)" } input #pay-payer name="payer" required;
                }
                label for="pay-to" { "Paid to (party id)" } input #pay-to name="to" required;
                label for="pay-amount" { "Amount, in the contract's currency" } input #pay-amount name="amount" required inputmode="decimal";
                label for="pay-date" { "Day paid" } input #pay-date name="date" type="date" required;
                label for="pay-reference" { "Reference (optional)" } input #pay-reference name="reference";
                button type="submit" { "Record the payment" }
            }
        }
    }
}

fn payment_step_form(payment_id: &str, step: StepName, csrf: &str) -> Markup {
    html! {
        form.inline.step method="post" action={ "/payments/" (payment_id) "/" (step.as_str()) } {
            input type="hidden" name="csrf" value=(csrf);
            @match step {
                StepName::Confirm => { button type="submit" { "Confirm receipt" } }
                StepName::Withdraw => { button type="submit" { "Withdraw" } }
                StepName::Reverse => {
                    label { "Reason " input name="reason" required maxlength="2000"; }
                    " "
                    button type="submit" { "Reverse" }
                }
            }
        }
    }
}

pub fn contributions(
    page: &Page<revshare_app::views::Contribution>,
    decisions: &[Vec<revshare_app::contributions::Decision>],
    csrf: &str,
    propose: bool,
    pager: &Pager,
) -> Markup {
    html! {
        p.note { "Contributions move the licensor's share by their delta in the period holding their date, once accepted." }
        (json_table(&page.items, &[
            ("number", "Number"), ("contract", "Contract"), ("by", "By"), ("kind", "Kind"), ("date", "Date"),
            ("status", "Status"), ("reference", "Reference"), ("proposed_by", "Proposed by"), ("decided_by", "Decided by"),
        ]))
        @let open: Vec<_> = page.items.iter().zip(decisions).filter(|(_, d)| !d.is_empty()).collect();
        @if !open.is_empty() {
            h2 { "Proposals you decide" }
            ul.payment-steps {
                @for (c, decisions) in open {
                    li {
                        "Contribution " (c.number) ": " (c.kind) " on " (c.contract) " by the " (c.by) ", dated " (c.date)
                        div.steps {
                            @for decision in decisions {
                                form.inline.step method="post" action={ "/contributions/" (c.number) "/" (decision.as_str()) } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button type="submit" { (decision.as_str()) }
                                }
                            }
                        }
                    }
                }
            }
        }
        (pager.links("Pages of the contributions", "/contributions", &[], "cursor", ""))
        @if propose {
            section.record {
                h2 { "Propose a contribution" }
                form.stack method="post" action="/contributions" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="contribution-contract" { "Contract" } input #contribution-contract name="contract" required;
                    label for="contribution-by" { "Proposed by the contract's" }
                    select #contribution-by name="by" { option value="host" { "host" } option value="licensor" { "licensor" } }
                    label for="contribution-kind" { "Kind" }
                    select #contribution-kind name="kind" {
                        option value="maintenance" { "maintenance" } option value="update" { "update" } option value="improvement" { "improvement" }
                    }
                    label for="contribution-date" { "Date" } input #contribution-date name="date" type="date" required;
                    label for="contribution-reference" { "Reference (optional)" } input #contribution-reference name="reference" maxlength="2000";
                    button type="submit" { "Propose" }
                }
            }
        }
    }
}

pub fn mau(month: Option<&str>, months: &[revshare_app::mau::HostMonth]) -> Markup {
    html! {
        form method="get" action="/mau" {
            label for="month" { "Month (YYYY-MM)" }
            input #month name="month" value=(month.unwrap_or("")) placeholder="this month";
            button type="submit" { "Show" }
        }
        (json_table(months, &[("host", "Host"), ("month", "Month"), ("customers", "Unique customers"), ("flagged", "Contracts flagged")]))
    }
}

pub fn audit(entries: &Page<revshare_core::audit::Entry>, checkpoint: &str, pager: &Pager) -> Markup {
    html! {
        section {
            h2 { "Newest checkpoint, with its cosignatures" }
            pre.checkpoint { (checkpoint) }
        }
        section {
            h2 { "Entries" }
            (json_table(&entries.items, &[("seq", "Seq"), ("time", "Time"), ("actor", "Actor"), ("action", "Action"), ("object", "Object"), ("hash", "Hash")]))
            (pager.links("Pages of the audit log", "/audit", &[], "cursor", ""))
        }
    }
}

pub fn parties(parties: &[revshare_core::records::PartyRow], tokens: &[revshare_core::records::TokenRow]) -> Markup {
    let parties: Vec<Party> = parties.iter().cloned().map(Party::of).collect();
    let tokens: Vec<Token> = tokens.iter().cloned().map(|t| Token::of(t, None)).collect();
    html! {
        section {
            h2 { "Parties" }
            (json_table(&parties, &[("id", "Id"), ("name", "Legal name"), ("created_at", "Added")]))
        }
        section {
            h2 { "Tokens" }
            p.note { "Tokens are shown once, at creation; here only their ids." }
            (json_table(&tokens, &[("token_id", "Token id"), ("party", "Party"), ("role", "Role"), ("contracts", "Contracts"), ("expires", "Expires"), ("created_at", "Created"), ("revoked_at", "Revoked")]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::money;

    #[test]
    fn amounts_are_grouped_with_their_currency() {
        assert_eq!(money("1234567.891", "USD"), "1,234,567.891 USD");
        assert_eq!(money("-1000", "EUR"), "-1,000 EUR");
        assert_eq!(money("999.00", "USD"), "999.00 USD");
        assert_eq!(money("0", "USD"), "0 USD");
    }
}
