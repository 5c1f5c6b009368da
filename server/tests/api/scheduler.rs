//! The server runs its scheduler beside HTTP: a started instance finishes with no other help.

use std::time::{Duration, Instant};

use engine::id::IdGenerator;
use engine::instance::{InstanceStatus, Trigger};
use engine::runtime::StartRequest;
use engine::service::DefinitionService;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_on_postgres, TestApp};

async fn runs_an_instance_to_completion(app: &TestApp) {
    let store = app.runtime.store().clone();
    let service = DefinitionService::new(store.clone(), IdGenerator::new(500));
    service
        .save_draft(
            json!({"key": "hello", "name": "Hello",
                   "nodes": [{"id": "start", "kind": "start"},
                             {"id": "greet", "kind": "script", "script": "`hello ${input.who}`",
                              "output_mappings": [{"source": "$.output", "target": "$.context.greeting"}]},
                             {"id": "end", "kind": "end"}],
                   "edges": [{"from": "start", "to": "greet"}, {"from": "greet", "to": "end"}]}),
            "designer",
        )
        .await
        .expect("draft");
    service.publish("hello", "designer").await.expect("publish");
    let instance = app
        .runtime
        .start(StartRequest {
            definition_key: "hello".into(),
            version: None,
            input: json!({"who": "world"}),
            trigger: Trigger::Api,
            operator: "olivia".into(),
            idempotency_key: None,
        })
        .await
        .expect("start");

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = store
            .instance(instance.id)
            .await
            .expect("read")
            .expect("exists");
        if now.status == InstanceStatus::Completed {
            assert_eq!(now.context["greeting"], "hello world");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {:?} after 10 s",
            now.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_server_runs_instances_on_sqlite() {
    runs_an_instance_to_completion(&spawn_app().await).await;
}

#[tokio::test]
async fn the_server_runs_instances_on_postgres() {
    if let Some(app) = spawn_app_on_postgres().await {
        runs_an_instance_to_completion(&app).await;
    }
}
