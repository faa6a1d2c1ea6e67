//! The service's own witness (statements.md, Checkpoints and witnesses): the newest
//! checkpoint it signed, kept in a file beside the key file,
//! `<key file>.<store id>.checkpoint` (mode 0600). Someone who can write the database
//! but not the key's folder cannot take the log back behind it: every write checks
//! the new tree extends it, and `audit verify` checks the log against it.
//!
//! The file is replaced atomically (a new file, fsynced, renamed over it) and only by
//! a checkpoint that extends it: a checkpoint this process signed after proving that.
//! Writes of one command or one response are flushed together, before the command
//! exits or the response is sent.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use revshare_core::checkpoint::{open, LogKey, SignedCheckpoint};

use crate::{AppError, Result};

/// The file and what this process knows of it.
pub struct CheckpointFile {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The file's bytes as last read or written, and the checkpoint they hold.
    read: Option<(Vec<u8>, SignedCheckpoint)>,
    /// The newest checkpoint signed here and not yet written.
    pending: Option<SignedCheckpoint>,
}

fn io(path: &Path, what: &str, error: std::io::Error) -> AppError {
    AppError::Store(revshare_store::StoreError::Io(format!(
        "{what} the checkpoint kept beside the key file, {}: {error}",
        path.display()
    )))
}

impl CheckpointFile {
    pub fn new(path: PathBuf) -> CheckpointFile {
        CheckpointFile {
            path,
            state: Mutex::new(State::default()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The checkpoint in the file now (`None` before the first), checked against
    /// the service's keys: one it cannot open is an integrity failure.
    pub(crate) fn on_disk(&self, keys: &[LogKey]) -> Result<Option<SignedCheckpoint>> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&self.path, "cannot read", e)),
        };
        let mut state = self.state();
        if let Some((read, signed)) = &state.read {
            if *read == bytes {
                return Ok(Some(signed.clone()));
            }
        }
        let signed = open(&bytes, keys)
            .map_err(|e| {
                AppError::Integrity(format!(
                    "the checkpoint kept beside the key file, {}, does not open: {e}",
                    self.path.display()
                ))
            })?
            .signed;
        state.read = Some((bytes, signed.clone()));
        Ok(Some(signed))
    }

    /// What the tree must extend: the larger of the file's checkpoint and the one
    /// signed here and not yet written.
    pub fn reference(&self, keys: &[LogKey]) -> Result<Option<SignedCheckpoint>> {
        let on_disk = self.on_disk(keys)?;
        let pending = self.state().pending.clone();
        Ok(match (on_disk, pending) {
            (Some(a), Some(b)) => Some(if b.checkpoint().size() > a.checkpoint().size() {
                b
            } else {
                a
            }),
            (a, b) => a.or(b),
        })
    }

    /// Remembers a checkpoint signed here (after its transaction committed) for the
    /// next [`CheckpointFile::flush`].
    pub(crate) fn advance(&self, signed: SignedCheckpoint) {
        let mut state = self.state();
        let newer = state
            .pending
            .as_ref()
            .is_none_or(|p| signed.checkpoint().size() > p.checkpoint().size());
        if newer {
            state.pending = Some(signed);
        }
    }

    /// Writes the newest checkpoint signed here, unless the file already holds one at
    /// least as large (another process's), and fsyncs it.
    pub fn flush(&self, keys: &[LogKey]) -> Result<()> {
        let Some(pending) = self.state().pending.clone() else {
            return Ok(());
        };
        let _lock = self.lock()?;
        let on_disk = self.on_disk(keys)?;
        if on_disk.is_some_and(|d| d.checkpoint().size() >= pending.checkpoint().size()) {
            self.state().pending = None;
            return Ok(());
        }
        self.write(&pending)?;
        let mut state = self.state();
        if state.pending.as_ref() == Some(&pending) {
            state.pending = None;
        }
        Ok(())
    }

    /// Replaces the file with `signed` whatever it holds (a rollback the operator
    /// accepted, or the first checkpoint of an upgraded store).
    pub fn replace(&self, signed: &SignedCheckpoint) -> Result<()> {
        let _lock = self.lock()?;
        self.write(signed)?;
        self.state().pending = None;
        Ok(())
    }

    fn write(&self, signed: &SignedCheckpoint) -> Result<()> {
        let bytes = signed.note().as_bytes();
        write_private(&self.path, bytes).map_err(|e| io(&self.path, "cannot write", e))?;
        self.state().read = Some((bytes.to_vec(), signed.clone()));
        Ok(())
    }

    /// An exclusive lock on `<file>.lock`, so that processes replace the file in turn.
    fn lock(&self) -> Result<std::fs::File> {
        let mut name = self.path.clone().into_os_string();
        name.push(".lock");
        let file = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&name)
            .map_err(|e| io(&self.path, "cannot lock", e))?;
        file.lock().map_err(|e| io(&self.path, "cannot lock", e))?;
        Ok(file)
    }
}

fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Writes `bytes` to `path` atomically: a new private file beside it, fsynced, renamed
/// over it, the folder fsynced.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}.tmp", std::process::id()));
    let temporary = PathBuf::from(name);
    let mut file = private_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(folder)?.sync_all()?;
    }
    Ok(())
}
