//! The usage batches hosts post are validated on the request's blocking thread, then
//! stored by writer threads that take whatever batches are waiting, of one token at a
//! time, into one transaction: one commit answers many requests. A request is
//! answered only after its transaction commits, so an acknowledged batch is stored.

use std::sync::{Arc, Mutex};

use revshare_app::keys::Keys;
use revshare_app::submit::{store, BatchOutcome, Submission};
use revshare_app::Location;
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;

/// Batches waiting for a writer, at most (a full queue makes requests wait).
const QUEUE_MAX: usize = 256;
/// Events one transaction takes at most.
const GROUP_EVENTS_MAX: usize = 50_000;

struct Job {
    submission: Submission,
    reply: oneshot::Sender<Result<BatchOutcome, ApiError>>,
}

/// The queue to the writers.
pub struct Ingest {
    /// `None` once closed: the writers finish what is queued, then end.
    sender: Mutex<Option<mpsc::Sender<Job>>>,
}

impl Ingest {
    /// Starts `writers` writer threads on their own connections.
    pub fn start(location: &Location, keys: Arc<Keys>, writers: usize) -> (Ingest, Vec<std::thread::JoinHandle<()>>) {
        let (sender, receiver) = mpsc::channel(QUEUE_MAX);
        let receiver = Arc::new(Mutex::new(receiver));
        let handles = (0..writers.max(1))
            .map(|n| {
                let receiver = receiver.clone();
                let location = location.clone();
                let keys = keys.clone();
                std::thread::Builder::new()
                    .name(format!("revshare-writer-{n}"))
                    .spawn(move || write_loop(&location, &keys, &receiver))
                    .expect("starting a writer thread")
            })
            .collect();
        (
            Ingest {
                sender: Mutex::new(Some(sender)),
            },
            handles,
        )
    }

    /// Stores a validated batch; answers once it is committed.
    pub async fn store(&self, submission: Submission) -> Result<BatchOutcome, ApiError> {
        let (reply, answer) = oneshot::channel();
        let stopping = || {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "shutting down",
            )
        };
        let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner()).clone();
        sender
            .ok_or_else(stopping)?
            .send(Job { submission, reply })
            .await
            .map_err(|_| stopping())?;
        answer.await.map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the writer stopped",
            )
        })?
    }
}

impl Ingest {
    /// Takes no more batches; the writers store those queued, then end.
    pub fn close(&self) {
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// Takes the waiting batches (the first blocks), up to a group's size.
fn next_group(receiver: &Mutex<mpsc::Receiver<Job>>) -> Option<Vec<Job>> {
    let mut receiver = receiver.lock().unwrap_or_else(|p| p.into_inner());
    let first = receiver.blocking_recv()?;
    let mut events = first.submission.events();
    let mut jobs = vec![first];
    while events < GROUP_EVENTS_MAX {
        match receiver.try_recv() {
            Ok(job) => {
                events += job.submission.events();
                jobs.push(job);
            }
            Err(_) => break,
        }
    }
    Some(jobs)
}

fn write_loop(location: &Location, keys: &Keys, receiver: &Mutex<mpsc::Receiver<Job>>) {
    let mut backend = None;
    while let Some(jobs) = next_group(receiver) {
        // One transaction per token: each entry names the token that stored it.
        let mut groups: Vec<Vec<Job>> = Vec::new();
        for job in jobs {
            match groups
                .iter_mut()
                .find(|g| g[0].submission.actor() == job.submission.actor())
            {
                Some(group) => group.push(job),
                None => groups.push(vec![job]),
            }
        }
        for group in groups {
            write_group(location, keys, &mut backend, group);
        }
    }
}

fn write_group(
    location: &Location,
    keys: &Keys,
    backend: &mut Option<Box<dyn revshare_app::Backend>>,
    group: Vec<Job>,
) {
    let (submissions, replies): (Vec<Submission>, Vec<_>) = group.into_iter().map(|j| (j.submission, j.reply)).unzip();
    let time = revshare_core::period::rfc3339(revshare_app::now().seconds);
    let stored = match backend {
        Some(connection) => Ok(connection),
        None => revshare_store::open(location).map(|opened| backend.insert(opened)),
    }
    .map_err(ApiError::from_store)
    .and_then(|connection| store(connection.as_mut(), keys, &time, submissions).map_err(ApiError::from));
    match stored {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(error) => {
            // A failed connection is opened afresh for the next group.
            *backend = None;
            for reply in replies {
                let _ = reply.send(Err(ApiError::new(error.status, error.code, error.message.clone())));
            }
        }
    }
}
