//! The endpoints of the log's checkpoints and witnesses (api.md; statements.md,
//! Checkpoints and witnesses): every party reads the checkpoints and proofs; every
//! party but the operator registers its witness keys and posts its cosignatures.

use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use revshare_app::Ctx;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::{content_type, json_body, read, write, Answer, Bearer, Body, Scope, Q};
use crate::error::{ApiError, ErrorBody};
use crate::state::{blocking, State};
use crate::views::{Page, Paging};

type Result<T> = std::result::Result<T, ApiError>;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SizeQuery {
    /// A checkpoint's size (default: the newest).
    pub size: Option<u64>,
}

/// Read a signed checkpoint of the audit log
///
/// The newest signed checkpoint, or the kept one of `?size=`, as a C2SP signed note (`text/plain`) with the
/// cosignatures received for it. A size not kept (coalesced away) is a `404`.
#[utoipa::path(get, path = "/v1/audit/checkpoint", tag = "audit", security(("bearer" = [])), params(SizeQuery),
    responses((status = 200, description = "The checkpoint, a C2SP signed note with the cosignatures received for it", content_type = "text/plain", body = String),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn checkpoint(AxumState(state): AxumState<State>, bearer: Bearer, Q(query): Q<SizeQuery>) -> Result<Answer> {
    blocking(&state, move |backend, _| {
        bearer.actor(backend)?;
        let note = revshare_app::log::checkpoint(backend, query.size)?;
        Ok(Answer::raw("text/plain; charset=utf-8", note.into_bytes()))
    })
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The smaller size, at least 1.
    pub from: u64,
    /// The larger size, at most the newest checkpoint's.
    pub to: u64,
}

/// Prove two checkpoints consistent
///
/// The consistency proof from the log of size `from` to the one of size `to`: the larger log extends the smaller.
#[utoipa::path(get, path = "/v1/audit/consistency", tag = "audit", security(("bearer" = [])), params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProof), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn consistency(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    Q(query): Q<ConsistencyQuery>,
) -> Result<Answer> {
    read(&state, bearer, move |backend, _, _| {
        revshare_app::log::consistency(backend, query.from, query.to)
    })
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The entry, from 1.
    pub seq: u64,
    /// The log's size (default: the newest checkpoint's).
    pub size: Option<u64>,
}

/// Prove an audit entry is in the log
///
/// The inclusion proof of entry `seq` in the log of `size` entries (default the newest checkpoint's).
#[utoipa::path(get, path = "/v1/audit/inclusion", tag = "audit", security(("bearer" = [])), params(InclusionQuery),
    responses((status = 200, body = InclusionProof), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn inclusion(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    Q(query): Q<InclusionQuery>,
) -> Result<Answer> {
    read(&state, bearer, move |backend, _, _| {
        revshare_app::log::inclusion(backend, query.seq, query.size)
    })
    .await
}

/// `{"from", "to", "proof": [hex, …]}`.
#[derive(Serialize, ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub proof: Vec<String>,
}

/// `{"seq", "size", "proof": [hex, …]}`.
#[derive(Serialize, ToSchema)]
pub struct InclusionProof {
    pub seq: u64,
    pub size: u64,
    pub proof: Vec<String>,
}

/// A cosignature the service keeps.
#[derive(Serialize, ToSchema)]
pub struct Cosignature {
    pub size: i64,
    /// The witness key that made it (C2SP verifier key).
    pub key: String,
    pub received_at: String,
}

/// Post a witness's cosignature of a checkpoint
///
/// The checkpoint note exactly as served, with the witness's C2SP `tlog-cosignature` v1 line appended: stored if the
/// checkpoint is one the service signed of this log and the line verifies under one of the caller party's registered
/// keys. Every party but the operator.
#[utoipa::path(post, path = "/v1/audit/cosignatures", tag = "audit", security(("bearer" = [])),
    request_body(content = String, description = "The checkpoint note as the service signed it, with the witness's C2SP tlog-cosignature v1 line appended", content_type = "text/plain"),
    responses((status = 200, body = Cosignature), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn cosign(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    content_type(&headers, &["text/plain"])?;
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::OK,
        move |backend, shared, actor, body| {
            let row = revshare_app::log::cosign(backend, &shared.keys, Ctx::now(actor), body)?;
            Ok(Cosignature {
                size: row.size,
                key: row.vkey,
                received_at: row.received_at,
            })
        },
    )
    .await
}

/// A party's registered witness key.
#[derive(Serialize, ToSchema)]
pub struct WitnessKey {
    pub number: i64,
    pub party: String,
    /// The C2SP verifier key `revshare-witness/<party>+<id>+<base64>` (type 0x04).
    pub key: String,
    pub added_at: String,
}

impl WitnessKey {
    fn of(row: revshare_core::records::WitnessKeyRow) -> WitnessKey {
        WitnessKey {
            number: row.number,
            party: row.party,
            key: row.vkey,
            added_at: row.added_at,
        }
    }
}

/// List the registered witness keys
///
/// Every party's registered witness keys (C2SP verifier keys). Every role reads them.
#[utoipa::path(get, path = "/v1/witness/keys", tag = "audit", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = Page<WitnessKey>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn witness_keys(AxumState(state): AxumState<State>, bearer: Bearer, Q(paging): Q<Paging>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, _| {
        let rows = revshare_app::log::witness_keys(backend)?;
        let page = revshare_app::page::page(rows, paging.limit, paging.cursor.as_deref())?;
        Ok(Page::of(page, WitnessKey::of))
    })
    .await
}

/// A witness key to register, with its signature over the party and the log's
/// origin (`revshare-witness-key/v1\nparty <party>\norigin <origin>\n`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWitnessKey {
    pub key: String,
    /// Base64 of the Ed25519 signature.
    pub signature: String,
}

/// Register a witness key
///
/// By proof of possession: `signature` is the key's Ed25519 signature over `revshare-witness-key/v1\nparty
/// <party>\norigin <origin>\n`. A key names its party (`revshare-witness/<party>`) and belongs to it only; a key
/// already registered answers it unchanged. Every party but the operator.
#[utoipa::path(post, path = "/v1/witness/keys", tag = "audit", security(("bearer" = [])), request_body = NewWitnessKey,
    responses((status = 201, body = WitnessKey), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn add_witness_key(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    let new: NewWitnessKey = json_body(&headers, &body)?;
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::CREATED,
        move |backend, shared, actor, _| {
            let row = revshare_app::log::register_witness_key(
                backend,
                &shared.keys,
                Ctx::now(actor),
                &new.key,
                &new.signature,
            )?;
            Ok(WitnessKey::of(row))
        },
    )
    .await
}
