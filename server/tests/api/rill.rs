//! Rill Flow's surface (reference 003) under `/flow`: the document's requests and the shapes of
//! its answers; add descriptor → submit → finish the async task → get shows SUCCEED and 100;
//! the submit's callback URL is called when the execution ends; its refusals.

use engine::testing::Receiver;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{eventually, keys, sorted, spawn_app_with, TestApp};

/// The document's descriptor, with `startNode` calling `url` and an async `approveNode` after
/// it that calls `url` too and waits for `finish.json`.
fn descriptor(url: &str) -> String {
    format!(
        r#"---
version: 20230829
workspace: demoFlowTest
dagName: demoTest
type: flow
tasks:
- category: function
  name: startNode
  next: approveNode,endNode
  resourceName: {url}/flow/sample/start_node.json
  pattern: task_sync
  inputMappings:
  - target: $.input.right
    source: $.context.right
  - target: $.input.left
    source: $.context.left
  outputMappings:
  - target: $.context.result_number
    source: $.output.received.left
- category: function
  name: approveNode
  resourceName: {url}/flow/sample/approve.json
  pattern: task_async
  inputMappings:
  - target: $.input.number
    source: $.context.result_number
  outputMappings:
  - target: $.context.approved_by
    source: $.output.approved_by
- category: function
  name: endNode
  resourceName: {url}/flow/sample/end_node.json
  pattern: task_sync
  inputMappings:
  - target: $.input.result_number
    source: $.context.result_number
  - target: $.input.expect_number
    source: $.context.result_number
"#
    )
}

async fn add(app: &TestApp, token: &str, query: &str, yaml: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(&format!(
            "/flow/bg/manage/descriptor/add_descriptor.json?{query}"
        )))
        .bearer_auth(token)
        .header("content-type", "text/plain")
        .body(yaml.to_string())
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, token: &str, id: &str, brief: bool) -> Value {
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/flow/get.json?execution_id={id}&brief={brief}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn rill_examples_and_flow() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(|c| c.http_allow = vec!["127.0.0.0/8".parse().expect("net")]).await;
    let admin = app.admin().await;
    let base = format!("http://{}", receiver.addr);

    let (status, added) = add(
        &app,
        &admin,
        "business_id=demoFlowTest&feature_name=demoFlowTest&alias=release",
        &descriptor(&base),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(keys(&added), sorted(&["ret", "descriptor_id"]));
    assert_eq!(added["ret"], true);
    assert_eq!(added["descriptor_id"], "demoFlowTest:demoTest:release");

    // The document's submit, at the example's own path (/2/flow/...), with a callback.
    let (status, submitted) = app
        .call(
            Method::POST,
            &format!(
                "/2/flow/submit.json?descriptor_id=demoFlowTest:demoTest&callback={base}/done"
            ),
            Some(&admin),
            Some(json!({"left": 512, "right": 512})),
        )
        .await;
    assert_eq!(status, 200, "{submitted}");
    assert_eq!(keys(&submitted), sorted(&["execution_id"]));
    let id = submitted["execution_id"].as_str().expect("id").to_string();

    // The async task was called with its input and passthrough, and waits.
    let call = eventually("the async task is called", || async {
        receiver
            .received()
            .into_iter()
            .find(|r| r.path == "/flow/sample/approve.json")
    })
    .await;
    assert_eq!(call.body["input"], json!({"number": 512}));
    assert_eq!(call.body["passthrough"]["execution_id"], json!(id));
    assert_eq!(call.body["passthrough"]["task_name"], "approveNode");
    let running = get(&app, &admin, &id, false).await;
    let ret = &running["ret"];
    assert_eq!(ret["dag_status"], "RUNNING");
    assert!(ret["process"].as_u64().is_some_and(|p| p < 100), "{ret}");
    let tasks = ret["tasks"].as_object().expect("tasks");
    assert_eq!(
        tasks.keys().cloned().collect::<Vec<_>>(),
        sorted(&["approveNode", "endNode", "startNode"])
    );
    let start = &tasks["startNode"];
    assert_eq!(
        keys(start),
        sorted(&["contains_sub", "name", "next", "status", "task"])
    );
    assert_eq!(start["contains_sub"], false);
    assert_eq!(start["next"], json!(["approveNode", "endNode"]));
    assert_eq!(start["status"], "SUCCEED");
    assert_eq!(start["task"]["pattern"], "task_sync");
    assert_eq!(
        start["task"]["resourceName"],
        format!("{base}/flow/sample/start_node.json")
    );
    assert_eq!(tasks["approveNode"]["status"], "RUNNING");

    // finish.json with the document's body.
    let (status, finished) = app
        .call(
            Method::POST,
            &format!("/flow/finish.json?executionId={id}&taskName=approveNode"),
            Some(&admin),
            Some(json!({"result_type": "SUCCESS",
                        "passthrough": {"execution_id": id, "task_name": "approveNode"},
                        "response": {"approved_by": "ops"}})),
        )
        .await;
    assert_eq!(status, 200, "{finished}");
    assert_eq!(finished, json!({"result": "ok"}));

    let done = eventually("the execution succeeds", || async {
        let body = get(&app, &admin, &id, false).await;
        (body["ret"]["dag_status"] == "SUCCEED").then_some(body)
    })
    .await;
    assert_eq!(done["ret"]["process"], 100);
    assert_eq!(done["ret"]["context"]["result_number"], 512);
    assert_eq!(done["ret"]["context"]["approved_by"], "ops");
    for task in done["ret"]["tasks"].as_object().expect("tasks").values() {
        assert_eq!(task["status"], "SUCCEED", "{task}");
    }
    let brief = get(&app, &admin, &id, true).await;
    assert!(brief["ret"].get("tasks").is_none(), "{brief}");
    assert_eq!(brief["ret"]["dag_status"], "SUCCEED");

    // The callback URL hears of the end.
    let hook = eventually("the callback is called", || async {
        receiver.received().into_iter().find(|r| r.path == "/done")
    })
    .await;
    assert_eq!(hook.body["execution_id"], json!(id));
    assert_eq!(hook.body["dag_status"], "SUCCEED");

    // A second add moves the alias; the old alias form still resolves, and the descriptor is a
    // Baton definition the native API shows.
    let (status, again) = add(
        &app,
        &admin,
        "business_id=demoFlowTest&feature_name=demoFlowTest&alias=canary",
        &descriptor(&base),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    for descriptor_id in [
        "demoFlowTest:demoTest:release",
        "demoFlowTest:demoTest:canary",
    ] {
        let (status, body) = app
            .call(
                Method::POST,
                &format!("/flow/submit.json?descriptor_id={descriptor_id}"),
                Some(&admin),
                Some(json!({"left": 1, "right": 2})),
            )
            .await;
        assert_eq!(status, 200, "{descriptor_id}: {body}");
    }
    // A workflow drawn in the designer runs by its key.
    app.publish(
        &admin,
        json!({"key": "greet", "name": "Greet",
               "nodes": [{"id": "start", "kind": "start"},
                         {"id": "hello", "kind": "script", "script": "`hi ${input.who}`",
                          "output_mappings": [{"source": "$.output", "target": "$.context.said"}]}],
               "edges": [{"from": "start", "to": "hello"}]}),
    )
    .await;
    let (status, body) = app
        .call(
            Method::POST,
            "/flow/submit.json?descriptor_id=greet",
            Some(&admin),
            Some(json!({"who": "ana"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let greeted = body["execution_id"].as_str().expect("id").to_string();
    let done = eventually("the designer's workflow succeeds", || async {
        let body = get(&app, &admin, &greeted, false).await;
        (body["ret"]["dag_status"] == "SUCCEED").then_some(body)
    })
    .await;
    assert_eq!(done["ret"]["context"]["said"], "hi ana");
    assert_eq!(done["ret"]["tasks"]["hello"]["status"], "SUCCEED");

    let (status, native) = app
        .call(
            Method::GET,
            "/api/v1/definitions/demoFlowTest.demoTest",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{native}");
}

#[tokio::test]
async fn rill_refusals_have_its_shape() {
    let app = spawn_app_with(|_| {}).await;
    let admin = app.admin().await;
    let shape = |body: &Value| keys(body) == sorted(&["ret", "code", "message"]);
    let yaml = descriptor("http://example.com");

    for (query, body, field) in [
        ("feature_name=f&alias=a", yaml.as_str(), "business_id"),
        ("business_id=b&feature_name=f&alias=a", "tasks: [", "body"),
        (
            "business_id=b&feature_name=f&alias=a",
            "workspace: w\ndagName: d\ntasks:\n- name: x\n  category: choice\n",
            "tasks[0].category",
        ),
        (
            "business_id=b&feature_name=f&alias=a",
            "workspace: w\ndagName: d\ntasks:\n- name: x\n  resourceName: ftp://x\n",
            "tasks[0].resourceName",
        ),
        (
            "business_id=b&feature_name=f&alias=a",
            "workspace: w\ndagName: 'no way'\ntasks: []\n",
            "dagName",
        ),
    ] {
        let (status, answer) = add(&app, &admin, query, body).await;
        assert_eq!(status, 400, "{query} {body} → {answer}");
        assert!(shape(&answer), "{answer}");
        assert_eq!(answer["ret"], false);
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains(field)),
            "{field} named in {answer}"
        );
    }
    // A next that names no task: the graph is refused, naming the task.
    let (status, answer) = add(
        &app,
        &admin,
        "business_id=b&feature_name=f&alias=a",
        "workspace: w\ndagName: d\ntasks:\n- name: x\n  resourceName: http://example.com\n  next: y\n",
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert!(shape(&answer), "{answer}");

    for (method, path, body, want) in [
        (Method::POST, "/flow/submit.json", None, 400),
        (
            Method::POST,
            "/flow/submit.json?descriptor_id=no:such",
            None,
            404,
        ),
        (
            Method::POST,
            "/flow/submit.json?descriptor_id=a:b&callback=notaurl",
            None,
            400,
        ),
        (Method::GET, "/flow/get.json?execution_id=42", None, 404),
        (Method::GET, "/flow/get.json", None, 400),
        (
            Method::POST,
            "/flow/finish.json?executionId=42&taskName=x",
            Some(json!({"result_type": "MAYBE"})),
            400,
        ),
        (Method::GET, "/flow/nothing.json", None, 404),
    ] {
        let (status, answer) = app.call(method, path, Some(&admin), body).await;
        assert_eq!(status, want, "{path} → {answer}");
        assert!(shape(&answer), "{path} → {answer}");
    }
    let (status, answer) = app
        .call(Method::GET, "/flow/get.json?execution_id=1", None, None)
        .await;
    assert_eq!((status, shape(&answer)), (401, true), "{answer}");
}
