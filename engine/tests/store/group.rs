//! Steps of several instances recorded together (group commit), and starts from a remembered
//! version, on both databases.

use std::sync::Arc;

use chrono::Utc;
use engine::id::Id;
use engine::instance::{InstanceStatus, NodeRunStatus, Trigger};
use engine::runtime::{RuntimeError, StartRequest};
use engine::status::Backend;
use engine::store::{
    Completion, FinishedRun, InstanceChange, NewEvent, NewNodeRun, NextItem, RunStart, Store,
    StoreError, WorkItem,
};
use engine::testing::TestDatabase;
use serde_json::{json, Value};

use crate::runtime::{finished, publish, runtime, sizing, start};
use crate::{conformance, open};

/// A step of `item` that ran its node: the run, its two events, and `next` (none: the end).
fn step(item: &WorkItem, rev: i32, owner: &str, run: i64, next: Option<i64>) -> Completion {
    Completion {
        runs: vec![FinishedRun {
            id: Id(run),
            started: Some(RunStart {
                node_id: item.node_id.clone(),
                attempt: 1,
                loop_index: None,
                input: json!({"n": run}),
                started_at: Utc::now(),
            }),
            status: NodeRunStatus::Completed,
            output: Some(json!({"ran": run})),
            error: None,
            cost_ms: 1,
        }],
        context: Some(json!({"ran": run})),
        next: next
            .map(|id| NextItem::new(Id(id), "double", Some(item.node_id.clone())))
            .into_iter()
            .collect(),
        events: ["node.started", "node.completed"]
            .into_iter()
            .map(|kind| NewEvent {
                node_id: Some(item.node_id.clone()),
                kind,
                data: json!({"run": run}),
            })
            .collect(),
        ..Completion::of(item, owner, 30_000, rev)
    }
}

conformance!(
    steps_recorded_together_each_keep_their_own_outcome,
    together
);
async fn together(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(&store, sizing()).await;
    let rt = runtime(&store, 1);
    let mut ids = Vec::new();
    for size in 0..6 {
        ids.push(start(&rt, "sizing", json!({"size": size})).await.id);
    }
    let mut items = store.claim_work("w", 10, 30_000).await.expect("claim");
    assert_eq!(items.len(), 6);
    items.sort_by_key(|i| i.instance_id);
    let mut steps = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let rev = store
            .step_state(item.instance_id, None, None)
            .await
            .expect("state")
            .rev;
        let n = n as i64;
        steps.push(match n {
            // Goes on: its next item comes back leased to this worker.
            0 | 1 => step(item, rev, "w", 100 + n, Some(200 + n)),
            // Computed from a state that has moved on.
            2 => step(item, rev + 1, "w", 100 + n, None),
            // Its lease went to another worker.
            3 => step(item, rev, "someone-else", 100 + n, None),
            // Its last work: the instance completes.
            _ => step(item, rev, "w", 100 + n, None),
        });
    }
    let outcomes = store.complete_steps(steps).await;
    assert_eq!(outcomes.len(), 6);
    for (n, outcome) in outcomes.iter().enumerate() {
        match (n, outcome) {
            (0 | 1, Ok(done)) => {
                assert_eq!(done.status, InstanceStatus::Running);
                assert_eq!(done.handed.len(), 1, "{done:?}");
                assert_eq!(done.handed[0].id, Id(200 + n as i64));
                assert_eq!(done.handed[0].definition_key, "sizing");
            }
            (2, Err(StoreError::Stale)) | (3, Err(StoreError::LeaseLost)) => {}
            (4 | 5, Ok(done)) => {
                assert_eq!(done.status, InstanceStatus::Completed);
                assert!(done.handed.is_empty());
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    // The two handed items, recorded together as their instances' last steps.
    let mut last = Vec::new();
    for (n, outcome) in outcomes.into_iter().take(2).enumerate() {
        let item = outcome.expect("ran").handed.remove(0);
        let rev = store
            .step_state(item.instance_id, None, None)
            .await
            .expect("state")
            .rev;
        last.push(step(&item, rev, "w", 300 + n as i64, None));
    }
    for outcome in store.complete_steps(last).await {
        assert_eq!(outcome.expect("recorded").status, InstanceStatus::Completed);
    }

    for (n, item) in items.iter().enumerate() {
        let id = item.instance_id;
        let record = store.instance(id).await.expect("read").expect("exists");
        let log = store.events(id, 0).await.expect("events");
        let kinds: Vec<&str> = log.iter().map(|e| e.kind.as_str()).collect();
        let seqs: Vec<i32> = log.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=log.len() as i32).collect::<Vec<_>>(),
            "{kinds:?}"
        );
        let ran = store.node_runs(id).await.expect("runs").len();
        match n {
            0 | 1 => {
                assert_eq!(record.status, InstanceStatus::Completed);
                assert_eq!(record.context, json!({"ran": 300 + n as i64}));
                assert_eq!(
                    kinds,
                    [
                        "instance.started",
                        "node.started",
                        "node.completed",
                        "node.started",
                        "node.completed",
                        "instance.completed"
                    ]
                );
                assert_eq!(ran, 2);
            }
            // Nothing of a refused step is written.
            2 | 3 => {
                assert_eq!(record.status, InstanceStatus::Running);
                assert_eq!(record.context, json!({"size": n}));
                assert_eq!(kinds, ["instance.started"]);
                assert_eq!(ran, 0);
            }
            _ => {
                assert_eq!(record.status, InstanceStatus::Completed);
                assert!(record.cost_ms.is_some());
                assert_eq!(
                    kinds,
                    [
                        "instance.started",
                        "node.started",
                        "node.completed",
                        "instance.completed"
                    ]
                );
                assert_eq!(ran, 1);
            }
        }
    }
    // The refused steps' items are still leased (to be recomputed, or taken over when the
    // lease ends); nothing else is queued.
    assert!(store
        .claim_work("w", 10, 30_000)
        .await
        .expect("claim")
        .is_empty());
}

conformance!(many_instances_at_once_each_keep_a_whole_log, many_at_once);
async fn many_at_once(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(&store, sizing()).await;
    let first = runtime(&store, 1);
    let second = runtime(&store, 2);
    let mut ids = Vec::new();
    for size in 0..80 {
        ids.push(start(&first, "sizing", json!({"size": size})).await.id);
    }
    let (a, b) = tokio::join!(first.drain(), second.drain());
    a.expect("first drains");
    b.expect("second drains");
    for (size, id) in ids.into_iter().enumerate() {
        let done = finished(&first, id).await;
        assert_eq!(done.status, InstanceStatus::Completed, "{id}");
        let expected = (size * 2 > 10).then(|| json!({"result": size * 2}));
        assert_eq!(done.output, expected, "{id}");
        let log = store.events(id, 0).await.expect("events");
        let seqs: Vec<i32> = log.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=log.len() as i32).collect::<Vec<_>>());
        assert_eq!(
            log.first().map(|e| e.kind.as_str()),
            Some("instance.started")
        );
        assert_eq!(
            log.last().map(|e| e.kind.as_str()),
            Some("instance.completed")
        );
        // start, double, decide, and one end run; the other end is skipped.
        assert_eq!(store.node_runs(id).await.expect("runs").len(), 5);
    }
}

fn request(version: Option<i32>) -> StartRequest {
    StartRequest {
        definition_key: "sizing".into(),
        version,
        input: json!({"size": 1}),
        trigger: Trigger::Api,
        operator: "olivia".into(),
        idempotency_key: None,
    }
}

async fn republish(store: &Arc<dyn Store>, name: &str) {
    let mut doc: Value = sizing();
    doc["name"] = json!(name);
    publish(store, doc).await;
}

conformance!(
    a_remembered_version_is_checked_as_the_instance_is_written,
    remembered
);
async fn remembered(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(&store, sizing()).await;
    let rt = runtime(&store, 1);
    assert_eq!(rt.start(request(None)).await.expect("v1").version, 1);
    assert_eq!(
        rt.start(request(Some(1))).await.expect("v1 named").version,
        1
    );

    // Published meanwhile (by another process, say): the next start runs the new latest.
    republish(&store, "Sizing 2").await;
    assert_eq!(rt.start(request(None)).await.expect("v2").version, 2);
    assert_eq!(
        rt.start(request(Some(1))).await.expect("v1 still").version,
        1
    );

    // Archived meanwhile: no start, whichever version was remembered.
    store.set_archived("sizing", true).await.expect("archive");
    for version in [None, Some(1)] {
        assert!(
            matches!(
                rt.start(request(version)).await,
                Err(RuntimeError::Archived(_))
            ),
            "{version:?}"
        );
    }
    store.set_archived("sizing", false).await.expect("restore");
    let again = rt.start(request(None)).await.expect("restored");
    assert_eq!(again.version, 2);
    let record = store
        .definition("sizing")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(record.latest_version, Some(2));
    assert_eq!(
        finished(&rt, again.id).await.status,
        InstanceStatus::Completed
    );

    // A remembered version whose input schema refuses what the new latest accepts: the start
    // runs the new latest rather than answering with the old version's refusal.
    let requiring = |field: &str| {
        let mut doc = sizing();
        doc["input_schema"] = json!({"type": "object", "required": [field]});
        doc
    };
    publish(&store, requiring("size")).await;
    assert_eq!(rt.start(request(None)).await.expect("v3").version, 3);
    publish(&store, requiring("weight")).await;
    let weighed = StartRequest {
        input: json!({"weight": 2}),
        ..request(None)
    };
    assert_eq!(rt.start(weighed).await.expect("v4").version, 4);
    // And archived meanwhile: archived, not the remembered version's refusal of the input.
    store.set_archived("sizing", true).await.expect("archive");
    assert!(matches!(
        rt.start(request(None)).await,
        Err(RuntimeError::Archived(_))
    ));
    store.set_archived("sizing", false).await.expect("restore");
    // The latest version's own refusal still names the field.
    match rt.start(request(None)).await {
        Err(RuntimeError::InvalidInput(errors)) => {
            assert!(errors[0].message.contains("weight"), "{errors:?}")
        }
        other => panic!("expected the input refused, got {other:?}"),
    }
}

conformance!(
    a_node_that_reaches_outside_begins_only_while_its_instance_runs,
    begins_only_while_running
);
/// A claim carries the instance's state to the step, which may be older than a cancel or a
/// pause: recording a node's start (before it reaches outside) checks the status again.
async fn begins_only_while_running(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(&store, sizing()).await;
    let rt = runtime(&store, 1);
    let instance = rt.start(request(None)).await.expect("started");
    let begin = |id: i64| NewNodeRun {
        id: Id(id),
        instance_id: instance.id,
        node_id: "double",
        attempt: 1,
        loop_index: None,
        input: &Value::Null,
    };
    rt.change(instance.id, InstanceChange::Pause, "olivia")
        .await
        .expect("paused");
    assert!(!store.begin_node_run(begin(901)).await.expect("asked"));
    rt.change(instance.id, InstanceChange::Resume, "olivia")
        .await
        .expect("resumed");
    assert!(store.begin_node_run(begin(902)).await.expect("asked"));
    rt.change(instance.id, InstanceChange::Cancel, "olivia")
        .await
        .expect("cancelled");
    assert!(!store.begin_node_run(begin(903)).await.expect("asked"));

    let runs: Vec<i64> = store
        .node_runs(instance.id)
        .await
        .expect("runs")
        .iter()
        .map(|run| run.id.0)
        .collect();
    assert_eq!(runs, [902]);
    let started = store
        .events(instance.id, 0)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == "node.started")
        .count();
    assert_eq!(started, 1);
}
