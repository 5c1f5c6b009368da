//! The designer's server functions over real HTTP with browser sessions: the same rules as the
//! REST API (USE to read, MGMT to save and publish, the designer role to create), refusals as
//! 4xx with the issues, nothing written when refused.

use engine::people::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// Calls the server function at `/rpc/{name}` with form fields, as the page does.
async fn rpc(app: &TestApp, cookie: &str, name: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(&format!("/rpc/{name}")))
        .header("cookie", cookie)
        .form(fields)
        .send()
        .await
        .expect("rpc");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn document(key: &str, url: Option<&str>) -> String {
    let mut http =
        json!({"id": "call", "kind": "http", "method": "GET", "position": {"x": 200, "y": 40}});
    if let Some(url) = url {
        http["url"] = json!(url);
    }
    json!({
        "key": key, "name": "Designed", "tags": ["ops"],
        "nodes": [{"id": "start", "kind": "start", "position": {"x": 0, "y": 40}}, http,
                  {"id": "end", "kind": "end", "position": {"x": 400, "y": 40}}],
        "edges": [{"from": "start", "to": "call"}, {"from": "call", "to": "end"}]
    })
    .to_string()
}

#[tokio::test]
async fn designers_create_save_and_publish_and_others_are_refused() {
    let app = spawn_app().await;
    for (name, role) in [
        ("dana", Role::Designer),
        ("otto", Role::Operator),
        ("abby", Role::Approver),
    ] {
        app.user(name, &[role]).await;
    }
    let dana = app.session("dana", "dana-password").await;
    let otto = app.session("otto", "otto-password").await;
    let abby = app.session("abby", "abby-password").await;

    // Only designers create; a new workflow starts as an empty draft.
    let (status, _) = rpc(
        &app,
        &otto,
        "create_workflow",
        &[("key", "flow"), ("name", "Flow")],
    )
    .await;
    assert_eq!(status, 403);
    let (status, key) = rpc(
        &app,
        &dana,
        "create_workflow",
        &[("key", "flow"), ("name", "Flow")],
    )
    .await;
    assert_eq!((status, key), (200, json!("flow")));
    let (status, _) = rpc(
        &app,
        &dana,
        "create_workflow",
        &[("key", "flow"), ("name", "Again")],
    )
    .await;
    assert_eq!(status, 409, "the key is taken");

    // A draft with issues saves, and says what is wrong; it does not publish.
    let (status, saved) = rpc(
        &app,
        &dana,
        "save_design",
        &[("key", "flow"), ("document", &document("flow", None))],
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["issues"][0]["node"], "call");
    assert_eq!(saved["issues"][0]["field"], "url");
    let (status, refused) = rpc(&app, &dana, "publish_design", &[("key", "flow")]).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["InvalidDefinition"][0]["field"], "url");

    // The key of a saved draft stays; an operator may read but not save; an approver sees nothing.
    let (status, _) = rpc(
        &app,
        &dana,
        "save_design",
        &[
            ("key", "flow"),
            ("document", &document("other", Some("https://example.com"))),
        ],
    )
    .await;
    assert_eq!(status, 422);
    let good = document("flow", Some("https://example.com/x"));
    let (status, _) = rpc(
        &app,
        &otto,
        "save_design",
        &[("key", "flow"), ("document", &good)],
    )
    .await;
    assert_eq!(status, 403);
    let (status, design) = rpc(&app, &otto, "design", &[("key", "flow")]).await;
    assert_eq!(status, 200);
    assert_eq!(design["may_manage"], false);
    let (status, _) = rpc(&app, &abby, "design", &[("key", "flow")]).await;
    assert_eq!(status, 404);
    let (status, _) = rpc(
        &app,
        &dana,
        "save_design",
        &[("key", "flow"), ("document", "{not json")],
    )
    .await;
    assert_eq!(status, 422);

    // Fixed, saved and published as version 1; the list shows it with its tags.
    let (status, saved) = rpc(
        &app,
        &dana,
        "save_design",
        &[("key", "flow"), ("document", &good)],
    )
    .await;
    assert_eq!((status, saved["issues"].clone()), (200, json!([])));
    let (status, version) = rpc(&app, &dana, "publish_design", &[("key", "flow")]).await;
    assert_eq!((status, version), (200, json!(1)));
    let (status, design) = rpc(&app, &dana, "design", &[("key", "flow"), ("version", "1")]).await;
    assert_eq!(status, 200);
    assert_eq!(
        (design["viewing"].clone(), design["latest_version"].clone()),
        (json!(1), json!(1))
    );
    let (status, list) = rpc(&app, &dana, "workflows", &[("q", "OPS"), ("offset", "0")]).await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["tags"], json!(["ops"]));
    assert_eq!(list["may_create"], true);
    let (_, list) = rpc(&app, &abby, "workflows", &[("q", ""), ("offset", "0")]).await;
    assert_eq!(list["total"], 0, "approvers have no grant on it");

    // A copy is a new draft with the copier's grants, without the original's triggers.
    let with_trigger = {
        let mut d: Value = serde_json::from_str(&good).expect("json");
        d["triggers"] = json!([{"kind": "cron", "name": "nightly", "schedule": "0 2 * * *"}]);
        d.to_string()
    };
    let (status, saved) = rpc(
        &app,
        &dana,
        "save_design",
        &[("key", "flow"), ("document", &with_trigger)],
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    let (status, key) = rpc(
        &app,
        &dana,
        "duplicate_workflow",
        &[("from", "flow"), ("key", "flow-eu"), ("name", "Flow EU")],
    )
    .await;
    assert_eq!((status, key), (200, json!("flow-eu")));
    let (status, copy) = rpc(&app, &dana, "design", &[("key", "flow-eu")]).await;
    assert_eq!(status, 200);
    let copy: Value = serde_json::from_str(copy["document"].as_str().expect("text")).expect("json");
    assert_eq!(copy["name"], "Flow EU");
    assert!(copy.get("triggers").is_none());
    assert_eq!(copy["nodes"].as_array().map(Vec::len), Some(3));
    let (status, _) = rpc(
        &app,
        &abby,
        "duplicate_workflow",
        &[("from", "flow"), ("key", "x"), ("name", "X")],
    )
    .await;
    assert_eq!(status, 404, "a definition one cannot see cannot be copied");
}
