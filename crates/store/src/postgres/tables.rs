//! [`Tables`] in PostgreSQL: parties, tokens, contracts, FX, registries,
//! contributions, idempotency keys and jobs.

use super::{seq_at, PgStore};
use crate::backend::{
    ContractRow, ContributionRow, FxRow, IdempotencyRow, JobRow, PartyRow, RegistryRow, Result, Tables, TokenRow,
};
use crate::columns::*;

fn token_columns(r: &postgres::Row) -> crate::TokenColumns {
    token_columns_at(r, 0)
}

/// The token whose [`TOKEN_COLUMNS`] start at column `at`.
pub(super) fn token_columns_at(r: &postgres::Row, at: usize) -> crate::TokenColumns {
    crate::TokenColumns {
        token_id: r.get(at),
        party: r.get(at + 1),
        role: r.get(at + 2),
        contracts: r.get(at + 3),
        expires: r.get(at + 4),
        sha256: r.get(at + 5),
        created_at: r.get(at + 6),
        revoked_at: r.get(at + 7),
        seq: r.get(at + 8),
    }
}

fn contribution_from_row(r: &postgres::Row) -> Result<ContributionRow> {
    let number: i64 = r.get(0);
    let (by, kind, status) = crate::contribution_enums(r.get(1), number, r.get(2), r.get(3), r.get(5))?;
    Ok(ContributionRow {
        number,
        contract: r.get(1),
        by,
        kind,
        date: r.get(4),
        status,
        reference: r.get(6),
        proposed_by: r.get(7),
        proposed_at: r.get(8),
        proposed_seq: seq_at(r, 9, "contributions", 0)?,
        decided_by: r.get(10),
        decided_at: r.get(11),
        decided_seq: match r.get::<_, Option<i64>>(12) {
            Some(_) => Some(seq_at(r, 12, "contributions", 0)?),
            None => None,
        },
        seq: seq_at(r, 13, "contributions", 0)?,
    })
}

impl Tables for PgStore {
    fn add_party(&mut self, row: &PartyRow) -> Result<()> {
        self.execute(
            "INSERT INTO parties (id, name, created_at, seq) VALUES ($1, $2, $3, $4)",
            &[&row.id, &row.name, &row.created_at, &crate::seq_i64(row.seq)?],
        )?;
        Ok(())
    }

    fn update_party(&mut self, row: &PartyRow) -> Result<()> {
        let changed = self.execute(
            "UPDATE parties SET name = $2, seq = $3 WHERE id = $1",
            &[&row.id, &row.name, &crate::seq_i64(row.seq)?],
        )?;
        crate::one_text_row(changed as usize, "party", &row.id)
    }

    fn parties(&mut self) -> Result<Vec<PartyRow>> {
        self.query("SELECT id, name, created_at, seq FROM parties ORDER BY id", &[])?
            .iter()
            .map(|r| {
                Ok(PartyRow {
                    id: r.get(0),
                    name: r.get(1),
                    created_at: r.get(2),
                    seq: seq_at(r, 3, "parties", 0)?,
                })
            })
            .collect()
    }

    fn add_token(&mut self, row: &TokenRow) -> Result<()> {
        self.execute(
            &format!("INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
            &[
                &row.token_id,
                &row.party,
                &row.role.as_str(),
                &crate::contracts_json(&row.contracts),
                &row.expires,
                &row.sha256,
                &row.created_at,
                &row.revoked_at,
                &crate::seq_i64(row.seq)?,
            ],
        )?;
        Ok(())
    }

    fn update_token(&mut self, row: &TokenRow) -> Result<()> {
        let changed = self.execute(
            "UPDATE tokens SET revoked_at = $2, seq = $3 WHERE token_id = $1",
            &[&row.token_id, &row.revoked_at, &crate::seq_i64(row.seq)?],
        )?;
        crate::one_text_row(changed as usize, "token", &row.token_id)
    }

    fn tokens(&mut self) -> Result<Vec<TokenRow>> {
        self.query(
            &format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, token_id"),
            &[],
        )?
        .iter()
        .map(|r| crate::token_from_columns(token_columns(r)))
        .collect()
    }

    fn token(&mut self, token_id: &str) -> Result<Option<TokenRow>> {
        self.query_opt(
            &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_id = $1"),
            &[&token_id],
        )?
        .map(|r| crate::token_from_columns(token_columns(&r)))
        .transpose()
    }

    fn add_contract(&mut self, row: &ContractRow) -> Result<()> {
        self.execute(
            "INSERT INTO contracts (id, version, licensor, host, file_name, sha256, toml, added_at, seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &row.id,
                &row.version,
                &row.licensor,
                &row.host,
                &row.file_name,
                &row.sha256,
                &row.toml,
                &row.added_at,
                &crate::seq_i64(row.seq)?,
            ],
        )?;
        Ok(())
    }

    fn contracts(&mut self) -> Result<Vec<ContractRow>> {
        self.query(
            "SELECT id, version, licensor, host, file_name, sha256, toml, added_at, seq
                 FROM contracts ORDER BY id, version",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(ContractRow {
                id: r.get(0),
                version: r.get(1),
                licensor: r.get(2),
                host: r.get(3),
                file_name: r.get(4),
                sha256: r.get(5),
                toml: r.get(6),
                added_at: r.get(7),
                seq: seq_at(r, 8, "contracts", 0)?,
            })
        })
        .collect()
    }

    fn add_fx(&mut self, rows: &[FxRow]) -> Result<()> {
        for row in rows {
            self.execute(
                "INSERT INTO fx_rates (date, from_currency, to_currency, rate, seq) VALUES ($1, $2, $3, $4, $5)",
                &[&row.date, &row.from, &row.to, &row.rate, &crate::seq_i64(row.seq)?],
            )?;
        }
        Ok(())
    }

    fn fx(&mut self) -> Result<Vec<FxRow>> {
        self.query(
            "SELECT date, from_currency, to_currency, rate, seq FROM fx_rates
                 ORDER BY from_currency, to_currency, date",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(FxRow {
                date: r.get(0),
                from: r.get(1),
                to: r.get(2),
                rate: r.get(3),
                seq: seq_at(r, 4, "fx_rates", 0)?,
            })
        })
        .collect()
    }

    fn add_registry(&mut self, row: &RegistryRow) -> Result<()> {
        self.execute(
            "INSERT INTO registry_versions (version, effective_from, file_name, added_at, rows, seq)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &row.version,
                &row.effective_from,
                &row.file_name,
                &row.added_at,
                &crate::registry_rows_json(&row.rows),
                &crate::seq_i64(row.seq)?,
            ],
        )?;
        Ok(())
    }

    fn registries(&mut self) -> Result<Vec<RegistryRow>> {
        self.query(
            "SELECT version, effective_from, file_name, added_at, rows, seq FROM registry_versions ORDER BY version",
            &[],
        )?
        .iter()
        .map(|r| {
            let version: i64 = r.get(0);
            Ok(RegistryRow {
                version,
                effective_from: r.get(1),
                file_name: r.get(2),
                added_at: r.get(3),
                rows: crate::registry_rows_parse(version, r.get(4))?,
                seq: crate::stored_seq(r.get(5), || format!("registry_versions:{version}"))?,
            })
        })
        .collect()
    }

    fn add_contribution(&mut self, row: &ContributionRow) -> Result<i64> {
        let inserted = self.query_one(
            "INSERT INTO contributions (contract, by_party, kind, date, status, reference, proposed_by, proposed_at,
                                        proposed_seq, decided_by, decided_at, decided_seq, seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING number",
            &[
                &row.contract,
                &row.by.as_str(),
                &row.kind.as_str(),
                &row.date,
                &row.status.as_str(),
                &row.reference,
                &row.proposed_by,
                &row.proposed_at,
                &crate::seq_i64(row.proposed_seq)?,
                &row.decided_by,
                &row.decided_at,
                &row.decided_seq.map(crate::seq_i64).transpose()?,
                &crate::seq_i64(row.seq)?,
            ],
        )?;
        Ok(inserted.get(0))
    }

    fn update_contribution(&mut self, row: &ContributionRow) -> Result<()> {
        let changed = self.execute(
            "UPDATE contributions SET status = $2, decided_by = $3, decided_at = $4, decided_seq = $5, seq = $6
             WHERE number = $1",
            &[
                &row.number,
                &row.status.as_str(),
                &row.decided_by,
                &row.decided_at,
                &row.decided_seq.map(crate::seq_i64).transpose()?,
                &crate::seq_i64(row.seq)?,
            ],
        )?;
        crate::one_row(changed as usize, "contribution", row.number)
    }

    fn contributions(&mut self) -> Result<Vec<ContributionRow>> {
        self.query(
            &format!("SELECT {CONTRIBUTION_COLUMNS} FROM contributions ORDER BY number"),
            &[],
        )?
        .iter()
        .map(contribution_from_row)
        .collect()
    }

    fn claim_idempotency(&mut self, row: &IdempotencyRow) -> Result<IdempotencyRow> {
        self.execute(
            "INSERT INTO idempotency (token_id, method, path, key, body_sha256, done, status, content_type, response,
                                      created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            &[
                &row.token_id,
                &row.method,
                &row.path,
                &row.key,
                &row.body_sha256,
                &i32::from(row.done),
                &row.status,
                &row.content_type,
                &row.response,
                &row.created_at,
            ],
        )?;
        let r = self.query_one(
            "SELECT body_sha256, done, status, content_type, response, created_at FROM idempotency
             WHERE token_id = $1 AND method = $2 AND path = $3 AND key = $4",
            &[&row.token_id, &row.method, &row.path, &row.key],
        )?;
        Ok(IdempotencyRow {
            body_sha256: r.get(0),
            done: r.get::<_, i32>(1) != 0,
            status: r.get(2),
            content_type: r.get(3),
            response: r.get(4),
            created_at: r.get(5),
            ..row.clone()
        })
    }

    fn finish_idempotency(&mut self, row: &IdempotencyRow) -> Result<()> {
        self.execute(
            "UPDATE idempotency SET done = 1, status = $5, content_type = $6, response = $7
             WHERE token_id = $1 AND method = $2 AND path = $3 AND key = $4",
            &[
                &row.token_id,
                &row.method,
                &row.path,
                &row.key,
                &row.status,
                &row.content_type,
                &row.response,
            ],
        )?;
        Ok(())
    }

    fn release_idempotency(&mut self, row: &IdempotencyRow) -> Result<()> {
        self.execute(
            "DELETE FROM idempotency WHERE token_id = $1 AND method = $2 AND path = $3 AND key = $4 AND done = 0",
            &[&row.token_id, &row.method, &row.path, &row.key],
        )?;
        Ok(())
    }

    fn purge_idempotency(&mut self, before: &str) -> Result<u64> {
        self.execute("DELETE FROM idempotency WHERE created_at < $1", &[&before])
    }

    fn add_job(&mut self, row: &JobRow) -> Result<()> {
        self.execute(
            "INSERT INTO jobs (id, kind, actor, state, result, created_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&row.id, &row.kind, &row.actor, &row.state, &row.result, &row.created_at, &row.finished_at],
        )?;
        Ok(())
    }

    fn update_job(&mut self, row: &JobRow) -> Result<()> {
        self.execute(
            "UPDATE jobs SET state = $2, result = $3, finished_at = $4 WHERE id = $1",
            &[&row.id, &row.state, &row.result, &row.finished_at],
        )?;
        Ok(())
    }

    fn touch_job(&mut self, id: &str, state: &str, result: &str) -> Result<bool> {
        let touched = self.execute(
            "UPDATE jobs SET result = $3 WHERE id = $1 AND state = $2",
            &[&id, &state, &result],
        )?;
        Ok(touched == 1)
    }

    fn job(&mut self, id: &str) -> Result<Option<JobRow>> {
        Ok(self
            .query_opt(
                "SELECT id, kind, actor, state, result, created_at, finished_at FROM jobs WHERE id = $1",
                &[&id],
            )?
            .map(|r| JobRow {
                id: r.get(0),
                kind: r.get(1),
                actor: r.get(2),
                state: r.get(3),
                result: r.get(4),
                created_at: r.get(5),
                finished_at: r.get(6),
            }))
    }
}
