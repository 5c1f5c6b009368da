//! The work of each node kind that does some. Kinds that only route (start, end, condition,
//! parallel, join) pass their input through.

mod http;
mod script;

use serde_json::Value;

use crate::definition::{Node, NodeKind};

pub use http::{AddressPolicy, HttpExecutor};
pub use script::ScriptExecutor;

/// Why a node's work failed; recorded on the node run and handled by its `on_error`.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeError {
    pub code: &'static str,
    pub message: String,
    /// What the work produced before failing (an http response with an unaccepted status).
    pub detail: Option<Value>,
}

impl NodeError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            detail: None,
        }
    }

    pub fn with_detail(code: &'static str, message: impl Into<String>, detail: Value) -> Self {
        Self {
            detail: Some(detail),
            ..Self::new(code, message)
        }
    }

    pub fn to_json(&self) -> Value {
        let mut json = serde_json::json!({"code": self.code, "message": self.message});
        if let Some(detail) = &self.detail {
            json["detail"] = detail.clone();
        }
        json
    }
}

/// One activation of a node.
pub struct Call<'a> {
    pub node: &'a Node,
    pub input: Value,
    pub context: &'a Value,
    /// Stable across re-runs of the same activation (after a crash), so receivers can drop
    /// duplicates: the work item's id.
    pub idempotency_key: String,
    /// More names for the templates, beside `input` and `context`: a callback's request has
    /// `callback` (`{{callback.url}}`), a compensation action the node's `output`.
    pub extra: Option<Value>,
}

/// Runs a node's work by its kind.
pub struct Executors {
    pub script: ScriptExecutor,
    pub http: HttpExecutor,
}

impl Executors {
    pub fn new(addresses: AddressPolicy) -> Self {
        Self {
            script: ScriptExecutor::default(),
            http: HttpExecutor::new(addresses),
        }
    }

    pub async fn execute(&self, call: Call<'_>) -> Result<Value, NodeError> {
        match &call.node.kind {
            NodeKind::Start
            | NodeKind::End
            | NodeKind::Condition
            | NodeKind::Parallel
            | NodeKind::Join { .. }
            // A timer's run ends here once it has waited (see the scheduler's `wait`).
            | NodeKind::Timer(_) => Ok(call.input),
            NodeKind::Script { script } => self.script.execute(script, call.input).await,
            NodeKind::Http(http) => self.http.execute(http, &call).await,
            // A waiting node runs once its answer has come (see `runtime::waits`).
            NodeKind::Approval(_)
            | NodeKind::Callback(_)
            | NodeKind::Job(_)
            | NodeKind::Subprocess(_) => super::waits::answer(call.input),
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
