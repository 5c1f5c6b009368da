//! Packages on both databases: versions, the latest, files kept once per content, downloads
//! counted, ETag-guarded changes, deletes refused while a deployment uses the package, preloaded
//! uploads, and robots bound to a deployment being the only ones to get its jobs.

use std::sync::Arc;

use chrono::Utc;
use engine::service::packages::{add_package, read_package, PackageError};
use engine::status::Backend;
use engine::store::{
    version_order, NewDeployment, NewJob, NewQueue, NewRobot, NewUpload, PackageChange, Store,
    StoreError, TriggerPolicy,
};
use engine::testing::{package_file, simple_package, TestDatabase};
use serde_json::json;

use crate::{conformance, open};

#[test]
fn versions_are_ordered_as_people_number_them() {
    use std::cmp::Ordering::*;
    assert_eq!(version_order("1.10.0", "1.9.2"), Greater);
    assert_eq!(version_order("2.0", "2.0-beta"), Greater);
    assert_eq!(version_order("2.0-beta", "2.0"), Less);
    assert_eq!(version_order("1.0.1", "1.0"), Greater);
    assert_eq!(version_order("1.0", "1.0"), Equal);
    assert_eq!(version_order("1.0.0-rc.2", "1.0.0-rc.10"), Less);
}

fn refused_on(result: Result<impl std::fmt::Debug, PackageError>, field: &str) -> String {
    match result {
        Err(PackageError::Invalid { field: f, message }) => {
            assert!(f.starts_with(field), "{f}: {message}");
            message
        }
        other => panic!("expected a refusal of {field}, got {other:?}"),
    }
}

#[test]
fn package_files_are_checked_before_anything_is_kept() {
    let manifest = read_package(&simple_package("invoice-bot", "1.2.0")).expect("a package");
    assert_eq!(manifest.name, "invoice-bot");
    assert_eq!(manifest.version, "1.2.0");
    assert_eq!(manifest.arguments.len(), 2);
    assert_eq!(
        manifest.arguments[0].default_value.as_deref(),
        Some("C:/in")
    );

    refused_on(read_package(b""), "file");
    refused_on(read_package(b"MZ\x90\x00 this is an exe"), "file");
    let outside = package_file(
        &json!({"name": "p", "version": "1.0"}),
        &[("../evil.dll", b"x")],
    );
    let why = refused_on(read_package(&outside), "file");
    assert!(why.contains("../evil.dll"), "{why}");
    let absolute = package_file(&json!({"name": "p", "version": "1.0"}), &[("/etc/x", b"x")]);
    refused_on(read_package(&absolute), "file");
    let no_manifest = {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file("main.xaml", zip::write::SimpleFileOptions::default())
            .expect("entry");
        zip.write_all(b"x").expect("write");
        zip.finish().expect("finish").into_inner()
    };
    refused_on(read_package(&no_manifest), "package.json");
    for (manifest, field) in [
        (
            json!({"name": "../up", "version": "1.0"}),
            "package.json: name",
        ),
        (
            json!({"name": "a/b", "version": "1.0"}),
            "package.json: name",
        ),
        (
            json!({"name": "p", "version": "../1"}),
            "package.json: version",
        ),
        (json!({"name": "p"}), "package.json"),
        (
            json!({"name": "p", "version": "1", "arguments": [{"name": "x", "direction": "Up"}]}),
            "package.json: arguments[0].direction",
        ),
    ] {
        refused_on(read_package(&package_file(&manifest, &[])), field);
    }
}

async fn queue_and_robots(store: &Arc<dyn Store>, robots: &[&str]) {
    store
        .create_queue(NewQueue {
            id: "q",
            name: "q",
            description: "",
            tags: &[],
            department_id: None,
            created_by: "admin",
        })
        .await
        .expect("queue");
    for robot in robots {
        store
            .create_robot(NewRobot {
                id: robot,
                name: robot,
                description: "",
                queue_id: Some("q"),
                token_hash: &format!("hash-{robot}"),
            })
            .await
            .expect("robot");
        store
            .heartbeat(robot, None, Utc::now())
            .await
            .expect("heartbeat");
    }
}

async fn deploy(store: &Arc<dyn Store>, id: &str, package: &str, version: &str) {
    store
        .create_deployment(NewDeployment {
            id,
            name: id,
            description: "",
            package_name: package,
            package_version: version,
            queue_id: "q",
            arguments: &json!({}),
            priority: 2000,
            max_retries: 0,
            trigger_policy: TriggerPolicy::AnyTime,
            department_id: None,
            created_by: "admin",
        })
        .await
        .expect("deployment");
}

conformance!(package_versions_are_kept_counted_and_guarded, versions);
async fn versions(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let first = simple_package("invoice-bot", "1.9.2");
    let (package, first_id) = add_package(store.as_ref(), &first, None, "admin")
        .await
        .expect("first version");
    assert_eq!(package.versions.len(), 1);
    assert_eq!(package.versions[0].id, first_id);
    let second = simple_package("invoice-bot", "1.10.0");
    let (package, _) = add_package(store.as_ref(), &second, None, "admin")
        .await
        .expect("second version");
    let latest = package.latest().expect("a latest version");
    assert_eq!(latest.version, "1.10.0", "numbers compare by value");
    assert_eq!(package.versions.len(), 2);

    // The same version again is refused, whatever the content.
    let again = add_package(
        store.as_ref(),
        &simple_package("invoice-bot", "1.9.2"),
        None,
        "a",
    )
    .await;
    assert!(
        matches!(again, Err(PackageError::Store(StoreError::Conflict(_)))),
        "{again:?}"
    );
    assert_eq!(store.packages().await.expect("list")[0].versions.len(), 2);

    // Downloads are counted per version and per package.
    for _ in 0..3 {
        let (version, bytes) = store
            .download_package(&package.id, "1.9.2")
            .await
            .expect("download")
            .expect("the version");
        assert_eq!(bytes, first);
        assert_eq!(version.version, "1.9.2");
    }
    store
        .download_package("invoice-bot", "1.10.0")
        .await
        .expect("download by name")
        .expect("the version");
    assert!(store
        .download_package("invoice-bot", "9.9")
        .await
        .expect("no such version")
        .is_none());
    let counted = store
        .package("invoice-bot")
        .await
        .expect("read")
        .expect("it");
    assert_eq!(counted.total_downloads, 4);
    let old = counted.versions.iter().find(|v| v.version == "1.9.2");
    assert_eq!(old.map(|v| v.total_downloads), Some(3));

    // Changes need the current ETag.
    let stale = store
        .update_package(
            &package.id,
            PackageChange {
                etag: "not-it",
                tags: Some(&["finance".to_string()]),
                modified_by: "admin",
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let changed = store
        .update_package(
            &package.id,
            PackageChange {
                etag: &counted.etag,
                tags: Some(&["finance".to_string()]),
                modified_by: "ops",
                ..Default::default()
            },
        )
        .await
        .expect("change");
    assert_eq!(changed.tags, vec!["finance".to_string()]);
    assert_ne!(changed.etag, counted.etag);
    assert_eq!(changed.modified_by, "ops");

    // A package a deployment uses cannot go; once it is unused it goes with its files.
    queue_and_robots(&store, &[]).await;
    deploy(&store, "books", "invoice-bot", "1.10.0").await;
    let refused = store.delete_package(&package.id).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    store.delete_deployment("books").await.expect("undeploy");
    store.delete_package(&package.id).await.expect("delete");
    assert!(store.package(&package.id).await.expect("read").is_none());
    assert!(store
        .download_package("invoice-bot", "1.10.0")
        .await
        .expect("read")
        .is_none());
    let gone = store.delete_package(&package.id).await;
    assert!(matches!(gone, Err(StoreError::NotFound(_))), "{gone:?}");
    store.close().await;
}

conformance!(a_preloaded_upload_is_opened_filled_and_closed, preloaded);
async fn preloaded(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let upload = store
        .open_upload(NewUpload {
            id: "u1",
            secret_hash: "h",
            department_id: None,
            created_by: "admin",
        })
        .await
        .expect("open");
    assert_eq!(upload.sha256, None);
    assert!(store.upload_content("u1").await.expect("read").is_none());
    let file = simple_package("loader", "1.0.0");
    store
        .fill_upload("u1", "not-the-real-hash", b"a first try")
        .await
        .expect("fill");
    store.fill_upload("u1", "abc", &file).await.expect("refill");
    assert_eq!(
        store.upload_content("u1").await.expect("read"),
        Some(file.clone())
    );
    assert_eq!(
        store
            .package_upload("u1")
            .await
            .expect("read")
            .and_then(|u| u.sha256),
        Some("abc".to_string())
    );
    store.close_upload("u1").await.expect("close");
    assert!(store.package_upload("u1").await.expect("read").is_none());
    let missing = store.fill_upload("u1", "abc", &file).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    store.close().await;
}

conformance!(robots_bound_to_a_deployment_alone_get_its_jobs, bound);
async fn bound(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    queue_and_robots(&store, &["r1", "r2"]).await;
    deploy(&store, "free", "p", "1").await;
    deploy(&store, "tied", "p", "1").await;
    store
        .bind_robots("tied", &["r2".to_string(), "r2".to_string()])
        .await
        .expect("bind (twice is once)");
    let unknown = store.bind_robots("tied", &["nobody".to_string()]).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    let robots = store.deployment_robots("tied").await.expect("robots");
    assert_eq!(
        robots.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["r2"]
    );
    let since = Utc::now() - chrono::Duration::minutes(1);
    assert_eq!(store.ready_robots("tied", since).await.expect("ready"), 1);
    assert_eq!(store.ready_robots("free", since).await.expect("ready"), 2);

    for (id, deployment, priority) in [("j-tied", "tied", 5000), ("j-free", "free", 1)] {
        store
            .create_job(&NewJob {
                id: id.into(),
                deployment_id: deployment.into(),
                queue_id: "q".into(),
                instance_id: None,
                node_id: None,
                callback_hash: None,
                arguments: json!({}),
                priority,
                max_retries: 0,
            })
            .await
            .expect("job");
    }
    let until = Utc::now() + chrono::Duration::minutes(1);
    // r1 skips the higher-priority job of the deployment bound to r2.
    let r1 = store
        .claim_job("r1", Utc::now(), until)
        .await
        .expect("claim");
    assert_eq!(r1.map(|j| j.id).as_deref(), Some("j-free"));
    let r2 = store
        .claim_job("r2", Utc::now(), until)
        .await
        .expect("claim");
    assert_eq!(r2.map(|j| j.id).as_deref(), Some("j-tied"));

    store.unbind_robot("tied", "r2").await.expect("unbind");
    let again = store.unbind_robot("tied", "r2").await;
    assert!(matches!(again, Err(StoreError::NotFound(_))), "{again:?}");
    assert!(store
        .deployment_robots("tied")
        .await
        .expect("robots")
        .is_empty());
    store.close().await;
}
