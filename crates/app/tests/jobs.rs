//! Close jobs (`app::jobs`): who may start one, the steps a close reports and in what
//! order, how a job ends, who sees it (anyone else: exactly as missing), and a job
//! that was running when its process stopped reading `interrupted`, never running
//! forever. On both backends.

mod common;

use std::sync::Mutex;

use common::scenario::{fixture, NOW};
use common::{at, ctx, TestStore};
use revshare_app::close::{close_watched, CloseRequest, Grace, Progress, Step};
use revshare_app::import::{import, Observers};
use revshare_app::jobs::{
    beat, finish_close, get, get_any, start_close, Board, Ending, JobKind, JobState, STALE_SECONDS,
};
use revshare_app::{Actor, AppError, ErrorKind, Field};
use revshare_core::period::Period;
use revshare_core::records::Role;
use revshare_ingest::offline::UsageInput;

/// The example contracts, FX rates and the small usage file, nothing closed.
fn loaded(t: &TestStore) -> Box<dyn revshare_app::Backend> {
    let mut backend = t.open();
    let operator = Actor::cli();
    let now = ctx(&operator, NOW);
    common::scenario::terms(t, backend.as_mut(), now);
    import(
        backend.as_mut(),
        &t.keys(),
        now,
        vec![UsageInput {
            name: "usage-small.ndjson".into(),
            reader: Box::new(std::io::Cursor::new(fixture("usage-small.ndjson"))),
        }],
        Observers {
            progress: &mut |_| {},
            rejected: &mut |_| {},
        },
    )
    .unwrap();
    backend
}

fn october() -> CloseRequest {
    CloseRequest {
        period: Period::parse("2026-10").unwrap(),
        contract: None,
        grace: Grace::default(),
        dry_run: false,
        allow_empty: false,
        settlement_start: true,
    }
}

fn board() -> Board {
    Board::new()
}

/// Each step told, in order, passed on to the job's board too.
struct Recorder<P: Progress> {
    steps: Mutex<Vec<Step>>,
    board: P,
}

impl<P: Progress> Progress for Recorder<P> {
    fn step(&self, step: Step) {
        self.steps.lock().unwrap().push(step);
        self.board.step(step);
    }
}

fn a_close_job_reports_its_steps_in_order_then_ends_with_the_answer(t: TestStore) {
    let mut backend = loaded(&t);
    let operator = Actor::cli();
    let board = board();
    let (job, held) = start_close(backend.as_mut(), &board, ctx(&operator, NOW), &october()).unwrap();
    assert_eq!((job.kind, job.state), (JobKind::Close, JobState::Running));
    let read = get_any(backend.as_mut(), &board, ctx(&operator, NOW), &job.id).unwrap();
    assert_eq!((read.state, read.progress), (JobState::Running, None), "no step yet");

    let recorder = Recorder {
        steps: Mutex::new(Vec::new()),
        board: board.watch(&job.id),
    };
    let outcome = close_watched(backend.as_mut(), &t.keys(), ctx(&operator, NOW), &october(), &recorder).unwrap();
    let steps = recorder.steps.into_inner().unwrap();
    // Reading first; then each of the three contracts, counted up; committing last.
    let total = 3;
    let mut expected = vec![Step::Reading];
    expected.extend((0..=total).map(|done| Step::Rating { done, total }));
    expected.push(Step::Committing);
    assert_eq!(steps, expected);
    assert!(!outcome.statements.is_empty());
    // Until its end is stored, the job runs, at its last step.
    let read = get_any(backend.as_mut(), &board, ctx(&operator, NOW), &job.id).unwrap();
    assert_eq!((read.state, read.progress), (JobState::Running, Some(Step::Committing)));

    let answer = serde_json::json!({"statements": outcome.statements.len()});
    let later = "2026-11-29T00:05:00Z";
    let ended = finish_close(
        backend.as_mut(),
        held,
        ctx(&operator, later),
        Ending::Done(answer.clone()),
    )
    .unwrap();
    let read = get_any(backend.as_mut(), &board, ctx(&operator, NOW), &job.id).unwrap();
    for job in [ended, read] {
        assert_eq!(job.state, JobState::Done);
        assert_eq!(job.result.as_ref(), Some(&answer));
        assert_eq!(job.finished_at.as_deref(), Some(later));
        assert_eq!(job.progress, None);
    }
}

#[test]
fn a_close_job_reports_its_steps_in_order_then_ends_with_the_answer_on_sqlite() {
    a_close_job_reports_its_steps_in_order_then_ends_with_the_answer(common::sqlite());
}

#[test]
fn a_close_job_reports_its_steps_in_order_then_ends_with_the_answer_on_postgresql() {
    if let Some(t) = common::postgres() {
        a_close_job_reports_its_steps_in_order_then_ends_with_the_answer(t);
    }
}

fn refused_closes_start_no_job(t: TestStore) {
    let mut backend = loaded(&t);
    let board = board();
    let jobs = || t.scalar("SELECT COUNT(*) FROM jobs");
    for (role, party) in [
        (Role::Host, "acme-cloud"),
        (Role::Licensor, "meta"),
        (Role::Auditor, "audit-co"),
        (Role::Beneficiary, "finetune-labs"),
    ] {
        let actor = Actor::token("t-0000000001", role, party, None);
        let error = start_close(backend.as_mut(), &board, ctx(&actor, NOW), &october()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Forbidden, "{role:?}: {error}");
    }
    let operator = Actor::cli();
    let dry = CloseRequest {
        dry_run: true,
        ..october()
    };
    let error = start_close(backend.as_mut(), &board, ctx(&operator, NOW), &dry).unwrap_err();
    assert!(matches!(error, AppError::InvalidField(Field::DryRun, _)), "{error}");
    let early = CloseRequest {
        period: Period::parse("2026-11").unwrap(),
        ..october()
    };
    let error = start_close(backend.as_mut(), &board, ctx(&operator, NOW), &early).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TooEarly, "{error}");
    assert_eq!(jobs(), 0);
}

#[test]
fn refused_closes_start_no_job_on_sqlite() {
    refused_closes_start_no_job(common::sqlite());
}

#[test]
fn refused_closes_start_no_job_on_postgresql() {
    if let Some(t) = common::postgres() {
        refused_closes_start_no_job(t);
    }
}

fn a_job_is_the_operators_and_as_missing_to_anyone_else(t: TestStore) {
    let mut backend = loaded(&t);
    let board = board();
    let operator = Actor::cli();
    let (job, _held) = start_close(backend.as_mut(), &board, ctx(&operator, NOW), &october()).unwrap();
    let unknown = "J-0000000000000000";
    for (role, party, contracts) in [
        (Role::Host, "acme-cloud", None),
        (Role::Licensor, "meta", None),
        (Role::Auditor, "audit-co", Some(vec!["acme-llama".to_string()])),
    ] {
        let actor = Actor::token("t-0000000002", role, party, contracts);
        let hidden = get_any(backend.as_mut(), &board, ctx(&actor, NOW), &job.id).unwrap_err();
        let missing = get_any(backend.as_mut(), &board, ctx(&actor, NOW), unknown).unwrap_err();
        assert_eq!(
            (hidden.kind(), missing.kind()),
            (ErrorKind::NotFound, ErrorKind::NotFound)
        );
        assert_eq!(hidden.to_string().replace(&job.id, unknown), missing.to_string());
    }
    // Another operator token reads it; as an audit verification it is not found.
    let other = Actor::token("t-0000000003", Role::Operator, "ops", None);
    assert_eq!(
        get_any(backend.as_mut(), &board, ctx(&other, NOW), &job.id).unwrap().id,
        job.id
    );
    let error = get(backend.as_mut(), &board, ctx(&operator, NOW), &job.id).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
}

#[test]
fn a_job_is_the_operators_and_as_missing_to_anyone_else_on_sqlite() {
    a_job_is_the_operators_and_as_missing_to_anyone_else(common::sqlite());
}

/// [`NOW`] plus `seconds`.
fn after(seconds: i64) -> revshare_core::event::Timestamp {
    let mut time = at(NOW);
    time.seconds += seconds;
    time
}

fn a_job_running_when_its_process_stopped_reads_interrupted(t: TestStore) {
    let mut backend = loaded(&t);
    let operator = Actor::cli();
    let stopped = board();
    let (job, held) = start_close(backend.as_mut(), &stopped, ctx(&operator, NOW), &october()).unwrap();
    drop((held, stopped));
    // Another process (a board that does not hold it) reads it as running until no
    // process has reported it for STALE_SECONDS since its start, then interrupted.
    let other = board();
    let read_at = |backend: &mut dyn revshare_app::Backend, seconds: i64| {
        let now = revshare_app::Ctx {
            actor: &operator,
            now: after(seconds),
        };
        get_any(backend, &other, now, &job.id).unwrap()
    };
    let fresh = read_at(backend.as_mut(), STALE_SECONDS);
    assert_eq!((fresh.state, fresh.progress), (JobState::Running, None));
    let stale = read_at(backend.as_mut(), STALE_SECONDS + 1);
    assert_eq!(stale.state, JobState::Interrupted);
    assert_eq!(stale.progress, None);
    let result = stale.result.expect("what stopped it");
    assert_eq!(result["error"]["code"], "interrupted", "{result}");
    // Read so, never stored so: the stored row still says what its process left.
    assert_eq!(t.scalar("SELECT COUNT(*) FROM jobs WHERE state = 'running'"), 1);

    // A process that runs it reports it, with where it stands: every process reads
    // that, until the report is stale in turn.
    let running = board();
    let held = running.hold(&job.id);
    running.watch(&job.id).step(Step::Rating { done: 1, total: 3 });
    beat(backend.as_mut(), &running, after(100)).unwrap();
    let reported = read_at(backend.as_mut(), 100 + STALE_SECONDS);
    assert_eq!(reported.state, JobState::Running);
    assert_eq!(reported.progress, Some(Step::Rating { done: 1, total: 3 }));
    assert_eq!(reported.result, None, "a running job has no result yet");
    assert_eq!(
        read_at(backend.as_mut(), 101 + STALE_SECONDS).state,
        JobState::Interrupted
    );

    // A job that ended is read as it ended, whichever process reads it, and a late
    // report leaves it so.
    let ended = finish_close(
        backend.as_mut(),
        held,
        ctx(&operator, NOW),
        Ending::Error(serde_json::json!({"error": {"code": "conflict"}})),
    )
    .unwrap();
    assert_eq!(ended.state, JobState::Error);
    assert!(running.is_idle());
    let late = board();
    let _late = late.hold(&job.id);
    beat(backend.as_mut(), &late, after(200)).unwrap();
    let read = read_at(backend.as_mut(), 10_000);
    assert_eq!(read.state, JobState::Error);
    assert_eq!(read.result, Some(serde_json::json!({"error": {"code": "conflict"}})));
}

#[test]
fn a_job_running_when_its_process_stopped_reads_interrupted_on_sqlite() {
    a_job_running_when_its_process_stopped_reads_interrupted(common::sqlite());
}

#[test]
fn a_job_running_when_its_process_stopped_reads_interrupted_on_postgresql() {
    if let Some(t) = common::postgres() {
        a_job_running_when_its_process_stopped_reads_interrupted(t);
    }
}
