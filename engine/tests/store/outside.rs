//! Waiting on the outside, on both databases: callbacks (finish once, duplicates, late calls),
//! subprocesses (results and cancels between parent and child) and cron triggers.

use std::sync::Arc;
use std::time::Duration;

use engine::id::Id;
use engine::instance::{InstanceStatus, NodeRunStatus};
use engine::people::token_hash;
use engine::runtime::Runtime;
use engine::status::Backend;
use engine::store::{CallbackFinish, InstanceChange, Store, StoreError};
use engine::task::TaskStatus;
use engine::testing::{Receiver, TestDatabase};
use serde_json::{json, Value};

use crate::runtime::{finished, publish, runs, runtime, start};
use crate::tasks::{approval, inbox};
use crate::{conformance, open};
fn callback(key: &str, extra: Value) -> Value {
    let mut wait = json!({
        "id": "wait", "kind": "callback",
        "output_mappings": [{"source": "$.output.ticket", "target": "$.context.ticket"}]
    });
    if let (Value::Object(wait), Value::Object(extra)) = (&mut wait, extra) {
        wait.extend(extra);
    }
    json!({
        "key": key, "name": key,
        "nodes": [{"id": "start", "kind": "start"}, wait, {"id": "end", "kind": "end"}],
        "edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "end"}]
    })
}

/// The token a callback node handed out, as its `node.waiting` event shows it.
async fn token_of(store: &Arc<dyn Store>, id: Id) -> String {
    let events = store.events(id, 0).await.expect("events");
    let waiting = events
        .iter()
        .rev()
        .find(|e| e.kind == "node.waiting")
        .expect("waiting event");
    waiting.data["callback"]["token"]
        .as_str()
        .expect("token")
        .to_string()
}

async fn finish(
    store: &Arc<dyn Store>,
    token: &str,
    succeeded: bool,
    output: Value,
) -> Result<engine::store::CallbackOutcome, StoreError> {
    store
        .finish_callback(
            &token_hash(token),
            CallbackFinish {
                succeeded,
                output: &output,
            },
        )
        .await
}

conformance!(
    a_callback_is_finished_once_and_late_calls_change_nothing,
    callbacks
);
async fn callbacks(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let receiver = Receiver::start().await;
    publish(
        &store,
        callback(
            "ticket",
            json!({"url": receiver.url("/open"), "body": {"token": "{{callback.token}}",
                                                          "size": "{{input.size}}"}}),
        ),
    )
    .await;
    let rt = Runtime::new(
        store.clone(),
        engine::id::IdGenerator::new(1),
        "worker-1",
        engine::runtime::RuntimeConfig {
            http_allow: vec!["127.0.0.0/8".parse().expect("net")],
            public_url: Some("https://baton.example".into()),
            ..Default::default()
        },
    );
    let id = start(&rt, "ticket", json!({"size": 3})).await.id;
    assert_eq!(finished(&rt, id).await.status, InstanceStatus::Running);
    let token = token_of(&store, id).await;
    let sent = receiver.received();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].headers.get("baton-callback-token"), Some(&token));
    assert_eq!(sent[0].body, json!({"token": token, "size": 3}));
    assert!(sent[0].idempotency_key.is_some());
    let events = store.events(id, 0).await.expect("events");
    let waiting = events
        .iter()
        .find(|e| e.kind == "node.waiting")
        .expect("waiting");
    assert_eq!(
        waiting.data["callback"]["url"],
        format!("https://baton.example/api/v1/callbacks/{token}")
    );

    assert!(matches!(
        finish(&store, "not-a-token", true, json!({})).await,
        Err(StoreError::NotFound(_))
    ));
    let first = finish(&store, &token, true, json!({"ticket": "T-1"}))
        .await
        .expect("finish");
    assert!(first.applied);
    assert_eq!(first.instance_id, id);
    // A duplicate is a no-op; a contradicting one is refused; neither changes anything.
    let again = finish(&store, &token, true, json!({"ticket": "T-2"}))
        .await
        .expect("duplicate");
    assert!(!again.applied);
    assert!(matches!(
        finish(&store, &token, false, json!({})).await,
        Err(StoreError::Conflict(_))
    ));
    let done = finished(&rt, id).await;
    assert_eq!(done.status, InstanceStatus::Completed, "{done:?}");
    assert_eq!(done.context["ticket"], "T-1");

    // Without a URL it only waits; past its timeout, a finish changes nothing.
    publish(&store, callback("quiet", json!({"timeout": "100ms"}))).await;
    let id = start(&rt, "quiet", json!({})).await.id;
    rt.drain().await.expect("drain");
    let token = token_of(&store, id).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rt.expire_waits().await, 1);
    let failed = finished(&rt, id).await;
    assert_eq!(failed.status, InstanceStatus::Failed);
    assert!(runs(&store, id)
        .await
        .contains(&("wait".into(), NodeRunStatus::TimedOut)));
    assert!(matches!(
        finish(&store, &token, true, json!({})).await,
        Err(StoreError::Conflict(_))
    ));

    // A reported failure fails the node; after a cancel, a finish changes nothing.
    publish(&store, callback("fragile", json!({}))).await;
    let id = start(&rt, "fragile", json!({})).await.id;
    rt.drain().await.expect("drain");
    let token = token_of(&store, id).await;
    finish(&store, &token, false, json!({"reason": "disk full"}))
        .await
        .expect("finish");
    let failed = finished(&rt, id).await;
    assert_eq!(failed.status, InstanceStatus::Failed);
    assert_eq!(
        failed.error.as_ref().expect("error")["code"],
        "callback_failed"
    );
    let id = start(&rt, "fragile", json!({})).await.id;
    rt.drain().await.expect("drain");
    let token = token_of(&store, id).await;
    rt.change(id, InstanceChange::Cancel, "olivia")
        .await
        .expect("cancel");
    assert!(matches!(
        finish(&store, &token, true, json!({})).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(finished(&rt, id).await.status, InstanceStatus::Cancelled);

    // A callback whose request cannot be sent fails at once.
    publish(
        &store,
        callback("unsent", json!({"url": "http://10.255.255.1/refused"})),
    )
    .await;
    let id = start(&rt, "unsent", json!({})).await.id;
    let failed = finished(&rt, id).await;
    assert_eq!(failed.status, InstanceStatus::Failed, "{failed:?}");
}

conformance!(
    a_subprocess_runs_a_child_and_cancel_reaches_down,
    subprocesses
);
async fn subprocesses(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(
        &store,
        json!({
            "key": "double", "name": "double",
            "input_schema": {"type": "object", "required": ["n"]},
            "nodes": [{"id": "start", "kind": "start"},
                      {"id": "calc", "kind": "script", "script": "#{ n: input.n * 2 }",
                       "output_mappings": [{"source": "$.output.n", "target": "$.context.n"}]},
                      {"id": "end", "kind": "end",
                       "output_mappings": [{"source": "$.context.n", "target": "$.output.n"}]}],
            "edges": [{"from": "start", "to": "calc"}, {"from": "calc", "to": "end"}]
        }),
    )
    .await;
    let parent = |key: &str, child: &str| {
        json!({
            "key": key, "name": key,
            "nodes": [{"id": "start", "kind": "start"},
                      {"id": "sub", "kind": "subprocess", "definition": child,
                       "input_mappings": [{"source": "$.context.value", "target": "$.input.n"}],
                       "output_mappings": [{"source": "$.output.n", "target": "$.context.result"}]},
                      {"id": "end", "kind": "end"}],
            "edges": [{"from": "start", "to": "sub"}, {"from": "sub", "to": "end"}]
        })
    };
    publish(&store, parent("outer", "double")).await;
    let rt = runtime(&store, 1);
    let id = start(&rt, "outer", json!({"value": 21})).await.id;
    let done = finished(&rt, id).await;
    assert_eq!(done.status, InstanceStatus::Completed, "{done:?}");
    assert_eq!(done.context["result"], 42);
    let children = store
        .list_instances(&engine::store::InstanceQuery {
            definition_key: Some("double".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("children");
    assert_eq!(children.total, 1);
    assert_eq!(children.items[0].parent_id, Some(id));
    assert_eq!(
        children.items[0].trigger,
        engine::instance::Trigger::Subprocess
    );

    // An input the child refuses fails the node without starting it.
    let id = start(&rt, "outer", json!({})).await.id;
    let failed = finished(&rt, id).await;
    assert_eq!(failed.status, InstanceStatus::Failed);
    assert_eq!(
        failed.error.as_ref().expect("error")["code"],
        "subprocess_start"
    );

    // A child waiting on a person is cancelled with its parent, and so is its task.
    publish(&store, approval("approve", json!({}))).await;
    publish(&store, parent("waits", "approve")).await;
    let id = start(&rt, "waits", json!({"value": 1})).await.id;
    rt.drain().await.expect("drain");
    let task = inbox(&store, "alice", &[]).await.remove(0);
    rt.change(id, InstanceChange::Cancel, "olivia")
        .await
        .expect("cancel");
    let child = store
        .instance(task.instance_id)
        .await
        .expect("read")
        .expect("child");
    assert_eq!(child.status, InstanceStatus::Cancelled);
    assert_eq!(child.parent_id, Some(id));
    let task = store.task(task.id).await.expect("read").expect("task");
    assert_eq!(task.status, TaskStatus::Cancelled);

    // A child cancelled on its own fails its parent's node.
    let id = start(&rt, "waits", json!({"value": 1})).await.id;
    rt.drain().await.expect("drain");
    let task = inbox(&store, "alice", &[]).await.remove(0);
    rt.change(task.instance_id, InstanceChange::Cancel, "olivia")
        .await
        .expect("cancel the child");
    let failed = finished(&rt, id).await;
    assert_eq!(failed.status, InstanceStatus::Failed);
    assert_eq!(
        failed.error.as_ref().expect("error")["code"],
        "subprocess_cancelled"
    );
}

conformance!(
    a_cron_tick_starts_one_instance_however_many_processes_see_it,
    cron
);
async fn cron(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(
        &store,
        json!({
            "key": "tick", "name": "tick",
            "triggers": [{"kind": "cron", "name": "every-second", "schedule": "* * * * * *",
                          "input": {"from": "cron"}}],
            "nodes": [{"id": "start", "kind": "start"}, {"id": "end", "kind": "end"}],
            "edges": [{"from": "start", "to": "end"}]
        }),
    )
    .await;
    let listed = store.triggers("tick").await.expect("triggers");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].next_fire_at.is_some());
    // Two "processes": separate connection pools on the same database, racing for every tick.
    let other = open(db).await;
    let first = runtime(&store, 1);
    let second = runtime(&other, 2);
    let until = std::time::Instant::now() + Duration::from_millis(3_300);
    while std::time::Instant::now() < until {
        let _ = tokio::join!(first.fire_triggers(), second.fire_triggers());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    first.drain().await.expect("drain");
    let page = store
        .list_instances(&engine::store::InstanceQuery {
            definition_key: Some("tick".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    assert!((3..=4).contains(&page.total), "{} instances", page.total);
    let mut times: Vec<chrono::DateTime<chrono::Utc>> = page
        .items
        .iter()
        .map(|i| {
            assert_eq!(i.trigger, engine::instance::Trigger::Cron);
            assert_eq!(i.input, json!({"from": "cron"}));
            i.created_at.parse().expect("time")
        })
        .collect();
    times.sort();
    for pair in times.windows(2) {
        assert!(
            (pair[1] - pair[0]).num_milliseconds() >= 500,
            "two instances for one tick: {times:?}"
        );
    }

    // A new version without the trigger stops it.
    publish(
        &store,
        json!({
            "key": "tick", "name": "tick",
            "nodes": [{"id": "start", "kind": "start"}, {"id": "end", "kind": "end"}],
            "edges": [{"from": "start", "to": "end"}]
        }),
    )
    .await;
    assert!(store.triggers("tick").await.expect("triggers").is_empty());
}
