//! Parallel branches meeting at a join on both databases: all, first, and branches not taken.

use engine::instance::{InstanceStatus, NodeRunStatus};
use engine::status::Backend;
use engine::testing::TestDatabase;
use serde_json::{json, Value};

use crate::runtime::{finished, publish, runs, runtime, start};
use crate::{conformance, open};

pub(crate) fn fan_out() -> Value {
    json!({
        "key": "fan", "name": "Fan out and join",
        "nodes": [
            {"id": "start", "kind": "start"},
            {"id": "split", "kind": "parallel"},
            {"id": "a", "kind": "script", "script": "1",
             "output_mappings": [{"source": "$.output", "target": "$.context.a"}]},
            {"id": "b", "kind": "script", "script": "2",
             "output_mappings": [{"source": "$.output", "target": "$.context.b"}]},
            {"id": "c", "kind": "script", "script": "3",
             "output_mappings": [{"source": "$.output", "target": "$.context.c"}]},
            {"id": "join", "kind": "join"},
            {"id": "end", "kind": "end"}
        ],
        "edges": [
            {"from": "start", "to": "split"},
            {"from": "split", "to": "a"}, {"from": "split", "to": "b"}, {"from": "split", "to": "c"},
            {"from": "a", "to": "join"}, {"from": "b", "to": "join"}, {"from": "c", "to": "join"},
            {"from": "join", "to": "end"}
        ]
    })
}

conformance!(parallel_branches_join_exactly_once_100_times, join_once);
async fn join_once(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(&store, fan_out()).await;
    let rt = runtime(&store, 1);
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids.push(start(&rt, "fan", json!({})).await.id);
    }
    // The branches of many instances finish in the same batches, concurrently.
    rt.drain().await.expect("drain");
    for id in ids {
        let done = store.instance(id).await.expect("read").expect("exists");
        assert_eq!(done.status, InstanceStatus::Completed, "{id}");
        assert_eq!(
            done.context,
            json!({"a": 1, "b": 2, "c": 3}),
            "no update lost"
        );
        let all = runs(&store, id).await;
        let count = |n: &str| all.iter().filter(|(node, _)| node == n).count();
        assert_eq!((count("join"), count("end")), (1, 1), "{id}: {all:?}");
    }
}

conformance!(a_first_join_goes_on_with_the_first_branch_once, join_first);
async fn join_first(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(
        &store,
        json!({
            "key": "race", "name": "First one wins",
            "nodes": [
                {"id": "start", "kind": "start"},
                {"id": "split", "kind": "parallel"},
                {"id": "quick", "kind": "script", "script": "1",
                 "output_mappings": [{"source": "$.output", "target": "$.context.quick"}]},
                {"id": "nap", "kind": "timer", "duration": "300ms"},
                {"id": "slow", "kind": "script", "script": "2",
                 "output_mappings": [{"source": "$.output", "target": "$.context.slow"}]},
                {"id": "join", "kind": "join", "join": "first"},
                {"id": "end", "kind": "end"}
            ],
            "edges": [
                {"from": "start", "to": "split"},
                {"from": "split", "to": "quick"}, {"from": "split", "to": "nap"},
                {"from": "nap", "to": "slow"},
                {"from": "quick", "to": "join"}, {"from": "slow", "to": "join"},
                {"from": "join", "to": "end"}
            ]
        }),
    )
    .await;
    let rt = runtime(&store, 1);
    let id = start(&rt, "race", json!({})).await.id;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let done = loop {
        let now = finished(&rt, id).await;
        if now.status != InstanceStatus::Running {
            break now;
        }
        assert!(std::time::Instant::now() < deadline, "still running");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(done.status, InstanceStatus::Completed);
    // Both branches ran; the join went on once, with the quick one, before the slow one came.
    assert_eq!(done.context, json!({"quick": 1, "slow": 2}));
    let all = runs(&store, id).await;
    let completed = |n: &str| {
        all.iter()
            .filter(|(node, status)| node == n && *status == NodeRunStatus::Completed)
            .count()
    };
    assert_eq!(
        (completed("join"), completed("end"), completed("slow")),
        (1, 1, 1),
        "{all:?}"
    );
    let events = store.events(id, 0).await.expect("events");
    let completed_at = |n: &str| {
        events
            .iter()
            .position(|e| e.kind == "node.completed" && e.node_id.as_deref() == Some(n))
            .unwrap_or_else(|| panic!("{n} completed: {events:?}"))
    };
    assert!(completed_at("end") < completed_at("slow"), "{events:?}");
}

conformance!(a_branch_not_taken_still_reaches_the_join, dead_path);
async fn dead_path(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(
        &store,
        json!({
            "key": "pick", "name": "Pick one",
            "nodes": [
                {"id": "start", "kind": "start"},
                {"id": "choose", "kind": "condition"},
                {"id": "left", "kind": "script", "script": "\"L\""},
                {"id": "right", "kind": "script", "script": "\"R\""},
                {"id": "after", "kind": "script", "script": "\"joined\""},
                {"id": "end", "kind": "end"}
            ],
            "edges": [
                {"from": "start", "to": "choose"},
                {"from": "choose", "to": "left", "condition": "context.go == 'left'"},
                {"from": "choose", "to": "right"},
                {"from": "left", "to": "after"}, {"from": "right", "to": "after"},
                {"from": "after", "to": "end"}
            ]
        }),
    )
    .await;
    let rt = runtime(&store, 1);
    let id = start(&rt, "pick", json!({"go": "left"})).await.id;
    assert_eq!(finished(&rt, id).await.status, InstanceStatus::Completed);
    let all = runs(&store, id).await;
    let ran: Vec<&str> = all
        .iter()
        .filter(|r| r.1 == NodeRunStatus::Completed)
        .map(|r| r.0.as_str())
        .collect();
    assert_eq!(ran, vec!["start", "choose", "left", "after", "end"]);
    // The branch not taken shows as skipped, as the monitor draws it.
    assert!(
        all.contains(&("right".into(), NodeRunStatus::Skipped)),
        "{all:?}"
    );
}
