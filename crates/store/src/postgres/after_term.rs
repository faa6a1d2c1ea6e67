//! [`AfterTerm`] on PostgreSQL.

use super::{seq_at, statement_id_at, PgStore};
use crate::backend::{AfterTerm, ClosedAfterTermRow, Result};
use crate::columns::CLOSED_AFTER_TERM_COLUMNS;

impl AfterTerm for PgStore {
    fn add_closed_after_term(&mut self, row: &ClosedAfterTermRow) -> Result<bool> {
        let (close_seq, seq) = (crate::seq_i64(row.close_seq)?, crate::seq_i64(row.seq)?);
        let inserted = self.execute(
            &format!(
                "INSERT INTO closed_after_term ({CLOSED_AFTER_TERM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (statement_id) DO NOTHING"
            ),
            &[
                &row.statement_id.as_str(),
                &row.contract,
                &row.period,
                &close_seq,
                &row.settled,
                &row.closed_at,
                &seq,
            ],
        )?;
        Ok(inserted == 1)
    }

    fn closed_after_term(&mut self) -> Result<Vec<ClosedAfterTermRow>> {
        self.query(
            &format!("SELECT {CLOSED_AFTER_TERM_COLUMNS} FROM closed_after_term ORDER BY contract, period"),
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(ClosedAfterTermRow {
                statement_id: statement_id_at(r, 0, "closed_after_term")?,
                contract: r.get(1),
                period: r.get(2),
                close_seq: seq_at(r, 3, "closed_after_term", 0)?,
                settled: r.get(4),
                closed_at: r.get(5),
                seq: seq_at(r, 6, "closed_after_term", 0)?,
            })
        })
        .collect()
    }
}
