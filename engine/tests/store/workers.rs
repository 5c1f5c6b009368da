//! Robots and jobs on both databases: a `job` node waits for its job; a robot claims, reports and
//! finishes it; retries; a robot that goes silent loses its job to another robot once; 20 robots
//! racing for 1,000 jobs never run one twice; `SkipWhenNoResource` without a free robot.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use engine::instance::{InstanceStatus, NodeRunStatus};
use engine::status::Backend;
use engine::store::{
    JobFinish, JobQuery, NewDeployment, NewJob, NewQueue, NewRobot, Store, StoreError,
    TriggerPolicy,
};
use engine::testing::TestDatabase;
use serde_json::{json, Value};

use crate::runtime::{finished, publish, runs, runtime, start};
use crate::{conformance, open};

async fn queue_with_robots(store: &Arc<dyn Store>, queue: &str, robots: usize) -> Vec<String> {
    store
        .create_queue(NewQueue {
            id: queue,
            name: queue,
            description: "",
            tags: &[],
            department_id: None,
            created_by: "admin",
        })
        .await
        .expect("queue");
    let mut ids = Vec::new();
    for i in 0..robots {
        let id = format!("{queue}-robot-{i}");
        store
            .create_robot(NewRobot {
                id: &id,
                name: &id,
                description: "",
                queue_id: Some(queue),
                token_hash: &format!("hash-{id}"),
            })
            .await
            .expect("robot");
        store
            .heartbeat(&id, Some("1.0"), Utc::now())
            .await
            .expect("heartbeat");
        ids.push(id);
    }
    ids
}

async fn deployment(
    store: &Arc<dyn Store>,
    name: &str,
    queue: &str,
    max_retries: i32,
    policy: TriggerPolicy,
) {
    store
        .create_deployment(NewDeployment {
            id: &format!("{name}-id"),
            name,
            description: "",
            package_name: "reports",
            package_version: "1.0.0",
            queue_id: queue,
            arguments: &json!({"format": "pdf", "pages": 1}),
            priority: 2000,
            max_retries,
            trigger_policy: policy,
            department_id: None,
            created_by: "admin",
        })
        .await
        .expect("deployment");
}

/// start → the job node → end, the end keeping the job's output.
fn with_job(key: &str, deployment: &str) -> Value {
    json!({"key": key, "name": key,
           "nodes": [{"id": "start", "kind": "start"},
                     {"id": "report", "kind": "job", "deployment": deployment,
                      "arguments": {"pages": "{{input.pages}}"},
                      "output_mappings": [{"source": "$.output.output", "target": "$.context.report"}]},
                     {"id": "end", "kind": "end",
                      "output_mappings": [{"source": "$.context.report", "target": "$.output.report"}]}],
           "edges": [{"from": "start", "to": "report"}, {"from": "report", "to": "end"}]})
}

fn finish<'a>(robot: &'a str, job: &'a str, succeeded: bool, output: &'a Value) -> JobFinish<'a> {
    JobFinish {
        robot,
        job,
        succeeded,
        output,
        message: if succeeded {
            ""
        } else {
            "the printer is on fire"
        },
        now: Utc::now(),
    }
}

conformance!(a_job_node_waits_for_its_job_which_one_robot_runs, job_node);
async fn job_node(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let rt = runtime(&store, 41);
    let robots = queue_with_robots(&store, "printers", 2).await;
    deployment(
        &store,
        "nightly-report",
        "printers",
        0,
        TriggerPolicy::AnyTime,
    )
    .await;
    publish(&store, with_job("report", "nightly-report")).await;
    let id = start(&rt, "report", json!({"pages": 7})).await.id;
    let waiting = finished(&rt, id).await;
    assert_eq!(waiting.status, InstanceStatus::Running);
    let jobs = store
        .jobs(&JobQuery {
            instance_id: Some(id),
            limit: 10,
            ..JobQuery::default()
        })
        .await
        .expect("jobs");
    assert_eq!(jobs.total, 1);
    let job = &jobs.items[0];
    assert_eq!(job.state, "Queued");
    assert_eq!(job.arguments, json!({"format": "pdf", "pages": 7}));

    let until = Utc::now() + Duration::seconds(30);
    let claimed = store
        .claim_job(&robots[0], Utc::now(), until)
        .await
        .expect("claim")
        .expect("a job");
    assert_eq!(
        (claimed.id.as_str(), claimed.state.as_str()),
        (job.id.as_str(), "Running")
    );
    assert_eq!(
        store
            .robot(&robots[0])
            .await
            .expect("robot")
            .expect("there")
            .status,
        "busy"
    );
    assert!(store
        .claim_job(&robots[1], Utc::now(), until)
        .await
        .expect("claim")
        .is_none());
    store
        .job_progress(&robots[0], &job.id, Some("page 3"), until)
        .await
        .expect("progress");
    let output = json!({"url": "https://files.example.com/r.pdf"});
    assert!(matches!(
        store
            .finish_job(finish(&robots[1], &job.id, true, &output))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let done = store
        .finish_job(finish(&robots[0], &job.id, true, &output))
        .await
        .expect("finish");
    assert_eq!(done.state, "Succeeded");
    assert!(matches!(
        store
            .finish_job(finish(&robots[0], &job.id, true, &output))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let ended = finished(&rt, id).await;
    assert_eq!(ended.status, InstanceStatus::Completed, "{:?}", ended.error);
    assert_eq!(ended.output, Some(json!({"report": output})));
    assert_eq!(
        store
            .robot(&robots[0])
            .await
            .expect("robot")
            .expect("there")
            .status,
        "ready"
    );
}

conformance!(a_failed_job_is_retried_then_fails_its_node, retries);
async fn retries(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let rt = runtime(&store, 42);
    let robots = queue_with_robots(&store, "q", 1).await;
    deployment(&store, "flaky", "q", 1, TriggerPolicy::AnyTime).await;
    publish(&store, with_job("flaky", "flaky")).await;
    let id = start(&rt, "flaky", json!({"pages": 1})).await.id;
    finished(&rt, id).await;
    let until = Utc::now() + Duration::seconds(30);
    for attempt in 0..2 {
        let job = store
            .claim_job(&robots[0], Utc::now(), until)
            .await
            .expect("claim")
            .expect("a job");
        assert_eq!(job.retried_count, attempt);
        let after = store
            .finish_job(finish(&robots[0], &job.id, false, &Value::Null))
            .await
            .expect("fail");
        assert_eq!(after.state, if attempt == 0 { "Queued" } else { "Failed" });
    }
    let ended = finished(&rt, id).await;
    assert_eq!(ended.status, InstanceStatus::Failed);
    assert!(runs(&store, id)
        .await
        .contains(&("report".to_string(), NodeRunStatus::Failed)));
}

conformance!(a_silent_robot_loses_its_job_to_another_once, lost);
async fn lost(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let rt = runtime(&store, 43);
    let robots = queue_with_robots(&store, "q", 2).await;
    deployment(&store, "long", "q", 0, TriggerPolicy::AnyTime).await;
    publish(&store, with_job("long", "long")).await;
    let id = start(&rt, "long", json!({"pages": 1})).await.id;
    finished(&rt, id).await;
    // The first robot claims it and goes silent: its lease has lapsed.
    let lapsed = Utc::now() - Duration::seconds(1);
    let job = store
        .claim_job(&robots[0], Utc::now(), lapsed)
        .await
        .expect("claim")
        .expect("a job");
    let taken = store
        .recover_jobs(Utc::now(), Utc::now() - Duration::seconds(60))
        .await
        .expect("recover");
    assert_eq!(taken, 1);
    let again = store.job(&job.id).await.expect("job").expect("there");
    assert_eq!((again.state.as_str(), again.requeued), ("Queued", true));
    // Not to the robot that lost it; to the other.
    assert!(store
        .claim_job(&robots[0], Utc::now(), lapsed)
        .await
        .expect("claim")
        .is_none());
    let second = store
        .claim_job(&robots[1], Utc::now(), lapsed)
        .await
        .expect("claim")
        .expect("the job again");
    assert_eq!(second.id, job.id);
    // The late report of the first robot changes nothing.
    assert!(matches!(
        store
            .finish_job(finish(&robots[0], &job.id, true, &Value::Null))
            .await,
        Err(StoreError::Conflict(_))
    ));
    // Lost a second time: the job fails, and so does its node.
    store
        .recover_jobs(Utc::now(), Utc::now() - Duration::seconds(60))
        .await
        .expect("recover");
    assert_eq!(
        store.job(&job.id).await.expect("job").expect("there").state,
        "Failed"
    );
    let ended = finished(&rt, id).await;
    assert_eq!(ended.status, InstanceStatus::Failed);
    // Robots silent past the timeout are disconnected.
    store
        .recover_jobs(Utc::now(), Utc::now() + Duration::seconds(1))
        .await
        .expect("recover");
    assert_eq!(
        store
            .robot(&robots[1])
            .await
            .expect("robot")
            .expect("there")
            .status,
        "disconnected"
    );
}

conformance!(
    twenty_robots_racing_for_a_thousand_jobs_never_run_one_twice,
    race
);
async fn race(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let robots = queue_with_robots(&store, "farm", 20).await;
    deployment(&store, "batch", "farm", 0, TriggerPolicy::AnyTime).await;
    for i in 0..1000 {
        store
            .create_job(&NewJob {
                id: format!("job-{i:04}"),
                deployment_id: "batch-id".into(),
                queue_id: "farm".into(),
                instance_id: None,
                node_id: None,
                callback_hash: None,
                arguments: json!({"i": i}),
                priority: i % 7,
                max_retries: 0,
            })
            .await
            .expect("job");
    }
    let mut tasks = Vec::new();
    for robot in robots {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut ran = Vec::new();
            let until = Utc::now() + Duration::seconds(300);
            while let Some(job) = store
                .claim_job(&robot, Utc::now(), until)
                .await
                .expect("claim")
            {
                store
                    .finish_job(finish(&robot, &job.id, true, &Value::Null))
                    .await
                    .expect("finish");
                ran.push(job.id);
            }
            ran
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("robot"));
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 1000, "every job ran");
    assert_eq!(unique.len(), 1000, "none ran twice");
}

conformance!(
    skip_when_no_resource_fails_the_node_without_a_free_robot,
    skip
);
async fn skip(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let rt = runtime(&store, 44);
    queue_with_robots(&store, "empty", 0).await;
    deployment(
        &store,
        "urgent",
        "empty",
        0,
        TriggerPolicy::SkipWhenNoResource,
    )
    .await;
    publish(&store, with_job("urgent", "urgent")).await;
    let id = start(&rt, "urgent", json!({"pages": 1})).await.id;
    let ended = finished(&rt, id).await;
    assert_eq!(ended.status, InstanceStatus::Failed);
    assert_eq!(
        ended.error.as_ref().map(|e| e["code"].clone()),
        Some(json!("no_robot")),
        "{:?}",
        ended.error
    );
    // An unknown deployment fails the node too.
    publish(&store, with_job("missing", "nothing-like-it")).await;
    let id = start(&rt, "missing", json!({"pages": 1})).await.id;
    let ended = finished(&rt, id).await;
    assert_eq!(
        ended.error.as_ref().map(|e| e["code"].clone()),
        Some(json!("no_deployment")),
        "{:?}",
        ended.error
    );
}
