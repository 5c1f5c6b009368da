//! When things go wrong, on both databases: rollback of completed nodes in reverse order, debug
//! mode (rerun, skip, resume), cancel and delete actions, and dry runs without side effects.

use std::sync::Arc;

use engine::id::{Id, IdGenerator};
use engine::instance::{InstanceStatus, NodeRunStatus, Trigger};
use engine::runtime::{Mode, NodeAction, Runtime, RuntimeConfig, StartRequest};
use engine::status::Backend;
use engine::store::{InstanceChange, Store, StoreError};
use engine::testing::{Receiver, TestDatabase};
use serde_json::{json, Value};

use crate::runtime::{finished, publish, runs};
use crate::{conformance, open};

fn runtime(store: &Arc<dyn Store>) -> Runtime {
    Runtime::new(
        store.clone(),
        IdGenerator::new(5),
        "worker-5",
        RuntimeConfig {
            http_allow: vec!["127.0.0.0/8".parse().expect("net")],
            ..Default::default()
        },
    )
}

async fn start_in(rt: &Runtime, key: &str, input: Value, mode: Mode) -> Id {
    rt.start_with(
        StartRequest {
            definition_key: key.into(),
            version: None,
            input,
            trigger: Trigger::Api,
            operator: "olivia".into(),
            idempotency_key: None,
        },
        mode,
    )
    .await
    .expect("start")
    .instance
    .id
}

/// provision → configure → check (which fails unless `input.ok`) → end. The first two call the
/// receiver and have actions for every phase.
fn provisioning(key: &str, receiver: &Receiver) -> Value {
    let call = |id: &str| {
        json!({"id": id, "kind": "http", "method": "POST", "url": receiver.url(&format!("/do/{id}")),
               "body": {"name": id},
               "compensation": {
                   "rollback": {"method": "POST", "url": receiver.url(&format!("/rollback/{id}")),
                                "body": {"undo": "{{output.body.received.name}}"}},
                   "cancel": {"method": "POST", "url": receiver.url(&format!("/cancel/{id}"))},
                   "delete": {"method": "DELETE", "url": receiver.url(&format!("/delete/{id}"))}}})
    };
    json!({
        "key": key, "name": key,
        "nodes": [{"id": "start", "kind": "start"}, call("provision"), call("configure"),
                  {"id": "check", "kind": "script",
                   "script": "if input.ok == true { 1 } else { throw \"not ready\" }"},
                  {"id": "end", "kind": "end"}],
        "edges": [{"from": "start", "to": "provision"}, {"from": "provision", "to": "configure"},
                  {"from": "configure", "to": "check"}, {"from": "check", "to": "end"}]
    })
}

fn paths(receiver: &Receiver) -> Vec<String> {
    receiver.received().into_iter().map(|r| r.path).collect()
}

fn kinds(events: &[engine::instance::Event]) -> Vec<String> {
    events.iter().map(|e| e.kind.clone()).collect()
}

conformance!(
    a_failed_instance_rolls_back_its_completed_nodes_in_reverse,
    rollback
);
async fn rollback(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let receiver = Receiver::start().await;
    publish(&store, provisioning("provision", &receiver)).await;
    let rt = runtime(&store);
    let id = start_in(&rt, "provision", json!({"ok": false}), Mode::default()).await;
    let failed = finished(&rt, id).await;
    assert_eq!(failed.status, InstanceStatus::Failed, "{failed:?}");
    assert_eq!(failed.error.as_ref().expect("error")["node"], "check");
    assert_eq!(
        paths(&receiver),
        [
            "/do/provision",
            "/do/configure",
            "/rollback/configure",
            "/rollback/provision"
        ]
    );
    let undo = receiver
        .received()
        .into_iter()
        .find(|r| r.path == "/rollback/provision")
        .expect("undo");
    assert_eq!(
        undo.body,
        json!({"undo": "provision"}),
        "templates see the output"
    );
    let all = runs(&store, id).await;
    for node in ["provision", "configure"] {
        assert!(
            all.contains(&(node.into(), NodeRunStatus::Compensated)),
            "{all:?}"
        );
    }
    let events = kinds(&store.events(id, 0).await.expect("events"));
    let phases: Vec<&str> = events
        .iter()
        .map(String::as_str)
        .filter(|k| k.starts_with("rollback.") || k.starts_with("instance."))
        .collect();
    assert_eq!(
        phases,
        [
            "instance.started",
            "instance.rolling_back",
            "rollback.begin",
            "rollback.success",
            "rollback.begin",
            "rollback.success",
            "instance.failed"
        ]
    );
}

conformance!(debug_mode_pauses_a_failure_for_rerun_skip_or_resume, debug);
async fn debug(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let receiver = Receiver::start().await;
    publish(&store, provisioning("debugged", &receiver)).await;
    let rt = runtime(&store);
    let debug = Mode {
        debug: true,
        mock: false,
    };

    // Re-run with an edited input: it completes.
    let id = start_in(&rt, "debugged", json!({"ok": false}), debug).await;
    let paused = finished(&rt, id).await;
    assert_eq!(paused.status, InstanceStatus::Paused, "{paused:?}");
    assert!(paused.debug);
    assert!(runs(&store, id)
        .await
        .contains(&("check".into(), NodeRunStatus::Failed)));
    rt.node_action(
        id,
        "check",
        NodeAction::Rerun {
            input: Some(json!({"ok": true})),
        },
        "olivia",
    )
    .await
    .expect("rerun");
    assert_eq!(finished(&rt, id).await.status, InstanceStatus::Completed);

    // Skip it: it completes too.
    let id = start_in(&rt, "debugged", json!({"ok": false}), debug).await;
    finished(&rt, id).await;
    rt.node_action(id, "check", NodeAction::Skip { output: None }, "olivia")
        .await
        .expect("skip");
    assert_eq!(finished(&rt, id).await.status, InstanceStatus::Completed);

    // Resume: leaves debug mode and rolls back; the instance fails.
    let id = start_in(&rt, "debugged", json!({"ok": false}), debug).await;
    finished(&rt, id).await;
    let before = receiver.received().len();
    let resumed = rt
        .change(id, InstanceChange::Resume, "olivia")
        .await
        .expect("resume");
    assert_eq!(resumed.status, InstanceStatus::RollingBack);
    assert!(!resumed.debug);
    let failed = finished(&rt, id).await;
    assert_eq!(failed.status, InstanceStatus::Failed);
    assert_eq!(failed.error.as_ref().expect("error")["node"], "check");
    let undone: Vec<String> = paths(&receiver)[before..].to_vec();
    assert_eq!(undone, ["/rollback/configure", "/rollback/provision"]);
    let events = kinds(&store.events(id, 0).await.expect("events"));
    assert!(
        events.contains(&"instance.debug_left".to_string()),
        "{events:?}"
    );
}

conformance!(cancel_and_delete_run_their_actions, cancel_and_delete);
async fn cancel_and_delete(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let receiver = Receiver::start().await;
    let mut doc = provisioning("cancelled", &receiver);
    // The last step waits, so the instance can be cancelled after both calls.
    doc["nodes"][3] = json!({"id": "check", "kind": "timer", "duration": "1h"});
    publish(&store, doc).await;
    let rt = runtime(&store);
    let id = start_in(&rt, "cancelled", json!({}), Mode::default()).await;
    finished(&rt, id).await;
    rt.change(id, InstanceChange::Cancel, "olivia")
        .await
        .expect("cancel");
    assert_eq!(finished(&rt, id).await.status, InstanceStatus::Cancelled);
    assert_eq!(
        paths(&receiver)[2..],
        ["/cancel/configure", "/cancel/provision"]
    );
    let events = kinds(&store.events(id, 0).await.expect("events"));
    assert_eq!(
        events.iter().filter(|k| *k == "cancel.success").count(),
        2,
        "{events:?}"
    );

    // Deleting runs the cleanup of what it produced; only an ended instance is deleted.
    rt.delete(id, "olivia").await.expect("delete");
    assert!(matches!(
        rt.delete(id, "olivia").await,
        Err(StoreError::Conflict(_))
    ));
    finished(&rt, id).await;
    assert_eq!(
        paths(&receiver)[4..],
        ["/delete/configure", "/delete/provision"]
    );
    let events = kinds(&store.events(id, 0).await.expect("events"));
    assert_eq!(events.last().map(String::as_str), Some("instance.deleted"));
    let running = start_in(&rt, "cancelled", json!({}), Mode::default()).await;
    finished(&rt, running).await;
    assert!(matches!(
        rt.delete(running, "olivia").await,
        Err(StoreError::Conflict(_))
    ));
}

conformance!(a_dry_run_walks_the_graph_without_reaching_outside, dry_run);
async fn dry_run(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let receiver = Receiver::start().await;
    publish(
        &store,
        json!({
            "key": "dry", "name": "dry",
            "nodes": [{"id": "start", "kind": "start"},
                      {"id": "call", "kind": "http", "url": receiver.url("/real"),
                       "mock": {"status": 200, "body": {"size": 9}},
                       "output_mappings": [{"source": "$.output.body.size", "target": "$.context.size"}]},
                      {"id": "ask", "kind": "approval", "title": "ok?", "assignees": ["alice"],
                       "outcomes": ["accept", "refuse"]},
                      {"id": "nap", "kind": "timer", "duration": "1h"},
                      {"id": "hook", "kind": "callback", "url": receiver.url("/hook")},
                      {"id": "big", "kind": "end"}, {"id": "small", "kind": "end"}],
            "edges": [{"from": "start", "to": "call"}, {"from": "call", "to": "ask"},
                      {"from": "ask", "to": "nap", "condition": "outcome == 'accept'"},
                      {"from": "ask", "to": "small", "condition": "outcome == 'refuse'"},
                      {"from": "nap", "to": "hook"},
                      {"from": "hook", "to": "big"}]
        }),
    )
    .await;
    let rt = runtime(&store);
    let mock = Mode {
        debug: false,
        mock: true,
    };
    let id = start_in(&rt, "dry", json!({}), mock).await;
    let done = finished(&rt, id).await;
    assert_eq!(done.status, InstanceStatus::Completed, "{done:?}");
    assert!(done.mock);
    assert_eq!(done.context["size"], 9, "the mocked output flows on");
    assert!(receiver.received().is_empty(), "nothing reached outside");
    let all = runs(&store, id).await;
    assert!(
        all.contains(&("big".into(), NodeRunStatus::Completed)),
        "{all:?}"
    );
    assert!(
        all.contains(&("small".into(), NodeRunStatus::Skipped)),
        "{all:?}"
    );
    let events = kinds(&store.events(id, 0).await.expect("events"));
    assert_eq!(
        events.iter().filter(|k| *k == "mock.passed").count(),
        4,
        "{events:?}"
    );
    let page = store
        .inbox(&engine::store::InboxQuery {
            username: "alice".into(),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("inbox");
    assert_eq!(page.total, 0, "a dry run opens no task");
}
