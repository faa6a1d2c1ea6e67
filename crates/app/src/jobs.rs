//! Long work started over the API: `audit verify` and closes run as jobs (api.md),
//! and their results are kept in the store, so any server process answers for them.
//!
//! Where a running job stands (a close's [`Step`]) is known to the process that runs
//! it, on its [`Board`], and that process reports it to the store every
//! [`BEAT_SECONDS`] ([`beat`]) for the other processes on the same database. A job the
//! store says is running that no process has reported for [`STALE_SECONDS`] (and
//! that this process does not run) was cut short when the process that ran it
//! stopped: it reads `interrupted`, never running forever. A close is one store
//! transaction, so an interrupted close stored either nothing or all of its
//! statements: closing again returns them, or closes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use revshare_core::event::{parse_time, Timestamp};
use revshare_core::period::rfc3339;
use revshare_store::backend::JobRow;
use serde::{Deserialize, Serialize};

use crate::close::{CloseRequest, Progress, Step};

use crate::access::{require, Permission};
use crate::keys::Keys;
use crate::verify_store::Report;
use crate::{AppError, Backend, Ctx, Field, Result};

/// How often a process reports the jobs it runs to the store ([`beat`]).
pub const BEAT_SECONDS: u64 = 5;
/// How long after its last report (or its start) a running job that no live process
/// runs reads `interrupted`: a few missed reports, never one late one.
pub const STALE_SECONDS: i64 = 4 * BEAT_SECONDS as i64;

/// What a running job's row keeps as its `result` until it ends: when the process
/// running it last reported it, and where it stood then.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Alive {
    alive_at: String,
    progress: Option<Step>,
}

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    AuditVerify,
    Close,
}

/// Where a job stands: running, then done with a report that holds or failed (audit
/// verify), done with its statements (a close), or stopped by an error; or
/// interrupted: the process that ran it stopped before it ended (never stored, read
/// from a running job no live process holds, see [`Board`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    Holds,
    Failed,
    Done,
    Error,
    Interrupted,
}

impl JobKind {
    const ALL: [JobKind; 2] = [JobKind::AuditVerify, JobKind::Close];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::AuditVerify => "audit_verify",
            JobKind::Close => "close",
        }
    }
}

impl JobState {
    /// The states a job row keeps (`interrupted` is read, never stored).
    const STORED: [JobState; 5] = [
        JobState::Running,
        JobState::Holds,
        JobState::Failed,
        JobState::Done,
        JobState::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Holds => "holds",
            JobState::Failed => "failed",
            JobState::Done => "done",
            JobState::Error => "error",
            JobState::Interrupted => "interrupted",
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
    /// The report (audit verify) or the close's answer, once done; what stopped
    /// it, on an error.
    pub result: Option<serde_json::Value>,
    /// Where it stands while running, when the process that runs it reports it (a
    /// close does).
    pub progress: Option<Step>,
}

impl Job {
    /// A stored job, read back: a kind, state or report this build never writes was
    /// edited behind the service's back.
    fn of(row: JobRow) -> Result<Job> {
        Ok(Job::read(row)?.0)
    }

    /// A stored job, and while it runs, its last report ([`Alive`]).
    fn read(row: JobRow) -> Result<(Job, Option<Alive>)> {
        let broken = |what: &str| AppError::Integrity(format!("job {}: its {what} does not read back", row.id));
        let kind = JobKind::ALL
            .into_iter()
            .find(|k| k.as_str() == row.kind)
            .ok_or_else(|| broken("kind"))?;
        let state = JobState::STORED
            .into_iter()
            .find(|s| s.as_str() == row.state)
            .ok_or_else(|| broken("state"))?;
        let (mut result, mut alive) = (None, None);
        match (&row.result, state) {
            (Some(text), JobState::Running) => {
                alive = Some(serde_json::from_str::<Alive>(text).map_err(|_| broken("report of progress"))?);
            }
            (Some(text), _) => result = Some(serde_json::from_str(text).map_err(|_| broken("report"))?),
            (None, _) => {}
        }
        let job = Job {
            id: row.id,
            kind,
            state,
            created_at: row.created_at,
            finished_at: row.finished_at,
            result,
            progress: alive.as_ref().and_then(|a| a.progress),
        };
        Ok((job, alive))
    }
}

/// The jobs this process runs, and where each stands (see the module's header).
/// Clones share one board.
#[derive(Clone, Debug, Default)]
pub struct Board {
    running: Arc<Mutex<HashMap<String, Option<Step>>>>,
}

/// A job held on a [`Board`] as running in this process, until this is dropped:
/// when the job's end is stored ([`finish_close`]), or when the work holding it
/// fails or panics, so that a job this process no longer runs is never reported as
/// running.
#[must_use = "a job is held only while its Held lives"]
#[derive(Debug)]
pub struct Held {
    board: Board,
    id: String,
}

impl Held {
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.board.jobs().remove(&self.id);
    }
}

impl Board {
    pub fn new() -> Board {
        Board::default()
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<Step>>> {
        // A map of plain values: one a panicking holder left is still whole.
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds job `id` as running in this process, as long as the [`Held`] lives.
    pub fn hold(&self, id: &str) -> Held {
        self.jobs().insert(id.to_string(), None);
        Held {
            board: self.clone(),
            id: id.to_string(),
        }
    }

    /// Whether no job runs in this process.
    pub fn is_idle(&self) -> bool {
        self.jobs().is_empty()
    }

    /// What a close of job `id` reports to.
    pub fn watch<'a>(&'a self, id: &'a str) -> impl Progress + 'a {
        Watch { board: self, id }
    }

    /// A stored job as this process reads it at `now`: where it stands if it runs
    /// here; else as its last report says, or interrupted if that report (or its
    /// start) is older than [`STALE_SECONDS`].
    fn read(&self, mut job: Job, alive: Option<Alive>, now: Timestamp) -> Result<Job> {
        if job.state != JobState::Running {
            return Ok(job);
        }
        if let Some(step) = self.jobs().get(&job.id) {
            job.progress = *step;
            return Ok(job);
        }
        let last = alive.as_ref().map_or(&job.created_at, |a| &a.alive_at);
        let last = parse_time(last)
            .map_err(|_| AppError::Integrity(format!("job {}: its last report's time does not read back", job.id)))?;
        if now.seconds - last.seconds > STALE_SECONDS {
            job.state = JobState::Interrupted;
            job.progress = None;
            let again = match job.kind {
                JobKind::Close => {
                    "a close stored either nothing or all of its statements: close again, which \
                                   returns them or closes"
                }
                JobKind::AuditVerify => "a verification stores nothing: start it again",
            };
            job.result = Some(error_result(
                "interrupted",
                &format!(
                    "the server process running this job stopped before it ended (no report since {}); {again}",
                    rfc3339(last.seconds)
                ),
            ));
        }
        Ok(job)
    }
}

/// Reports the jobs `board` holds to the store as alive at `now`, with where each
/// stands (see the module's header); a job that ended meanwhile is left as it ended.
pub fn beat(backend: &mut dyn Backend, board: &Board, now: Timestamp) -> Result<()> {
    let held: Vec<(String, Option<Step>)> = board.jobs().iter().map(|(id, step)| (id.clone(), *step)).collect();
    for (id, progress) in held {
        let alive = Alive {
            alive_at: rfc3339(now.seconds),
            progress,
        };
        let text = serde_json::to_string(&alive).expect("a report serializes");
        backend.touch_job(&id, JobState::Running.as_str(), &text)?;
    }
    Ok(())
}

struct Watch<'a> {
    board: &'a Board,
    id: &'a str,
}

impl Progress for Watch<'_> {
    fn step(&self, step: Step) {
        if let Some(held) = self.board.jobs().get_mut(self.id) {
            *held = Some(step);
        }
    }
}

/// A job's `result` when it stopped on an error: the API's error answer
/// (`{"error": {"code", "message", "details"}}`, api.md).
fn error_result(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({"error": {"code": code, "details": {}, "message": message}})
}

fn new_row(kind: JobKind, ctx: Ctx<'_>) -> Result<JobRow> {
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(|e| AppError::Invalid(format!("no randomness: {e}")))?;
    Ok(JobRow {
        id: format!("J-{}", hex::encode(id)),
        kind: kind.as_str().to_string(),
        actor: ctx.actor.id().to_string(),
        state: JobState::Running.as_str().to_string(),
        result: None,
        created_at: ctx.time(),
        finished_at: None,
    })
}

/// Records an `audit verify` job for the actor; the caller runs it ([`run_verify`]).
pub fn start_verify(backend: &mut dyn Backend, ctx: Ctx<'_>) -> Result<Job> {
    require(ctx.actor, Permission::VerifyStore)?;
    let row = new_row(JobKind::AuditVerify, ctx)?;
    backend.add_job(&row)?;
    Job::of(row)
}

/// Records a close job for the actor, held on `board` as running here while the
/// [`Held`] it returns lives; the caller runs the close
/// ([`crate::close::close_watched`] with [`Board::watch`]) and stores its end with
/// that [`Held`] ([`finish_close`]). A close the actor may not run, or of a period not yet
/// ended, is refused first, with nothing stored; so is a dry run, which stores
/// nothing, a job included.
pub fn start_close(
    backend: &mut dyn Backend,
    board: &Board,
    ctx: Ctx<'_>,
    request: &CloseRequest,
) -> Result<(Job, Held)> {
    crate::close::due(ctx, request)?;
    if request.dry_run {
        return Err(AppError::InvalidField(
            Field::DryRun,
            "a dry run stores nothing, a job included: it runs only as a request, not as a job".into(),
        ));
    }
    let row = new_row(JobKind::Close, ctx)?;
    let held = board.hold(&row.id);
    backend.add_job(&row)?;
    Ok((Job::of(row)?, held))
}

/// How a close job ended: the close's answer, or the error answer it got.
pub enum Ending {
    Done(serde_json::Value),
    Error(serde_json::Value),
}

/// Stores how the close job `held` ended, and takes it off its board.
pub fn finish_close(backend: &mut dyn Backend, held: Held, ctx: Ctx<'_>, ending: Ending) -> Result<Job> {
    let id = held.id();
    let mut row = backend
        .job(id)?
        .ok_or_else(|| AppError::Integrity(format!("close job `{id}` is no longer stored")))?;
    let (state, result) = match ending {
        Ending::Done(answer) => (JobState::Done, answer),
        Ending::Error(answer) => (JobState::Error, answer),
    };
    row.state = state.as_str().to_string();
    row.result = Some(result.to_string());
    row.finished_at = Some(ctx.time());
    backend.update_job(&row)?;
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
            error_result(error.code(), &error.to_string()).to_string(),
        ),
    };
    row.state = state.as_str().to_string();
    row.result = Some(result);
    row.finished_at = Some(ctx.time());
    backend.update_job(&row)?;
    Job::of(row)
}

/// An `audit verify` job, to the actor that started it (or the operator). A role
/// that cannot run audit verify is refused before any lookup; another kind of job
/// is not found here.
pub fn get(backend: &mut dyn Backend, board: &Board, ctx: Ctx<'_>, id: &str) -> Result<Job> {
    require(ctx.actor, Permission::VerifyStore)?;
    let job = get_any(backend, board, ctx, id)?;
    if job.kind != JobKind::AuditVerify {
        return Err(missing(id));
    }
    Ok(job)
}

/// Any job, to the actor that started it (or the operator); to anyone else it is
/// not found, exactly as a job that does not exist (a close job is the operator's).
pub fn get_any(backend: &mut dyn Backend, board: &Board, ctx: Ctx<'_>, id: &str) -> Result<Job> {
    let row = backend.job(id)?.ok_or_else(|| missing(id))?;
    if !crate::access::reads_job(ctx.actor, &row.actor) {
        return Err(missing(id));
    }
    let (job, alive) = Job::read(row)?;
    board.read(job, alive, ctx.now)
}

fn missing(id: &str) -> AppError {
    AppError::NotFound(format!("no job `{id}`"))
}
