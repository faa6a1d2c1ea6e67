//! The OpenAPI 3.1 document, generated from the handlers and views.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use axum::http::StatusCode;

use crate::api::Answer;
use crate::error::{ErrorBody, ErrorDetail};
use crate::log_routes;
use crate::routes::{self, Document};
use crate::views::*;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "revshare",
        description = "Revenue-share settlement between model licensors and hosts: usage in, signed statements out. Each party reaches it with its own token and sees only what is its own (api.md).",
        license(name = "Apache-2.0"),
    ),
    paths(
        routes::healthz, routes::readyz, routes::metrics, openapi, routes::keys, routes::me,
        routes::post_events, routes::void, routes::locate,
        routes::contracts, routes::contract, routes::add_contract,
        routes::fx, routes::add_fx, routes::models, routes::add_models,
        routes::close, routes::statements, routes::statement, routes::proof, routes::leaves, routes::inputs,
        routes::contributions, routes::propose, routes::accept, routes::reject,
        routes::disputes, routes::dispute, routes::open_dispute, routes::answer_dispute, routes::resolve_dispute,
        routes::accept_dispute, routes::reject_dispute, routes::withdraw_dispute, routes::escalate_dispute,
        routes::decide_dispute,
        routes::payments, routes::record_payment, routes::confirm_payment, routes::withdraw_payment,
        routes::reverse_payment, routes::balances, routes::ledger_entries, routes::mau,
        routes::chain, routes::entries, routes::start_verify, routes::verify_job,
        log_routes::checkpoint, log_routes::consistency, log_routes::inclusion, log_routes::cosign,
        log_routes::witness_keys, log_routes::add_witness_key,
        routes::parties, routes::add_party, routes::update_party, routes::tokens, routes::add_token, routes::revoke_token,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, Document, Status, Me, revshare_app::submit::BatchOutcome, revshare_app::submit::RejectedEvent, Void, Voided,
        Contract, Added, FxRate, FxAdded, RegistryVersion, RegistryEntry,
        StatementEntry, LeavesPage, Unselected, CloseAnswer,
        Contribution, NewContribution, Payment, NewPayment, Reversal,
        revshare_app::disputes::DisputeView, revshare_app::disputes::Line, routes::NewDispute, routes::DisputedLine,
        routes::EventRef, routes::DisputeNote, routes::DisputeAmount,
        revshare_app::ledger::Balance, revshare_app::ledger::Entry, revshare_app::mau::HostMonth,
        revshare_app::mau::Flag, revshare_app::mau::Reached, Party, NewParty, Token, NewToken,
        log_routes::ConsistencyProof, log_routes::InclusionProof, log_routes::Cosignature, log_routes::WitnessKey,
        log_routes::NewWitnessKey,
    )),
    modifiers(&Bearer),
)]
struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token `rs_<token_id>_<secret>` (`revshare token create`)"))
                    .build(),
            ),
        );
    }
}

/// The document as served at `/v1/openapi.json` and checked in at `docs/openapi.json`.
pub fn document() -> serde_json::Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    // The crate's version would make the document drift on every release.
    document["info"]["version"] = serde_json::Value::from("1");
    document
}

// Served from here so that the routes need not know the document made from them
// (a comment, not a doc comment: utoipa would make it the operation's summary).
#[utoipa::path(get, path = "/v1/openapi.json", tag = "service", responses((status = 200, body = Document)))]
pub async fn openapi() -> routes::Result<Answer> {
    Answer::json(StatusCode::OK, &document())
}
