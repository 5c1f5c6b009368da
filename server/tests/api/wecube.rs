//! The WeCube surface (reference 000): the document's example requests, sent as written, and
//! their answers' shapes; then its flow — list → root entities → preview → bindings → start →
//! poll to Completed — and the instance seen through the native API too.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{keys, sorted, spawn_app};
use crate::preview::{deploy_catalog, workflow};

async fn get(app: &crate::helpers::TestApp, token: Option<&str>, path: &str) -> (u16, Value) {
    app.call(Method::GET, path, token, None).await
}

fn envelope_ok(body: &Value) {
    assert_eq!(
        (body["status"].as_str(), body["message"].as_str()),
        (Some("OK"), Some("Success")),
        "{body}"
    );
}

#[tokio::test]
async fn wecube_examples_and_flow() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    deploy_catalog(&app, &admin).await;
    app.publish(&admin, workflow()).await;

    // GET /platform/v1/process/definitions?includeDraft=0&permission=USE
    let (status, list) = get(
        &app,
        Some(&admin),
        "/platform/v1/process/definitions?includeDraft=0&permission=USE",
    )
    .await;
    assert_eq!(status, 200);
    envelope_ok(&list);
    let def = list["data"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["procDefKey"] == "deploy"))
        .cloned()
        .expect("listed");
    assert_eq!(
        keys(&def),
        sorted(&[
            "procDefId",
            "procDefKey",
            "procDefName",
            "procDefVersion",
            "status",
            "procDefData",
            "rootEntity",
            "createdTime",
            "excludeMode",
            "tags"
        ])
    );
    assert_eq!(
        (
            def["status"].clone(),
            def["procDefVersion"].clone(),
            def["rootEntity"].clone()
        ),
        (json!("deployed"), json!("1"), json!("cmdb:subsys"))
    );
    let created = def["createdTime"].as_str().expect("time");
    assert!(
        chrono::NaiveDateTime::parse_from_str(created, "%Y-%m-%d %H:%M:%S").is_ok(),
        "{created}"
    );
    let proc_def_id = def["procDefId"].as_str().expect("id").to_string();

    // GET /platform/v1/process/definitions/{procDefId}/root-entities
    let (status, roots) = get(
        &app,
        Some(&admin),
        &format!("/platform/v1/process/definitions/{proc_def_id}/root-entities"),
    )
    .await;
    assert_eq!(status, 200);
    envelope_ok(&roots);
    let root = roots["data"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["guid"] == "s1"))
        .cloned()
        .expect("s1");
    assert_eq!(
        (root["id"].clone(), root["displayName"].clone()),
        (json!("s1"), json!("Gateway"))
    );

    // GET /platform/v1/process/definitions/{procDefId}/preview/entities/{rootEntityId}
    let (status, preview) = get(
        &app,
        Some(&admin),
        &format!("/platform/v1/process/definitions/{proc_def_id}/preview/entities/s1"),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    envelope_ok(&preview);
    let session = preview["data"]["processSessionId"]
        .as_str()
        .expect("session")
        .to_string();
    let first = &preview["data"]["entityTreeNodes"][0];
    assert_eq!(
        keys(first),
        sorted(&[
            "packageName",
            "entityName",
            "dataId",
            "displayName",
            "fullDataId",
            "entityData",
            "id",
            "previousIds",
            "succeedingIds"
        ])
    );
    assert_eq!(
        (
            first["packageName"].clone(),
            first["entityName"].clone(),
            first["id"].clone()
        ),
        (json!("cmdb"), json!("subsys"), json!("cmdb:subsys:s1"))
    );

    // GET /platform/v1/process/instances/tasknodes/session/{sessionId}/tasknode-bindings
    let (status, binds) = get(
        &app,
        Some(&admin),
        &format!("/platform/v1/process/instances/tasknodes/session/{session}/tasknode-bindings"),
    )
    .await;
    assert_eq!(status, 200);
    envelope_ok(&binds);
    let binds = binds["data"].as_array().cloned().expect("bindings");
    assert_eq!(
        keys(&binds[0]),
        sorted(&[
            "nodeDefId",
            "orderedNo",
            "entityTypeId",
            "entityDataId",
            "bound"
        ])
    );
    assert_eq!(
        (
            binds[0]["nodeDefId"].clone(),
            binds[0]["orderedNo"].clone(),
            binds[0]["bound"].clone()
        ),
        (json!("units"), json!("2"), json!("Y"))
    );

    // POST /platform/v1/process/instances, the document's body with u1 left out.
    let task_node_binds: Vec<Value> = binds
        .iter()
        .map(|b| json!({"entityDataId": b["entityDataId"], "entityTypeId": b["entityTypeId"], "nodeDefId": b["nodeDefId"], "orderedNo": b["orderedNo"],
                        "bound": if b["entityDataId"] == "u1" { "N" } else { "Y" }}))
        .collect();
    let response = app.client.post(app.url("/platform/v1/process/instances")).bearer_auth(&admin)
        .json(&json!({"entityDataId": "s1", "processSessionId": session, "entityDisplayName": "Gateway",
                      "entityTypeId": "cmdb:subsys", "procDefId": proc_def_id, "taskNodeBinds": task_node_binds}))
        .send().await.expect("start");
    assert_eq!(response.status(), 200);
    let started: Value = response.json().await.expect("json");
    envelope_ok(&started);
    let data = &started["data"];
    assert_eq!(
        keys(data),
        sorted(&[
            "id",
            "procInstKey",
            "operator",
            "status",
            "procDefId",
            "procDefKey",
            "entityTypeId",
            "entityDataId",
            "taskNodeInstances"
        ])
    );
    assert!(data["id"].is_i64());
    assert!(["InProgress", "Completed"].contains(&data["status"].as_str().unwrap_or_default()));
    let node = &data["taskNodeInstances"][1];
    assert_eq!(
        keys(node),
        sorted(&[
            "nodeId",
            "nodeName",
            "nodeType",
            "nodeDefId",
            "status",
            "orderedNo",
            "procDefId",
            "procDefKey",
            "routineExpression",
            "taskCategory",
            "serviceId",
            "dynamicBind",
            "description",
            "previousNodeIds",
            "succeedingNodeIds",
            "procInstId",
            "procInstKey",
            "id"
        ])
    );
    assert_eq!(
        (node["nodeType"].clone(), node["previousNodeIds"].clone()),
        (json!("subProcess"), json!(["start"]))
    );
    let id = data["id"].as_i64().expect("id");

    // GET /platform/v1/process/instances/{id}, polled to Completed.
    let mut finished = Value::Null;
    for _ in 0..200 {
        let (status, body) = get(
            &app,
            Some(&admin),
            &format!("/platform/v1/process/instances/{id}"),
        )
        .await;
        assert_eq!(status, 200);
        if body["data"]["status"] == "Completed" {
            finished = body;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    envelope_ok(&finished);
    assert_eq!(finished["data"]["entityDataId"], "s1");
    assert!(finished["data"]["taskNodeInstances"]
        .as_array()
        .expect("nodes")
        .iter()
        .all(|n| n["status"] == "Completed"));

    // The same instance through the native API: the unit left out did not run.
    let (status, native) = app
        .call(
            Method::GET,
            &format!("/api/v1/instances/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let units = native["node_runs"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["node_id"] == "units"))
        .expect("run");
    assert_eq!(
        units["output"]["entities"].as_array().map(Vec::len),
        Some(1)
    );

    // Bad input gets WeCube's error shape.
    for (path, token, status) in [
        (
            "/platform/v1/process/definitions",
            Some(admin.as_str()),
            400,
        ),
        ("/platform/v1/process/definitions?permission=USE", None, 401),
        (
            "/platform/v1/process/definitions/nope@1/root-entities",
            Some(admin.as_str()),
            404,
        ),
        (
            "/platform/v1/process/definitions/deploy/root-entities",
            Some(admin.as_str()),
            404,
        ),
        (
            "/platform/v1/process/instances/abc",
            Some(admin.as_str()),
            400,
        ),
        (
            "/platform/v1/process/instances/tasknodes/session/nope/tasknode-bindings",
            Some(admin.as_str()),
            422,
        ),
        ("/platform/v1/nowhere", Some(admin.as_str()), 404),
    ] {
        let (got, body) = get(&app, token, path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(body["status"], "ERROR", "{path}: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{path}"
        );
        assert!(body["data"].is_null());
    }
    let bad_json = app
        .client
        .post(app.url("/platform/v1/process/instances"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .expect("post");
    assert_eq!(bad_json.status(), 400);
    let body: Value = bad_json.json().await.expect("json");
    assert_eq!(body["status"], "ERROR");
}
