//! The statements of every store operation, written once. Both databases take the same SQL
//! (`$n` placeholders, `on conflict`, `returning`); sqlx's executors are per driver, so this
//! macro instantiates the one implementation for each adapter, which supplies only what
//! really differs: how a write transaction begins and how a row is locked for update.

macro_rules! impl_store {
    (
        $store:ty,
        backend: $backend:expr,
        // SQLite: `BEGIN IMMEDIATE` takes the write lock up front, so a transaction that reads
        // then writes is never refused half-way. PostgreSQL: a plain `BEGIN`.
        begin: $begin:literal,
        // Appended to a select that the transaction will update: `for update` on PostgreSQL;
        // nothing on SQLite, where the immediate transaction already excludes other writers.
        for_update: $for_update:literal,
        status_sql: $status_sql:literal $(,)?
    ) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> $crate::status::Backend {
                $backend
            }

            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("select 1")
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(())
            }

            async fn system_status(
                &self,
            ) -> Result<$crate::status::SystemStatus, $crate::store::StoreError> {
                let row: $crate::store::rows::StatusRow = sqlx::query_as($status_sql)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(row.into_status($backend))
            }

            async fn close(&self) {
                self.pool.close().await;
            }

            async fn save_draft(
                &self,
                draft: $crate::store::NewDraft<'_>,
            ) -> Result<$crate::definition::DefinitionRecord, $crate::store::StoreError> {
                use $crate::store::rows::{now, DefinitionRow};
                let now = now();
                let row: Option<DefinitionRow> = sqlx::query_as(
                    "insert into definitions
                         (key, name, draft, draft_updated_at, created_by, created_at, updated_at,
                          tags)
                     values ($1, $2, $3, $4, $5, $4, $4, $6)
                     on conflict (key) do update
                        set name = excluded.name, draft = excluded.draft, tags = excluded.tags,
                            draft_updated_at = excluded.draft_updated_at,
                            updated_at = excluded.updated_at
                      where definitions.status = 'active'
                     returning key, name, status, draft, draft_updated_at, latest_version,
                               created_by, created_at, updated_at, department_id",
                )
                .bind(draft.key)
                .bind(draft.name)
                .bind(sqlx::types::Json(draft.document))
                .bind(now)
                .bind(draft.actor)
                .bind($crate::store::rows::join_tags(draft.tags))
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                match row {
                    Some(row) => Ok(row.into_record()),
                    None => Err($crate::store::StoreError::Conflict(format!(
                        "definition `{}` is archived; restore it before editing",
                        draft.key
                    ))),
                }
            }

            async fn definition(
                &self,
                key: &str,
            ) -> Result<Option<$crate::definition::DefinitionRecord>, $crate::store::StoreError>
            {
                let row: Option<$crate::store::rows::DefinitionRow> = sqlx::query_as(
                    "select key, name, status, draft, draft_updated_at, latest_version,
                            created_by, created_at, updated_at, department_id
                       from definitions where key = $1",
                )
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(row.map(|r| r.into_record()))
            }

            async fn list_definitions(
                &self,
                query: &$crate::store::DefinitionQuery,
            ) -> Result<
                $crate::store::Page<$crate::store::DefinitionSummary>,
                $crate::store::StoreError,
            > {
                use $crate::store::rows::{status_name, SummaryRow};
                // The derived status, as DefinitionStatus names it.
                const FILTER: &str = "from definitions
                     where ($1 is null or lower(key) like $1 escape '\\' or lower(name) like $1 escape '\\'
                              or lower(tags) like $1 escape '\\')
                       and ($2 is null or
                            (case when status = 'archived' then 'archived'
                                  when latest_version is null then 'draft'
                                  else 'published' end) = $2)
                       and ($5 is null or (key in (
                            select definition_key from definition_grants
                             where $5 like '%,' || role || ',%')
                            and (department_id is null or $6 like '%,' || department_id || ',%')))";
                let pattern = query
                    .q
                    .as_deref()
                    .map(str::trim)
                    .filter(|q| !q.is_empty())
                    .map(|q| format!("%{}%", $crate::store::rows::escape_like(&q.to_lowercase())));
                let status = query.status.map(status_name);
                let roles = query.visible_to.as_ref().map(|v| v.roles_param());
                let departments = query.visible_to.as_ref().map(|v| v.departments_param());
                // $3 and $4 (limit, offset) are bound here too, unused, so that $5 means the
                // same in both statements.
                let total: i64 = sqlx::query_scalar(&format!(
                    "select count(*) {FILTER} and $3 = $3 and $4 = $4"
                ))
                    .bind(pattern.as_deref())
                    .bind(status)
                    .bind(query.limit)
                    .bind(query.offset)
                    .bind(roles.as_deref())
                    .bind(departments.as_deref())
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::from_sqlx)?;
                let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
                    "select key, name, status, latest_version, draft is not null as has_draft,
                            tags, updated_at
                     {FILTER} order by updated_at desc, key limit $3 offset $4"
                ))
                .bind(pattern.as_deref())
                .bind(status)
                .bind(query.limit)
                .bind(query.offset)
                .bind(roles.as_deref())
                .bind(departments.as_deref())
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok($crate::store::Page {
                    items: rows.into_iter().map(SummaryRow::into_summary).collect(),
                    total,
                })
            }

            async fn set_department(
                &self,
                key: &str,
                department: Option<&str>,
            ) -> Result<$crate::definition::DefinitionRecord, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let row: Option<$crate::store::rows::DefinitionRow> = sqlx::query_as(
                    "update definitions set department_id = $2 where key = $1
                     returning key, name, status, draft, draft_updated_at, latest_version,
                               created_by, created_at, updated_at, department_id",
                )
                .bind(key)
                .bind(department)
                .fetch_optional(&self.pool)
                .await
                .map_err(|err| match &err {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::NotFound(format!("department {}", department.unwrap_or_default()))
                    }
                    _ => StoreError::from_sqlx(err),
                })?;
                row.map(|r| r.into_record())
                    .ok_or_else(|| StoreError::NotFound(format!("definition `{key}`")))
            }

            async fn publish(
                &self,
                publish: $crate::store::NewVersion<'_>,
            ) -> Result<$crate::definition::VersionRecord, $crate::store::StoreError> {
                use $crate::store::rows::{now, parse_time, DefinitionRow, VersionRow};
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self
                    .pool
                    .begin_with($begin)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                let current: Option<DefinitionRow> = sqlx::query_as(concat!(
                    "select key, name, status, draft, draft_updated_at, latest_version,
                            created_by, created_at, updated_at, department_id
                       from definitions where key = $1 ",
                    $for_update
                ))
                .bind(publish.key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let current = current
                    .ok_or_else(|| StoreError::NotFound(format!("definition `{}`", publish.key)))?;
                if current.status == "archived" {
                    return Err(StoreError::Conflict(format!(
                        "definition `{}` is archived",
                        publish.key
                    )));
                }
                if current.draft_updated_at != Some(parse_time(publish.draft_updated_at)?) {
                    return Err(StoreError::Conflict(
                        "the draft changed since it was checked; check it again".into(),
                    ));
                }
                let version = current.latest_version.unwrap_or(0) + 1;
                let name = publish
                    .document
                    .get("name")
                    .and_then(|n| n.as_str())
                    .unwrap_or(&current.name)
                    .to_string();
                let now = now();
                let row: VersionRow = sqlx::query_as(
                    "insert into definition_versions
                         (id, key, version, document, published_by, published_at)
                     values ($1, $2, $3, $4, $5, $6)
                     returning id, key, version, document, published_by, published_at",
                )
                .bind(publish.id.0)
                .bind(publish.key)
                .bind(version)
                .bind(sqlx::types::Json(publish.document))
                .bind(publish.actor)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                sqlx::query(
                    "update definitions
                        set draft = null, draft_updated_at = null, latest_version = $2,
                            name = $3, updated_at = $4
                      where key = $1",
                )
                .bind(publish.key)
                .bind(version)
                .bind(name)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(row.into_record())
            }

            async fn version(
                &self,
                key: &str,
                version: Option<i32>,
            ) -> Result<Option<$crate::definition::VersionRecord>, $crate::store::StoreError>
            {
                let row: Option<$crate::store::rows::VersionRow> = sqlx::query_as(
                    "select id, key, version, document, published_by, published_at
                       from definition_versions
                      where key = $1 and ($2 is null or version = $2)
                      order by version desc limit 1",
                )
                .bind(key)
                .bind(version)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(row.map(|r| r.into_record()))
            }

            async fn startable(
                &self,
                key: &str,
                version: Option<i32>,
            ) -> Result<Option<$crate::store::Startable>, $crate::store::StoreError> {
                let row: Option<(String, Option<i64>, Option<i32>)> = sqlx::query_as(
                    "select d.status, v.id, v.version
                       from definitions d
                       left join definition_versions v
                         on v.key = d.key and ($2 is null or v.version = $2)
                      where d.key = $1
                      order by v.version desc limit 1",
                )
                .bind(key)
                .bind(version)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(row.map(|(status, id, number)| $crate::store::Startable {
                    archived: status == "archived",
                    version: id.zip(number).map(|(id, n)| ($crate::id::Id(id), n)),
                }))
            }

            async fn versions(
                &self,
                key: &str,
            ) -> Result<Vec<$crate::definition::VersionRecord>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::VersionRow> = sqlx::query_as(
                    "select id, key, version, document, published_by, published_at
                       from definition_versions where key = $1 order by version desc",
                )
                .bind(key)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(rows.into_iter().map(|r| r.into_record()).collect())
            }

            async fn set_archived(
                &self,
                key: &str,
                archived: bool,
            ) -> Result<(), $crate::store::StoreError> {
                let done = sqlx::query(
                    "update definitions set status = $2, updated_at = $3 where key = $1",
                )
                .bind(key)
                .bind(if archived { "archived" } else { "active" })
                .bind($crate::store::rows::now())
                .execute(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                if done.rows_affected() == 0 {
                    return Err($crate::store::StoreError::NotFound(format!(
                        "definition `{key}`"
                    )));
                }
                Ok(())
            }
        }
    };
}
