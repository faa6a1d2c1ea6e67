//! [`Tables`] in SQLite: parties, tokens, contracts, FX, registries, contributions,
//! idempotency keys and jobs.

use rusqlite::{params, OptionalExtension};

use super::{seq_at, SqliteStore};
use crate::backend::{
    ContractRow, ContributionRow, FxRow, IdempotencyRow, JobRow, PartyRow, RegistryRow, Result, Tables, TokenRow,
};
use crate::columns::*;

fn token_columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<crate::TokenColumns> {
    Ok(crate::TokenColumns {
        token_id: r.get(0)?,
        party: r.get(1)?,
        role: r.get(2)?,
        contracts: r.get(3)?,
        expires: r.get(4)?,
        sha256: r.get(5)?,
        created_at: r.get(6)?,
        revoked_at: r.get(7)?,
        seq: r.get(8)?,
    })
}

fn contribution_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<ContributionRow>> {
    let number: i64 = r.get(0)?;
    let (by, kind, status): (String, String, String) = (r.get(2)?, r.get(3)?, r.get(5)?);
    let contract: String = r.get(1)?;
    let (by, kind, status) = match crate::contribution_enums(&contract, number, &by, &kind, &status) {
        Ok(enums) => enums,
        Err(error) => return Ok(Err(error)),
    };
    Ok(Ok(ContributionRow {
        number,
        contract,
        by,
        kind,
        date: r.get(4)?,
        status,
        reference: r.get(6)?,
        proposed_by: r.get(7)?,
        proposed_at: r.get(8)?,
        proposed_seq: seq_at(r, 9, "contributions", 0)?,
        decided_by: r.get(10)?,
        decided_at: r.get(11)?,
        decided_seq: match r.get::<_, Option<i64>>(12)? {
            Some(_) => Some(seq_at(r, 12, "contributions", 0)?),
            None => None,
        },
        seq: seq_at(r, 13, "contributions", 0)?,
    }))
}

impl Tables for SqliteStore {
    fn add_party(&mut self, row: &PartyRow) -> Result<()> {
        self.connection.execute(
            "INSERT INTO parties (id, name, created_at, seq) VALUES (?1, ?2, ?3, ?4)",
            params![row.id, row.name, row.created_at, crate::seq_i64(row.seq)?],
        )?;
        Ok(())
    }

    fn update_party(&mut self, row: &PartyRow) -> Result<()> {
        let changed = self.connection.execute(
            "UPDATE parties SET name = ?2, seq = ?3 WHERE id = ?1",
            params![row.id, row.name, crate::seq_i64(row.seq)?],
        )?;
        crate::one_text_row(changed, "party", &row.id)
    }

    fn parties(&mut self) -> Result<Vec<PartyRow>> {
        let mut statement = self
            .connection
            .prepare("SELECT id, name, created_at, seq FROM parties ORDER BY id")?;
        let rows = statement.query_map([], |r| {
            Ok(PartyRow {
                id: r.get(0)?,
                name: r.get(1)?,
                created_at: r.get(2)?,
                seq: seq_at(r, 3, "parties", 0)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_token(&mut self, row: &TokenRow) -> Result<()> {
        self.connection.execute(
            &format!("INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            params![
                row.token_id,
                row.party,
                row.role.as_str(),
                crate::contracts_json(&row.contracts),
                row.expires,
                row.sha256,
                row.created_at,
                row.revoked_at,
                crate::seq_i64(row.seq)?
            ],
        )?;
        Ok(())
    }

    fn update_token(&mut self, row: &TokenRow) -> Result<()> {
        let changed = self.connection.execute(
            "UPDATE tokens SET revoked_at = ?2, seq = ?3 WHERE token_id = ?1",
            params![row.token_id, row.revoked_at, crate::seq_i64(row.seq)?],
        )?;
        crate::one_text_row(changed, "token", &row.token_id)
    }

    fn tokens(&mut self) -> Result<Vec<TokenRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, token_id"
        ))?;
        let rows = statement.query_map([], token_columns)?;
        rows.map(|r| crate::token_from_columns(r?)).collect()
    }

    fn token(&mut self, token_id: &str) -> Result<Option<TokenRow>> {
        let row = self
            .connection
            .query_row(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_id = ?1"),
                [token_id],
                token_columns,
            )
            .optional()?;
        row.map(crate::token_from_columns).transpose()
    }

    fn add_contract(&mut self, row: &ContractRow) -> Result<()> {
        self.connection.execute(
            "INSERT INTO contracts (id, version, licensor, host, file_name, sha256, toml, added_at, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                row.id,
                row.version,
                row.licensor,
                row.host,
                row.file_name,
                row.sha256,
                row.toml,
                row.added_at,
                crate::seq_i64(row.seq)?
            ],
        )?;
        Ok(())
    }

    fn contracts(&mut self) -> Result<Vec<ContractRow>> {
        let mut statement = self.connection.prepare(
            "SELECT id, version, licensor, host, file_name, sha256, toml, added_at, seq
             FROM contracts ORDER BY id, version",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(ContractRow {
                id: r.get(0)?,
                version: r.get(1)?,
                licensor: r.get(2)?,
                host: r.get(3)?,
                file_name: r.get(4)?,
                sha256: r.get(5)?,
                toml: r.get(6)?,
                added_at: r.get(7)?,
                seq: seq_at(r, 8, "contracts", 0)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_fx(&mut self, rows: &[FxRow]) -> Result<()> {
        let mut insert = self.connection.prepare_cached(
            "INSERT INTO fx_rates (date, from_currency, to_currency, rate, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for row in rows {
            insert.execute(params![row.date, row.from, row.to, row.rate, crate::seq_i64(row.seq)?])?;
        }
        Ok(())
    }

    fn fx(&mut self) -> Result<Vec<FxRow>> {
        let mut statement = self.connection.prepare(
            "SELECT date, from_currency, to_currency, rate, seq FROM fx_rates
             ORDER BY from_currency, to_currency, date",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(FxRow {
                date: r.get(0)?,
                from: r.get(1)?,
                to: r.get(2)?,
                rate: r.get(3)?,
                seq: seq_at(r, 4, "fx_rates", 0)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_registry(&mut self, row: &RegistryRow) -> Result<()> {
        self.connection.execute(
            "INSERT INTO registry_versions (version, effective_from, file_name, added_at, rows, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                row.version,
                row.effective_from,
                row.file_name,
                row.added_at,
                crate::registry_rows_json(&row.rows),
                crate::seq_i64(row.seq)?
            ],
        )?;
        Ok(())
    }

    fn registries(&mut self) -> Result<Vec<RegistryRow>> {
        let mut statement = self.connection.prepare(
            "SELECT version, effective_from, file_name, added_at, rows, seq FROM registry_versions ORDER BY version",
        )?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i32>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        rows.map(|row| {
            let (version, effective_from, file_name, added_at, rows, seq) = row?;
            Ok(RegistryRow {
                version,
                effective_from,
                file_name,
                added_at,
                rows: crate::registry_rows_parse(version, &rows)?,
                seq: crate::stored_seq(seq, || format!("registry_versions:{version}"))?,
            })
        })
        .collect()
    }

    fn add_contribution(&mut self, row: &ContributionRow) -> Result<i64> {
        self.connection.execute(
            "INSERT INTO contributions (contract, by_party, kind, date, status, reference, proposed_by, proposed_at,
                                        proposed_seq, decided_by, decided_at, decided_seq, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                row.contract,
                row.by.as_str(),
                row.kind.as_str(),
                row.date,
                row.status.as_str(),
                row.reference,
                row.proposed_by,
                row.proposed_at,
                crate::seq_i64(row.proposed_seq)?,
                row.decided_by,
                row.decided_at,
                row.decided_seq.map(crate::seq_i64).transpose()?,
                crate::seq_i64(row.seq)?
            ],
        )?;
        Ok(self.connection.last_insert_rowid())
    }

    fn update_contribution(&mut self, row: &ContributionRow) -> Result<()> {
        let changed = self.connection.execute(
            "UPDATE contributions SET status = ?2, decided_by = ?3, decided_at = ?4, decided_seq = ?5, seq = ?6
             WHERE number = ?1",
            params![
                row.number,
                row.status.as_str(),
                row.decided_by,
                row.decided_at,
                row.decided_seq.map(crate::seq_i64).transpose()?,
                crate::seq_i64(row.seq)?
            ],
        )?;
        crate::one_row(changed, "contribution", row.number)
    }

    fn contributions(&mut self) -> Result<Vec<ContributionRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {CONTRIBUTION_COLUMNS} FROM contributions ORDER BY number"
        ))?;
        let rows = statement.query_map([], contribution_from_row)?;
        rows.map(|r| r?).collect()
    }

    fn claim_idempotency(&mut self, row: &IdempotencyRow) -> Result<IdempotencyRow> {
        self.connection.execute(
            "INSERT INTO idempotency (token_id, method, path, key, body_sha256, done, status, content_type, response,
                                      created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
            params![
                row.token_id,
                row.method,
                row.path,
                row.key,
                row.body_sha256,
                row.done,
                row.status,
                row.content_type,
                row.response,
                row.created_at
            ],
        )?;
        Ok(self.connection.query_row(
            "SELECT body_sha256, done, status, content_type, response, created_at FROM idempotency
             WHERE token_id = ?1 AND method = ?2 AND path = ?3 AND key = ?4",
            params![row.token_id, row.method, row.path, row.key],
            |r| {
                Ok(IdempotencyRow {
                    body_sha256: r.get(0)?,
                    done: r.get(1)?,
                    status: r.get(2)?,
                    content_type: r.get(3)?,
                    response: r.get(4)?,
                    created_at: r.get(5)?,
                    ..row.clone()
                })
            },
        )?)
    }

    fn finish_idempotency(&mut self, row: &IdempotencyRow) -> Result<()> {
        self.connection.execute(
            "UPDATE idempotency SET done = 1, status = ?5, content_type = ?6, response = ?7
             WHERE token_id = ?1 AND method = ?2 AND path = ?3 AND key = ?4",
            params![
                row.token_id,
                row.method,
                row.path,
                row.key,
                row.status,
                row.content_type,
                row.response
            ],
        )?;
        Ok(())
    }

    fn release_idempotency(&mut self, row: &IdempotencyRow) -> Result<()> {
        self.connection.execute(
            "DELETE FROM idempotency WHERE token_id = ?1 AND method = ?2 AND path = ?3 AND key = ?4 AND done = 0",
            params![row.token_id, row.method, row.path, row.key],
        )?;
        Ok(())
    }

    fn purge_idempotency(&mut self, before: &str) -> Result<u64> {
        let removed = self
            .connection
            .execute("DELETE FROM idempotency WHERE created_at < ?1", [before])?;
        Ok(removed as u64)
    }

    fn add_job(&mut self, row: &JobRow) -> Result<()> {
        self.connection.execute(
            "INSERT INTO jobs (id, kind, actor, state, result, created_at, finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![row.id, row.kind, row.actor, row.state, row.result, row.created_at, row.finished_at],
        )?;
        Ok(())
    }

    fn update_job(&mut self, row: &JobRow) -> Result<()> {
        self.connection.execute(
            "UPDATE jobs SET state = ?2, result = ?3, finished_at = ?4 WHERE id = ?1",
            params![row.id, row.state, row.result, row.finished_at],
        )?;
        Ok(())
    }

    fn touch_job(&mut self, id: &str, state: &str, result: &str) -> Result<bool> {
        let touched = self.connection.execute(
            "UPDATE jobs SET result = ?3 WHERE id = ?1 AND state = ?2",
            params![id, state, result],
        )?;
        Ok(touched == 1)
    }

    fn job(&mut self, id: &str) -> Result<Option<JobRow>> {
        Ok(self
            .connection
            .query_row(
                "SELECT id, kind, actor, state, result, created_at, finished_at FROM jobs WHERE id = ?1",
                [id],
                |r| {
                    Ok(JobRow {
                        id: r.get(0)?,
                        kind: r.get(1)?,
                        actor: r.get(2)?,
                        state: r.get(3)?,
                        result: r.get(4)?,
                        created_at: r.get(5)?,
                        finished_at: r.get(6)?,
                    })
                },
            )
            .optional()?)
    }
}
