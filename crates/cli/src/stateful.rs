//! Opening a store and its keys for the commands that work on one (`commands/`,
//! one file a noun), and `init`.

use std::path::{Path, PathBuf};

use revshare_app::keys::Keys;
use revshare_app::{Actor, Backend, Ctx, Location};

use crate::{Failure, StoreArgs};

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
pub fn key_path(args: &StoreArgs, backend: Option<&mut dyn Backend>) -> Result<PathBuf, Failure> {
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

pub fn file_name(path: &Path) -> String {
    path.display().to_string()
}
