//! The statements of the entity catalog and preview sessions (see `entities.rs` for the model
//! and `sql.rs` for why a macro).

macro_rules! impl_entity_store {
    ($store:ty, begin: $begin:literal $(,)?) => {
        #[async_trait::async_trait]
        impl $crate::store::EntityStore for $store {
            async fn put_entity_type(
                &self,
                t: &$crate::entity::EntityType,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let now = $crate::store::rows::now();
                sqlx::query(
                    "insert into entity_types
                         (id, display_name, display_attribute, attributes, created_at, updated_at)
                     values ($1, $2, $3, $4, $5, $5)
                     on conflict (id) do update
                        set display_name = excluded.display_name,
                            display_attribute = excluded.display_attribute,
                            attributes = excluded.attributes, updated_at = excluded.updated_at",
                )
                .bind(&t.id)
                .bind(&t.display_name)
                .bind(&t.display_attribute)
                .bind(sqlx::types::Json(&t.attributes))
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                Ok(())
            }

            async fn entity_types(
                &self,
            ) -> Result<Vec<$crate::entity::EntityType>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::EntityTypeRow> = sqlx::query_as(
                    "select id, display_name, display_attribute, attributes
                       from entity_types order by id",
                )
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(rows.into_iter().map(|r| r.into_type()).collect())
            }

            async fn entity_type(
                &self,
                id: &str,
            ) -> Result<Option<$crate::entity::EntityType>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::EntityTypeRow> = sqlx::query_as(
                    "select id, display_name, display_attribute, attributes
                       from entity_types where id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(row.map(|r| r.into_type()))
            }

            async fn delete_entity_type(&self, id: &str) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let used: i64 =
                    sqlx::query_scalar("select count(*) from entity_records where entity_type = $1")
                        .bind(id)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                if used > 0 {
                    return Err(StoreError::Conflict(format!(
                        "entity type `{id}` has {used} record(s); delete them first"
                    )));
                }
                let done = sqlx::query("delete from entity_types where id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                Ok(done.rows_affected() > 0)
            }

            async fn put_entity_records(
                &self,
                records: &[$crate::entity::EntityRecord],
                links: &[(String, String, String)],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let now = $crate::store::rows::now();
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                for r in records {
                    sqlx::query(
                        "insert into entity_records (guid, entity_type, display_name, data, updated_at)
                         values ($1, $2, $3, $4, $5)
                         on conflict (guid) do update
                            set entity_type = excluded.entity_type,
                                display_name = excluded.display_name, data = excluded.data,
                                updated_at = excluded.updated_at",
                    )
                    .bind(&r.guid)
                    .bind(&r.entity_type)
                    .bind(&r.display_name)
                    .bind(sqlx::types::Json(&r.data))
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    sqlx::query("delete from entity_links where from_guid = $1")
                        .bind(&r.guid)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                }
                for (from, attribute, to) in links {
                    sqlx::query(
                        "insert into entity_links (from_guid, attribute, to_guid) values ($1, $2, $3)
                         on conflict do nothing",
                    )
                    .bind(from)
                    .bind(attribute)
                    .bind(to)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                }
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(())
            }

            async fn entity_record(
                &self,
                guid: &str,
            ) -> Result<Option<$crate::entity::EntityRecord>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::EntityRecordRow> = sqlx::query_as(
                    "select guid, entity_type, display_name, data from entity_records where guid = $1",
                )
                .bind(guid)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(row.map(|r| r.into_record()))
            }

            async fn entity_records(
                &self,
                entity_type: &str,
                q: Option<&str>,
                limit: i64,
                offset: i64,
            ) -> Result<
                $crate::store::Page<$crate::entity::EntityRecord>,
                $crate::store::StoreError,
            > {
                use $crate::store::StoreError;
                const FILTER: &str = "from entity_records where entity_type = $1
                     and ($2 is null or lower(display_name) like $2 escape '\\' or lower(guid) like $2 escape '\\')";
                let pattern = q
                    .map(str::trim)
                    .filter(|q| !q.is_empty())
                    .map(|q| format!("%{}%", $crate::store::rows::escape_like(&q.to_lowercase())));
                let total: i64 = sqlx::query_scalar(&format!(
                    "select count(*) {FILTER} and $3 = $3 and $4 = $4"
                ))
                .bind(entity_type)
                .bind(pattern.as_deref())
                .bind(limit)
                .bind(offset)
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                let rows: Vec<$crate::store::rows::EntityRecordRow> = sqlx::query_as(&format!(
                    "select guid, entity_type, display_name, data {FILTER}
                      order by display_name, guid limit $3 offset $4"
                ))
                .bind(entity_type)
                .bind(pattern.as_deref())
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                Ok($crate::store::Page {
                    items: rows.into_iter().map(|r| r.into_record()).collect(),
                    total,
                })
            }

            async fn delete_entity_record(&self, guid: &str) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let referenced: i64 =
                    sqlx::query_scalar("select count(*) from entity_links where to_guid = $1")
                        .bind(guid)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                if referenced > 0 {
                    return Err(StoreError::Conflict(format!(
                        "entity record `{guid}` is referenced by {referenced} record(s); change or delete them first"
                    )));
                }
                sqlx::query("delete from entity_links where from_guid = $1")
                    .bind(guid)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                let done = sqlx::query("delete from entity_records where guid = $1")
                    .bind(guid)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(done.rows_affected() > 0)
            }

            async fn entity_neighbours(
                &self,
                from: &[String],
                forward: bool,
                attribute: Option<&str>,
                entity_type: &str,
            ) -> Result<Vec<(String, $crate::entity::EntityRecord)>, $crate::store::StoreError> {
                use $crate::store::StoreError;
                if from.is_empty() {
                    return Ok(Vec::new());
                }
                let (origin, reached, matched) = if forward {
                    ("l.from_guid", "l.to_guid", "l.from_guid")
                } else {
                    ("l.to_guid", "l.from_guid", "l.to_guid")
                };
                let places: Vec<String> = (0..from.len()).map(|i| format!("${}", i + 3)).collect();
                let sql = format!(
                    "select {origin} as origin, r.guid, r.entity_type, r.display_name, r.data
                       from entity_links l join entity_records r on r.guid = {reached}
                      where r.entity_type = $1 and ($2 is null or l.attribute = $2)
                        and {matched} in ({})
                      order by r.display_name, r.guid",
                    places.join(", ")
                );
                let mut query = sqlx::query_as::<_, $crate::store::rows::NeighbourRow>(&sql)
                    .bind(entity_type)
                    .bind(attribute);
                for guid in from {
                    query = query.bind(guid);
                }
                let rows = query.fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)?;
                Ok(rows.into_iter().map(|r| r.split()).collect())
            }

            async fn save_preview(
                &self,
                s: &$crate::store::PreviewSession,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                // Expired sessions go as new ones come.
                sqlx::query("delete from preview_sessions where expires_at < $1")
                    .bind(s.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                sqlx::query(
                    "insert into preview_sessions (id, definition_key, version, root_guid, tree,
                         bindings, created_by, created_at, expires_at)
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&s.id)
                .bind(&s.definition_key)
                .bind(s.version)
                .bind(&s.root_guid)
                .bind(sqlx::types::Json(&s.tree))
                .bind(sqlx::types::Json(&s.bindings))
                .bind(&s.created_by)
                .bind(s.created_at)
                .bind(s.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(())
            }

            async fn preview(
                &self,
                id: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::store::PreviewSession>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::PreviewRow> = sqlx::query_as(
                    "select id, definition_key, version, root_guid, tree, bindings, created_by,
                            created_at, expires_at
                       from preview_sessions where id = $1 and expires_at >= $2",
                )
                .bind(id)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(row.map(|r| r.into_session()))
            }
        }
    };
}
