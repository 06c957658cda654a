//! [`AccountStore`] on SQLite: accounts, their tokens, ownership and the audit log. These
//! writes bump no revision (the data plane never reads them), each in a transaction of
//! its own.

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::errors::{corrupt, from_sqlite, not_found, OrStore};
use super::reads::{after, fetch_all, fetch_one, limit};
use super::SqliteStore;
use crate::{
    AccountRecord, AccountStore, AccountTokenRecord, AuditQuery, AuditRecord, OwnedKind, Page,
    Result, Role, StoreError,
};

const ACCOUNT_COLUMNS: &str = "name, role, password_hash, disabled, created_at, updated_at";
const TOKEN_COLUMNS: &str =
    "id, account, hash, prefix, description, created_at, expires_at, revoked_at";
const AUDIT_COLUMNS: &str = "id, at, actor, action, entity_kind, entity, before_json, after_json";

fn account(row: &Row<'_>) -> Result<AccountRecord> {
    let role: String = row.get(1).or_store()?;
    Ok(AccountRecord {
        name: row.get(0).or_store()?,
        role: Role::parse(&role).ok_or_else(|| corrupt(format!("unknown role `{role}`")))?,
        password_hash: row.get(2).or_store()?,
        disabled: row.get(3).or_store()?,
        created_at: row.get(4).or_store()?,
        updated_at: row.get(5).or_store()?,
    })
}

fn token(row: &Row<'_>) -> Result<AccountTokenRecord> {
    let hash: Vec<u8> = row.get(2).or_store()?;
    Ok(AccountTokenRecord {
        id: row.get(0).or_store()?,
        account: row.get(1).or_store()?,
        hash: hash
            .try_into()
            .map_err(|_| corrupt("a token hash is not 32 bytes"))?,
        prefix: row.get(3).or_store()?,
        description: row.get(4).or_store()?,
        created_at: row.get(5).or_store()?,
        expires_at: row.get(6).or_store()?,
        revoked_at: row.get(7).or_store()?,
    })
}

fn audit_record(row: &Row<'_>) -> Result<AuditRecord> {
    Ok(AuditRecord {
        id: row.get(0).or_store()?,
        at: row.get(1).or_store()?,
        actor: row.get(2).or_store()?,
        action: row.get(3).or_store()?,
        entity_kind: row.get(4).or_store()?,
        entity: row.get(5).or_store()?,
        before: row.get(6).or_store()?,
        after: row.get(7).or_store()?,
    })
}

/// Whether `name` is an account, inside `tx`.
fn account_exists(tx: &Transaction<'_>, name: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM accounts WHERE name = ?1")
        .or_store()?
        .query_row([name], |_| Ok(()))
        .optional()
        .or_store()?
        .is_some())
}

impl AccountStore for SqliteStore {
    fn put_account(&self, account: &AccountRecord) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO accounts (name, role, password_hash, disabled, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO UPDATE SET \
                 role = excluded.role, password_hash = excluded.password_hash, \
                 disabled = excluded.disabled, updated_at = excluded.updated_at",
            )
            .or_store()?
            .execute(params![
                account.name,
                account.role.as_str(),
                account.password_hash,
                account.disabled,
                account.created_at,
                account.updated_at,
            ])
            .or_store()?;
            Ok(())
        })
    }

    fn account(&self, name: &str) -> Result<Option<AccountRecord>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name = ?1");
        fetch_one(&self.conn(), &sql, [name], account)
    }

    fn accounts(&self, page: &Page) -> Result<Vec<AccountRecord>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name > ?1 ORDER BY name LIMIT ?2"
        );
        fetch_all(
            &self.conn(),
            &sql,
            params![after(page), limit(page)],
            account,
        )
    }

    fn delete_account(&self, name: &str) -> Result<()> {
        self.write(|tx| {
            if !account_exists(tx, name)? {
                return Err(not_found("account", name));
            }
            for kind in [OwnedKind::Consumer, OwnedKind::Service] {
                let sql = format!(
                    "SELECT name FROM {} WHERE owner = ?1 ORDER BY name LIMIT 1",
                    kind.table()
                );
                let owned: Option<String> = tx
                    .query_row(&sql, [name], |row| row.get(0))
                    .optional()
                    .or_store()?;
                if let Some(owned) = owned {
                    return Err(StoreError::Conflict(format!(
                        "account `{name}` still owns {} `{owned}`; give it to another account or delete it first",
                        kind.noun()
                    )));
                }
            }
            tx.execute("DELETE FROM account_tokens WHERE account = ?1", [name])
                .or_store()?;
            tx.execute("DELETE FROM accounts WHERE name = ?1", [name])
                .or_store()?;
            Ok(())
        })
    }

    fn insert_account_token(&self, token: &AccountTokenRecord) -> Result<()> {
        self.write(|tx| {
            if !account_exists(tx, &token.account)? {
                return Err(not_found("account", &token.account));
            }
            let sql = format!(
                "INSERT INTO account_tokens ({TOKEN_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            );
            tx.execute(
                &sql,
                params![
                    token.id,
                    token.account,
                    &token.hash[..],
                    token.prefix,
                    token.description,
                    token.created_at,
                    token.expires_at,
                    token.revoked_at,
                ],
            )
            .map_err(|error| match from_sqlite(error) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict("this token id or token is already in use".to_owned())
                }
                other => other,
            })?;
            Ok(())
        })
    }

    fn account_token(&self, id: &str) -> Result<Option<AccountTokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM account_tokens WHERE id = ?1");
        fetch_one(&self.conn(), &sql, [id], token)
    }

    fn account_token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<AccountTokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM account_tokens WHERE hash = ?1");
        fetch_one(&self.conn(), &sql, [&hash[..]], token)
    }

    fn account_tokens(
        &self,
        account: Option<&str>,
        page: &Page,
    ) -> Result<Vec<AccountTokenRecord>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM account_tokens \
             WHERE (?1 IS NULL OR account = ?1) AND id > ?2 ORDER BY id LIMIT ?3"
        );
        fetch_all(
            &self.conn(),
            &sql,
            params![account, after(page), limit(page)],
            token,
        )
    }

    fn revoke_account_token(&self, id: &str, at: i64) -> Result<()> {
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE account_tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                    params![id, at],
                )
                .or_store()?;
            if changed == 0 {
                return Err(not_found("token", id));
            }
            Ok(())
        })
    }

    fn owner(&self, kind: OwnedKind, name: &str) -> Result<Option<String>> {
        let sql = format!("SELECT owner FROM {} WHERE name = ?1", kind.table());
        let found: Option<Option<String>> = self
            .conn()
            .query_row(&sql, [name], |row| row.get(0))
            .optional()
            .or_store()?;
        found.ok_or_else(|| not_found(kind.noun(), name))
    }

    fn set_owner(&self, kind: OwnedKind, name: &str, account: Option<&str>) -> Result<()> {
        self.write(|tx| {
            if let Some(account) = account {
                if !account_exists(tx, account)? {
                    return Err(not_found("account", account));
                }
            }
            let sql = format!("UPDATE {} SET owner = ?2 WHERE name = ?1", kind.table());
            if tx.execute(&sql, params![name, account]).or_store()? == 0 {
                return Err(not_found(kind.noun(), name));
            }
            Ok(())
        })
    }

    fn owned(&self, kind: OwnedKind, account: &str, page: &Page) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT name FROM {} WHERE owner = ?1 AND name > ?2 ORDER BY name LIMIT ?3",
            kind.table()
        );
        fetch_all(
            &self.conn(),
            &sql,
            params![account, after(page), limit(page)],
            |row| row.get(0).or_store(),
        )
    }

    fn append_audit(&self, record: &AuditRecord) -> Result<i64> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO audit_log (at, actor, action, entity_kind, entity, before_json, after_json) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .or_store()?
            .execute(params![
                record.at,
                record.actor,
                record.action,
                record.entity_kind,
                record.entity,
                record.before,
                record.after,
            ])
            .or_store()?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log \
             WHERE (?1 IS NULL OR entity_kind = ?1) AND (?2 IS NULL OR entity = ?2) \
             AND (?3 IS NULL OR at >= ?3) AND (?4 IS NULL OR id < ?4) \
             ORDER BY id DESC LIMIT ?5"
        );
        let page = Page {
            after: None,
            limit: query.limit,
        };
        fetch_all(
            &self.conn(),
            &sql,
            params![
                query.entity_kind,
                query.entity,
                query.since,
                query.before_id,
                limit(&page),
            ],
            audit_record,
        )
    }
}
