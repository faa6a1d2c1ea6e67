//! Output formats end to end: statement tables fitted to 80 and 100 columns with
//! grouped amounts, statement CSV rows in the currency true for each row (with the
//! adjustments' roots and payouts), list tables, JSON and CSV, and the contributions
//! CSV that `rate --contributions` reads back.

use std::path::Path;

use serde_json::Value;

mod common;

use common::{dir, fixture, fixtures, json};

fn ok(dir: &Path, width: usize, args: &[&str]) -> String {
    common::ok_at_width(dir, width, args)
}

/// The example contracts, usage, FX rates and contributions.
const SMALL: &[&str] = &[
    "rate",
    "--contract",
    "contracts/acme-llama.toml",
    "--contract",
    "contracts/nimbus-llama.toml",
    "--contract",
    "contracts/orbit-llama.toml",
    "--usage",
    "usage-small.ndjson",
    "--fx",
    "fx.csv",
    "--contributions",
    "contributions.csv",
];

fn with(args: &[&str], more: &[&str]) -> Vec<String> {
    args.iter().chain(more).map(|a| a.to_string()).collect()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Groups the integer digits of a decimal by thousands (written independently of
/// the binary's).
fn grouped(number: &str) -> String {
    let (sign, rest) = number.strip_prefix('-').map_or(("", number), |r| ("-", r));
    let (integer, fraction) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    let digits: Vec<char> = integer.chars().collect();
    let mut out = String::from(sign);
    for (index, digit) in digits.iter().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(*digit);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

fn assert_fits(text: &str, width: usize) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= width,
            "a line is wider than {width} columns:\n{line}\n\n{text}"
        );
    }
}

/// The block of `text` that prints statement `id` (from its title to the blank line).
fn block<'a>(text: &'a str, id: &str) -> &'a str {
    let start = text
        .find(&format!("{id}:"))
        .unwrap_or_else(|| panic!("no block for {id}:\n{text}"));
    let rest = &text[start..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

/// The values of the table's last column (`amount`), top to bottom: every table row
/// whose line ends in a value (wrapped continuation lines end in spaces).
fn amount_column(block: &str) -> Vec<String> {
    let lines: Vec<&str> = block.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.starts_with("model "))
        .unwrap_or_else(|| panic!("no header:\n{block}"));
    assert!(lines[header].trim_end().ends_with("amount"), "{}", lines[header]);
    lines[header + 2..]
        .iter()
        .take_while(|l| !l.starts_with('─'))
        .filter(|l| !l.ends_with(' '))
        .map(|l| l.split_whitespace().last().unwrap().to_string())
        .collect()
}

/// The amounts a statement's table must show in its last column, in order.
fn expected_amounts(statement: &Value) -> Vec<String> {
    let mut amounts: Vec<String> = statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["amount"].as_str().unwrap().to_string())
        .collect();
    amounts.push(statement["subtotal"].as_str().unwrap().to_string());
    for adjustment in statement["adjustments"].as_array().unwrap() {
        amounts.push(adjustment["amount"].as_str().unwrap().to_string());
    }
    amounts.push(statement["total"].as_str().unwrap().to_string());
    amounts.iter().map(|a| grouped(a)).collect()
}

fn assert_statement_table(text: &str, statement: &Value, width: usize) {
    let id = statement["statement_id"].as_str().map_or_else(
        || {
            format!(
                "{}/{}",
                statement["contract"].as_str().unwrap(),
                statement["period"].as_str().unwrap()
            )
        },
        str::to_string,
    );
    let block = block(text, &id);
    assert_eq!(
        amount_column(block),
        expected_amounts(statement),
        "{id} at {width}:\n{block}"
    );
    let flat = block.split_whitespace().collect::<Vec<_>>().join(" ");
    for (beneficiary, amount) in statement["payouts"].as_object().unwrap() {
        let payout = format!("{beneficiary} {}", grouped(amount.as_str().unwrap()));
        assert!(flat.contains(&payout), "{id} at {width}: no payout {payout}:\n{block}");
    }
}

#[test]
fn statement_tables_fit_80_and_100_columns_and_show_every_amount_grouped() {
    let expected: Value = json(&std::fs::read_to_string(fixtures().join("expected-small.json")).unwrap());
    let args = with(SMALL, &["--format", "table"]);
    for width in [80, 100] {
        let table = ok(&fixtures(), width, &strs(&args));
        assert_fits(&table, width);
        for statement in expected.as_array().unwrap() {
            assert_statement_table(&table, statement, width);
        }
        // The minimum guarantee of nimbus-llama, grouped.
        assert!(table.contains("25,000.00"), "{table}");
        assert!(!table.contains("25000.00"), "{table}");
    }
    // Wide enough, revenue and base are exact (the 13-decimal EUR conversions).
    let wide = ok(&fixtures(), 200, &strs(&args));
    assert!(wide.contains("0.913913717958"), "{wide}");
    let narrow = ok(&fixtures(), 100, &strs(&args));
    assert!(
        !narrow.contains("0.913913717958") && narrow.contains("0.9139"),
        "{narrow}"
    );
    assert!(narrow.contains("rounded to 4 places"), "{narrow}");
}

fn csv_records(text: &str) -> (Vec<String>, Vec<std::collections::HashMap<String, String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    let records = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header.iter().cloned().zip(r.iter().map(str::to_string)).collect()
        })
        .collect();
    (header, records)
}

#[test]
fn statement_csv_rows_carry_the_currency_true_for_the_row() {
    let expected: Value = json(&std::fs::read_to_string(fixtures().join("expected-small.json")).unwrap());
    let text = ok(&fixtures(), 100, &strs(&with(SMALL, &["--format", "csv"])));
    let (header, records) = csv_records(&text);
    assert_eq!(
        header.join(","),
        "contract,period,currency,row,name,use_case,settles,reasons,beneficiary,events,requests,input_tokens,\
         output_tokens,revenue,base,amount,merkle_root,voided_events,voided_merkle_root,rerated,settled_before,\
         statement_id,contract_version,closed_at,due_date,unique_customers,\
         licensor,licensor_name,host,host_name,beneficiary_name"
    );
    for statement in expected.as_array().unwrap() {
        let (contract, period) = (
            statement["contract"].as_str().unwrap(),
            statement["period"].as_str().unwrap(),
        );
        let rows: Vec<_> = records
            .iter()
            .filter(|r| r["contract"] == contract && r["period"] == period)
            .collect();
        let exceptions: Vec<_> = rows.iter().filter(|r| r["row"] == "exception").collect();
        for (row, exception) in exceptions.iter().zip(statement["exceptions"].as_array().unwrap()) {
            assert_eq!(row["currency"], exception["currency"].as_str().unwrap());
            assert_eq!(row["revenue"], exception["revenue"].as_str().unwrap());
            assert_eq!(row["name"], exception["kind"].as_str().unwrap());
        }
        assert_eq!(exceptions.len(), statement["exceptions"].as_array().unwrap().len());
        for row in rows.iter().filter(|r| r["row"] != "exception") {
            assert_eq!(row["currency"], statement["currency"].as_str().unwrap(), "{row:?}");
        }
        let total = rows.iter().find(|r| r["row"] == "total").unwrap();
        assert_eq!(total["amount"], statement["total"].as_str().unwrap());
        assert_eq!(
            total["merkle_root"],
            statement["events"]["merkle_root"].as_str().unwrap()
        );
        let payouts: Vec<(String, String)> = rows
            .iter()
            .filter(|r| r["row"] == "payout")
            .map(|r| (r["beneficiary"].clone(), r["amount"].clone()))
            .collect();
        let expected_payouts: Vec<(String, String)> = statement["payouts"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(b, a)| (b.clone(), a.as_str().unwrap().to_string()))
            .collect();
        assert_eq!(payouts, expected_payouts);
    }
    // nimbus-llama is a USD contract whose exceptions are EUR events.
    assert!(records
        .iter()
        .any(|r| r["contract"] == "nimbus-llama" && r["row"] == "exception" && r["currency"] == "EUR"));
}

/// Runs `args` on the embedded store in `d`.
fn store(d: &Path, args: &[&str]) -> String {
    ok(d, 80, args)
}

/// The first September event of acme-cloud in the small usage, and a corrected copy
/// under a new id.
fn september_event() -> (Value, Value) {
    let usage = std::fs::read_to_string(fixtures().join("usage-small.ndjson")).unwrap();
    let event: Value = usage
        .lines()
        .map(json)
        .find(|e| e["data"]["host"] == "acme-cloud" && e["time"].as_str().unwrap().starts_with("2026-09"))
        .unwrap();
    let mut corrected = event.clone();
    corrected["id"] = Value::from(format!("{}-r1", event["id"].as_str().unwrap()));
    corrected["data"]["revenue"] = Value::from("1234.500000");
    (event, corrected)
}

/// acme-llama closed for September, then a September event voided and its corrected
/// copy imported late, then October closed: its statement carries a prior-period
/// adjustment with late, voided events and payouts.
fn store_with_adjustment(d: &Path) -> Value {
    store(d, &["init"]);
    store(d, &["contract", "add", &fixture("contracts/acme-llama.toml")]);
    store(d, &["fx", "add", &fixture("fx.csv")]);
    store(d, &["import", &fixture("usage-small.ndjson")]);
    store(d, &["close", "2026-09"]);
    let (event, corrected) = september_event();
    store(
        d,
        &[
            "void",
            event["source"].as_str().unwrap(),
            event["id"].as_str().unwrap(),
            "--reason",
            "revenue mistyped",
        ],
    );
    std::fs::write(d.join("corrected.ndjson"), format!("{corrected}\n")).unwrap();
    store(d, &["import", "corrected.ndjson"]);
    store(d, &["close", "2026-10"]);
    json(&store(d, &["statement", "show", "acme-llama/2026-10"]))
}

#[test]
fn adjustments_show_their_trees_and_payouts_in_csv_and_tables() {
    let d = dir("adjustment");
    let d = d.0.as_path();
    let statement = store_with_adjustment(d);
    let adjustment = &statement["adjustments"][0];
    assert_eq!(adjustment["kind"], "prior_period");
    assert_eq!(adjustment["events"]["count"], 1);
    assert_eq!(adjustment["voided"]["count"], 1);

    let (_, records) = csv_records(&store(
        d,
        &["statement", "show", "acme-llama/2026-10", "--format", "csv"],
    ));
    let row = records.iter().find(|r| r["row"] == "adjustment").unwrap();
    assert_eq!(row["currency"], "USD");
    assert_eq!(row["name"], "prior_period");
    assert_eq!(row["settles"], "2026-09");
    assert_eq!(row["reasons"], "late_events;voids");
    assert_eq!(row["amount"], adjustment["amount"].as_str().unwrap());
    assert_eq!(row["events"], "1");
    assert_eq!(
        row["merkle_root"],
        adjustment["events"]["merkle_root"].as_str().unwrap()
    );
    assert_eq!(row["voided_events"], "1");
    assert_eq!(
        row["voided_merkle_root"],
        adjustment["voided"]["merkle_root"].as_str().unwrap()
    );
    assert_eq!(row["rerated"], adjustment["rerated"]["total"].as_str().unwrap());
    assert_eq!(
        row["settled_before"],
        adjustment["settled_before"]["total"].as_str().unwrap()
    );
    let payouts: Vec<(String, String, String, String)> = records
        .iter()
        .filter(|r| r["row"] == "adjustment_payout")
        .map(|r| {
            assert_eq!((r["settles"].as_str(), r["currency"].as_str()), ("2026-09", "USD"));
            (
                r["beneficiary"].clone(),
                r["amount"].clone(),
                r["rerated"].clone(),
                r["settled_before"].clone(),
            )
        })
        .collect();
    let side = |member: &str, b: &str| adjustment[member]["payouts"][b].as_str().unwrap().to_string();
    let expected: Vec<(String, String, String, String)> = adjustment["payouts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(b, a)| {
            (
                b.clone(),
                a.as_str().unwrap().to_string(),
                side("rerated", b),
                side("settled_before", b),
            )
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(payouts, expected);

    for width in [80, 100] {
        let table = ok(
            d,
            width,
            &["statement", "show", "acme-llama/2026-10", "--format", "table"],
        );
        assert_fits(&table, width);
        assert_statement_table(&table, &statement, width);
        assert!(table.contains("prior_period 2026-09"), "{table}");
        assert!(table.contains("1 voided (merkle root"), "{table}");
        let total = |member: &str| adjustment[member]["total"].as_str().unwrap().to_string();
        assert!(table.contains("  rerated: subtotal "), "{table}");
        assert!(table.contains("  rerated payouts: "), "{table}");
        assert!(table.contains("  settled before: total "), "{table}");
        assert!(table.contains("  settled before payouts: "), "{table}");
        for member in ["rerated", "settled_before"] {
            let shown = grouped(&total(member));
            assert!(
                table.contains(&format!("total {shown}")),
                "{member} total {shown}: {table}"
            );
        }
    }
}

#[test]
fn closed_statements_show_their_close_and_scripts_get_the_stored_bytes() {
    let d = dir("closed");
    let d = d.0.as_path();
    let statement = store_with_adjustment(d);
    // Not a terminal: the stored bytes, as `--format json` prints them.
    let default = store(d, &["statement", "show", "acme-llama/2026-10"]);
    assert_eq!(
        default,
        store(d, &["statement", "show", "acme-llama/2026-10", "--format", "json"])
    );
    let key: Value = json(&store(d, &["key", "export-public"]));
    let table = store(d, &["statement", "show", "acme-llama/2026-10", "--format", "table"]);
    let flat = table.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        format!("closed_at {}", statement["closed_at"].as_str().unwrap()),
        format!("due_date {}", statement["due_date"].as_str().unwrap()),
        format!("audit_head seq {}", statement["audit_head"]["seq"]),
        format!("key {}", key["key_id"].as_str().unwrap()),
    ] {
        assert!(flat.contains(&expected), "no {expected}:\n{table}");
    }
    // The statement list: a header, the total grouped, the due date.
    let list = store(d, &["statement", "list", "--format", "table"]);
    assert_fits(&list, 80);
    assert!(list.lines().nth(1).unwrap().starts_with("statement_id"), "{list}");
    assert!(list.contains(statement["due_date"].as_str().unwrap()), "{list}");
    let csv = store(d, &["statement", "list", "--format", "csv"]);
    assert!(
        csv.starts_with(
            "statement_id,total,currency,events,closed_at,due_date,contract,contract_version,period,host,licensor,\
             unique_customers\n"
        ),
        "{csv}"
    );
}

#[test]
fn lists_have_headers_fit_the_width_and_give_api_json() {
    let d = dir("lists");
    let d = d.0.as_path();
    store_with_adjustment(d);
    store(d, &["models", "add", &fixture("edge/models.csv")]);
    store(
        d,
        &[
            "contribution",
            "propose",
            "--contract",
            "acme-llama",
            "--by",
            "host",
            "--kind",
            "maintenance",
            "--date",
            "2026-11-03",
            "--reference",
            "kernel fix, upstreamed",
        ],
    );
    let lists: [(&[&str], &str); 7] = [
        (&["contract", "list"], "id"),
        (&["fx", "list"], "date"),
        (&["models", "list"], "version"),
        (&["contribution", "list"], "number"),
        (&["statement", "list"], "statement_id"),
        (&["audit", "log"], "seq"),
        (&["audit", "chain"], "seq"),
    ];
    for (command, first) in lists {
        for width in [80, 100] {
            let table = ok(d, width, &strs(&with(command, &["--format", "table"])));
            assert_fits(&table, width);
            assert!(
                table.lines().nth(1).unwrap().starts_with(first),
                "{command:?}:\n{table}"
            );
            assert!(!table.contains("( left out"), "{command:?}:\n{table}");
        }
        let json = json(&ok(d, 100, &strs(&with(command, &["--format", "json"]))));
        assert!(
            json.as_array().unwrap().iter().all(Value::is_object),
            "{command:?}: {json}"
        );
        let csv = ok(d, 100, &strs(&with(command, &["--format", "csv"])));
        assert!(csv.lines().count() > 1, "{command:?}: {csv}");
    }
    let fx = json(&ok(d, 100, &["fx", "list", "--format", "json"]));
    assert_eq!(fx[0]["date"], "2026-09-01");
    let models = json(&ok(d, 100, &["models", "list", "--format", "json"]));
    assert_eq!(
        models[0]["rows"][0],
        serde_json::json!({"pattern": "m", "licensor": "lic"})
    );
    // Added after October closed: effective from November.
    assert_eq!(models[0]["effective_from"], "2026-11-01");
    // Ids never wrap: when the list is too wide, closed_at gives way (the due date
    // stays).
    let statements = ok(d, 70, &["statement", "list", "--format", "table"]);
    assert_fits(&statements, 70);
    // The due date follows the day of the close (the clock's), so it is read back.
    let listed = json(&ok(d, 100, &["statement", "list", "--format", "json"]));
    let due = listed[0]["due_date"].as_str().expect("a due date").to_string();
    assert!(
        statements.contains("acme-llama/2026-10") && statements.contains(&due),
        "{statements}"
    );
    assert!(
        statements.contains("(closed_at left out to fit 70 columns"),
        "{statements}"
    );
    // audit log: the hashes give way before the object wraps; JSON and CSV keep them.
    let log = ok(d, 100, &["audit", "log", "--format", "table"]);
    assert!(log.contains("statement:acme-llama/2026-10"), "{log}");
    let log_csv = ok(d, 100, &["audit", "log", "--format", "csv"]);
    assert!(
        log_csv.starts_with("seq,time,actor,action,object,payload_sha256,hash\n"),
        "{log_csv}"
    );
    let verify = ok(d, 80, &["audit", "verify", "--format", "table"]);
    assert_fits(&verify, 80);
    assert!(
        verify.contains("rows against the log") && !verify.contains("FAILED"),
        "{verify}"
    );
    let verify_csv = ok(d, 80, &["audit", "verify", "--format", "csv"]);
    assert!(verify_csv.starts_with("check,name,status,object,message\n1,the chain and its anchors,ok,,\n"));
}

/// Records the spec's contributions file in a store: each row proposed, then
/// accepted or rejected as its status says.
fn record_contributions(d: &Path) {
    let text = std::fs::read_to_string(fixtures().join("contributions.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    for record in reader.records() {
        let r = record.unwrap();
        let proposed = store(
            d,
            &[
                "contribution",
                "propose",
                "--contract",
                &r[0],
                "--by",
                &r[1],
                "--kind",
                &r[2],
                "--date",
                &r[3],
                "--reference",
                &r[5],
            ],
        );
        let number = proposed
            .strip_prefix("proposed contribution ")
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_else(|| panic!("{proposed}"));
        match &r[4] {
            "accepted" => store(d, &["contribution", "accept", number]),
            "rejected" => store(d, &["contribution", "reject", number]),
            _ => String::new(),
        };
    }
}

#[test]
fn contribution_list_csv_is_what_rate_reads() {
    let d = dir("contributions");
    let d = d.0.as_path();
    store(d, &["init"]);
    for contract in ["acme-llama", "nimbus-llama", "orbit-llama"] {
        store(d, &["contract", "add", &fixture(&format!("contracts/{contract}.toml"))]);
    }
    record_contributions(d);
    let exported = store(d, &["contribution", "list", "--format", "csv"]);
    std::fs::write(d.join("exported.csv"), &exported).unwrap();
    let records = |text: &str| -> Vec<Vec<String>> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().unwrap().iter().map(str::to_string).collect();
        std::iter::once(header)
            .chain(
                reader
                    .records()
                    .map(|r| r.unwrap().iter().map(str::to_string).collect()),
            )
            .collect()
    };
    let original = std::fs::read_to_string(fixtures().join("contributions.csv")).unwrap();
    assert_eq!(records(&exported), records(&original));

    let rate = |contributions: &str| -> Value {
        let mut args: Vec<String> = SMALL.iter().map(|a| a.to_string()).collect();
        for arg in args.iter_mut() {
            if arg.ends_with(".toml") || arg.ends_with(".csv") || arg.ends_with(".ndjson") {
                *arg = fixture(arg);
            }
        }
        let position = args.iter().position(|a| a.ends_with("contributions.csv")).unwrap();
        args[position] = contributions.to_string();
        json(&ok(d, 100, &strs(&args)))
    };
    let from_store = rate("exported.csv");
    assert_eq!(from_store, rate(&fixture("contributions.csv")));
    let expected: Value = json(&std::fs::read_to_string(fixtures().join("expected-small.json")).unwrap());
    assert_eq!(from_store, expected);
}
