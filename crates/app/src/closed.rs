//! Closed statements as read back from the store: the signature checked over the
//! stored bytes, the signed id the row's, and the row the one its audit entry
//! hashes. A [`ClosedStatement`] is made only here, so code that holds one cannot
//! have skipped a check, and a rated statement (unsigned, from `rate_statement`)
//! cannot be passed where a closed one is required.

use std::collections::HashMap;
use std::sync::Arc;

use revshare_core::audit::Entry;
use revshare_core::statement::{Statement, StatementId};
use revshare_core::verify::{PublicKey, VerifiedStatement};
use revshare_store::backend::{StatementRead, StatementRow};

use crate::{AppError, Backend, Result};

/// A closed statement as stored: its row (the exact signed bytes and the close's
/// columns) and the statement verified over those bytes.
#[derive(Clone, Debug)]
pub struct ClosedStatement {
    verified: VerifiedStatement,
    row: StatementRow,
}

impl ClosedStatement {
    pub fn statement(&self) -> &Statement {
        self.verified.statement()
    }

    /// The statement, shared with this check (no copy).
    pub fn shared(&self) -> Arc<Statement> {
        self.verified.shared()
    }

    /// The exact stored (signed) bytes.
    pub fn json(&self) -> &str {
        &self.row.json
    }

    pub fn row(&self) -> &StatementRow {
        &self.row
    }

    pub fn id(&self) -> &str {
        &self.row.statement_id
    }

    /// SHA-256 of the JCS of the full signed statement.
    pub fn sha256(&self) -> &str {
        self.verified.sha256()
    }
}

/// Statements checked over their stored bytes, each once per use case.
pub struct VerifiedStatements {
    keys: Vec<PublicKey>,
    checked: HashMap<StatementId, ClosedStatement>,
}

impl VerifiedStatements {
    pub fn new(keys: Vec<PublicKey>) -> VerifiedStatements {
        VerifiedStatements {
            keys,
            checked: HashMap::new(),
        }
    }

    /// The statement of a stored row, after its signature is checked over the stored
    /// bytes and the row (with what it records of settlement) against its audit
    /// entry; a failed check names the statement and nothing is built on it.
    pub fn get(&mut self, backend: &mut dyn Backend, row: &StatementRow) -> Result<&ClosedStatement> {
        if !self.checked.contains_key(&row.statement_id) {
            let verified = verify_row(row.clone(), &self.keys, |seq| Ok(backend.audit_entry(seq)?))?;
            self.checked.insert(row.statement_id.clone(), verified);
        }
        Ok(&self.checked[&row.statement_id])
    }
}

/// The statement of a row read with its audit entry and keys, checked as
/// [`VerifiedStatements::get`] checks one.
pub fn verify_read(read: StatementRead) -> Result<ClosedStatement> {
    let keys = crate::keys::public_keys_of(read.keys);
    let entry = read.entry;
    verify_row(read.row, &keys, |_| Ok(entry))
}

fn verify_row(
    row: StatementRow,
    keys: &[PublicKey],
    entry: impl FnOnce(revshare_core::audit::Seq) -> Result<Option<Entry>>,
) -> Result<ClosedStatement> {
    let (verified, payload) = memo::verify(&row, keys).map_err(|e| {
        AppError::Integrity(format!(
            "stored statement {} fails verification: {e}; it was altered after it was signed",
            row.statement_id
        ))
    })?;
    if verified.id() != row.statement_id.as_str() {
        return Err(AppError::Integrity(format!(
            "stored statement {} holds the signed statement {}",
            row.statement_id,
            verified.id()
        )));
    }
    check_row(&row, &payload, entry(row.seq)?)?;
    Ok(ClosedStatement { verified, row })
}

/// Signature checks already made by this process. A check is a function of the
/// stored row and the keys alone, so the same row checked with the same keys gives
/// the same statement: a hit compares both in full, and any changed byte or key is
/// checked afresh. (A server reads the same few statements again and again, and
/// checking one costs more than the rest of the request.) The row's payload digest
/// is kept beside it; the row is still checked against its audit entry, read anew,
/// on every use.
mod memo {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use revshare_core::statement::StatementId;
    use revshare_core::verify::{verify_statement_bytes, PublicKey, VerifiedStatement, VerifyError};
    use revshare_store::backend::StatementRow;

    /// The statement bytes kept at most; past it the memo starts over.
    const BYTES_MAX: usize = 64 << 20;

    struct Checked {
        row: StatementRow,
        keys: Vec<PublicKey>,
        statement: VerifiedStatement,
        payload: [u8; 32],
    }

    #[derive(Default)]
    struct Memo {
        by_id: HashMap<StatementId, Checked>,
        bytes_total: usize,
    }

    static MEMO: Mutex<Option<Memo>> = Mutex::new(None);

    /// The statement of a row, checked, and the digest of the row's columns.
    pub fn verify(row: &StatementRow, keys: &[PublicKey]) -> Result<(VerifiedStatement, [u8; 32]), VerifyError> {
        let hit = MEMO
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|memo| memo.by_id.get(&row.statement_id))
            .filter(|c| c.row == *row && c.keys == keys)
            .map(|c| (c.statement.clone(), c.payload));
        if let Some(hit) = hit {
            return Ok(hit);
        }
        let statement = verify_statement_bytes(row.json.as_bytes(), keys)?;
        let payload = crate::rows::payload(row);
        if row.json.len() <= BYTES_MAX {
            let mut guard = MEMO.lock().unwrap_or_else(|p| p.into_inner());
            let memo = guard.get_or_insert_with(Memo::default);
            if memo.bytes_total + row.json.len() > BYTES_MAX {
                *memo = Memo::default();
            }
            let checked = Checked {
                row: row.clone(),
                keys: keys.to_vec(),
                statement: statement.clone(),
                payload,
            };
            memo.bytes_total += row.json.len();
            if let Some(replaced) = memo.by_id.insert(row.statement_id.clone(), checked) {
                memo.bytes_total -= replaced.row.json.len();
            }
        }
        Ok((statement, payload))
    }
}

/// Checks a statement row against the entry it names: its columns beside the signed
/// JSON (`close_seq`, `settled`) are what later closes rely on.
fn check_row(row: &StatementRow, payload: &[u8; 32], entry: Option<Entry>) -> Result<()> {
    let holds = entry.is_some_and(|e| {
        e.action == revshare_core::audit::Action::StatementClosed
            && e.object == crate::rows::object::statement(&row.statement_id)
            && e.payload_sha256 == hex::encode(payload)
    });
    if !holds {
        return Err(AppError::Integrity(format!(
            "stored statement {} does not match its audit entry {}: it was altered after it was closed",
            row.statement_id, row.seq
        )));
    }
    Ok(())
}
