//! `revshare serve`: the HTTP API of api.md. Handlers parse a request, call one use
//! case of `revshare-app` as the token's party, and answer; every rule, access
//! included, is the application layer's. The store's blocking calls run on tokio's
//! blocking threads; usage batches are stored by writer threads that group them
//! into few transactions. Nothing another server process would need is kept in
//! memory (only the rate limiter is per process), so several processes can serve
//! one PostgreSQL database.

#![forbid(unsafe_code)]

mod api;
pub mod dashboard;
mod error;
mod ingest;
mod log_routes;
mod metrics;
mod observe;
pub mod openapi;
mod routes;
mod state;
mod views;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post};
use axum::Router;
use revshare_app::keys::Keys;
use revshare_app::Location;

pub use error::ApiError;
pub use state::Rate;

use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::state::{Pool, Shared, State};

pub use revshare_app::limits::{BATCH_BYTES_MAX, BODY_BYTES_MAX};
/// How often expired idempotency keys are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);
/// How often a stopping server looks whether its jobs have ended.
const JOBS_POLL: Duration = Duration::from_millis(50);

/// How a server runs.
pub struct Config {
    pub listen: SocketAddr,
    pub location: Location,
    pub keys: Keys,
    pub rate: Rate,
    /// Threads storing usage batches.
    pub writers: usize,
    /// Requests reading the store at once, and as many writing it; more wait their
    /// turn (a queue of tasks costs less than a queue of threads the kernel switches
    /// between). The ingest writers and the audit-verify job are apart.
    pub store_slots: usize,
    /// How long a close request waits for its close before it answers 202 with the
    /// job (api.md: a close still running when the request limit nears); by default
    /// the request limit less [`CLOSE_ANSWER_MARGIN`].
    pub close_wait: Duration,
}

/// What a close request leaves of the request limit to answer 202 in time.
pub const CLOSE_ANSWER_MARGIN: Duration = Duration::from_secs(5);

impl Config {
    pub fn new(listen: SocketAddr, location: Location, keys: Keys) -> Config {
        Config {
            listen,
            location,
            keys,
            rate: Rate {
                per_second: NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN),
                burst: NonZeroU32::new(200).unwrap_or(NonZeroU32::MIN),
            },
            writers: 2,
            store_slots: std::thread::available_parallelism().map_or(4, |n| n.get() * 2),
            close_wait: observe::TIMEOUT.saturating_sub(CLOSE_ANSWER_MARGIN),
        }
    }
}

/// Every route of api.md that exists today, with the limits and the layer that
/// logs, counts, rate-limits and times out each request.
fn router(state: State) -> Router {
    use routes::*;
    let batches = Router::new()
        .route("/v1/events", post(post_events))
        .layer(DefaultBodyLimit::max(BATCH_BYTES_MAX));
    let rest = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi::openapi))
        .route("/v1/keys", get(keys))
        .route("/v1/me", get(me))
        .route("/v1/events/void", post(void))
        .route("/v1/events/locate", get(locate))
        .route("/v1/contracts", get(contracts).post(add_contract))
        .route("/v1/contracts/{id}", get(contract))
        .route("/v1/fx", get(fx).post(add_fx))
        .route("/v1/models", get(models).post(add_models))
        .route("/v1/periods/{period}/close", post(close))
        .route("/v1/statements", get(statements))
        .route("/v1/statements/{contract}/{period}", get(statement))
        .route("/v1/statements/{contract}/{period}/proof", get(proof))
        .route("/v1/statements/{contract}/{period}/leaves", get(leaves))
        .route("/v1/statements/{contract}/{period}/inputs", get(inputs))
        .route("/v1/audit/checkpoint", get(log_routes::checkpoint))
        .route("/v1/audit/consistency", get(log_routes::consistency))
        .route("/v1/audit/inclusion", get(log_routes::inclusion))
        .route("/v1/audit/cosignatures", post(log_routes::cosign))
        .route(
            "/v1/witness/keys",
            get(log_routes::witness_keys).post(log_routes::add_witness_key),
        )
        .route("/v1/contributions", get(contributions).post(propose))
        .route("/v1/contributions/{number}/accept", post(accept))
        .route("/v1/contributions/{number}/reject", post(reject))
        .route("/v1/disputes", get(disputes).post(open_dispute))
        .route("/v1/disputes/{id}", get(dispute))
        .route("/v1/disputes/{id}/answer", post(answer_dispute))
        .route("/v1/disputes/{id}/resolve", post(resolve_dispute))
        .route("/v1/disputes/{id}/accept", post(accept_dispute))
        .route("/v1/disputes/{id}/reject", post(reject_dispute))
        .route("/v1/disputes/{id}/withdraw", post(withdraw_dispute))
        .route("/v1/disputes/{id}/escalate", post(escalate_dispute))
        .route("/v1/disputes/{id}/decide", post(decide_dispute))
        .route("/v1/payments", get(payments).post(record_payment))
        .route("/v1/payments/{id}/confirm", post(confirm_payment))
        .route("/v1/payments/{id}/withdraw", post(withdraw_payment))
        .route("/v1/payments/{id}/reverse", post(reverse_payment))
        .route("/v1/ledger/balances", get(balances))
        .route("/v1/ledger/entries", get(ledger_entries))
        .route("/v1/mau", get(mau))
        .route("/v1/audit/chain", get(chain))
        .route("/v1/audit/entries", get(entries))
        .route("/v1/audit/verify", post(start_verify))
        .route("/v1/audit/verify/{job}", get(verify_job))
        .route("/v1/jobs/{job}", get(job))
        .route("/v1/parties", get(parties).post(add_party))
        .route("/v1/parties/{id}", patch(update_party))
        .route("/v1/tokens", get(tokens).post(add_token))
        .route("/v1/tokens/{token_id}", delete(revoke_token))
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX));
    batches
        .merge(rest)
        .merge(dashboard::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe::around))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint (see /v1/openapi.json)")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method (see /v1/openapi.json)",
    )
}

/// A running server: its address, and how to wait for its end.
pub struct Server {
    pub address: SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds the listener and starts serving until SIGTERM or SIGINT: then it stops
/// accepting, finishes the requests in flight (an acknowledged batch is stored) and
/// the jobs it runs (a close job is stored whole), stops the writers and returns.
pub async fn start(config: Config) -> std::io::Result<Server> {
    // Listening for the signals before the first connection: a SIGTERM that comes
    // right after the start is a clean stop too, never the default (the end of the
    // process, requests in flight included).
    let stop = stopping()?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    let keys = Arc::new(config.keys);
    let (ingest, writers) = Ingest::start(&config.location, keys.clone(), config.writers);
    let state: State = Arc::new(Shared {
        pool: Pool::new(config.location.clone(), 64),
        read_slots: Arc::new(tokio::sync::Semaphore::new(config.store_slots.max(1))),
        write_slots: Arc::new(tokio::sync::Semaphore::new(config.store_slots.max(1))),

        keys,
        ingest,
        metrics: Metrics::new(),
        limiter: config.rate.limiter(),
        jobs: revshare_app::jobs::Board::new(),
        close_wait: config.close_wait,
    });
    let purge = tokio::spawn(purge_keys(state.clone()));
    let beat = tokio::spawn(beat_jobs(state.clone()));
    let app = router(state.clone());
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(stop)
            .await;
        purge.abort();
        // The jobs this process runs end first: a close then is stored whole, never
        // cut (a SIGKILL cuts it, and its transaction stores nothing).
        while !state.jobs.is_idle() {
            tokio::time::sleep(JOBS_POLL).await;
        }
        beat.abort();
        state.ingest.close();
        for writer in writers {
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
        served
    });
    Ok(Server { address, task })
}

impl Server {
    /// Waits until the server has stopped.
    pub async fn wait(self) -> std::io::Result<()> {
        self.task
            .await
            .map_err(|e| std::io::Error::other(format!("the server task failed: {e}")))?
    }
}

/// Listens for SIGTERM and SIGINT from now on; the future resolves on either.
#[cfg(unix)]
fn stopping() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
    })
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn stopping() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Purges idempotency keys older than their retention, hourly, and forgets rate
/// limits of tokens not seen lately.
async fn purge_keys(state: State) {
    let mut interval = tokio::time::interval(PURGE_INTERVAL);
    loop {
        interval.tick().await;
        state.limiter.retain_recent();
        state.limiter.shrink_to_fit();
        let _ = state::blocking_write(&state, |backend, _| {
            revshare_app::idempotency::purge(backend, revshare_app::now()).map_err(ApiError::from)
        })
        .await;
    }
}

/// Reports the jobs this process runs to the store, so that every process reads
/// them as running (with their progress) and reads a job no process reports any
/// more as interrupted (`app::jobs`). On a connection of its own, outside the
/// store's turns: on SQLite, a report waits while a close holds the write lock.
async fn beat_jobs(state: State) {
    let mut interval = tokio::time::interval(Duration::from_secs(revshare_app::jobs::BEAT_SECONDS));
    // A report that waited (a close holding SQLite's write lock) is not followed by a burst.
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if state.jobs.is_idle() {
            continue;
        }
        let shared = state.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut backend = shared.pool.get()?;
            revshare_app::jobs::beat(backend.as_mut(), &shared.jobs, revshare_app::now())?;
            shared.pool.put(backend);
            Ok::<(), revshare_app::AppError>(())
        })
        .await;
    }
}
