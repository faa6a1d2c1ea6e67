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
        "/v1/jobs/{job}",
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

/// Routes no token reaches, never rate limited (observe.rs); of those, the ones that
/// read nothing from the store, so never answer `integrity`.
const PROBES: [&str; 5] = ["/healthz", "/readyz", "/metrics", "/v1/openapi.json", "/v1/keys"];
const STORELESS: [&str; 3] = ["/healthz", "/metrics", "/v1/openapi.json"];

/// Whether a body's content has an example: its own, or its schema's.
fn has_example(media: &serde_json::Value, schemas: &serde_json::Value) -> bool {
    let schema = match media["schema"]["$ref"].as_str() {
        Some(reference) => &schemas[reference.trim_start_matches("#/components/schemas/")],
        None => &media["schema"],
    };
    !media["example"].is_null() || media["examples"].is_object() || !schema["example"].is_null()
}

fn text(value: &serde_json::Value) -> bool {
    value.as_str().is_some_and(|s| !s.trim().is_empty())
}

/// A reader with only the document can call every operation: it says what each does
/// and what each parameter means, shows every body, and lists every status the
/// server may answer, those of the layers around the handlers included (the rate
/// limit, the body limits, the timeout, the store's failures).
#[test]
fn every_operation_is_documented_with_its_statuses_and_examples() {
    let document = revshare_server::openapi::document();
    let schemas = &document["components"]["schemas"];
    let mut gaps = Vec::new();
    let servers = document["servers"].as_array().cloned().unwrap_or_default();
    if !servers.iter().any(|s| text(&s["url"]) && text(&s["description"])) {
        gaps.push("the document has no `servers`".to_string());
    }
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let name = format!("{} {path}", method.to_uppercase());
            for field in ["summary", "description"] {
                if !text(&operation[field]) {
                    gaps.push(format!("{name}: no {field}"));
                }
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if !text(&parameter["description"]) {
                    gaps.push(format!("{name}: parameter `{}` has no description", parameter["name"]));
                }
            }
            let request = &operation["requestBody"];
            for (content_type, media) in request["content"].as_object().into_iter().flatten() {
                if !has_example(media, schemas) {
                    gaps.push(format!("{name}: the {content_type} request body has no example"));
                }
            }
            let responses = operation["responses"].as_object().unwrap();
            for (status, response) in responses {
                if !text(&response["description"]) {
                    gaps.push(format!("{name}: the {status} answer has no description"));
                }
                for (content_type, media) in response["content"].as_object().into_iter().flatten() {
                    if !has_example(media, schemas) {
                        gaps.push(format!("{name}: the {status} {content_type} answer has no example"));
                    }
                }
            }
            let writes = matches!(method.as_str(), "post" | "patch");
            let expected = [
                ("429", !PROBES.contains(&path.as_str())),
                ("500", !STORELESS.contains(&path.as_str())),
                ("503", true),
                ("401", operation["security"].is_array()),
                ("413", writes),
                ("415", request.is_object()),
            ];
            for (status, answers) in expected {
                if responses.contains_key(status) != answers {
                    let is = if answers { "lacks" } else { "documents" };
                    gaps.push(format!("{name} {is} {status}"));
                }
            }
        }
    }
    assert!(gaps.is_empty(), "the document is incomplete:\n{}", gaps.join("\n"));
}

#[test]
fn every_example_has_its_body() {
    let stale = revshare_server::openapi::stale_examples();
    assert!(
        stale.is_empty(),
        "examples in crates/server/src/openapi_examples.json for no body:\n{}",
        stale.join("\n")
    );
}
