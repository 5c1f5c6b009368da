//! Human tasks for the people they name: reading, claiming and completing, with the rules every
//! surface shares (the REST API, the inbox pages, the compatibility surfaces).
//!
//! A task is seen by its assignees, the members of its candidate groups, whoever claimed or
//! completed it, and administrators; only its assignees and candidate groups act on it. To
//! everybody else it does not exist.

use std::sync::Arc;

use serde_json::Value;

use crate::id::Id;
use crate::people::User;
use crate::runtime::Runtime;
use crate::store::{InboxQuery, Page, StoreError, TaskAnswer};
use crate::task::{check_submission, FieldError, HumanTask, TaskStatus};

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// No such task, or not one the caller may see.
    #[error("task not found")]
    NotFound,
    #[error("only the task's assignees and candidate groups may act on it")]
    Forbidden,
    /// Claimed by someone else, already completed, cancelled or expired.
    #[error("{0}")]
    Conflict(String),
    /// The answer does not fit the task's outcomes or form.
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for TaskError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(_) => TaskError::NotFound,
            StoreError::Conflict(why) => TaskError::Conflict(why),
            other => TaskError::Store(other),
        }
    }
}

#[derive(Clone)]
pub struct TaskService {
    runtime: Runtime,
}

impl TaskService {
    /// Completions wake `runtime`'s workers, so the workflow goes on at once.
    pub fn new(runtime: Runtime) -> Self {
        Self { runtime }
    }

    fn store(&self) -> &Arc<dyn crate::store::Store> {
        self.runtime.store()
    }

    /// The person's inbox (see [`InboxQuery`]).
    pub async fn inbox(
        &self,
        user: &User,
        status: Option<TaskStatus>,
        definition_key: Option<String>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<HumanTask>, TaskError> {
        Ok(self
            .store()
            .inbox(&InboxQuery {
                username: user.username.clone(),
                groups: user.groups.clone(),
                status,
                definition_key,
                limit,
                offset,
            })
            .await?)
    }

    /// The task, if `user` may see it.
    pub async fn read(&self, user: &User, id: Id) -> Result<HumanTask, TaskError> {
        let task = self.store().task(id).await?.ok_or(TaskError::NotFound)?;
        let involved = task.is_candidate(&user.username, &user.groups)
            || task.claimed_by.as_deref() == Some(user.username.as_str())
            || task.completed_by.as_deref() == Some(user.username.as_str());
        if involved || user.is_admin() {
            Ok(task)
        } else {
            Err(TaskError::NotFound)
        }
    }

    /// The task, if `user` may act on it.
    async fn actionable(&self, user: &User, id: Id) -> Result<HumanTask, TaskError> {
        let task = self.read(user, id).await?;
        if task.is_candidate(&user.username, &user.groups) {
            Ok(task)
        } else {
            Err(TaskError::Forbidden)
        }
    }

    /// Claims the task for `user` (`claim`), or gives it back (`!claim`).
    pub async fn claim(&self, user: &User, id: Id, claim: bool) -> Result<HumanTask, TaskError> {
        let task = self.actionable(user, id).await?;
        Ok(self
            .store()
            .claim_task(task.id, &user.username, claim)
            .await?)
    }

    /// Completes the task with `outcome` and the form's `data` (checked against the form, its
    /// defaults filled in), exactly once; the workflow goes on along the outcome.
    pub async fn complete(
        &self,
        user: &User,
        id: Id,
        outcome: &str,
        data: &Value,
    ) -> Result<HumanTask, TaskError> {
        let task = self.actionable(user, id).await?;
        if !task.status.is_open() {
            return Err(TaskError::Conflict(format!(
                "task {} is already {}",
                task.id,
                task.status.as_str()
            )));
        }
        let data = check_submission(&task.form, &task.outcomes, outcome, data)
            .map_err(TaskError::Invalid)?;
        let done = self
            .store()
            .complete_task(TaskAnswer {
                id: task.id,
                user: &user.username,
                outcome,
                data: &data,
            })
            .await?;
        self.runtime.wake();
        Ok(done)
    }
}
