//! `revshare store`: the store as a whole (copy it into another and retire it).

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use revshare_app::store_copy::{self, CopyProgress};
use revshare_app::{Ctx, Location};

use crate::stateful::{key_path, keys, open, operator};
use crate::{Failure, StoreArgs};

#[derive(Subcommand)]
pub enum StoreCommand {
    /// Copy the whole store (its audit log, checkpoints, keys' records, every row)
    /// into a new, empty store, then retire this one: it keeps answering reads and
    /// refuses every write, so that the log never forks.
    Copy {
        /// The new store: a PostgreSQL URL (postgres://USER@HOST/DATABASE, the
        /// database created and empty) or an SQLite file that is new or empty.
        #[arg(long, value_name = "URL|FILE")]
        to: String,
        /// The target's key file: a copy of this store's key file is written there
        /// [default: this store's key file for PostgreSQL, `<FILE>.key` for a file].
        #[arg(long, value_name = "FILE")]
        to_key_file: Option<PathBuf>,
    },
}

pub fn store(args: &StoreArgs, command: StoreCommand) -> Result<(), Failure> {
    match command {
        StoreCommand::Copy { to, to_key_file } => copy(args, &to, to_key_file),
    }
}

fn copy(args: &StoreArgs, to: &str, to_key_file: Option<PathBuf>) -> Result<(), Failure> {
    let target_location = if to.starts_with("postgres://") || to.starts_with("postgresql://") {
        Location::Postgres(to.to_string())
    } else {
        Location::Sqlite(PathBuf::from(to))
    };
    if target_location == args.location() {
        return Err(Failure::input(format!(
            "--to names this store ({}): give a new database or file",
            target_location.describe()
        )));
    }
    let mut source = open(args)?;
    let key_file = key_path(args, Some(source.as_mut()))?;
    let keys = keys(args, source.as_mut())?;
    let target_key_file = to_key_file.unwrap_or_else(|| match &target_location {
        Location::Postgres(_) => key_file.clone(),
        Location::Sqlite(path) => {
            let mut name = path.clone().into_os_string();
            name.push(".key");
            PathBuf::from(name)
        }
    });
    store_copy::check_target_key_file(&key_file, &target_key_file)?;
    if let Location::Sqlite(path) = &target_location {
        revshare_app::check_parent(path)?;
    }
    let mut target = revshare_app::open(&target_location)?;
    let target_name = target_location.describe();
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(0).with_style(
            ProgressStyle::with_template("copying {wide_bar} {human_pos}/{human_len} rows ({msg}), {eta} left")
                .expect("a valid template"),
        )
    } else {
        ProgressBar::hidden()
    };
    let actor = operator();
    let copied = store_copy::copy_store(
        source.as_mut(),
        &keys,
        Ctx::now(&actor),
        target.as_mut(),
        &target_name,
        &mut |step| match step {
            CopyProgress::Started { rows } => bar.set_length(rows),
            CopyProgress::Copied { table, rows } => {
                bar.set_message(table);
                bar.inc(rows);
            }
        },
    );
    bar.finish_and_clear();
    let copied = copied?;
    store_copy::place_target_key_file(&keys, &key_file, &target_key_file)?;
    let rows: u64 = copied.tables.iter().map(|(_, n)| n).sum();
    let open_target = match &target_location {
        Location::Postgres(url) => format!(
            "--database-url {} --key-file {}",
            revshare_app::redact_url(url),
            target_key_file.display()
        ),
        Location::Sqlite(path) if to_default_key(path, &target_key_file) => format!("--db {}", path.display()),
        Location::Sqlite(path) => format!("--db {} --key-file {}", path.display(), target_key_file.display()),
    };
    println!(
        "copied store {} to {target_name}: {rows} rows in {} tables, the audit log's {} entries included",
        copied.store_id,
        copied.tables.len(),
        copied.entry.seq
    );
    println!(
        "{} is retired by audit entry {} (store_copied), which the copy holds too: it answers reads and refuses \
         writes from now on",
        args.location().describe(),
        copied.entry.seq
    );
    println!("use the copy with {open_target}; `revshare audit verify` checks it whole");
    Ok(())
}

/// Whether the key file is the one commands find beside the file by default.
fn to_default_key(path: &std::path::Path, key_file: &std::path::Path) -> bool {
    let mut name = path.as_os_str().to_owned();
    name.push(".key");
    name == key_file.as_os_str()
}
