//! Groups as objects of their own: a name people are put in (a user's `groups`) and approvals
//! are offered to (an approval's `groups`). Naming a group on a user creates it when missing.

use async_trait::async_trait;

use super::{Page, StoreError};

#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Groups by name, each with its member count.
    async fn list_groups(&self, limit: i64, offset: i64) -> Result<Page<Group>, StoreError>;

    async fn group(&self, name: &str) -> Result<Option<Group>, StoreError>;

    /// `Conflict` when the name is taken.
    async fn create_group(&self, group: NewGroup<'_>) -> Result<Group, StoreError>;

    /// Changes what is given; `NotFound` when there is no such group.
    async fn update_group(
        &self,
        name: &str,
        display_name: Option<&str>,
        description: Option<&str>,
    ) -> Result<Group, StoreError>;

    /// `Conflict` while it has members; `NotFound` when there is no such group.
    async fn delete_group(&self, name: &str) -> Result<(), StoreError>;

    /// The usernames of its members, sorted.
    async fn group_members(&self, name: &str) -> Result<Vec<String>, StoreError>;
}

#[derive(Debug, Clone, Copy)]
pub struct NewGroup<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub description: &'a str,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Group {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub member_count: i64,
    pub created_at: String,
}
