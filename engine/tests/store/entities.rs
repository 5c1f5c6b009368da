//! The entity catalog and binding expressions, on both databases: import (all or nothing),
//! forward and backward walks, chains, filters and cycles in the data.

use engine::entity::{Attribute, EntityType, Expression};
use engine::id::{Id, IdGenerator};
use engine::people::{Role, User};
use engine::service::{DefinitionService, EntityError, EntityService};
use engine::status::Backend;
use engine::testing::TestDatabase;
use serde_json::json;

use crate::{conformance, open};

fn designer() -> User {
    User {
        id: Id(1),
        username: "dana".into(),
        display_name: "Dana".into(),
        roles: vec![Role::Designer],
        groups: Vec::new(),
        disabled: false,
        created_at: String::new(),
    }
}

fn entity_type(id: &str, references: &[(&str, &str)]) -> EntityType {
    EntityType {
        id: id.into(),
        display_name: String::new(),
        display_attribute: "name".into(),
        attributes: std::iter::once(Attribute {
            name: "name".into(),
            references: None,
        })
        .chain(references.iter().map(|(a, t)| Attribute {
            name: a.to_string(),
            references: Some(t.to_string()),
        }))
        .collect(),
    }
}

/// system s1 ← subsys a, b (b is `retired`) ← units ua1, ua2 (of a), ub1 (of b) ← hosts;
/// `peer` links units to each other in a cycle.
pub async fn catalog(entities: &EntityService) {
    let user = designer();
    for t in [
        entity_type("cmdb:system", &[]),
        entity_type("cmdb:subsys", &[("system", "cmdb:system")]),
        entity_type(
            "cmdb:unit",
            &[("subsys", "cmdb:subsys"), ("peer", "cmdb:unit")],
        ),
        entity_type("cmdb:host", &[("unit", "cmdb:unit")]),
    ] {
        entities.put_type(&user, t).await.expect("type");
    }
    let import = |t: &'static str, rows: serde_json::Value| {
        let rows = rows.as_array().cloned().unwrap_or_default();
        let user = user.clone();
        async move { entities.import(&user, t, rows).await.expect("import") }
    };
    import("cmdb:system", json!([{"guid": "s1", "name": "Payments"}])).await;
    import(
        "cmdb:subsys",
        json!([
        {"guid": "a", "name": "Gateway", "system": "s1", "state": "live"},
        {"guid": "b", "name": "Ledger", "system": "s1", "state": "retired"}]),
    )
    .await;
    import(
        "cmdb:unit",
        json!([
        {"guid": "ua1", "name": "gw-api", "subsys": "a", "peer": "ua2"},
        {"guid": "ua2", "name": "gw-web", "subsys": "a", "peer": ["ua1"]},
        {"guid": "ub1", "name": "ledger-db", "subsys": "b"}]),
    )
    .await;
    import(
        "cmdb:host",
        json!([
        {"guid": "h1", "name": "host-1", "unit": "ua1", "state": "running"},
        {"guid": "h2", "name": "host-2", "unit": "ua1", "state": "stopped"},
        {"guid": "h3", "name": "host-3", "unit": "ua2;ub1", "state": "running"}]),
    )
    .await;
}

fn guids(records: &[engine::entity::EntityRecord]) -> Vec<&str> {
    records.iter().map(|r| r.guid.as_str()).collect()
}

conformance!(binding_expressions_walk_the_catalog, walk);
async fn walk(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let entities = EntityService::new(
        store.clone(),
        DefinitionService::new(store.clone(), IdGenerator::new(1)),
    );
    catalog(&entities).await;
    let root = entities.record("s1").await.expect("root");
    let reach = |text: &'static str| {
        let entities = entities.clone();
        let root = root.clone();
        async move {
            let e = Expression::parse(text).expect("parses");
            entities.resolve(&root, &e).await.expect("resolves")
        }
    };

    // Backward, chained, filtered.
    let subsystems = reach("cmdb:system~(system)cmdb:subsys").await;
    assert_eq!(guids(&subsystems.reached), ["a", "b"]);
    let live_units = reach("cmdb:system~(system)cmdb:subsys[state='live']~(subsys)cmdb:unit").await;
    assert_eq!(guids(&live_units.reached), ["ua1", "ua2"]);
    let running =
        reach("cmdb:system~(system)cmdb:subsys~(subsys)cmdb:unit~(unit)cmdb:host[state='running']")
            .await;
    assert_eq!(
        guids(&running.reached),
        ["h1", "h3"],
        "h3 is on two units, listed once"
    );
    assert!(running.edges.contains(&("ub1".into(), "h3".into())));
    // Forward, back up the references, with and without the attribute named.
    let up = reach("cmdb:system~(system)cmdb:subsys~(subsys)cmdb:unit>cmdb:subsys").await;
    assert_eq!(guids(&up.reached), ["a", "b"]);
    let named =
        reach("cmdb:system~(system)cmdb:subsys~(subsys)cmdb:unit.subsys>cmdb:subsys>cmdb:system")
            .await;
    assert_eq!(guids(&named.reached), ["s1"]);
    // A cycle in the data (ua1 ↔ ua2) is walked a step at a time and ends.
    let cycle =
        reach("cmdb:system~(system)cmdb:subsys~(subsys)cmdb:unit.peer>cmdb:unit.peer>cmdb:unit")
            .await;
    assert_eq!(guids(&cycle.reached), ["ua1", "ua2"]);
    // A filter on the root that does not hold reaches nothing; a wrong start is refused.
    assert!(reach("cmdb:system[name='Other']~(system)cmdb:subsys")
        .await
        .reached
        .is_empty());
    let wrong = entities
        .resolve(
            &root,
            &Expression::parse("cmdb:unit>cmdb:subsys").expect("parses"),
        )
        .await;
    assert!(matches!(wrong, Err(EntityError::Invalid(_))));
}

conformance!(imports_are_all_or_nothing, imports);
async fn imports(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let entities = EntityService::new(
        store.clone(),
        DefinitionService::new(store.clone(), IdGenerator::new(1)),
    );
    let user = designer();
    entities
        .put_type(
            &user,
            entity_type("cmdb:unit", &[("subsys", "cmdb:subsys")]),
        )
        .await
        .expect("type");
    let bad = entities
        .import(
            &user,
            "cmdb:unit",
            vec![
                json!({"guid": "u1"}),
                json!({"name": "no guid"}),
                json!({"guid": "u1"}),
                json!({"guid": "u4", "subsys": 7}),
            ],
        )
        .await;
    match bad {
        Err(EntityError::Invalid(errors)) => {
            let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(
                fields,
                ["records[1].guid", "records[2].guid", "records[3].subsys"]
            );
        }
        other => panic!("expected the problems, got {other:?}"),
    }
    assert_eq!(
        entities
            .records("cmdb:unit", None, 10, 0)
            .await
            .expect("list")
            .total,
        0
    );
    let approver = User {
        roles: vec![Role::Approver],
        ..designer()
    };
    assert!(matches!(
        entities
            .import(&approver, "cmdb:unit", vec![json!({"guid": "u9"})])
            .await,
        Err(EntityError::Forbidden(_))
    ));
    assert!(matches!(
        entities.import(&user, "cmdb:nope", Vec::new()).await,
        Err(EntityError::NotFound(_))
    ));
    let invalid_type = entities
        .put_type(&user, entity_type("unit", &[("x", "y")]))
        .await;
    match invalid_type {
        Err(EntityError::Invalid(errors)) => assert_eq!(errors.len(), 2),
        other => panic!("{other:?}"),
    }
    // A type with records is not deleted.
    entities
        .import(
            &user,
            "cmdb:unit",
            vec![json!({"guid": "u1", "name": "One"})],
        )
        .await
        .expect("import");
    let page = entities
        .records("cmdb:unit", Some("ONE"), 10, 0)
        .await
        .expect("search");
    assert_eq!(page.items[0].display_name, "One");
    assert!(matches!(
        entities.delete_type(&user, "cmdb:unit").await,
        Err(EntityError::Store(engine::store::StoreError::Conflict(_)))
    ));
    entities
        .put_type(&user, entity_type("cmdb:host", &[("unit", "cmdb:unit")]))
        .await
        .expect("type");
    entities
        .import(
            &user,
            "cmdb:host",
            vec![json!({"guid": "h1", "unit": "u1"})],
        )
        .await
        .expect("import");
    assert!(
        matches!(
            entities.delete_record(&user, "u1").await,
            Err(EntityError::Store(engine::store::StoreError::Conflict(_)))
        ),
        "a referenced record stays"
    );
    entities.delete_record(&user, "h1").await.expect("delete");
    entities.delete_record(&user, "u1").await.expect("delete");
    entities
        .delete_type(&user, "cmdb:unit")
        .await
        .expect("then the type");
}

conformance!(preview_sessions_expire, expiry);
async fn expiry(db: &TestDatabase, _backend: Backend) {
    use engine::store::PreviewSession;
    let store = open(db).await;
    let now = chrono::Utc::now();
    let session = |id: &str, expires_in: chrono::Duration| PreviewSession {
        id: id.into(),
        definition_key: "deploy".into(),
        version: 1,
        root_guid: "s1".into(),
        tree: json!([]),
        bindings: json!({"bindings": [], "nodes": []}),
        created_by: "dana".into(),
        created_at: now,
        expires_at: now + expires_in,
    };
    store
        .save_preview(&session("old", chrono::Duration::seconds(-1)))
        .await
        .expect("save");
    store
        .save_preview(&session("new", chrono::Duration::hours(1)))
        .await
        .expect("save");
    assert!(store.preview("old", now).await.expect("read").is_none());
    assert_eq!(
        store
            .preview("new", now)
            .await
            .expect("read")
            .map(|s| s.root_guid),
        Some("s1".to_string())
    );
    // A start from an expired session is refused, naming the field.
    let entities = EntityService::new(
        store.clone(),
        DefinitionService::new(store.clone(), IdGenerator::new(1)),
    );
    match entities.start_bindings("deploy", "old", None).await {
        Err(EntityError::Invalid(errors)) => assert_eq!(errors[0].field, "session_id"),
        other => panic!("{other:?}"),
    }
    assert!(entities
        .start_bindings("other-key", "new", None)
        .await
        .is_err());
}
