//! Long work started over the API: `audit verify` runs as a job (api.md), and its
//! result is kept in the store, so any server process answers for it.

use revshare_store::backend::JobRow;
use serde::Serialize;

use crate::access::{require, Permission};
use crate::keys::Keys;
use crate::verify_store::Report;
use crate::{Actor, AppError, Backend, Ctx, Result};

/// A job as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub state: String,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// The report, once done.
    pub result: Option<serde_json::Value>,
}

impl Job {
    fn of(row: JobRow) -> Job {
        Job {
            id: row.id,
            kind: row.kind,
            state: row.state,
            created_at: row.created_at,
            finished_at: row.finished_at,
            result: row.result.and_then(|r| serde_json::from_str(&r).ok()),
        }
    }
}

/// Records an `audit verify` job for the actor; the caller runs it ([`run_verify`]).
pub fn start_verify(backend: &mut dyn Backend, ctx: Ctx<'_>) -> Result<Job> {
    require(ctx.actor, Permission::VerifyStore)?;
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(|e| AppError::Invalid(format!("no randomness: {e}")))?;
    let row = JobRow {
        id: format!("J-{}", hex::encode(id)),
        kind: "audit_verify".to_string(),
        actor: ctx.actor.id().to_string(),
        state: "running".to_string(),
        result: None,
        created_at: ctx.time(),
        finished_at: None,
    };
    backend.add_job(&row)?;
    Ok(Job::of(row))
}

/// Runs a recorded `audit verify` job (with the server's key file: the log is also
/// checked against the checkpoint kept beside it) and stores its report.
pub fn run_verify(
    backend: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    id: &str,
    since_seq: Option<i64>,
) -> Result<Job> {
    let mut row = backend
        .job(id)?
        .ok_or_else(|| AppError::NotFound(format!("no job `{id}`")))?;
    let outcome: Result<Report> = crate::verify_store::verify_with_keys(backend, ctx.actor, keys, since_seq);
    let (state, result) = match outcome {
        Ok(report) => (
            if report.holds() { "holds" } else { "failed" },
            serde_json::to_string(&report).expect("reports serialize"),
        ),
        Err(error) => ("error", serde_json::json!({"error": error.to_string()}).to_string()),
    };
    row.state = state.to_string();
    row.result = Some(result);
    row.finished_at = Some(ctx.time());
    backend.update_job(&row)?;
    Ok(Job::of(row))
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
    Ok(Job::of(row))
}
