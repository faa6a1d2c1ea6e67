//! The usage batches hosts post are validated on the request's blocking thread, then
//! stored by writer threads that take whatever batches are waiting, of one token at a
//! time, into one transaction: one commit answers many requests. A request is
//! answered only after its transaction commits and the checkpoint sealing it is kept
//! beside the key file, so an acknowledged batch is stored and its log witnessed. A
//! flusher thread writes that file once for all the commits waiting, while the
//! writers go on with the next batches.

use std::sync::{Arc, Mutex};

use revshare_app::keys::Keys;
use revshare_app::submit::{store, BatchOutcome, Committed, Submission};
use revshare_app::Location;
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;

/// Batches waiting for a writer, at most (a full queue makes requests wait).
const QUEUE_MAX: usize = 256;
/// Events one transaction takes at most.
const GROUP_EVENTS_MAX: usize = 50_000;

struct Job {
    submission: Submission,
    reply: Reply,
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
        let (flush_sender, flush_receiver) = std::sync::mpsc::channel();
        let mut handles: Vec<std::thread::JoinHandle<()>> = (0..writers.max(1))
            .map(|n| {
                let receiver = receiver.clone();
                let location = location.clone();
                let keys = keys.clone();
                let flusher = flush_sender.clone();
                std::thread::Builder::new()
                    .name(format!("revshare-writer-{n}"))
                    .spawn(move || write_loop(&location, &keys, &receiver, &flusher))
                    .expect("starting a writer thread")
            })
            .collect();
        // The flusher ends once every writer has (their senders dropped).
        drop(flush_sender);
        handles.push(
            std::thread::Builder::new()
                .name("revshare-flusher".into())
                .spawn(move || flush_loop(&keys, &flush_receiver))
                .expect("starting the flusher thread"),
        );
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

/// Committed batches, waiting for the checkpoint file, and whom to answer.
struct Flush {
    committed: Committed,
    replies: Vec<Reply>,
}

type Reply = oneshot::Sender<Result<BatchOutcome, ApiError>>;
type Flusher = std::sync::mpsc::Sender<Flush>;

/// Writes the checkpoint file once for every commit waiting, then answers them.
fn flush_loop(keys: &Keys, receiver: &std::sync::mpsc::Receiver<Flush>) {
    while let Ok(first) = receiver.recv() {
        let mut waiting = vec![first];
        waiting.extend(receiver.try_iter());
        let (committed, replies): (Vec<Committed>, Vec<Vec<Reply>>) =
            waiting.into_iter().map(|f| (f.committed, f.replies)).unzip();
        match Committed::flush(keys, committed) {
            Ok(outcomes) => {
                for (replies, outcomes) in replies.into_iter().zip(outcomes) {
                    for (reply, outcome) in replies.into_iter().zip(outcomes) {
                        let _ = reply.send(Ok(outcome));
                    }
                }
            }
            Err(error) => {
                let error = ApiError::from(error);
                for reply in replies.into_iter().flatten() {
                    let _ = reply.send(Err(ApiError::new(error.status, error.code, error.message.clone())));
                }
            }
        }
    }
}

fn write_loop(location: &Location, keys: &Keys, receiver: &Mutex<mpsc::Receiver<Job>>, flusher: &Flusher) {
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
            write_group(location, keys, &mut backend, group, flusher);
        }
    }
}

fn write_group(
    location: &Location,
    keys: &Keys,
    backend: &mut Option<Box<dyn revshare_app::Backend>>,
    group: Vec<Job>,
    flusher: &Flusher,
) {
    let (submissions, replies): (Vec<Submission>, Vec<_>) = group.into_iter().map(|j| (j.submission, j.reply)).unzip();
    let time = revshare_core::period::rfc3339(revshare_app::now().seconds);
    let stored = match backend {
        Some(connection) => Ok(connection),
        None => revshare_app::open(location).map(|opened| backend.insert(opened)),
    }
    .and_then(|connection| store(connection.as_mut(), keys, &time, submissions))
    .map_err(ApiError::from);
    match stored {
        // The flusher answers (a failed send means it ended: the replies are
        // dropped, and their requests answer `unavailable`).
        Ok(committed) => {
            let _ = flusher.send(Flush { committed, replies });
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
