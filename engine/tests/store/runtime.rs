//! The scheduler on both databases: routing, joins, failures, leases shared by workers.

use std::sync::Arc;

use engine::id::IdGenerator;
use engine::instance::{InstanceRecord, InstanceStatus, NodeRunStatus, Trigger};
use engine::runtime::{Runtime, RuntimeConfig, RuntimeError, StartRequest};
use engine::service::DefinitionService;
use engine::status::Backend;
use engine::store::Store;
use engine::testing::TestDatabase;
use serde_json::{json, Value};

use crate::{conformance, open};

pub(crate) async fn publish(store: &Arc<dyn Store>, document: Value) {
    let service = DefinitionService::new(store.clone(), IdGenerator::new(9));
    let saved = service
        .save_draft(document, "designer")
        .await
        .expect("draft");
    assert!(saved.issues.is_empty(), "{:#?}", saved.issues);
    let key = saved.record.key.clone();
    service.publish(&key, "designer").await.expect("publish");
}

pub(crate) fn runtime(store: &Arc<dyn Store>, generator: u16) -> Runtime {
    Runtime::new(
        store.clone(),
        IdGenerator::new(generator),
        format!("worker-{generator}"),
        RuntimeConfig::default(),
    )
}

pub(crate) async fn start(rt: &Runtime, key: &str, input: Value) -> InstanceRecord {
    rt.start(StartRequest {
        definition_key: key.into(),
        version: None,
        input,
        trigger: Trigger::Api,
        operator: "olivia".into(),
        idempotency_key: None,
    })
    .await
    .expect("start")
}

pub(crate) async fn finished(rt: &Runtime, id: engine::id::Id) -> InstanceRecord {
    rt.drain().await.expect("drain");
    rt.store()
        .instance(id)
        .await
        .expect("read")
        .expect("exists")
}

/// (node, status) of every node run, in order.
pub(crate) async fn runs(
    store: &Arc<dyn Store>,
    id: engine::id::Id,
) -> Vec<(String, NodeRunStatus)> {
    store
        .node_runs(id)
        .await
        .expect("runs")
        .into_iter()
        .map(|r| (r.node_id, r.status))
        .collect()
}

pub(crate) fn sizing() -> Value {
    json!({
        "key": "sizing", "name": "Sizing",
        "nodes": [
            {"id": "start", "kind": "start"},
            {"id": "double", "kind": "script", "script": "#{ value: input.size * 2 }",
             "input_mappings": [{"source": "$.context.size", "target": "$.input.size"}],
             "output_mappings": [{"source": "$.output.value", "target": "$.context.doubled"}]},
            {"id": "decide", "kind": "condition"},
            {"id": "big", "kind": "end",
             "output_mappings": [{"source": "$.context.doubled", "target": "$.output.result"}]},
            {"id": "small", "kind": "end"}
        ],
        "edges": [
            {"from": "start", "to": "double"}, {"from": "double", "to": "decide"},
            {"from": "decide", "to": "big", "condition": "context.doubled > 10"},
            {"from": "decide", "to": "small"}
        ]
    })
}

conformance!(a_workflow_runs_its_mappings_and_conditions, sizing_flow);
async fn sizing_flow(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(&store, sizing()).await;
    let rt = runtime(&store, 1);

    let big = start(&rt, "sizing", json!({"size": 21})).await;
    assert_eq!(
        big.status,
        InstanceStatus::Running,
        "acknowledged once recorded"
    );
    let done = finished(&rt, big.id).await;
    assert_eq!(done.status, InstanceStatus::Completed);
    assert_eq!(done.context, json!({"size": 21, "doubled": 42}));
    assert_eq!(done.output, Some(json!({"result": 42})));
    assert!(done.cost_ms.is_some());
    let all = runs(&store, big.id).await;
    let (skipped, ran): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|r| r.1 == NodeRunStatus::Skipped);
    assert_eq!(
        ran,
        vec![
            ("start".into(), NodeRunStatus::Completed),
            ("double".into(), NodeRunStatus::Completed),
            ("decide".into(), NodeRunStatus::Completed),
            ("big".into(), NodeRunStatus::Completed),
        ]
    );
    assert_eq!(skipped, vec![("small".into(), NodeRunStatus::Skipped)]);
    let kinds: Vec<String> = store
        .events(big.id, 0)
        .await
        .expect("events")
        .into_iter()
        .map(|e| format!("{}:{}", e.kind, e.node_id.unwrap_or_default()))
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("instance.started:"));
    assert!(
        kinds.contains(&"node.skipped:small".to_string()),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("instance.completed:")
    );
    let seqs: Vec<i32> = store
        .events(big.id, 0)
        .await
        .expect("events")
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i32).collect::<Vec<_>>(),
        "gapless, ordered"
    );

    let small = start(&rt, "sizing", json!({"size": 2})).await;
    let done = finished(&rt, small.id).await;
    assert_eq!(done.status, InstanceStatus::Completed);
    assert_eq!(done.output, None);
    let all = runs(&store, small.id).await;
    assert!(all.contains(&("small".into(), NodeRunStatus::Completed)));
    assert!(all.contains(&("big".into(), NodeRunStatus::Skipped)));
}

fn failing(on_error: &str) -> Value {
    json!({
        "key": format!("fail-{on_error}"), "name": "Fails",
        "nodes": [
            {"id": "start", "kind": "start"},
            {"id": "boom", "kind": "script", "script": "throw \"no luck\"", "on_error": on_error},
            {"id": "next", "kind": "end"},
            {"id": "recover", "kind": "end"}
        ],
        "edges": [
            {"from": "start", "to": "boom"}, {"from": "boom", "to": "next"},
            {"from": "boom", "to": "recover", "error": on_error == "branch"}
        ]
    })
}

conformance!(on_error_fail_ignore_and_branch, on_error_modes);
async fn on_error_modes(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let rt = runtime(&store, 1);

    let mut fail = failing("fail");
    fail["edges"] = json!([{"from": "start", "to": "boom"}, {"from": "boom", "to": "next"}]);
    fail["nodes"].as_array_mut().expect("nodes").pop();
    publish(&store, fail).await;
    let id = start(&rt, "fail-fail", json!({})).await.id;
    let done = finished(&rt, id).await;
    assert_eq!(done.status, InstanceStatus::Failed);
    let error = done.error.expect("error recorded");
    assert_eq!(error["node"], "boom");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no luck"),
        "{error}"
    );
    assert_eq!(
        runs(&store, id).await.last(),
        Some(&("boom".into(), NodeRunStatus::Failed))
    );

    let mut ignore = failing("ignore");
    ignore["edges"] = json!([{"from": "start", "to": "boom"}, {"from": "boom", "to": "next"}]);
    ignore["nodes"].as_array_mut().expect("nodes").pop();
    publish(&store, ignore).await;
    let id = start(&rt, "fail-ignore", json!({})).await.id;
    assert_eq!(finished(&rt, id).await.status, InstanceStatus::Completed);
    let all = runs(&store, id).await;
    assert!(
        all.contains(&("boom".into(), NodeRunStatus::Failed)),
        "{all:?}"
    );
    assert_eq!(all.last(), Some(&("next".into(), NodeRunStatus::Completed)));

    publish(&store, failing("branch")).await;
    let id = start(&rt, "fail-branch", json!({})).await.id;
    assert_eq!(finished(&rt, id).await.status, InstanceStatus::Completed);
    let all = runs(&store, id).await;
    let nodes: Vec<&str> = all
        .iter()
        .filter(|r| r.1 != NodeRunStatus::Skipped)
        .map(|r| r.0.as_str())
        .collect();
    assert_eq!(nodes, vec!["start", "boom", "recover"]);
    assert!(all.contains(&("next".into(), NodeRunStatus::Skipped)));
}

conformance!(only_published_active_definitions_start, start_rules);
async fn start_rules(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let rt = runtime(&store, 1);
    let request = |key: &str, version| StartRequest {
        definition_key: key.into(),
        version,
        input: json!({}),
        trigger: Trigger::Manual,
        operator: "olivia".into(),
        idempotency_key: None,
    };
    assert!(matches!(
        rt.start(request("nothing", None)).await,
        Err(RuntimeError::NoSuchVersion { .. })
    ));
    publish(&store, sizing()).await;
    assert!(matches!(
        rt.start(request("sizing", Some(7))).await,
        Err(RuntimeError::NoSuchVersion { .. })
    ));
    store.set_archived("sizing", true).await.expect("archive");
    assert!(matches!(
        rt.start(request("sizing", None)).await,
        Err(RuntimeError::Archived(_))
    ));
}

conformance!(the_input_is_checked_against_the_input_schema, input_checks);
async fn input_checks(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let rt = runtime(&store, 1);
    let mut doc = sizing();
    doc["key"] = json!("typed");
    doc["input_schema"] = json!({
        "type": "object", "required": ["size"],
        "properties": {"size": {"type": "integer", "minimum": 1}}
    });
    publish(&store, doc).await;
    let request = |input| StartRequest {
        definition_key: "typed".into(),
        version: None,
        input,
        trigger: Trigger::Api,
        operator: "olivia".into(),
        idempotency_key: None,
    };
    match rt.start(request(json!({"size": "big"}))).await {
        Err(RuntimeError::InvalidInput(errors)) => {
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].field, "input/size");
        }
        other => panic!("a string size is refused: {other:?}"),
    }
    match rt.start(request(json!({}))).await {
        Err(RuntimeError::InvalidInput(errors)) => assert_eq!(errors[0].field, "input"),
        other => panic!("a missing size is refused: {other:?}"),
    }
    // 10 MB of input is refused whole, before anything is written.
    let huge = json!({"size": 3, "blob": "x".repeat(10 * 1024 * 1024)});
    assert!(matches!(
        rt.start(request(huge)).await,
        Err(RuntimeError::InputTooLarge { .. })
    ));
    let ok = rt
        .start(request(json!({"size": 3})))
        .await
        .expect("valid input");
    assert_eq!(finished(&rt, ok.id).await.status, InstanceStatus::Completed);

    // A schema that cannot compile is a definition issue, so it is never published.
    let service = DefinitionService::new(store.clone(), IdGenerator::new(9));
    let mut broken = sizing();
    broken["key"] = json!("broken-schema");
    broken["input_schema"] = json!({"type": "integerish"});
    let saved = service.save_draft(broken, "designer").await.expect("draft");
    assert!(
        saved
            .issues
            .iter()
            .any(|i| i.field.as_deref() == Some("input_schema")),
        "{:?}",
        saved.issues
    );
}

conformance!(pause_resume_and_cancel, operations);
async fn operations(db: &TestDatabase, _backend: Backend) {
    use engine::store::{InstanceChange, StoreError};
    let store = open(db).await;
    publish(&store, sizing()).await;
    let rt = runtime(&store, 1);

    let paused = start(&rt, "sizing", json!({"size": 1})).await.id;
    let now = rt
        .change(paused, InstanceChange::Pause, "olivia")
        .await
        .expect("pause");
    assert_eq!(now.status, InstanceStatus::Paused);
    rt.drain().await.expect("drain");
    assert!(
        runs(&store, paused).await.is_empty(),
        "a paused instance runs nothing"
    );
    assert!(matches!(
        rt.change(paused, InstanceChange::Pause, "olivia").await,
        Err(StoreError::Conflict(_))
    ));
    rt.change(paused, InstanceChange::Resume, "olivia")
        .await
        .expect("resume");
    assert_eq!(
        finished(&rt, paused).await.status,
        InstanceStatus::Completed
    );

    let cancelled = start(&rt, "sizing", json!({"size": 1})).await.id;
    let now = rt
        .change(cancelled, InstanceChange::Cancel, "olivia")
        .await
        .expect("cancel");
    assert_eq!(now.status, InstanceStatus::Cancelled);
    assert!(now.ended_at.is_some());
    let done = finished(&rt, cancelled).await;
    assert_eq!(done.status, InstanceStatus::Cancelled);
    assert!(
        runs(&store, cancelled).await.is_empty(),
        "nothing ran after the cancel"
    );
    assert!(matches!(
        rt.change(cancelled, InstanceChange::Resume, "olivia").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        rt.change(engine::id::Id(1), InstanceChange::Cancel, "olivia")
            .await,
        Err(StoreError::NotFound(_))
    ));
    let kinds: Vec<String> = store
        .events(paused, 0)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.contains(&"instance.paused".into()) && kinds.contains(&"instance.resumed".into())
    );
}

conformance!(failed_nodes_are_retried_with_backoff, retries);
async fn retries(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(
        &store,
        json!({
            "key": "flaky", "name": "Flaky",
            "nodes": [
                {"id": "start", "kind": "start"},
                {"id": "boom", "kind": "script", "script": "throw \"down\"",
                 "retry": {"max_attempts": 3, "initial_interval": "40ms", "backoff_factor": 2.0}},
                {"id": "end", "kind": "end"}
            ],
            "edges": [{"from": "start", "to": "boom"}, {"from": "boom", "to": "end"}]
        }),
    )
    .await;
    let rt = runtime(&store, 1);
    let id = start(&rt, "flaky", json!({})).await.id;

    // Retries wait in the queue until due: keep draining until the instance ends.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let done = loop {
        rt.drain().await.expect("drain");
        let now = store.instance(id).await.expect("read").expect("exists");
        if now.status.is_final() {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {:?}",
            now.status
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(
        done.status,
        InstanceStatus::Failed,
        "on_error fail after the last attempt"
    );

    let attempts: Vec<_> = store
        .node_runs(id)
        .await
        .expect("runs")
        .into_iter()
        .filter(|r| r.node_id == "boom")
        .collect();
    let numbers: Vec<i32> = attempts.iter().map(|r| r.attempt).collect();
    assert_eq!(numbers, vec![1, 2, 3]);
    assert!(attempts.iter().all(|r| r.status == NodeRunStatus::Failed));
    // The second wait is twice the first (40 ms, then 80 ms).
    let gap = |a: &engine::instance::NodeRun, b: &engine::instance::NodeRun| {
        let end = chrono::DateTime::parse_from_rfc3339(a.ended_at.as_deref().expect("ended"))
            .expect("time");
        let start = chrono::DateTime::parse_from_rfc3339(&b.started_at).expect("time");
        (start - end).num_milliseconds()
    };
    assert!(gap(&attempts[0], &attempts[1]) >= 40, "{attempts:?}");
    assert!(gap(&attempts[1], &attempts[2]) >= 80, "{attempts:?}");
    let retrying = store
        .events(id, 0)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == "node.retrying")
        .count();
    assert_eq!(retrying, 2);
}

conformance!(
    an_instance_runs_the_version_it_started_on_to_its_end,
    keeps_its_version
);
async fn keeps_its_version(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let version = |node: &str, says: &str| {
        json!({
            "key": "upgrade", "name": "Upgrade",
            "nodes": [
                {"id": "start", "kind": "start"},
                {"id": "wait", "kind": "timer", "duration": "300ms"},
                {"id": node, "kind": "script", "script": format!("{says:?}"),
                 "output_mappings": [{"source": "$.output", "target": "$.context.ran"}]},
                {"id": "end", "kind": "end"}
            ],
            "edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": node},
                      {"from": node, "to": "end"}]
        })
    };
    publish(&store, version("old", "v1")).await;
    let rt = runtime(&store, 1);
    let early = start(&rt, "upgrade", json!({})).await;
    assert_eq!(
        finished(&rt, early.id).await.status,
        InstanceStatus::Running
    );

    // Published while the first instance waits: a new node in place of the old one.
    publish(&store, version("new", "v2")).await;
    let late = start(&rt, "upgrade", json!({})).await;
    assert_eq!((early.version, late.version), (1, 2));

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let ended = |id| {
        let store = store.clone();
        async move {
            let now = store.instance(id).await.expect("read").expect("exists");
            (now.status != InstanceStatus::Running).then_some(now)
        }
    };
    let (early_done, late_done) = loop {
        rt.drain().await.expect("drain");
        if let (Some(a), Some(b)) = (ended(early.id).await, ended(late.id).await) {
            break (a, b);
        }
        assert!(std::time::Instant::now() < deadline, "still running");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(early_done.status, InstanceStatus::Completed);
    assert_eq!(early_done.context, json!({"ran": "v1"}));
    assert_eq!(late_done.context, json!({"ran": "v2"}));
    let nodes = |all: Vec<(String, NodeRunStatus)>| -> Vec<String> {
        all.into_iter().map(|(node, _)| node).collect()
    };
    assert_eq!(
        nodes(runs(&store, early.id).await),
        ["start", "wait", "old", "end"]
    );
    assert_eq!(
        nodes(runs(&store, late.id).await),
        ["start", "wait", "new", "end"]
    );
}
