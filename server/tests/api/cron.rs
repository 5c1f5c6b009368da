//! Two real server processes on one PostgreSQL database, both watching a cron trigger that
//! fires every second: each tick starts exactly one instance.

use std::process::{Command, Stdio};
use std::time::Duration;

use engine::id::IdGenerator;
use engine::service::DefinitionService;
use engine::store::InstanceQuery;
use engine::testing::TestDatabase;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_start_one_instance_per_cron_tick() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let store = engine::store::connect(&db.url.parse().expect("url"))
        .await
        .expect("store");
    let service = DefinitionService::new(store.clone(), IdGenerator::new(1));
    let saved = service
        .save_draft(
            json!({
                "key": "tick", "name": "Tick",
                "triggers": [{"kind": "cron", "name": "every-second", "schedule": "* * * * * *"}],
                "nodes": [{"id": "start", "kind": "start"}, {"id": "end", "kind": "end"}],
                "edges": [{"from": "start", "to": "end"}]
            }),
            "designer",
        )
        .await
        .expect("draft");
    assert!(saved.issues.is_empty(), "{:?}", saved.issues);
    service.publish("tick", "designer").await.expect("publish");

    let mut servers: Vec<_> = (1..=2)
        .map(|n| {
            Command::new(env!("CARGO_BIN_EXE_baton"))
                .env("DATABASE_URL", &db.url)
                .env("BATON_ADDR", "127.0.0.1:0")
                .env("BATON_NODE_ID", n.to_string())
                .env("BATON_ADMIN_PASSWORD", "cron-test-password")
                .env("RUST_LOG", "off")
                .env("BATON_DEMO", "false")
                .stdout(Stdio::null())
                .spawn()
                .expect("start baton")
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    for server in &mut servers {
        // Both started on the same empty database and are still running.
        assert!(
            matches!(server.try_wait(), Ok(None)),
            "a server process exited early"
        );
    }
    for server in &mut servers {
        let _ = server.kill();
        let _ = server.wait();
    }

    let page = store
        .list_instances(&InstanceQuery {
            definition_key: Some("tick".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    // Both processes run for about six seconds (less their start-up).
    assert!((3..=7).contains(&page.total), "{} instances", page.total);
    let mut times: Vec<chrono::DateTime<chrono::Utc>> = page
        .items
        .iter()
        .map(|i| i.created_at.parse().expect("time"))
        .collect();
    times.sort();
    for pair in times.windows(2) {
        assert!(
            (pair[1] - pair[0]).num_milliseconds() >= 500,
            "two instances for one tick: {times:?}"
        );
    }
    let events = store.events(page.items[0].id, 0).await.expect("events");
    assert_eq!(events[0].data["trigger"], "cron");
}
