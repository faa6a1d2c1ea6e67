//! The checked-in OpenAPI document is the one the code generates: a change to an
//! endpoint that does not update `docs/openapi.json` fails here.
//! `REVSHARE_WRITE_OPENAPI=1 cargo test -p revshare-server --test openapi` rewrites it.

use std::path::PathBuf;

fn checked_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn checked_in_document_matches_the_code() {
    let generated = serde_json::to_string_pretty(&revshare_server::openapi::document()).unwrap() + "\n";
    let path = checked_in();
    if std::env::var_os("REVSHARE_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == generated,
        "docs/openapi.json differs from the document the code generates; rewrite it with \
         REVSHARE_WRITE_OPENAPI=1 cargo test -p revshare-server --test openapi"
    );
}

#[test]
fn document_is_openapi_3_1_with_every_route() {
    let document = revshare_server::openapi::document();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/openapi.json",
        "/v1/keys",
        "/v1/me",
        "/v1/events",
        "/v1/events/void",
        "/v1/events/locate",
        "/v1/contracts",
        "/v1/contracts/{id}",
        "/v1/fx",
        "/v1/models",
        "/v1/periods/{period}/close",
        "/v1/statements",
        "/v1/statements/{contract}/{period}",
        "/v1/statements/{contract}/{period}/proof",
        "/v1/statements/{contract}/{period}/leaves",
        "/v1/statements/{contract}/{period}/inputs",
        "/v1/contributions",
        "/v1/contributions/{number}/accept",
        "/v1/contributions/{number}/reject",
        "/v1/disputes",
        "/v1/disputes/{id}",
        "/v1/disputes/{id}/answer",
        "/v1/disputes/{id}/resolve",
        "/v1/disputes/{id}/accept",
        "/v1/disputes/{id}/reject",
        "/v1/disputes/{id}/withdraw",
        "/v1/disputes/{id}/escalate",
        "/v1/disputes/{id}/decide",
        "/v1/payments",
        "/v1/audit/chain",
        "/v1/audit/entries",
        "/v1/audit/verify",
        "/v1/audit/verify/{job}",
        "/v1/audit/checkpoint",
        "/v1/audit/consistency",
        "/v1/audit/inclusion",
        "/v1/audit/cosignatures",
        "/v1/witness/keys",
        "/v1/parties",
        "/v1/tokens",
        "/v1/tokens/{token_id}",
    ] {
        assert!(paths.contains_key(path), "{path} is missing from the document");
    }
}
