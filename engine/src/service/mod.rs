//! The engine's service layer: the one place REST handlers, server functions and compatibility
//! surfaces call. It applies the rules (validation, lifecycle) and leaves durability to the store.

mod access;
mod definitions;
mod demo;
mod entities;
mod instances;
pub mod packages;
pub mod scope;
mod tasks;

pub use crate::entity::{Binding, Preview, TreeNode};
pub use access::{AccessError, AccessService, Caller, TokenPair, ACCESS_TTL, REFRESH_TTL};
pub use definitions::{DefinitionService, Overview, ServiceError};
pub use demo::load_demo;
pub use entities::{EntityError, EntityService, Walk, BINDINGS_KEY, PREVIEW_TTL, ROOT_KEY};
pub use instances::{InstanceDetail, InstanceError, InstanceService};
pub use tasks::{TaskError, TaskService};
