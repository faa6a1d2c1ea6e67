//! [`Disputes`] in PostgreSQL.

use revshare_core::audit::Seq;
use revshare_core::contract::Party;
use revshare_core::dispute::DisputeStatus;

use super::{seq_at, PgStore};
use crate::backend::{DisputeRow, DisputeText, Disputes, Result, DISPUTE_COLUMNS};
use crate::StoreError;

fn dispute_from_row(r: &postgres::Row) -> Result<DisputeRow> {
    let mut row = DisputeRow {
        dispute_id: r.try_get(0)?,
        contract: r.try_get(1)?,
        statement_id: r.try_get(2)?,
        model: r.try_get(3)?,
        use_case: r.try_get(4)?,
        opener: r.try_get(5)?,
        opener_side: Party::Host,
        counterparty: r.try_get(7)?,
        reason: r.try_get(8)?,
        claim: r.try_get(9)?,
        evidence: Vec::new(),
        window_ends: r.try_get(11)?,
        status: DisputeStatus::Open,
        amount: r.try_get(13)?,
        steps: Vec::new(),
        opened_seq: seq_at(r, 15, "dispute", 0)?,
        resolved_seq: None,
        seq: seq_at(r, 17, "dispute", 0)?,
    };
    DisputeText {
        opener_side: r.try_get(6)?,
        evidence: r.try_get(10)?,
        status: r.try_get(12)?,
        steps: r.try_get(14)?,
    }
    .decode(&mut row)?;
    let resolved: Option<i64> = r.try_get(16)?;
    row.resolved_seq = match resolved {
        None => None,
        Some(stored) => Some(crate::stored_seq(stored, || format!("dispute:{}", row.dispute_id))?),
    };
    Ok(row)
}

fn stored(seq: Option<Seq>) -> Result<Option<i64>> {
    seq.map(crate::seq_i64).transpose()
}

impl Disputes for PgStore {
    fn add_dispute(&mut self, row: &DisputeRow) -> Result<()> {
        let text = DisputeText::of(row);
        self.execute(
            &format!(
                "INSERT INTO disputes ({DISPUTE_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
            ),
            &[
                &row.dispute_id,
                &row.contract,
                &row.statement_id,
                &row.model,
                &row.use_case,
                &row.opener,
                &text.opener_side,
                &row.counterparty,
                &row.reason,
                &row.claim,
                &text.evidence,
                &row.window_ends,
                &text.status,
                &row.amount,
                &text.steps,
                &crate::seq_i64(row.opened_seq)?,
                &stored(row.resolved_seq)?,
                &crate::seq_i64(row.seq)?,
            ],
        )?;
        Ok(())
    }

    fn update_dispute(&mut self, row: &DisputeRow) -> Result<()> {
        let text = DisputeText::of(row);
        let changed = self.execute(
            "UPDATE disputes SET status = $2, amount = $3, steps = $4, resolved_seq = $5, seq = $6
             WHERE dispute_id = $1",
            &[
                &row.dispute_id,
                &text.status,
                &row.amount,
                &text.steps,
                &stored(row.resolved_seq)?,
                &crate::seq_i64(row.seq)?,
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
        self.query_opt(
            &format!("SELECT {DISPUTE_COLUMNS} FROM disputes WHERE dispute_id = $1"),
            &[&dispute_id],
        )?
        .map(|r| dispute_from_row(&r))
        .transpose()
    }

    fn disputes(&mut self) -> Result<Vec<DisputeRow>> {
        self.query(
            &format!("SELECT {DISPUTE_COLUMNS} FROM disputes ORDER BY opened_seq, dispute_id"),
            &[],
        )?
        .iter()
        .map(dispute_from_row)
        .collect()
    }

    fn disputes_of(&mut self, contract: &str) -> Result<Vec<DisputeRow>> {
        self.query(
            &format!("SELECT {DISPUTE_COLUMNS} FROM disputes WHERE contract = $1 ORDER BY opened_seq, dispute_id"),
            &[&contract],
        )?
        .iter()
        .map(dispute_from_row)
        .collect()
    }
}
