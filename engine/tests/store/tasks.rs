//! Human tasks on both databases: the inbox, claim, complete exactly once, expiry, cancel
//! (callbacks, subprocesses and triggers are in `outside.rs`).

use std::sync::Arc;
use std::time::Duration;

use engine::id::Id;
use engine::instance::{InstanceStatus, NodeRunStatus};
use engine::status::Backend;
use engine::store::{InboxQuery, InstanceChange, Store, StoreError, TaskAnswer};
use engine::task::{HumanTask, TaskStatus};
use engine::testing::TestDatabase;
use serde_json::{json, Value};

use crate::runtime::{finished, publish, runs, runtime, start};
use crate::{conformance, open};

pub(crate) fn approval(key: &str, extra: Value) -> Value {
    let mut ask = json!({
        "id": "ask", "kind": "approval", "title": "Approve {{context.size}} units",
        "content": "Requested by {{context.who}}",
        "assignees": ["alice"], "groups": ["ops"],
        "form": [{"name": "comment", "type": "text", "required": true}],
        "output_mappings": [{"source": "$.output.outcome", "target": "$.context.decision"}]
    });
    if let (Value::Object(ask), Value::Object(extra)) = (&mut ask, extra) {
        ask.extend(extra);
    }
    json!({
        "key": key, "name": key,
        "nodes": [{"id": "start", "kind": "start"}, ask,
                  {"id": "yes", "kind": "end"}, {"id": "no", "kind": "end"}],
        "edges": [{"from": "start", "to": "ask"},
                  {"from": "ask", "to": "yes", "condition": "outcome == 'approve'"},
                  {"from": "ask", "to": "no", "condition": "outcome != 'approve'"}]
    })
}

pub(crate) async fn inbox(store: &Arc<dyn Store>, user: &str, groups: &[&str]) -> Vec<HumanTask> {
    inbox_of(store, user, groups, None).await.items
}

async fn inbox_of(
    store: &Arc<dyn Store>,
    user: &str,
    groups: &[&str],
    status: Option<TaskStatus>,
) -> engine::store::Page<HumanTask> {
    store
        .inbox(&InboxQuery {
            username: user.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            status,
            definition_key: None,
            limit: 500,
            offset: 0,
        })
        .await
        .expect("inbox")
}

async fn complete(
    store: &Arc<dyn Store>,
    id: Id,
    user: &str,
    outcome: &str,
) -> Result<HumanTask, StoreError> {
    store
        .complete_task(TaskAnswer {
            id,
            user,
            outcome,
            data: &json!({"comment": "looks right"}),
        })
        .await
}

conformance!(
    an_approval_waits_for_a_person_and_its_outcome_picks_the_edge,
    approvals
);
async fn approvals(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(&store, approval("order", json!({}))).await;
    let rt = runtime(&store, 1);
    let id = start(&rt, "order", json!({"size": 5, "who": "olivia"}))
        .await
        .id;
    assert_eq!(finished(&rt, id).await.status, InstanceStatus::Running);
    assert_eq!(
        runs(&store, id).await.last(),
        Some(&("ask".into(), NodeRunStatus::Waiting))
    );

    // Offered to alice by name and to ops by group; nobody else sees it.
    let mine = inbox(&store, "alice", &[]).await;
    assert_eq!(mine.len(), 1);
    let task = mine[0].clone();
    assert_eq!(task.title, "Approve 5 units");
    assert_eq!(task.content, "Requested by olivia");
    assert_eq!(task.status, TaskStatus::Open);
    assert_eq!(task.outcomes, ["approve", "reject"]);
    assert_eq!(inbox(&store, "bob", &["ops"]).await.len(), 1);
    assert!(inbox(&store, "carol", &["finance"]).await.is_empty());

    // Claimed by bob: hidden from alice, a conflict for her.
    let claimed = store.claim_task(task.id, "bob", true).await.expect("claim");
    assert_eq!(claimed.status, TaskStatus::Claimed);
    assert_eq!(claimed.claimed_by.as_deref(), Some("bob"));
    assert!(inbox(&store, "alice", &[]).await.is_empty());
    assert_eq!(inbox(&store, "bob", &["ops"]).await.len(), 1);
    assert!(matches!(
        store.claim_task(task.id, "alice", true).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        complete(&store, task.id, "alice", "approve").await,
        Err(StoreError::Conflict(_))
    ));
    // Given back, it is open to everyone again.
    store
        .claim_task(task.id, "bob", false)
        .await
        .expect("unclaim");
    assert_eq!(inbox(&store, "alice", &[]).await.len(), 1);

    let done = complete(&store, task.id, "alice", "approve")
        .await
        .expect("complete");
    assert_eq!(done.status, TaskStatus::Completed);
    assert_eq!(done.completed_by.as_deref(), Some("alice"));
    assert_eq!(done.data, Some(json!({"comment": "looks right"})));
    // Exactly once: every later attempt is a conflict and changes nothing.
    assert!(matches!(
        complete(&store, task.id, "alice", "reject").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        complete(&store, task.id, "bob", "reject").await,
        Err(StoreError::Conflict(_))
    ));

    let instance = finished(&rt, id).await;
    assert_eq!(instance.status, InstanceStatus::Completed, "{instance:?}");
    assert_eq!(instance.context["decision"], "approve");
    let all = runs(&store, id).await;
    assert!(
        all.contains(&("yes".into(), NodeRunStatus::Completed)),
        "{all:?}"
    );
    assert!(
        all.contains(&("no".into(), NodeRunStatus::Skipped)),
        "{all:?}"
    );
    let asks: Vec<_> = all.iter().filter(|(n, _)| n == "ask").collect();
    assert_eq!(asks, [&("ask".to_string(), NodeRunStatus::Completed)]);
    let run = store.node_runs(id).await.expect("runs");
    let ask = run.iter().find(|r| r.node_id == "ask").expect("ask run");
    assert_eq!(ask.output.as_ref().expect("output")["outcome"], "approve");
    assert_eq!(ask.output.as_ref().expect("output")["by"], "alice");

    // The inbox keeps its history by status.
    assert!(inbox(&store, "alice", &[]).await.is_empty());
    let history = inbox_of(&store, "alice", &[], Some(TaskStatus::Completed)).await;
    assert_eq!(history.total, 1);
    let kinds: Vec<String> = store
        .events(id, 0)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in [
        "node.waiting",
        "task.claimed",
        "task.released",
        "task.completed",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

conformance!(
    a_task_is_completed_exactly_once_under_racing_submissions,
    races
);
async fn races(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(&store, approval("race", json!({}))).await;
    let rt = runtime(&store, 1);
    for _ in 0..200 {
        start(&rt, "race", json!({"size": 1, "who": "x"})).await;
    }
    rt.drain().await.expect("drain");
    let tasks = inbox(&store, "alice", &[]).await;
    assert_eq!(tasks.len(), 200);
    for task in &tasks {
        let attempts: Vec<_> = (0..50)
            .map(|i| {
                let store = store.clone();
                let id = task.id;
                tokio::spawn(async move {
                    let user = if i % 2 == 0 { "alice" } else { "bob" };
                    complete(&store, id, user, "approve").await
                })
            })
            .collect();
        let mut results = Vec::new();
        for attempt in attempts {
            results.push(attempt.await);
        }
        let won = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        let conflicts = results
            .iter()
            .filter(|r| matches!(r, Ok(Err(StoreError::Conflict(_)))))
            .count();
        assert_eq!((won, conflicts), (1, 49), "task {}", task.id);
    }
    rt.drain().await.expect("drain");
    let page = store
        .list_instances(&engine::store::InstanceQuery {
            status: Some(InstanceStatus::Completed),
            definition_key: Some("race".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(page.total, 200, "each instance went on exactly once");

    // Two claims at once: one wins.
    for _ in 0..20 {
        let id = start(&rt, "race", json!({"size": 1, "who": "x"})).await.id;
        rt.drain().await.expect("drain");
        let task = inbox(&store, "alice", &[])
            .await
            .into_iter()
            .find(|t| t.instance_id == id)
            .expect("task");
        let (a, b) = tokio::join!(
            store.claim_task(task.id, "alice", true),
            store.claim_task(task.id, "bob", true)
        );
        assert!(a.is_ok() != b.is_ok(), "{a:?} / {b:?}");
    }
}

conformance!(
    due_tasks_expire_and_cancelled_instances_close_theirs,
    expiry
);
async fn expiry(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    // Expiry fails the node; on_error: branch follows the error edge.
    let mut doc = approval("due", json!({"due": "100ms", "on_error": "branch"}));
    doc["nodes"]
        .as_array_mut()
        .expect("nodes")
        .push(json!({"id": "late", "kind": "end"}));
    doc["edges"]
        .as_array_mut()
        .expect("edges")
        .push(json!({"from": "ask", "to": "late", "error": true}));
    publish(&store, doc).await;
    let rt = runtime(&store, 1);
    let id = start(&rt, "due", json!({"size": 1, "who": "x"})).await.id;
    rt.drain().await.expect("drain");
    let task = inbox(&store, "alice", &[]).await.remove(0);
    assert!(task.due_at.is_some());
    assert_eq!(rt.expire_waits().await, 0, "not due yet");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rt.expire_waits().await, 1);
    let instance = finished(&rt, id).await;
    assert_eq!(instance.status, InstanceStatus::Completed, "{instance:?}");
    let all = runs(&store, id).await;
    assert!(
        all.contains(&("ask".into(), NodeRunStatus::Failed)),
        "{all:?}"
    );
    assert!(
        all.contains(&("late".into(), NodeRunStatus::Completed)),
        "{all:?}"
    );
    let expired = store.task(task.id).await.expect("read").expect("task");
    assert_eq!(expired.status, TaskStatus::Expired);
    assert!(matches!(
        complete(&store, task.id, "alice", "approve").await,
        Err(StoreError::Conflict(_))
    ));

    // Cancelling the instance cancels its open task.
    publish(&store, approval("stop", json!({}))).await;
    let id = start(&rt, "stop", json!({"size": 1, "who": "x"})).await.id;
    rt.drain().await.expect("drain");
    let task = inbox(&store, "alice", &[]).await.remove(0);
    rt.change(id, InstanceChange::Cancel, "olivia")
        .await
        .expect("cancel");
    let cancelled = store.task(task.id).await.expect("read").expect("task");
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    assert!(inbox(&store, "alice", &[]).await.is_empty());
    assert!(matches!(
        complete(&store, task.id, "alice", "approve").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        finished(&rt, id).await.status,
        InstanceStatus::Cancelled,
        "a completion after cancel changes nothing"
    );
}
