//! The small tables: parties, tokens, contracts, FX, registries, contributions,
//! idempotency keys and jobs.

use super::{ContractRow, ContributionRow, FxRow, PartyRow, RegistryRow, Result, TokenRow};

/// One idempotency record of the API: the first response to a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRow {
    pub token_id: String,
    pub method: String,
    pub path: String,
    pub key: String,
    pub body_sha256: String,
    /// `false` while the first request is still running.
    pub done: bool,
    pub status: i32,
    pub content_type: String,
    pub response: Vec<u8>,
    pub created_at: String,
}

/// Long work started over the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub actor: String,
    pub state: String,
    pub result: Option<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

/// The tables read whole or by key (a role of [`super::Backend`]).
pub trait Tables {
    fn add_party(&mut self, row: &PartyRow) -> Result<()>;
    /// Replaces a party's name and seq (`party update`).
    fn update_party(&mut self, row: &PartyRow) -> Result<()>;
    /// Every party, by id.
    fn parties(&mut self) -> Result<Vec<PartyRow>>;

    fn add_token(&mut self, row: &TokenRow) -> Result<()>;
    /// Replaces a token's row (a revocation).
    fn update_token(&mut self, row: &TokenRow) -> Result<()>;
    /// Every token, by creation (`created_at`, then `token_id`).
    fn tokens(&mut self) -> Result<Vec<TokenRow>>;
    fn token(&mut self, token_id: &str) -> Result<Option<TokenRow>>;

    fn add_contract(&mut self, row: &ContractRow) -> Result<()>;
    /// Every stored version, by `(id, version)`.
    fn contracts(&mut self) -> Result<Vec<ContractRow>>;

    fn add_fx(&mut self, rows: &[FxRow]) -> Result<()>;
    /// Every stored rate, by `(from, to, date)`.
    fn fx(&mut self) -> Result<Vec<FxRow>>;

    fn add_registry(&mut self, row: &RegistryRow) -> Result<()>;
    /// Every registry version, by version.
    fn registries(&mut self) -> Result<Vec<RegistryRow>>;

    /// Stores a new contribution (its `number` is assigned) and returns the number.
    fn add_contribution(&mut self, row: &ContributionRow) -> Result<i64>;
    /// Replaces a contribution's row (a decision).
    fn update_contribution(&mut self, row: &ContributionRow) -> Result<()>;
    /// Every contribution, by number.
    fn contributions(&mut self) -> Result<Vec<ContributionRow>>;

    /// Claims an idempotency key: stores `row` unless the key is taken, and returns
    /// the row that holds it (the one stored before, or `row`). One statement.
    fn claim_idempotency(&mut self, row: &IdempotencyRow) -> Result<IdempotencyRow>;
    /// Records the response to a claimed key.
    fn finish_idempotency(&mut self, row: &IdempotencyRow) -> Result<()>;
    /// Forgets a claim whose request failed before it answered.
    fn release_idempotency(&mut self, row: &IdempotencyRow) -> Result<()>;
    /// Forgets keys created before `before` (RFC 3339).
    fn purge_idempotency(&mut self, before: &str) -> Result<u64>;

    fn add_job(&mut self, row: &JobRow) -> Result<()>;
    fn update_job(&mut self, row: &JobRow) -> Result<()>;
    /// Sets a job's `result` only while its state is `state`; whether it was.
    fn touch_job(&mut self, id: &str, state: &str, result: &str) -> Result<bool>;
    fn job(&mut self, id: &str) -> Result<Option<JobRow>>;
}
