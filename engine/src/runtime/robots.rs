//! Robots (see `store::workers`): the job a `job` node queues, and taking back the jobs of robots
//! that went silent.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use super::executors::NodeError;
use super::{Inner, Runtime};
use crate::definition::template::{render, render_value};
use crate::store::{NewJob, StoreError, TriggerPolicy, WorkItem};

impl Runtime {
    /// How long a worker — a server process, or a robot with a job — owns work it took.
    pub fn lease(&self) -> Duration {
        self.inner.config.lease
    }

    /// Where people and systems outside reach this server (for links it hands out).
    pub fn public_url(&self) -> Option<&str> {
        self.inner.config.public_url.as_deref()
    }

    /// Marks robots silent for a lease disconnected and takes back their lapsed jobs (queued
    /// again once, then failed; see `store::workers`). Returns how many were taken back.
    pub async fn recover_jobs(&self) -> usize {
        let now = chrono::Utc::now();
        let lease = chrono::Duration::from_std(self.inner.config.lease).unwrap_or_default();
        match self.inner.store.recover_jobs(now, now - lease).await {
            Ok(0) => 0,
            Ok(n) => {
                self.inner.wake.notify_one();
                n
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot take back the jobs of silent robots");
                0
            }
        }
    }
}

/// The job a `job` node queues: its deployment's, with the node's arguments (templates over
/// `input` and `context`) over the deployment's, and the node's priority and retries when it
/// sets them. The node fails at once when the deployment is unknown, or when its trigger policy
/// is `SkipWhenNoResource` and no robot of the queue is ready.
pub(super) async fn job(
    inner: &Inner,
    item: &WorkItem,
    node: &crate::definition::Node,
    spec: &crate::definition::Job,
    scope: &Value,
) -> Result<Result<NewJob, NodeError>, StoreError> {
    let name = render(spec.deployment.as_deref().unwrap_or_default(), scope);
    let Some(deployment) = inner.store.deployment(&name).await? else {
        return Ok(Err(NodeError::new(
            "no_deployment",
            format!("there is no deployment `{name}`"),
        )));
    };
    let policy = spec
        .trigger_policy
        .as_deref()
        .and_then(TriggerPolicy::parse)
        .unwrap_or(deployment.trigger_policy);
    if policy == TriggerPolicy::SkipWhenNoResource {
        let since = Utc::now() - to_chrono_std(inner.config.lease);
        if inner.store.ready_robots(&deployment.id, since).await? == 0 {
            return Ok(Err(NodeError::new(
                "no_robot",
                format!(
                    "no robot of deployment {} is free, and the trigger policy is SkipWhenNoResource",
                    deployment.name
                ),
            )));
        }
    }
    let mut arguments = deployment.arguments.clone();
    if let (Value::Object(map), Some(Value::Object(more))) = (
        &mut arguments,
        spec.arguments.as_ref().map(|a| render_value(a, scope)),
    ) {
        map.extend(more);
    }
    Ok(Ok(NewJob {
        id: crate::people::new_uuid(),
        deployment_id: deployment.id,
        queue_id: deployment.queue_id,
        instance_id: Some(item.instance_id),
        node_id: Some(node.id.clone()),
        callback_hash: None,
        arguments,
        priority: spec.priority.map_or(deployment.priority, |p| p as i32),
        max_retries: spec
            .max_retries
            .map_or(deployment.max_retries, |r| r as i32),
    }))
}

fn to_chrono_std(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_default()
}
