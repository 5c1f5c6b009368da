//! The statements of groups (see `groups.rs` for the model and `sql.rs` for why a macro).

macro_rules! impl_group_store {
    ($store:ty $(,)?) => {
        #[async_trait::async_trait]
        impl $crate::store::GroupStore for $store {
            async fn list_groups(
                &self,
                limit: i64,
                offset: i64,
            ) -> Result<$crate::store::Page<$crate::store::Group>, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let total: i64 = sqlx::query_scalar("select count(*) from people_groups")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                let rows: Vec<$crate::store::sql_groups::GroupRow> = sqlx::query_as(&format!(
                    "{} order by g.name limit $1 offset $2",
                    $crate::store::sql_groups::GROUPS
                ))
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                Ok($crate::store::Page {
                    items: rows
                        .into_iter()
                        .map($crate::store::sql_groups::GroupRow::into_group)
                        .collect(),
                    total,
                })
            }

            async fn group(
                &self,
                name: &str,
            ) -> Result<Option<$crate::store::Group>, $crate::store::StoreError> {
                let row: Option<$crate::store::sql_groups::GroupRow> = sqlx::query_as(&format!(
                    "{} where g.name = $1",
                    $crate::store::sql_groups::GROUPS
                ))
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(row.map($crate::store::sql_groups::GroupRow::into_group))
            }

            async fn create_group(
                &self,
                group: $crate::store::NewGroup<'_>,
            ) -> Result<$crate::store::Group, $crate::store::StoreError> {
                use $crate::store::StoreError;
                {
                    let _write = self.write_guard().await;
                    let made = sqlx::query(
                        "insert into people_groups (name, display_name, description, created_at)
                         values ($1, $2, $3, $4) on conflict (name) do nothing",
                    )
                    .bind(group.name)
                    .bind(group.display_name)
                    .bind(group.description)
                    .bind($crate::store::rows::now())
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    if made.rows_affected() == 0 {
                        return Err(StoreError::Conflict(format!(
                            "group `{}` exists",
                            group.name
                        )));
                    }
                }
                self.group(group.name)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("group `{}`", group.name)))
            }

            async fn update_group(
                &self,
                name: &str,
                display_name: Option<&str>,
                description: Option<&str>,
            ) -> Result<$crate::store::Group, $crate::store::StoreError> {
                use $crate::store::StoreError;
                {
                    let _write = self.write_guard().await;
                    sqlx::query(
                        "update people_groups
                            set display_name = coalesce($2, display_name),
                                description = coalesce($3, description)
                          where name = $1",
                    )
                    .bind(name)
                    .bind(display_name)
                    .bind(description)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                }
                self.group(name)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("group `{name}`")))
            }

            async fn delete_group(&self, name: &str) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                // One statement: the check for members and the delete cannot be split by
                // another writer.
                let gone = sqlx::query(
                    "delete from people_groups where name = $1
                        and not exists (select 1 from user_groups where group_name = $1)",
                )
                .bind(name)
                .execute(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                if gone.rows_affected() == 1 {
                    return Ok(());
                }
                let there: i64 =
                    sqlx::query_scalar("select count(*) from people_groups where name = $1")
                        .bind(name)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                Err(if there == 0 {
                    StoreError::NotFound(format!("group `{name}`"))
                } else {
                    StoreError::Conflict(format!(
                        "group `{name}` has members; take them out of it first"
                    ))
                })
            }

            async fn group_members(
                &self,
                name: &str,
            ) -> Result<Vec<String>, $crate::store::StoreError> {
                sqlx::query_scalar(
                    "select u.username from users u
                       join user_groups g on g.user_id = u.id
                      where g.group_name = $1 order by u.username",
                )
                .bind(name)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)
            }
        }
    };
}

/// Groups with their member counts, to be filtered and ordered.
pub(crate) const GROUPS: &str = "select g.name, g.display_name, g.description, g.created_at,
        (select count(*) from user_groups u where u.group_name = g.name) as member_count
   from people_groups g";

/// A `people_groups` row with its member count.
#[derive(sqlx::FromRow)]
pub(crate) struct GroupRow {
    name: String,
    display_name: String,
    description: String,
    created_at: chrono::DateTime<chrono::Utc>,
    member_count: i64,
}

impl GroupRow {
    pub(crate) fn into_group(self) -> crate::store::Group {
        crate::store::Group {
            name: self.name,
            display_name: self.display_name,
            description: self.description,
            member_count: self.member_count,
            created_at: crate::store::rows::format_time(self.created_at),
        }
    }
}
