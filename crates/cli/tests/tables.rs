//! Every table of the demo store at 80, 100 and 120 columns (issue 21, point 3): each
//! line fits the width, no word is split across lines (a word the table shows is
//! whole, or shortened with `…` in the middle), and a statement's amounts, revenue
//! and base have one precision per column. Also `close --format` (point 4) and
//! `statement list` as a list in every format (point 7).
//!
//! The demo store is SQLite (the demo runs on an embedded store of its own): the
//! tables are drawn from the app's values, the same from either backend.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

mod common;

use common::{dir, json};

const DB: &str = "revshare-demo.db";

/// The demo store's binary at `width` columns.
fn revshare(dir: &Path, width: usize, args: &[&str]) -> Output {
    let args: Vec<&str> = ["--db", DB].iter().chain(args).copied().collect();
    common::at_width(dir, width, &args)
}

fn ok(dir: &Path, width: usize, args: &[&str]) -> String {
    let args: Vec<&str> = ["--db", DB].iter().chain(args).copied().collect();
    common::ok_at_width(dir, width, &args)
}

/// The demo's store, with a token narrowed to every contract (the list that
/// squeezed `contracts` to a letter a line).
fn demo(name: &str) -> common::Dir {
    let d = dir(name);
    let output = Command::new(env!("CARGO_BIN_EXE_revshare"))
        .args(["demo", "--events", "3000"])
        .current_dir(&d.0)
        .env_remove("REVSHARE_DATABASE_URL")
        .env_remove("REVSHARE_KEY_FILE")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let contracts = json(&ok(&d.0, 100, &["contract", "list", "--format", "json"]));
    let mut args = vec!["token", "create", "--party", "meta", "--role", "licensor"];
    for contract in contracts.as_array().unwrap() {
        args.extend(["--contract", contract["id"].as_str().unwrap()]);
    }
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&d.0, 100, &args);
    d
}

/// Whether a word is a number as a table shows it (grouped, maybe rounded for
/// display): its digits may differ from the widest rendering's.
/// A number, or a time (`2026-12-07T18:49:23Z`: a dry run's `closed_at` is the
/// time it ran, so the narrow and the wide renderings may differ by a second).
fn numeric(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ',' | '.' | '-' | '+' | 'T' | 'Z' | ':'))
}

/// The words of a rendering, the notes under a table (`(… to fit N columns; …)`)
/// left out, trailing commas and semicolons trimmed.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        if line.starts_with('(') {
            let end = (index..lines.len())
                .find(|i| lines[*i].trim_end().ends_with(')'))
                .unwrap_or(index);
            if lines[index..=end].join(" ").contains("to fit") {
                index = end + 1;
                continue;
            }
        }
        index += 1;
        words.extend(
            line.split_whitespace()
                .map(|w| w.trim_end_matches([',', ';']).to_string())
                .filter(|w| !w.is_empty() && !w.chars().all(|c| matches!(c, '─' | '═'))),
        );
    }
    words
}

/// Each line at most `width` columns, and every word whole: a word of a table at
/// `width` is a word of the same table at 1,000 columns (where nothing is shortened
/// or wrapped), a number, or shortened with `…`.
fn assert_whole_words(narrow: &str, wide: &str, width: usize, what: &str) {
    for line in narrow.lines() {
        assert!(
            line.chars().count() <= width,
            "{what} at {width}: {} columns:\n{line}\n{narrow}",
            line.chars().count()
        );
    }
    let known: BTreeSet<String> = words(wide).into_iter().collect();
    for word in words(narrow) {
        assert!(
            known.contains(&word) || numeric(&word) || word.contains('…'),
            "{what} at {width}: `{word}` is not a whole word of the table:\n{narrow}\nat 1000 columns:\n{wide}"
        );
    }
}

/// In a statement's table (between its second and third rules), the numbers ending
/// at one column (a right-aligned column) have one number of decimal places.
fn assert_one_precision_per_column(text: &str, what: &str) {
    let rules: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with('─') || l.starts_with('═'))
        .map(|(i, _)| i)
        .collect();
    assert!(rules.len() >= 3, "{what}: no table:\n{text}");
    let body: Vec<&str> = text.lines().skip(rules[1] + 1).take(rules[2] - rules[1] - 1).collect();
    let mut places: std::collections::BTreeMap<usize, BTreeSet<usize>> = Default::default();
    for line in &body {
        let chars: Vec<char> = line.chars().collect();
        let mut start = 0;
        while start < chars.len() {
            if chars[start] == ' ' {
                start += 1;
                continue;
            }
            let end = (start..chars.len()).find(|i| chars[*i] == ' ').unwrap_or(chars.len());
            let word: String = chars[start..end].iter().collect();
            if numeric(&word) && word.contains('.') {
                let fraction = word.len() - word.find('.').unwrap() - 1;
                places.entry(end).or_default().insert(fraction);
            }
            start = end;
        }
    }
    for (end, fractions) in places {
        assert_eq!(
            fractions.len(),
            1,
            "{what}: the column ending at {end} mixes precisions:\n{text}"
        );
    }
}

#[test]
fn every_table_of_the_demo_store_fits_80_100_and_120_columns_without_splitting_a_word() {
    let d = demo("tables");
    let d = d.0.as_path();
    let statements = json(&ok(d, 100, &["statement", "list", "--format", "json"]));
    let ids: Vec<String> = statements
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["statement_id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.len() >= 4, "{statements}");
    let mut commands: Vec<Vec<String>> = [
        &["statement", "list"][..],
        &["contract", "list"],
        &["contract", "show", "acme-llama"],
        &["fx", "list"],
        &["models", "list"],
        &["contribution", "list"],
        &["token", "list"],
        &["party", "list"],
        &["payment", "list"],
        &["ledger", "balances"],
        &["ledger", "entries"],
        &["dispute", "list"],
        &["mau", "--month", "2026-10"],
        &["audit", "log"],
        &["audit", "chain"],
        &["audit", "verify"],
        &["close", "2026-11", "--allow-empty", "--dry-run"],
    ]
    .iter()
    .map(|c| c.iter().map(|a| a.to_string()).collect())
    .collect();
    for id in &ids {
        commands.push(vec!["statement".into(), "show".into(), id.clone()]);
    }
    let disputes = json(&ok(d, 100, &["dispute", "list", "--format", "json"]));
    for dispute in disputes.as_array().unwrap() {
        let id = dispute["dispute_id"].as_str().unwrap().to_string();
        commands.push(vec!["dispute".into(), "show".into(), id]);
    }
    for command in &commands {
        let args: Vec<&str> = command
            .iter()
            .map(String::as_str)
            .chain(["--format", "table"])
            .collect();
        let what = command.join(" ");
        // `contract show`: the table, then the file as stored (not a table).
        let table_of = |text: String| match command[1].as_str() {
            "show" if command[0] == "contract" => text.split("\n\n").next().unwrap().to_string(),
            _ => text,
        };
        let wide = table_of(ok(d, 1000, &args));
        for width in [80, 100, 120] {
            let table = table_of(ok(d, width, &args));
            assert_whole_words(&table, &wide, width, &what);
            if command[0] == "statement" && command[1] == "show" {
                assert_one_precision_per_column(&table, &format!("{what} at {width}"));
            }
        }
    }
    // What the issue saw: no model split over two lines, every contract of the token
    // on its row or shortened, never a letter a line.
    let show = ok(d, 80, &["statement", "show", &ids[0], "--format", "table"]);
    assert!(!show.lines().any(|l| l.trim() == "struct"), "{show}");
    let tokens = ok(d, 80, &["token", "list", "--format", "table"]);
    assert!(tokens.lines().all(|l| l.trim().chars().count() != 1), "{tokens}");
}

#[test]
fn close_prints_the_statement_tables_after_its_summary_or_json_alone() {
    let d = demo("close-format");
    let d = d.0.as_path();
    let preview = ["close", "2026-11", "--allow-empty", "--dry-run"];
    let with = |more: &[&'static str]| -> Vec<&str> { preview.iter().copied().chain(more.iter().copied()).collect() };
    // No --format: the summary and a line per statement, no JSON.
    let summary = ok(d, 100, &preview);
    assert!(summary.contains("would close nimbus-llama/2026-11"), "{summary}");
    assert!(!summary.contains('{') && !summary.contains('['), "{summary}");
    // JSON alone on stdout, the summary on stderr.
    let output = revshare(d, 100, &with(&["--format", "json"]));
    assert!(output.status.success());
    let statements = json(&String::from_utf8(output.stdout).unwrap());
    let statements = statements.as_array().unwrap();
    assert!(
        statements.iter().any(|s| s["statement_id"] == "nimbus-llama/2026-11"),
        "{statements:?}"
    );
    let preview_of = statements
        .iter()
        .find(|s| s["statement_id"] == "nimbus-llama/2026-11")
        .unwrap();
    assert!(preview_of.get("signature").is_none(), "a preview is unsigned");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("would close nimbus-llama/2026-11"), "{stderr}");
    // The table: the summary, then each statement as `statement show` prints it.
    let table = ok(d, 100, &with(&["--format", "table"]));
    let (head, tables) = table.split_once("\n\n").expect("a blank line after the summary");
    // The same summary, its lines fitted to the width.
    assert_eq!(
        head.split_whitespace().collect::<Vec<_>>(),
        summary.split_whitespace().collect::<Vec<_>>()
    );
    for statement in statements {
        let id = statement["statement_id"].as_str().unwrap();
        assert!(tables.contains(&format!("{id}: contract ")), "{id}:\n{tables}");
    }
    assert!(tables.contains("subtotal") && tables.contains("total"), "{tables}");
    // CSV alone on stdout too.
    let csv = ok(d, 100, &with(&["--format", "csv"]));
    assert!(csv.starts_with("contract,period,"), "{csv}");
}

#[test]
fn statement_list_is_a_list_in_every_format_and_the_csv_names_its_statement() {
    let d = demo("statement-list");
    let d = d.0.as_path();
    // JSON (the default through a pipe): one object per statement, no lines.
    let listed = json(&ok(d, 100, &["statement", "list"]));
    let listed = listed.as_array().unwrap();
    assert!(listed.len() >= 4);
    for entry in listed {
        let id = entry["statement_id"].as_str().unwrap();
        let full = json(&ok(d, 100, &["statement", "show", id]));
        assert!(entry.get("lines").is_none(), "{entry}");
        for member in [
            "contract",
            "contract_version",
            "period",
            "host",
            "licensor",
            "currency",
            "total",
            "unique_customers",
            "closed_at",
            "due_date",
        ] {
            assert_eq!(entry[member], full[member], "{id}: {member}");
        }
        assert_eq!(entry["events"], full["events"]["count"], "{id}");
        // The statement CSV names the statement on every row.
        let csv = ok(d, 100, &["statement", "show", id, "--format", "csv"]);
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let header = reader.headers().unwrap().clone();
        let column = |name: &str| header.iter().position(|h| h == name).unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert!(rows.len() > 2);
        for row in &rows {
            assert_eq!(&row[column("statement_id")], id);
            assert_eq!(&row[column("closed_at")], full["closed_at"].as_str().unwrap());
            assert_eq!(&row[column("due_date")], full["due_date"].as_str().unwrap());
            assert_eq!(row[column("contract_version")], full["contract_version"].to_string());
            assert_eq!(row[column("unique_customers")], full["unique_customers"].to_string());
        }
    }
    // CSV: a row per statement.
    let csv = ok(d, 100, &["statement", "list", "--format", "csv"]);
    assert_eq!(csv.lines().count(), listed.len() + 1, "{csv}");
    assert!(csv.starts_with(
        "statement_id,total,currency,events,closed_at,due_date,contract,contract_version,period,host,licensor,\
         unique_customers\n"
    ));
    // The table: a row per statement.
    let table = ok(d, 120, &["statement", "list", "--format", "table"]);
    for entry in listed {
        let id = entry["statement_id"].as_str().unwrap();
        assert_eq!(
            table.lines().filter(|l| l.starts_with(&format!("{id} "))).count(),
            1,
            "{table}"
        );
    }
}

#[test]
fn contract_show_takes_every_format() {
    let d = demo("contract-show");
    let d = d.0.as_path();
    let file = ok(d, 100, &["contract", "show", "acme-llama"]);
    assert!(
        file.contains("[contract]") || file.contains("id = \"acme-llama\""),
        "{file}"
    );
    let shown = json(&ok(d, 100, &["contract", "show", "acme-llama", "--format", "json"]));
    assert_eq!(shown["id"], "acme-llama");
    assert_eq!(shown["toml"].as_str().unwrap(), file);
    let listed = json(&ok(d, 100, &["contract", "list", "--format", "json"]));
    let latest = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] == "acme-llama")
        .max_by_key(|c| c["version"].as_i64().unwrap())
        .unwrap();
    assert_eq!(shown["sha256"], latest["sha256"]);
    assert_eq!(shown["version"], latest["version"]);
    let csv = ok(d, 100, &["contract", "show", "acme-llama", "--format", "csv"]);
    assert_eq!(
        csv,
        format!(
            "id,version,licensor,host,sha256,added_at\nacme-llama,{},{},{},{},{}\n",
            latest["version"],
            latest["licensor"].as_str().unwrap(),
            latest["host"].as_str().unwrap(),
            latest["sha256"].as_str().unwrap(),
            latest["added_at"].as_str().unwrap()
        )
    );
    let table = ok(d, 100, &["contract", "show", "acme-llama", "--format", "table"]);
    assert!(table.ends_with(&file), "{table}");
    assert!(table.contains(&latest["sha256"].as_str().unwrap()[..16]), "{table}");
}
