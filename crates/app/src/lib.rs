//! The application layer: every use case of revshare, once (init, contracts, FX,
//! registry, import, close, statements, proofs, voids, contributions, the audit log
//! and its verification), each taking the backend, the keys, the actor and `now`
//! explicitly. The CLI and the HTTP server only parse, call these, and print.
//!
//! Every check runs inside the transaction it guards: a use case that writes opens
//! one write transaction ([`tx::write`]), which holds the store's write lock, reads
//! what it must, checks, stores the rows with the audit seq of the entry it appends
//! for them, and commits, or rolls back on the first refusal.

#![forbid(unsafe_code)]

pub(crate) mod access;
mod accrual;
pub mod audit;
mod checked;
pub mod checkpoint_file;
pub mod close;
pub mod closed;
pub mod contracts;
pub mod contributions;
pub mod dashboard;
pub mod disputes;
pub mod idempotency;
pub mod import;
pub mod jobs;
pub mod keys;
pub mod ledger;
pub mod limits;
pub mod locate;
pub mod log;
pub mod mau;
pub mod page;
pub mod parties;
pub mod payments;
mod period_events;
pub mod rate;
pub mod reconcile;
pub mod render;
pub mod rows;
pub mod sessions;
mod settle;
pub mod setup;
pub(crate) mod snapshot;
pub mod statements;
pub mod store_copy;
pub mod submit;
pub mod tables;
pub mod tokens;
mod trees;
mod tx;
pub mod verify_store;
pub mod views;
pub mod void;

use revshare_core::event::Timestamp;
use revshare_core::records::Role;
use revshare_store::StoreError;

/// The store as the edges hold it: opened here, handed back to the use cases, never
/// called by the edges themselves.
pub use revshare_store::{Backend, Location};

/// Opens (and migrates) the store at `location`; a SQLite file is created if missing.
pub fn open(location: &Location) -> Result<Box<dyn Backend>> {
    let mut backend = revshare_store::open(location)?;
    ledger::post_earlier_statements(backend.as_mut())?;
    Ok(backend)
}

/// How messages name a file given by name, or one uploaded over the API, which has
/// none (stored as an empty `file_name`).
pub(crate) fn file_label(file_name: &str) -> &str {
    if file_name.is_empty() {
        "the uploaded file"
    } else {
        file_name
    }
}

/// A date given as text (a form's or a request body's field `field`), refused by
/// the field's name.
pub fn parse_day(field: &str, text: &str) -> Result<revshare_core::period::Day> {
    revshare_core::period::Day::parse(text)
        .ok_or_else(|| AppError::Invalid(format!("{field}: `{text}` must be a date YYYY-MM-DD")))
}

/// Checks that a store file's folder exists, for a clear error before SQLite's own.
pub fn check_parent(path: &std::path::Path) -> Result<()> {
    Ok(revshare_store::check_parent(path)?)
}

/// A PostgreSQL URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    revshare_store::postgres::redact(url)
}

/// Whether the store answers (the server's readiness).
pub fn ready(backend: &mut dyn Backend) -> Result<()> {
    backend.audit_head()?;
    Ok(())
}

/// The store's kind, in words (`SQLite`, `PostgreSQL`).
pub fn store_name(backend: &dyn Backend) -> &'static str {
    backend.name()
}

/// What a use case refuses or fails with. The variants are the stable kinds the
/// edges map to exit codes and HTTP statuses; messages name what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad input: a file, an argument, a field (exit 2, HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// Bad input in one field of the request, which each edge names in its own
    /// words (`--reason` on the CLI); shown here by its name in the API (`reason`).
    #[error("{0}: {1}")]
    InvalidField(Field, String),
    /// No token, or one that is malformed, unknown, expired or revoked (HTTP 401).
    #[error("{0}")]
    Unauthenticated(String),
    /// No such object, or not one the actor may see (exit 2, HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The actor may see it but not do this (exit 2, HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with what is stored (exit 2, HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// A body or batch beyond its limit (HTTP 413 `payload_too_large`).
    #[error("{0}")]
    TooLarge(String),
    /// An idempotency key reused with another body (HTTP 409 `idempotency_conflict`).
    #[error("{0}")]
    IdempotencyConflict(String),
    /// Closing a period that has not ended (exit 2, HTTP 409 `too_early`).
    #[error("{0}")]
    TooEarly(String),
    /// A contract's first close that would leave an earlier period of its term
    /// unsettled, without confirming that settlement starts there (exit 2, HTTP 409
    /// `settlement_start_required`); each edge words the confirmation.
    #[error("{0}")]
    Unsettled(close::Unsettled),
    /// Stored data failed a check (a signature, a root, the chain): it was edited
    /// behind the service's back, not by the caller (exit 1, HTTP 500 `integrity`).
    #[error("{0}")]
    Integrity(String),
    /// The store failed (exit 1, HTTP 503).
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl AppError {
    /// What kind of failure this is: the one thing the edges decide by (an exit
    /// code, an HTTP status, the API's `error.code`).
    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::Invalid(_) | AppError::InvalidField(..) | AppError::Store(StoreError::Refused(_)) => {
                ErrorKind::Invalid
            }
            AppError::Unauthenticated(_) => ErrorKind::Unauthenticated,
            AppError::NotFound(_) => ErrorKind::NotFound,
            AppError::Forbidden(_) => ErrorKind::Forbidden,
            AppError::Conflict(_) => ErrorKind::Conflict,
            AppError::TooEarly(_) => ErrorKind::TooEarly,
            AppError::Unsettled(_) => ErrorKind::SettlementStartRequired,
            AppError::TooLarge(_) => ErrorKind::TooLarge,
            AppError::IdempotencyConflict(_) => ErrorKind::IdempotencyConflict,
            AppError::Integrity(_) | AppError::Store(StoreError::Corrupt { .. }) => ErrorKind::Integrity,
            AppError::Store(_) => ErrorKind::Unavailable,
        }
    }

    /// A stable code for the edges (the API's `error.code`).
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }

    /// `true` for refusals of the request (the caller can fix it).
    pub fn is_refusal(&self) -> bool {
        !matches!(self.kind(), ErrorKind::Integrity | ErrorKind::Unavailable)
    }
}

/// A field of a request a refusal names (see [`AppError::InvalidField`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Why an event is voided.
    Reason,
    /// A contribution's reference.
    Reference,
    /// Seconds a close waits after the period's end.
    GraceSeconds,
    /// A close that only previews its statements.
    DryRun,
    /// The contracts a token is narrowed to.
    Contracts,
    /// The day a token expires.
    Expires,
    /// The party a token is for.
    Party,
    /// The day a registry version takes effect.
    EffectiveFrom,
    /// Who pays a payment (the operator names it).
    Payer,
    /// Who a payment is paid to.
    Payee,
    /// A payment's amount, a dispute's claim or settled amount.
    Amount,
    /// The statement line a dispute names (model and use case).
    Line,
    /// The events a dispute gives as evidence.
    Evidence,
    /// A dispute step's note (answer, reject).
    Note,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Field::Reason => "reason",
            Field::Reference => "reference",
            Field::GraceSeconds => "grace_seconds",
            Field::DryRun => "dry_run",
            Field::Contracts => "contracts",
            Field::Expires => "expires",
            Field::Party => "party",
            Field::EffectiveFrom => "from",
            Field::Payer => "payer",
            Field::Payee => "to",
            Field::Amount => "amount",
            Field::Line => "line",
            Field::Evidence => "evidence",
            Field::Note => "note",
        })
    }
}

/// The kinds of [`AppError`], each with its stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Invalid,
    Unauthenticated,
    NotFound,
    Forbidden,
    Conflict,
    TooEarly,
    /// A first close that would leave earlier periods unsettled, unconfirmed.
    SettlementStartRequired,
    TooLarge,
    IdempotencyConflict,
    /// Stored data failed a check, or does not decode.
    Integrity,
    /// The store could not be reached or failed.
    Unavailable,
}

impl ErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "invalid_request",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Conflict => "conflict",
            ErrorKind::TooEarly => "too_early",
            ErrorKind::SettlementStartRequired => "settlement_start_required",
            ErrorKind::TooLarge => "payload_too_large",
            ErrorKind::IdempotencyConflict => "idempotency_conflict",
            ErrorKind::Integrity => "integrity",
            ErrorKind::Unavailable => "unavailable",
        }
    }
}

pub type Result<T> = std::result::Result<T, AppError>;

/// The service clock, read by the edges and handed to use cases as `now`.
pub fn now() -> Timestamp {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        seconds: elapsed.as_secs() as i64,
        nanos: elapsed.subsec_nanos(),
    }
}

/// Who acts: the operator at the CLI (possibly `--as` a party), or a token's party.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// What the audit log records: a token id, `cli`, or `cli as <party>`.
    id: String,
    role: Role,
    party: Option<String>,
    /// The contracts a token is narrowed to.
    contracts: Option<Vec<String>>,
    /// The operator taking a step as `party` (`--as PARTY`).
    acting_as: bool,
}

impl Actor {
    /// The operator at the command line.
    pub fn cli() -> Actor {
        Actor {
            id: "cli".to_string(),
            role: Role::Operator,
            party: None,
            contracts: None,
            acting_as: false,
        }
    }

    /// The operator at the command line acting for `party` (`--as PARTY`): the rights
    /// are that party's role in the object's contract, decided per use case.
    pub fn cli_as(party: &str) -> Actor {
        Actor {
            id: format!("cli as {party}"),
            role: Role::Operator,
            party: Some(party.to_string()),
            contracts: None,
            acting_as: true,
        }
    }

    /// A token's party.
    pub fn token(token_id: &str, role: Role, party: &str, contracts: Option<Vec<String>>) -> Actor {
        Actor {
            id: token_id.to_string(),
            role,
            party: Some(party.to_string()),
            contracts,
            acting_as: false,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn party(&self) -> Option<&str> {
        self.party.as_deref()
    }

    pub fn contracts(&self) -> Option<&[String]> {
        self.contracts.as_deref()
    }

    /// The operator itself, who sees everything: at the command line, or with an
    /// operator token (whose party is only who holds it), neither acting for a party
    /// (`--as`) nor narrowed to contracts.
    pub(crate) fn is_operator(&self) -> bool {
        self.role == Role::Operator && !self.acting_as && self.contracts.is_none()
    }

    /// The party whose side the actor takes in a step between the parties of a
    /// contract (contributions): a token's party, or the party of `--as`; `None` for
    /// the operator, who takes either side.
    pub fn side(&self) -> Option<&str> {
        if self.role == Role::Operator && !self.acting_as {
            return None;
        }
        self.party.as_deref()
    }
}

/// Who acts, and when (the service's clock, read by the edge).
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    pub actor: &'a Actor,
    pub now: Timestamp,
}

impl<'a> Ctx<'a> {
    /// The actor, at the service clock's now.
    pub fn now(actor: &'a Actor) -> Ctx<'a> {
        Ctx { actor, now: now() }
    }

    /// `now` as the audit log and statements write it (RFC 3339 UTC, seconds).
    pub fn time(&self) -> String {
        revshare_core::period::rfc3339(self.now.seconds)
    }
}

/// Refuses a store made with another pseudonym scheme, by name.
pub fn check_scheme(backend: &mut dyn Backend) -> Result<()> {
    match backend.meta("pseudonym_scheme")? {
        Some(scheme) if scheme == revshare_core::privacy::PSEUDONYM_SCHEME => Ok(()),
        Some(other) => Err(AppError::Invalid(format!(
            "this store pseudonymizes customers with `{other}`, not `{}`; it was made by another build",
            revshare_core::privacy::PSEUDONYM_SCHEME
        ))),
        None => Err(AppError::Invalid(
            "this store is not initialized; run `revshare init` first".to_string(),
        )),
    }
}
