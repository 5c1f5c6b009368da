//! Node operations on both databases: a node failing with `on_error: pause` pauses its instance;
//! an operator re-runs it (with an edited input) or skips it, and the instance goes on.

use engine::instance::{InstanceStatus, NodeRunStatus};
use engine::runtime::NodeAction;
use engine::status::Backend;
use engine::store::{InstanceChange, StoreError};
use engine::testing::TestDatabase;
use serde_json::json;

use crate::runtime::{finished, publish, runs, runtime, start};
use crate::{conformance, open};

fn picky() -> serde_json::Value {
    json!({
        "key": "picky", "name": "Picky",
        "nodes": [
            {"id": "start", "kind": "start"},
            {"id": "check", "kind": "script", "on_error": "pause",
             "script": "if input.ok == true { \"fine\" } else { throw \"not ok\" }",
             "input_mappings": [{"source": "$.context.ok", "target": "$.input.ok"}],
             "output_mappings": [{"source": "$.output", "target": "$.context.result"}]},
            {"id": "end", "kind": "end",
             "output_mappings": [{"source": "$.context.result", "target": "$.output.result"}]}
        ],
        "edges": [{"from": "start", "to": "check"}, {"from": "check", "to": "end"}]
    })
}

conformance!(on_error_pause_waits_for_a_rerun_with_edited_input, rerun);
async fn rerun(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let rt = runtime(&store, 1);
    publish(&store, picky()).await;
    let id = start(&rt, "picky", json!({"ok": false})).await.id;

    let paused = finished(&rt, id).await;
    assert_eq!(paused.status, InstanceStatus::Paused);
    assert_eq!(paused.error, None, "a paused instance has not failed");
    let events = store.events(id, 0).await.expect("events");
    let pause = events
        .iter()
        .find(|e| e.kind == "instance.paused")
        .expect("paused event");
    assert_eq!(pause.data["reason"]["node"], "check");
    assert_eq!(
        runs(&store, id).await.last(),
        Some(&("check".into(), NodeRunStatus::Failed))
    );

    // Only what the state allows.
    let refused = rt
        .node_action(id, "start", NodeAction::Skip { output: None }, "olivia")
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let unknown = rt
        .node_action(id, "nope", NodeAction::Rerun { input: None }, "olivia")
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    // A plain resume would leave the failed node behind.
    let resume = rt.change(id, InstanceChange::Resume, "olivia").await;
    assert!(matches!(resume, Err(StoreError::Conflict(_))), "{resume:?}");

    let resumed = rt
        .node_action(
            id,
            "check",
            NodeAction::Rerun {
                input: Some(json!({"ok": true})),
            },
            "olivia",
        )
        .await
        .expect("re-run");
    assert_eq!(resumed.status, InstanceStatus::Running);
    let again = rt
        .node_action(id, "check", NodeAction::Rerun { input: None }, "olivia")
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    let done = finished(&rt, id).await;
    assert_eq!(done.status, InstanceStatus::Completed, "{:?}", done.error);
    assert_eq!(done.output, Some(json!({"result": "fine"})));
    let checks: Vec<_> = store
        .node_runs(id)
        .await
        .expect("runs")
        .into_iter()
        .filter(|r| r.node_id == "check")
        .collect();
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[1].status, NodeRunStatus::Completed);
    assert_eq!(checks[1].attempt, 2);
    assert_eq!(checks[1].input, Some(json!({"ok": true})));
    let kinds: Vec<String> = store
        .events(id, 0)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.contains(&"node.rerun_requested".to_string()),
        "{kinds:?}"
    );
}

conformance!(a_skipped_node_goes_on_with_the_given_output, skip);
async fn skip(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let rt = runtime(&store, 1);
    publish(&store, picky()).await;
    let id = start(&rt, "picky", json!({})).await.id;
    assert_eq!(finished(&rt, id).await.status, InstanceStatus::Paused);

    rt.node_action(
        id,
        "check",
        NodeAction::Skip {
            output: Some(json!("waived")),
        },
        "olivia",
    )
    .await
    .expect("skip");
    let done = finished(&rt, id).await;
    assert_eq!(done.status, InstanceStatus::Completed, "{:?}", done.error);
    assert_eq!(done.output, Some(json!({"result": "waived"})));
    assert_eq!(
        runs(&store, id).await,
        vec![
            ("start".into(), NodeRunStatus::Completed),
            ("check".into(), NodeRunStatus::Failed),
            ("check".into(), NodeRunStatus::Skipped),
            ("end".into(), NodeRunStatus::Completed),
        ]
    );

    // A running instance takes no node operations.
    let running = start(&rt, "picky", json!({"ok": true})).await.id;
    let refused = rt
        .node_action(
            running,
            "check",
            NodeAction::Rerun { input: None },
            "olivia",
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
}

conformance!(instances_are_listed_by_when_they_started, started_between);
async fn started_between(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(&store, crate::runtime::sizing()).await;
    let rt = runtime(&store, 1);
    start(&rt, "sizing", json!({"size": 1})).await;
    start(&rt, "sizing", json!({"size": 2})).await;
    let count = |after: Option<i64>, before: Option<i64>| {
        let store = store.clone();
        async move {
            let now = chrono::Utc::now();
            store
                .list_instances(&engine::store::InstanceQuery {
                    started_after: after.map(|s| now + chrono::Duration::seconds(s)),
                    started_before: before.map(|s| now + chrono::Duration::seconds(s)),
                    limit: 10,
                    ..Default::default()
                })
                .await
                .expect("list")
                .total
        }
    };
    assert_eq!(count(Some(-60), None).await, 2);
    assert_eq!(count(Some(60), None).await, 0);
    assert_eq!(count(None, Some(60)).await, 2);
    assert_eq!(count(None, Some(-60)).await, 0);
    assert_eq!(count(Some(-60), Some(60)).await, 2);
}
