//! What the store keeps of people: users, groups, tokens (hashed) and definition grants.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::id::Id;
use crate::people::{Grant, Role, User};

#[async_trait]
pub trait PeopleStore: Send + Sync {
    /// `Conflict` when the username is taken (compared case-insensitively).
    async fn create_user(&self, user: NewUser<'_>) -> Result<User, StoreError>;

    async fn count_users(&self) -> Result<i64, StoreError>;

    /// Users by username, paged.
    async fn list_users(&self, limit: i64, offset: i64) -> Result<super::Page<User>, StoreError>;

    async fn user(&self, id: Id) -> Result<Option<User>, StoreError>;

    /// A user and their password hash, by username (case-insensitive).
    async fn login_record(&self, username: &str) -> Result<Option<(User, String)>, StoreError>;

    /// Sets the password hash and revokes every token of the user.
    async fn set_password(&self, id: Id, hash: &str) -> Result<(), StoreError>;

    /// Changes what is given (display name, roles, groups); the user's next request sees it.
    /// `NotFound` when there is no such user.
    async fn update_user(&self, id: Id, change: UserChange<'_>) -> Result<User, StoreError>;

    /// Disables (or enables) the user; disabling revokes every token at once.
    async fn set_disabled(&self, id: Id, disabled: bool) -> Result<(), StoreError>;

    async fn issue_tokens(&self, tokens: &[NewToken<'_>]) -> Result<(), StoreError>;

    /// The enabled user a valid (unexpired, unrevoked, unspent) token of `kind` belongs to,
    /// with the token's family.
    async fn token_user(
        &self,
        hash: &str,
        kind: TokenKind,
    ) -> Result<Option<(User, String)>, StoreError>;

    /// The family and user of a refresh token, spent or not (to build its successors).
    async fn refresh_family(&self, hash: &str) -> Result<Option<(String, Id)>, StoreError>;

    /// Exchanges a refresh token for `next` (its family's next tokens), once.
    async fn rotate_refresh(
        &self,
        hash: &str,
        next: &[NewToken<'_>],
    ) -> Result<RefreshOutcome, StoreError>;

    /// Revokes every token of a family (a login's tokens and all their rotations).
    async fn revoke_family(&self, family: &str) -> Result<(), StoreError>;

    async fn grants(&self, definition_key: &str) -> Result<Vec<Grant>, StoreError>;

    /// Replaces a definition's grants.
    async fn set_grants(&self, definition_key: &str, grants: &[Grant]) -> Result<(), StoreError>;
}

#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub id: Id,
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub roles: &'a [Role],
    pub groups: &'a [String],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
    /// A browser session (cookie).
    Session,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
            TokenKind::Session => "session",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    /// The token's SHA-256 ([`crate::people::token_hash`]); the token itself is never stored.
    pub hash: String,
    pub kind: TokenKind,
    pub user_id: Id,
    pub family: &'a str,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    /// Exchanged: the next tokens are stored.
    Rotated { user: User },
    /// Spent before: the whole family is now revoked.
    Reused,
    /// Unknown, expired, revoked, or its user is disabled.
    Invalid,
}

/// What [`PeopleStore::update_user`] changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserChange<'a> {
    pub display_name: Option<&'a str>,
    pub roles: Option<&'a [Role]>,
    pub groups: Option<&'a [String]>,
}
