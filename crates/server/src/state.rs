//! What every request shares: the store's location and keys, a pool of connections
//! (the store's calls block, so they run on tokio's blocking threads), the ingest
//! queue, the rate limiter and the metrics. Nothing here holds data another server
//! process would need: every answer comes from the store.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::{DefaultKeyedRateLimiter, Quota};
use revshare_app::keys::Keys;
use revshare_app::{AppError, Backend, Location};

use crate::error::ApiError;
use crate::ingest::Ingest;
use crate::metrics::Metrics;

pub type State = Arc<Shared>;

pub struct Shared {
    pub keys: Arc<Keys>,
    pub pool: Pool,
    /// Turns at the store for reads and for writes (see `Config::store_slots`): a
    /// write waits for the store's write lock holding its turn, so writes waiting on
    /// a long close elsewhere never hold up the reads.
    pub read_slots: Arc<tokio::sync::Semaphore>,
    pub write_slots: Arc<tokio::sync::Semaphore>,
    pub ingest: Ingest,
    pub metrics: Metrics,
    pub limiter: DefaultKeyedRateLimiter<[u8; 16]>,
    /// The jobs this process runs (closes, audit verifications), and where each stands.
    pub jobs: revshare_app::jobs::Board,
    /// How long a close request waits for its close before it answers 202 with the
    /// job instead (see `Config::close_wait`).
    pub close_wait: std::time::Duration,
}

/// Per-token request rate (api.md: 100 requests/s, burst 200, by default).
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Rate {
    pub fn limiter(self) -> DefaultKeyedRateLimiter<[u8; 16]> {
        governor::RateLimiter::keyed(Quota::per_second(self.per_second).allow_burst(self.burst))
    }
}

/// Connections to the store, reused between requests.
pub struct Pool {
    location: Location,
    idle: Mutex<Vec<Box<dyn Backend>>>,
    /// Idle connections kept at most (more are opened when busy, then closed).
    idle_max: usize,
}

impl Pool {
    pub fn new(location: Location, idle_max: usize) -> Pool {
        Pool {
            location,
            idle: Mutex::new(Vec::new()),
            idle_max,
        }
    }

    /// A connection, idle or new.
    pub fn get(&self) -> Result<Box<dyn Backend>, AppError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(backend) => Ok(backend),
            None => revshare_app::open(&self.location),
        }
    }

    /// Gives a connection back (a failed request's connection is dropped instead).
    pub fn put(&self, backend: Box<dyn Backend>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.idle_max {
            idle.push(backend);
        }
    }
}

impl Drop for Pool {
    /// Closing a PostgreSQL connection blocks on a runtime of its own, which a tokio
    /// worker must not do (it panics: the last reference may go at the server's
    /// end, in its task): the idle connections are closed on a plain thread.
    fn drop(&mut self) {
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|p| p.into_inner()));
        if !idle.is_empty() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

/// Runs `work` with a store connection on a blocking thread, as a read.
pub async fn blocking<T, F>(state: &State, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn Backend, &Shared) -> Result<T, ApiError> + Send + 'static,
{
    on_store(state, &state.read_slots, work).await
}

/// [`blocking`] for work that takes the store's write lock.
pub async fn blocking_write<T, F>(state: &State, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn Backend, &Shared) -> Result<T, ApiError> + Send + 'static,
{
    on_store(state, &state.write_slots, work).await
}

async fn on_store<T, F>(state: &State, slots: &Arc<tokio::sync::Semaphore>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn Backend, &Shared) -> Result<T, ApiError> + Send + 'static,
{
    // Held until the work ends, also if the request is dropped (timed out) first.
    // The semaphores are never closed.
    let turn = slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("the store's turns are closed"))?;
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let mut backend = state.pool.get()?;
        let outcome = work(backend.as_mut(), &state);
        if outcome.as_ref().map_or_else(ApiError::is_client_error, |_| true) {
            state.pool.put(backend);
        }
        outcome
    })
    .await
    .map_err(|_| ApiError::internal("a request's worker stopped"))?
}
