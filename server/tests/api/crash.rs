//! `kill -9` in the middle of 200 running instances, then a restart: every instance finishes, no
//! completed node runs again, and the receiver sees each side effect under one idempotency key
//! (a call cut off by the crash is re-sent with the same key, so the receiver can drop it).

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

fn baton(db: &TestDatabase) -> Child {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .env("DATABASE_URL", &db.url)
        .env("BATON_ADDR", "127.0.0.1:0")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_survive_kill_9_and_side_effects_land_once_per_key() {
    let db = TestDatabase::sqlite();
    let store = engine::store::connect(&db.url.parse().expect("url"))
        .await
        .expect("store");
    let receiver = Receiver::start().await;
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

    let mut first = baton(&db);
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.received().len() < INSTANCES / 2 {
        assert!(Instant::now() < deadline, "the server made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().expect("kill -9");
    first.wait().expect("reaped");
    let at_kill = completed(&store, &ids).await;
    assert!(
        at_kill < INSTANCES,
        "the kill came after everything finished"
    );

    let mut second = baton(&db);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = completed(&store, &ids).await;
        if done == INSTANCES {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {INSTANCES} finished after the restart"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    second.kill().expect("stop");
    second.wait().expect("reaped");

    // No node completed twice.
    for id in &ids {
        let runs = store.node_runs(*id).await.expect("runs");
        let mut completions: HashMap<&str, usize> = HashMap::new();
        for run in &runs {
            if run.status == NodeRunStatus::Completed {
                *completions.entry(run.node_id.as_str()).or_default() += 1;
            }
        }
        for node in ["start", "create", "configure", "end"] {
            assert_eq!(completions.get(node), Some(&1), "{id} {node}: {runs:?}");
        }
    }

    // Every side effect arrived, each under exactly one key: one key per (instance, step),
    // and a key is never shared between two different side effects.
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
        "{} calls for {} side effects; {} instances had finished at the kill",
        received.len(),
        INSTANCES * 2,
        at_kill
    );
}
