//! Workflow definitions: the document designers draw and the engine runs (DESIGN §3).
//!
//! [`Definition`] is the document as written: JSON or YAML, canvas positions kept, and able to
//! hold a graph that is not valid yet (a draft being drawn). [`Definition::parse`] is the gate to
//! running it: it reads the document and returns it only if [`Definition::check`] finds nothing,
//! else every issue at once. This module compiles to wasm, so the designer runs the same checks.

mod duration;
mod fields;
mod graph;
mod issue;
mod node;
pub mod path;
mod record;
pub mod template;
pub mod trigger;
mod validate;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use duration::{Duration, DurationError};
pub use issue::{Issue, IssueCode};
pub use node::{
    AcceptedStatus, Approval, Body, Callback, Compensation, Edge, Foreach, FormField,
    FormFieldKind, Http, Job, JoinMode, Mapping, Node, NodeKind, OnError, Phase, Position, Retry,
    Subprocess, Timer,
};
pub use record::{DefinitionRecord, DefinitionStatus, DefinitionSummary, VersionRecord};
pub use trigger::TriggerSpec;

/// Most nodes a definition may have (the designer is measured with 200); larger documents are
/// refused with `too_many_nodes` before any graph work.
pub const MAX_NODES: usize = 2_000;

/// A workflow definition document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Stable across versions; letters, digits, `_` and `-`.
    pub key: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The entity type bindings start from, `package:entity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_entity: Option<String>,
    /// JSON Schema for the instance input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// Whole-instance time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default)]
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub edges: Vec<Edge>,
    /// Cron and webhook triggers (see [`TriggerSpec`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<TriggerSpec>,
    /// What other tools keep with the definition, by tool (`{"node_inst": {…}, "rill": {…}}`):
    /// a compatibility surface's fields that mean nothing to Baton. Kept with each version;
    /// the engine never reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// The serialisation a document is read from or written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl Definition {
    /// Reads a document and returns it only when it is valid; otherwise every issue found.
    pub fn parse(text: &str, format: Format) -> Result<Definition, Vec<Issue>> {
        let definition = Self::read(text, format)?;
        let issues = definition.check();
        if issues.is_empty() {
            Ok(definition)
        } else {
            Err(issues)
        }
    }

    /// Reads a document that may not be valid yet (a draft): only its shape is checked here.
    pub fn read(text: &str, format: Format) -> Result<Definition, Vec<Issue>> {
        Self::from_value(Self::document(text, format)?)
    }

    /// The document as a JSON tree, before any of its content is read.
    pub fn document(text: &str, format: Format) -> Result<Value, Vec<Issue>> {
        let value: Value = match format {
            Format::Json => serde_json::from_str(text).map_err(|e| {
                vec![Issue::document(
                    IssueCode::InvalidDocument,
                    format!("not valid JSON: {e}"),
                )]
            })?,
            Format::Yaml => serde_norway::from_str(text).map_err(|e| {
                vec![Issue::document(
                    IssueCode::InvalidDocument,
                    format!("not valid YAML: {e}"),
                )]
            })?,
        };
        Ok(value)
    }

    /// Reads a document from a JSON value, reporting each node's shape problems on that node.
    pub fn from_value(value: Value) -> Result<Definition, Vec<Issue>> {
        validate::read_document(value)
    }

    /// Every issue of this document, in document order; empty when it can run.
    pub fn check(&self) -> Vec<Issue> {
        validate::check(self)
    }

    pub fn to_json(&self) -> String {
        // A definition holds only JSON-representable data: serialising it cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_default()
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// A node anywhere in the definition (foreach bodies included), with the edges of the graph
    /// it is in and the foreach whose body holds it.
    pub fn locate(&self, id: &str) -> Option<Located<'_>> {
        locate_in(&self.nodes, &self.edges, None, id)
    }
}

/// See [`Definition::locate`].
#[derive(Debug, Clone, Copy)]
pub struct Located<'a> {
    pub node: &'a Node,
    /// The edges of the node's own graph (the top level, or the body it is in).
    pub edges: &'a [Edge],
    /// The foreach whose body holds the node, and the edges of the foreach's own graph.
    pub parent: Option<(&'a Node, &'a [Edge])>,
}

impl<'a> Located<'a> {
    pub fn incoming(&self) -> usize {
        self.edges.iter().filter(|e| e.to == self.node.id).count()
    }

    pub fn outgoing(&self) -> Vec<&'a Edge> {
        self.edges
            .iter()
            .filter(|e| e.from == self.node.id)
            .collect()
    }
}

fn locate_in<'a>(
    nodes: &'a [Node],
    edges: &'a [Edge],
    parent: Option<(&'a Node, &'a [Edge])>,
    id: &str,
) -> Option<Located<'a>> {
    if let Some(node) = nodes.iter().find(|n| n.id == id) {
        return Some(Located {
            node,
            edges,
            parent,
        });
    }
    nodes.iter().find_map(|n| match &n.kind {
        NodeKind::Foreach(foreach) => locate_in(
            &foreach.body.nodes,
            &foreach.body.edges,
            Some((n, edges)),
            id,
        ),
        _ => None,
    })
}

#[cfg(test)]
mod tests;
