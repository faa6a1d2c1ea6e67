//! `revshare key`: the signing key (export the public key, rotate).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use revshare_app::keys::Keys;
use revshare_app::{Backend, Ctx};

use crate::stateful::{key_path, open, operator};
use crate::{Failure, StoreArgs};

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
