//! Who is calling the admin API: resolved once per `/v1/` call by the auth middleware
//! ([`super::auth::require_caller`]) and handed to the access rules and the audit log.

use keygate_store::Role;

/// The caller of one admin call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The account it acts for; `None` for the admin token.
    pub account: Option<String>,
    /// What it may do.
    pub role: Role,
}

impl Caller {
    /// The admin token's caller.
    pub fn admin_token() -> Caller {
        Caller {
            account: None,
            role: Role::Admin,
        }
    }

    /// Who the audit log names: the account, or `admin token`.
    pub fn actor(&self) -> String {
        self.account
            .clone()
            .unwrap_or_else(|| "admin token".to_owned())
    }

    /// Whether it may do everything.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether it is the account `name`.
    pub fn is(&self, name: Option<&str>) -> bool {
        name.is_some() && self.account.as_deref() == name
    }
}
