//! Drafts, publishing and versions, on both databases.

use engine::definition::DefinitionStatus;
use engine::id::IdGenerator;
use engine::status::Backend;
use engine::store::{DefinitionQuery, NewDraft, NewVersion, StoreError};
use engine::testing::TestDatabase;
use serde_json::json;

use crate::{conformance, open};

fn doc(name: &str) -> serde_json::Value {
    json!({"key": "onboard", "name": name, "nodes": [], "edges": []})
}

fn draft<'a>(key: &'a str, name: &'a str, document: &'a serde_json::Value) -> NewDraft<'a> {
    NewDraft {
        key,
        name,
        tags: &[],
        document,
        actor: "alice",
    }
}

conformance!(drafts_publish_as_successive_versions, publish_versions);
async fn publish_versions(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let ids = IdGenerator::new(1);

    let first = doc("Onboard");
    let saved = store
        .save_draft(draft("onboard", "Onboard", &first))
        .await
        .expect("draft");
    assert_eq!(saved.status, DefinitionStatus::Draft);
    assert_eq!(saved.latest_version, None);
    assert_eq!(saved.draft, Some(first.clone()));

    let stamp = saved.draft_updated_at.clone().expect("draft stamp");
    let v1 = store
        .publish(NewVersion {
            id: ids.next_id(),
            key: "onboard",
            draft_updated_at: &stamp,
            document: &first,
            actor: "bob",
        })
        .await
        .expect("publish v1");
    assert_eq!(v1.version, 1);
    assert_eq!(v1.published_by, "bob");

    let after = store
        .definition("onboard")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(after.status, DefinitionStatus::Published);
    assert_eq!(after.latest_version, Some(1));
    assert_eq!(after.draft, None, "publishing consumes the draft");

    let second = doc("Onboard, reviewed");
    let saved = store
        .save_draft(draft("onboard", "Onboard, reviewed", &second))
        .await
        .expect("draft 2");
    let v2 = store
        .publish(NewVersion {
            id: ids.next_id(),
            key: "onboard",
            draft_updated_at: saved.draft_updated_at.as_deref().expect("stamp"),
            document: &second,
            actor: "bob",
        })
        .await
        .expect("publish v2");
    assert_eq!(v2.version, 2);

    // Versions stay frozen as published.
    let one = store
        .version("onboard", Some(1))
        .await
        .expect("v1")
        .expect("exists");
    assert_eq!(one.document, first);
    let latest = store
        .version("onboard", None)
        .await
        .expect("latest")
        .expect("exists");
    assert_eq!(latest.version, 2);
    assert_eq!(latest.document, second);
    let all: Vec<i32> = store
        .versions("onboard")
        .await
        .expect("versions")
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(all, vec![2, 1]);
    assert!(store
        .version("onboard", Some(3))
        .await
        .expect("v3")
        .is_none());
}

conformance!(
    a_draft_changed_after_checking_is_not_published,
    stale_publish
);
async fn stale_publish(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let first = doc("One");
    let checked = store
        .save_draft(draft("onboard", "One", &first))
        .await
        .expect("draft");
    // Someone saves again after the first draft was checked.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let second = doc("Two");
    store
        .save_draft(draft("onboard", "Two", &second))
        .await
        .expect("draft 2");
    let err = store
        .publish(NewVersion {
            id: IdGenerator::new(1).next_id(),
            key: "onboard",
            draft_updated_at: checked.draft_updated_at.as_deref().expect("stamp"),
            document: &first,
            actor: "bob",
        })
        .await
        .expect_err("stale");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let unchanged = store
        .definition("onboard")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(unchanged.latest_version, None, "nothing was half-written");
    assert_eq!(unchanged.draft, Some(second));
}

conformance!(archived_definitions_refuse_edits_until_restored, archive);
async fn archive(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let d = doc("One");
    store
        .save_draft(draft("onboard", "One", &d))
        .await
        .expect("draft");
    store.set_archived("onboard", true).await.expect("archive");
    let record = store
        .definition("onboard")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(record.status, DefinitionStatus::Archived);
    let err = store
        .save_draft(draft("onboard", "One", &d))
        .await
        .expect_err("archived");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    store.set_archived("onboard", false).await.expect("restore");
    store
        .save_draft(draft("onboard", "One", &d))
        .await
        .expect("editable again");
    let err = store
        .set_archived("missing", true)
        .await
        .expect_err("no such key");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

conformance!(the_list_filters_searches_and_pages, list);
async fn list(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let ids = IdGenerator::new(1);
    for (key, name) in [
        ("alpha", "Alpha flow"),
        ("beta", "Beta 100%"),
        ("gamma", "Gamma_x"),
    ] {
        let d = json!({"key": key, "name": name});
        let saved = store.save_draft(draft(key, name, &d)).await.expect("draft");
        if key != "gamma" {
            store
                .publish(NewVersion {
                    id: ids.next_id(),
                    key,
                    draft_updated_at: saved.draft_updated_at.as_deref().expect("stamp"),
                    document: &d,
                    actor: "bob",
                })
                .await
                .expect("publish");
        }
    }
    store.set_archived("beta", true).await.expect("archive");

    let query = |q: Option<&str>, status, limit, offset| DefinitionQuery {
        q: q.map(str::to_owned),
        status,
        visible_to: None,
        limit,
        offset,
    };
    let all = store
        .list_definitions(&query(None, None, 10, 0))
        .await
        .expect("all");
    assert_eq!(all.total, 3);
    let page = store
        .list_definitions(&query(None, None, 2, 2))
        .await
        .expect("page");
    assert_eq!((page.items.len(), page.total), (1, 3));

    let published = store
        .list_definitions(&query(None, Some(DefinitionStatus::Published), 10, 0))
        .await
        .expect("published");
    let keys: Vec<&str> = published.items.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(keys, vec!["alpha"]);

    let drafts = store
        .list_definitions(&query(None, Some(DefinitionStatus::Draft), 10, 0))
        .await
        .expect("drafts");
    assert_eq!(drafts.items.len(), 1);
    assert!(drafts.items[0].has_draft);

    // Search is case-insensitive, and % and _ are plain characters.
    let found = store
        .list_definitions(&query(Some("ALPHA"), None, 10, 0))
        .await
        .expect("q");
    assert_eq!(found.total, 1);
    let percent = store
        .list_definitions(&query(Some("100%"), None, 10, 0))
        .await
        .expect("q");
    assert_eq!(percent.items.len(), 1);
    assert_eq!(percent.items[0].key, "beta");
    let underscore = store
        .list_definitions(&query(Some("a_x"), None, 10, 0))
        .await
        .expect("q");
    assert_eq!(underscore.total, 1);
    let none = store
        .list_definitions(&query(Some("_a"), None, 10, 0))
        .await
        .expect("q");
    assert_eq!(none.total, 0);

    // Tags are listed and searched.
    let tags = vec!["billing".to_string(), "eu-west".to_string()];
    let d = json!({"key": "delta", "name": "Delta", "tags": tags});
    store
        .save_draft(NewDraft {
            tags: &tags,
            ..draft("delta", "Delta", &d)
        })
        .await
        .expect("draft");
    let tagged = store
        .list_definitions(&query(Some("EU-WEST"), None, 10, 0))
        .await
        .expect("q");
    assert_eq!(tagged.total, 1);
    assert_eq!(tagged.items[0].tags, tags);
    let untagged = store
        .list_definitions(&query(Some("alpha"), None, 10, 0))
        .await
        .expect("q");
    assert!(untagged.items[0].tags.is_empty());
}
