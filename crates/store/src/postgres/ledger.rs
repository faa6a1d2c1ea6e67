//! [`Ledger`] in PostgreSQL: payments and ledger legs.

use super::{seq_at, PgStore};
use crate::backend::{AccountLeg, Ledger, LegRow, PaymentRow, Result};
use crate::columns::*;
use crate::StoreError;

fn payment_from_row(r: &postgres::Row) -> Result<PaymentRow> {
    let payment_id: String = r.get(0);
    let status = crate::payment_status(&payment_id, r.get(8))?;
    Ok(PaymentRow {
        payment_id,
        contract: r.get(1),
        currency: r.get(2),
        payer: r.get(3),
        payee: r.get(4),
        amount: r.get(5),
        date: r.get(6),
        reference: r.get(7),
        status,
        recorded_by: r.get(9),
        recorded_at: r.get(10),
        recorded_seq: seq_at(r, 11, "payments", 0)?,
        confirmed_by: r.get(12),
        confirmed_at: r.get(13),
        withdrawn_by: r.get(14),
        withdrawn_at: r.get(15),
        reversed_by: r.get(16),
        reversed_at: r.get(17),
        reversal_reason: r.get(18),
        seq: seq_at(r, 19, "payments", 0)?,
    })
}

fn leg_from_row(r: &postgres::Row) -> Result<LegRow> {
    Ok(LegRow {
        txn: r.get(0),
        contract: r.get(1),
        currency: r.get(2),
        host: r.get(3),
        beneficiary: r.get(4),
        side: r.get(5),
        amount: r.get(6),
        day: r.get(7),
        due: r.get(8),
        seq: seq_at(r, 9, "ledger_legs", 0)?,
    })
}

impl Ledger for PgStore {
    fn add_payment(&mut self, row: &PaymentRow) -> Result<()> {
        self.execute(
            &format!(
                "INSERT INTO payments ({PAYMENT_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
            ),
            &[
                &row.payment_id,
                &row.contract,
                &row.currency,
                &row.payer,
                &row.payee,
                &row.amount,
                &row.date,
                &row.reference,
                &row.status.as_str(),
                &row.recorded_by,
                &row.recorded_at,
                &crate::seq_i64(row.recorded_seq)?,
                &row.confirmed_by,
                &row.confirmed_at,
                &row.withdrawn_by,
                &row.withdrawn_at,
                &row.reversed_by,
                &row.reversed_at,
                &row.reversal_reason,
                &crate::seq_i64(row.seq)?,
            ],
        )?;
        Ok(())
    }

    fn update_payment(&mut self, row: &PaymentRow) -> Result<()> {
        let changed = self.execute(
            "UPDATE payments SET status = $2, confirmed_by = $3, confirmed_at = $4, withdrawn_by = $5,
                    withdrawn_at = $6, reversed_by = $7, reversed_at = $8, reversal_reason = $9, seq = $10
             WHERE payment_id = $1",
            &[
                &row.payment_id,
                &row.status.as_str(),
                &row.confirmed_by,
                &row.confirmed_at,
                &row.withdrawn_by,
                &row.withdrawn_at,
                &row.reversed_by,
                &row.reversed_at,
                &row.reversal_reason,
                &crate::seq_i64(row.seq)?,
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
        self.query_opt(
            &format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE payment_id = $1"),
            &[&payment_id],
        )?
        .as_ref()
        .map(payment_from_row)
        .transpose()
    }

    fn payments(&mut self) -> Result<Vec<PaymentRow>> {
        self.query(
            &format!("SELECT {PAYMENT_COLUMNS} FROM payments ORDER BY recorded_seq, payment_id"),
            &[],
        )?
        .iter()
        .map(payment_from_row)
        .collect()
    }

    fn add_legs(&mut self, legs: &[LegRow]) -> Result<()> {
        let sql = format!("INSERT INTO ledger_legs ({LEG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
        for leg in legs {
            self.execute(
                &sql,
                &[
                    &leg.txn,
                    &leg.contract,
                    &leg.currency,
                    &leg.host,
                    &leg.beneficiary,
                    &leg.side,
                    &leg.amount,
                    &leg.day,
                    &leg.due,
                    &crate::seq_i64(leg.seq)?,
                ],
            )?;
        }
        Ok(())
    }

    fn legs(&mut self) -> Result<Vec<LegRow>> {
        self.query(
            &format!("SELECT {LEG_COLUMNS} FROM ledger_legs ORDER BY seq, txn, beneficiary, side"),
            &[],
        )?
        .iter()
        .map(leg_from_row)
        .collect()
    }

    fn scan_receivable(&mut self, visit: &mut dyn FnMut(&AccountLeg<'_>) -> Result<()>) -> Result<()> {
        // One row an account, its legs as arrays: a tenth of the rows and bytes that
        // a row a leg costs on the wire.
        let rows = self.query(
            "SELECT host, beneficiary, contract, currency, array_agg(amount), array_agg(day), array_agg(due)
             FROM ledger_legs WHERE side = 'receivable'
             GROUP BY host, beneficiary, contract, currency ORDER BY host, beneficiary, contract, currency",
            &[],
        )?;
        for row in &rows {
            let (host, beneficiary, contract, currency) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
            let amounts: Vec<&str> = row.try_get(4)?;
            let days: Vec<i32> = row.try_get(5)?;
            let dues: Vec<Option<i32>> = row.try_get(6)?;
            for ((amount, day), due) in amounts.into_iter().zip(days).zip(dues) {
                visit(&AccountLeg {
                    host,
                    beneficiary,
                    contract,
                    currency,
                    amount,
                    day,
                    due,
                })?;
            }
        }
        Ok(())
    }
}
