//! [`Ledger`] in SQLite: payments and ledger legs.

use rusqlite::{params, OptionalExtension};

use super::{seq_at, SqliteStore};
use crate::backend::{AccountLeg, Ledger, LegRow, PaymentRow, Result};
use crate::columns::*;
use crate::StoreError;

fn payment_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<PaymentRow>> {
    let payment_id: String = r.get(0)?;
    let status: String = r.get(8)?;
    let status = match crate::payment_status(&payment_id, &status) {
        Ok(status) => status,
        Err(error) => return Ok(Err(error)),
    };
    Ok(Ok(PaymentRow {
        payment_id,
        contract: r.get(1)?,
        currency: r.get(2)?,
        payer: r.get(3)?,
        payee: r.get(4)?,
        amount: r.get(5)?,
        date: r.get(6)?,
        reference: r.get(7)?,
        status,
        recorded_by: r.get(9)?,
        recorded_at: r.get(10)?,
        recorded_seq: seq_at(r, 11, "payments", 0)?,
        confirmed_by: r.get(12)?,
        confirmed_at: r.get(13)?,
        withdrawn_by: r.get(14)?,
        withdrawn_at: r.get(15)?,
        reversed_by: r.get(16)?,
        reversed_at: r.get(17)?,
        reversal_reason: r.get(18)?,
        seq: seq_at(r, 19, "payments", 0)?,
    }))
}

fn leg_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LegRow> {
    Ok(LegRow {
        txn: r.get(0)?,
        contract: r.get(1)?,
        currency: r.get(2)?,
        host: r.get(3)?,
        beneficiary: r.get(4)?,
        side: r.get(5)?,
        amount: r.get(6)?,
        day: r.get(7)?,
        due: r.get(8)?,
        seq: seq_at(r, 9, "ledger_legs", 0)?,
    })
}

impl Ledger for SqliteStore {
    fn add_payment(&mut self, row: &PaymentRow) -> Result<()> {
        self.connection.execute(
            &format!(
                "INSERT INTO payments ({PAYMENT_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
            ),
            params![
                row.payment_id,
                row.contract,
                row.currency,
                row.payer,
                row.payee,
                row.amount,
                row.date,
                row.reference,
                row.status.as_str(),
                row.recorded_by,
                row.recorded_at,
                crate::seq_i64(row.recorded_seq)?,
                row.confirmed_by,
                row.confirmed_at,
                row.withdrawn_by,
                row.withdrawn_at,
                row.reversed_by,
                row.reversed_at,
                row.reversal_reason,
                crate::seq_i64(row.seq)?
            ],
        )?;
        Ok(())
    }

    fn update_payment(&mut self, row: &PaymentRow) -> Result<()> {
        let changed = self.connection.execute(
            "UPDATE payments SET status = ?2, confirmed_by = ?3, confirmed_at = ?4, withdrawn_by = ?5,
                    withdrawn_at = ?6, reversed_by = ?7, reversed_at = ?8, reversal_reason = ?9, seq = ?10
             WHERE payment_id = ?1",
            params![
                row.payment_id,
                row.status.as_str(),
                row.confirmed_by,
                row.confirmed_at,
                row.withdrawn_by,
                row.withdrawn_at,
                row.reversed_by,
                row.reversed_at,
                row.reversal_reason,
                crate::seq_i64(row.seq)?
            ],
        )?;
        match changed {
            1 => Ok(()),
            _ => Err(StoreError::Database(format!(
                "payment {} is not stored",
                row.payment_id
            ))),
        }
    }

    fn payment(&mut self, payment_id: &str) -> Result<Option<PaymentRow>> {
        let row = self
            .connection
            .query_row(
                &format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE payment_id = ?1"),
                [payment_id],
                payment_from_row,
            )
            .optional()?;
        row.transpose()
    }

    fn payments(&mut self) -> Result<Vec<PaymentRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments ORDER BY recorded_seq, payment_id"
        ))?;
        let rows = statement.query_map([], payment_from_row)?;
        rows.map(|r| r?).collect()
    }

    fn add_legs(&mut self, legs: &[LegRow]) -> Result<()> {
        let mut insert = self.connection.prepare_cached(&format!(
            "INSERT INTO ledger_legs ({LEG_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ))?;
        for leg in legs {
            insert.execute(params![
                leg.txn,
                leg.contract,
                leg.currency,
                leg.host,
                leg.beneficiary,
                leg.side,
                leg.amount,
                leg.day,
                leg.due,
                crate::seq_i64(leg.seq)?
            ])?;
        }
        Ok(())
    }

    fn legs(&mut self) -> Result<Vec<LegRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {LEG_COLUMNS} FROM ledger_legs ORDER BY seq, txn, beneficiary, side"
        ))?;
        let rows = statement.query_map([], leg_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn scan_receivable(&mut self, visit: &mut dyn FnMut(&AccountLeg<'_>) -> Result<()>) -> Result<()> {
        let mut statement = self.connection.prepare_cached(
            "SELECT host, beneficiary, contract, currency, amount, day, due FROM ledger_legs
             WHERE side = 'receivable' ORDER BY host, beneficiary, contract, currency",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let text = |i: usize| -> Result<&str> { Ok(row.get_ref(i)?.as_str().map_err(rusqlite::Error::from)?) };
            visit(&AccountLeg {
                host: text(0)?,
                beneficiary: text(1)?,
                contract: text(2)?,
                currency: text(3)?,
                amount: text(4)?,
                day: row.get(5)?,
                due: row.get(6)?,
            })?;
        }
        Ok(())
    }
}
