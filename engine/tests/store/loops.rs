//! foreach on both databases: items in order, bounded concurrency, per-iteration contexts and
//! joins, collected outputs, empty and wrong collections, several workers, node operations
//! inside a body.

use std::collections::HashMap;

use engine::instance::{InstanceStatus, NodeRunStatus};
use engine::runtime::NodeAction;
use engine::status::Backend;
use engine::testing::TestDatabase;
use serde_json::{json, Value};

use crate::runtime::{finished, publish, runtime, start};
use crate::{conformance, open};

/// start → each (foreach over `$.context.items`) → end; the results land in the output.
fn looping(key: &str, concurrency: u32, body: Value) -> Value {
    json!({
        "key": key, "name": key,
        "nodes": [
            {"id": "start", "kind": "start"},
            {"id": "each", "kind": "foreach", "items": "$.context.items",
             "concurrency": concurrency, "body": body,
             "output_mappings": [{"source": "$.output", "target": "$.context.results"}]},
            {"id": "end", "kind": "end",
             "output_mappings": [{"source": "$.context.results", "target": "$.output.results"}]}
        ],
        "edges": [{"from": "start", "to": "each"}, {"from": "each", "to": "end"}]
    })
}

conformance!(foreach_runs_its_body_once_per_item_in_order, in_order);
async fn in_order(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let rt = runtime(&store, 1);
    publish(
        &store,
        looping(
            "tag",
            1,
            json!({"nodes": [{"id": "tag", "kind": "script",
                               "script": "`${input.item}-${input.index}`"}], "edges": []}),
        ),
    )
    .await;
    let id = start(&rt, "tag", json!({"items": ["a", "b", "c"]}))
        .await
        .id;
    let done = finished(&rt, id).await;
    assert_eq!(done.status, InstanceStatus::Completed, "{:?}", done.error);
    assert_eq!(done.output, Some(json!({"results": ["a-0", "b-1", "c-2"]})));
    // The iteration's keys stay in the iterations.
    assert_eq!(done.context.get("item"), None);

    let runs = store.node_runs(id).await.expect("runs");
    let tags: Vec<Option<i32>> = runs
        .iter()
        .filter(|r| r.node_id == "tag")
        .map(|r| r.loop_index)
        .collect();
    // One at a time: each iteration starts after the one before it ended.
    assert_eq!(tags, vec![Some(0), Some(1), Some(2)]);
    let each = runs.iter().find(|r| r.node_id == "each").expect("each");
    assert_eq!(each.status, NodeRunStatus::Completed);
    assert_eq!(each.output, Some(json!(["a-0", "b-1", "c-2"])));

    // Nothing to iterate: done at once. Not a list: the node fails, naming the path.
    let id = start(&rt, "tag", json!({"items": []})).await.id;
    let done = finished(&rt, id).await;
    assert_eq!(done.status, InstanceStatus::Completed);
    assert_eq!(done.output, Some(json!({"results": []})));
    let id = start(&rt, "tag", json!({"items": "abc"})).await.id;
    let done = finished(&rt, id).await;
    assert_eq!(done.status, InstanceStatus::Failed);
    let error = done.error.expect("error");
    assert_eq!(error["code"], "items", "{error}");
}

/// A body with its own context and a join: double and square in parallel, then add them.
fn branching_body() -> Value {
    json!({
        "nodes": [
            {"id": "split", "kind": "parallel"},
            {"id": "double", "kind": "script", "script": "input.item * 2",
             "output_mappings": [{"source": "$.output", "target": "$.context.doubled"}]},
            {"id": "square", "kind": "script", "script": "input.item * input.item",
             "output_mappings": [{"source": "$.output", "target": "$.context.squared"}]},
            {"id": "sum", "kind": "join"},
            {"id": "add", "kind": "script", "script": "input.doubled + input.squared"}
        ],
        "edges": [
            {"from": "split", "to": "double"}, {"from": "split", "to": "square"},
            {"from": "double", "to": "sum"}, {"from": "square", "to": "sum"},
            {"from": "sum", "to": "add"}
        ]
    })
}

conformance!(
    iterations_run_side_by_side_with_their_own_context_and_joins,
    concurrent
);
async fn concurrent(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(&store, looping("math", 3, branching_body())).await;
    let items: Vec<i64> = (1..=40).collect();
    let expected: Vec<i64> = items.iter().map(|i| 2 * i + i * i).collect();

    // Two workers share the queue.
    let first = runtime(&store, 1);
    let second = runtime(&store, 2);
    let id = start(&first, "math", json!({"items": items})).await.id;
    let (a, b) = tokio::join!(first.drain(), second.drain());
    a.expect("first worker");
    b.expect("second worker");
    let done = finished(&first, id).await;
    assert_eq!(done.status, InstanceStatus::Completed, "{:?}", done.error);
    assert_eq!(done.output, Some(json!({"results": expected})));
    assert_eq!(
        done.context.get("doubled"),
        None,
        "iterations write their own context"
    );

    let runs = store.node_runs(id).await.expect("runs");
    let mut per_node: HashMap<(&str, Option<i32>), usize> = HashMap::new();
    for run in &runs {
        assert_ne!(run.status, NodeRunStatus::Failed, "{run:?}");
        *per_node
            .entry((run.node_id.as_str(), run.loop_index))
            .or_default() += 1;
    }
    for index in 0..40 {
        for node in ["split", "double", "square", "sum", "add"] {
            assert_eq!(
                per_node.get(&(node, Some(index))),
                Some(&1),
                "{node} ran once in iteration {index}"
            );
        }
    }
    // Never more than three iterations at once: iteration i + 3 starts after some iteration ended.
    let events = store.events(id, 0).await.expect("events");
    let mut open = 0_i32;
    let mut most = 0;
    for event in &events {
        match (event.kind.as_str(), event.node_id.as_deref()) {
            ("node.started", Some("split")) => {
                open += 1;
                most = most.max(open);
            }
            ("iteration.completed", _) => open -= 1,
            _ => {}
        }
    }
    assert!(
        (2..=3).contains(&most),
        "at most 3 iterations ran at once, saw {most}"
    );
}

conformance!(
    a_body_node_paused_on_error_is_rerun_in_its_iteration,
    body_rerun
);
async fn body_rerun(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let rt = runtime(&store, 1);
    publish(
        &store,
        looping(
            "strict",
            2,
            json!({"nodes": [{"id": "check", "kind": "script", "on_error": "pause",
                               "script": "if input.item < 0 { throw \"negative\" } else { input.item }"}],
                   "edges": []}),
        ),
    )
    .await;
    let id = start(&rt, "strict", json!({"items": [1, -2, 3]})).await.id;
    // The other iterations finish; the failed one holds the foreach (and the instance) open.
    assert_eq!(finished(&rt, id).await.status, InstanceStatus::Paused);
    rt.node_action(
        id,
        "check",
        NodeAction::Rerun {
            input: Some(json!({"item": 2})),
        },
        "olivia",
    )
    .await
    .expect("re-run in the iteration");
    let done = finished(&rt, id).await;
    assert_eq!(done.status, InstanceStatus::Completed, "{:?}", done.error);
    assert_eq!(done.output, Some(json!({"results": [1, 2, 3]})));
    let rerun = store
        .node_runs(id)
        .await
        .expect("runs")
        .into_iter()
        .filter(|r| r.node_id == "check" && r.attempt == 2)
        .collect::<Vec<_>>();
    assert_eq!(rerun.len(), 1);
    assert_eq!(rerun[0].loop_index, Some(1));
}
