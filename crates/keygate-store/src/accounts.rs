//! The people who use the admin API: accounts with a role, their scoped API tokens, who
//! owns which consumers and services, and the audit log of admin writes.
//!
//! None of this is read by the data plane, so these writes bump no revision and append
//! no change: the admin API reads them from the store at each call, which keeps a
//! disabled account or a revoked token refused on every node at once.

use crate::{Millis, Page, Result};

/// What an account may do; the admin API checks every call against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, as the admin token.
    Admin,
    /// Owns services: their routes, plans, subscriptions and subscription keys.
    Publisher,
    /// Owns consumers (applications): subscribes them, manages their keys.
    Owner,
}

impl Role {
    /// The lowercase name, as on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Publisher => "publisher",
            Role::Owner => "owner",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "publisher" => Some(Role::Publisher),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// An account: a person (or a program) signing in to the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Unique name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The argon2id hash of its password (PHC string); `None`: no password sign-in.
    pub password_hash: Option<String>,
    /// A disabled account cannot sign in, and its tokens and sessions stop working.
    pub disabled: bool,
    /// Creation time.
    pub created_at: Millis,
    /// Last change.
    pub updated_at: Millis,
}

/// A scoped API token of an account; only its SHA-256 is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTokenRecord {
    /// Unique id.
    pub id: String,
    /// The account it acts for.
    pub account: String,
    /// SHA-256 of the token.
    pub hash: [u8; 32],
    /// First characters of the token, for display.
    pub prefix: String,
    /// What it is for.
    pub description: Option<String>,
    /// Creation time.
    pub created_at: Millis,
    /// When it stops working, if it does.
    pub expires_at: Option<Millis>,
    /// When it was revoked; revoked tokens never work again.
    pub revoked_at: Option<Millis>,
}

/// Which kind of entity an account can own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnedKind {
    /// A consumer, owned by an application owner.
    Consumer,
    /// A service, owned by a publisher.
    Service,
}

impl OwnedKind {
    /// The table that holds it.
    pub(crate) fn table(self) -> &'static str {
        match self {
            OwnedKind::Consumer => "consumers",
            OwnedKind::Service => "services",
        }
    }

    /// Its name in messages.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            OwnedKind::Consumer => "consumer",
            OwnedKind::Service => "service",
        }
    }
}

/// One successful write through the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Its sequence number, given by the store (ignored when appending).
    pub id: i64,
    /// When.
    pub at: Millis,
    /// Who: an account's name, or `admin token`.
    pub actor: String,
    /// What: the method and the path pattern, such as `POST /v1/keys/{id}/revoke`.
    pub action: String,
    /// The kind of entity: `consumer`, `key`, `service`, …
    pub entity_kind: String,
    /// Its name or id.
    pub entity: String,
    /// The entity before, as JSON without secrets; `None` when it did not exist.
    pub before: Option<String>,
    /// The entity after, as JSON without secrets; `None` when it was deleted.
    pub after: Option<String>,
}

/// Which audit records to read: newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only records of this entity kind.
    pub entity_kind: Option<String>,
    /// Only records of this entity name or id.
    pub entity: Option<String>,
    /// Only records at or after this time.
    pub since: Option<Millis>,
    /// Only records older than this id (the cursor of the previous page).
    pub before_id: Option<i64>,
    /// At most this many (1–1000; 0 means 100).
    pub limit: usize,
}

/// The store's part for accounts, tokens, ownership and the audit log. Calls block.
pub trait AccountStore {
    /// Creates or replaces an account by name; `created_at` of an existing one is kept.
    fn put_account(&self, account: &AccountRecord) -> Result<()>;
    /// One account.
    fn account(&self, name: &str) -> Result<Option<AccountRecord>>;
    /// Accounts ordered by name, after `page.after`, at most `page.limit`.
    fn accounts(&self, page: &Page) -> Result<Vec<AccountRecord>>;
    /// Deletes an account with its tokens. `NotFound` when absent; `Conflict` while it
    /// owns consumers or services.
    fn delete_account(&self, name: &str) -> Result<()>;

    /// Adds a token. `NotFound` when its account is absent; `Conflict` when its id or
    /// hash is used.
    fn insert_account_token(&self, token: &AccountTokenRecord) -> Result<()>;
    /// One token by id.
    fn account_token(&self, id: &str) -> Result<Option<AccountTokenRecord>>;
    /// The token with this SHA-256, if any.
    fn account_token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<AccountTokenRecord>>;
    /// Tokens ordered by id, optionally of one account, after `page.after`.
    fn account_tokens(&self, account: Option<&str>, page: &Page)
        -> Result<Vec<AccountTokenRecord>>;
    /// Sets a token's `revoked_at`. `NotFound` when absent.
    fn revoke_account_token(&self, id: &str, at: Millis) -> Result<()>;

    /// The account owning a consumer or a service. `NotFound` when the entity is absent.
    fn owner(&self, kind: OwnedKind, name: &str) -> Result<Option<String>>;
    /// Gives a consumer or a service to an account (or to none). `NotFound` when either
    /// is absent.
    fn set_owner(&self, kind: OwnedKind, name: &str, account: Option<&str>) -> Result<()>;
    /// The names of the consumers or services an account owns, ordered, after
    /// `page.after`, at most `page.limit`.
    fn owned(&self, kind: OwnedKind, account: &str, page: &Page) -> Result<Vec<String>>;

    /// Appends to the audit log; returns the record's id.
    fn append_audit(&self, record: &AuditRecord) -> Result<i64>;
    /// Audit records, newest first.
    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>>;
}
