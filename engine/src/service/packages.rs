//! Package files: what a robot downloads and runs for a job.
//!
//! A package file (`.dgs`) is a zip archive with a `package.json` manifest at its root:
//!
//! ```json
//! {"name": "invoice-bot", "version": "1.2.0", "description": "Books invoices",
//!  "arguments": [{"name": "Folder", "type": "System.String", "direction": "In",
//!                 "defaultValue": "C:/in"}]}
//! ```
//!
//! Field names may be camelCase or PascalCase. Everything else in the archive is the robot's
//! business; Baton only refuses archives with paths that leave the package (`../x`, `/etc/x`),
//! since robots unpack them. The file is kept once per content, by its SHA-256.

use std::io::Read;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::people::new_uuid;
use crate::store::{NewPackageVersion, Package, PackageArgument, Store, StoreError};

/// The manifest's name inside the archive.
pub const MANIFEST: &str = "package.json";
/// A manifest larger than this is refused (the archive itself is limited by the server).
const MANIFEST_LIMIT: u64 = 1 << 20;
/// Archives with more entries than this are refused.
const ENTRY_LIMIT: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The file is not a package Baton accepts; `field` names what is wrong.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &str, message: impl Into<String>) -> PackageError {
    PackageError::Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

/// What a package's manifest says.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub description: String,
    pub arguments: Vec<PackageArgument>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(alias = "Name")]
    name: String,
    #[serde(alias = "Version")]
    version: String,
    #[serde(default, alias = "Description")]
    description: String,
    #[serde(default, alias = "Arguments")]
    arguments: Vec<RawArgument>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArgument {
    #[serde(alias = "Name")]
    name: String,
    #[serde(default, rename = "type", alias = "Type")]
    kind: String,
    #[serde(default, alias = "Direction")]
    direction: Option<String>,
    #[serde(default, rename = "defaultValue", alias = "DefaultValue")]
    default_value: Option<serde_json::Value>,
}

/// The SHA-256 of a file, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads and checks a package file's manifest.
pub fn read_package(bytes: &[u8]) -> Result<Manifest, PackageError> {
    const NOT_A_PACKAGE: &str = "a package is a .dgs file: a zip archive with a package.json";
    if bytes.is_empty() {
        return Err(invalid("file", "the file is empty"));
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|_| invalid("file", NOT_A_PACKAGE))?;
    if archive.len() > ENTRY_LIMIT {
        return Err(invalid(
            "file",
            format!("the archive has more than {ENTRY_LIMIT} entries"),
        ));
    }
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|_| invalid("file", NOT_A_PACKAGE))?;
        let name = entry
            .name()
            .map_err(|_| invalid("file", NOT_A_PACKAGE))?
            .to_string();
        let outside = name.starts_with('/')
            || name.contains('\\')
            || name.contains(':')
            || name.split('/').any(|part| part == "..");
        if outside || entry.enclosed_name().is_none() {
            return Err(invalid(
                "file",
                format!("the archive holds `{name}`, a path outside the package"),
            ));
        }
    }
    let mut text = String::new();
    archive
        .by_name(MANIFEST)
        .map_err(|_| invalid(MANIFEST, format!("missing: {NOT_A_PACKAGE}")))?
        .take(MANIFEST_LIMIT + 1)
        .read_to_string(&mut text)
        .map_err(|_| invalid(MANIFEST, "not readable UTF-8 text"))?;
    if text.len() as u64 > MANIFEST_LIMIT {
        return Err(invalid(MANIFEST, "larger than 1 MiB"));
    }
    let raw: RawManifest = serde_path_to_error::deserialize(
        &mut serde_json::Deserializer::from_str(&text),
    )
    .map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            MANIFEST.to_string()
        } else {
            format!("{MANIFEST}: {path}")
        };
        invalid(&field, e.into_inner().to_string())
    })?;
    check_name(&raw.name)?;
    check_version(&raw.version)?;
    let mut arguments: Vec<PackageArgument> = Vec::new();
    for (i, a) in raw.arguments.into_iter().enumerate() {
        let field = |f: &str| format!("{MANIFEST}: arguments[{i}].{f}");
        if a.name.trim().is_empty() {
            return Err(invalid(&field("name"), "required"));
        }
        if arguments.iter().any(|b| b.name == a.name) {
            return Err(invalid(&field("name"), format!("`{}` twice", a.name)));
        }
        let direction = a.direction.unwrap_or_else(|| "In".into());
        if !matches!(direction.as_str(), "In" | "Out" | "InOut") {
            return Err(invalid(&field("direction"), "In, Out or InOut"));
        }
        let default_value = match a.default_value {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s),
            Some(other) => Some(other.to_string()),
        };
        arguments.push(PackageArgument {
            name: a.name,
            kind: a.kind,
            direction,
            default_value,
        });
    }
    Ok(Manifest {
        name: raw.name,
        version: raw.version,
        description: raw.description,
        arguments,
    })
}

fn check_name(name: &str) -> Result<(), PackageError> {
    let field = format!("{MANIFEST}: name");
    let fine = |c: char| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | ' ');
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(invalid(&field, "1 to 100 characters"));
    }
    if !name.chars().all(fine) || name.starts_with('.') || name.contains("..") {
        return Err(invalid(
            &field,
            format!("`{name}`: letters, digits, spaces, `.`, `_` and `-`, not starting with `.`"),
        ));
    }
    Ok(())
}

fn check_version(version: &str) -> Result<(), PackageError> {
    let field = format!("{MANIFEST}: version");
    let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+');
    let starts_well = version.chars().next().is_some_and(|c| c.is_ascii_digit());
    if version.len() > 50 || !starts_well || !version.chars().all(fine) || version.contains("..") {
        return Err(invalid(
            &field,
            format!("`{version}`: a version such as 1.2.0 (digits, letters, `.`, `-`, `+`)"),
        ));
    }
    Ok(())
}

/// Adds the package file as a new version (creating the package with its first version).
/// A version the package has already is refused (`StoreError::Conflict`).
pub async fn add_package(
    store: &dyn Store,
    bytes: &[u8],
    department: Option<&str>,
    created_by: &str,
) -> Result<(Package, String), PackageError> {
    let manifest = read_package(bytes)?;
    let sha256 = sha256_hex(bytes);
    let version_id = new_uuid();
    let package = store
        .add_package_version(NewPackageVersion {
            package_id: &new_uuid(),
            version_id: &version_id,
            name: &manifest.name,
            version: &manifest.version,
            description: &manifest.description,
            arguments: &manifest.arguments,
            sha256: &sha256,
            content: bytes,
            department_id: department,
            created_by,
        })
        .await?;
    Ok((package, version_id))
}
