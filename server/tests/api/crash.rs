//! `kill -9` in the middle of 200 running instances: every instance finishes, no completed node
//! runs again, and the receiver sees each side effect under one idempotency key (a call cut off
//! by the crash is re-sent with the same key, so the receiver can drop it).
//!
//! On SQLite the one server process is killed and started again. On PostgreSQL two server
//! processes share the work; one is killed and the other, left running, takes over its leases.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::id::{Id, IdGenerator};
use engine::instance::{InstanceStatus, NodeRunStatus, Trigger};
use engine::runtime::{Runtime, RuntimeConfig, StartRequest};
use engine::service::DefinitionService;
use engine::store::Store;
use engine::testing::{Receiver, TestDatabase};
use serde_json::json;

const INSTANCES: usize = 200;

/// A server process whose ids carry generator `node` (`BATON_NODE_ID`), so the runs it made can
/// be told apart from another process's.
fn baton(db: &TestDatabase, node: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .env("DATABASE_URL", &db.url)
        .env("BATON_ADDR", "127.0.0.1:0")
        .env("BATON_NODE_ID", node.to_string())
        .env("BATON_HTTP_ALLOW", "127.0.0.1/32")
        .env("BATON_LEASE", "2s")
        .env("RUST_LOG", "off")
        .env("BATON_DEMO", "false")
        .stdout(Stdio::null())
        .spawn()
        .expect("start baton")
}

async fn completed(store: &Arc<dyn Store>, ids: &[Id]) -> usize {
    let mut done = 0;
    for id in ids {
        let instance = store.instance(*id).await.expect("read").expect("exists");
        assert_ne!(
            instance.status,
            InstanceStatus::Failed,
            "{:?}",
            instance.error
        );
        done += usize::from(instance.status == InstanceStatus::Completed);
    }
    done
}

/// Two http calls per instance to the receiver, 40 ms each; 200 instances queued.
async fn queued(store: &Arc<dyn Store>, receiver: &Receiver) -> Vec<Id> {
    let service = DefinitionService::new(store.clone(), IdGenerator::new(1));
    let saved = service
        .save_draft(
            json!({
                "key": "provision", "name": "Provision",
                "nodes": [
                    {"id": "start", "kind": "start"},
                    {"id": "create", "kind": "http", "method": "POST",
                     "url": receiver.url("/slow/40"), "body": {"step": "create", "n": "{{input.n}}"}},
                    {"id": "configure", "kind": "http", "method": "POST",
                     "url": receiver.url("/slow/40"), "body": {"step": "configure", "n": "{{input.n}}"}},
                    {"id": "end", "kind": "end"}
                ],
                "edges": [{"from": "start", "to": "create"}, {"from": "create", "to": "configure"},
                          {"from": "configure", "to": "end"}]
            }),
            "designer",
        )
        .await
        .expect("draft");
    assert!(saved.issues.is_empty(), "{:?}", saved.issues);
    service
        .publish("provision", "designer")
        .await
        .expect("publish");

    // Queued by this process, run by the server processes.
    let starter = Runtime::new(
        store.clone(),
        IdGenerator::new(2),
        "starter",
        RuntimeConfig::default(),
    );
    let mut ids = Vec::new();
    for n in 0..INSTANCES {
        let instance = starter
            .start(StartRequest {
                definition_key: "provision".into(),
                version: None,
                input: json!({"n": n}),
                trigger: Trigger::Api,
                operator: "olivia".into(),
                idempotency_key: None,
            })
            .await
            .expect("start");
        ids.push(instance.id);
    }
    ids
}

async fn half_way(receiver: &Receiver) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.received().len() < INSTANCES / 2 {
        assert!(Instant::now() < deadline, "the server made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn kill(mut process: Child) {
    process.kill().expect("kill -9");
    process.wait().expect("reaped");
}

async fn all_completed(store: &Arc<dyn Store>, ids: &[Id]) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = completed(store, ids).await;
        if done == INSTANCES {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {INSTANCES} finished after the kill"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// No node completed twice; every side effect arrived, each under exactly one key. Answers the
/// generators (server processes) whose ids the completed runs carry.
async fn each_effect_once(store: &Arc<dyn Store>, ids: &[Id], receiver: &Receiver) -> HashSet<u16> {
    let mut generators = HashSet::new();
    for id in ids {
        let runs = store.node_runs(*id).await.expect("runs");
        let mut completions: HashMap<&str, usize> = HashMap::new();
        for run in &runs {
            if run.status == NodeRunStatus::Completed {
                *completions.entry(run.node_id.as_str()).or_default() += 1;
                generators.insert(run.id.generator());
            }
        }
        for node in ["start", "create", "configure", "end"] {
            assert_eq!(completions.get(node), Some(&1), "{id} {node}: {runs:?}");
        }
    }

    // One key per (instance, step), and a key is never shared between two side effects.
    let received = receiver.received();
    let mut effects: HashMap<String, HashSet<String>> = HashMap::new();
    for request in &received {
        let key = request
            .idempotency_key
            .clone()
            .expect("every call has a key");
        let effect = format!("{}/{}", request.body["step"], request.body["n"]);
        effects.entry(effect).or_default().insert(key);
    }
    assert_eq!(effects.len(), INSTANCES * 2, "every side effect landed");
    for (effect, keys) in &effects {
        assert_eq!(keys.len(), 1, "{effect} was sent under {keys:?}");
    }
    eprintln!(
        "{} calls for {} side effects",
        received.len(),
        INSTANCES * 2
    );
    generators
}

async fn connect(db: &TestDatabase) -> Arc<dyn Store> {
    engine::store::connect(&db.url.parse().expect("url"))
        .await
        .expect("store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_survive_kill_9_and_side_effects_land_once_per_key() {
    let db = TestDatabase::sqlite();
    let store = connect(&db).await;
    let receiver = Receiver::start().await;
    let ids = queued(&store, &receiver).await;

    let first = baton(&db, 11);
    half_way(&receiver).await;
    kill(first);
    let at_kill = completed(&store, &ids).await;
    assert!(
        at_kill < INSTANCES,
        "the kill came after everything finished"
    );

    let second = baton(&db, 12);
    all_completed(&store, &ids).await;
    kill(second);
    each_effect_once(&store, &ids, &receiver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_the_work_on_postgres_and_the_survivor_of_a_kill_9_finishes_it() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let store = connect(&db).await;
    let receiver = Receiver::start().await;
    let ids = queued(&store, &receiver).await;

    let doomed = baton(&db, 11);
    let survivor = baton(&db, 12);
    half_way(&receiver).await;
    kill(doomed);
    let at_kill = completed(&store, &ids).await;
    assert!(
        at_kill < INSTANCES,
        "the kill came after everything finished"
    );

    // The killed process's items are taken over when their leases (2 s) expire.
    all_completed(&store, &ids).await;
    kill(survivor);
    let generators = each_effect_once(&store, &ids, &receiver).await;
    assert!(
        generators.contains(&11) && generators.contains(&12),
        "both processes ran nodes: {generators:?}"
    );
}
