//! A server process, 200 instances started through its REST API, `kill -9` mid-run: every
//! instance finishes, no completed node runs again, and the receiver sees each side effect under
//! one idempotency key (a call cut off by the crash is re-sent with the same key, so the
//! receiver can drop it).
//!
//! On SQLite the one server process is killed and started again. On PostgreSQL two server
//! processes share the work; one is killed and the other, left running, takes over its leases.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::id::{Id, IdGenerator};
use engine::instance::{InstanceStatus, NodeRunStatus};
use engine::service::DefinitionService;
use engine::store::Store;
use engine::testing::{Receiver, TestDatabase};
use serde_json::{json, Value};

const INSTANCES: usize = 200;

const PASSWORD: &str = "crash-test-password";

/// A running `baton` process and the address it answers at.
struct Server {
    process: Child,
    url: String,
}

/// A server process whose ids carry generator `node` (`BATON_NODE_ID`), so the runs it made can
/// be told apart from another process's; answers once it is listening.
fn baton(db: &TestDatabase, node: u16) -> Server {
    let mut process = Command::new(env!("CARGO_BIN_EXE_baton"))
        .env("DATABASE_URL", &db.url)
        .env("BATON_ADDR", "127.0.0.1:0")
        .env("BATON_NODE_ID", node.to_string())
        .env("BATON_ADMIN_PASSWORD", PASSWORD)
        .env("BATON_HTTP_ALLOW", "127.0.0.1/32")
        .env("BATON_LEASE", "2s")
        .env("RUST_LOG", "off")
        .env("BATON_DEMO", "false")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start baton");
    let stdout = process.stdout.take().expect("its output");
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("Baton is running at ") {
                let _ = found.send(rest.trim_end_matches('/').to_string());
            }
            // Whatever else it prints is read too, so a full pipe never stops it.
        }
    });
    let mut server = Server {
        process,
        url: String::new(),
    };
    // Should it not answer, the panic drops (and so kills) the server.
    server.url = address
        .recv_timeout(Duration::from_secs(30))
        .expect("baton says where it listens within 30 s");
    server
}

impl Drop for Server {
    /// A test that fails part way leaves no server running on its database.
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Starts the 200 instances through `server`'s REST API, as an integrator would.
async fn start_all(server: &Server) -> Vec<Id> {
    let client = reqwest::Client::new();
    let token: Value = client
        .post(format!("{}/api/v1/auth/token", server.url))
        .json(&json!({"grant_type": "password", "username": "admin", "password": PASSWORD}))
        .send()
        .await
        .expect("sign in")
        .json()
        .await
        .expect("a token");
    let token = token["access_token"].as_str().expect("access token");
    let mut ids = Vec::with_capacity(INSTANCES);
    for n in 0..INSTANCES {
        let response = client
            .post(format!("{}/api/v1/instances", server.url))
            .bearer_auth(token)
            .json(&json!({"definition_key": "provision", "input": {"n": n}}))
            .send()
            .await
            .expect("start");
        assert_eq!(response.status(), 201, "start {n}");
        let started: Value = response.json().await.expect("the instance");
        ids.push(started["id"].as_str().expect("id").parse().expect("an id"));
    }
    ids
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

/// Two http calls per instance to the receiver, 100 ms each.
async fn publish(store: &Arc<dyn Store>, receiver: &Receiver) {
    let service = DefinitionService::new(store.clone(), IdGenerator::new(1));
    let saved = service
        .save_draft(
            json!({
                "key": "provision", "name": "Provision",
                "nodes": [
                    {"id": "start", "kind": "start"},
                    {"id": "create", "kind": "http", "method": "POST",
                     "url": receiver.url("/slow/100"), "body": {"step": "create", "n": "{{input.n}}"}},
                    {"id": "configure", "kind": "http", "method": "POST",
                     "url": receiver.url("/slow/100"), "body": {"step": "configure", "n": "{{input.n}}"}},
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
}

async fn half_way(receiver: &Receiver) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.received().len() < INSTANCES / 2 {
        assert!(Instant::now() < deadline, "the server made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn kill(mut server: Server) {
    server.process.kill().expect("kill -9");
    server.process.wait().expect("reaped");
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
    publish(&store, &receiver).await;

    let first = baton(&db, 11);
    let ids = start_all(&first).await;
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
    publish(&store, &receiver).await;

    let doomed = baton(&db, 11);
    let survivor = baton(&db, 12);
    // Started through the one to be killed; both run them.
    let ids = start_all(&doomed).await;
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
