//! Sign-in and tokens: the password and refresh grants, access-token checks, logout, password
//! changes, throttling of failed sign-ins, and the first administrator.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::id::IdGenerator;
use crate::people::{self, Role, User};
use crate::store::{NewToken, NewUser, RefreshOutcome, Store, StoreError, TokenKind};

/// How long an access token lives.
pub const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a refresh token (and a browser session) lives.
pub const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Failed sign-ins allowed per account, and per address, within [`THROTTLE_WINDOW`].
pub const ACCOUNT_FAILURES: usize = 5;
pub const ADDRESS_FAILURES: usize = 20;
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Wrong password, unknown user, disabled user, or a bad refresh token — one answer for all.
    #[error("the username or password is wrong")]
    InvalidCredentials,
    #[error("the refresh token is not valid")]
    InvalidRefresh,
    #[error("too many failed sign-ins; try again in {} s", .retry_after.as_secs())]
    Throttled { retry_after: Duration },
    #[error("{field}: {message}")]
    BadValue {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the token endpoint returns.
#[derive(Debug, Clone, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
}

/// A signed-in caller: the user, and the family of the token they came with (logout ends it).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub family: String,
}

#[derive(Clone)]
pub struct AccessService {
    store: Arc<dyn Store>,
    ids: IdGenerator,
}

impl AccessService {
    pub fn new(store: Arc<dyn Store>, ids: IdGenerator) -> Self {
        Self { store, ids }
    }

    /// On an empty installation, creates the administrator `admin`: with `password`, or with a
    /// generated one, which is returned (to be shown once).
    pub async fn ensure_admin(
        &self,
        password: Option<&str>,
    ) -> Result<Option<String>, AccessError> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let generated = password.is_none().then(people::new_token);
        let password = password.or(generated.as_deref()).unwrap_or_default();
        check_password(password)?;
        match self
            .create_user("admin", "Administrator", password, &[Role::Admin], &[])
            .await
        {
            Ok(_) => Ok(generated),
            // Another process starting on the same empty database created it first.
            Err(AccessError::Store(StoreError::Conflict(_))) => Ok(None),
            Err(other) => Err(other),
        }
    }

    pub async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password: &str,
        roles: &[Role],
        groups: &[String],
    ) -> Result<User, AccessError> {
        let clean = username.trim();
        let valid = !clean.is_empty()
            && clean.len() <= 64
            && clean
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if !valid {
            return Err(AccessError::BadValue {
                field: "username",
                message: "1–64 letters, digits, `.`, `_`, `-` or `@`".into(),
            });
        }
        check_password(password)?;
        let hash = hash(password)?;
        let user = self
            .store
            .create_user(NewUser {
                id: self.ids.next_id(),
                username: clean,
                display_name: display_name.trim(),
                password_hash: &hash,
                roles,
                groups,
            })
            .await?;
        Ok(user)
    }

    /// The password grant. `address` is the caller's network address, for throttling.
    pub async fn password_grant(
        &self,
        username: &str,
        password: &str,
        address: &str,
    ) -> Result<TokenPair, AccessError> {
        let user = self.check_credentials(username, password, address).await?;
        self.issue(&user, &people::new_token()).await
    }

    /// A browser sign-in: a session token (for an HttpOnly cookie) that lives as long as a
    /// refresh token, with its own family (signing out ends it).
    pub async fn session_login(
        &self,
        username: &str,
        password: &str,
        address: &str,
    ) -> Result<(String, User), AccessError> {
        let user = self.check_credentials(username, password, address).await?;
        let token = people::new_token();
        let family = people::new_token();
        self.store
            .issue_tokens(&[NewToken {
                hash: people::token_hash(&token),
                kind: TokenKind::Session,
                user_id: user.id,
                family: &family,
                expires_at: chrono::Utc::now()
                    + chrono::Duration::seconds(REFRESH_TTL.as_secs() as i64),
            }])
            .await?;
        Ok((token, user))
    }

    /// The caller a browser session token belongs to, while it is valid.
    pub async fn authenticate_session(&self, token: &str) -> Result<Option<Caller>, AccessError> {
        self.caller(token, TokenKind::Session).await
    }

    /// The user, when the password is theirs; throttled per account and per address, and the
    /// same answer (after the same work) for unknown users as for wrong passwords.
    async fn check_credentials(
        &self,
        username: &str,
        password: &str,
        address: &str,
    ) -> Result<User, AccessError> {
        let account = format!("user:{}", username.trim().to_lowercase());
        let address = format!("addr:{address}");
        self.check_throttle(&account, ACCOUNT_FAILURES).await?;
        self.check_throttle(&address, ADDRESS_FAILURES).await?;
        let record = self.store.login_record(username).await?;
        // Unknown users cost a verification too, so timing does not tell them apart.
        let (user, hash) = match record {
            Some((user, hash)) => (Some(user), hash),
            None => (None, people::decoy_hash().to_string()),
        };
        let password = password.to_string();
        let matches =
            tokio::task::spawn_blocking(move || people::verify_password(&password, &hash))
                .await
                .unwrap_or(false);
        match user {
            Some(user) if matches && !user.disabled => {
                self.store.clear_failures(&account).await?;
                Ok(user)
            }
            _ => {
                let now = chrono::Utc::now().timestamp_millis();
                let window = THROTTLE_WINDOW.as_millis() as i64;
                self.store
                    .record_failures(&[&account, &address], now, now - window)
                    .await?;
                Err(AccessError::InvalidCredentials)
            }
        }
    }

    /// The refresh grant: the token is spent and its family's next pair issued. A spent token
    /// presented again revokes the whole family.
    pub async fn refresh_grant(&self, refresh_token: &str) -> Result<TokenPair, AccessError> {
        let access = people::new_token();
        let refresh = people::new_token();
        // The family is the old token's; the store checks it.
        let Some(family) = self.family_of_refresh(refresh_token).await? else {
            return Err(AccessError::InvalidRefresh);
        };
        let user_id = family.1;
        let next = self.pair_tokens(&access, &refresh, user_id, &family.0);
        match self
            .store
            .rotate_refresh(&people::token_hash(refresh_token), &next)
            .await?
        {
            RefreshOutcome::Rotated { .. } => Ok(TokenPair {
                access_token: access,
                token_type: "Bearer",
                expires_in: ACCESS_TTL.as_secs(),
                refresh_token: refresh,
            }),
            RefreshOutcome::Reused | RefreshOutcome::Invalid => Err(AccessError::InvalidRefresh),
        }
    }

    /// The caller an access token belongs to, while it is valid.
    pub async fn authenticate(&self, access_token: &str) -> Result<Option<Caller>, AccessError> {
        self.caller(access_token, TokenKind::Access).await
    }

    /// Ends the sign-in the caller's token came from: every token of its family.
    pub async fn logout(&self, caller: &Caller) -> Result<(), AccessError> {
        Ok(self.store.revoke_family(&caller.family).await?)
    }

    /// Changes the caller's password (the current one must be given); every token of the user
    /// is revoked, here and on every other device.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
    ) -> Result<(), AccessError> {
        let Some((_, hash)) = self.store.login_record(&user.username).await? else {
            return Err(AccessError::InvalidCredentials);
        };
        if !people::verify_password(current, &hash) {
            return Err(AccessError::BadValue {
                field: "current_password",
                message: "the current password is wrong".into(),
            });
        }
        check_password(new)?;
        let hash = self::hash(new)?;
        Ok(self.store.set_password(user.id, &hash).await?)
    }

    async fn caller(&self, token: &str, kind: TokenKind) -> Result<Option<Caller>, AccessError> {
        Ok(self
            .store
            .token_user(&people::token_hash(token), kind)
            .await?
            .map(|(user, family)| Caller { user, family }))
    }

    async fn family_of_refresh(
        &self,
        refresh_token: &str,
    ) -> Result<Option<(String, crate::id::Id)>, AccessError> {
        // A spent token is still found here (its family and user), so that reuse is detected
        // by the store's rotation rather than passing for an unknown token.
        Ok(self
            .store
            .refresh_family(&people::token_hash(refresh_token))
            .await?)
    }

    async fn issue(&self, user: &User, family: &str) -> Result<TokenPair, AccessError> {
        let access = people::new_token();
        let refresh = people::new_token();
        let tokens = self.pair_tokens(&access, &refresh, user.id, family);
        self.store.issue_tokens(&tokens).await?;
        Ok(TokenPair {
            access_token: access,
            token_type: "Bearer",
            expires_in: ACCESS_TTL.as_secs(),
            refresh_token: refresh,
        })
    }

    fn pair_tokens<'a>(
        &self,
        access: &str,
        refresh: &str,
        user: crate::id::Id,
        family: &'a str,
    ) -> Vec<NewToken<'a>> {
        let now = chrono::Utc::now();
        vec![
            NewToken {
                hash: people::token_hash(access),
                kind: TokenKind::Access,
                user_id: user,
                family,
                expires_at: now + chrono::Duration::seconds(ACCESS_TTL.as_secs() as i64),
            },
            NewToken {
                hash: people::token_hash(refresh),
                kind: TokenKind::Refresh,
                user_id: user,
                family,
                expires_at: now + chrono::Duration::seconds(REFRESH_TTL.as_secs() as i64),
            },
        ]
    }

    /// Refuses while `key` has `limit` failures within [`THROTTLE_WINDOW`] (counted in the
    /// database, so every process sharing it counts the same guesses).
    async fn check_throttle(&self, key: &str, limit: usize) -> Result<(), AccessError> {
        let now = chrono::Utc::now().timestamp_millis();
        let window = THROTTLE_WINDOW.as_millis() as i64;
        let (count, oldest) = self.store.failures_since(key, now - window).await?;
        if count >= limit as i64 {
            let waited = now - oldest.unwrap_or(now);
            return Err(AccessError::Throttled {
                retry_after: Duration::from_millis((window - waited).max(1_000) as u64),
            });
        }
        Ok(())
    }
}

fn check_password(password: &str) -> Result<(), AccessError> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(AccessError::BadValue {
            field: "password",
            message: "8 to 1,024 characters".into(),
        });
    }
    Ok(())
}

fn hash(password: &str) -> Result<String, AccessError> {
    people::hash_password(password).map_err(|e| AccessError::Store(StoreError::Corrupt(e)))
}
