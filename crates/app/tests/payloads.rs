//! The payload of every audited kind of row, pinned (docs/audit.md): each row's
//! digest is SHA-256 of the JCS text the documentation gives, written out here by
//! hand, so that renaming or adding a field (which would change what every old
//! entry means) fails here first.

use revshare_app::rows::{events_payload, fx_payload, payload};
use revshare_core::audit::Seq;
use revshare_core::contract::{ContributionKind, Party};
use revshare_core::tables::ContributionStatus;
use revshare_store::backend::{
    ContractRow, ContributionRow, EventRow, FxRow, PartyRow, RegistryRow, RollbackRow, SigningKeyRow, StatementRow,
    TokenRow, VoidRow, WitnessKeyRow,
};
use sha2::{Digest, Sha256};

/// SHA-256 of a JCS text as written.
fn of(jcs: &str) -> [u8; 32] {
    Sha256::digest(jcs.as_bytes()).into()
}

#[test]
fn key_party_and_token_rows() {
    let key = SigningKeyRow {
        key_id: "9ee958122279e2d5".into(),
        alg: "ed25519".into(),
        public_key: "AAEC".into(),
        created_at: "2026-09-01T00:00:00Z".into(),
        seq: Seq::new(1),
    };
    assert_eq!(
        payload(&key),
        of(r#"{"alg":"ed25519","created_at":"2026-09-01T00:00:00Z","key_id":"9ee958122279e2d5","public_key":"AAEC"}"#)
    );
    let party = PartyRow {
        id: "acme-cloud".into(),
        name: "Acme Cloud".into(),
        created_at: "2026-09-01T00:00:00Z".into(),
        seq: Seq::new(2),
    };
    assert_eq!(
        payload(&party),
        of(r#"{"created_at":"2026-09-01T00:00:00Z","id":"acme-cloud","name":"Acme Cloud"}"#)
    );
    let token = TokenRow {
        token_id: "0123456789ab".into(),
        party: "acme-cloud".into(),
        role: revshare_core::records::Role::Host,
        contracts: Some(vec!["acme-llama".into()]),
        expires: None,
        sha256: "ab".repeat(32),
        created_at: "2026-09-01T00:00:00Z".into(),
        revoked_at: Some("2026-09-02T00:00:00Z".into()),
        seq: Seq::new(3),
    };
    assert_eq!(
        payload(&token),
        of(&format!(
            r#"{{"contracts":["acme-llama"],"created_at":"2026-09-01T00:00:00Z","expires":null,"party":"acme-cloud","revoked_at":"2026-09-02T00:00:00Z","role":"host","sha256":"{}","token_id":"0123456789ab"}}"#,
            "ab".repeat(32)
        ))
    );
}

#[test]
fn contract_fx_and_registry_rows() {
    let contract = ContractRow {
        id: "acme-llama".into(),
        version: 2,
        licensor: "meta".into(),
        host: "acme-cloud".into(),
        file_name: "acme.toml".into(),
        sha256: "cd".repeat(32),
        toml: "id = \"acme-llama\"\n".into(),
        added_at: "2026-09-01T00:00:00Z".into(),
        seq: Seq::new(4),
    };
    assert_eq!(
        payload(&contract),
        of(&format!(
            r#"{{"added_at":"2026-09-01T00:00:00Z","file_name":"acme.toml","host":"acme-cloud","id":"acme-llama","licensor":"meta","sha256":"{}","toml":"id = \"acme-llama\"\n","version":2}}"#,
            "cd".repeat(32)
        ))
    );
    let fx = |date, from: &str| FxRow {
        date,
        from: from.into(),
        to: "USD".into(),
        rate: "1.08".into(),
        seq: Seq::new(5),
    };
    // Ordered by (date, from, to), whatever the order given.
    assert_eq!(
        fx_payload(&[fx(20730, "GBP"), fx(20729, "EUR")]),
        of(
            r#"[{"date":20729,"from":"EUR","rate":"1.08","to":"USD"},{"date":20730,"from":"GBP","rate":"1.08","to":"USD"}]"#
        )
    );
    let registry = RegistryRow {
        version: 1,
        effective_from: 20758,
        file_name: "models.csv".into(),
        added_at: "2026-09-01T00:00:00Z".into(),
        rows: vec![("llama-*".into(), "meta".into())],
        seq: Seq::new(6),
    };
    assert_eq!(
        payload(&registry),
        of(
            r#"{"added_at":"2026-09-01T00:00:00Z","effective_from":20758,"file_name":"models.csv","rows":[["llama-*","meta"]],"version":1}"#
        )
    );
}

#[test]
fn a_batch_of_events() {
    let row = |id: &str, customer| EventRow {
        source: "acme-cloud/us".into(),
        id: id.into(),
        leaf: [0x11; 32],
        host: "acme-cloud".into(),
        model: "llama".into(),
        use_case: "chat".into(),
        currency: "USD".into(),
        customer,
        utc_seconds: 1_790_000_000,
        day: 20_717,
        requests: 1,
        input_tokens: 1200,
        output_tokens: 350,
        revenue_units: "4275000000".into(),
    };
    let rows = [row("e-1", Some([0x22; 16])), row("e-2", None)];
    let jcs = |id: &str, customer: &str| {
        format!(
            r#"{{"currency":"USD","customer":{customer},"day":20717,"host":"acme-cloud","id":"{id}","input_tokens":1200,"leaf":"{}","model":"llama","output_tokens":350,"requests":1,"revenue_units":"4275000000","source":"acme-cloud/us","use_case":"chat","utc_seconds":1790000000}}"#,
            "11".repeat(32)
        )
    };
    let rows_jcs = jcs("e-1", &format!("\"{}\"", "22".repeat(16))) + &jcs("e-2", "null");
    let leaves_sha256 = hex::encode(Sha256::digest([[0x11u8; 32], [0x11; 32]].concat()));
    let rows_sha256 = hex::encode(Sha256::digest(rows_jcs.as_bytes()));
    assert_eq!(
        events_payload(rows.iter().map(|r| r.view(Seq::new(7)))),
        of(&format!(
            r#"{{"count":2,"leaves_sha256":"{leaves_sha256}","rows_sha256":"{rows_sha256}"}}"#
        ))
    );
}

#[test]
fn void_statement_and_contribution_rows() {
    let void = VoidRow {
        number: 1,
        source: "acme-cloud/us".into(),
        id: "e-1".into(),
        host: "acme-cloud".into(),
        day: 20_717,
        leaf: "11".repeat(32),
        reason: "sent twice".into(),
        actor: "cli".into(),
        voided_at: "2026-10-02T00:00:00Z".into(),
        seq: Seq::new(8),
    };
    assert_eq!(
        payload(&void),
        of(&format!(
            r#"{{"actor":"cli","day":20717,"host":"acme-cloud","id":"e-1","leaf":"{}","number":1,"reason":"sent twice","source":"acme-cloud/us","voided_at":"2026-10-02T00:00:00Z"}}"#,
            "11".repeat(32)
        ))
    );
    let statement = StatementRow {
        statement_id: "acme-llama/2026-10".parse().expect("a statement id"),
        contract: "acme-llama".into(),
        period: "2026-10".into(),
        host: "acme-cloud".into(),
        start_day: 20_727,
        end_day: 20_758,
        close_seq: Seq::new(9),
        settled: "[]".into(),
        json: "{}".into(),
        closed_at: "2026-11-01T00:00:00Z".into(),
        seq: Seq::new(10),
    };
    assert_eq!(
        payload(&statement),
        of(
            r#"{"close_seq":9,"closed_at":"2026-11-01T00:00:00Z","contract":"acme-llama","end_day":20758,"host":"acme-cloud","json":"{}","period":"2026-10","settled":"[]","start_day":20727,"statement_id":"acme-llama/2026-10"}"#
        )
    );
    let contribution = ContributionRow {
        number: 1,
        contract: "acme-llama".into(),
        by: Party::Host,
        kind: ContributionKind::Maintenance,
        date: 20_730,
        status: ContributionStatus::Accepted,
        reference: "PR-1".into(),
        proposed_by: "cli".into(),
        proposed_at: "2026-10-04T00:00:00Z".into(),
        proposed_seq: Seq::new(11),
        decided_by: Some("cli as meta".into()),
        decided_at: Some("2026-10-05T00:00:00Z".into()),
        decided_seq: Some(Seq::new(12)),
        seq: Seq::new(12),
    };
    assert_eq!(
        payload(&contribution),
        of(
            r#"{"by":"host","contract":"acme-llama","date":20730,"decided_at":"2026-10-05T00:00:00Z","decided_by":"cli as meta","decided_seq":12,"kind":"maintenance","number":1,"proposed_at":"2026-10-04T00:00:00Z","proposed_by":"cli","proposed_seq":11,"reference":"PR-1","status":"accepted"}"#
        )
    );
}

#[test]
fn witness_key_and_rollback_rows() {
    let key = WitnessKeyRow {
        number: 1,
        party: "acme-cloud".into(),
        vkey: "revshare-witness/acme-cloud+01020304+BAAA".into(),
        added_at: "2026-11-01T00:00:00Z".into(),
        seq: Seq::new(13),
    };
    assert_eq!(
        payload(&key),
        of(
            r#"{"added_at":"2026-11-01T00:00:00Z","number":1,"party":"acme-cloud","vkey":"revshare-witness/acme-cloud+01020304+BAAA"}"#
        )
    );
    let rollback = RollbackRow {
        number: 1,
        from_size: 40,
        from_root: "ee".repeat(32),
        to_size: 35,
        reason: "restored the backup of 2026-11-01".into(),
        actor: "cli".into(),
        accepted_at: "2026-11-02T00:00:00Z".into(),
        seq: Seq::new(36),
    };
    assert_eq!(
        payload(&rollback),
        of(&format!(
            r#"{{"accepted_at":"2026-11-02T00:00:00Z","actor":"cli","from_root":"{}","from_size":40,"number":1,"reason":"restored the backup of 2026-11-01","to_size":35}}"#,
            "ee".repeat(32)
        ))
    );
    let copied = revshare_core::records::StoreCopyRow {
        to: "the PostgreSQL database postgres://revshare:***@db.internal/revshare".into(),
        size: 41,
        actor: "cli".into(),
        copied_at: "2026-12-03T00:00:00Z".into(),
    };
    assert_eq!(
        payload(&copied),
        of(
            r#"{"actor":"cli","copied_at":"2026-12-03T00:00:00Z","size":41,"to":"the PostgreSQL database postgres://revshare:***@db.internal/revshare"}"#
        )
    );
}

#[test]
fn a_payment_row() {
    let payment = revshare_core::records::PaymentRow {
        payment_id: "P-0123456789ab".into(),
        contract: "acme-llama".into(),
        currency: "USD".into(),
        payer: "acme-cloud".into(),
        payee: "finetune-labs".into(),
        amount: "120.00".into(),
        date: 20_777,
        reference: "wire 42".into(),
        status: revshare_core::records::PaymentStatus::Reversed,
        recorded_by: "cli as acme-cloud".into(),
        recorded_at: "2026-11-20T00:00:00Z".into(),
        recorded_seq: Seq::new(40),
        confirmed_by: Some("0123456789ab".into()),
        confirmed_at: Some("2026-11-21T00:00:00Z".into()),
        withdrawn_by: None,
        withdrawn_at: None,
        reversed_by: Some("cli".into()),
        reversed_at: Some("2026-11-22T00:00:00Z".into()),
        reversal_reason: Some("bounced".into()),
        seq: Seq::new(42),
    };
    assert_eq!(
        payload(&payment),
        of(
            r#"{"amount":"120.00","confirmed_at":"2026-11-21T00:00:00Z","confirmed_by":"0123456789ab","contract":"acme-llama","currency":"USD","date":20777,"payee":"finetune-labs","payer":"acme-cloud","payment_id":"P-0123456789ab","recorded_at":"2026-11-20T00:00:00Z","recorded_by":"cli as acme-cloud","recorded_seq":40,"reference":"wire 42","reversal_reason":"bounced","reversed_at":"2026-11-22T00:00:00Z","reversed_by":"cli","status":"reversed","withdrawn_at":null,"withdrawn_by":null}"#
        )
    );
}

#[test]
fn a_mau_flag() {
    let reached = revshare_app::mau::Reached {
        contract: "acme-llama".into(),
        host: "acme-cloud".into(),
        month: "2026-10".into(),
        customers: 700_000_123,
        threshold: 700_000_000,
    };
    assert_eq!(
        payload(&reached),
        of(
            r#"{"contract":"acme-llama","customers":700000123,"host":"acme-cloud","month":"2026-10","threshold":700000000}"#
        )
    );
}

#[test]
fn a_dispute_row() {
    use revshare_core::dispute::{DisputeRow, DisputeStatus, DisputeStep, Evidence, StepTaken};
    let step =
        |step, actor: &str, party: Option<&str>, at: &str, seq, amount: Option<&str>, note: Option<&str>| StepTaken {
            step,
            actor: actor.into(),
            party: party.map(str::to_string),
            at: at.into(),
            seq: Seq::new(seq),
            amount: amount.map(str::to_string),
            note: note.map(str::to_string),
        };
    let dispute = DisputeRow {
        dispute_id: "D-3f9a0c41b2e7".into(),
        contract: "acme-llama".into(),
        statement_id: "acme-llama/2026-10".into(),
        model: Some("llama-3.1-70b-instruct".into()),
        use_case: Some("chat".into()),
        opener: "meta".into(),
        opener_side: Party::Licensor,
        counterparty: "acme-cloud".into(),
        reason: "wrong rate".into(),
        claim: "12.00".into(),
        evidence: vec![Evidence {
            source: "acme-cloud/eu".into(),
            id: "e1".into(),
        }],
        window_ends: "2027-01-01T00:00:00Z".into(),
        status: DisputeStatus::Resolved,
        amount: Some("5.00".into()),
        steps: vec![
            step(
                DisputeStep::Open,
                "t1",
                Some("meta"),
                "2026-11-10T00:00:00Z",
                41,
                None,
                None,
            ),
            step(
                DisputeStep::Answer,
                "cli as acme-cloud",
                Some("acme-cloud"),
                "2026-11-11T00:00:00Z",
                42,
                None,
                Some("looking"),
            ),
            step(
                DisputeStep::Escalate,
                "t1",
                Some("meta"),
                "2026-11-12T00:00:00Z",
                43,
                None,
                None,
            ),
            step(
                DisputeStep::Decide,
                "cli",
                None,
                "2026-11-13T00:00:00Z",
                44,
                Some("5.00"),
                None,
            ),
        ],
        opened_seq: Seq::new(41),
        resolved_seq: Some(Seq::new(44)),
        seq: Seq::new(44),
    };
    assert_eq!(
        payload(&dispute),
        of(concat!(
            r#"{"amount":"5.00","claim":"12.00","contract":"acme-llama","counterparty":"acme-cloud","#,
            r#""dispute_id":"D-3f9a0c41b2e7","evidence":[{"id":"e1","source":"acme-cloud/eu"}],"#,
            r#""model":"llama-3.1-70b-instruct","opened_seq":41,"opener":"meta","opener_side":"licensor","#,
            r#""reason":"wrong rate","resolved_seq":44,"statement_id":"acme-llama/2026-10","status":"resolved","#,
            r#""steps":[{"actor":"t1","at":"2026-11-10T00:00:00Z","party":"meta","seq":41,"step":"open"},"#,
            r#"{"actor":"cli as acme-cloud","at":"2026-11-11T00:00:00Z","note":"looking","party":"acme-cloud","seq":42,"step":"answer"},"#,
            r#"{"actor":"t1","at":"2026-11-12T00:00:00Z","party":"meta","seq":43,"step":"escalate"},"#,
            r#"{"actor":"cli","amount":"5.00","at":"2026-11-13T00:00:00Z","party":null,"seq":44,"step":"decide"}],"#,
            r#""use_case":"chat","window_ends":"2027-01-01T00:00:00Z"}"#
        ))
    );
}
