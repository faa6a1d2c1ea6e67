//! Stored data that does not decode is an integrity failure (a store error of its
//! own, `integrity` at the edges, never `unavailable`, which clients retry), and
//! `audit verify` names the object instead of aborting: undecodable bytes in each
//! kind of stored blob, on both backends.

mod common;

use revshare_app::verify_store::verify_with_keys;
use revshare_app::{Actor, AppError, Backend};
use revshare_core::records::Role;
use revshare_core::verify::TreeName;

use common::scenario::{first_event, fixture, prepared, NOW};
use common::{ctx, TestStore};

/// A value in SQL: bytes as the backend writes them.
fn bytes(t: &TestStore, value: &[u8]) -> String {
    match t.is_postgres() {
        true => format!("'\\x{}'::bytea", hex::encode(value)),
        false => format!("x'{}'", hex::encode(value)),
    }
}

/// The code an edge answers a use case's failure with.
fn code<T>(result: Result<T, AppError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(error) => error.code(),
    }
}

/// One kind of stored blob: how to damage it, what reading it then answers, and the
/// object `audit verify` names.
struct Damage {
    what: &'static str,
    sql: fn(&TestStore) -> String,
    read: fn(&TestStore, &mut dyn Backend) -> &'static str,
    named: &'static str,
}

const DAMAGES: &[Damage] = &[
    Damage {
        what: "a segment's events",
        sql: |t| {
            format!(
                "UPDATE segments SET events = {} WHERE day >= 20727",
                bytes(t, b"\xff\xff\xff")
            )
        },
        read: |_, backend| {
            let (source, id) = first_event(&fixture("usage-small.ndjson"), "acme-cloud", "2026-10");
            code(revshare_app::locate::locate(backend, &Actor::cli(), &source, &id))
        },
        named: "segment:",
    },
    Damage {
        what: "a tree's leaves",
        sql: |t| format!("UPDATE statement_tree_leaves SET leaves = {}", bytes(t, &[1; 31])),
        read: |_, backend| {
            code(revshare_app::statements::leaves(
                backend,
                &Actor::cli(),
                "acme-llama/2026-10",
                &TreeName::Events,
            ))
        },
        named: "statement:",
    },
    Damage {
        what: "a statement's bytes",
        sql: |_| "UPDATE statements SET json = '{'".into(),
        read: |_, backend| {
            code(revshare_app::statements::show(
                backend,
                &Actor::cli(),
                "acme-llama/2026-10",
            ))
        },
        named: "statement:",
    },
    Damage {
        what: "a payout notice's bytes",
        sql: |_| "UPDATE payout_notices SET json = '{'".into(),
        read: |_, backend| {
            let beneficiary = Actor::token("000000000001", Role::Beneficiary, "finetune-labs", None);
            code(revshare_app::statements::document(
                backend,
                &beneficiary,
                "acme-llama/2026-10",
            ))
        },
        named: "notice:",
    },
    Damage {
        what: "an idempotency key's leaf",
        sql: |t| format!("UPDATE event_keys SET leaf = {}", bytes(t, b"abc")),
        read: |_, backend| {
            let (source, id) = first_event(&fixture("usage-small.ndjson"), "acme-cloud", "2026-10");
            code(revshare_app::locate::locate(backend, &Actor::cli(), &source, &id))
        },
        named: "event:",
    },
    Damage {
        what: "a registry version's rows",
        sql: |_| "UPDATE registry_versions SET rows = '[['".into(),
        read: |_, backend| code(revshare_app::tables::registries(backend, &Actor::cli())),
        named: "registry:",
    },
    Damage {
        what: "a token's contracts",
        sql: |_| "UPDATE tokens SET contracts = '[['".into(),
        read: |_, backend| {
            let operator = Actor::cli();
            code(revshare_app::tokens::list(backend, ctx(&operator, NOW)))
        },
        named: "token:",
    },
    Damage {
        what: "a token's role",
        sql: |_| "UPDATE tokens SET role = 'nonsense'".into(),
        read: |_, backend| {
            let operator = Actor::cli();
            code(revshare_app::tokens::list(backend, ctx(&operator, NOW)))
        },
        named: "token:",
    },
    Damage {
        what: "a contribution's status",
        sql: |_| "UPDATE contributions SET status = 'nonsense'".into(),
        read: |_, backend| code(revshare_app::contributions::list(backend, &Actor::cli())),
        named: "contribution:",
    },
    Damage {
        what: "an audit entry's hash",
        sql: |_| "UPDATE audit_log SET hash = 'zz' WHERE seq = (SELECT max(seq) FROM audit_log)".into(),
        read: |t, backend| {
            let operator = Actor::cli();
            code(revshare_app::parties::add(
                backend,
                &t.keys(),
                ctx(&operator, NOW),
                "someone",
                None,
            ))
        },
        named: "audit:",
    },
    Damage {
        what: "a stored hash of the log's tree",
        sql: |t| format!("UPDATE audit_tree SET hash = {}", bytes(t, b"abc")),
        read: |_, backend| code(revshare_app::log::inclusion(backend, 1, None)),
        named: "audit_tree:",
    },
    Damage {
        what: "a checkpoint's note",
        sql: |_| "UPDATE checkpoints SET note = 'garbage'".into(),
        read: |t, backend| {
            let operator = Actor::cli();
            code(revshare_app::parties::add(
                backend,
                &t.keys(),
                ctx(&operator, NOW),
                "someone",
                None,
            ))
        },
        named: "checkpoint:",
    },
];

fn undecodable_bytes_are_integrity_failures_named_by_audit_verify(t: &TestStore) {
    prepared(t);
    {
        let mut backend = t.open();
        let keys = t.keys();
        let operator = Actor::cli();
        let token = revshare_app::tokens::NewToken {
            party: "acme-cloud".into(),
            role: Role::Host,
            contracts: vec!["acme-llama".into()],
            expires: None,
        };
        revshare_app::tokens::create(backend.as_mut(), &keys, ctx(&operator, NOW), &token).unwrap();
        revshare_app::tables::add_registry(
            backend.as_mut(),
            &keys,
            ctx(&operator, NOW),
            "models.csv",
            b"pattern,licensor\nllama-*,meta\n",
            None,
        )
        .unwrap();
    }
    for damage in DAMAGES {
        let copy = t.copy();
        copy.tamper(&(damage.sql)(&copy));
        let mut backend = copy.open();
        assert_eq!(
            (damage.read)(&copy, backend.as_mut()),
            "integrity",
            "reading {} after it was damaged",
            damage.what
        );
        // A damaged log may refuse the key file (its check reads the log): verify runs
        // without it then.
        let report = match revshare_app::keys::Keys::open(&copy.keys_path, backend.as_mut()) {
            Ok(keys) => verify_with_keys(backend.as_mut(), &Actor::cli(), &keys, None),
            Err(_) => revshare_app::verify_store::verify(backend.as_mut(), &Actor::cli(), None),
        }
        .unwrap_or_else(|e| panic!("audit verify aborted on {}: {e}", damage.what));
        assert!(
            report.failures.iter().any(|f| f.object.starts_with(damage.named)),
            "audit verify names {} ({}…): {:#?}",
            damage.what,
            damage.named,
            report.failures
        );
    }
}

both_backends!(undecodable_bytes_are_integrity_failures_named_by_audit_verify);
