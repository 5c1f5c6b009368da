//! The execution preview over HTTP: a catalog imported as JSON and CSV, a workflow bound to it,
//! preview → keep some bindings → start → each bound node ran once per kept entity.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_on_postgres, TestApp};
use crate::rest::ended;

pub fn workflow() -> Value {
    json!({
        "key": "deploy", "name": "Deploy a subsystem", "root_entity": "cmdb:subsys",
        "nodes": [
            {"id": "start", "kind": "start"},
            {"id": "units", "kind": "script", "binding": "cmdb:subsys~(subsys)cmdb:unit",
             "script": "`deployed ${input.entity.display_name}`"},
            {"id": "hosts", "kind": "script",
             "binding": "cmdb:subsys~(subsys)cmdb:unit~(unit)cmdb:host[state='running']",
             "script": "input.entity.guid"},
            {"id": "plain", "kind": "script", "script": "42"},
            {"id": "end", "kind": "end"}],
        "edges": [{"from": "start", "to": "units"}, {"from": "units", "to": "hosts"},
                  {"from": "hosts", "to": "plain"}, {"from": "plain", "to": "end"}]
    })
}

/// A small catalog: subsystems s1, s2; units u1, u2 (of s1) and u3; hosts h1 (u1, running),
/// h2 (u2, stopped), h3 (u2, running) — the hosts as CSV.
pub async fn deploy_catalog(app: &TestApp, admin: &str) {
    let call = |method: Method, path: &str, body: Option<Value>| {
        let path = path.to_string();
        async move { app.call(method, &path, Some(admin), body).await }
    };
    for (id, refs) in [
        ("cmdb:subsys", json!([])),
        (
            "cmdb:unit",
            json!([{"name": "subsys", "references": "cmdb:subsys"}]),
        ),
        (
            "cmdb:host",
            json!([{"name": "unit", "references": "cmdb:unit"}]),
        ),
    ] {
        let (status, body) = call(
            Method::POST,
            "/api/v1/entity-types",
            Some(json!({"id": id, "display_attribute": "name", "attributes": refs})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = call(
        Method::POST,
        "/api/v1/entity-types/cmdb:subsys/records",
        Some(json!([{"guid": "s1", "name": "Gateway"}, {"guid": "s2", "name": "Ledger"}])),
    )
    .await;
    assert_eq!((status, body["imported"].clone()), (200, json!(2)));
    let (status, _) = call(
        Method::POST,
        "/api/v1/entity-types/cmdb:unit/records",
        Some(json!([{"guid": "u1", "name": "gw-api", "subsys": "s1"},
                    {"guid": "u2", "name": "gw-web", "subsys": "s1"},
                    {"guid": "u3", "name": "ledger-db", "subsys": "s2"}])),
    )
    .await;
    assert_eq!(status, 200);
    // Hosts as CSV.
    let csv =
        "guid,name,unit,state\nh1,host-1,u1,running\nh2,host-2,u2,stopped\nh3,host-3,u2,running\n";
    let response = app
        .client
        .post(app.url("/api/v1/entity-types/cmdb:host/records"))
        .bearer_auth(admin)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("csv");
    assert_eq!(response.status(), 200);
    let bad_csv = app
        .client
        .post(app.url("/api/v1/entity-types/cmdb:host/records"))
        .bearer_auth(admin)
        .header("content-type", "text/csv")
        .body("guid,name\nh9\n")
        .send()
        .await
        .expect("csv");
    assert_eq!(bad_csv.status(), 400);
    let problem: Value = bad_csv.json().await.expect("json");
    assert!(
        problem["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("line 2"),
        "{problem}"
    );
}

#[tokio::test]
async fn preview_keep_some_bindings_start_and_each_bound_node_runs_per_entity() {
    preview_flow(spawn_app().await).await;
}

#[tokio::test]
async fn the_preview_flow_on_postgres() {
    if let Some(app) = spawn_app_on_postgres().await {
        preview_flow(app).await;
    }
}

async fn preview_flow(app: TestApp) {
    let admin = app.admin().await;
    let call = |method: Method, path: &str, body: Option<Value>| {
        let (app, admin, path) = (&app, admin.clone(), path.to_string());
        async move { app.call(method, &path, Some(&admin), body).await }
    };
    deploy_catalog(&app, &admin).await;
    app.publish(&admin, workflow()).await;
    let (status, roots) = call(
        Method::GET,
        "/api/v1/definitions/deploy/root-entities?q=gate",
        None,
    )
    .await;
    assert_eq!((status, roots["total"].clone()), (200, json!(1)));

    // Unknown and wrong-typed roots are refused.
    let (status, _) = call(
        Method::POST,
        "/api/v1/definitions/deploy/preview",
        Some(json!({"root_entity_id": "nope"})),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = call(
        Method::POST,
        "/api/v1/definitions/deploy/preview",
        Some(json!({"root_entity_id": "u1"})),
    )
    .await;
    assert_eq!(
        (status, body["field"].clone()),
        (422, json!("root_entity_id"))
    );

    let (status, preview) = call(
        Method::POST,
        "/api/v1/definitions/deploy/preview",
        Some(json!({"root_entity_id": "s1"})),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    let session = preview["session_id"].as_str().expect("session").to_string();
    let bound: Vec<(String, String)> = preview["bindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .map(|b| {
            (
                b["node"].as_str().unwrap_or_default().into(),
                b["data_id"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    let pair = |n: &str, d: &str| (n.to_string(), d.to_string());
    assert_eq!(
        bound,
        [
            pair("units", "u1"),
            pair("units", "u2"),
            pair("hosts", "h1"),
            pair("hosts", "h3")
        ]
    );
    let tree = preview["tree"].as_array().expect("tree");
    let root = tree
        .iter()
        .find(|n| n["data_id"] == "s1")
        .expect("root in the tree");
    assert_eq!(root["id"], "cmdb:subsys:s1");
    assert_eq!(
        root["succeeding_ids"],
        json!(["cmdb:unit:u1", "cmdb:unit:u2"])
    );
    let h3 = tree.iter().find(|n| n["data_id"] == "h3").expect("h3");
    assert_eq!(
        (h3["previous_ids"].clone(), h3["bound_by"].clone()),
        (json!(["cmdb:unit:u2"]), json!(["hosts"]))
    );
    assert!(tree.iter().all(|n| n["data_id"] != "h2"), "filtered out");

    // A binding that is not in the session is refused, naming it; nothing starts.
    let (status, body) = call(
        Method::POST,
        "/api/v1/instances",
        Some(json!({
        "definition_key": "deploy", "session_id": session,
        "bindings": [{"node": "units", "data_id": "u1"}, {"node": "units", "data_id": "u3"}]})),
    )
    .await;
    assert_eq!(
        (status, body["field"].clone()),
        (422, json!("bindings[1]")),
        "{body}"
    );
    let (_, listed) = call(Method::GET, "/api/v1/instances?definition_key=deploy", None).await;
    assert_eq!(listed["total"], 0);

    // Keep u2 only (untick u1) and h1 and h3: each bound node runs once per kept entity.
    let (status, started) = call(Method::POST, "/api/v1/instances", Some(json!({
        "definition_key": "deploy", "session_id": session,
        "bindings": [{"node": "units", "data_id": "u2"}, {"nodeDefId": "hosts", "entityDataId": "h1"},
                     {"node": "hosts", "data_id": "h3"}]}))).await;
    assert_eq!(status, 201, "{started}");
    let id = started["id"].as_str().expect("id").to_string();
    let done = ended(&app, &admin, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let run = |node: &str| {
        done["node_runs"]
            .as_array()
            .and_then(|runs| runs.iter().find(|r| r["node_id"] == node))
            .cloned()
            .expect("a run")
    };
    assert_eq!(
        run("units")["output"],
        json!({"entities": [{"guid": "u2", "display_name": "gw-web", "output": "deployed gw-web"}]})
    );
    let hosts = run("hosts")["output"]["entities"].clone();
    assert_eq!(hosts.as_array().map(Vec::len), Some(2));
    assert_eq!(
        (hosts[0]["output"].clone(), hosts[1]["output"].clone()),
        (json!("h1"), json!("h3"))
    );
    assert_eq!(
        run("plain")["output"],
        json!(42),
        "an unbound node runs once, as usual"
    );

    // Without `bindings`, every binding of the session is kept.
    let (status, all) = call(
        Method::POST,
        "/api/v1/instances",
        Some(json!({"definition_key": "deploy", "session_id": session})),
    )
    .await;
    assert_eq!(status, 201);
    let done = ended(&app, &admin, all["id"].as_str().expect("id")).await;
    let units = done["node_runs"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["node_id"] == "units"))
        .expect("run");
    assert_eq!(
        units["output"]["entities"].as_array().map(Vec::len),
        Some(2)
    );
}
