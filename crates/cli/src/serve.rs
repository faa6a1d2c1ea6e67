//! `revshare serve`, and the parties and tokens that reach it (`party`, `token`).

use std::net::SocketAddr;
use std::num::NonZeroU32;

use clap::{Args, Subcommand};
use revshare_app::Ctx;
use revshare_core::period::Day;
use revshare_core::records::Role;

use crate::stateful::{keys, open, operator};
use crate::{format, Failure, Format, StoreArgs};

/// Writer threads at most (each holds a store connection).
const WRITERS_MAX: usize = 16;

#[derive(Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Requests per second each token may make.
    #[arg(long, default_value_t = NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN))]
    rate_limit: NonZeroU32,
    /// Requests a token may make at once above its rate.
    #[arg(long, default_value_t = NonZeroU32::new(200).unwrap_or(NonZeroU32::MIN))]
    burst: NonZeroU32,
    /// Threads storing usage batches (1 to 16).
    #[arg(long, default_value_t = 2)]
    writers: usize,
}

pub fn serve(store: &StoreArgs, args: &ServeArgs) -> Result<(), Failure> {
    if !(1..=WRITERS_MAX).contains(&args.writers) {
        return Err(Failure::input(format!(
            "--writers: {} is not between 1 and {WRITERS_MAX}",
            args.writers
        )));
    }
    let mut backend = open(store)?;
    let keys = keys(store, backend.as_mut())?;
    drop(backend);
    let mut config = revshare_server::Config::new(args.listen, store.location(), keys);
    config.rate = revshare_server::Rate {
        per_second: args.rate_limit,
        burst: args.burst,
    };
    config.writers = args.writers;
    run(store, config, |_| {})
}

/// Serves `store` with the defaults on `listen`, calling `listening` with the bound
/// address once it accepts connections (`revshare demo --serve`).
pub fn serve_then(store: &StoreArgs, listen: SocketAddr, listening: impl FnOnce(SocketAddr)) -> Result<(), Failure> {
    let mut backend = open(store)?;
    let keys = keys(store, backend.as_mut())?;
    drop(backend);
    run(
        store,
        revshare_server::Config::new(listen, store.location(), keys),
        listening,
    )
}

fn run(store: &StoreArgs, config: revshare_server::Config, listening: impl FnOnce(SocketAddr)) -> Result<(), Failure> {
    let listen = config.listen;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::other(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        let server = revshare_server::start(config)
            .await
            .map_err(|e| Failure::other(format!("cannot listen on {listen}: {e}")))?;
        log_line(serde_json::json!({
            "message": "serving (SIGTERM or Ctrl-C stops it)",
            "store": store.location().describe(),
            "listening": server.address.to_string(),
        }));
        listening(server.address);
        server
            .wait()
            .await
            .map_err(|e| Failure::other(format!("the server stopped: {e}")))
    })?;
    log_line(serde_json::json!({"message": "stopped"}));
    Ok(())
}

/// A line of the server's log, which is one JSON object a line (api.md), like the
/// request lines the server writes.
fn log_line(mut fields: serde_json::Value) {
    let time = revshare_core::period::rfc3339(revshare_app::now().seconds);
    if let Some(object) = fields.as_object_mut() {
        object.insert("time".into(), time.into());
    }
    eprintln!("{fields}");
}

#[derive(Subcommand)]
pub enum PartyCommand {
    /// Add a party (contracts add the parties they name themselves).
    Add {
        id: String,
        /// A display name (default: the id).
        #[arg(long)]
        name: Option<String>,
    },
    /// Set a party's name (its legal name, printed on the statements and payout
    /// notices it receives; audited as `party_updated`).
    Update {
        id: String,
        #[arg(long)]
        name: String,
    },
    /// List the parties.
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

pub fn party(store: &StoreArgs, command: PartyCommand) -> Result<(), Failure> {
    let mut backend = open(store)?;
    let actor = operator();
    let ctx = Ctx::now(&actor);
    match command {
        PartyCommand::Add { id, name } => {
            let keys = keys(store, backend.as_mut())?;
            let row = revshare_app::parties::add(backend.as_mut(), &keys, ctx, &id, name.as_deref())?;
            println!("added party {} ({})", row.id, row.name);
        }
        PartyCommand::Update { id, name } => {
            let keys = keys(store, backend.as_mut())?;
            let row = revshare_app::parties::update(backend.as_mut(), &keys, ctx, &id, &name)?;
            println!("party {} is now named {}", row.id, row.name);
        }
        PartyCommand::List { format: output } => {
            format::parties(&revshare_app::parties::list(backend.as_mut(), ctx)?, output)?;
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token for a party; it is printed this once.
    Create {
        #[arg(long)]
        party: String,
        /// operator, licensor, host, beneficiary or auditor.
        #[arg(long)]
        role: String,
        /// Narrow the token to this contract (repeatable; an auditor's needs one).
        #[arg(long = "contract", value_name = "C")]
        contracts: Vec<String>,
        /// Valid until this day at 00:00 UTC.
        #[arg(long, value_name = "YYYY-MM-DD")]
        expires: Option<String>,
    },
    /// List the tokens (never their secrets).
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Revoke a token: refused from its next request on, in every server process.
    Revoke { token_id: String },
}

pub fn token(store: &StoreArgs, command: TokenCommand) -> Result<(), Failure> {
    let mut backend = open(store)?;
    let actor = operator();
    let ctx = Ctx::now(&actor);
    match command {
        TokenCommand::Create {
            party,
            role,
            contracts,
            expires,
        } => {
            let new = revshare_app::tokens::NewToken {
                party,
                role: Role::parse(&role).ok_or_else(|| {
                    Failure::input(format!(
                        "--role: `{role}` must be operator, licensor, host, beneficiary or auditor"
                    ))
                })?,
                contracts,
                expires: expires
                    .map(|e| {
                        Day::parse(&e)
                            .ok_or_else(|| Failure::input(format!("--expires: `{e}` must be a date YYYY-MM-DD")))
                    })
                    .transpose()?,
            };
            let keys = keys(store, backend.as_mut())?;
            let created = revshare_app::tokens::create(backend.as_mut(), &keys, ctx, &new)?;
            eprintln!(
                "created token {} for {} ({}); it is shown this once, keep it secret:",
                created.row.token_id, created.row.party, created.row.role
            );
            println!("{}", created.token);
        }
        TokenCommand::List { format: output } => {
            format::tokens(&revshare_app::tokens::list(backend.as_mut(), ctx)?, output)?;
        }
        TokenCommand::Revoke { token_id } => {
            let keys = keys(store, backend.as_mut())?;
            let row = revshare_app::tokens::revoke(backend.as_mut(), &keys, ctx, &token_id)?;
            println!(
                "token {} of {} revoked at {}",
                row.token_id,
                row.party,
                row.revoked_at.unwrap_or_default()
            );
        }
    }
    Ok(())
}
