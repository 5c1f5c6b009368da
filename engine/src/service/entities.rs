//! The entity catalog and the execution preview: managing types and records (one by one, or
//! imported from JSON or CSV), resolving each node's binding expression from a root record into
//! the entity tree and the bindings, kept as a preview session, and turning a session (and the
//! bindings an operator kept) into what a start runs each bound node for.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use serde_json::{json, Map, Value};

use crate::definition::Definition;
use crate::entity::{
    is_type_id, Binding, Direction, EntityRecord, EntityType, Expression, Preview, TreeNode,
};
use crate::people::{Permission, Role, User};
use crate::service::{DefinitionService, ServiceError};
use crate::store::{Page, PreviewSession, Store, StoreError};
use crate::task::FieldError;

/// How long a preview session can be started from.
pub const PREVIEW_TTL: chrono::Duration = chrono::Duration::hours(1);
/// Most records one import may hold.
pub const MAX_IMPORT: usize = 10_000;
/// Where a started instance's context keeps its bound entities, by node.
pub const BINDINGS_KEY: &str = "_bindings";
/// Where a started instance's context keeps the root record it was previewed from.
pub const ROOT_KEY: &str = "_root";

#[derive(Debug, thiserror::Error)]
pub enum EntityError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// Every problem, by field.
    #[error("the input does not fit")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Definition(#[from] ServiceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> EntityError {
    EntityError::Invalid(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

/// Where a binding expression led: the records it ends at and every step taken.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Walk {
    pub reached: Vec<EntityRecord>,
    pub visited: Vec<EntityRecord>,
    pub edges: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct EntityService {
    store: Arc<dyn Store>,
    definitions: DefinitionService,
}

impl EntityService {
    pub fn new(store: Arc<dyn Store>, definitions: DefinitionService) -> Self {
        Self { store, definitions }
    }

    fn may_manage(user: &User) -> Result<(), EntityError> {
        if user.is_admin() || user.has(Role::Designer) {
            Ok(())
        } else {
            Err(EntityError::Forbidden(
                "changing the entity catalog needs the designer or admin role".into(),
            ))
        }
    }

    pub async fn put_type(&self, user: &User, t: EntityType) -> Result<EntityType, EntityError> {
        Self::may_manage(user)?;
        let mut errors = Vec::new();
        if !is_type_id(&t.id) {
            errors.push(FieldError {
                field: "id".into(),
                message: "an entity type is `package:name` (letters, digits, _ and -)".into(),
            });
        }
        let mut names = HashSet::new();
        for (i, a) in t.attributes.iter().enumerate() {
            if a.name.trim().is_empty() || !names.insert(a.name.as_str()) {
                errors.push(FieldError {
                    field: format!("attributes[{i}].name"),
                    message: "attribute names are given and unique".into(),
                });
            }
            if a.references.as_deref().is_some_and(|r| !is_type_id(r)) {
                errors.push(FieldError {
                    field: format!("attributes[{i}].references"),
                    message: "a reference names an entity type `package:name`".into(),
                });
            }
        }
        if !errors.is_empty() {
            return Err(EntityError::Invalid(errors));
        }
        let t = EntityType {
            display_name: if t.display_name.trim().is_empty() {
                t.id.clone()
            } else {
                t.display_name
            },
            ..t
        };
        self.store.put_entity_type(&t).await?;
        Ok(t)
    }

    pub async fn types(&self) -> Result<Vec<EntityType>, EntityError> {
        Ok(self.store.entity_types().await?)
    }

    pub async fn entity_type(&self, id: &str) -> Result<EntityType, EntityError> {
        self.store
            .entity_type(id)
            .await?
            .ok_or_else(|| EntityError::NotFound(format!("entity type `{id}`")))
    }

    pub async fn delete_type(&self, user: &User, id: &str) -> Result<(), EntityError> {
        Self::may_manage(user)?;
        if self.store.delete_entity_type(id).await? {
            Ok(())
        } else {
            Err(EntityError::NotFound(format!("entity type `{id}`")))
        }
    }

    /// Creates or replaces records of `type_id` from JSON objects, each with a `guid`; a
    /// reference attribute holds a guid or a list of them. All or nothing: every problem is
    /// reported and nothing is written.
    pub async fn import(
        &self,
        user: &User,
        type_id: &str,
        rows: Vec<Value>,
    ) -> Result<usize, EntityError> {
        Self::may_manage(user)?;
        let t = self.entity_type(type_id).await?;
        if rows.len() > MAX_IMPORT {
            return Err(invalid(
                "records",
                format!("at most {MAX_IMPORT} records at once"),
            ));
        }
        let references: Vec<(&str, &str)> = t.references().collect();
        let mut errors = Vec::new();
        let mut records = Vec::new();
        let mut links = Vec::new();
        let mut seen = HashSet::new();
        for (i, row) in rows.into_iter().enumerate() {
            let Value::Object(data) = row else {
                errors.push(FieldError {
                    field: format!("records[{i}]"),
                    message: "a record is a JSON object".into(),
                });
                continue;
            };
            let guid = data
                .get("guid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_string();
            if guid.is_empty() || guid.len() > 200 || !seen.insert(guid.clone()) {
                errors.push(FieldError {
                    field: format!("records[{i}].guid"),
                    message: "each record has its own guid (1 to 200 characters)".into(),
                });
                continue;
            }
            for (attribute, _) in &references {
                match data.get(*attribute) {
                    None | Some(Value::Null) => {}
                    // One guid, or several separated by `;` (as a CSV cell holds them).
                    Some(Value::String(to)) => {
                        for to in to.split(';').map(str::trim).filter(|t| !t.is_empty()) {
                            links.push((guid.clone(), attribute.to_string(), to.to_string()));
                        }
                    }
                    Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                        for to in items.iter().filter_map(Value::as_str) {
                            links.push((guid.clone(), attribute.to_string(), to.to_string()));
                        }
                    }
                    Some(_) => errors.push(FieldError {
                        field: format!("records[{i}].{attribute}"),
                        message: "a reference is a guid or a list of guids".into(),
                    }),
                }
            }
            let display_name = [t.display_attribute.as_str(), "displayName", "name"]
                .iter()
                .find_map(|a| data.get(*a).and_then(Value::as_str))
                .unwrap_or(&guid)
                .to_string();
            records.push(EntityRecord {
                guid,
                entity_type: t.id.clone(),
                display_name,
                data: Value::Object(data),
            });
        }
        if !errors.is_empty() {
            return Err(EntityError::Invalid(errors));
        }
        self.store.put_entity_records(&records, &links).await?;
        Ok(records.len())
    }

    pub async fn records(
        &self,
        type_id: &str,
        q: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<EntityRecord>, EntityError> {
        self.entity_type(type_id).await?;
        Ok(self.store.entity_records(type_id, q, limit, offset).await?)
    }

    /// The records a definition starts from: its root entity type's. Needs USE on it.
    pub async fn root_records(
        &self,
        user: &User,
        key: &str,
        version: Option<i32>,
        q: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<EntityRecord>, EntityError> {
        self.definitions
            .authorize(user, key, Permission::Use)
            .await?;
        let (_, definition) = self.definitions.version(key, version).await?;
        let root = definition.root_entity.ok_or_else(|| {
            invalid(
                "definition_key",
                format!("`{key}` names no root entity type"),
            )
        })?;
        Ok(self.store.entity_records(&root, q, limit, offset).await?)
    }

    pub async fn record(&self, guid: &str) -> Result<EntityRecord, EntityError> {
        self.store
            .entity_record(guid)
            .await?
            .ok_or_else(|| EntityError::NotFound(format!("entity record `{guid}`")))
    }

    pub async fn delete_record(&self, user: &User, guid: &str) -> Result<(), EntityError> {
        Self::may_manage(user)?;
        if self.store.delete_entity_record(guid).await? {
            Ok(())
        } else {
            Err(EntityError::NotFound(format!("entity record `{guid}`")))
        }
    }

    /// Walks `expression` from `root`. Records met again through a cycle in the data are
    /// counted once per step.
    pub async fn resolve(
        &self,
        root: &EntityRecord,
        expression: &Expression,
    ) -> Result<Walk, EntityError> {
        if root.entity_type != expression.start.entity_type {
            return Err(invalid(
                "binding",
                format!(
                    "the expression starts at `{}` but the root record is a `{}`",
                    expression.start.entity_type, root.entity_type
                ),
            ));
        }
        let mut walk = Walk::default();
        if !expression.start.filters.iter().all(|f| f.holds(&root.data)) {
            return Ok(walk);
        }
        walk.visited.push(root.clone());
        let mut current = vec![root.clone()];
        for step in &expression.steps {
            let from: Vec<String> = current.iter().map(|r| r.guid.clone()).collect();
            let (forward, attribute) = match &step.direction {
                Direction::Forward { attribute } => (true, attribute.as_deref()),
                Direction::Backward { attribute } => (false, Some(attribute.as_str())),
            };
            let pairs = self
                .store
                .entity_neighbours(&from, forward, attribute, &step.to.entity_type)
                .await?;
            let mut next: Vec<EntityRecord> = Vec::new();
            let mut in_next = HashSet::new();
            for (origin, record) in pairs {
                if !step.to.filters.iter().all(|f| f.holds(&record.data)) {
                    continue;
                }
                walk.edges.push((origin, record.guid.clone()));
                if in_next.insert(record.guid.clone()) {
                    next.push(record);
                }
            }
            walk.visited.extend(next.iter().cloned());
            current = next;
            if current.is_empty() {
                break;
            }
        }
        walk.reached = current;
        Ok(walk)
    }

    /// Resolves every bound node of `key`'s `version` (the latest when `None`) from the record
    /// `root_guid`, keeps the result as a session, and returns it with the entity tree.
    pub async fn preview(
        &self,
        user: &User,
        key: &str,
        version: Option<i32>,
        root_guid: &str,
    ) -> Result<Preview, EntityError> {
        self.definitions
            .authorize(user, key, Permission::Use)
            .await?;
        let (version, definition) = self.definitions.version(key, version).await?;
        let root_type = definition.root_entity.clone().ok_or_else(|| {
            invalid(
                "definition_key",
                format!("`{key}` names no root entity type"),
            )
        })?;
        let root = self
            .store
            .entity_record(root_guid)
            .await?
            .ok_or_else(|| EntityError::NotFound(format!("entity record `{root_guid}`")))?;
        if root.entity_type != root_type {
            return Err(invalid(
                "root_entity_id",
                format!(
                    "the root of `{key}` is a `{root_type}`, not a `{}`",
                    root.entity_type
                ),
            ));
        }
        let (tree, bindings, bound_nodes) = self.resolve_all(&definition, &root).await?;
        let now = Utc::now();
        let session = PreviewSession {
            id: crate::people::new_uuid(),
            definition_key: key.to_string(),
            version: version.version,
            root_guid: root.guid.clone(),
            tree: serde_json::to_value(&tree).unwrap_or_default(),
            bindings: json!({"bindings": bindings, "nodes": bound_nodes}),
            created_by: user.username.clone(),
            created_at: now,
            expires_at: now + PREVIEW_TTL,
        };
        self.store.save_preview(&session).await?;
        Ok(Preview {
            session_id: session.id,
            definition_key: key.to_string(),
            version: version.version,
            root,
            tree,
            bindings,
            bound_nodes,
            expires_at: session.expires_at.to_rfc3339(),
        })
    }

    async fn resolve_all(
        &self,
        definition: &Definition,
        root: &EntityRecord,
    ) -> Result<(Vec<TreeNode>, Vec<Binding>, Vec<String>), EntityError> {
        let mut records: BTreeMap<String, EntityRecord> = BTreeMap::new();
        let mut order: Vec<String> = vec![root.guid.clone()];
        records.insert(root.guid.clone(), root.clone());
        let mut edges: Vec<(String, String)> = Vec::new();
        let mut bound_by: HashMap<String, Vec<String>> = HashMap::new();
        let mut bindings = Vec::new();
        let mut bound_nodes = Vec::new();
        for node in &definition.nodes {
            let Some(text) = node.binding.as_deref() else {
                continue;
            };
            let expression = Expression::parse(text)
                .map_err(|e| invalid(format!("nodes.{}.binding", node.id), e))?;
            let walk = self.resolve(root, &expression).await?;
            bound_nodes.push(node.id.clone());
            for r in walk.visited {
                if !records.contains_key(&r.guid) {
                    order.push(r.guid.clone());
                    records.insert(r.guid.clone(), r);
                }
            }
            for e in walk.edges {
                if !edges.contains(&e) {
                    edges.push(e);
                }
            }
            for r in walk.reached {
                bound_by
                    .entry(r.guid.clone())
                    .or_default()
                    .push(node.id.clone());
                bindings.push(Binding {
                    node: node.id.clone(),
                    entity_type: r.entity_type.clone(),
                    data_id: r.guid.clone(),
                    display_name: r.display_name.clone(),
                });
            }
        }
        let tree_id = |guid: &str| {
            records
                .get(guid)
                .map(|r| format!("{}:{}", r.entity_type, r.guid))
                .unwrap_or_default()
        };
        let tree = order
            .iter()
            .filter_map(|guid| {
                let r = records.get(guid)?;
                let (package, entity) = r.entity_type.split_once(':').unwrap_or(("", ""));
                Some(TreeNode {
                    id: tree_id(guid),
                    package: package.to_string(),
                    entity: entity.to_string(),
                    data_id: r.guid.clone(),
                    display_name: r.display_name.clone(),
                    previous_ids: edges
                        .iter()
                        .filter(|(_, to)| to == guid)
                        .map(|(f, _)| tree_id(f))
                        .collect(),
                    succeeding_ids: edges
                        .iter()
                        .filter(|(f, _)| f == guid)
                        .map(|(_, to)| tree_id(to))
                        .collect(),
                    bound_by: bound_by.get(guid).cloned().unwrap_or_default(),
                })
            })
            .collect();
        Ok((tree, bindings, bound_nodes))
    }

    /// A preview session that has not expired, with its bindings; needs USE on its definition.
    pub async fn session(
        &self,
        user: &User,
        session_id: &str,
    ) -> Result<(PreviewSession, Vec<Binding>), EntityError> {
        let session = self
            .store
            .preview(session_id, Utc::now())
            .await?
            .ok_or_else(|| {
                invalid(
                    "session_id",
                    "no preview session by that id (or it expired)",
                )
            })?;
        self.definitions
            .authorize(user, &session.definition_key, Permission::Use)
            .await?;
        let bindings =
            serde_json::from_value(session.bindings["bindings"].clone()).unwrap_or_default();
        Ok((session, bindings))
    }

    /// What a start from `session_id` runs each bound node for: the session's bindings, or
    /// only those in `kept` (`(node, data_id)` pairs, each of which must be in the session).
    /// Returns the version the session resolved and what the instance's context starts with
    /// besides the input: [`BINDINGS_KEY`] (the entities by node) and [`ROOT_KEY`] (the root
    /// record: `guid`, `entity_type`, `display_name`).
    pub async fn start_bindings(
        &self,
        key: &str,
        session_id: &str,
        kept: Option<Vec<(String, String)>>,
    ) -> Result<(i32, Value), EntityError> {
        let session = self
            .store
            .preview(session_id, Utc::now())
            .await?
            .filter(|s| s.definition_key == key)
            .ok_or_else(|| {
                invalid(
                    "session_id",
                    "no preview session of this workflow by that id (or it expired)",
                )
            })?;
        let all: Vec<Binding> =
            serde_json::from_value(session.bindings["bindings"].clone()).unwrap_or_default();
        let nodes: Vec<String> =
            serde_json::from_value(session.bindings["nodes"].clone()).unwrap_or_default();
        let chosen: Vec<&Binding> = match &kept {
            None => all.iter().collect(),
            Some(pairs) => {
                let mut errors = Vec::new();
                let mut chosen = Vec::new();
                for (i, (node, data_id)) in pairs.iter().enumerate() {
                    match all
                        .iter()
                        .find(|b| &b.node == node && &b.data_id == data_id)
                    {
                        Some(b) => chosen.push(b),
                        None => errors.push(FieldError {
                            field: format!("bindings[{i}]"),
                            message: format!(
                                "`{node}` is not bound to `{data_id}` in this session"
                            ),
                        }),
                    }
                }
                if !errors.is_empty() {
                    return Err(EntityError::Invalid(errors));
                }
                chosen
            }
        };
        // Every bound node of the session appears, so one with nothing kept runs for nothing.
        let mut by_node: Map<String, Value> = Map::new();
        for node in nodes {
            by_node.insert(node, json!([]));
        }
        for b in chosen {
            if let Some(Value::Array(list)) = by_node.get_mut(&b.node) {
                if !list.iter().any(|e| e["guid"] == b.data_id.as_str()) {
                    list.push(json!({"guid": b.data_id, "display_name": b.display_name, "entity_type": b.entity_type}));
                }
            }
        }
        let tree: Vec<TreeNode> = serde_json::from_value(session.tree.clone()).unwrap_or_default();
        let root = tree
            .iter()
            .find(|n| n.data_id == session.root_guid)
            .map(|n| {
                json!({"guid": n.data_id, "entity_type": format!("{}:{}", n.package, n.entity),
                   "display_name": n.display_name})
            });
        Ok((
            session.version,
            json!({ BINDINGS_KEY: by_node, ROOT_KEY: root }),
        ))
    }
}
