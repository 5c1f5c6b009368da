//! The definition service over a real store: invalid drafts are kept, only valid ones publish.

use engine::definition::IssueCode;
use engine::id::IdGenerator;
use engine::service::{DefinitionService, ServiceError};
use engine::status::Backend;
use engine::testing::TestDatabase;
use serde_json::json;

use crate::{conformance, open};

fn valid() -> serde_json::Value {
    json!({"key": "hello", "name": "Hello",
           "nodes": [{"id": "start", "kind": "start", "position": {"x": 10.0, "y": 20.0}},
                     {"id": "greet", "kind": "script", "script": "`hello ${input.name}`"},
                     {"id": "end", "kind": "end"}],
           "edges": [{"from": "start", "to": "greet"}, {"from": "greet", "to": "end"}]})
}

conformance!(an_invalid_draft_is_saved_but_not_published, invalid_draft);
async fn invalid_draft(db: &TestDatabase, _backend: Backend) {
    let service = DefinitionService::new(open(db).await, IdGenerator::new(3));
    let mut doc = valid();
    doc["edges"] = json!([{"from": "start", "to": "greet"}]);
    let saved = service.save_draft(doc, "alice").await.expect("saved");
    let codes: Vec<IssueCode> = saved.issues.iter().map(|i| i.code).collect();
    assert_eq!(codes, vec![IssueCode::UnreachableNode]);

    match service.publish("hello", "alice").await {
        Err(ServiceError::Invalid(issues)) => assert_eq!(issues.len(), 1),
        other => panic!("expected the issues, got {other:?}"),
    }

    let saved = service.save_draft(valid(), "alice").await.expect("fixed");
    assert!(saved.issues.is_empty());
    let v1 = service.publish("hello", "alice").await.expect("publish");
    assert_eq!(v1.version, 1);
    let (_, definition) = service.version("hello", None).await.expect("read back");
    assert_eq!(definition.nodes.len(), 3);
    assert_eq!(definition.nodes[0].position.map(|p| p.x), Some(10.0));
}

conformance!(an_unreadable_document_is_refused_whole, unreadable);
async fn unreadable(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let service = DefinitionService::new(store.clone(), IdGenerator::new(3));
    let mut doc = valid();
    doc["nodes"][1]["kind"] = json!("teleport");
    match service.save_draft(doc, "alice").await {
        Err(ServiceError::Invalid(issues)) => assert_eq!(issues[0].code, IssueCode::UnknownKind),
        other => panic!("expected the issues, got {other:?}"),
    }
    assert!(
        store.definition("hello").await.expect("read").is_none(),
        "nothing written"
    );

    let mut doc = valid();
    doc["key"] = json!("no spaces please");
    assert!(matches!(
        service.save_draft(doc, "alice").await,
        Err(ServiceError::Invalid(_))
    ));
}

conformance!(publishing_without_a_draft_is_a_conflict, nothing_to_publish);
async fn nothing_to_publish(db: &TestDatabase, _backend: Backend) {
    let service = DefinitionService::new(open(db).await, IdGenerator::new(3));
    assert!(matches!(
        service.publish("nope", "alice").await,
        Err(ServiceError::Store(engine::store::StoreError::NotFound(_)))
    ));
    service.save_draft(valid(), "alice").await.expect("saved");
    service.publish("hello", "alice").await.expect("v1");
    assert!(matches!(
        service.publish("hello", "alice").await,
        Err(ServiceError::Store(engine::store::StoreError::Conflict(_)))
    ));
}
