//! The statements of packages, preloaded uploads and deployments' robots (see `packages.rs` for
//! the model and `sql.rs` for why a macro).

use chrono::{DateTime, Utc};

use crate::store::rows::format_time;
use crate::store::{Package, PackageUpload, PackageVersion, StoreError};

pub(crate) const PACKAGE_COLUMNS: &str = "id, name, description, tags, etag, department_id,
    total_downloads, created_by, modified_by, created_at, updated_at";

pub(crate) const VERSION_COLUMNS: &str = "id, package_id, version, description, arguments, sha256,
    size, total_downloads, created_by, created_at";

pub(crate) const UPLOAD_COLUMNS: &str =
    "id, secret_hash, sha256, department_id, created_by, created_at";

/// Files that no version and no open upload keep.
pub(crate) const DROP_UNKEPT_BLOBS: &str = "delete from package_blobs
  where not exists (select 1 from package_versions v where v.sha256 = package_blobs.sha256)
    and not exists (select 1 from package_uploads u where u.sha256 = package_blobs.sha256)";

#[derive(sqlx::FromRow)]
pub(crate) struct PackageRow {
    id: String,
    name: String,
    description: String,
    tags: String,
    etag: String,
    department_id: Option<String>,
    total_downloads: i64,
    created_by: String,
    modified_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct VersionRow {
    id: String,
    package_id: String,
    version: String,
    description: String,
    arguments: String,
    sha256: String,
    size: i64,
    total_downloads: i64,
    created_by: String,
    created_at: DateTime<Utc>,
}

impl From<VersionRow> for PackageVersion {
    fn from(r: VersionRow) -> Self {
        PackageVersion {
            id: r.id,
            package_id: r.package_id,
            version: r.version,
            description: r.description,
            arguments: serde_json::from_str(&r.arguments).unwrap_or_default(),
            sha256: r.sha256,
            size: r.size,
            total_downloads: r.total_downloads,
            created_by: r.created_by,
            created_at: format_time(r.created_at),
        }
    }
}

/// Packages with their versions (any order in), highest version first.
pub(crate) fn assemble(packages: Vec<PackageRow>, versions: Vec<VersionRow>) -> Vec<Package> {
    let mut versions: Vec<PackageVersion> = versions.into_iter().map(Into::into).collect();
    versions.sort_by(|a, b| crate::store::version_order(&b.version, &a.version));
    packages
        .into_iter()
        .map(|r| Package {
            versions: versions
                .iter()
                .filter(|v| v.package_id == r.id)
                .cloned()
                .collect(),
            id: r.id,
            name: r.name,
            description: r.description,
            tags: serde_json::from_str(&r.tags).unwrap_or_default(),
            etag: r.etag,
            department_id: r.department_id,
            total_downloads: r.total_downloads,
            created_by: r.created_by,
            modified_by: r.modified_by,
            created_at: format_time(r.created_at),
            updated_at: format_time(r.updated_at),
        })
        .collect()
}

#[derive(sqlx::FromRow)]
pub(crate) struct UploadRow {
    id: String,
    secret_hash: String,
    sha256: Option<String>,
    department_id: Option<String>,
    created_by: String,
    created_at: DateTime<Utc>,
}

impl From<UploadRow> for PackageUpload {
    fn from(r: UploadRow) -> Self {
        PackageUpload {
            id: r.id,
            secret_hash: r.secret_hash,
            sha256: r.sha256,
            department_id: r.department_id,
            created_by: r.created_by,
            created_at: format_time(r.created_at),
        }
    }
}

/// A unique-constraint failure as a `Conflict` saying what exists.
pub(crate) fn taken(err: sqlx::Error, what: String) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(format!("{what} exists"))
        }
        _ => StoreError::from_sqlx(err),
    }
}

macro_rules! impl_package_store {
    ($store:ty, begin: $begin:literal, for_update: $for_update:literal $(,)?) => {
        impl $store {
            async fn packages_where(
                &self,
                condition: &str,
                value: Option<&str>,
            ) -> Result<Vec<$crate::store::Package>, $crate::store::StoreError> {
                use $crate::store::sql_packages::{PackageRow, VersionRow, PACKAGE_COLUMNS, VERSION_COLUMNS};
                use $crate::store::StoreError;
                let packages: Vec<PackageRow> = sqlx::query_as(&format!(
                    "select {PACKAGE_COLUMNS} from packages where {condition} order by name"
                ))
                .bind(value)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                let versions: Vec<VersionRow> = sqlx::query_as(&format!(
                    "select {VERSION_COLUMNS} from package_versions
                      where package_id in (select id from packages where {condition})"
                ))
                .bind(value)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                Ok($crate::store::sql_packages::assemble(packages, versions))
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::PackageStore for $store {
            async fn add_package_version(
                &self,
                new: $crate::store::NewPackageVersion<'_>,
            ) -> Result<$crate::store::Package, $crate::store::StoreError> {
                use $crate::store::sql_packages::taken;
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let etag = $crate::people::new_uuid();
                let package_id = {
                    let _write = self.write_guard().await;
                    let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                    sqlx::query(
                        "insert into package_blobs (sha256, content, size, created_at)
                         values ($1, $2, $3, $4) on conflict (sha256) do nothing",
                    )
                    .bind(new.sha256)
                    .bind(new.content)
                    .bind(new.content.len() as i64)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    let existing: Option<String> = sqlx::query_scalar(concat!(
                        "select id from packages where name = $1 ",
                        $for_update
                    ))
                    .bind(new.name)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    let package_id = match existing {
                        Some(id) => {
                            sqlx::query(
                                "update packages set etag = $2, modified_by = $3, updated_at = $4
                                  where id = $1",
                            )
                            .bind(&id)
                            .bind(&etag)
                            .bind(new.created_by)
                            .bind(now)
                            .execute(&mut *tx)
                            .await
                            .map_err(StoreError::from_sqlx)?;
                            id
                        }
                        None => {
                            sqlx::query(
                                "insert into packages (id, name, description, etag, department_id,
                                                       created_by, modified_by, created_at,
                                                       updated_at)
                                 values ($1, $2, $3, $4, $5, $6, $6, $7, $7)",
                            )
                            .bind(new.package_id)
                            .bind(new.name)
                            .bind(new.description)
                            .bind(&etag)
                            .bind(new.department_id)
                            .bind(new.created_by)
                            .bind(now)
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| taken(e, format!("a package named {}", new.name)))?;
                            new.package_id.to_string()
                        }
                    };
                    sqlx::query(
                        "insert into package_versions (id, package_id, version, description,
                                                       arguments, sha256, size, created_by,
                                                       created_at)
                         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(new.version_id)
                    .bind(&package_id)
                    .bind(new.version)
                    .bind(new.description)
                    .bind(serde_json::to_string(new.arguments).unwrap_or_else(|_| "[]".into()))
                    .bind(new.sha256)
                    .bind(new.content.len() as i64)
                    .bind(new.created_by)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        taken(e, format!("version {} of package {}", new.version, new.name))
                    })?;
                    tx.commit().await.map_err(StoreError::from_sqlx)?;
                    package_id
                };
                self.package(&package_id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("package {package_id}")))
            }

            async fn packages(
                &self,
            ) -> Result<Vec<$crate::store::Package>, $crate::store::StoreError> {
                self.packages_where("$1 is null", None).await
            }

            async fn package(
                &self,
                id_or_name: &str,
            ) -> Result<Option<$crate::store::Package>, $crate::store::StoreError> {
                let mut found = self.packages_where("id = $1", Some(id_or_name)).await?;
                if found.is_empty() {
                    found = self.packages_where("name = $1", Some(id_or_name)).await?;
                }
                Ok(found.pop())
            }

            async fn update_package(
                &self,
                id: &str,
                change: $crate::store::PackageChange<'_>,
            ) -> Result<$crate::store::Package, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let changed = {
                    let _write = self.write_guard().await;
                    sqlx::query(
                        "update packages set description = coalesce($3, description),
                                tags = coalesce($4, tags), etag = $5, modified_by = $6,
                                updated_at = $7
                          where id = $1 and etag = $2",
                    )
                    .bind(id)
                    .bind(change.etag)
                    .bind(change.description)
                    .bind(change.tags.map(|t| serde_json::to_string(t).unwrap_or_default()))
                    .bind($crate::people::new_uuid())
                    .bind(change.modified_by)
                    .bind($crate::store::rows::now())
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?
                    .rows_affected()
                };
                let package = self
                    .package(id)
                    .await?
                    .filter(|p| p.id == id)
                    .ok_or_else(|| StoreError::NotFound(format!("package {id}")))?;
                if changed == 0 {
                    return Err(StoreError::Conflict(format!(
                        "ETag: the package changed since {} (it is {} now)",
                        change.etag, package.etag
                    )));
                }
                Ok(package)
            }

            async fn delete_package(&self, id: &str) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let name: Option<String> = sqlx::query_scalar("select name from packages where id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                let name = name.ok_or_else(|| StoreError::NotFound(format!("package {id}")))?;
                let used: i64 = sqlx::query_scalar("select count(*) from deployments where package_name = $1")
                    .bind(&name)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                if used > 0 {
                    return Err(StoreError::Conflict(format!(
                        "the package {name} is used by {used} workflow deployment(s)"
                    )));
                }
                for statement in [
                    "delete from package_versions where package_id = $1",
                    "delete from packages where id = $1",
                ] {
                    sqlx::query(statement)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                }
                sqlx::query($crate::store::sql_packages::DROP_UNKEPT_BLOBS)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                tx.commit().await.map_err(StoreError::from_sqlx)
            }

            async fn download_package(
                &self,
                package: &str,
                version: &str,
            ) -> Result<Option<($crate::store::PackageVersion, Vec<u8>)>, $crate::store::StoreError> {
                use $crate::store::sql_packages::{VersionRow, VERSION_COLUMNS};
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let row: Option<VersionRow> = sqlx::query_as(&format!(
                    "select {VERSION_COLUMNS} from package_versions
                      where version = $2
                        and package_id = (select id from packages where id = $1 or name = $1
                                           order by id = $1 desc limit 1)"
                ))
                .bind(package)
                .bind(version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let Some(row) = row else { return Ok(None) };
                let found: $crate::store::PackageVersion = row.into();
                for statement in [
                    "update package_versions set total_downloads = total_downloads + 1 where id = $1",
                    "update packages set total_downloads = total_downloads + 1
                      where id = (select package_id from package_versions where id = $1)",
                ] {
                    sqlx::query(statement)
                        .bind(&found.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                }
                let content: Vec<u8> = sqlx::query_scalar("select content from package_blobs where sha256 = $1")
                    .bind(&found.sha256)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(Some((found, content)))
            }

            async fn open_upload(
                &self,
                upload: $crate::store::NewUpload<'_>,
            ) -> Result<$crate::store::PackageUpload, $crate::store::StoreError> {
                use $crate::store::StoreError;
                {
                    let _write = self.write_guard().await;
                    sqlx::query(
                        "insert into package_uploads (id, secret_hash, department_id, created_by,
                                                      created_at)
                         values ($1, $2, $3, $4, $5)",
                    )
                    .bind(upload.id)
                    .bind(upload.secret_hash)
                    .bind(upload.department_id)
                    .bind(upload.created_by)
                    .bind($crate::store::rows::now())
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                }
                self.package_upload(upload.id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("upload {}", upload.id)))
            }

            async fn package_upload(
                &self,
                id: &str,
            ) -> Result<Option<$crate::store::PackageUpload>, $crate::store::StoreError> {
                use $crate::store::sql_packages::{UploadRow, UPLOAD_COLUMNS};
                let row: Option<UploadRow> = sqlx::query_as(&format!(
                    "select {UPLOAD_COLUMNS} from package_uploads where id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(row.map(Into::into))
            }

            async fn fill_upload(
                &self,
                id: &str,
                sha256: &str,
                content: &[u8],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                sqlx::query(
                    "insert into package_blobs (sha256, content, size, created_at)
                     values ($1, $2, $3, $4) on conflict (sha256) do nothing",
                )
                .bind(sha256)
                .bind(content)
                .bind(content.len() as i64)
                .bind($crate::store::rows::now())
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let filled = sqlx::query("update package_uploads set sha256 = $2 where id = $1")
                    .bind(id)
                    .bind(sha256)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                if filled.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("upload {id}")));
                }
                sqlx::query($crate::store::sql_packages::DROP_UNKEPT_BLOBS)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                tx.commit().await.map_err(StoreError::from_sqlx)
            }

            async fn upload_content(
                &self,
                id: &str,
            ) -> Result<Option<Vec<u8>>, $crate::store::StoreError> {
                sqlx::query_scalar(
                    "select b.content from package_uploads u
                       join package_blobs b on b.sha256 = u.sha256
                      where u.id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)
            }

            async fn close_upload(&self, id: &str) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                sqlx::query("delete from package_uploads where id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                sqlx::query($crate::store::sql_packages::DROP_UNKEPT_BLOBS)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                tx.commit().await.map_err(StoreError::from_sqlx)
            }

            async fn bind_robots(
                &self,
                deployment: &str,
                robots: &[String],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                for robot in robots {
                    let known: i64 = sqlx::query_scalar("select count(*) from robots where id = $1")
                        .bind(robot)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                    if known == 0 {
                        return Err(StoreError::NotFound(format!("robot {robot}")));
                    }
                    sqlx::query(
                        "insert into deployment_robots (deployment_id, robot_id) values ($1, $2)
                         on conflict (deployment_id, robot_id) do nothing",
                    )
                    .bind(deployment)
                    .bind(robot)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match &e {
                        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                            StoreError::NotFound(format!("deployment {deployment}"))
                        }
                        _ => StoreError::from_sqlx(e),
                    })?;
                }
                tx.commit().await.map_err(StoreError::from_sqlx)
            }

            async fn deployment_robots(
                &self,
                deployment: &str,
            ) -> Result<Vec<$crate::store::Robot>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::worker_rows::RobotRow> = sqlx::query_as(&format!(
                    "select {} from robots
                      where id in (select robot_id from deployment_robots where deployment_id = $1)
                      order by name",
                    $crate::store::worker_rows::ROBOT_COLUMNS
                ))
                .bind(deployment)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn unbind_robot(
                &self,
                deployment: &str,
                robot: &str,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let gone = sqlx::query(
                    "delete from deployment_robots where deployment_id = $1 and robot_id = $2",
                )
                .bind(deployment)
                .bind(robot)
                .execute(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                if gone.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!(
                        "robot {robot} is not bound to workflow {deployment}"
                    )));
                }
                Ok(())
            }
        }
    };
}
