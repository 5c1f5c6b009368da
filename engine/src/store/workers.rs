//! Robots and the jobs they run (DESIGN §3 "Workers"): queues group robots; a deployment binds a
//! package version to a queue with arguments and policies; a job is one run of a deployment.
//!
//! A robot claims the highest-priority queued job of its queue under a lease and reports progress
//! (which extends the lease), success or failure. A job started by a `job` node carries the
//! hash of that node's callback: finishing the job finishes the callback in the same transaction,
//! so the workflow goes on exactly once. A robot silent past its timeout is `disconnected`; a
//! job whose lease lapsed is queued again once, for another robot, and fails the second time.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::StoreError;

#[async_trait]
pub trait WorkerStore: Send + Sync {
    async fn create_queue(&self, queue: NewQueue<'_>) -> Result<Queue, StoreError>;
    async fn queues(&self) -> Result<Vec<Queue>, StoreError>;
    async fn queue(&self, id: &str) -> Result<Option<Queue>, StoreError>;
    /// Changes what is given; `NotFound` for an unknown queue, `Conflict` for a taken name.
    async fn update_queue(&self, id: &str, change: QueueChange<'_>) -> Result<Queue, StoreError>;
    /// `Conflict` while robots or deployments are in it; `NotFound` for an unknown queue.
    async fn delete_queue(&self, id: &str) -> Result<(), StoreError>;

    /// `NotFound` for an unknown queue; `Conflict` when the name is taken.
    async fn create_robot(&self, robot: NewRobot<'_>) -> Result<Robot, StoreError>;
    async fn robots(&self, queue: Option<&str>) -> Result<Vec<Robot>, StoreError>;
    async fn robot(&self, id: &str) -> Result<Option<Robot>, StoreError>;
    /// The robot a token (by its hash) belongs to.
    async fn robot_by_token(&self, token_hash: &str) -> Result<Option<Robot>, StoreError>;
    /// Records a heartbeat: the robot is `ready`, or `busy` while it runs a job.
    async fn heartbeat(
        &self,
        robot: &str,
        sdk_version: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Robot, StoreError>;

    async fn create_deployment(
        &self,
        deployment: NewDeployment<'_>,
    ) -> Result<Deployment, StoreError>;
    async fn deployments(&self) -> Result<Vec<Deployment>, StoreError>;
    /// By id, or else by name.
    async fn deployment(&self, id_or_name: &str) -> Result<Option<Deployment>, StoreError>;
    /// Replaces the deployment's settings (its id, creator and creation time stay).
    async fn update_deployment(
        &self,
        id: &str,
        to: NewDeployment<'_>,
    ) -> Result<Deployment, StoreError>;
    /// `Conflict` while jobs of it are kept; `NotFound` for an unknown deployment.
    async fn delete_deployment(&self, id: &str) -> Result<(), StoreError>;

    /// Queues a job started on its own (not by a `job` node).
    async fn create_job(&self, job: &NewJob) -> Result<Job, StoreError>;
    async fn job(&self, id: &str) -> Result<Option<Job>, StoreError>;
    /// The newest jobs first, optionally of one queue or one instance.
    async fn jobs(&self, query: &JobQuery) -> Result<super::Page<Job>, StoreError>;
    /// Robots that may run the deployment's jobs (those bound to it, else those of its queue)
    /// and are ready now.
    async fn ready_robots(&self, deployment: &str, since: DateTime<Utc>)
        -> Result<i64, StoreError>;

    /// Claims the highest-priority queued job of the robot's queue (oldest first among equals)
    /// until `until`, skipping jobs whose node no longer waits (those are cancelled) and a job
    /// this robot lost before and jobs of deployments bound to other robots. `None` when there is
    /// none.
    async fn claim_job(
        &self,
        robot: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<Job>, StoreError>;

    /// Extends the lease of the robot's running job. `Conflict` when it is not running on it.
    async fn job_progress(
        &self,
        robot: &str,
        job: &str,
        message: Option<&str>,
        until: DateTime<Utc>,
    ) -> Result<Job, StoreError>;

    /// Ends the robot's running job: succeeded, or failed (queued again while retries are left).
    /// The node waiting for it is answered in the same transaction. `Conflict` when the job is
    /// not running on this robot (lease lost, cancelled, already ended).
    async fn finish_job(&self, finish: JobFinish<'_>) -> Result<Job, StoreError>;

    /// Marks robots silent since `silent_since` disconnected, and takes back running jobs whose
    /// lease lapsed before `now`: queued again once (for another robot), failed the second time.
    /// Returns how many jobs were taken back.
    async fn recover_jobs(
        &self,
        now: DateTime<Utc>,
        silent_since: DateTime<Utc>,
    ) -> Result<usize, StoreError>;
}

#[derive(Debug, Clone, Copy)]
pub struct NewQueue<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub tags: &'a [String],
    /// The department it belongs to (its robots with it); none: the whole installation's.
    pub department_id: Option<&'a str>,
    pub created_by: &'a str,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct QueueChange<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub tags: Option<&'a [String]>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    pub id: String,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub department_id: Option<String>,
    pub robot_count: i64,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Copy)]
pub struct NewRobot<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub queue_id: Option<&'a str>,
    pub token_hash: &'a str,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Robot {
    pub id: String,
    pub name: String,
    pub description: String,
    pub queue_id: Option<String>,
    /// `ready`, `busy` or `disconnected`.
    pub status: String,
    pub sdk_version: String,
    pub last_heartbeat_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct NewDeployment<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub package_name: &'a str,
    pub package_version: &'a str,
    pub queue_id: &'a str,
    pub arguments: &'a Value,
    pub priority: i32,
    pub max_retries: i32,
    pub trigger_policy: TriggerPolicy,
    /// The department it belongs to; none: the whole installation's.
    pub department_id: Option<&'a str>,
    pub created_by: &'a str,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: String,
    pub name: String,
    pub description: String,
    pub package_name: String,
    pub package_version: String,
    pub queue_id: String,
    pub arguments: Value,
    pub priority: i32,
    pub max_retries: i32,
    pub trigger_policy: TriggerPolicy,
    pub department_id: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

/// What a job does when no robot of its queue is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TriggerPolicy {
    /// It is cancelled (and its node fails).
    SkipWhenNoResource,
    /// It waits in the queue.
    AnyTime,
}

impl TriggerPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerPolicy::SkipWhenNoResource => "SkipWhenNoResource",
            TriggerPolicy::AnyTime => "AnyTime",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "SkipWhenNoResource" => Some(TriggerPolicy::SkipWhenNoResource),
            "AnyTime" => Some(TriggerPolicy::AnyTime),
            _ => None,
        }
    }
}

/// A job to queue. `callback_hash` names the `job` node's callback that waits for it.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: String,
    pub deployment_id: String,
    pub queue_id: String,
    pub instance_id: Option<crate::id::Id>,
    pub node_id: Option<String>,
    pub callback_hash: Option<String>,
    pub arguments: Value,
    pub priority: i32,
    pub max_retries: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub deployment_id: String,
    pub queue_id: String,
    pub instance_id: Option<String>,
    pub node_id: Option<String>,
    pub arguments: Value,
    pub priority: i32,
    pub max_retries: i32,
    pub retried_count: i32,
    /// `Queued`, `Running`, `Succeeded`, `Failed` or `Cancelled`.
    pub state: String,
    pub robot_id: Option<String>,
    pub requeued: bool,
    pub message: String,
    pub output: Option<Value>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    pub queue_id: Option<String>,
    pub instance_id: Option<crate::id::Id>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct JobFinish<'a> {
    pub robot: &'a str,
    pub job: &'a str,
    pub succeeded: bool,
    /// The job's output (succeeded) or what went wrong (failed).
    pub output: &'a Value,
    pub message: &'a str,
    pub now: DateTime<Utc>,
}
