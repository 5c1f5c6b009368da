//! The people statements, written once for both databases (see `sql.rs` for why a macro).

macro_rules! impl_people_store {
    ($store:ty, begin: $begin:literal, for_update: $for_update:literal $(,)?) => {
        impl $store {
            /// Puts the user in the group, creating the group when it is new.
            async fn join_group(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                group: &str,
                user: i64,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                sqlx::query(
                    "insert into people_groups (name, display_name, description, created_at)
                     values ($1, $1, '', $2) on conflict (name) do nothing",
                )
                .bind(group)
                .bind($crate::store::rows::now())
                .execute(&mut **tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                sqlx::query("insert into user_groups (group_name, user_id) values ($1, $2)")
                    .bind(group)
                    .bind(user)
                    .execute(&mut **tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                Ok(())
            }

            async fn groups_of(&self, user: i64) -> Result<Vec<String>, $crate::store::StoreError> {
                sqlx::query_scalar(
                    "select group_name from user_groups where user_id = $1 order by group_name",
                )
                .bind(user)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)
            }

            async fn user_of(
                &self,
                row: $crate::store::rows::UserRow,
            ) -> Result<$crate::people::User, $crate::store::StoreError> {
                let groups = self.groups_of(row.id).await?;
                row.into_user(groups)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::PeopleStore for $store {
            async fn create_user(
                &self,
                user: $crate::store::NewUser<'_>,
            ) -> Result<$crate::people::User, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let username = user.username.trim().to_lowercase();
                let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
                let _write = self.write_guard().await;
                let mut tx = self
                    .pool
                    .begin_with($begin)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                let taken: i64 =
                    sqlx::query_scalar("select count(*) from users where username = $1")
                        .bind(&username)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                if taken > 0 {
                    return Err(StoreError::Conflict(format!(
                        "username `{username}` is taken"
                    )));
                }
                sqlx::query(
                    "insert into users (id, username, display_name, password_hash, roles,
                                        disabled, created_at, updated_at)
                     values ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(user.id.0)
                .bind(&username)
                .bind(user.display_name)
                .bind(user.password_hash)
                .bind(serde_json::to_string(&roles).unwrap_or_else(|_| "[]".into()))
                .bind(false)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                for group in user.groups {
                    Self::join_group(&mut tx, group, user.id.0).await?;
                }
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                let mut groups = user.groups.to_vec();
                groups.sort();
                Ok($crate::people::User {
                    id: user.id,
                    username,
                    display_name: user.display_name.to_string(),
                    roles: user.roles.to_vec(),
                    groups,
                    disabled: false,
                    created_at: $crate::store::rows::format_time(now),
                })
            }

            async fn count_users(&self) -> Result<i64, $crate::store::StoreError> {
                sqlx::query_scalar("select count(*) from users")
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::from_sqlx)
            }

            async fn list_users(
                &self,
                limit: i64,
                offset: i64,
            ) -> Result<$crate::store::Page<$crate::people::User>, $crate::store::StoreError> {
                let total = self.count_users().await?;
                let rows: Vec<$crate::store::rows::UserRow> = sqlx::query_as(
                    "select id, username, display_name, password_hash, roles, disabled, created_at
                       from users order by username limit $1 offset $2",
                )
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                let mut items = Vec::with_capacity(rows.len());
                for row in rows {
                    items.push(self.user_of(row).await?);
                }
                Ok($crate::store::Page { items, total })
            }

            async fn user(
                &self,
                id: $crate::id::Id,
            ) -> Result<Option<$crate::people::User>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::UserRow> = sqlx::query_as(
                    "select id, username, display_name, password_hash, roles, disabled, created_at
                       from users where id = $1",
                )
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                match row {
                    Some(row) => Ok(Some(self.user_of(row).await?)),
                    None => Ok(None),
                }
            }

            async fn login_record(
                &self,
                username: &str,
            ) -> Result<Option<($crate::people::User, String)>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::UserRow> = sqlx::query_as(
                    "select id, username, display_name, password_hash, roles, disabled, created_at
                       from users where username = $1",
                )
                .bind(username.trim().to_lowercase())
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                match row {
                    Some(row) => {
                        let hash = row.password_hash.clone();
                        Ok(Some((self.user_of(row).await?, hash)))
                    }
                    None => Ok(None),
                }
            }

            async fn set_password(
                &self,
                id: $crate::id::Id,
                hash: &str,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let _write = self.write_guard().await;
                let mut tx = self
                    .pool
                    .begin_with($begin)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                let changed = sqlx::query(
                    "update users set password_hash = $2, updated_at = $3 where id = $1",
                )
                .bind(id.0)
                .bind(hash)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                if changed.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("user {id}")));
                }
                Self::revoke_user_tokens(&mut tx, id.0, now).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)
            }

            async fn update_user(
                &self,
                id: $crate::id::Id,
                change: $crate::store::UserChange<'_>,
            ) -> Result<$crate::people::User, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let roles = change.roles.map(|roles| {
                    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                    serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())
                });
                {
                    let _write = self.write_guard().await;
                    let mut tx = self
                        .pool
                        .begin_with($begin)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                    let changed = sqlx::query(
                        "update users set display_name = coalesce($2, display_name),
                                roles = coalesce($3, roles), updated_at = $4
                          where id = $1",
                    )
                    .bind(id.0)
                    .bind(change.display_name)
                    .bind(roles)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    if changed.rows_affected() == 0 {
                        return Err(StoreError::NotFound(format!("user {id}")));
                    }
                    if let Some(groups) = change.groups {
                        sqlx::query("delete from user_groups where user_id = $1")
                            .bind(id.0)
                            .execute(&mut *tx)
                            .await
                            .map_err(StoreError::from_sqlx)?;
                        let mut unique: Vec<&String> = groups.iter().collect();
                        unique.sort();
                        unique.dedup();
                        for group in unique {
                            Self::join_group(&mut tx, group, id.0).await?;
                        }
                    }
                    tx.commit().await.map_err(StoreError::from_sqlx)?;
                }
                $crate::store::PeopleStore::user(self, id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("user {id}")))
            }

            async fn set_disabled(
                &self,
                id: $crate::id::Id,
                disabled: bool,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let _write = self.write_guard().await;
                let mut tx = self
                    .pool
                    .begin_with($begin)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                let changed =
                    sqlx::query("update users set disabled = $2, updated_at = $3 where id = $1")
                        .bind(id.0)
                        .bind(disabled)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                if changed.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("user {id}")));
                }
                if disabled {
                    Self::revoke_user_tokens(&mut tx, id.0, now).await?;
                }
                tx.commit().await.map_err(StoreError::from_sqlx)
            }

            async fn issue_tokens(
                &self,
                tokens: &[$crate::store::NewToken<'_>],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self
                    .pool
                    .begin_with($begin)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                Self::insert_tokens(&mut tx, tokens).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)
            }

            async fn token_user(
                &self,
                hash: &str,
                kind: $crate::store::TokenKind,
            ) -> Result<Option<($crate::people::User, String)>, $crate::store::StoreError> {
                let found: Option<(i64, String)> = sqlx::query_as(
                    "select t.user_id, t.family from tokens t join users u on u.id = t.user_id
                      where t.hash = $1 and t.kind = $2 and t.revoked_at is null
                        and t.spent_at is null and t.expires_at > $3 and not u.disabled",
                )
                .bind(hash)
                .bind(kind.as_str())
                .bind($crate::store::rows::now())
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                let Some((user, family)) = found else {
                    return Ok(None);
                };
                Ok(self
                    .user($crate::id::Id(user))
                    .await?
                    .map(|user| (user, family)))
            }

            async fn refresh_family(
                &self,
                hash: &str,
            ) -> Result<Option<(String, $crate::id::Id)>, $crate::store::StoreError> {
                let found: Option<(String, i64)> = sqlx::query_as(
                    "select family, user_id from tokens where hash = $1 and kind = 'refresh'",
                )
                .bind(hash)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(found.map(|(family, user)| (family, $crate::id::Id(user))))
            }

            async fn rotate_refresh(
                &self,
                hash: &str,
                next: &[$crate::store::NewToken<'_>],
            ) -> Result<$crate::store::RefreshOutcome, $crate::store::StoreError> {
                use $crate::store::{RefreshOutcome, StoreError};
                let now = $crate::store::rows::now();
                let _write = self.write_guard().await;
                let mut tx = self
                    .pool
                    .begin_with($begin)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                type Found = (
                    i64,
                    String,
                    chrono::DateTime<chrono::Utc>,
                    Option<chrono::DateTime<chrono::Utc>>,
                    Option<chrono::DateTime<chrono::Utc>>,
                );
                let found: Option<Found> = sqlx::query_as(concat!(
                    "select user_id, family, expires_at, spent_at, revoked_at from tokens
                      where hash = $1 and kind = 'refresh' ",
                    $for_update
                ))
                .bind(hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let Some((user, family, expires, spent, revoked)) = found else {
                    return Ok(RefreshOutcome::Invalid);
                };
                if spent.is_some() {
                    // A spent token came back: someone holds a copy. End the whole family.
                    Self::revoke_family_in(&mut tx, &family, now).await?;
                    tx.commit().await.map_err(StoreError::from_sqlx)?;
                    return Ok(RefreshOutcome::Reused);
                }
                if revoked.is_some() || expires <= now {
                    return Ok(RefreshOutcome::Invalid);
                }
                let disabled: bool = sqlx::query_scalar("select disabled from users where id = $1")
                    .bind(user)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                if disabled {
                    return Ok(RefreshOutcome::Invalid);
                }
                sqlx::query("update tokens set spent_at = $2 where hash = $1")
                    .bind(hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                if next
                    .iter()
                    .any(|t| t.family != family || t.user_id.0 != user)
                {
                    return Err(StoreError::Conflict(
                        "rotated tokens must stay in their family".into(),
                    ));
                }
                Self::insert_tokens(&mut tx, next).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                let user = self
                    .user($crate::id::Id(user))
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("user {user}")))?;
                Ok(RefreshOutcome::Rotated { user })
            }

            async fn revoke_family(&self, family: &str) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self
                    .pool
                    .begin_with($begin)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                Self::revoke_family_in(&mut tx, family, $crate::store::rows::now()).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)
            }

            async fn grants(
                &self,
                definition_key: &str,
            ) -> Result<Vec<$crate::people::Grant>, $crate::store::StoreError> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "select role, permission from definition_grants
                      where definition_key = $1 order by role, permission",
                )
                .bind(definition_key)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(role, permission)| {
                        Some($crate::people::Grant {
                            role: $crate::people::Role::parse(&role)?,
                            permission: $crate::people::Permission::parse(&permission)?,
                        })
                    })
                    .collect())
            }

            async fn set_grants(
                &self,
                definition_key: &str,
                grants: &[$crate::people::Grant],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self
                    .pool
                    .begin_with($begin)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                sqlx::query("delete from definition_grants where definition_key = $1")
                    .bind(definition_key)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                let mut unique = grants.to_vec();
                unique.sort();
                unique.dedup();
                for grant in unique {
                    sqlx::query(
                        "insert into definition_grants (definition_key, role, permission)
                         values ($1, $2, $3)",
                    )
                    .bind(definition_key)
                    .bind(grant.role.as_str())
                    .bind(grant.permission.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                }
                tx.commit().await.map_err(StoreError::from_sqlx)
            }
        }

        impl $store {
            async fn insert_tokens(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                tokens: &[$crate::store::NewToken<'_>],
            ) -> Result<(), $crate::store::StoreError> {
                let now = $crate::store::rows::now();
                for token in tokens {
                    sqlx::query(
                        "insert into tokens (hash, kind, user_id, family, expires_at, created_at)
                         values ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&token.hash)
                    .bind(token.kind.as_str())
                    .bind(token.user_id.0)
                    .bind(token.family)
                    .bind(token.expires_at)
                    .bind(now)
                    .execute(&mut **tx)
                    .await
                    .map_err($crate::store::StoreError::from_sqlx)?;
                }
                Ok(())
            }

            async fn revoke_family_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                family: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "update tokens set revoked_at = $2 where family = $1 and revoked_at is null",
                )
                .bind(family)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(())
            }

            async fn revoke_user_tokens(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                user: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "update tokens set revoked_at = $2 where user_id = $1 and revoked_at is null",
                )
                .bind(user)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(())
            }
        }
    };
}
