//! [`Disputes`] in SQLite.

use revshare_core::audit::Seq;
use revshare_core::contract::Party;
use revshare_core::dispute::DisputeStatus;
use rusqlite::{params, OptionalExtension};

use super::{seq_at, SqliteStore};
use crate::backend::{DisputeRow, DisputeText, Disputes, Result, DISPUTE_COLUMNS};
use crate::StoreError;

fn dispute_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<DisputeRow>> {
    let resolved: Option<i64> = r.get(16)?;
    let mut row = DisputeRow {
        dispute_id: r.get(0)?,
        contract: r.get(1)?,
        statement_id: r.get(2)?,
        model: r.get(3)?,
        use_case: r.get(4)?,
        opener: r.get(5)?,
        opener_side: Party::Host,
        counterparty: r.get(7)?,
        reason: r.get(8)?,
        claim: r.get(9)?,
        evidence: Vec::new(),
        window_ends: r.get(11)?,
        status: DisputeStatus::Open,
        amount: r.get(13)?,
        steps: Vec::new(),
        opened_seq: seq_at(r, 15, "dispute", 0)?,
        resolved_seq: None,
        seq: seq_at(r, 17, "dispute", 0)?,
    };
    let text = DisputeText {
        opener_side: r.get(6)?,
        evidence: r.get(10)?,
        status: r.get(12)?,
        steps: r.get(14)?,
    };
    let decoded = text.decode(&mut row).and_then(|()| {
        row.resolved_seq = match resolved {
            None => None,
            Some(stored) => Some(crate::stored_seq(stored, || format!("dispute:{}", row.dispute_id))?),
        };
        Ok(())
    });
    Ok(decoded.map(|()| row))
}

fn stored(seq: Option<Seq>) -> Result<Option<i64>> {
    seq.map(crate::seq_i64).transpose()
}

impl Disputes for SqliteStore {
    fn add_dispute(&mut self, row: &DisputeRow) -> Result<()> {
        let text = DisputeText::of(row);
        self.connection.execute(
            &format!(
                "INSERT INTO disputes ({DISPUTE_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
            ),
            params![
                row.dispute_id,
                row.contract,
                row.statement_id,
                row.model,
                row.use_case,
                row.opener,
                text.opener_side,
                row.counterparty,
                row.reason,
                row.claim,
                text.evidence,
                row.window_ends,
                text.status,
                row.amount,
                text.steps,
                crate::seq_i64(row.opened_seq)?,
                stored(row.resolved_seq)?,
                crate::seq_i64(row.seq)?
            ],
        )?;
        Ok(())
    }

    fn update_dispute(&mut self, row: &DisputeRow) -> Result<()> {
        let text = DisputeText::of(row);
        let changed = self.connection.execute(
            "UPDATE disputes SET status = ?2, amount = ?3, steps = ?4, resolved_seq = ?5, seq = ?6
             WHERE dispute_id = ?1",
            params![
                row.dispute_id,
                text.status,
                row.amount,
                text.steps,
                stored(row.resolved_seq)?,
                crate::seq_i64(row.seq)?
            ],
        )?;
        match changed {
            1 => Ok(()),
            _ => Err(StoreError::Database(format!(
                "dispute {} is not stored",
                row.dispute_id
            ))),
        }
    }

    fn dispute(&mut self, dispute_id: &str) -> Result<Option<DisputeRow>> {
        self.connection
            .query_row(
                &format!("SELECT {DISPUTE_COLUMNS} FROM disputes WHERE dispute_id = ?1"),
                [dispute_id],
                dispute_from_row,
            )
            .optional()?
            .transpose()
    }

    fn disputes(&mut self) -> Result<Vec<DisputeRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {DISPUTE_COLUMNS} FROM disputes ORDER BY opened_seq, dispute_id"
        ))?;
        let rows = statement.query_map([], dispute_from_row)?;
        rows.map(|r| r?).collect()
    }

    fn disputes_of(&mut self, contract: &str) -> Result<Vec<DisputeRow>> {
        let mut statement = self.connection.prepare_cached(&format!(
            "SELECT {DISPUTE_COLUMNS} FROM disputes WHERE contract = ?1 ORDER BY opened_seq, dispute_id"
        ))?;
        let rows = statement.query_map([contract], dispute_from_row)?;
        rows.map(|r| r?).collect()
    }
}
