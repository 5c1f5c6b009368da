//! Work shared between workers: one queue for several workers, a dead worker's lease taken
//! over, and a start in one process waking another process's idle worker.

use engine::id::IdGenerator;
use engine::instance::InstanceStatus;
use engine::runtime::{Runtime, RuntimeConfig};
use engine::status::Backend;
use engine::testing::TestDatabase;
use serde_json::json;

use crate::joins::fan_out;
use crate::runtime::{finished, publish, runs, runtime, sizing, start};
use crate::{conformance, open};

conformance!(
    workers_share_the_queue_and_each_node_runs_once,
    shared_queue
);
async fn shared_queue(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(&store, fan_out()).await;
    let first = runtime(&store, 1);
    let second = runtime(&store, 2);
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(start(&first, "fan", json!({})).await.id);
    }
    let (a, b) = tokio::join!(first.drain(), second.drain());
    a.expect("first drains");
    b.expect("second drains");
    first.drain().await.expect("leftovers");
    for id in ids {
        let all = runs(&store, id).await;
        assert_eq!(all.len(), 7, "{id}: every node once: {all:?}");
        let done = store.instance(id).await.expect("read").expect("exists");
        assert_eq!(done.status, InstanceStatus::Completed);
    }
}

conformance!(a_dead_workers_lease_is_taken_over, lease_takeover);
async fn lease_takeover(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    publish(&store, sizing()).await;
    let survivor = runtime(&store, 2);
    let id = start(&survivor, "sizing", json!({"size": 9})).await.id;

    // A worker leases the start item for 1 s and dies without running it. (The lease is long
    // enough that a loaded machine still checks within it.)
    let leased = store
        .claim_work("dead-worker", 10, 1_000)
        .await
        .expect("claim");
    assert_eq!(leased.len(), 1);
    assert!(
        survivor.run_once().await.expect("nothing free") == 0,
        "leased items are not shared"
    );

    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let done = finished(&survivor, id).await;
    assert_eq!(done.status, InstanceStatus::Completed);
    // Four nodes ran, once each; the fifth was on the branch not taken.
    assert_eq!(runs(&store, id).await.len(), 5);
}

/// A start in one process wakes another process's idle worker through a notification, long
/// before that worker's next poll (PostgreSQL; SQLite's workers share one process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_wakes_an_idle_worker_of_another_process_at_once() {
    use std::time::{Duration, Instant};
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    // Two stores: two pools and two listeners, as two processes have.
    let worker_store = open(&db).await;
    let starter_store = open(&db).await;
    publish(&starter_store, sizing()).await;
    let worker = Runtime::new(
        worker_store.clone(),
        IdGenerator::new(21),
        "worker-21",
        RuntimeConfig {
            idle_poll: Duration::from_secs(60),
            expiry_poll: Duration::from_secs(60),
            ..RuntimeConfig::default()
        },
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        worker
            .run_until(async {
                let _ = stopped.await;
            })
            .await
    });
    let starter = runtime(&starter_store, 22);
    for _ in 0..3 {
        // Idle: it waits for a notification or a poll a minute away.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let id = start(&starter, "sizing", json!({"size": 1})).await.id;
        let begun = Instant::now();
        loop {
            let now = worker_store
                .instance(id)
                .await
                .expect("read")
                .expect("exists");
            if now.status == InstanceStatus::Completed {
                break;
            }
            assert!(
                begun.elapsed() < Duration::from_secs(5),
                "the idle worker was not woken"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let _ = stop.send(());
    running.await.expect("the worker stops");
}
