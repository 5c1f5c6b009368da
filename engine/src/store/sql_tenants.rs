//! The tenant statements, written once for both databases (see `sql.rs` for why a macro).

macro_rules! impl_tenant_store {
    ($store:ty, begin: $begin:literal $(,)?) => {
        #[async_trait::async_trait]
        impl $crate::store::TenantStore for $store {
            async fn create_company(
                &self,
                company: $crate::store::NewCompany<'_>,
            ) -> Result<$crate::store::Company, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                sqlx::query(
                    "insert into companies (id, name, description, tags, properties, created_by,
                                            created_at, updated_at)
                     values ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(company.id)
                .bind(company.name)
                .bind(company.description)
                .bind(serde_json::to_string(company.tags).unwrap_or_else(|_| "[]".into()))
                .bind(serde_json::to_string(company.properties).unwrap_or_else(|_| "{}".into()))
                .bind(company.actor)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                sqlx::query(
                    "insert into departments (id, company_id, parent_id, name, description, path,
                                              created_at, updated_at)
                     values ($1, $2, null, $3, '', $3, $4, $4)",
                )
                .bind(company.root_id)
                .bind(company.id)
                .bind(company.name)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                self.company(company.id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("company {}", company.id)))
            }

            async fn companies(
                &self,
                name: Option<&str>,
                member: Option<$crate::id::Id>,
            ) -> Result<Vec<$crate::store::Company>, $crate::store::StoreError> {
                let pattern = name
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(|n| format!("%{}%", $crate::store::rows::escape_like(&n.to_lowercase())));
                let rows: Vec<$crate::store::rows::CompanyRow> = sqlx::query_as(
                    "select id, name, description, tags, properties, created_by, created_at,
                            updated_at
                       from companies
                      where ($1 is null or lower(name) like $1 escape '\\')
                        and ($2 is null or id in (
                             select d.company_id from departments d
                               join department_members m on m.department_id = d.id
                              where m.user_id = $2))
                      order by name, id",
                )
                .bind(pattern)
                .bind(member.map(|m| m.0))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                rows.into_iter().map(|r| r.into_company()).collect()
            }

            async fn company(
                &self,
                id: &str,
            ) -> Result<Option<$crate::store::Company>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::CompanyRow> = sqlx::query_as(
                    "select id, name, description, tags, properties, created_by, created_at,
                            updated_at
                       from companies where id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                row.map(|r| r.into_company()).transpose()
            }

            async fn create_department(
                &self,
                department: $crate::store::NewDepartment<'_>,
            ) -> Result<$crate::store::Department, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let parent: Option<String> = sqlx::query_scalar(
                    "select path from departments where id = $1 and company_id = $2",
                )
                .bind(department.parent_id)
                .bind(department.company_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let parent = parent.ok_or_else(|| {
                    StoreError::NotFound(format!(
                        "department {} in company {}",
                        department.parent_id, department.company_id
                    ))
                })?;
                let path = format!("{parent}/{}", department.name);
                let inserted = sqlx::query(
                    "insert into departments (id, company_id, parent_id, name, description, path,
                                              created_at, updated_at)
                     values ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(department.id)
                .bind(department.company_id)
                .bind(department.parent_id)
                .bind(department.name)
                .bind(department.description)
                .bind(&path)
                .bind(now)
                .execute(&mut *tx)
                .await;
                match inserted {
                    Ok(_) => {}
                    Err(err) if $crate::store::is_unique_violation(&err) => {
                        return Err(StoreError::Conflict(format!(
                            "`{path}` exists already"
                        )))
                    }
                    Err(err) => return Err(StoreError::from_sqlx(err)),
                }
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                let all = self.departments(department.company_id).await?;
                all.into_iter()
                    .find(|d| d.id == department.id)
                    .ok_or_else(|| StoreError::NotFound(format!("department {}", department.id)))
            }

            async fn departments(
                &self,
                company_id: &str,
            ) -> Result<Vec<$crate::store::Department>, $crate::store::StoreError> {
                self.departments_where("d.company_id = $1", company_id, 0)
                    .await
            }

            async fn department(
                &self,
                id: &str,
            ) -> Result<Option<$crate::store::Department>, $crate::store::StoreError> {
                Ok(self
                    .departments_where("d.id = $1", id, 0)
                    .await?
                    .into_iter()
                    .next())
            }

            async fn memberships(
                &self,
                user: $crate::id::Id,
            ) -> Result<Vec<$crate::store::Department>, $crate::store::StoreError> {
                self.departments_where(
                    "d.id in (select department_id from department_members where user_id = $2)",
                    "",
                    user.0,
                )
                .await
            }

            async fn remove_member(
                &self,
                department_id: &str,
                user: $crate::id::Id,
            ) -> Result<(), $crate::store::StoreError> {
                let _write = self.write_guard().await;
                sqlx::query("delete from department_members where department_id = $1 and user_id = $2")
                    .bind(department_id)
                    .bind(user.0)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(())
            }

            async fn add_member(
                &self,
                department_id: &str,
                user: $crate::id::Id,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let there: i64 = sqlx::query_scalar(
                    "select count(*) from department_members where department_id = $1 and user_id = $2",
                )
                .bind(department_id)
                .bind(user.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                if there == 0 {
                    sqlx::query(
                        "insert into department_members (department_id, user_id) values ($1, $2)",
                    )
                    .bind(department_id)
                    .bind(user.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(|err| match &err {
                        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                            StoreError::NotFound(format!("department {department_id} or user {user}"))
                        }
                        _ => StoreError::from_sqlx(err),
                    })?;
                }
                tx.commit().await.map_err(StoreError::from_sqlx)
            }

            async fn is_member(
                &self,
                company_id: &str,
                user: $crate::id::Id,
            ) -> Result<bool, $crate::store::StoreError> {
                let count: i64 = sqlx::query_scalar(
                    "select count(*) from department_members m
                       join departments d on d.id = m.department_id
                      where d.company_id = $1 and m.user_id = $2",
                )
                .bind(company_id)
                .bind(user.0)
                .fetch_one(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(count > 0)
            }
        }

        impl $store {
            /// Departments matching `condition` (on `d`; `$1` is `text`, `$2` is `number`), root
            /// first.
            async fn departments_where(
                &self,
                condition: &str,
                text: &str,
                number: i64,
            ) -> Result<Vec<$crate::store::Department>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::DepartmentRow> = sqlx::query_as(&format!(
                    "select d.id, d.company_id, d.parent_id, d.name, d.description, d.path,
                            (select count(*) from department_members m
                              where m.department_id = d.id) as user_count,
                            d.created_at, d.updated_at
                       from departments d where ({condition}) and $1 = $1 and $2 = $2
                      order by d.parent_id is not null, d.path"
                ))
                .bind(text)
                .bind(number)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(rows.into_iter().map(|r| r.into_department()).collect())
            }
        }
    };
}
