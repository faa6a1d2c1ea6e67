//! The access matrix of api.md ("What each role may do"), over real HTTP: every
//! endpoint of the router, called by every kind of caller, answers the status the
//! table gives, and no 2xx answer carries another party's data.
//!
//! One store is set up once (the spec's three example contracts plus a second
//! contract of acme-cloud with another licensor, FX rates, contributions, the small
//! usage file, 2026-09 and 2026-10 closed, a registry version, audit verify jobs),
//! then [`MATRIX`] is run row by row, column by column, in order. Read a row against
//! api.md's role table: `–` is 403 for the whole resource (before any lookup, so it
//! says nothing about what exists), an object the caller may not see is 404, exactly
//! like one that does not exist ([`SAME_AS_MISSING`] compares the bodies).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use revshare_app::close::{CloseRequest, Grace};
use revshare_app::contributions::{Decision, Proposal};
use revshare_app::import::Observers;
use revshare_app::keys::Keys;
use revshare_app::tokens::NewToken;
use revshare_app::{Actor, Backend, Ctx, Location};
use revshare_core::contract::{ContributionKind, Party};
use revshare_core::event::parse_time;
use revshare_core::period::{Day, Period};
use revshare_core::records::Role;
use revshare_core::tables::{ContributionStatus, Contributions};
use revshare_ingest::offline::UsageInput;

/// The dashboard in Chromium (`access/browser.rs`).
#[path = "access/browser.rs"]
mod browser;
/// The dashboard's pages under the same matrix (`access/dashboard.rs`).
#[path = "access/dashboard.rs"]
mod dashboard;

// ---- the callers: one column each ----

/// No `Authorization` header.
const NONE: usize = 0;
/// `Bearer` with something that is not a token.
const BAD: usize = 1;
/// A host token past its expiry date.
const EXP: usize = 2;
/// A revoked host token.
const REV: usize = 3;
/// The operator.
const OP: usize = 4;
/// Licensor `meta` (acme-llama, nimbus-llama, orbit-llama; not acme-mistral).
const LIC: usize = 5;
/// Host `acme-cloud` (acme-llama, acme-mistral).
const HOST: usize = 6;
/// Host `nimbus-ai` (nimbus-llama): another host.
const HOST2: usize = 7;
/// Beneficiary `finetune-labs` (named in the splits of acme-llama, orbit-llama and acme-mistral).
const BEN: usize = 8;
/// An auditor token narrowed to acme-llama.
const AUD: usize = 9;
/// Host `acme-cloud` narrowed with `--contract acme-llama`.
const NAR: usize = 10;

const COLUMNS: [&str; 11] = [
    "no token",
    "malformed token",
    "expired token",
    "revoked token",
    "operator",
    "licensor meta",
    "host acme-cloud",
    "host nimbus-ai",
    "beneficiary finetune-labs",
    "auditor (acme-llama)",
    "host acme-cloud narrowed to acme-llama",
];

/// What must never appear in a 2xx body for each column (token ids may: the audit
/// log shows who acted by token id).
const FORBIDDEN: [&[&str]; 11] = [
    PUBLIC_ONLY,
    PUBLIC_ONLY,
    PUBLIC_ONLY,
    PUBLIC_ONLY,
    &[],
    &["acme-mistral", "audit-co"],
    &["nimbus", "orbit", "audit-co"],
    &["acme", "orbit", "finetune", "safety", "audit-co"],
    &[
        "safety",
        "nimbus",
        "orbit-compute",
        "acme-cloud",
        "\"meta\"",
        "\"mistral\"",
        "audit-co",
    ],
    &["nimbus", "orbit", "acme-mistral", "safety"],
    &["nimbus", "orbit", "acme-mistral", "safety", "audit-co"],
];

/// Public endpoints carry no party data at all.
const PUBLIC_ONLY: &[&str] = &[
    "acme", "nimbus", "orbit", "meta\"", "finetune", "safety", "mistral", "audit-co",
];

// ---- request bodies ----

/// acme-cloud's own event (an open period: voiding it needs no dispute window).
const OWN_BATCH: &str = r#"{"specversion":"1.0","type":"ai.usage.v1","source":"acme-cloud/eu","id":"acc-own-1","time":"2026-11-02T10:00:00Z","data":{"host":"acme-cloud","model":"llama-3.3-70b-instruct","use_case":"customer_service","region":"eu","customer":"c-1","requests":1,"input_tokens":10,"output_tokens":10,"revenue":"0.010000","currency":"USD"}}
"#;
/// nimbus-ai's event, as a JSON array.
const NIMBUS_BATCH: &str = r#"[{"specversion":"1.0","type":"ai.usage.v1","source":"nimbus-ai/eu","id":"acc-nimbus-1","time":"2026-11-02T10:00:00Z","data":{"host":"nimbus-ai","model":"llama-3.3-70b-instruct","use_case":"search","region":"eu","customer":"c-1","requests":1,"input_tokens":10,"output_tokens":10,"revenue":"0.010000","currency":"USD"}}]"#;
/// acme-cloud's host under nimbus-ai's source.
const SPOOF_BATCH: &str = r#"{"specversion":"1.0","type":"ai.usage.v1","source":"nimbus-ai/eu","id":"acc-spoof-1","time":"2026-11-02T10:00:00Z","data":{"host":"acme-cloud","model":"llama-3.3-70b-instruct","use_case":"search","region":"eu","customer":"c-1","requests":1,"input_tokens":10,"output_tokens":10,"revenue":"0.010000","currency":"USD"}}
"#;

const VOID_OWN: &str = r#"{"source":"acme-cloud/eu","id":"acc-own-1","reason":"sent twice"}"#;
const VOID_NIMBUS: &str = r#"{"source":"nimbus-ai/eu","id":"acc-nimbus-1","reason":"sent twice"}"#;
const VOID_MISSING: &str = r#"{"source":"acme-cloud/us","id":"no-such-event","reason":"sent twice"}"#;

const FX_ROW: &str = "date,from,to,rate\n2026-10-01,EUR,USD,1.085968\n";
const MODELS: &str = "pattern,licensor\nllama-*,meta\nmistral-*,mistral\n";

const PROPOSE_ACME_HOST: &str =
    r#"{"contract":"acme-llama","by":"host","kind":"maintenance","date":"2026-11-03","reference":"r"}"#;
const PROPOSE_ACME_LICENSOR: &str =
    r#"{"contract":"acme-llama","by":"licensor","kind":"update","date":"2026-11-03","reference":"r"}"#;
const PROPOSE_NIMBUS_HOST: &str =
    r#"{"contract":"nimbus-llama","by":"host","kind":"maintenance","date":"2026-11-03","reference":"r"}"#;

/// A payment by the token's party on acme-llama to finetune-labs, to acme-cloud (a
/// refund), and one whose payer the operator names.
const PAY_FINETUNE: &str = r#"{"contract":"acme-llama","to":"finetune-labs","amount":"1.00","date":"2026-11-03"}"#;
const PAY_REFUND: &str = r#"{"contract":"acme-llama","to":"acme-cloud","amount":"0.50","date":"2026-11-03"}"#;
const PAY_NAMED: &str =
    r#"{"contract":"acme-llama","payer":"acme-cloud","to":"meta","amount":"2","date":"2026-11-03"}"#;
const REVERSAL: &str = r#"{"reason":"the wire bounced"}"#;

/// A dispute step's note, and an amount that grants a dispute's whole claim
/// ([`World::dispute`]'s claim is 1.00).
const NOTE: &str = r#"{"note":"we are looking into it"}"#;
const WHOLE_CLAIM: &str = r#"{"amount":"1.00"}"#;

const NEW_PARTY: &str = r#"{"id":"new-party","name":"New Party"}"#;
const PARTY_NAME: &str = r#"{"name":"Meta Platforms, Inc."}"#;
const NEW_TOKEN: &str = r#"{"party":"audit-co","role":"auditor","contracts":["acme-llama"]}"#;

/// The acme-llama file as stored: adding it again changes nothing.
const ACME_TOML: &str = include_str!("../../../fixtures/spec-examples/contracts/acme-llama.toml");

const NDJSON: &str = "content-type: application/x-ndjson";
const JSON: &str = "content-type: application/json";
const TOML: &str = "content-type: application/toml";
const CSV: &str = "content-type: text/csv";
const WANT_CSV: &str = "accept: text/csv";
const TEXT: &str = "content-type: text/plain";

// ---- the matrix ----

/// One request, and the status each column must get.
struct Row {
    method: &'static str,
    /// `{host_proposal}` / `{licensor_proposal}`: a contribution proposed just before
    /// this request by that side of acme-llama; `{aud_job}`, `{op_job}`: the audit
    /// verify jobs of the auditor and the operator; `{spare_token}`: a token to revoke;
    /// `{recorded_payment}` / `{confirmed_payment}`: a payment of acme-cloud to
    /// finetune-labs recorded (and confirmed) just before this request;
    /// `{open_dispute}`, `{offered_dispute}`, `{escalated_dispute}`: a dispute of
    /// acme-llama/2026-10 by meta, open (offered, escalated) just before this request,
    /// `{dispute}` one opened at setup; `{open_acme}`, `{open_nimbus}`: the body of a
    /// dispute of acme-llama/2026-10 (nimbus-llama/2026-10), every earlier one
    /// finished first.
    path: &'static str,
    body: &'static str,
    /// A header: the body's content type, or what to accept.
    header: &'static str,
    want: [u16; 11],
}

const fn row(
    method: &'static str,
    path: &'static str,
    body: &'static str,
    header: &'static str,
    want: [u16; 11],
) -> Row {
    Row {
        method,
        path,
        body,
        header,
        want,
    }
}

const GET: &str = "GET";
const POST: &str = "POST";
const DELETE: &str = "DELETE";
const PATCH: &str = "PATCH";

#[rustfmt::skip]
const MATRIX: &[Row] = &[
    //   method  path                                                                       body                   header     none bad  exp  rev   op  lic host  h2  ben  aud  nar
    // probes and keys: no auth
    row(GET,    "/healthz",                                                                  "",                    "",        [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row(GET,    "/readyz",                                                                   "",                    "",        [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row(GET,    "/metrics",                                                                  "",                    "",        [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row(GET,    "/v1/openapi.json",                                                          "",                    "",        [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row(GET,    "/v1/keys",                                                                  "",                    "",        [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row(GET,    "/v1/me",                                                                    "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200]),
    // submit usage: hosts, their own events (others are rejected in a 200 outcome: BATCHES)
    row(POST,   "/v1/events",                                                                OWN_BATCH,             NDJSON,    [401, 401, 401, 401, 403, 403, 200, 200, 403, 403, 200]),
    row(POST,   "/v1/events",                                                                NIMBUS_BATCH,          JSON,      [401, 401, 401, 401, 403, 403, 200, 200, 403, 403, 200]),
    row(POST,   "/v1/events",                                                                SPOOF_BATCH,           NDJSON,    [401, 401, 401, 401, 403, 403, 200, 200, 403, 403, 200]),
    // void an event: operator; a host its own
    row(POST,   "/v1/events/void",                                                           VOID_OWN,              JSON,      [401, 401, 401, 401, 200, 403, 200, 404, 403, 403, 200]),
    row(POST,   "/v1/events/void",                                                           VOID_NIMBUS,           JSON,      [401, 401, 401, 401, 200, 403, 404, 200, 403, 403, 404]),
    row(POST,   "/v1/events/void",                                                           VOID_MISSING,          JSON,      [401, 401, 401, 401, 404, 403, 404, 404, 403, 403, 404]),
    // locate: operator; licensor and auditor in own statements; host own events
    row(GET,    "/v1/events/locate?source=acme-cloud/us&id=e1-0000000000",                   "",                    "",        [401, 401, 401, 401, 200, 200, 200, 404, 403, 200, 200]),
    row(GET,    "/v1/events/locate?source=nimbus-ai/eu&id=e1-0000000004",                    "",                    "",        [401, 401, 401, 401, 200, 200, 404, 200, 403, 404, 404]),
    row(GET,    "/v1/events/locate?source=acme-cloud/eu&id=m-1",                             "",                    "",        [401, 401, 401, 401, 200, 404, 200, 404, 403, 404, 200]),
    row(GET,    "/v1/events/locate?source=acme-cloud/us&id=no-such-event",                   "",                    "",        [401, 401, 401, 401, 200, 404, 404, 404, 403, 404, 404]),
    // contracts: all / own / own / none (payout notices only) / own (read)
    row(GET,    "/v1/contracts",                                                             "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200]),
    row(GET,    "/v1/contracts/acme-llama",                                                  "",                    "",        [401, 401, 401, 401, 200, 200, 200, 404, 404, 200, 200]),
    row(GET,    "/v1/contracts/acme-llama?version=1",                                        "",                    "",        [401, 401, 401, 401, 200, 200, 200, 404, 404, 200, 200]),
    row(GET,    "/v1/contracts/nimbus-llama",                                                "",                    "",        [401, 401, 401, 401, 200, 200, 404, 200, 404, 404, 404]),
    row(GET,    "/v1/contracts/acme-mistral",                                                "",                    "",        [401, 401, 401, 401, 200, 404, 200, 404, 404, 404, 404]),
    row(GET,    "/v1/contracts/no-such-contract",                                            "",                    "",        [401, 401, 401, 401, 404, 404, 404, 404, 404, 404, 404]),
    // add a contract version: operator
    row(POST,   "/v1/contracts",                                                             ACME_TOML,             TOML,      [401, 401, 401, 401, 200, 403, 403, 403, 403, 403, 403]),
    // FX rates, model registry: read all but beneficiaries / write operator
    row(GET,    "/v1/fx",                                                                    "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 403, 200, 200]),
    row(POST,   "/v1/fx",                                                                    FX_ROW,                CSV,       [401, 401, 401, 401, 200, 403, 403, 403, 403, 403, 403]),
    row(GET,    "/v1/models",                                                                "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 403, 200, 200]),
    row(POST,   "/v1/models?from=2027-02-01",                                                MODELS,                CSV,       [401, 401, 401, 401, 201, 403, 403, 403, 403, 403, 403]),
    // close a period (also dry run): operator
    row(POST,   "/v1/periods/2026-10/close",                                                 "",                    "",        [401, 401, 401, 401, 200, 403, 403, 403, 403, 403, 403]),
    row(POST,   "/v1/periods/2026-10/close?dry_run=true",                                    "",                    "",        [401, 401, 401, 401, 200, 403, 403, 403, 403, 403, 403]),
    row(POST,   "/v1/periods/2026-10/close?contract=nimbus-llama&dry_run=true",              "",                    "",        [401, 401, 401, 401, 200, 403, 403, 403, 403, 403, 403]),
    row(POST,   "/v1/periods/2026-10/close?async=true",                                      "",                    "",        [401, 401, 401, 401, 202, 403, 403, 403, 403, 403, 403]),
    row(POST,   "/v1/periods/2026-10/close?async=true&dry_run=true",                         "",                    "",        [401, 401, 401, 401, 400, 403, 403, 403, 403, 403, 403]),
    // statements: all / own / own / own payout notices only / own (read)
    row(GET,    "/v1/statements",                                                            "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200]),
    row(GET,    "/v1/statements?contract=nimbus-llama&period=2026-10",                       "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200]),
    row(GET,    "/v1/statements/acme-llama/2026-10",                                         "",                    "",        [401, 401, 401, 401, 200, 200, 200, 404, 200, 200, 200]),
    row(GET,    "/v1/statements/acme-llama/2026-10",                                         "",                    WANT_CSV,  [401, 401, 401, 401, 200, 200, 200, 404, 200, 200, 200]),
    row(GET,    "/v1/statements/nimbus-llama/2026-10",                                       "",                    "",        [401, 401, 401, 401, 200, 200, 404, 200, 404, 404, 404]),
    row(GET,    "/v1/statements/acme-mistral/2026-10",                                       "",                    "",        [401, 401, 401, 401, 200, 404, 200, 404, 200, 404, 404]),
    row(GET,    "/v1/statements/orbit-llama/2026-Q4",                                        "",                    "",        [401, 401, 401, 401, 404, 404, 404, 404, 404, 404, 404]),
    // proofs, leaves, inputs
    row(GET,    "/v1/statements/acme-llama/2026-10/proof?source=acme-cloud/us&id=e1-0000000000", "",                "",        [401, 401, 401, 401, 200, 200, 200, 404, 404, 200, 200]),
    row(GET,    "/v1/statements/nimbus-llama/2026-10/proof?source=nimbus-ai/eu&id=e1-0000000004", "",               "",        [401, 401, 401, 401, 200, 200, 404, 200, 404, 404, 404]),
    row(GET,    "/v1/statements/acme-llama/2026-10/proof?source=nimbus-ai/eu&id=e1-0000000004", "",                 "",        [401, 401, 401, 401, 404, 404, 404, 404, 404, 404, 404]),
    row(GET,    "/v1/statements/acme-mistral/2026-10/proof?source=acme-cloud/eu&id=m-1",     "",                    "",        [401, 401, 401, 401, 200, 404, 200, 404, 404, 404, 404]),
    row(GET,    "/v1/statements/acme-llama/2026-10/leaves?tree=events",                      "",                    "",        [401, 401, 401, 401, 200, 200, 200, 404, 404, 200, 200]),
    row(GET,    "/v1/statements/nimbus-llama/2026-10/leaves?tree=events",                    "",                    "",        [401, 401, 401, 401, 200, 200, 404, 200, 404, 404, 404]),
    row(GET,    "/v1/statements/acme-llama/2026-10/inputs",                                  "",                    "",        [401, 401, 401, 401, 200, 200, 200, 404, 404, 200, 200]),
    row(GET,    "/v1/statements/acme-mistral/2026-10/inputs",                                "",                    "",        [401, 401, 401, 401, 200, 404, 200, 404, 404, 404, 404]),
    // contributions: propose and decide as a side of an own contract; auditors read
    row(GET,    "/v1/contributions",                                                         "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 403, 200, 200]),
    row(POST,   "/v1/contributions",                                                         PROPOSE_ACME_HOST,     JSON,      [401, 401, 401, 401, 201, 403, 201, 404, 403, 403, 201]),
    row(POST,   "/v1/contributions",                                                         PROPOSE_ACME_LICENSOR, JSON,      [401, 401, 401, 401, 201, 201, 403, 404, 403, 403, 403]),
    row(POST,   "/v1/contributions",                                                         PROPOSE_NIMBUS_HOST,   JSON,      [401, 401, 401, 401, 201, 403, 404, 201, 403, 404, 404]),
    row(POST,   "/v1/contributions/{host_proposal}/accept",                                  "",                    "",        [401, 401, 401, 401, 200, 200, 403, 404, 403, 403, 403]),
    row(POST,   "/v1/contributions/{host_proposal}/reject",                                  "",                    "",        [401, 401, 401, 401, 200, 200, 403, 404, 403, 403, 403]),
    row(POST,   "/v1/contributions/{licensor_proposal}/accept",                              "",                    "",        [401, 401, 401, 401, 200, 403, 200, 404, 403, 403, 200]),
    row(POST,   "/v1/contributions/{licensor_proposal}/reject",                              "",                    "",        [401, 401, 401, 401, 200, 403, 200, 404, 403, 403, 200]),
    row(POST,   "/v1/contributions/999999/accept",                                           "",                    "",        [401, 401, 401, 401, 404, 404, 404, 404, 403, 404, 404]),
    // disputes: the steps of statements.md by the parties of an own contract, decide by the operator; auditors read
    row(GET,    "/v1/disputes",                                                              "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 403, 200, 200]),
    row(GET,    "/v1/disputes/{dispute}",                                                    "",                    "",        [401, 401, 401, 401, 200, 200, 200, 404, 403, 200, 200]),
    row(GET,    "/v1/disputes/D-000000000000",                                               "",                    "",        [401, 401, 401, 401, 404, 404, 404, 404, 403, 404, 404]),
    row(POST,   "/v1/disputes",                                                              "{open_acme}",         JSON,      [401, 401, 401, 401, 403, 201, 201, 404, 403, 403, 201]),
    row(POST,   "/v1/disputes",                                                              "{open_nimbus}",       JSON,      [401, 401, 401, 401, 403, 201, 404, 201, 403, 403, 404]),
    row(POST,   "/v1/disputes/{open_dispute}/answer",                                        NOTE,                  JSON,      [401, 401, 401, 401, 403, 403, 200, 404, 403, 403, 200]),
    row(POST,   "/v1/disputes/{open_dispute}/resolve",                                       WHOLE_CLAIM,           JSON,      [401, 401, 401, 401, 403, 403, 200, 404, 403, 403, 200]),
    row(POST,   "/v1/disputes/{offered_dispute}/accept",                                     "",                    "",        [401, 401, 401, 401, 403, 200, 403, 404, 403, 403, 403]),
    row(POST,   "/v1/disputes/{open_dispute}/reject",                                        NOTE,                  JSON,      [401, 401, 401, 401, 403, 403, 200, 404, 403, 403, 200]),
    row(POST,   "/v1/disputes/{offered_dispute}/withdraw",                                   "",                    "",        [401, 401, 401, 401, 403, 200, 403, 404, 403, 403, 403]),
    row(POST,   "/v1/disputes/{open_dispute}/escalate",                                      "",                    "",        [401, 401, 401, 401, 403, 200, 200, 404, 403, 403, 200]),
    row(POST,   "/v1/disputes/{escalated_dispute}/decide",                                   WHOLE_CLAIM,           JSON,      [401, 401, 401, 401, 200, 403, 403, 403, 403, 403, 403]),
    row(POST,   "/v1/disputes/D-000000000000/withdraw",                                      "",                    "",        [401, 401, 401, 401, 403, 404, 404, 404, 403, 403, 404]),
    // the audit log: the chain for all, full entries about own objects
    // payments: recorded by the payer, confirmed by the payee, withdrawn by the payer, reversed by the operator
    row(GET,    "/v1/payments",                                                              "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200]),
    row(POST,   "/v1/payments",                                                              PAY_FINETUNE,          JSON,      [401, 401, 401, 401, 400, 400, 201, 404, 400, 403, 201]),
    row(POST,   "/v1/payments",                                                              PAY_REFUND,            JSON,      [401, 401, 401, 401, 400, 201, 400, 404, 201, 403, 400]),
    row(POST,   "/v1/payments",                                                              PAY_NAMED,             JSON,      [401, 401, 401, 401, 201, 403, 201, 404, 403, 403, 201]),
    row(POST,   "/v1/payments/{recorded_payment}/confirm",                                   "",                    "",        [401, 401, 401, 401, 200, 404, 403, 404, 200, 403, 403]),
    row(POST,   "/v1/payments/{recorded_payment}/withdraw",                                  "",                    "",        [401, 401, 401, 401, 200, 404, 200, 404, 403, 403, 200]),
    row(POST,   "/v1/payments/{confirmed_payment}/reverse",                                  REVERSAL,              JSON,      [401, 401, 401, 401, 200, 403, 403, 403, 403, 403, 403]),
    row(POST,   "/v1/payments/P-000000000000/confirm",                                       "",                    "",        [401, 401, 401, 401, 404, 404, 404, 404, 404, 403, 404]),
    row(GET,    "/v1/ledger/balances",                                                       "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200]),
    row(GET,    "/v1/ledger/balances?party=finetune-labs&as_of=2027-01-31",                  "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200]),
    row(GET,    "/v1/ledger/entries?contract=acme-llama",                                    "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200]),
    row(GET,    "/v1/ledger/balances?as_of=someday",                                         "",                    "",        [401, 401, 401, 401, 400, 400, 400, 400, 400, 400, 400]),
    // MAU: all / own hosts / own / – / own (counts of the hosts, flags of own contracts)
    row(GET,    "/v1/mau?month=2026-10",                                                     "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 403, 200, 200]),
    row(GET,    "/v1/mau?host=acme-cloud&month=2026-10",                                     "",                    "",        [401, 401, 401, 401, 200, 200, 200, 404, 403, 200, 200]),
    row(GET,    "/v1/mau?host=nimbus-ai&month=2026-10",                                      "",                    "",        [401, 401, 401, 401, 200, 200, 404, 200, 403, 404, 404]),
    row(GET,    "/v1/mau?host=no-such-host",                                                 "",                    "",        [401, 401, 401, 401, 200, 404, 404, 404, 403, 404, 404]),
    row(GET,    "/v1/mau?month=2026-Q4",                                                     "",                    "",        [401, 401, 401, 401, 400, 400, 400, 400, 403, 400, 400]),
    row(GET,    "/v1/audit/chain?limit=1000",                                                "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200]),
    row(GET,    "/v1/audit/entries?limit=1000",                                              "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200]),
    // audit verify: operator, auditor (own contracts)
    row(POST,   "/v1/audit/verify",                                                          "",                    "",        [401, 401, 401, 401, 202, 403, 403, 403, 403, 202, 403]),
    row(GET,    "/v1/audit/verify/{aud_job}",                                                "",                    "",        [401, 401, 401, 401, 200, 403, 403, 403, 403, 200, 403]),
    row(GET,    "/v1/audit/verify/{op_job}",                                                 "",                    "",        [401, 401, 401, 401, 200, 403, 403, 403, 403, 404, 403]),
    row(GET,    "/v1/audit/verify/J-0000000000000000",                                       "",                    "",        [401, 401, 401, 401, 404, 403, 403, 403, 403, 404, 403]),
    // jobs: their starter's and the operator's; to anyone else as missing
    row(GET,    "/v1/jobs/{aud_job}",                                                        "",                    "",        [401, 401, 401, 401, 200, 404, 404, 404, 404, 200, 404]),
    row(GET,    "/v1/jobs/{op_job}",                                                         "",                    "",        [401, 401, 401, 401, 200, 404, 404, 404, 404, 404, 404]),
    row(GET,    "/v1/jobs/J-0000000000000000",                                               "",                    "",        [401, 401, 401, 401, 404, 404, 404, 404, 404, 404, 404]),
    // the log's checkpoints and proofs: every party; witness keys: every party reads
    // them, each but the operator registers its own and cosigns with it
    row(GET,    "/v1/audit/checkpoint",                                                      "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200]),
    row(GET,    "/v1/audit/checkpoint?size=999999",                                          "",                    "",        [401, 401, 401, 401, 404, 404, 404, 404, 404, 404, 404]),
    row(GET,    "/v1/audit/consistency?from=1&to=2",                                         "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200]),
    row(GET,    "/v1/audit/inclusion?seq=1",                                                 "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200]),
    row(GET,    "/v1/audit/inclusion?seq=999999",                                            "",                    "",        [401, 401, 401, 401, 400, 400, 400, 400, 400, 400, 400]),
    row(POST,   "/v1/witness/keys",                                                          "{acme_witness_key}",  JSON,      [401, 401, 401, 401, 403, 403, 201, 403, 403, 403, 201]),
    row(GET,    "/v1/witness/keys",                                                          "",                    "",        [401, 401, 401, 401, 200, 200, 200, 200, 200, 200, 200]),
    row(POST,   "/v1/audit/cosignatures",                                                    "{acme_cosignature}",  TEXT,      [401, 401, 401, 401, 403, 400, 200, 400, 400, 400, 200]),
    // parties, tokens: operator
    row(GET,    "/v1/parties",                                                               "",                    "",        [401, 401, 401, 401, 200, 403, 403, 403, 403, 403, 403]),
    row(POST,   "/v1/parties",                                                               NEW_PARTY,             JSON,      [401, 401, 401, 401, 201, 403, 403, 403, 403, 403, 403]),
    row(PATCH,  "/v1/parties/meta",                                                          PARTY_NAME,            JSON,      [401, 401, 401, 401, 200, 403, 403, 403, 403, 403, 403]),
    row(PATCH,  "/v1/parties/nobody",                                                        PARTY_NAME,            JSON,      [401, 401, 401, 401, 404, 403, 403, 403, 403, 403, 403]),
    row(GET,    "/v1/tokens",                                                                "",                    "",        [401, 401, 401, 401, 200, 403, 403, 403, 403, 403, 403]),
    row(POST,   "/v1/tokens",                                                                NEW_TOKEN,             JSON,      [401, 401, 401, 401, 201, 403, 403, 403, 403, 403, 403]),
    row(DELETE, "/v1/tokens/{spare_token}",                                                  "",                    "",        [401, 401, 401, 401, 200, 403, 403, 403, 403, 403, 403]),
    row(DELETE, "/v1/tokens/000000000000",                                                   "",                    "",        [401, 401, 401, 401, 404, 403, 403, 403, 403, 403, 403]),
];

/// The outcome of each usage batch a host posts with a 200 (in column order, so the
/// narrowed token's repeat of acme-cloud's own event is a duplicate).
#[rustfmt::skip]
const BATCHES: &[(&str, [(usize, &str); 3])] = &[
    (OWN_BATCH,    [(HOST, "accepted"),        (HOST2, "host_mismatch"), (NAR, "duplicate")]),
    (NIMBUS_BATCH, [(HOST, "host_mismatch"),   (HOST2, "accepted"),      (NAR, "host_mismatch")]),
    (SPOOF_BATCH,  [(HOST, "source_mismatch"), (HOST2, "host_mismatch"), (NAR, "source_mismatch")]),
];

/// `(column, method, path, body, (name, missing name))`.
type Hidden = (
    usize,
    &'static str,
    &'static str,
    &'static str,
    (&'static str, &'static str),
);

/// No existence leak: what a column may not see answers exactly like what does not
/// exist. The missing request is the hidden one with `name` replaced by `missing
/// name` (in its path and body); its answer gets `name` written back, and then the
/// two answers must be the same bytes.
#[rustfmt::skip]
const SAME_AS_MISSING: &[Hidden] = &[
    (HOST,  GET,  "/v1/statements/nimbus-llama/2026-10",                                          "",            ("2026-10", "2027-10")),
    (HOST,  GET,  "/v1/statements/nimbus-llama/2026-10/proof?source=nimbus-ai/eu&id=e1-0000000004", "",          ("2026-10", "2027-10")),
    (HOST,  GET,  "/v1/statements/acme-llama/2026-10/proof?source=nimbus-ai/eu&id=e1-0000000004", "",            ("e1-0000000004", "e9-0000000004")),
    (HOST,  GET,  "/v1/statements/nimbus-llama/2026-10/leaves?tree=events",                       "",            ("2026-10", "2027-10")),
    (HOST,  GET,  "/v1/statements/nimbus-llama/2026-10/inputs",                                   "",            ("2026-10", "2027-10")),
    (HOST,  GET,  "/v1/mau?host=nimbus-ai&month=2026-10",                                         "",            ("nimbus-ai", "nimbus-ax")),
    (LIC,   GET,  "/v1/mau?host=no-such-host",                                                    "",            ("no-such-host", "no-such-hosx")),
    (AUD,   GET,  "/v1/mau?host=nimbus-ai",                                                       "",            ("nimbus-ai", "nimbus-ax")),
    (HOST,  GET,  "/v1/contracts/nimbus-llama",                                                   "",            ("nimbus-llama", "nimbus-llamx")),
    (HOST,  GET,  "/v1/events/locate?source=nimbus-ai/eu&id=e1-0000000004",                       "",            ("e1-0000000004", "e9-0000000004")),
    (HOST,  POST, "/v1/events/void",                                                              VOID_NIMBUS,   ("acc-nimbus-1", "acc-nimbus-9")),
    (HOST,  POST, "/v1/contributions/{nimbus_proposal}/accept",                                   "",            ("{nimbus_proposal}", "999999")),
    (HOST2, GET,  "/v1/disputes/{dispute}",                                                       "",            ("{dispute}", "D-000000000000")),
    (HOST2, POST, "/v1/disputes/{dispute}/escalate",                                              "",            ("{dispute}", "D-000000000000")),
    (HOST2, POST, "/v1/contributions",                                                            PROPOSE_ACME_HOST, ("acme-llama", "acme-llamx")),
    (LIC,   GET,  "/v1/statements/acme-mistral/2026-10",                                          "",            ("2026-10", "2027-10")),
    (LIC,   GET,  "/v1/events/locate?source=acme-cloud/eu&id=m-1",                                "",            ("m-1", "m-9")),
    (BEN,   GET,  "/v1/statements/nimbus-llama/2026-10",                                          "",            ("2026-10", "2027-10")),
    (BEN,   GET,  "/v1/statements/acme-llama/2026-10/inputs",                                     "",            ("2026-10", "2027-10")),
    (BEN,   GET,  "/v1/contracts/acme-llama",                                                     "",            ("acme-llama", "acme-llamx")),
    (AUD,   GET,  "/v1/statements/nimbus-llama/2026-10",                                          "",            ("2026-10", "2027-10")),
    (AUD,   GET,  "/v1/audit/verify/{op_job}",                                                    "",            ("{op_job}", "J-0000000000000000")),
    (AUD,   GET,  "/v1/jobs/{op_job}",                                                            "",            ("{op_job}", "J-0000000000000000")),
    (HOST,  GET,  "/v1/jobs/{aud_job}",                                                           "",            ("{aud_job}", "J-0000000000000000")),
    (NAR,   GET,  "/v1/statements/acme-mistral/2026-10",                                          "",            ("2026-10", "2027-10")),
    (NAR,   GET,  "/v1/contracts/acme-mistral",                                                   "",            ("acme-mistral", "acme-mistrax")),
];

/// A column, and what it lists: contract ids, statement ids, contributions' contracts.
type Lists = (
    usize,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

// ---- the store ----

/// A second contract of acme-cloud, with another licensor and two beneficiaries:
/// what the narrowed token and licensor `meta` must not see. Its small
/// `mau_threshold` is reached in 2026-10 (the MAU flag of its close).
const ACME_MISTRAL: &str = r#"
id = "acme-mistral"
version = 1
licensor = "mistral"
host = "acme-cloud"
currency = "USD"
effective_from = "2026-10-01"
period = "month"
payment_terms_days = 30
dispute_window_days = 60
models = ["mistral-*"]
mau_threshold = 2

[rounding]
scale = 2
mode = "half_even"

[[rates]]
use_case = "*"
revenue_share = "0.10"

[[splits]]
models = ["*"]
shares = { mistral = "0.5", finetune-labs = "0.3", safety-lab = "0.2" }
"#;

/// acme-cloud's events that only acme-mistral selects.
fn mistral_events() -> String {
    (1..=3)
        .map(|n| {
            format!(
                r#"{{"specversion":"1.0","type":"ai.usage.v1","source":"acme-cloud/eu","id":"m-{n}","time":"2026-10-1{n}T12:00:00Z","data":{{"host":"acme-cloud","model":"mistral-large-2","use_case":"customer_service","region":"eu","customer":"c-{n}","requests":1,"input_tokens":1000,"output_tokens":500,"revenue":"1.000000","currency":"USD"}}}}"#
            ) + "\n"
        })
        .collect()
}

const SETUP: &str = "2026-11-20T00:00:00Z";

fn fixture(relative: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/spec-examples")
            .join(relative),
    )
    .unwrap()
}

/// acme-cloud's witness key (fixed: the matrix registers it and cosigns with it).
fn acme_witness() -> revshare_core::checkpoint::WitnessSigner {
    revshare_core::checkpoint::WitnessSigner::new("acme-cloud", ed25519_dalek::SigningKey::from_bytes(&[42; 32]))
}

struct World {
    dir: PathBuf,
    db: PathBuf,
    keys_path: PathBuf,
    /// The token of each column (`None`: no header).
    tokens: [Option<String>; 11],
    actors: [Option<Actor>; 11],
    aud_job: String,
    op_job: String,
    spare_token: String,
    nimbus_proposal: i64,
    /// A dispute of acme-llama/2026-10 by meta, opened (and withdrawn) at setup.
    dispute: String,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl World {
    fn open(&self) -> Box<dyn Backend> {
        revshare_app::open(&Location::Sqlite(self.db.clone())).unwrap()
    }

    fn keys(&self) -> Keys {
        Keys::open(&self.keys_path, self.open().as_mut()).unwrap()
    }

    /// A contribution to acme-llama proposed now by `by`, for one request to decide.
    fn proposal(&self, contract: &str, by: Party) -> i64 {
        let operator = Actor::cli();
        let ctx = Ctx {
            actor: &operator,
            now: revshare_app::now(),
        };
        let proposal = Proposal {
            contract: contract.into(),
            by,
            kind: if by == Party::Host {
                ContributionKind::Maintenance
            } else {
                ContributionKind::Update
            },
            date: Day::parse("2026-11-04").unwrap(),
            reference: "to decide".into(),
        };
        let mut backend = self.open();
        let keys = Keys::open(&self.keys_path, backend.as_mut()).unwrap();
        revshare_app::contributions::propose(backend.as_mut(), &keys, ctx, &proposal)
            .unwrap()
            .number
    }

    /// A payment of acme-cloud to finetune-labs on acme-llama recorded now (and
    /// confirmed), for one request to take a step on.
    fn payment(&self, confirmed: bool) -> String {
        let operator = Actor::cli();
        let ctx = Ctx {
            actor: &operator,
            now: revshare_app::now(),
        };
        let new = revshare_app::payments::NewPayment {
            contract: "acme-llama".into(),
            payer: Some("acme-cloud".into()),
            payee: "finetune-labs".into(),
            amount: "1".into(),
            date: Day::parse("2026-11-04").unwrap(),
            reference: "to step on".into(),
        };
        let mut backend = self.open();
        let keys = Keys::open(&self.keys_path, backend.as_mut()).unwrap();
        let id = revshare_app::payments::record(backend.as_mut(), &keys, ctx, &new)
            .unwrap()
            .payment_id;
        if confirmed {
            let confirm = revshare_app::payments::Step::Confirm;
            revshare_app::payments::step(backend.as_mut(), &keys, ctx, &id, &confirm).unwrap();
        }
        id
    }

    /// Brings every unfinished dispute to an end, so that the next may open.
    fn finish_disputes(&self) {
        use revshare_app::disputes::{list, step, Step};
        use revshare_core::dispute::DisputeStatus;
        let operator = Actor::cli();
        let mut backend = self.open();
        let keys = Keys::open(&self.keys_path, backend.as_mut()).unwrap();
        let now = revshare_app::now();
        for dispute in list(backend.as_mut(), Ctx { actor: &operator, now }).unwrap() {
            let opener = Actor::cli_as(&dispute.opener);
            let id = &dispute.dispute_id;
            let mut take = |actor: &Actor, s: Step| {
                step(backend.as_mut(), &keys, Ctx { actor, now }, id, &s).unwrap();
            };
            match dispute.status {
                DisputeStatus::Open | DisputeStatus::Answered | DisputeStatus::Offered => take(&opener, Step::Withdraw),
                DisputeStatus::Rejected => {
                    take(&opener, Step::Escalate);
                    take(&operator, Step::Decide { amount: "0".into() });
                }
                DisputeStatus::Escalated => take(&operator, Step::Decide { amount: "0".into() }),
                _ => {}
            }
        }
    }

    /// A dispute of acme-llama/2026-10's whole statement by meta for 1.00, opened
    /// now (every earlier one finished first) and brought to `state`: `open`,
    /// `offered` (0.50, by acme-cloud) or `escalated` (by meta).
    fn new_dispute(&self, state: &str) -> String {
        use revshare_app::disputes::{open, step, NewDispute, Step};
        self.finish_disputes();
        let mut backend = self.open();
        let keys = Keys::open(&self.keys_path, backend.as_mut()).unwrap();
        let now = revshare_app::now();
        let (meta, acme) = (Actor::cli_as("meta"), Actor::cli_as("acme-cloud"));
        let new = NewDispute {
            statement_id: "acme-llama/2026-10".into(),
            line: None,
            amount: "1.00".into(),
            reason: "a rate".into(),
            evidence: Vec::new(),
        };
        let id = open(backend.as_mut(), &keys, Ctx { actor: &meta, now }, &new)
            .unwrap()
            .dispute_id;
        let taken = match state {
            "offered" => Some((&acme, Step::Resolve { amount: "0.50".into() })),
            "escalated" => Some((&meta, Step::Escalate)),
            _ => None,
        };
        if let Some((actor, s)) = taken {
            step(backend.as_mut(), &keys, Ctx { actor, now }, &id, &s).unwrap();
        }
        id
    }

    /// acme-cloud's witness key, registered for its party on this store's log.
    fn acme_witness_key(&self) -> String {
        let witness = acme_witness();
        let origin = self.keys().store_id().unwrap().origin();
        serde_json::json!({
            "key": witness.key().vkey(),
            "signature": witness.sign_registration("acme-cloud", &origin),
        })
        .to_string()
    }

    /// The newest checkpoint with acme-cloud's witness's cosignature appended.
    fn acme_cosignature(&self) -> String {
        let note = revshare_app::log::checkpoint(self.open().as_mut(), None).unwrap();
        let keys = self.keys();
        let opened = revshare_core::checkpoint::open(note.as_bytes(), &[keys.log_key().unwrap()]).unwrap();
        let line = acme_witness().cosign(opened.signed.checkpoint(), 1_790_000_000);
        opened.signed.with_lines(&[line])
    }

    /// A path or body with its placeholders filled in.
    fn fill(&self, text: &str) -> String {
        let mut text = text
            .replace("{aud_job}", &self.aud_job)
            .replace("{op_job}", &self.op_job)
            .replace("{spare_token}", &self.spare_token)
            .replace("{nimbus_proposal}", &self.nimbus_proposal.to_string())
            .replace("{dispute}", &self.dispute);
        for (placeholder, state) in [
            ("{open_dispute}", "open"),
            ("{offered_dispute}", "offered"),
            ("{escalated_dispute}", "escalated"),
        ] {
            if text.contains(placeholder) {
                text = text.replace(placeholder, &self.new_dispute(state));
            }
        }
        for (placeholder, statement) in [
            ("{open_acme}", "acme-llama/2026-10"),
            ("{open_nimbus}", "nimbus-llama/2026-10"),
        ] {
            if text.contains(placeholder) {
                self.finish_disputes();
                let body = serde_json::json!({"statement_id": statement, "amount": "1.00", "reason": "a rate"});
                text = text.replace(placeholder, &body.to_string());
            }
        }
        if text.contains("{acme_witness_key}") {
            text = text.replace("{acme_witness_key}", &self.acme_witness_key());
        }
        if text.contains("{acme_cosignature}") {
            text = text.replace("{acme_cosignature}", &self.acme_cosignature());
        }
        if text.contains("{host_proposal}") {
            text = text.replace("{host_proposal}", &self.proposal("acme-llama", Party::Host).to_string());
        }
        if text.contains("{recorded_payment}") {
            text = text.replace("{recorded_payment}", &self.payment(false));
        }
        if text.contains("{confirmed_payment}") {
            text = text.replace("{confirmed_payment}", &self.payment(true));
        }
        if text.contains("{licensor_proposal}") {
            text = text.replace(
                "{licensor_proposal}",
                &self.proposal("acme-llama", Party::Licensor).to_string(),
            );
        }
        text
    }
}

fn setup() -> World {
    // Tests of this binary set up worlds of their own at once.
    static WORLDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = WORLDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("revshare-access-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("access.db");
    let keys_path = dir.join("access.key");
    let mut world = World {
        dir,
        db,
        keys_path,
        tokens: Default::default(),
        actors: Default::default(),
        aud_job: String::new(),
        op_job: String::new(),
        spare_token: String::new(),
        nimbus_proposal: 0,
        dispute: String::new(),
    };
    let mut backend = world.open();
    let backend = backend.as_mut();
    let operator = Actor::cli();
    let ctx = Ctx {
        actor: &operator,
        now: parse_time(SETUP).unwrap(),
    };
    revshare_app::setup::init(backend, &world.keys_path, ctx).unwrap();
    let keys = Keys::open(&world.keys_path, backend).unwrap();

    for file in ["acme-llama.toml", "nimbus-llama.toml", "orbit-llama.toml"] {
        let bytes = fixture(&format!("contracts/{file}"));
        revshare_app::contracts::add_version(backend, &keys, ctx, file, &bytes).unwrap();
    }
    revshare_app::contracts::add_version(backend, &keys, ctx, "acme-mistral.toml", ACME_MISTRAL.as_bytes()).unwrap();
    revshare_app::tables::add_fx(backend, &keys, ctx, "fx.csv", &fixture("fx.csv")).unwrap();
    for c in Contributions::from_csv("c.csv", &fixture("contributions.csv"))
        .unwrap()
        .rows
    {
        let proposal = Proposal {
            contract: c.contract,
            by: c.by,
            kind: c.kind,
            date: c.date,
            reference: c.reference,
        };
        let number = revshare_app::contributions::propose(backend, &keys, ctx, &proposal)
            .unwrap()
            .number;
        let decision = match c.status {
            ContributionStatus::Accepted => Some(Decision::Accept),
            ContributionStatus::Rejected => Some(Decision::Reject),
            ContributionStatus::Proposed => None,
        };
        if let Some(decision) = decision {
            revshare_app::contributions::decide(backend, &keys, ctx, number, decision).unwrap();
        }
    }
    // Which licensor owns which model: acme-cloud's llama events are acme-llama's,
    // its mistral events acme-mistral's (without a registry, both would select both).
    revshare_app::tables::add_registry(
        backend,
        &keys,
        ctx,
        "models.csv",
        MODELS.as_bytes(),
        Some(Day::parse("2026-01-01").unwrap()),
    )
    .unwrap();
    let mut usage = fixture("usage-small.ndjson");
    usage.extend_from_slice(mistral_events().as_bytes());
    let summary = revshare_app::import::import(
        backend,
        &keys,
        ctx,
        vec![UsageInput {
            name: "usage.ndjson".into(),
            reader: Box::new(std::io::Cursor::new(usage)),
        }],
        Observers {
            progress: &mut |_| {},
            rejected: &mut |r| panic!("the setup's usage is refused: {r:?}"),
        },
    )
    .unwrap();
    assert_eq!(summary.accepted + summary.duplicates, 3003, "{summary:?}");
    for period in ["2026-09", "2026-10"] {
        let request = CloseRequest {
            period: Period::parse(period).unwrap(),
            contract: None,
            grace: Grace::default(),
            dry_run: false,
            allow_empty: false,
            // nimbus-llama's term (and minimum guarantee) starts in July: its
            // settlement starts in September, confirmed.
            settlement_start: true,
        };
        // Closed by the clock the server reads, so that their dispute windows are
        // open when the requests run.
        let closing = Ctx {
            actor: &operator,
            now: revshare_app::now(),
        };
        revshare_app::close::close(backend, &keys, closing, &request).unwrap();
    }
    for id in ["acme-llama/2026-10", "nimbus-llama/2026-10", "acme-mistral/2026-10"] {
        assert!(backend.statement(id).unwrap().is_some(), "{id} is closed");
    }
    {
        use revshare_app::disputes::{open, step, NewDispute, Step};
        let meta = Actor::cli_as("meta");
        let now = Ctx {
            actor: &meta,
            now: revshare_app::now(),
        };
        let new = NewDispute {
            statement_id: "acme-llama/2026-10".into(),
            line: None,
            amount: "1.00".into(),
            reason: "a rate".into(),
            evidence: Vec::new(),
        };
        world.dispute = open(backend, &keys, now, &new).unwrap().dispute_id;
        step(backend, &keys, now, &world.dispute, &Step::Withdraw).unwrap();
    }
    world.nimbus_proposal = revshare_app::contributions::propose(
        backend,
        &keys,
        ctx,
        &Proposal {
            contract: "nimbus-llama".into(),
            by: Party::Licensor,
            kind: ContributionKind::Update,
            date: Day::parse("2026-11-05").unwrap(),
            reference: "nimbus only".into(),
        },
    )
    .unwrap()
    .number;

    for (id, name) in [("ops", "The operator"), ("audit-co", "Audit Co")] {
        revshare_app::parties::add(backend, &keys, ctx, id, Some(name)).unwrap();
    }
    let mut token = |party: &str, role: Role, contracts: &[&str], expires: Option<&str>| {
        let created = revshare_app::tokens::create(
            backend,
            &keys,
            ctx,
            &NewToken {
                party: party.into(),
                role,
                contracts: contracts.iter().map(|c| c.to_string()).collect(),
                expires: expires.map(|e| Day::parse(e).unwrap()),
            },
        )
        .unwrap();
        let actor = Actor::token(&created.row.token_id, role, party, created.row.contracts.clone());
        (created.token, actor)
    };
    let columns: [(usize, &str, Role, &[&str]); 7] = [
        (OP, "ops", Role::Operator, &[]),
        (LIC, "meta", Role::Licensor, &[]),
        (HOST, "acme-cloud", Role::Host, &[]),
        (HOST2, "nimbus-ai", Role::Host, &[]),
        (BEN, "finetune-labs", Role::Beneficiary, &[]),
        (AUD, "audit-co", Role::Auditor, &["acme-llama"]),
        (NAR, "acme-cloud", Role::Host, &["acme-llama"]),
    ];
    for (column, party, role, contracts) in columns {
        let (secret, actor) = token(party, role, contracts, None);
        world.tokens[column] = Some(secret);
        world.actors[column] = Some(actor);
    }
    let (expired, expired_actor) = token("acme-cloud", Role::Host, &[], Some("2099-01-01"));
    let (revoked, revoked_actor) = token("acme-cloud", Role::Host, &[], None);
    let (_, spare) = token("audit-co", Role::Auditor, &["acme-llama"], None);
    revshare_app::tokens::revoke(backend, &keys, ctx, revoked_actor.id()).unwrap();
    world.spare_token = spare.id().to_string();
    world.tokens[BAD] = Some("rs_not-a-token".into());
    world.tokens[EXP] = Some(expired);
    world.tokens[REV] = Some(revoked);
    for (column, field) in [(AUD, &mut world.aud_job), (OP, &mut world.op_job)] {
        let actor = world.actors[column].as_ref().unwrap();
        let ctx = Ctx { actor, now: ctx.now };
        let job = revshare_app::jobs::start_verify(backend, ctx).unwrap();
        let done = revshare_app::jobs::run_verify(backend, &keys, ctx, &job.id, None).unwrap();
        assert_eq!(done.state, revshare_app::jobs::JobState::Holds, "{done:?}");
        *field = job.id;
    }
    // Expired behind the service's back (after the jobs: audit verify would report the
    // edited row): the tokens table keeps `expires` as YYYY-MM-DD.
    rusqlite::Connection::open(&world.db)
        .unwrap()
        .execute(
            "UPDATE tokens SET expires = '2026-01-01' WHERE token_id = ?1",
            [expired_actor.id()],
        )
        .unwrap();

    world
}

// ---- HTTP ----

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One HTTP/1.1 request on its own connection.
fn send(address: SocketAddr, method: &str, path: &str, token: Option<&str>, header: &str, body: &str) -> Answer {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        request += &format!("authorization: Bearer {token}\r\n");
    }
    if !header.is_empty() {
        request += &format!("{header}\r\n");
    }
    request += "\r\n";
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Answer { status, headers, body }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 4 + size..];
    }
}

fn serve(world: &World) -> (tokio::runtime::Runtime, SocketAddr) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = revshare_server::Config::new(
        "127.0.0.1:0".parse().unwrap(),
        Location::Sqlite(world.db.clone()),
        world.keys(),
    );
    // Hundreds of requests per token in a few seconds: the limit is not under test.
    config.rate = revshare_server::Rate {
        per_second: NonZeroU32::new(100_000).unwrap(),
        burst: NonZeroU32::new(100_000).unwrap(),
    };
    let server = runtime.block_on(revshare_server::start(config)).unwrap();
    (runtime, server.address)
}

// ---- checks ----

fn code_of(status: u16) -> &'static str {
    match status {
        400 => "invalid_request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        _ => "",
    }
}

/// What a 2xx body must not contain when `column` reads it: other parties' names
/// (see [`FORBIDDEN`]), and any token's secret (a token is shown once, at creation).
fn forbidden(world: &World, column: usize) -> Vec<String> {
    let mut words: Vec<String> = FORBIDDEN[column].iter().map(|w| w.to_string()).collect();
    words.extend(world.tokens.iter().flatten().filter(|t| t.len() > 20).cloned());
    words
}

/// Witness keys and the cosignatures on checkpoints are every party's to read
/// (statements.md, Checkpoints and witnesses): they name the parties that witness.
fn names_parties_by_spec(path: &str) -> bool {
    path.starts_with("/v1/witness/keys") || path.starts_with("/v1/audit/checkpoint")
}

/// The OpenAPI document is built into the binary: every caller gets the one the code
/// generates (its examples name the spec's demo parties, none of the store's data).
fn is_the_openapi_document(path: &str) -> bool {
    path == "/v1/openapi.json"
}

/// A beneficiary's own payments and ledger accounts name the host it is paid by
/// (statements.md, Ledger: `receivable:<beneficiary>/<host>`).
fn names_its_counterparty(path: &str, column: usize, word: &str) -> bool {
    column == BEN && word == "acme-cloud" && (path.starts_with("/v1/payments") || path.starts_with("/v1/ledger"))
}

fn batch_outcome(answer: &Answer) -> String {
    let outcome = answer.json();
    if outcome["accepted"] == 1 {
        return "accepted".into();
    }
    if outcome["duplicates"] == 1 {
        return "duplicate".into();
    }
    outcome["rejected"][0]["code"].as_str().unwrap_or("?").to_string()
}

#[test]
fn every_endpoint_answers_every_role_as_api_md_says() {
    let world = setup();
    let (_runtime, address) = serve(&world);
    let mut failures: Vec<String> = Vec::new();
    let mut answers: Vec<Vec<Answer>> = Vec::new();
    let mut cells = 0;

    for row in MATRIX {
        let mut row_answers = Vec::new();
        for (column, want) in row.want.iter().enumerate() {
            let path = world.fill(row.path);
            let body = world.fill(row.body);
            let answer = send(
                address,
                row.method,
                &path,
                world.tokens[column].as_deref(),
                row.header,
                &body,
            );
            cells += 1;
            let what = format!("{} {path} {} as {}", row.method, row.header, COLUMNS[column]);
            if answer.status != *want {
                failures.push(format!(
                    "{what}: {} instead of {want}: {}",
                    answer.status,
                    answer.text()
                ));
            } else if answer.status >= 400 {
                let code = answer.json()["error"]["code"].as_str().unwrap_or("").to_string();
                if code != code_of(answer.status) {
                    failures.push(format!("{what}: {} with code {code}", answer.status));
                }
                if answer.status == 401 && answer.header("www-authenticate") != Some("Bearer") {
                    failures.push(format!("{what}: 401 without WWW-Authenticate: Bearer"));
                }
            } else if is_the_openapi_document(&path) {
                if answer.json() != revshare_server::openapi::document() {
                    failures.push(format!("{what}: not the document the code generates"));
                }
            } else if !names_parties_by_spec(&path) {
                let text = answer.text();
                for word in forbidden(&world, column) {
                    if names_its_counterparty(&path, column, &word) {
                        continue;
                    }
                    // What the caller sent may come back (a refused event names its host).
                    let sent = body.contains(&word) || path.contains(&word);
                    if text.contains(&word) && !sent {
                        failures.push(format!("{what}: the answer shows `{word}`: {text:.600}"));
                    }
                }
            }
            row_answers.push(answer);
        }
        answers.push(row_answers);
    }
    assert!(
        failures.is_empty(),
        "{} of {cells} cells differ from api.md:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let answer = |method: &str, path: &str, body: &str, header: &str, column: usize| -> &Answer {
        let index = MATRIX
            .iter()
            .position(|r| r.method == method && r.path == path && r.body == body && r.header == header)
            .unwrap_or_else(|| panic!("no row {method} {path}"));
        &answers[index][column]
    };

    // The four kinds of bad credentials answer alike, telling nothing of which it was.
    let me = |c| answer(GET, "/v1/me", "", "", c).body.clone();
    assert_ne!(me(NONE), me(BAD), "no token and a bad token are told apart");
    assert_eq!(me(BAD), me(EXP));
    assert_eq!(me(BAD), me(REV));

    // The operator renames a party (issue 21, point 6): the answer is its row.
    let renamed = answer(PATCH, "/v1/parties/meta", PARTY_NAME, JSON, OP).json();
    assert_eq!(renamed["id"], "meta");
    assert_eq!(renamed["name"], "Meta Platforms, Inc.");

    // Who each token is.
    for (column, party, role, contracts) in [
        (OP, "ops", "operator", serde_json::Value::Null),
        (LIC, "meta", "licensor", serde_json::Value::Null),
        (HOST, "acme-cloud", "host", serde_json::Value::Null),
        (HOST2, "nimbus-ai", "host", serde_json::Value::Null),
        (BEN, "finetune-labs", "beneficiary", serde_json::Value::Null),
        (AUD, "audit-co", "auditor", serde_json::json!(["acme-llama"])),
        (NAR, "acme-cloud", "host", serde_json::json!(["acme-llama"])),
    ] {
        let me = answer(GET, "/v1/me", "", "", column).json();
        assert_eq!(me["party"], party);
        assert_eq!(me["role"], role);
        assert_eq!(me["contracts"], contracts);
        assert_eq!(me["token_id"], world.actors[column].as_ref().unwrap().id());
    }

    // Each list holds exactly what its reader may see.
    let listed = |path: &str, column: usize, field: &str| -> Vec<String> {
        let page = answer(GET, path, "", "", column).json();
        let mut ids: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i[field].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    #[rustfmt::skip]
    let lists: [Lists; 7] = [
        // column, GET /v1/contracts, GET /v1/statements, GET /v1/contributions (contracts)
        (OP,    &["acme-llama", "acme-mistral", "nimbus-llama", "orbit-llama"],
                &["acme-llama/2026-09", "acme-llama/2026-10", "acme-mistral/2026-10", "nimbus-llama/2026-09", "nimbus-llama/2026-10"],
                &["acme-llama", "nimbus-llama"]),
        (LIC,   &["acme-llama", "nimbus-llama", "orbit-llama"],
                &["acme-llama/2026-09", "acme-llama/2026-10", "nimbus-llama/2026-09", "nimbus-llama/2026-10"],
                &["acme-llama", "nimbus-llama"]),
        (HOST,  &["acme-llama", "acme-mistral"],
                &["acme-llama/2026-09", "acme-llama/2026-10", "acme-mistral/2026-10"],
                &["acme-llama"]),
        (HOST2, &["nimbus-llama"],
                &["nimbus-llama/2026-09", "nimbus-llama/2026-10"],
                &["nimbus-llama"]),
        (BEN,   &[],
                &["acme-llama/2026-09", "acme-llama/2026-10", "acme-mistral/2026-10"],
                &[]),
        (AUD,   &["acme-llama"],
                &["acme-llama/2026-09", "acme-llama/2026-10"],
                &["acme-llama"]),
        (NAR,   &["acme-llama"],
                &["acme-llama/2026-09", "acme-llama/2026-10"],
                &["acme-llama"]),
    ];
    for (column, contracts, statements, contributions) in lists {
        assert_eq!(listed("/v1/contracts", column, "id"), contracts, "{}", COLUMNS[column]);
        assert_eq!(
            listed("/v1/statements", column, "statement_id"),
            statements,
            "{}",
            COLUMNS[column]
        );
        if column != BEN {
            assert_eq!(
                listed("/v1/contributions", column, "contract"),
                contributions,
                "{}",
                COLUMNS[column]
            );
        }
    }

    // The MAU monitor: the hosts each reader sees, and the contracts flagged for
    // acme-cloud's October (acme-mistral's threshold of 2) only for those who own it.
    let mau = |column: usize| -> Vec<(String, Vec<String>)> {
        let page = answer(GET, "/v1/mau?month=2026-10", "", "", column).json();
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let flagged = i["flagged"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["contract"].as_str().unwrap().to_string())
                    .collect();
                (i["host"].as_str().unwrap().to_string(), flagged)
            })
            .collect()
    };
    let own = |host: &str, flagged: &[&str]| (host.to_string(), flagged.iter().map(|c| c.to_string()).collect());
    let all_hosts = mau(OP);
    assert!(
        all_hosts.contains(&own("acme-cloud", &["acme-mistral"])),
        "{all_hosts:?}"
    );
    assert!(all_hosts.iter().any(|(h, _)| h == "nimbus-ai"), "{all_hosts:?}");
    assert_eq!(mau(HOST), [own("acme-cloud", &["acme-mistral"])]);
    assert_eq!(mau(HOST2), [own("nimbus-ai", &[])]);
    assert_eq!(mau(AUD), [own("acme-cloud", &[])]);
    assert_eq!(mau(NAR), [own("acme-cloud", &[])]);
    let licensed: Vec<_> = all_hosts
        .iter()
        .filter(|(h, _)| h != "acme-cloud")
        .cloned()
        .chain([own("acme-cloud", &[])])
        .collect();
    // The flag is an entry of the 2026-10 close, read in full by acme-mistral's readers.
    for (column, reads) in [(OP, true), (HOST, true), (LIC, false), (NAR, false), (AUD, false)] {
        let entries = answer(GET, "/v1/audit/entries?limit=1000", "", "", column).text();
        assert_eq!(
            entries.contains("\"mau:acme-mistral:2026-10\""),
            reads,
            "{}",
            COLUMNS[column]
        );
    }
    let mut seen_by_meta = mau(LIC);
    seen_by_meta.sort();
    let mut licensed = licensed;
    licensed.sort();
    assert_eq!(seen_by_meta, licensed, "meta's hosts are every host with events here");

    // A host's own event: the whole answer, or, through a token narrowed to some of
    // its contracts, the part about those.
    let mistral = "/v1/events/locate?source=acme-cloud/eu&id=m-1";
    let whole = answer(GET, mistral, "", "", HOST).json();
    assert_eq!(whole["places"][0]["statement_id"], "acme-mistral/2026-10", "{whole}");
    let narrowed = answer(GET, mistral, "", "", NAR).json();
    assert_eq!(narrowed["places"], serde_json::json!([]), "{narrowed}");
    assert_eq!(
        narrowed["not_counted"][0]["reason"], "selected_by_no_contract",
        "{narrowed}"
    );

    // An auditor's verify report counts what it may see, not the whole store.
    let report = |job: &str, column: usize| answer(GET, job, "", "", column).json()["result"].clone();
    let (audited, all) = (
        report("/v1/audit/verify/{aud_job}", AUD),
        report("/v1/audit/verify/{op_job}", OP),
    );
    assert_eq!(audited["statements"], 2, "{audited}");
    assert_eq!(all["statements"], 5, "{all}");
    assert!(audited["events"].as_u64().unwrap() < all["events"].as_u64().unwrap());

    // A host's batch: its own events stored, another's rejected by code, and those
    // never stored.
    for (body, outcomes) in BATCHES {
        for (column, want) in outcomes {
            let header = if body.starts_with('[') { JSON } else { NDJSON };
            let got = batch_outcome(answer(POST, "/v1/events", body, header, *column));
            assert_eq!(&got, want, "{} posting {body}", COLUMNS[*column]);
        }
    }
    let located = send(
        address,
        GET,
        "/v1/events/locate?source=nimbus-ai/eu&id=acc-spoof-1",
        world.tokens[OP].as_deref(),
        "",
        "",
    );
    assert_eq!(located.status, 200, "{}", located.text());
    assert_eq!(located.json()["not_counted"][0]["reason"], "never_received");

    // Statements are the exact stored bytes (for a beneficiary, its payout notice);
    // `Accept: text/csv` gives the CSV form.
    let mut backend = world.open();
    for id in ["acme-llama/2026-10", "nimbus-llama/2026-10", "acme-mistral/2026-10"] {
        let path = format!("/v1/statements/{id}");
        for (column, actor) in world.actors.iter().enumerate() {
            let Some(actor) = actor else { continue };
            let Ok(document) = revshare_app::statements::document(backend.as_mut(), actor, id) else {
                continue;
            };
            let got = send(address, GET, &path, world.tokens[column].as_deref(), "", "");
            assert_eq!(got.status, 200);
            assert_eq!(got.body, document.json().as_bytes(), "{path} as {}", COLUMNS[column]);
            if column == BEN {
                let notice = got.json();
                assert_eq!(notice["kind"], "payout_notice");
                assert_eq!(notice["beneficiary"], "finetune-labs");
                // Its CSV form names the beneficiary (issue 21, point 6).
                let csv = send(address, GET, &path, world.tokens[column].as_deref(), WANT_CSV, "");
                assert_eq!(csv.header("content-type"), Some("text/csv"));
                let text = csv.text();
                assert!(text.starts_with("statement_id,contract,period,"), "{text}");
                assert!(
                    text.contains(&format!("{id},")) && text.contains(",finetune-labs,"),
                    "{text}"
                );
            } else {
                let csv = send(address, GET, &path, world.tokens[column].as_deref(), WANT_CSV, "");
                assert_eq!(csv.header("content-type"), Some("text/csv"));
                assert!(csv.text().starts_with("contract,period,"), "{}", csv.text());
                assert!(csv.text().contains(&id.replace('/', ",")), "{}", csv.text());
                // Meta's legal name, set by the matrix's PATCH, is on every row.
                if id.starts_with("acme-llama") {
                    assert!(
                        csv.text().contains(r#",meta,"Meta Platforms, Inc.","#),
                        "{}",
                        csv.text()
                    );
                }
            }
        }
    }
    let notices = answer(GET, "/v1/statements", "", "", BEN).json();
    let notice_ids: Vec<&str> = notices["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["statement_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        notice_ids,
        ["acme-llama/2026-09", "acme-llama/2026-10", "acme-mistral/2026-10"],
        "{notices}"
    );

    // The operator reads every full entry of the audit log.
    let chain = answer(GET, "/v1/audit/chain?limit=1000", "", "", OP).json()["items"]
        .as_array()
        .unwrap()
        .len();
    let entries = answer(GET, "/v1/audit/entries?limit=1000", "", "", OP).json()["items"]
        .as_array()
        .unwrap()
        .len();
    assert!(chain > 0 && chain < 1000);
    assert_eq!(entries, chain, "the operator reads every entry in full");

    // No existence leak.
    for (column, method, path, body, (name, missing)) in SAME_AS_MISSING {
        let token = world.tokens[*column].as_deref();
        let header = if body.is_empty() { "" } else { JSON };
        let hidden = send(address, method, &world.fill(path), token, header, body);
        let other = send(
            address,
            method,
            &world.fill(&path.replace(name, missing)),
            token,
            header,
            &body.replace(name, missing),
        );
        assert_eq!(
            hidden.status,
            404,
            "{method} {path} as {}: {}",
            COLUMNS[*column],
            hidden.text()
        );
        let filled = world.fill(name);
        assert_eq!(
            hidden.text(),
            other.text().replace(missing, &filled),
            "{method} {path} as {} tells a hidden object from a missing one",
            COLUMNS[*column]
        );
        assert_eq!(hidden.header("content-type"), other.header("content-type"));
    }
}
