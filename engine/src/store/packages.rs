//! Packages (what robots run) and what deployments take from them (DESIGN §3 "Workers").
//!
//! A package has versions; each version's file is kept once per content (by its SHA-256) in the
//! database, so every server process on one PostgreSQL serves the same files. Robots download a
//! version's file (counted per version and per package). A preloaded upload opens a channel, the
//! file is put to it, and completing it adds the version. A deployment may be bound to some robots
//! of its queue: its jobs then go to those robots only.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Robot, StoreError};

#[async_trait]
pub trait PackageStore: Send + Sync {
    /// Adds a version of the package named in it, creating the package with its first version;
    /// the file is stored once per content. `Conflict` when the package has that version.
    async fn add_package_version(&self, new: NewPackageVersion<'_>) -> Result<Package, StoreError>;
    /// Every package with its versions, by name.
    async fn packages(&self) -> Result<Vec<Package>, StoreError>;
    /// By id, or else by name.
    async fn package(&self, id_or_name: &str) -> Result<Option<Package>, StoreError>;
    /// Changes the package's description and tags when `etag` is its current one (`Conflict`
    /// otherwise); a new etag is given.
    async fn update_package(
        &self,
        id: &str,
        change: PackageChange<'_>,
    ) -> Result<Package, StoreError>;
    /// Deletes the package, its versions and files no other version keeps. `Conflict` while a
    /// deployment uses it.
    async fn delete_package(&self, id: &str) -> Result<(), StoreError>;
    /// The file of a version, counting the download. `None` for an unknown package or version.
    async fn download_package(
        &self,
        package: &str,
        version: &str,
    ) -> Result<Option<(PackageVersion, Vec<u8>)>, StoreError>;

    /// Opens a preloaded upload.
    async fn open_upload(&self, upload: NewUpload<'_>) -> Result<PackageUpload, StoreError>;
    async fn package_upload(&self, id: &str) -> Result<Option<PackageUpload>, StoreError>;
    /// Keeps the file put to an open upload (replacing one put before).
    async fn fill_upload(&self, id: &str, sha256: &str, content: &[u8]) -> Result<(), StoreError>;
    /// The file put to an upload, if any.
    async fn upload_content(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Closes an upload (completed or abandoned), dropping a file no version keeps.
    async fn close_upload(&self, id: &str) -> Result<(), StoreError>;

    /// Binds robots to a deployment (already bound ones stay). `NotFound` names an unknown one.
    async fn bind_robots(&self, deployment: &str, robots: &[String]) -> Result<(), StoreError>;
    /// The robots bound to a deployment, by name.
    async fn deployment_robots(&self, deployment: &str) -> Result<Vec<Robot>, StoreError>;
    /// `NotFound` when the robot is not bound to the deployment.
    async fn unbind_robot(&self, deployment: &str, robot: &str) -> Result<(), StoreError>;
}

#[derive(Debug, Clone, Copy)]
pub struct NewPackageVersion<'a> {
    /// The package's id when this version creates it.
    pub package_id: &'a str,
    pub version_id: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    pub description: &'a str,
    pub arguments: &'a [PackageArgument],
    pub sha256: &'a str,
    pub content: &'a [u8],
    pub department_id: Option<&'a str>,
    pub created_by: &'a str,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PackageChange<'a> {
    pub etag: &'a str,
    pub description: Option<&'a str>,
    pub tags: Option<&'a [String]>,
    pub modified_by: &'a str,
}

/// An argument a package's robot takes or gives, as its manifest declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageArgument {
    pub name: String,
    /// The argument's type as the package names it (`System.String`, `Int32`, …).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `In`, `Out` or `InOut`.
    pub direction: String,
    #[serde(default)]
    pub default_value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub id: String,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub etag: String,
    pub department_id: Option<String>,
    pub total_downloads: i64,
    pub created_by: String,
    pub modified_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// Highest version first (see [`version_order`]).
    pub versions: Vec<PackageVersion>,
}

impl Package {
    /// The highest version.
    pub fn latest(&self) -> Option<&PackageVersion> {
        self.versions.first()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageVersion {
    pub id: String,
    pub package_id: String,
    pub version: String,
    pub description: String,
    pub arguments: Vec<PackageArgument>,
    pub sha256: String,
    pub size: i64,
    pub total_downloads: i64,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Copy)]
pub struct NewUpload<'a> {
    pub id: &'a str,
    pub secret_hash: &'a str,
    pub department_id: Option<&'a str>,
    pub created_by: &'a str,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageUpload {
    pub id: String,
    #[serde(skip)]
    pub secret_hash: String,
    /// Set once the file is put.
    pub sha256: Option<String>,
    pub department_id: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

/// Orders versions as people number them: dot- or dash-separated parts, numbers by value, other
/// parts as text (`1.10.0` after `1.9.2`; `2.0` after `2.0-beta`, a shorter prefix first).
pub fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let parts = |v: &str| -> Vec<String> { v.split(['.', '-', '+']).map(str::to_string).collect() };
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            (Ok(_), Err(_)) => Ordering::Greater,
            (Err(_), Ok(_)) => Ordering::Less,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    // `2.0` is a release and `2.0-beta` a pre-release of it; `1.0.1` is after `1.0`.
    match (pa.len().cmp(&pb.len()), a.contains('-'), b.contains('-')) {
        (Ordering::Equal, ..) => Ordering::Equal,
        (_, true, false) => Ordering::Less,
        (_, false, true) => Ordering::Greater,
        (longer, ..) => longer,
    }
}

/// Arguments as a JSON object of their default values (what a deployment starts from).
pub fn default_arguments(arguments: &[PackageArgument]) -> Value {
    Value::Object(
        arguments
            .iter()
            .filter(|a| a.direction != "Out")
            .map(|a| {
                let value = a.default_value.clone().map_or(Value::Null, Value::String);
                (a.name.clone(), value)
            })
            .collect(),
    )
}
