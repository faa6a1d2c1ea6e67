//! The commands that work on a store: opening it and its keys, init, contracts,
//! tables, contributions, voids, statements, proofs, keys. Each parses its
//! arguments, calls one use case of the application layer, and prints.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use revshare_app::contributions::{Decision, Proposal};
use revshare_app::keys::Keys;
use revshare_app::{Actor, Backend, Ctx, Location};
use revshare_core::contract::{ContributionKind, Party};
use revshare_core::period::Day;
use revshare_core::verify::TreeName;

use crate::{format, inputs, Failure, Format, StoreArgs};

pub const DEFAULT_DB: &str = "revshare.db";

pub use revshare_app::now;

/// Opens an initialized store.
pub fn open(args: &StoreArgs) -> Result<Box<dyn Backend>, Failure> {
    let location = args.location();
    if let Location::Sqlite(path) = &location {
        if !path.exists() {
            return Err(Failure::input(format!(
                "no store at {}; run `revshare init` first (or pass --db / --database-url)",
                path.display()
            )));
        }
    }
    let mut backend = revshare_app::open(&location)?;
    revshare_app::check_scheme(backend.as_mut())?;
    Ok(backend)
}

/// The key file: `--key-file` / `REVSHARE_KEY_FILE`, else beside the embedded store.
/// PostgreSQL has no default: one that depends on the current folder would sign
/// with whichever file happens to be there.
fn key_path(args: &StoreArgs, backend: Option<&mut dyn Backend>) -> Result<PathBuf, Failure> {
    if let Some(path) = &args.key_file {
        return Ok(path.clone());
    }
    match args.location() {
        Location::Sqlite(path) => {
            let mut name = path.into_os_string();
            name.push(".key");
            Ok(PathBuf::from(name))
        }
        Location::Postgres(_) => {
            let needed = match backend {
                Some(backend) => match revshare_app::keys::store_key_id(backend) {
                    Ok(id) => format!("this store signs with key {id}; "),
                    Err(_) => String::new(),
                },
                None => String::new(),
            };
            Err(Failure::input(format!(
                "a PostgreSQL store needs its key file: {needed}give --key-file FILE or set REVSHARE_KEY_FILE \
                 (`revshare init` creates it where you point)"
            )))
        }
    }
}

/// The store's keys, checked against it.
pub fn keys(args: &StoreArgs, backend: &mut dyn Backend) -> Result<Keys, Failure> {
    let path = key_path(args, Some(&mut *backend))?;
    Ok(Keys::open(&path, backend)?)
}

/// The store's keys where a key file is given or lies beside the embedded store;
/// `None` without one (a PostgreSQL store without `--key-file`).
pub fn keys_if_found(args: &StoreArgs, backend: &mut dyn Backend) -> Result<Option<Keys>, Failure> {
    match key_path(args, None) {
        Ok(path) if path.exists() || args.key_file.is_some() => Ok(Some(Keys::open(&path, backend)?)),
        _ => Ok(None),
    }
}

/// The operator at the command line, now.
pub fn operator() -> Actor {
    Actor::cli()
}

pub fn init(args: &StoreArgs) -> Result<(), Failure> {
    let location = args.location();
    let path = key_path(args, None)?;
    let mut backend = revshare_app::open(&location)?;
    let actor = operator();
    let ctx = Ctx::now(&actor);
    match revshare_app::setup::init(backend.as_mut(), &path, ctx)? {
        revshare_app::setup::Initialized::Already { key_id } => println!(
            "{} is already initialized (key {key_id}, in {})",
            location.describe(),
            path.display()
        ),
        revshare_app::setup::Initialized::New { key_id, created_key } => println!(
            "initialized {} ({}); signing key {key_id} {} {} (keep it secret and back it up; \
             `revshare key export-public` prints the public key)",
            location.describe(),
            revshare_app::store_name(backend.as_ref()),
            if created_key { "created in" } else { "taken from" },
            path.display()
        ),
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.display().to_string()
}

#[derive(Subcommand)]
pub enum ContractCommand {
    /// Validate a contract file and store it as a new version.
    Add { file: PathBuf },
    /// List stored contracts and versions.
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Print a stored contract file (the latest version unless --version).
    Show {
        id: String,
        #[arg(long)]
        version: Option<i64>,
    },
}

pub fn contract(args: &StoreArgs, command: ContractCommand) -> Result<(), Failure> {
    let mut backend = open(args)?;
    let actor = operator();
    let ctx = Ctx::now(&actor);
    match command {
        ContractCommand::Add { file } => {
            let bytes = inputs::read(&file)?;
            let keys = keys(args, backend.as_mut())?;
            match revshare_app::contracts::add_version(backend.as_mut(), &keys, ctx, &file_name(&file), &bytes)? {
                revshare_app::contracts::Added::Stored { id, version, sha256 } => {
                    println!("stored {id} version {version} (sha256 {sha256})")
                }
                revshare_app::contracts::Added::AlreadyStored { id, version, sha256 } => {
                    println!("{id} version {version} is already stored (sha256 {sha256})")
                }
            }
        }
        ContractCommand::List { format: output } => {
            let rows = revshare_app::contracts::list(backend.as_mut(), &operator())?;
            format::contracts(&rows, output)?;
        }
        ContractCommand::Show { id, version } => {
            let row = revshare_app::contracts::show(backend.as_mut(), &operator(), &id, version)?;
            print!("{}", row.toml);
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum FxCommand {
    /// Add FX rates from a CSV file (`date,from,to,rate`). Rows already stored with
    /// the same rate are skipped; another rate for a stored (date, from, to) refuses
    /// the file.
    Add { file: PathBuf },
    /// List the stored rates.
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

pub fn fx(args: &StoreArgs, command: FxCommand) -> Result<(), Failure> {
    let mut backend = open(args)?;
    let actor = operator();
    let ctx = Ctx::now(&actor);
    match command {
        FxCommand::Add { file } => {
            let keys = keys(args, backend.as_mut())?;
            let added =
                revshare_app::tables::add_fx(backend.as_mut(), &keys, ctx, &file_name(&file), &inputs::read(&file)?)?;
            println!(
                "stored {} FX rates ({} already stored with the same rate, skipped)",
                added.stored, added.skipped
            );
        }
        FxCommand::List { format: output } => {
            format::fx(&revshare_app::tables::fx(backend.as_mut(), &operator())?, output)?;
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Add a new version of the model registry (CSV `pattern,licensor`), effective
    /// from a month start; earlier periods keep the version they were rated with.
    Add {
        file: PathBuf,
        /// The first day it applies, a month start (default: the month after the
        /// latest closed period, or from the start when none is closed).
        #[arg(long, value_parser = parse_day)]
        from: Option<Day>,
    },
    /// List the registry versions.
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

pub fn parse_day(text: &str) -> Result<Day, String> {
    Day::parse(text).ok_or_else(|| format!("\"{text}\" must be a date YYYY-MM-DD"))
}

pub fn models(args: &StoreArgs, command: ModelsCommand) -> Result<(), Failure> {
    let mut backend = open(args)?;
    let actor = operator();
    let ctx = Ctx::now(&actor);
    match command {
        ModelsCommand::Add { file, from } => {
            let keys = keys(args, backend.as_mut())?;
            let added = revshare_app::tables::add_registry(
                backend.as_mut(),
                &keys,
                ctx,
                &file_name(&file),
                &inputs::read(&file)?,
                from,
            )?;
            println!(
                "stored registry version {} ({} rows), effective from {}",
                added.version,
                added.rows,
                if added.effective_from == Day(0) {
                    "the start".to_string()
                } else {
                    added.effective_from.to_string()
                }
            );
        }
        ModelsCommand::List { format: output } => {
            format::registries(
                &revshare_app::tables::registries(backend.as_mut(), &operator())?,
                output,
            )?;
        }
    }
    Ok(())
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PartyArg {
    Host,
    Licensor,
}

#[derive(Subcommand)]
pub enum ContributionCommand {
    /// Propose a contribution (by one party, to be accepted by the other).
    Propose {
        #[arg(long)]
        contract: String,
        #[arg(long, value_enum)]
        by: PartyArg,
        /// maintenance, update or improvement.
        #[arg(long, value_parser = parse_kind)]
        kind: ContributionKind,
        /// The contribution's date (YYYY-MM-DD): it counts in the period holding it.
        #[arg(long, value_parser = parse_day)]
        date: Day,
        #[arg(long, default_value = "")]
        reference: String,
        /// Act for this party (it must be the proposing side).
        #[arg(long = "as", value_name = "PARTY")]
        as_party: Option<String>,
    },
    /// Accept a proposed contribution.
    Accept {
        number: i64,
        /// Act for this party (it must be the other side).
        #[arg(long = "as", value_name = "PARTY")]
        as_party: Option<String>,
    },
    /// Reject a proposed contribution.
    Reject {
        number: i64,
        #[arg(long = "as", value_name = "PARTY")]
        as_party: Option<String>,
    },
    /// List contributions (`--format csv` is the file `rate --contributions` reads).
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

fn parse_kind(text: &str) -> Result<ContributionKind, String> {
    ContributionKind::parse(text).ok_or_else(|| format!("\"{text}\" must be maintenance, update or improvement"))
}

fn actor_for(as_party: &Option<String>) -> Actor {
    match as_party {
        Some(party) => Actor::cli_as(party),
        None => operator(),
    }
}

pub fn contribution(args: &StoreArgs, command: ContributionCommand) -> Result<(), Failure> {
    let mut backend = open(args)?;
    match command {
        ContributionCommand::Propose {
            contract,
            by,
            kind,
            date,
            reference,
            as_party,
        } => {
            let actor = actor_for(&as_party);
            let ctx = Ctx::now(&actor);
            let by = match by {
                PartyArg::Host => Party::Host,
                PartyArg::Licensor => Party::Licensor,
            };
            let proposal = Proposal {
                contract,
                by,
                kind,
                date,
                reference,
            };
            let keys = keys(args, backend.as_mut())?;
            let row = revshare_app::contributions::propose(backend.as_mut(), &keys, ctx, &proposal)?;
            println!(
                "proposed contribution {}; the other party accepts it with `revshare contribution accept {}`",
                row.number, row.number
            );
        }
        ContributionCommand::Accept { number, as_party } => {
            let keys = keys(args, backend.as_mut())?;
            decide(backend.as_mut(), &keys, number, &as_party, Decision::Accept)?
        }
        ContributionCommand::Reject { number, as_party } => {
            let keys = keys(args, backend.as_mut())?;
            decide(backend.as_mut(), &keys, number, &as_party, Decision::Reject)?
        }
        ContributionCommand::List { format: output } => {
            format::contributions(
                &revshare_app::contributions::list(backend.as_mut(), &operator())?,
                output,
            )?;
        }
    }
    Ok(())
}

fn decide(
    backend: &mut dyn Backend,
    keys: &Keys,
    number: i64,
    as_party: &Option<String>,
    decision: Decision,
) -> Result<(), Failure> {
    let actor = actor_for(as_party);
    let ctx = Ctx::now(&actor);
    let row = revshare_app::contributions::decide(backend, keys, ctx, number, decision)?;
    println!("contribution {number} {}", row.status.as_str());
    Ok(())
}

#[derive(Args)]
pub struct VoidArgs {
    pub source: String,
    pub id: String,
    /// Why (kept in the audit log).
    #[arg(long)]
    pub reason: String,
}

pub fn void(args: &StoreArgs, void: &VoidArgs) -> Result<(), Failure> {
    let mut backend = open(args)?;
    let actor = operator();
    let ctx = Ctx::now(&actor);
    let keys = keys(args, backend.as_mut())?;
    match revshare_app::void::void(backend.as_mut(), &keys, ctx, &void.source, &void.id, &void.reason)? {
        revshare_app::void::Voided::Now(row) => println!(
            "voided ({}, {}): it no longer counts; if its period is closed, the next close removes it",
            row.source, row.id
        ),
        revshare_app::void::Voided::Already(row) => println!(
            "({}, {}) was already voided at {} by {}",
            row.source, row.id, row.voided_at, row.actor
        ),
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum StatementCommand {
    /// List closed statements.
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Print a statement: exactly as signed (json; the default when stdout is not a
    /// terminal), as a table (the default on a terminal) or as CSV.
    Show {
        id: String,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// The leaf hashes of one of a statement's trees, in tree order.
    Leaves {
        id: String,
        /// `events`, `prior_period:PERIOD` or `voided:PERIOD`.
        #[arg(long, default_value = "events", value_parser = parse_tree)]
        tree: TreeName,
    },
}

fn parse_tree(text: &str) -> Result<TreeName, String> {
    TreeName::parse(text)
        .ok_or_else(|| format!("\"{text}\" is not a tree: events, prior_period:PERIOD or voided:PERIOD"))
}

pub fn statement(args: &StoreArgs, command: StatementCommand) -> Result<(), Failure> {
    let mut backend = open(args)?;
    match command {
        StatementCommand::List { format: output } => {
            let shown = revshare_app::statements::list(backend.as_mut(), &operator())?;
            format::statement_list(&shown, output)?;
        }
        StatementCommand::Show { id, format: output } => {
            let shown = revshare_app::statements::show(backend.as_mut(), &operator(), &id)?;
            match format::chosen(output) {
                // The stored bytes, exactly as signed.
                Format::Json => println!("{}", shown.json),
                other => {
                    let mut out = std::io::stdout().lock();
                    format::write_statements(&mut out, &[std::sync::Arc::unwrap_or_clone(shown.statement)], other)
                        .map_err(|e| Failure::other(e.to_string()))?;
                }
            }
        }
        StatementCommand::Leaves { id, tree } => {
            let leaves = revshare_app::statements::leaves(backend.as_mut(), &operator(), &id, &tree)?;
            let json = serde_json::json!({
                "statement_id": leaves.statement_id,
                "tree": leaves.tree.to_string(),
                "count": leaves.leaves.len(),
                "leaves": leaves.leaves.iter().map(hex::encode).collect::<Vec<_>>(),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&json).expect("JSON values serialize")
            );
        }
    }
    Ok(())
}

pub fn prove(args: &StoreArgs, statement_id: &str, source: &str, id: &str) -> Result<(), Failure> {
    let mut backend = open(args)?;
    let proof = revshare_app::statements::prove(backend.as_mut(), &operator(), statement_id, source, id)?;
    println!("{}", serde_json::to_string_pretty(&proof).expect("proofs serialize"));
    Ok(())
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Print the public key (JSON) that verifies this store's statements.
    ExportPublic,
    /// Start signing with a new key (the pseudonym key is kept). Statements signed
    /// before keep verifying with the old public key, which stays recorded.
    Rotate {
        /// Where to write the new key file (default, beside an embedded store: it
        /// replaces `<db>.key`, and the old file is kept as `<db>.key.retired-<key id>`).
        #[arg(long)]
        new_key_file: Option<PathBuf>,
    },
}

pub fn key(args: &StoreArgs, command: KeyCommand) -> Result<(), Failure> {
    let mut backend = open(args)?;
    match command {
        KeyCommand::Rotate { new_key_file } => rotate(args, backend.as_mut(), new_key_file)?,
        KeyCommand::ExportPublic => {
            let keys = revshare_app::keys::public_keys(backend.as_mut())?;
            let current = keys
                .last()
                .ok_or_else(|| Failure::input("this store is not initialized; run `revshare init` first"))?;
            println!("{}", serde_json::to_string_pretty(current).expect("keys serialize"));
        }
    }
    Ok(())
}

fn rotate(args: &StoreArgs, backend: &mut dyn Backend, new_key_file: Option<PathBuf>) -> Result<(), Failure> {
    let current_path = key_path(args, Some(&mut *backend))?;
    let current = Keys::open(&current_path, backend)?;
    let replace = new_key_file.is_none();
    let new_path = new_key_file.unwrap_or_else(|| {
        let mut name = current_path.clone().into_os_string();
        name.push(".new");
        PathBuf::from(name)
    });
    let actor = operator();
    let ctx = Ctx::now(&actor);
    let rotated = current.rotate(backend, &new_path, ctx)?;
    let (old_id, new_id) = (current.public().key_id, rotated.public().key_id);
    if !replace {
        println!(
            "the store now signs with key {new_id}, in {}; point --key-file (or REVSHARE_KEY_FILE) at it. {} \
             (key {old_id}) no longer opens the store: keep it as a backup",
            new_path.display(),
            current_path.display()
        );
        return Ok(());
    }
    let mut retired = current_path.clone().into_os_string();
    retired.push(format!(".retired-{old_id}"));
    let retired = PathBuf::from(retired);
    // The checkpoint file goes with the key file it lies beside.
    let checkpoints = |key_file: &Path| {
        rotated
            .store_id()
            .map(|id| revshare_app::keys::checkpoint_path(key_file, id))
    };
    std::fs::rename(&current_path, &retired)
        .and_then(|()| std::fs::rename(&new_path, &current_path))
        .and_then(|()| match (checkpoints(&new_path), checkpoints(&current_path)) {
            (Some(from), Some(to)) => std::fs::rename(from, to),
            _ => Ok(()),
        })
        .map_err(|e| {
            Failure::other(format!(
                "the store signs with key {new_id} now, in {}, but moving the files failed ({e}): rename it to {} \
                 by hand",
                new_path.display(),
                current_path.display()
            ))
        })?;
    println!(
        "the store now signs with key {new_id}, in {}; the old key {old_id} is kept in {} (back both up)",
        current_path.display(),
        retired.display()
    );
    Ok(())
}
