//! Tenants: companies, each with a tree of departments, and their members.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::id::Id;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Company {
    pub id: String,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub properties: serde_json::Map<String, serde_json::Value>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Department {
    pub id: String,
    pub company_id: String,
    /// `None` for the company's root department.
    pub parent_id: Option<String>,
    pub name: String,
    pub description: String,
    /// The names from the root down, joined by `/`.
    pub path: String,
    pub user_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct NewCompany<'a> {
    pub id: &'a str,
    /// The id of its root department, named after the company.
    pub root_id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub tags: &'a [String],
    pub properties: &'a serde_json::Map<String, serde_json::Value>,
    pub actor: &'a str,
}

#[derive(Debug, Clone, Copy)]
pub struct NewDepartment<'a> {
    pub id: &'a str,
    pub company_id: &'a str,
    pub parent_id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// A company and its root department.
    async fn create_company(&self, company: NewCompany<'_>) -> Result<Company, StoreError>;

    /// Companies whose name contains `name` (case-insensitive); only those `member` belongs to
    /// (a department of theirs) when given.
    async fn companies(
        &self,
        name: Option<&str>,
        member: Option<Id>,
    ) -> Result<Vec<Company>, StoreError>;

    async fn company(&self, id: &str) -> Result<Option<Company>, StoreError>;

    /// `NotFound` when the parent is not a department of the company; `Conflict` when a sibling
    /// has the name.
    async fn create_department(
        &self,
        department: NewDepartment<'_>,
    ) -> Result<Department, StoreError>;

    /// Every department of the company, root first, each with its member count.
    async fn departments(&self, company_id: &str) -> Result<Vec<Department>, StoreError>;

    /// Adds a user to a department (a no-op when already there).
    async fn add_member(&self, department_id: &str, user: Id) -> Result<(), StoreError>;

    /// Whether the user belongs to any department of the company.
    async fn is_member(&self, company_id: &str, user: Id) -> Result<bool, StoreError>;

    /// Takes a user out of a department (a no-op when not there).
    async fn remove_member(&self, department_id: &str, user: Id) -> Result<(), StoreError>;

    async fn department(&self, id: &str) -> Result<Option<Department>, StoreError>;

    /// The departments the user is a member of.
    async fn memberships(&self, user: Id) -> Result<Vec<Department>, StoreError>;
}
