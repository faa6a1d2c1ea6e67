//! Crash safety, end to end on both backends: an import killed with SIGKILL midway
//! and run again stores every event exactly once, and a close killed midway leaves
//! no statement or a complete one. "Exactly once" is checked the strongest way: the
//! closed statement equals `revshare rate` on the same file (counts, amounts and
//! the Merkle root over every event).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::{fixtures, Store};

/// Starts a command and kills it with SIGKILL after `delay`; whether it finished
/// first does not matter.
fn kill_after(store: &Store, args: &[&str], delay: Duration) {
    let mut child = store
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    let _ = child.wait();
}

/// 40 copies of the small example under new ids: 120k events, retried duplicates included.
fn write_usage(dir: &Path) -> PathBuf {
    let small = std::fs::read_to_string(fixtures().join("usage-small.ndjson")).unwrap();
    let mut text = String::with_capacity(small.len() * 40);
    for copy in 0..40 {
        for line in small.lines() {
            text.push_str(&line.replacen("\"id\":\"e1-", &format!("\"id\":\"k{copy:02}-"), 1));
            text.push('\n');
        }
    }
    let path = dir.join("usage.ndjson");
    std::fs::write(&path, text).unwrap();
    path
}

fn setup(env: &Store) -> String {
    env.run(&["init"]);
    let acme = fixtures().join("contracts/acme-llama.toml").display().to_string();
    env.run(&["contract", "add", &acme]);
    env.run(&["fx", "add", &fixtures().join("fx.csv").display().to_string()]);
    write_usage(&env.dir).display().to_string()
}

/// The statement `rate` computes for acme-llama/2026-10 on the whole file.
fn rated(usage: &str) -> serde_json::Value {
    let acme = fixtures().join("contracts/acme-llama.toml").display().to_string();
    let fx = fixtures().join("fx.csv").display().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_revshare"))
        .args([
            "rate",
            "--contract",
            &acme,
            "--usage",
            usage,
            "--fx",
            &fx,
            "--period",
            "2026-10",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let all: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    all[0].clone()
}

fn closed(env: &Store) -> Option<serde_json::Value> {
    let output = env
        .command(&["statement", "show", "acme-llama/2026-10"])
        .output()
        .unwrap();
    if !output.status.success() {
        return None;
    }
    let mut statement: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("a stored statement is complete JSON");
    // A stored statement is complete: it verifies with the public key.
    let dir = &env.dir;
    std::fs::write(dir.join("s.json"), &output.stdout).unwrap();
    std::fs::write(dir.join("k.json"), env.run(&["key", "export-public"])).unwrap();
    let verify = Command::new(env!("CARGO_BIN_EXE_revshare"))
        .args(["verify", "--statement", "s.json", "--public-key", "k.json"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    Some(rated_part(&mut statement))
}

/// The members `rate` prints, out of a closed statement, after checking the ones a
/// close adds: `statement_id`, `contract_sha256`, `closed_at`, `due_date` (the date
/// of `closed_at` plus the contract's 30 days of payment terms), `audit_head` (an
/// entry of the log, written before the close's own) and `signature`.
fn rated_part(statement: &mut serde_json::Value) -> serde_json::Value {
    let object = statement.as_object_mut().unwrap();
    assert_eq!(object.remove("statement_id").unwrap(), "acme-llama/2026-10");
    let sha256 = object.remove("contract_sha256").unwrap();
    assert_eq!(sha256.as_str().unwrap().len(), 64, "{sha256}");
    let closed_at = object.remove("closed_at").unwrap();
    let closed_at = closed_at.as_str().unwrap();
    let due_date = object.remove("due_date").unwrap();
    assert_eq!(
        due_date.as_str().unwrap(),
        plus_days(&closed_at[..10], 30),
        "{closed_at}"
    );
    let head = object.remove("audit_head").unwrap();
    assert!(head["seq"].as_u64().unwrap() > 0, "{head}");
    assert_eq!(head["hash"].as_str().unwrap().len(), 64, "{head}");
    let signature = object.remove("signature").unwrap();
    assert_eq!(signature["alg"], "ed25519");
    // Adjustments (none here: every event is on time) would name their own trees as
    // `events: {count, merkle_root}`, like the statement's.
    for adjustment in object["adjustments"].as_array().unwrap() {
        assert!(adjustment.get("events").is_none_or(|e| e["merkle_root"].is_string()));
    }
    statement.clone()
}

/// `date` (YYYY-MM-DD) plus `days`, by the civil calendar.
fn plus_days(date: &str, days: i64) -> String {
    let parts: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let (y, m, d) = (parts[0], parts[1], parts[2]);
    // Days from civil (Howard Hinnant's algorithm), and back.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let z = era * 146_097 + doe - 719_468 + days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn killed_import_then_rerun_counts_every_event_once(env: &Store) {
    let usage = setup(env);
    for delay_ms in [150, 400] {
        kill_after(env, &["import", &usage], Duration::from_millis(delay_ms));
    }
    let rerun = env.run(&["import", &usage]);
    assert!(rerun.contains("120000 read"), "{rerun}");
    env.run(&["close", "2026-10", "--settlement-start"]);
    assert_eq!(closed(env).expect("closed"), rated(&usage));
}

fn killed_close_leaves_nothing_or_a_complete_statement(env: &Store) {
    let usage = setup(env);
    env.run(&["import", &usage]);
    for delay_ms in [5, 30, 80, 150] {
        kill_after(
            env,
            &["close", "2026-10", "--settlement-start"],
            Duration::from_millis(delay_ms),
        );
        if let Some(statement) = closed(env) {
            assert_eq!(statement, rated(&usage));
        }
    }
    env.run(&["close", "2026-10", "--settlement-start"]);
    assert_eq!(closed(env).expect("closed"), rated(&usage));
}

#[test]
fn sqlite_killed_import() {
    killed_import_then_rerun_counts_every_event_once(&Store::sqlite("sqlite-import"));
}

#[test]
fn sqlite_killed_close() {
    killed_close_leaves_nothing_or_a_complete_statement(&Store::sqlite("sqlite-close"));
}

#[test]
fn postgres_killed_import() {
    if let Some(env) = Store::postgres("pg_import") {
        killed_import_then_rerun_counts_every_event_once(&env);
    }
}

#[test]
fn postgres_killed_close() {
    if let Some(env) = Store::postgres("pg_close") {
        killed_close_leaves_nothing_or_a_complete_statement(&env);
    }
}

#[test]
fn due_dates_add_calendar_days() {
    assert_eq!(plus_days("2026-11-30", 30), "2026-12-30");
    assert_eq!(plus_days("2026-12-15", 30), "2027-01-14");
    assert_eq!(plus_days("2028-02-28", 1), "2028-02-29");
}
