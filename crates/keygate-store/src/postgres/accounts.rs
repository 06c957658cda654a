//! [`AccountStore`] on PostgreSQL: accounts, their tokens, ownership and the audit log,
//! statement for statement as on SQLite. These writes bump no revision and notify no
//! node (the data plane never reads them); they run in the store's write transaction so
//! that they are ordered with the other writes.

use postgres::{GenericClient, Row};

use super::errors::{corrupt, from_postgres, not_found, OrStore};
use super::{after, fetch_all, limit, PostgresStore};
use crate::{
    AccountRecord, AccountStore, AccountTokenRecord, AuditQuery, AuditRecord, OwnedKind, Page,
    Result, Role, StoreError,
};

const ACCOUNT_COLUMNS: &str = "name, role, password_hash, disabled, created_at, updated_at";
const TOKEN_COLUMNS: &str =
    "id, account, hash, prefix, description, created_at, expires_at, revoked_at";
const AUDIT_COLUMNS: &str = "id, at, actor, action, entity_kind, entity, before_json, after_json";

fn account(row: &Row) -> Result<AccountRecord> {
    let role: String = row.try_get(1).map_err(from_postgres)?;
    Ok(AccountRecord {
        name: row.try_get(0).map_err(from_postgres)?,
        role: Role::parse(&role).ok_or_else(|| corrupt(format!("unknown role `{role}`")))?,
        password_hash: row.try_get(2).map_err(from_postgres)?,
        disabled: row.try_get(3).map_err(from_postgres)?,
        created_at: row.try_get(4).map_err(from_postgres)?,
        updated_at: row.try_get(5).map_err(from_postgres)?,
    })
}

fn token(row: &Row) -> Result<AccountTokenRecord> {
    let hash: Vec<u8> = row.try_get(2).map_err(from_postgres)?;
    Ok(AccountTokenRecord {
        id: row.try_get(0).map_err(from_postgres)?,
        account: row.try_get(1).map_err(from_postgres)?,
        hash: hash
            .try_into()
            .map_err(|_| corrupt("a token hash is not 32 bytes"))?,
        prefix: row.try_get(3).map_err(from_postgres)?,
        description: row.try_get(4).map_err(from_postgres)?,
        created_at: row.try_get(5).map_err(from_postgres)?,
        expires_at: row.try_get(6).map_err(from_postgres)?,
        revoked_at: row.try_get(7).map_err(from_postgres)?,
    })
}

fn audit_record(row: &Row) -> Result<AuditRecord> {
    Ok(AuditRecord {
        id: row.try_get(0).map_err(from_postgres)?,
        at: row.try_get(1).map_err(from_postgres)?,
        actor: row.try_get(2).map_err(from_postgres)?,
        action: row.try_get(3).map_err(from_postgres)?,
        entity_kind: row.try_get(4).map_err(from_postgres)?,
        entity: row.try_get(5).map_err(from_postgres)?,
        before: row.try_get(6).map_err(from_postgres)?,
        after: row.try_get(7).map_err(from_postgres)?,
    })
}

/// Whether `name` is an account.
fn account_exists(client: &mut impl GenericClient, name: &str) -> Result<bool> {
    Ok(client
        .query_opt("SELECT 1 FROM accounts WHERE name = $1", &[&name])
        .or_store()?
        .is_some())
}

impl AccountStore for PostgresStore {
    fn put_account(&self, account: &AccountRecord) -> Result<()> {
        self.write(|tx| {
            tx.inner
                .execute(
                    "INSERT INTO accounts (name, role, password_hash, disabled, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET \
                     role = excluded.role, password_hash = excluded.password_hash, \
                     disabled = excluded.disabled, updated_at = excluded.updated_at",
                    &[
                        &account.name,
                        &account.role.as_str(),
                        &account.password_hash,
                        &account.disabled,
                        &account.created_at,
                        &account.updated_at,
                    ],
                )
                .or_store()?;
            Ok(())
        })
    }

    fn account(&self, name: &str) -> Result<Option<AccountRecord>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name = $1");
        self.read(|client| {
            client
                .query_opt(&sql, &[&name])
                .or_store()?
                .as_ref()
                .map(account)
                .transpose()
        })
    }

    fn accounts(&self, page: &Page) -> Result<Vec<AccountRecord>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name > $1 ORDER BY name LIMIT $2"
        );
        self.read(|client| fetch_all(client, &sql, &[&after(page), &limit(page)], account))
    }

    fn delete_account(&self, name: &str) -> Result<()> {
        self.write(|tx| {
            if !account_exists(&mut tx.inner, name)? {
                return Err(not_found("account", name));
            }
            for kind in [OwnedKind::Consumer, OwnedKind::Service] {
                let sql = format!(
                    "SELECT name FROM {} WHERE owner = $1 ORDER BY name LIMIT 1",
                    kind.table()
                );
                if let Some(row) = tx.inner.query_opt(&sql, &[&name]).or_store()? {
                    let owned: String = row.try_get(0).map_err(from_postgres)?;
                    return Err(StoreError::Conflict(format!(
                        "account `{name}` still owns {} `{owned}`; give it to another account or delete it first",
                        kind.noun()
                    )));
                }
            }
            tx.inner
                .execute("DELETE FROM account_tokens WHERE account = $1", &[&name])
                .or_store()?;
            tx.inner
                .execute("DELETE FROM accounts WHERE name = $1", &[&name])
                .or_store()?;
            Ok(())
        })
    }

    fn insert_account_token(&self, token: &AccountTokenRecord) -> Result<()> {
        let sql = format!(
            "INSERT INTO account_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        );
        self.write(|tx| {
            if !account_exists(&mut tx.inner, &token.account)? {
                return Err(not_found("account", &token.account));
            }
            tx.inner
                .execute(
                    &sql,
                    &[
                        &token.id,
                        &token.account,
                        &&token.hash[..],
                        &token.prefix,
                        &token.description,
                        &token.created_at,
                        &token.expires_at,
                        &token.revoked_at,
                    ],
                )
                .map_err(|error| match from_postgres(error) {
                    StoreError::Conflict(_) => {
                        StoreError::Conflict("this token id or token is already in use".to_owned())
                    }
                    other => other,
                })?;
            Ok(())
        })
    }

    fn account_token(&self, id: &str) -> Result<Option<AccountTokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM account_tokens WHERE id = $1");
        self.read(|client| {
            client
                .query_opt(&sql, &[&id])
                .or_store()?
                .as_ref()
                .map(token)
                .transpose()
        })
    }

    fn account_token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<AccountTokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM account_tokens WHERE hash = $1");
        self.read(|client| {
            client
                .query_opt(&sql, &[&&hash[..]])
                .or_store()?
                .as_ref()
                .map(token)
                .transpose()
        })
    }

    fn account_tokens(
        &self,
        account: Option<&str>,
        page: &Page,
    ) -> Result<Vec<AccountTokenRecord>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM account_tokens \
             WHERE ($1::text IS NULL OR account = $1) AND id > $2 ORDER BY id LIMIT $3"
        );
        self.read(|client| fetch_all(client, &sql, &[&account, &after(page), &limit(page)], token))
    }

    fn revoke_account_token(&self, id: &str, at: i64) -> Result<()> {
        self.write(|tx| {
            let changed = tx
                .inner
                .execute(
                    "UPDATE account_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
                    &[&id, &at],
                )
                .or_store()?;
            if changed == 0 {
                return Err(not_found("token", id));
            }
            Ok(())
        })
    }

    fn owner(&self, kind: OwnedKind, name: &str) -> Result<Option<String>> {
        let sql = format!("SELECT owner FROM {} WHERE name = $1", kind.table());
        self.read(
            |client| match client.query_opt(&sql, &[&name]).or_store()? {
                Some(row) => row.try_get(0).map_err(from_postgres),
                None => Err(not_found(kind.noun(), name)),
            },
        )
    }

    fn set_owner(&self, kind: OwnedKind, name: &str, account: Option<&str>) -> Result<()> {
        let sql = format!("UPDATE {} SET owner = $2 WHERE name = $1", kind.table());
        self.write(|tx| {
            if let Some(account) = account {
                if !account_exists(&mut tx.inner, account)? {
                    return Err(not_found("account", account));
                }
            }
            if tx.inner.execute(&sql, &[&name, &account]).or_store()? == 0 {
                return Err(not_found(kind.noun(), name));
            }
            Ok(())
        })
    }

    fn owned(&self, kind: OwnedKind, account: &str, page: &Page) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT name FROM {} WHERE owner = $1 AND name > $2 ORDER BY name LIMIT $3",
            kind.table()
        );
        self.read(|client| {
            fetch_all(
                client,
                &sql,
                &[&account, &after(page), &limit(page)],
                |row| row.try_get(0).map_err(from_postgres),
            )
        })
    }

    fn append_audit(&self, record: &AuditRecord) -> Result<i64> {
        self.write(|tx| {
            let row = tx
                .inner
                .query_one(
                    "INSERT INTO audit_log (at, actor, action, entity_kind, entity, before_json, after_json) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    &[
                        &record.at,
                        &record.actor,
                        &record.action,
                        &record.entity_kind,
                        &record.entity,
                        &record.before,
                        &record.after,
                    ],
                )
                .or_store()?;
            row.try_get(0).map_err(from_postgres)
        })
    }

    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log \
             WHERE ($1::text IS NULL OR entity_kind = $1) AND ($2::text IS NULL OR entity = $2) \
             AND ($3::bigint IS NULL OR at >= $3) AND ($4::bigint IS NULL OR id < $4) \
             ORDER BY id DESC LIMIT $5"
        );
        let page = Page {
            after: None,
            limit: query.limit,
        };
        self.read(|client| {
            fetch_all(
                client,
                &sql,
                &[
                    &query.entity_kind,
                    &query.entity,
                    &query.since,
                    &query.before_id,
                    &limit(&page),
                ],
                audit_record,
            )
        })
    }
}
