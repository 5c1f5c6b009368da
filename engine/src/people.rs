//! People and access: users with roles and groups, argon2id password hashes, opaque tokens (only
//! their SHA-256 is stored), and the roles that may use or manage a definition.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::id::Id;

/// What a user may do, beyond the definitions granted to their roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Draws workflows: may create definitions.
    Designer,
    /// Launches and operates instances.
    Operator,
    /// Works the inbox of human tasks.
    Approver,
    /// Everything, everywhere.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Designer, Role::Operator, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Designer => "designer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// What a role may do with one definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    /// Start instances (and see the definition).
    #[serde(rename = "USE")]
    Use,
    /// Edit, publish and archive (and everything USE allows).
    #[serde(rename = "MGMT")]
    Mgmt,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Use => "USE",
            Permission::Mgmt => "MGMT",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "USE" => Some(Permission::Use),
            "MGMT" => Some(Permission::Mgmt),
            _ => None,
        }
    }
}

/// One grant of a permission on a definition to a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Grant {
    pub role: Role,
    pub permission: Permission,
}

/// The grants a new definition gets: designers manage it, operators use it.
pub const DEFAULT_GRANTS: [Grant; 2] = [
    Grant {
        role: Role::Designer,
        permission: Permission::Mgmt,
    },
    Grant {
        role: Role::Operator,
        permission: Permission::Use,
    },
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Id,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub groups: Vec<String>,
    pub disabled: bool,
    pub created_at: String,
}

impl User {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_admin(&self) -> bool {
        self.has(Role::Admin)
    }

    /// Whether `grants` (a definition's) give this user `needed`; MGMT includes USE.
    pub fn may(&self, grants: &[Grant], needed: Permission) -> bool {
        self.is_admin()
            || grants.iter().any(|g| {
                self.roles.contains(&g.role)
                    && (g.permission == needed || g.permission == Permission::Mgmt)
            })
    }
}

/// An argon2id hash (PHC string) of `password`, with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches `hash`. A malformed hash matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash no password matches, verified against for unknown users so they take as long as
/// known ones.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&new_token()).unwrap_or_default())
}

/// 32 random bytes, base64url: an opaque token (or a generated password).
pub fn new_token() -> String {
    let mut bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A random (version 4) UUID, as tenants' ids are.
pub fn new_uuid() -> String {
    let mut b = [0_u8; 16];
    OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// What the store keeps of a token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        assert!(!verify_password("anything", decoy_hash()));
    }

    #[test]
    fn tokens_are_random_and_stored_as_hashes() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn mgmt_includes_use_and_admins_may_everything() {
        let mut user = User {
            id: Id(1),
            username: "o".into(),
            display_name: "O".into(),
            roles: vec![Role::Operator],
            groups: vec![],
            disabled: false,
            created_at: String::new(),
        };
        assert!(user.may(&DEFAULT_GRANTS, Permission::Use));
        assert!(!user.may(&DEFAULT_GRANTS, Permission::Mgmt));
        user.roles = vec![Role::Designer];
        assert!(user.may(&DEFAULT_GRANTS, Permission::Use));
        user.roles = vec![Role::Approver];
        assert!(!user.may(&DEFAULT_GRANTS, Permission::Use));
        user.roles = vec![Role::Admin];
        assert!(user.may(&[], Permission::Mgmt));
    }
}
