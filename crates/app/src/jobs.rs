//! Long work started over the API: `audit verify` runs as a job (api.md), and its
//! result is kept in the store, so any server process answers for it.

use revshare_store::backend::JobRow;
use serde::Serialize;

use crate::access::{require, Permission};
use crate::keys::Keys;
use crate::verify_store::Report;
use crate::{Actor, AppError, Backend, Ctx, Result};

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    AuditVerify,
}

/// Where a job stands: running, then done with a report that holds or failed, or
/// stopped by an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    Holds,
    Failed,
    Error,
}

impl JobKind {
    const ALL: [JobKind; 1] = [JobKind::AuditVerify];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::AuditVerify => "audit_verify",
        }
    }
}

impl JobState {
    const ALL: [JobState; 4] = [JobState::Running, JobState::Holds, JobState::Failed, JobState::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Holds => "holds",
            JobState::Failed => "failed",
            JobState::Error => "error",
        }
    }
}

/// A job as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub state: JobState,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// The report, once done.
    pub result: Option<serde_json::Value>,
}

impl Job {
    /// A stored job, read back: a kind, state or report this build never writes was
    /// edited behind the service's back.
    fn of(row: JobRow) -> Result<Job> {
        let broken = |what: &str| AppError::Integrity(format!("job {}: its {what} does not read back", row.id));
        let kind = JobKind::ALL
            .into_iter()
            .find(|k| k.as_str() == row.kind)
            .ok_or_else(|| broken("kind"))?;
        let state = JobState::ALL
            .into_iter()
            .find(|s| s.as_str() == row.state)
            .ok_or_else(|| broken("state"))?;
        let result = match &row.result {
            Some(text) => Some(serde_json::from_str(text).map_err(|_| broken("report"))?),
            None => None,
        };
        Ok(Job {
            id: row.id,
            kind,
            state,
            created_at: row.created_at,
            finished_at: row.finished_at,
            result,
        })
    }
}

/// Records an `audit verify` job for the actor; the caller runs it ([`run_verify`]).
pub fn start_verify(backend: &mut dyn Backend, ctx: Ctx<'_>) -> Result<Job> {
    require(ctx.actor, Permission::VerifyStore)?;
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(|e| AppError::Invalid(format!("no randomness: {e}")))?;
    let row = JobRow {
        id: format!("J-{}", hex::encode(id)),
        kind: JobKind::AuditVerify.as_str().to_string(),
        actor: ctx.actor.id().to_string(),
        state: JobState::Running.as_str().to_string(),
        result: None,
        created_at: ctx.time(),
        finished_at: None,
    };
    backend.add_job(&row)?;
    Job::of(row)
}

/// Runs a recorded `audit verify` job (with the server's key file: the log is also
/// checked against the checkpoint kept beside it) and stores its report.
pub fn run_verify(
    backend: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    id: &str,
    since_seq: Option<revshare_core::audit::Seq>,
) -> Result<Job> {
    let mut row = backend
        .job(id)?
        .ok_or_else(|| AppError::NotFound(format!("no job `{id}`")))?;
    let outcome: Result<Report> = crate::verify_store::verify_with_keys(backend, ctx.actor, keys, since_seq);
    let (state, result) = match outcome {
        Ok(report) => (
            if report.holds() {
                JobState::Holds
            } else {
                JobState::Failed
            },
            serde_json::to_string(&report).expect("reports serialize"),
        ),
        Err(error) => (
            JobState::Error,
            serde_json::json!({"error": error.to_string()}).to_string(),
        ),
    };
    row.state = state.as_str().to_string();
    row.result = Some(result);
    row.finished_at = Some(ctx.time());
    backend.update_job(&row)?;
    Job::of(row)
}

/// A job, to the actor that started it (or the operator). A role that cannot run
/// audit verify is refused before any lookup.
pub fn get(backend: &mut dyn Backend, actor: &Actor, id: &str) -> Result<Job> {
    require(actor, Permission::VerifyStore)?;
    let missing = || AppError::NotFound(format!("no job `{id}`"));
    let row = backend.job(id)?.ok_or_else(missing)?;
    if !crate::access::reads_job(actor, &row.actor) {
        return Err(missing());
    }
    Job::of(row)
}
