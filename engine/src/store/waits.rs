//! Nodes that wait on the outside: human tasks, callbacks and subprocesses.
//!
//! A waiting node leaves its next activation in the queue, held and marked with what it awaits,
//! so the instance is not finished while it waits. The answer (a task completed, a callback
//! finished, a child instance ended, a due time passed) releases that activation with the answer
//! as its input, in the same transaction that records the answer: once, whatever the races.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Page, StoreError};
use crate::id::Id;
use crate::task::{HumanTask, TaskStatus};

#[async_trait]
pub trait WaitStore: Send + Sync {
    async fn task(&self, id: Id) -> Result<Option<HumanTask>, StoreError>;

    /// A person's inbox, newest first.
    async fn inbox(&self, query: &InboxQuery) -> Result<Page<HumanTask>, StoreError>;

    /// Claims an open task for `user` (`claim`), or gives a task they claimed back (`!claim`).
    /// `Conflict` when the task is not in a state that allows it.
    async fn claim_task(&self, id: Id, user: &str, claim: bool) -> Result<HumanTask, StoreError>;

    /// Completes a task once: `Conflict` for every later attempt, and for a task claimed by
    /// someone else. The node's activation is released with the answer.
    async fn complete_task(&self, answer: TaskAnswer<'_>) -> Result<HumanTask, StoreError>;

    /// Finishes a callback by its token's hash. A repeat of the finish that applied answers
    /// `applied: false` and changes nothing; a finish after the wait ended otherwise (timed
    /// out, cancelled) is a `Conflict`; an unknown token is `NotFound`.
    async fn finish_callback(
        &self,
        token_hash: &str,
        finish: CallbackFinish<'_>,
    ) -> Result<CallbackOutcome, StoreError>;

    /// Ends the waits whose due time has passed (tasks expire, callbacks time out), up to
    /// `limit` of them, and releases their nodes. Returns how many it ended.
    async fn expire_waits(&self, limit: i64) -> Result<usize, StoreError>;
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct InboxQuery {
    pub username: String,
    pub groups: Vec<String>,
    /// `None`: what waits for the person, open tasks of theirs and those they claimed.
    pub status: Option<TaskStatus>,
    pub definition_key: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

impl InboxQuery {
    /// The candidate rows that name this person: `u:name` and `g:group` for each group.
    pub(crate) fn principals(&self) -> Vec<String> {
        std::iter::once(user_principal(&self.username))
            .chain(self.groups.iter().map(|g| group_principal(g)))
            .collect()
    }
}

pub(crate) fn user_principal(name: &str) -> String {
    format!("u:{name}")
}

pub(crate) fn group_principal(name: &str) -> String {
    format!("g:{name}")
}

#[derive(Debug, Clone, Copy)]
pub struct TaskAnswer<'a> {
    pub id: Id,
    pub user: &'a str,
    pub outcome: &'a str,
    /// Already checked against the form (see [`crate::task::check_submission`]).
    pub data: &'a Value,
}

#[derive(Debug, Clone, Copy)]
pub struct CallbackFinish<'a> {
    pub succeeded: bool,
    /// The node's output when it succeeded; the error's detail when it failed.
    pub output: &'a Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallbackOutcome {
    /// `false`: a repeat of a finish already applied.
    pub applied: bool,
    /// `succeeded` or `failed`.
    pub status: String,
    pub instance_id: Id,
}

/// What a node that starts waiting records with its waiting run (see [`super::Completion`]).
#[derive(Debug, Clone)]
pub enum NewWait {
    Task(NewTask),
    Callback(NewCallback),
    Child(NewChild),
}

impl NewWait {
    /// What the held activation awaits, as `work_items.awaiting` names it.
    pub fn awaiting(&self) -> &'static str {
        match self {
            NewWait::Task(_) => "task",
            NewWait::Callback(_) => "callback",
            NewWait::Child(_) => "subprocess",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewTask {
    pub id: Id,
    pub node_id: String,
    pub node_run_id: Id,
    /// The held activation the answer releases.
    pub item_id: Id,
    pub definition_key: String,
    pub title: String,
    pub content: String,
    pub assignees: Vec<String>,
    pub groups: Vec<String>,
    pub form: Value,
    pub outcomes: Vec<String>,
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewCallback {
    pub id: Id,
    pub token_hash: String,
    pub node_id: String,
    pub node_run_id: Id,
    pub item_id: Id,
    pub due_at: Option<DateTime<Utc>>,
    /// A `job` node's job, queued with the wait; finishing the job finishes the callback.
    pub job: Option<super::NewJob>,
}

/// A subprocess's instance, started in the transaction that makes its parent node wait.
#[derive(Debug, Clone)]
pub struct NewChild {
    pub id: Id,
    pub version_id: Id,
    pub definition_key: String,
    pub version: i32,
    pub input: Value,
    pub operator: String,
    pub start_item: Id,
    pub start_node: String,
    pub deadline: Option<(Id, i64)>,
    /// The parent's held activation, released when the child ends.
    pub parent_item: Id,
}

/// The answer a released activation carries as its input; the waiting node's run ends with it.
pub mod answer {
    use serde_json::{json, Value};

    pub fn completed(output: Value) -> Value {
        json!({"status": "completed", "output": output})
    }

    pub fn failed(code: &str, message: &str, detail: Value) -> Value {
        json!({"status": "failed", "error": {"code": code, "message": message, "detail": detail}})
    }

    pub fn expired() -> Value {
        json!({"status": "expired"})
    }

    pub fn timed_out() -> Value {
        json!({"status": "timed_out"})
    }
}
