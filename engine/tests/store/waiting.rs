//! Time on both databases: timers wait durably (through pauses and other workers), instances
//! fail when they pass their time limit, nodes that pass theirs are `timed_out`.

use std::time::Duration;

use engine::instance::{InstanceStatus, NodeRunStatus};
use engine::status::Backend;
use engine::store::InstanceChange;
use engine::testing::{Receiver, TestDatabase};
use serde_json::{json, Value};

use crate::runtime::{finished, publish, runs, runtime, start};
use crate::{conformance, open};

fn timed(key: &str, timer: Value, timeout: Option<&str>) -> Value {
    let mut wait = timer;
    wait["id"] = json!("wait");
    wait["kind"] = json!("timer");
    let mut doc = json!({
        "key": key, "name": key,
        "nodes": [{"id": "start", "kind": "start"}, wait, {"id": "end", "kind": "end"}],
        "edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "end"}]
    });
    if let Some(limit) = timeout {
        doc["timeout"] = json!(limit);
    }
    doc
}

conformance!(a_timer_waits_durably_and_through_a_pause, timers);
async fn timers(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(&store, timed("nap", json!({"duration": "1500ms"}), None)).await;
    let first = runtime(&store, 1);
    let id = start(&first, "nap", json!({})).await.id;

    let waiting = finished(&first, id).await;
    assert_eq!(waiting.status, InstanceStatus::Running);
    assert_eq!(
        runs(&store, id).await.last(),
        Some(&("wait".into(), NodeRunStatus::Waiting))
    );
    let events = store.events(id, 0).await.expect("events");
    let waited = events
        .iter()
        .find(|e| e.kind == "node.waiting")
        .expect("a waiting event");
    assert!(waited.data["until"].is_string(), "{:?}", waited.data);

    // Paused past its due time, the timer does not fire; another worker finishes it on resume.
    first
        .change(id, InstanceChange::Pause, "olivia")
        .await
        .expect("pause");
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    let second = runtime(&store, 2);
    assert_eq!(finished(&second, id).await.status, InstanceStatus::Paused);
    second
        .change(id, InstanceChange::Resume, "olivia")
        .await
        .expect("resume");
    let done = finished(&second, id).await;
    assert_eq!(done.status, InstanceStatus::Completed, "{:?}", done.error);
    let all = store.node_runs(id).await.expect("runs");
    let wait: Vec<_> = all.iter().filter(|r| r.node_id == "wait").collect();
    assert_eq!(wait.len(), 1, "one run, waited then completed: {all:?}");
    assert_eq!(wait[0].status, NodeRunStatus::Completed);
    assert!(wait[0].ended_at.is_some());

    // A time already past fires at once.
    publish(
        &store,
        timed("past", json!({"until": "2020-01-01T00:00:00Z"}), None),
    )
    .await;
    let id = start(&second, "past", json!({})).await.id;
    assert_eq!(
        finished(&second, id).await.status,
        InstanceStatus::Completed
    );
}

conformance!(an_instance_past_its_time_limit_fails, instance_timeout);
async fn instance_timeout(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let rt = runtime(&store, 1);
    publish(&store, timed("slow", json!({"duration": "1h"}), Some("1s"))).await;
    publish(
        &store,
        timed("quick", json!({"duration": "1ms"}), Some("1h")),
    )
    .await;

    let quick = start(&rt, "quick", json!({})).await.id;
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The pending deadline does not keep a finished instance open.
    assert_eq!(finished(&rt, quick).await.status, InstanceStatus::Completed);

    let slow = start(&rt, "slow", json!({})).await.id;
    assert_eq!(finished(&rt, slow).await.status, InstanceStatus::Running);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let done = finished(&rt, slow).await;
    assert_eq!(done.status, InstanceStatus::Failed);
    assert_eq!(done.error.expect("error")["code"], "timeout");
    let events = store.events(slow, 0).await.expect("events");
    assert_eq!(
        events.last().map(|e| e.kind.as_str()),
        Some("instance.failed")
    );
}

conformance!(a_node_past_its_time_limit_is_timed_out, node_timeout);
async fn node_timeout(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let receiver = Receiver::start().await;
    let rt = engine::runtime::Runtime::new(
        store.clone(),
        engine::id::IdGenerator::new(4),
        "w",
        engine::runtime::RuntimeConfig {
            http_allow: vec!["127.0.0.1/32".parse().expect("network")],
            ..Default::default()
        },
    );
    publish(
        &store,
        json!({
            "key": "impatient", "name": "Impatient",
            "nodes": [{"id": "start", "kind": "start"},
                      {"id": "call", "kind": "http", "url": receiver.url("/slow/3000"),
                       "timeout": "100ms"},
                      {"id": "end", "kind": "end"}],
            "edges": [{"from": "start", "to": "call"}, {"from": "call", "to": "end"}]
        }),
    )
    .await;
    let id = start(&rt, "impatient", json!({})).await.id;
    let done = finished(&rt, id).await;
    assert_eq!(done.status, InstanceStatus::Failed);
    assert_eq!(done.error.expect("error")["code"], "timeout");
    assert_eq!(
        runs(&store, id).await.last(),
        Some(&("call".into(), NodeRunStatus::TimedOut))
    );
}
