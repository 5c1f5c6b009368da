//! Packages over real HTTP: the native API and the Encoo console's (direct upload, the preloaded
//! three-step upload, list with its filters, detail, PATCH with ETag, DELETE), robots fetching
//! package files (counted), bad uploads refused cleanly, robots bound to a workflow, and the
//! batch upgrade's result shape.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{keys, sorted, spawn_app, spawn_app_with, TestApp};
use engine::testing::{package_file, simple_package};

const PACKAGE: [&str; 18] = [
    "Id",
    "Name",
    "Description",
    "TotalDownloads",
    "LastVersion",
    "LastVersionId",
    "CreatedAt",
    "ModifiedAt",
    "CreatedBy",
    "CreatedByName",
    "ModifiedBy",
    "ModifiedByName",
    "Tags",
    "CompanyId",
    "DepartmentId",
    "IconUrl",
    "FullDescription",
    "Versions",
];

const VERSION: [&str; 17] = [
    "Id",
    "PackageId",
    "Version",
    "Description",
    "Arguments",
    "ETag",
    "UploadTime",
    "TotalDownloads",
    "CreatedAt",
    "ModifiedAt",
    "CreatedBy",
    "CreatedByName",
    "ModifiedBy",
    "ModifiedByName",
    "CompanyId",
    "DepartmentId",
    "FullDescription",
];

const UPLOADED: [&str; 4] = [
    "PackageId",
    "PackageVersionId",
    "PackageName",
    "LastVersion",
];

async fn put_package(app: &TestApp, token: &str, bytes: Vec<u8>) -> (u16, Value) {
    app.send_file(Method::PUT, "/openapi/packages", Some(token), bytes)
        .await
}

#[tokio::test]
async fn encoo_packages_upload_list_change_and_delete() {
    let app = spawn_app().await;
    let admin = app.admin().await;

    // PUT /openapi/packages: the document's answer.
    let (status, first) = put_package(&app, &admin, simple_package("invoice-bot", "1.9.0")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(keys(&first), sorted(&UPLOADED));
    assert_eq!(first["LastVersion"], "1.9.0");
    let id = first["PackageId"].as_str().expect("id").to_string();
    let (status, second) = put_package(&app, &admin, simple_package("invoice-bot", "1.10.0")).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        (second["PackageId"].as_str(), second["LastVersion"].as_str()),
        (Some(id.as_str()), Some("1.10.0"))
    );
    put_package(&app, &admin, simple_package("ledger", "0.1.0")).await;

    // The list: `{Count, List}`, filters and paging; versions only when asked.
    let get = |path: String| {
        let app = &app;
        let admin = admin.clone();
        async move { app.call(Method::GET, &path, Some(&admin), None).await }
    };
    let (status, list) = get("/openapi/packages".into()).await;
    assert_eq!((status, list["Count"].as_u64()), (200, Some(2)), "{list}");
    assert_eq!(keys(&list["List"][0]), sorted(&PACKAGE));
    assert_eq!(list["List"][0]["Name"], "ledger", "newest first by default");
    assert_eq!(list["List"][0]["Versions"], json!([]));
    let (_, list) =
        get("/openapi/packages?IncludeVersions=true&IsDesc=false&PageSize=1".into()).await;
    assert_eq!(list["Count"], 2);
    assert_eq!(list["List"].as_array().map(Vec::len), Some(1));
    let invoice = &list["List"][0];
    assert_eq!(invoice["Name"], "invoice-bot");
    assert_eq!(invoice["LastVersion"], "1.10.0");
    assert_eq!(keys(&invoice["Versions"][0]), sorted(&VERSION));
    assert_eq!(invoice["Versions"][0]["Version"], "1.10.0", "highest first");
    assert_eq!(invoice["Versions"][1]["Arguments"][0]["Name"], "Folder");
    let (_, found) = get("/openapi/packages?Name=LEDG".into()).await;
    assert_eq!(found["Count"], 1);
    let (_, none) = get("/openapi/packages?EndTime=2000-01-01T00:00:00Z".into()).await;
    assert_eq!(none["Count"], 0);
    let (status, bad) = get("/openapi/packages?StartTime=yesterday".into()).await;
    assert_eq!(status, 400);
    assert!(
        bad["Message"]
            .as_str()
            .is_some_and(|m| m.contains("StartTime")),
        "{bad}"
    );

    // Detail, then PATCH with the ETag (a stale one is refused, 412).
    let (status, detail) = get(format!("/openapi/packages/{id}")).await;
    assert_eq!(status, 200);
    let etag = detail["Versions"][0]["ETag"]
        .as_str()
        .expect("etag")
        .to_string();
    let (status, changed) = app
        .call(
            Method::PATCH,
            &format!("/openapi/packages/{id}"),
            Some(&admin),
            Some(json!({"ETag": etag, "Tags": ["finance", "daily"]})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["Tags"], json!(["finance", "daily"]));
    let (_, tagged) = get("/openapi/packages?SearchString=finance".into()).await;
    assert_eq!(tagged["Count"], 1, "SearchString matches tags");
    let (status, stale) = app
        .call(
            Method::PATCH,
            &format!("/openapi/packages/{id}"),
            Some(&admin),
            Some(json!({"ETag": etag, "Tags": []})),
        )
        .await;
    assert_eq!(status, 412, "{stale}");
    assert_eq!(keys(&stale), sorted(&["Code", "Message"]));
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/openapi/packages/{id}"),
            Some(&admin),
            Some(json!({"Tags": []})),
        )
        .await;
    assert_eq!(status, 400, "ETag is required");

    // A package a workflow uses cannot be deleted (400, the document's "referenced").
    let queue = app.queue_with_deployment(&admin, "q", "uses-p").await;
    let (status, workflow) = app
        .call(
            Method::POST,
            "/openapi/workflows",
            Some(&admin),
            Some(json!({"Name": "books", "PackageId": id, "AssociatedQueueId": queue})),
        )
        .await;
    assert_eq!(status, 200, "{workflow}");
    assert_eq!(
        workflow["PackageVersion"], "1.10.0",
        "no version named: the latest"
    );
    let (status, refused) = app
        .call(
            Method::DELETE,
            &format!("/openapi/packages/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    let workflow_id = workflow["Id"].as_str().expect("id");
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/openapi/workflows/{workflow_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/openapi/packages/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = get(format!("/openapi/packages/{id}")).await;
    assert_eq!(status, 404);

    // Only administrators manage packages.
    let operator = app.user("olga", &[engine::people::Role::Operator]).await;
    let (status, _) = put_package(&app, &operator, simple_package("x", "1")).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn bad_uploads_are_refused_cleanly() {
    // 1 MiB packages at most here.
    let app = spawn_app_with(|c| c.package_max_bytes = 1 << 20).await;
    let admin = app.admin().await;
    // Bytes that do not compress, so the file itself is over the limit.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..(1 << 20) + 1)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let big = package_file(
        &json!({"name": "big", "version": "1"}),
        &[("blob.bin", &noise)],
    );
    assert!(big.len() > 1 << 20);
    let outside = package_file(
        &json!({"name": "p", "version": "1"}),
        &[("../../evil.dll", b"x")],
    );
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("oversize", big, 413, "file"),
        (
            "not a zip",
            b"MZ this is a program, not a package".to_vec(),
            400,
            "file",
        ),
        ("empty", Vec::new(), 400, "file"),
        ("a path outside", outside, 400, "../../evil.dll"),
        (
            "a name climbing out",
            package_file(&json!({"name": "../p", "version": "1"}), &[]),
            400,
            "name",
        ),
        (
            "no manifest version",
            package_file(&json!({"name": "p"}), &[]),
            400,
            "package.json",
        ),
    ];
    for (what, bytes, status, named) in cases {
        for path in ["/api/v1/packages", "/openapi/packages"] {
            let method = if path.starts_with("/api") {
                Method::POST
            } else {
                Method::PUT
            };
            let (got, body) = app
                .send_file(method, path, Some(&admin), bytes.clone())
                .await;
            let message = format!("{} {} {}", body["field"], body["message"], body["Message"]);
            assert_eq!(got, status, "{what} at {path}: {body}");
            assert!(
                message.contains(named),
                "{what} at {path} names {named}: {body}"
            );
        }
    }
    // A version the package has already: 409, whatever the content.
    app.upload_package(&admin, "p", "1.0").await;
    let again = package_file(
        &json!({"name": "p", "version": "1.0", "description": "other"}),
        &[],
    );
    let (status, body) = app
        .send_file(
            Method::POST,
            "/api/v1/packages",
            Some(&admin),
            again.clone(),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let (status, _) = put_package(&app, &admin, again).await;
    assert_eq!(status, 409);
    // A JSON body is not a package file.
    let (status, body) = app
        .call(
            Method::PUT,
            "/openapi/packages",
            Some(&admin),
            Some(json!({"Name": "p"})),
        )
        .await;
    assert_eq!(status, 415, "{body}");
    // Nothing half-written: one package, one version.
    let (_, list) = app
        .call(Method::GET, "/api/v1/packages", Some(&admin), None)
        .await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(
        list["items"][0]["versions"].as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn the_preloaded_upload_takes_three_steps() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (status, channel) = app
        .call(
            Method::POST,
            "/openapi/preloadedVersionFiles",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(
        keys(&channel),
        sorted(&["Id", "Channel", "CreatedAt", "CompanyId", "DepartmentId"])
    );
    assert_eq!(
        channel["Channel"]["Headers"]["Content-Type"],
        "application/octet-stream"
    );
    let id = channel["Id"].as_str().expect("id").to_string();
    let uri = channel["Channel"]["Uri"].as_str().expect("uri").to_string();
    assert!(uri.starts_with(&app.address), "{uri}");

    // Completing before a file was put is refused; the channel stays.
    let complete = format!("/openapi/preloadedVersionFiles/{id}");
    let (status, body) = app.call(Method::PATCH, &complete, Some(&admin), None).await;
    assert_eq!(status, 400, "{body}");

    // The channel takes the file with its signature and no Authorization; a wrong one is refused.
    let put = |url: String, bytes: Vec<u8>| {
        let client = app.client.clone();
        async move {
            client
                .put(url)
                .header("Content-Type", "application/octet-stream")
                .body(bytes)
                .send()
                .await
                .expect("put")
                .status()
                .as_u16()
        }
    };
    let forged = uri.replace("signature=", "signature=x");
    assert_eq!(put(forged, simple_package("loader", "2.0.0")).await, 403);
    // A bad file first: completing refuses it and the channel stays open for a better one.
    assert_eq!(put(uri.clone(), b"not a zip".to_vec()).await, 204);
    let (status, body) = app.call(Method::PATCH, &complete, Some(&admin), None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        put(uri.clone(), simple_package("loader", "2.0.0")).await,
        204
    );
    let (status, done) = app.call(Method::PATCH, &complete, Some(&admin), None).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(keys(&done), sorted(&UPLOADED));
    assert_eq!(
        (done["PackageName"].as_str(), done["LastVersion"].as_str()),
        (Some("loader"), Some("2.0.0"))
    );
    // The channel is closed now.
    assert_eq!(put(uri, simple_package("loader", "2.0.1")).await, 404);
    let (status, _) = app.call(Method::PATCH, &complete, Some(&admin), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn workflows_bind_robots_and_upgrade_to_the_latest_package() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let queue = app.queue_with_deployment(&admin, "printers", "first").await;
    let (status, other_queue) = app
        .call(
            Method::POST,
            "/api/v1/queues",
            Some(&admin),
            Some(json!({"name": "others"})),
        )
        .await;
    assert_eq!(status, 201);
    let mut robots = Vec::new();
    for (name, queue_id) in [
        ("r1", queue.as_str()),
        ("r2", queue.as_str()),
        ("far", other_queue["id"].as_str().expect("id")),
    ] {
        let (status, made) = app
            .call(
                Method::POST,
                "/api/v1/robots",
                Some(&admin),
                Some(json!({"name": name, "queue_id": queue_id})),
            )
            .await;
        assert_eq!(status, 201, "{made}");
        robots.push(made["robot"]["id"].as_str().expect("id").to_string());
    }
    let (_, deployments) = app
        .call(Method::GET, "/api/v1/deployments", Some(&admin), None)
        .await;
    let first = deployments["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();

    // Bind: one answer per robot; a robot of another group and an unknown one are not bound.
    let path = format!("/openapi/workflows/{first}/robots");
    let (status, bound) = app
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(json!({"RobotIds": [robots[0], robots[2], "nobody"]})),
        )
        .await;
    assert_eq!(status, 200, "{bound}");
    assert_eq!(
        keys(&bound[0]),
        sorted(&["WorkflowId", "RobotId", "ErrorMessage"])
    );
    assert_eq!(bound[0]["ErrorMessage"], Value::Null);
    assert!(
        bound[1]["ErrorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("group")),
        "{bound}"
    );
    assert!(
        bound[2]["ErrorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("nobody")),
        "{bound}"
    );
    let (status, list) = app.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!((status, list["Count"].as_u64()), (200, Some(1)), "{list}");
    assert_eq!(list["List"][0]["Name"], "r1");
    let (_, native) = app
        .call(
            Method::GET,
            &format!("/api/v1/deployments/{first}/robots"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(native["total"], 1);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("{path}/{}", robots[0]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("{path}/{}", robots[0]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // Batch upgrade: the document's shape; on the latest already is a warning, unknown is missing.
    app.upload_package(&admin, "p", "1.1").await;
    let upgrade = |ids: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.call(
                Method::POST,
                "/openapi/workflows/batch/upgrade",
                Some(&admin),
                Some(json!({"WorkflowIds": ids})),
            )
            .await
        }
    };
    let (status, result) = upgrade(json!([first, "nope"])).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(
        keys(&result),
        sorted(&[
            "Total",
            "SuccessCount",
            "FailureCount",
            "MissingCount",
            "FailedList",
            "WarningList"
        ])
    );
    assert_eq!(
        (
            result["Total"].as_u64(),
            result["SuccessCount"].as_u64(),
            result["FailureCount"].as_u64(),
            result["MissingCount"].as_u64()
        ),
        (Some(2), Some(1), Some(0), Some(1)),
        "{result}"
    );
    let (_, workflow) = app
        .call(
            Method::GET,
            &format!("/openapi/workflows/{first}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(workflow["PackageVersion"], "1.1");
    let (_, again) = upgrade(json!([first])).await;
    assert_eq!(again["SuccessCount"], 1);
    assert_eq!(
        keys(&again["WarningList"][0]),
        sorted(&["Id", "Name", "Message"])
    );
    assert!(again["WarningList"][0]["Message"]
        .as_str()
        .is_some_and(|m| m.contains("latest")));

    // Downloads are counted per version and per package.
    let (_, made) = app
        .call(
            Method::POST,
            "/api/v1/robots",
            Some(&admin),
            Some(json!({"name": "fetcher", "queue_id": queue})),
        )
        .await;
    let robot_token = made["token"].as_str().expect("token").to_string();
    for _ in 0..2 {
        let response = app
            .client
            .get(app.url("/api/v1/workers/packages/p/1.1"))
            .bearer_auth(&robot_token)
            .send()
            .await
            .expect("download");
        assert_eq!(response.status(), 200);
    }
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/workers/packages/p/1.1",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 401, "a person's token is not a robot's");
    let (_, package) = app
        .call(
            Method::GET,
            "/openapi/packages?Name=p&IncludeVersions=true",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(package["List"][0]["TotalDownloads"], 2, "{package}");
    assert_eq!(package["List"][0]["Versions"][0]["TotalDownloads"], 2);
    assert_eq!(package["List"][0]["Versions"][1]["TotalDownloads"], 0);
}
