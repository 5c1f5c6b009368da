//! The Activiti provisioning engine surface (reference 001) under `/activiti`: the document's
//! requests and the shapes of its answers; start by key, model and deployment; tasks with the
//! executor phase vocabulary; cancel and delete; debug-mode re-run and resume; Spring errors.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{eventually, keys, sorted, spawn_app, TestApp};

/// Waits until the process's `processStatus` is `status`; returns the process.
async fn until_status(app: &TestApp, token: Option<&str>, id: &str, status: &str) -> Value {
    eventually(&format!("the process is {status}"), || async {
        let (_, body) = app
            .call(Method::GET, &format!("/activiti/process/{id}"), token, None)
            .await;
        (body["processStatus"] == status).then_some(body)
    })
    .await
}

const PROCESS: [&str; 17] = [
    "id",
    "processInstanceId",
    "modelId",
    "modelKey",
    "processName",
    "processType",
    "processStatus",
    "processContent",
    "startTime",
    "endTime",
    "activitiFileId",
    "outputs",
    "nativeOutputs",
    "rollbackProcessInstanceId",
    "cancelProcessInstanceId",
    "deleteProcessInstanceId",
    "id",
];

fn provision() -> Value {
    json!({"key": "provision", "name": "Provision a machine",
           "nodes": [{"id": "start", "kind": "start"},
                     {"id": "machine", "name": "machine", "kind": "script", "script": "`made ${input.regionId}`",
                      "input_mappings": [{"source": "$.context.regionId", "target": "$.input.regionId"}]},
                     {"id": "end", "kind": "end"}],
           "edges": [{"from": "start", "to": "machine"}, {"from": "machine", "to": "end"}]})
}

#[tokio::test]
async fn activiti_examples_and_flows() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.publish(&admin, provision()).await;
    let token = Some(admin.as_str());

    // POST /process by key, with the document's body shape.
    let (status, started) = app.call(Method::POST, "/activiti/process", token, Some(json!({
        "key": "provision", "processName": "test",
        "variables": {"projectId": "11111", "regionId": "bcc", "master-1a": {"instanceType": "m2.large"}, "SipRS::Mock": true}}))).await;
    assert_eq!(status, 200, "{started}");
    let mut expected = PROCESS.to_vec();
    expected.dedup();
    assert_eq!(keys(&started), sorted(&expected[..16]));
    assert_eq!(
        (started["processName"].clone(), started["modelKey"].clone()),
        (json!("test"), json!("provision"))
    );
    let content: Value =
        serde_json::from_str(started["processContent"].as_str().expect("text")).expect("json");
    assert_eq!(content["regionId"], "bcc");
    let id = started["processInstanceId"]
        .as_str()
        .expect("id")
        .to_string();

    // GET /process/{processInstanceId} until it succeeds.
    let done = until_status(&app, token, &id, "success").await;
    assert!(chrono::NaiveDateTime::parse_from_str(
        done["startTime"].as_str().expect("time"),
        "%Y-%m-%d %H:%M:%S"
    )
    .is_ok());
    assert!(done["endTime"].is_string());

    // GET /task?processInstanceId=
    let (status, tasks) = app
        .call(
            Method::GET,
            &format!("/activiti/task?processInstanceId={id}"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let machine = tasks
        .as_array()
        .and_then(|t| t.iter().find(|t| t["namespace"] == "machine"))
        .cloned()
        .expect("machine task");
    assert_eq!(
        keys(&machine),
        sorted(&[
            "id",
            "processInstanceId",
            "taskId",
            "name",
            "namespace",
            "stone",
            "createTime",
            "endTime",
            "status",
            "reason",
            "params",
            "outputs",
            "progress"
        ])
    );
    assert_eq!(
        (
            machine["status"].clone(),
            machine["stone"].clone(),
            machine["name"].clone()
        ),
        (json!("monitor.success"), json!("script"), json!("machine"))
    );
    assert_eq!(machine["outputs"], json!("\"made bcc\""));
    let task_id = machine["taskId"].as_str().expect("task id").to_string();
    // GET /task/{taskId}
    let (status, one) = app
        .call(
            Method::GET,
            &format!("/activiti/task/{task_id}"),
            token,
            None,
        )
        .await;
    assert_eq!((status, one["taskId"].clone()), (200, json!(task_id)));

    // By deploymentId (key@version) and by modelId.
    for body in [
        json!({"deploymentId": "provision@1", "processName": "d", "variables": {}}),
        json!({"modelId": "provision", "processName": "m", "variables": {}}),
    ] {
        let (status, answer) = app
            .call(Method::POST, "/activiti/process", token, Some(body))
            .await;
        assert_eq!(status, 200, "{answer}");
    }

    // PUT /process/{id}/cancel on a process that waits.
    app.publish(&admin, json!({"key": "slow", "name": "Slow",
        "nodes": [{"id": "start", "kind": "start"}, {"id": "wait", "kind": "timer", "duration": "1h"}, {"id": "end", "kind": "end"}],
        "edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "end"}]})).await;
    let (_, slow) = app
        .call(
            Method::POST,
            "/activiti/process",
            token,
            Some(json!({"key": "slow", "processName": "s", "variables": {}})),
        )
        .await;
    let slow_id = slow["id"].as_str().expect("id").to_string();
    let (status, cancelled) = app
        .call(
            Method::PUT,
            &format!("/activiti/process/{slow_id}/cancel"),
            token,
            None,
        )
        .await;
    assert_eq!(
        (status, cancelled["processStatus"].clone()),
        (200, json!("canceled")),
        "{cancelled}"
    );
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/activiti/process/{slow_id}/delete"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200);

    // Debug mode: a failing task pauses the process; reRun runs it again; resume ends debug.
    app.publish(&admin, json!({"key": "fragile", "name": "Fragile",
        "nodes": [{"id": "start", "kind": "start"}, {"id": "boom", "kind": "script", "script": "throw \"no capacity\""}, {"id": "end", "kind": "end"}],
        "edges": [{"from": "start", "to": "boom"}, {"from": "boom", "to": "end"}]})).await;
    let (status, debugged) = app
        .call(
            Method::POST,
            "/api/v1/instances",
            Some(&admin),
            Some(json!({"definition_key": "fragile", "debug": true})),
        )
        .await;
    assert_eq!(status, 201, "{debugged}");
    let debug_id = debugged["id"].as_str().expect("id").to_string();
    until_status(&app, token, &debug_id, "debug").await;
    let (_, tasks) = app
        .call(
            Method::GET,
            &format!("/activiti/task?processInstanceId={debug_id}"),
            token,
            None,
        )
        .await;
    let boom = tasks
        .as_array()
        .and_then(|t| t.iter().find(|t| t["namespace"] == "boom"))
        .cloned()
        .expect("boom");
    assert_eq!(boom["status"], "monitor.failed");
    assert!(
        boom["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no capacity")),
        "{boom}"
    );
    let boom_id = boom["taskId"].as_str().expect("id").to_string();
    let (status, rerun) = app
        .call(
            Method::PUT,
            &format!("/activiti/task/{boom_id}/reRun"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{rerun}");
    until_status(&app, token, &debug_id, "debug").await;
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/activiti/task/{boom_id}/resume"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    until_status(&app, token, &debug_id, "failed").await;

    // Spring's error shape for bad input.
    for (method, path, body, status) in [
        (
            Method::POST,
            "/activiti/process",
            Some(json!({"processName": "x", "variables": {}})),
            400,
        ),
        (
            Method::POST,
            "/activiti/process",
            Some(json!({"key": "provision", "variables": {}})),
            400,
        ),
        (
            Method::POST,
            "/activiti/process",
            Some(json!({"key": "provision", "processName": "x", "variables": 3})),
            400,
        ),
        (
            Method::POST,
            "/activiti/process",
            Some(json!({"key": "nope", "processName": "x", "variables": {}})),
            404,
        ),
        (Method::GET, "/activiti/process/abc", None, 404),
        (
            Method::PUT,
            &format!("/activiti/process/{id}/explode"),
            None,
            400,
        ),
        (Method::GET, "/activiti/task", None, 400),
        (Method::GET, "/activiti/task/1.2", None, 404),
        (Method::GET, "/activiti/elsewhere", None, 404),
    ] {
        let (got, answer) = app.call(method.clone(), path, token, body).await;
        assert_eq!(got, status, "{method} {path}: {answer}");
        assert_eq!(
            keys(&answer),
            sorted(&["timestamp", "status", "error", "message"]),
            "{path}"
        );
        assert_eq!(answer["status"], status);
    }
    let (status, answer) = app
        .call(Method::GET, &format!("/activiti/process/{id}"), None, None)
        .await;
    assert_eq!((status, answer["status"].clone()), (401, json!(401)));
}
