//! The node_inst engine's surface (reference 002) under `/api/process…`, `/api/processInst…`,
//! `/api/taskInsts` and `/api/taskInst`: the document's requests and the shapes of its answers,
//! the flow it implies (create → start → to-do → submit → instance with runtimes), the same
//! definitions through the native API, and its refusals — without shadowing `/api/v1`.

use engine::people::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{eventually, keys, sorted, spawn_app, TestApp};

const PROCESS: [&str; 16] = [
    "id",
    "name",
    "description",
    "startTaskInstId",
    "endTaskInstId",
    "engine",
    "status",
    "creator",
    "executor",
    "timeout",
    "inputDataSchema",
    "outputDataSchema",
    "error",
    "extension",
    "metadata",
    "tasks",
];

const TASK: [&str; 11] = [
    "instId",
    "name",
    "description",
    "template",
    "positions",
    "connections",
    "parameters",
    "errorHandler",
    "loopHandler",
    "timeout",
    "isIgnore",
];

/// The document's create request, with three tasks: a script, an approval and a looped script.
fn process() -> Value {
    json!({
        "name": "Unknown", "description": "", "startTaskInstId": "", "endTaskInstId": "",
        "engine": "fast", "status": "", "creator": "admin", "executor": "", "timeout": 0,
        "inputDataSchema": {}, "outputDataSchema": {}, "error": "",
        "extension": {"team": "ops"}, "metadata": {"owner": "zhangsan"},
        "tasks": [
            {"instId": "task-3udfizra", "name": "脚本任务执行", "description": "执行脚本任务",
             "template": "script", "positions": [100, 40], "connections": ["task-approve"],
             "parameters": {"code": {"label": "代码", "type": "string",
                                     "value": "`hello ${input.param1}`", "default": "", "required": true}},
             "errorHandler": {"retry": 2, "interval": 1}, "loopHandler": {}, "timeout": 30, "isIgnore": false},
            {"instId": "task-approve", "name": "请假条审批", "template": "approval",
             "connections": ["task-each"],
             "parameters": {"title": {"label": "标题", "type": "string", "value": "请假条审批"},
                            "content": {"value": "由于....."},
                            "assignees": {"value": "zhangsan"},
                            "form": {"value": "[{\"name\": \"comment\", \"type\": \"text\"}]"}}},
            {"instId": "task-each", "name": "each host", "template": "script",
             "parameters": {"code": {"value": "`checked ${input}`"}},
             "loopHandler": {"items": "$.context.hosts", "concurrency": 2}}
        ]
    })
}

async fn wait_done(app: &TestApp, token: &str, id: &str) -> Value {
    eventually("the instance is done", || async {
        let (_, body) = app
            .call(
                Method::GET,
                &format!("/api/processInst/{id}"),
                Some(token),
                None,
            )
            .await;
        (body["status"] == "done").then_some(body)
    })
    .await
}

#[tokio::test]
async fn node_inst_examples_and_flow() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let zhangsan = app.user("zhangsan", &[Role::Operator]).await;
    let token = Some(admin.as_str());

    // POST /api/process → {response: {id: "proc-…"}}
    let (status, created) = app
        .call(Method::POST, "/api/process", token, Some(process()))
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(keys(&created), sorted(&["response"]));
    let id = created["response"]["id"].as_str().expect("id").to_string();
    assert!(
        id.starts_with("proc-") && id.len() == 13,
        "an id like proc-avxhke9u: {id}"
    );

    // GET /api/process/{id}: the document's fields, what Baton has no use for kept.
    let (status, read) = app
        .call(Method::GET, &format!("/api/process/{id}"), token, None)
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(keys(&read), sorted(&PROCESS));
    assert_eq!(read["id"], json!(id));
    assert_eq!(read["engine"], "fast");
    assert_eq!(read["extension"], json!({"team": "ops"}));
    assert_eq!(read["metadata"], json!({"owner": "zhangsan"}));
    let tasks = read["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 3, "no start node shows: {tasks:?}");
    for task in tasks {
        assert_eq!(keys(task), sorted(&TASK));
    }
    let script = &tasks[0];
    assert_eq!(script["parameters"]["code"]["label"], "代码");
    assert_eq!(script["parameters"]["code"]["required"], true);
    assert_eq!(
        script["parameters"]["code"]["value"],
        "`hello ${input.param1}`"
    );
    assert_eq!(script["errorHandler"], json!({"retry": 2, "interval": 1}));
    assert_eq!(script["timeout"], 30);
    assert_eq!(script["positions"], json!([100.0, 40.0]));
    assert_eq!(script["connections"], json!(["task-approve"]));
    assert_eq!(
        tasks[2]["loopHandler"],
        json!({"items": "$.context.hosts", "concurrency": 2})
    );

    // GET /api/process/{id}/{task_id}
    let (status, task) = app
        .call(
            Method::GET,
            &format!("/api/process/{id}/task-3udfizra"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(keys(&task), sorted(&TASK));
    assert_eq!(task["template"], "script");

    // POST /api/process/{id} with the document's payload → {response: {id}}
    let (status, started) = app
        .call(
            Method::POST,
            &format!("/api/process/{id}"),
            token,
            Some(json!({"param1": "hello world", "param2": "tester", "hosts": ["a", "b"]})),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let inst = started["response"]["id"].as_str().expect("id").to_string();
    assert!(
        inst.parse::<i64>().is_ok(),
        "a snowflake id as text: {inst}"
    );

    // GET /api/taskInsts?user=zhangsan&limit=20&offset=0 → the approval waits there.
    let todo = eventually("the approval reaches zhangsan", || async {
        let (_, body) = app
            .call(
                Method::GET,
                "/api/taskInsts?user=zhangsan&limit=20&offset=0",
                Some(&zhangsan),
                None,
            )
            .await;
        (body["response"]["total"] == 1).then_some(body)
    })
    .await;
    let item = &todo["response"]["list"][0];
    for field in ["id", "name", "content", "createAt"] {
        assert!(item.get(field).is_some(), "{field} in {item}");
    }
    assert_eq!(item["name"], "请假条审批");
    assert_eq!(item["content"], "由于.....");
    assert!(chrono::NaiveDateTime::parse_from_str(
        item["createAt"].as_str().expect("text"),
        "%Y-%m-%d %H:%M:%S"
    )
    .is_ok());
    let task_inst = item["id"].as_str().expect("id").to_string();

    // POST /api/taskInst/{id} with the form's values.
    let (status, submitted) = app
        .call(
            Method::POST,
            &format!("/api/taskInst/{task_inst}"),
            Some(&zhangsan),
            Some(json!({"comment": "fine"})),
        )
        .await;
    assert_eq!(status, 200, "{submitted}");
    assert_eq!(submitted["response"]["outcome"], "approve");
    let (status, again) = app
        .call(
            Method::POST,
            &format!("/api/taskInst/{task_inst}"),
            Some(&zhangsan),
            Some(json!({"comment": "twice"})),
        )
        .await;
    assert_eq!(status, 409, "{again}");

    // GET /api/processInst/{id}: per-task runtimes.
    let done = wait_done(&app, &admin, &inst).await;
    assert_eq!(done["proc_id"], json!(id));
    assert_eq!(done["id"], json!(inst));
    assert!(done["cost"].as_i64().is_some());
    let tasks = done["tasks"].as_array().expect("tasks");
    let runtime = &tasks[0]["runtimes"][0];
    assert_eq!(
        keys(runtime),
        sorted(&["index", "startAt", "endAt", "status", "error", "input", "output"])
    );
    assert_eq!(runtime["status"], "done");
    assert_eq!(runtime["output"], "hello hello world");
    assert!(runtime["startAt"].as_i64().is_some() && runtime["endAt"].as_i64().is_some());
    let each = tasks[2]["runtimes"].as_array().expect("runtimes");
    let mut indexes: Vec<i64> = each.iter().filter_map(|r| r["index"].as_i64()).collect();
    indexes.sort();
    assert_eq!(indexes, vec![0, 1], "one runtime per loop item: {each:?}");

    // GET /api/processInst/{id}/{task_id}
    let (status, one) = app
        .call(
            Method::GET,
            &format!("/api/processInst/{inst}/task-approve"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["runtimes"][0]["status"], "done");
    assert_eq!(one["runtimes"][0]["output"]["data"]["comment"], "fine");

    // The same definition and instance through the native API.
    let (status, native) = app
        .call(
            Method::GET,
            &format!("/api/v1/definitions/{id}"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{native}");
    let (status, native) = app
        .call(
            Method::GET,
            &format!("/api/v1/instances/{inst}"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{native}");
    assert_eq!(native["status"], "completed");
}

#[tokio::test]
async fn a_designer_definition_runs_through_node_inst() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.publish(
        &admin,
        json!({"key": "greet", "name": "Greet",
               "nodes": [{"id": "start", "kind": "start"},
                         {"id": "hello", "kind": "script", "script": "`hi ${input.who}`"},
                         {"id": "end", "kind": "end"}],
               "edges": [{"from": "start", "to": "hello"}, {"from": "hello", "to": "end"}]}),
    )
    .await;
    let (status, read) = app
        .call(Method::GET, "/api/process/greet", Some(&admin), None)
        .await;
    assert_eq!(status, 200, "{read}");
    let templates: Vec<&str> = read["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["template"].as_str())
        .collect();
    assert_eq!(templates, vec!["start", "script", "end"]);
    assert_eq!(
        read["tasks"][1]["parameters"]["code"]["value"],
        "`hi ${input.who}`"
    );
    let (status, started) = app
        .call(
            Method::POST,
            "/api/process/greet",
            Some(&admin),
            Some(json!({"who": "ana"})),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let inst = started["response"]["id"].as_str().expect("id").to_string();
    let done = wait_done(&app, &admin, &inst).await;
    assert_eq!(done["tasks"][1]["runtimes"][0]["output"], "hi ana");
}

#[tokio::test]
async fn node_inst_refusals_have_its_shape_and_native_routes_stay_native() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = Some(admin.as_str());
    let shape = |body: &Value| keys(body) == sorted(&["response", "error", "code"]);

    let cases = [
        (
            json!({"tasks": [{"instId": "t", "template": "cron-timer"}]}),
            400,
            "tasks[0].template",
        ),
        (
            json!({"tasks": [{"instId": "t", "template": "http", "parameters": {"url": {"value": ""}}}]}),
            422,
            "tasks[0].parameters.url",
        ),
        (
            json!({"tasks": [{"instId": "t", "template": "http", "parameters": {"colour": "red"}}]}),
            400,
            "tasks[0].parameters.colour",
        ),
        (
            json!({"tasks": [{"instId": "t", "template": "script", "connections": ["nowhere"]}]}),
            422,
            "connections",
        ),
        (json!({"tasks": "many"}), 400, "tasks"),
        (json!([1, 2]), 400, "body"),
    ];
    for (body, want, field) in cases {
        let (status, answer) = app
            .call(Method::POST, "/api/process", token, Some(body.clone()))
            .await;
        assert_eq!(status, want, "{body} → {answer}");
        assert!(shape(&answer), "{answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| e.contains(field)),
            "{field} named in {answer}"
        );
        assert_eq!(answer["code"], want);
    }
    // Nothing half-written: no process was created by the refused requests.
    let (_, list) = app
        .call(Method::GET, "/api/v1/definitions", token, None)
        .await;
    assert_eq!(list["total"], 0, "{list}");

    let (status, answer) = app
        .call(Method::GET, "/api/process/proc-nothere", token, None)
        .await;
    assert_eq!((status, shape(&answer)), (404, true), "{answer}");
    let (status, answer) = app
        .call(Method::GET, "/api/processInst/123", token, None)
        .await;
    assert_eq!((status, shape(&answer)), (404, true), "{answer}");
    let (status, answer) = app
        .call(Method::GET, "/api/taskInsts?limit=lots", token, None)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]
        .as_str()
        .is_some_and(|e| e.contains("limit")));
    let (status, answer) = app.call(Method::GET, "/api/process/x", None, None).await;
    assert_eq!((status, shape(&answer)), (401, true), "{answer}");

    // Someone else's to-do list is an administrator's to read.
    let operator = app.user("olga", &[Role::Operator]).await;
    let (status, answer) = app
        .call(
            Method::GET,
            "/api/taskInsts?user=admin",
            Some(&operator),
            None,
        )
        .await;
    assert_eq!((status, shape(&answer)), (403, true), "{answer}");
    let (status, answer) = app
        .call(Method::GET, "/api/taskInsts?user=olga", token, None)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["response"]["total"], 0);
    // Creating needs the designer role.
    let (status, answer) = app
        .call(
            Method::POST,
            "/api/process",
            Some(&operator),
            Some(process()),
        )
        .await;
    assert_eq!((status, shape(&answer)), (403, true), "{answer}");

    // The native API keeps its paths and its own error shape.
    let (status, answer) = app
        .call(Method::GET, "/api/v1/definitions/nope", token, None)
        .await;
    assert_eq!(status, 404);
    assert!(answer.get("code").is_some_and(Value::is_string), "{answer}");
    let (status, _) = app.call(Method::GET, "/api/docs", None, None).await;
    assert_eq!(status, 200);
}
