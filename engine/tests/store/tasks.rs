//! Nodes that wait on the outside, on both databases: human tasks (inbox, claim, complete once,
//! expiry, cancel), callbacks (finish once, duplicates, late calls) and subprocesses.

use std::sync::Arc;
use std::time::Duration;

use engine::id::Id;
use engine::instance::{InstanceStatus, NodeRunStatus};
use engine::people::token_hash;
use engine::status::Backend;
use engine::store::{CallbackFinish, InboxQuery, InstanceChange, Store, StoreError, TaskAnswer};
use engine::task::{HumanTask, TaskStatus};
use engine::testing::{Receiver, TestDatabase};
use serde_json::{json, Value};

use crate::runtime::{finished, publish, runs, runtime, start};
use crate::{conformance, open};

fn approval(key: &str, extra: Value) -> Value {
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

async fn inbox(store: &Arc<dyn Store>, user: &str, groups: &[&str]) -> Vec<HumanTask> {
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

use engine::runtime::Runtime;

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
