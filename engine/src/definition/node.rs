//! Nodes and edges. Every node has the common fields; its kind adds its own, which sit on the node
//! beside the common ones (`{"id": "call", "kind": "http", "url": "..."}`). A kind's required
//! fields are optional here so that a draft missing them still loads; `check` reports them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Where the designer drew it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_mappings: Vec<Mapping>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_mappings: Vec<Mapping>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "OnError::is_fail")]
    pub on_error: OnError,
    /// What undoes or cleans up the node's work: run on rollback, cancel or delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensation: Option<Compensation>,
    /// The output a dry run uses instead of running a node that reaches outside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock: Option<Value>,
    /// Data binding expression from the root entity (`wecmdb:unit>wecmdb:host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
    #[serde(flatten)]
    pub kind: NodeKind,
}

impl Node {
    /// A node of `kind` with nothing but its id: how the runtime runs a request that is not a
    /// node of its own (a callback's request, a compensation action).
    pub fn bare(id: impl Into<String>, kind: NodeKind) -> Self {
        Self {
            id: id.into(),
            name: String::new(),
            description: String::new(),
            position: None,
            input_mappings: Vec::new(),
            output_mappings: Vec::new(),
            retry: None,
            timeout: None,
            on_error: OnError::Fail,
            compensation: None,
            mock: None,
            binding: None,
            kind,
        }
    }
}

/// The fields every node may carry, whatever its kind.
pub(crate) const COMMON_FIELDS: &[&str] = &[
    "id",
    "kind",
    "name",
    "description",
    "position",
    "input_mappings",
    "output_mappings",
    "retry",
    "timeout",
    "on_error",
    "compensation",
    "mock",
    "binding",
];

/// The actions that undo or clean up what a completed node did, by phase — the provisioning
/// engine's `rollback`, `cancel` and `delete` events. Each is an http request whose templates see
/// the node's run: `{{input.x}}`, `{{output.x}}`, `{{context.x}}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compensation {
    /// When the instance fails: completed nodes are rolled back in reverse order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Http>,
    /// When the instance is cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<Http>,
    /// When the instance is deleted: cleans up what the node produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<Http>,
}

/// The phases of [`Compensation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Rollback,
    Cancel,
    Delete,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Rollback => "rollback",
            Phase::Cancel => "cancel",
            Phase::Delete => "delete",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Phase::Rollback, Phase::Cancel, Phase::Delete]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

impl Compensation {
    pub fn action(&self, phase: Phase) -> Option<&Http> {
        match phase {
            Phase::Rollback => self.rollback.as_ref(),
            Phase::Cancel => self.cancel.as_ref(),
            Phase::Delete => self.delete.as_ref(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeKind {
    Start,
    End,
    Http(Http),
    Script {
        #[serde(default)]
        script: String,
    },
    /// Exclusive gateway: the first outgoing edge whose condition holds, else the one without.
    Condition,
    /// Explicit fan-out: every outgoing edge is taken.
    Parallel,
    Join {
        #[serde(default)]
        join: JoinMode,
    },
    Foreach(Foreach),
    Timer(Timer),
    Approval(Approval),
    Callback(Callback),
    Job(Job),
    Subprocess(Subprocess),
}

impl NodeKind {
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Start => "start",
            NodeKind::End => "end",
            NodeKind::Http(_) => "http",
            NodeKind::Script { .. } => "script",
            NodeKind::Condition => "condition",
            NodeKind::Parallel => "parallel",
            NodeKind::Join { .. } => "join",
            NodeKind::Foreach(_) => "foreach",
            NodeKind::Timer(_) => "timer",
            NodeKind::Approval(_) => "approval",
            NodeKind::Callback(_) => "callback",
            NodeKind::Job(_) => "job",
            NodeKind::Subprocess(_) => "subprocess",
        }
    }

    /// Every kind name, in palette order.
    pub const ALL: &'static [&'static str] = &[
        "start",
        "end",
        "http",
        "script",
        "condition",
        "parallel",
        "join",
        "foreach",
        "timer",
        "approval",
        "callback",
        "job",
        "subprocess",
    ];

    /// The fields a kind adds to the common ones; `None` for an unknown kind.
    pub fn fields_of(kind: &str) -> Option<&'static [&'static str]> {
        Some(match kind {
            "start" | "end" | "condition" | "parallel" => &[],
            "http" => &["method", "url", "headers", "body", "accepted_statuses"],
            "script" => &["script"],
            "join" => &["join"],
            "foreach" => &["items", "concurrency", "body"],
            "timer" => &["duration", "until"],
            "approval" => &[
                "title",
                "content",
                "assignees",
                "groups",
                "form",
                "outcomes",
                "due",
            ],
            "callback" => &["url", "method", "body"],
            "job" => &[
                "deployment",
                "arguments",
                "priority",
                "max_retries",
                "trigger_policy",
            ],
            "subprocess" => &["definition", "version"],
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub x: f64,
    pub y: f64,
}

/// Copies the value at `source` to `target` (JSONPath, RFC 9535).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub source: String,
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    #[serde(default = "Retry::default_initial")]
    pub initial_interval: Duration,
    #[serde(default = "Retry::default_factor")]
    pub backoff_factor: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_interval: Option<Duration>,
}

impl Retry {
    fn default_initial() -> Duration {
        Duration::from_millis(1_000)
    }

    fn default_factor() -> f64 {
        2.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// The instance fails.
    #[default]
    Fail,
    /// The node counts as completed (with its error recorded) and the flow goes on.
    Ignore,
    /// The flow follows the node's error edges instead of its normal ones.
    Branch,
    /// The instance pauses for an operator.
    Pause,
}

impl OnError {
    fn is_fail(&self) -> bool {
        *self == OnError::Fail
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinMode {
    /// Waits for every incoming branch that can still arrive.
    #[default]
    All,
    /// Goes on with the first branch to arrive; the others are ignored.
    First,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Http {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Statuses that count as success: numbers or classes like `2xx`. Default `2xx`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_statuses: Vec<AcceptedStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AcceptedStatus {
    Code(u16),
    Class(String),
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Foreach {
    /// JSONPath to the collection, usually under `$.context`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<String>,
    /// Items run at once; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// The graph run once per item. Its entry nodes are those without incoming edges.
    #[serde(default)]
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    #[serde(default)]
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub edges: Vec<Edge>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Timer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    /// An RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Approval {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignees: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub form: Vec<FormField>,
    /// Default: approve, reject.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FormFieldKind,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The choices of an `enum` field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormFieldKind {
    Text,
    Number,
    Boolean,
    Enum,
    Date,
    Textarea,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Callback {
    /// Where to send the request carrying the callback token; none means only wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Job {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    /// 0–5000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// 0–10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// `SkipWhenNoResource` or `AnyTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_policy: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Subprocess {
    /// Key of the published definition to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    /// Pinned version; the latest published when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// CEL over the context; the edge is taken only when it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Taken instead of the normal edges when `from` fails and its `on_error` is `branch`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub error: bool,
}
