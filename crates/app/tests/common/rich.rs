//! A store with a row in every table (`columns.rs` edits each column of it; a
//! store copy carries each row): the scenario, tokens (one revoked), a party with a
//! legal name, a registry version, payments in every state, a period closed after a
//! contract's term, a resolved dispute, a witness's key and cosignature, an accepted
//! rollback, an audit verify job and an idempotency key.

use revshare_app::close::{close, CloseRequest, Grace};
use revshare_app::keys::Keys;
use revshare_app::verify_store::verify_with_keys;
use revshare_app::{Actor, Backend};
use revshare_core::period::Period;
use revshare_core::records::Role;
use revshare_store::backend::{CheckpointRow, IdempotencyRow};

use super::scenario::{fixture, prepared, NOW};
use super::{ctx, TestStore};

/// The scenario, with a row in every table.
pub fn rich(t: &TestStore) {
    let mut backend = prepared(t);
    let keys = t.keys();
    let operator = Actor::cli();
    let now = ctx(&operator, NOW);
    let token = |party: &str, role| revshare_app::tokens::NewToken {
        party: party.into(),
        role,
        contracts: Vec::new(),
        expires: None,
    };
    revshare_app::tokens::create(backend.as_mut(), &keys, now, &token("acme-cloud", Role::Host)).unwrap();
    let spare = revshare_app::tokens::create(backend.as_mut(), &keys, now, &token("meta", Role::Licensor)).unwrap();
    revshare_app::tokens::revoke(backend.as_mut(), &keys, now, &spare.row.token_id).unwrap();
    revshare_app::parties::add(backend.as_mut(), &keys, now, "audit-co", Some("Audit Co")).unwrap();
    revshare_app::tables::add_registry(
        backend.as_mut(),
        &keys,
        now,
        "models.csv",
        b"pattern,licensor\nllama-*,meta\nmistral-*,mistral\n",
        None,
    )
    .unwrap();
    pay_and_reverse(backend.as_mut(), &keys);
    a_term_ends(backend.as_mut(), &keys);
    dispute_and_resolve(backend.as_mut(), &keys);
    witness_and_cosign(backend.as_mut(), &keys);
    roll_back_one_write(t, backend.as_mut(), &keys);
    let job = revshare_app::jobs::start_verify(backend.as_mut(), now).unwrap();
    revshare_app::jobs::run_verify(backend.as_mut(), &keys, now, &job.id, None).unwrap();
    backend
        .claim_idempotency(&IdempotencyRow {
            token_id: "0123456789ab".into(),
            method: "POST".into(),
            path: "/v1/fx".into(),
            key: "k-1".into(),
            body_sha256: "0".repeat(64),
            done: true,
            status: 200,
            content_type: "application/json".into(),
            response: b"{}".to_vec(),
            created_at: NOW.into(),
        })
        .unwrap();
    let report = verify_with_keys(backend.as_mut(), &operator, &keys, None).unwrap();
    assert!(report.holds(), "the rich store holds: {:#?}", report.failures);
}

/// Payments in every state: one confirmed, one confirmed then reversed (each
/// posting legs), one withdrawn.
fn pay_and_reverse(backend: &mut dyn Backend, keys: &Keys) {
    use revshare_app::payments::{record, step, NewPayment, Step};
    let operator = Actor::cli();
    let now = ctx(&operator, NOW);
    let new = |payer: &str, payee: &str, amount: &str| NewPayment {
        contract: "acme-llama".into(),
        payer: Some(payer.into()),
        payee: payee.into(),
        amount: amount.into(),
        date: revshare_core::period::Day::parse("2026-11-15").unwrap(),
        reference: "wire".into(),
    };
    let paid = record(backend, keys, now, &new("acme-cloud", "finetune-labs", "1.25")).unwrap();
    step(backend, keys, now, &paid.payment_id, &Step::Confirm).unwrap();
    let bounced = record(backend, keys, now, &new("acme-cloud", "meta", "10")).unwrap();
    step(backend, keys, now, &bounced.payment_id, &Step::Confirm).unwrap();
    let reason = Step::Reverse {
        reason: "bounced".into(),
    };
    step(backend, keys, now, &bounced.payment_id, &reason).unwrap();
    let refund = record(backend, keys, now, &new("finetune-labs", "acme-cloud", "0.5")).unwrap();
    step(backend, keys, now, &refund.payment_id, &Step::Withdraw).unwrap();
}

/// A contract whose term is September alone closes it, then closes October after
/// its term with nothing to carry: a row in `closed_after_term`.
fn a_term_ends(backend: &mut dyn Backend, keys: &Keys) {
    let operator = Actor::cli();
    let now = ctx(&operator, NOW);
    let brief = String::from_utf8(fixture("contracts/acme-llama.toml"))
        .unwrap()
        .replace("id = \"acme-llama\"", "id = \"brief-llama\"")
        .replace("host = \"acme-cloud\"", "host = \"brief-host\"")
        .replace("effective_from = \"2026-01-01\"", "effective_from = \"2026-09-01\"")
        .replace("effective_to = \"2028-01-01\"", "effective_to = \"2026-10-01\"");
    revshare_app::contracts::add_version(backend, keys, now, "brief.toml", brief.as_bytes()).unwrap();
    for period in ["2026-09", "2026-10"] {
        let request = CloseRequest {
            period: Period::parse(period).unwrap(),
            contract: Some("brief-llama".into()),
            grace: Grace::default(),
            dry_run: false,
            allow_empty: false,
            settlement_start: false,
        };
        close(backend, keys, now, &request).unwrap();
    }
    assert_eq!(backend.closed_after_term().unwrap().len(), 1);
}

/// A dispute of October's acme-llama statement, opened by its licensor and
/// resolved by its host (so that the next close carries it).
fn dispute_and_resolve(backend: &mut dyn Backend, keys: &Keys) {
    use revshare_app::disputes::{open, step, NewDispute, Step};
    let (meta, host) = (Actor::cli_as("meta"), Actor::cli_as("acme-cloud"));
    let new = NewDispute {
        statement_id: "acme-llama/2026-10".into(),
        line: None,
        amount: "2.50".into(),
        reason: "a rate".into(),
        evidence: Vec::new(),
    };
    let opened = open(backend, keys, ctx(&meta, NOW), &new).unwrap();
    let resolve = Step::Resolve { amount: "2.5".into() };
    step(backend, keys, ctx(&host, NOW), &opened.dispute_id, &resolve).unwrap();
}

/// acme-cloud's witness registers its key and cosigns the newest checkpoint.
fn witness_and_cosign(backend: &mut dyn Backend, keys: &Keys) {
    let host = Actor::token("0123456789ab", Role::Host, "acme-cloud", None);
    let now = ctx(&host, NOW);
    let witness =
        revshare_core::checkpoint::WitnessSigner::new("acme-cloud", ed25519_dalek::SigningKey::from_bytes(&[9; 32]));
    let origin = keys.store_id().unwrap().origin();
    revshare_app::log::register_witness_key(
        backend,
        keys,
        now,
        &witness.key().vkey(),
        &witness.sign_registration("acme-cloud", &origin),
    )
    .unwrap();
    let note = revshare_app::log::checkpoint(backend, None).unwrap();
    let opened = revshare_core::checkpoint::open(note.as_bytes(), &[keys.log_key().unwrap()]).unwrap();
    let line = witness.cosign(opened.signed.checkpoint(), 1_790_000_000);
    revshare_app::log::cosign(backend, keys, now, opened.signed.with_lines(&[line]).as_bytes()).unwrap();
}

/// One write undone as restoring a backup would (its rows, entry, tree hashes and
/// checkpoint gone), then the rollback accepted: a row in `rollbacks`.
fn roll_back_one_write(t: &TestStore, backend: &mut dyn Backend, keys: &Keys) {
    let size = backend.audit_head().unwrap().size();
    let kept: CheckpointRow = backend.newest_checkpoint().unwrap().unwrap();
    let operator = Actor::cli();
    revshare_app::parties::add(backend, keys, ctx(&operator, NOW), "gone", None).unwrap();
    let index = revshare_core::log_tree::stored_index(0, size);
    t.tamper(&format!(
        "DELETE FROM parties WHERE id = 'gone'; DELETE FROM audit_log WHERE seq > {size};
         DELETE FROM audit_tree WHERE idx >= {index}; DELETE FROM checkpoints WHERE size > {size};"
    ));
    backend.put_checkpoint(&kept).unwrap();
    revshare_app::log::accept_rollback(backend, keys, ctx(&operator, NOW), size, "restored a backup").unwrap();
}
