//! One executor per node kind that does work, behind one trait. Kinds that only route
//! (start, end, condition, parallel, join) pass their input through.

mod script;

use async_trait::async_trait;
use serde_json::Value;

use crate::definition::{Node, NodeKind};

pub use script::ScriptExecutor;

/// Why a node's work failed; recorded on the node run and handled by its `on_error`.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeError {
    pub code: &'static str,
    pub message: String,
}

impl NodeError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({"code": self.code, "message": self.message})
    }
}

#[async_trait]
pub trait Executor: Send + Sync {
    async fn execute(&self, node: &Node, input: Value) -> Result<Value, NodeError>;
}

/// Picks the executor for a node's kind.
pub struct Executors {
    pub script: ScriptExecutor,
}

impl Executors {
    pub fn new() -> Self {
        Self {
            script: ScriptExecutor::default(),
        }
    }

    pub async fn execute(&self, node: &Node, input: Value) -> Result<Value, NodeError> {
        match &node.kind {
            NodeKind::Start
            | NodeKind::End
            | NodeKind::Condition
            | NodeKind::Parallel
            | NodeKind::Join { .. } => Ok(input),
            NodeKind::Script { .. } => self.script.execute(node, input).await,
            other => Err(NodeError::new(
                "not_supported",
                format!(
                    "{} nodes cannot run yet in this version of Baton",
                    other.name()
                ),
            )),
        }
    }
}

impl Default for Executors {
    fn default() -> Self {
        Self::new()
    }
}
