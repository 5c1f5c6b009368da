//! What is wrong with a definition, said so that a designer can find and fix it: the node, the
//! field within it, a stable code for programs and a sentence for people.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// The node at fault; `None` for the document itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The field at fault, relative to the node (`url`, `input_mappings[0].source`) or, without a
    /// node, to the document (`key`, `edges[3].to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub code: IssueCode,
    pub message: String,
}

/// Stable codes: API clients and the designer match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueCode {
    /// Not JSON/YAML, or not an object of the definition's shape.
    InvalidDocument,
    MissingField,
    InvalidValue,
    UnknownField,
    UnknownKind,
    TooManyNodes,
    DuplicateNodeId,
    DanglingEdge,
    DuplicateEdge,
    Cycle,
    UnreachableNode,
    MissingStart,
    MultipleStarts,
    InvalidJsonpath,
    InvalidExpression,
    InvalidScript,
}

impl Issue {
    pub fn document(code: IssueCode, message: impl Into<String>) -> Self {
        Self {
            node: None,
            field: None,
            code,
            message: message.into(),
        }
    }

    pub fn field(field: impl Into<String>, code: IssueCode, message: impl Into<String>) -> Self {
        Self {
            node: None,
            field: Some(field.into()),
            code,
            message: message.into(),
        }
    }

    pub fn on_node(
        node: impl Into<String>,
        field: Option<String>,
        code: IssueCode,
        message: impl Into<String>,
    ) -> Self {
        Self {
            node: Some(node.into()),
            field,
            code,
            message: message.into(),
        }
    }
}
