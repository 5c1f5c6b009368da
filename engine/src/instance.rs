//! Running workflows as the outside sees them: instances, node runs and the event log.
//! Plain data shared with the browser.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::Id;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

string_enum!(
    /// Where an instance stands.
    InstanceStatus {
        Pending => "pending",
        Running => "running",
        Paused => "paused",
        Completed => "completed",
        Failed => "failed",
        Cancelled => "cancelled",
        RollingBack => "rolling_back",
    }
);

impl InstanceStatus {
    /// Nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            InstanceStatus::Completed | InstanceStatus::Failed | InstanceStatus::Cancelled
        )
    }
}

string_enum!(
    /// Where one run of one node stands.
    NodeRunStatus {
        NotStarted => "not_started",
        Running => "running",
        Waiting => "waiting",
        Completed => "completed",
        Failed => "failed",
        Skipped => "skipped",
        Cancelled => "cancelled",
        TimedOut => "timed_out",
        Compensated => "compensated",
    }
);

impl NodeRunStatus {
    /// The run has ended (it is neither waiting to start, running nor waiting on something).
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            NodeRunStatus::NotStarted | NodeRunStatus::Running | NodeRunStatus::Waiting
        )
    }
}

string_enum!(
    /// What started an instance.
    Trigger {
        Manual => "manual",
        Api => "api",
        Cron => "cron",
        Webhook => "webhook",
        Subprocess => "subprocess",
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    pub id: Id,
    pub version_id: Id,
    pub definition_key: String,
    pub version: i32,
    pub status: InstanceStatus,
    pub input: Value,
    pub context: Value,
    pub output: Option<Value>,
    pub error: Option<Value>,
    pub trigger: Trigger,
    pub operator: String,
    pub created_at: String,
    pub ended_at: Option<String>,
    pub cost_ms: Option<i64>,
    /// The instance whose subprocess node started this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Id>,
    /// Debug mode: a failing node pauses the instance for an operator instead of failing it.
    #[serde(default)]
    pub debug: bool,
    /// A dry run: nodes that reach outside are not run; their mocked outputs are used.
    #[serde(default)]
    pub mock: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRun {
    pub id: Id,
    pub node_id: String,
    pub attempt: i32,
    /// The foreach iteration the run belongs to.
    pub loop_index: Option<i32>,
    pub status: NodeRunStatus,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub error: Option<Value>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub cost_ms: Option<i64>,
}

/// One entry of an instance's append-only event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: i32,
    pub node_id: Option<String>,
    /// `instance.started`, `node.started`, `node.completed`, `node.skipped`, `instance.completed`…
    pub kind: String,
    pub data: Value,
    pub at: String,
}
