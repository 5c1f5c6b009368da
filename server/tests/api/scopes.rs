//! Departments scope definitions and their instances; groups are objects of their own.

use engine::people::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_on_postgres, TestApp};

fn flow(key: &str) -> Value {
    json!({"key": key, "name": key,
           "nodes": [{"id": "start", "kind": "start"},
                     {"id": "wait", "kind": "timer", "duration": "1h"}],
           "edges": [{"from": "start", "to": "wait"}]})
}

async fn me_id(app: &TestApp, token: &str) -> String {
    let (_, me) = app.call(Method::GET, "/api/v1/me", Some(token), None).await;
    me["id"]
        .as_str()
        .map(str::to_string)
        .or_else(|| me["id"].as_i64().map(|n| n.to_string()))
        .expect("id")
}

/// Keys of the definitions `token` lists.
async fn listed(app: &TestApp, token: &str) -> Vec<String> {
    let (status, list) = app
        .call(Method::GET, "/api/v1/definitions", Some(token), None)
        .await;
    assert_eq!(status, 200, "{list}");
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|d| d["key"].as_str().map(str::to_string))
        .collect()
}

async fn instances_listed(app: &TestApp, token: &str) -> usize {
    let (_, list) = app
        .call(Method::GET, "/api/v1/instances", Some(token), None)
        .await;
    list["total"].as_u64().expect("total") as usize
}

async fn departments_scope(app: TestApp) {
    let admin = app.admin().await;
    let (_company, ids) = app
        .company(
            &admin,
            "Acme",
            &[("Ops", None), ("Night", Some("Ops")), ("Finance", None)],
        )
        .await;
    // People: one in Ops, one in Ops/Night, one in Finance, one in no department.
    let mut tokens = std::collections::HashMap::new();
    for (name, department) in [
        ("olga", Some("Ops")),
        ("nina", Some("Night")),
        ("fiona", Some("Finance")),
        ("ned", None),
    ] {
        let token = app.user(name, &[Role::Operator, Role::Designer]).await;
        if let Some(department) = department {
            app.join(&admin, &token, &ids[department]).await;
        }
        tokens.insert(name, token);
    }
    app.publish(&admin, flow("ops-flow")).await;
    app.publish(&admin, flow("open-flow")).await;
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/definitions/ops-flow/department",
            Some(&admin),
            Some(json!({"department_id": ids["Ops"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["department_id"], json!(ids["Ops"]));
    let (_, started) = app
        .call(
            Method::POST,
            "/api/v1/instances",
            Some(&admin),
            Some(json!({"definition_key": "ops-flow"})),
        )
        .await;
    let instance = started["id"].as_str().expect("id").to_string();

    // Ops and the department below it see the definition and its instance; Finance and
    // people in no department do not (404, as for anything they may not see).
    for (who, sees) in [
        ("olga", true),
        ("nina", true),
        ("fiona", false),
        ("ned", false),
    ] {
        let token = &tokens[who];
        let keys = listed(&app, token).await;
        assert!(keys.contains(&"open-flow".to_string()), "{who}: {keys:?}");
        assert_eq!(
            keys.contains(&"ops-flow".to_string()),
            sees,
            "{who}: {keys:?}"
        );
        let (status, _) = app
            .call(
                Method::GET,
                "/api/v1/definitions/ops-flow",
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, if sees { 200 } else { 404 }, "{who}");
        let (status, _) = app
            .call(
                Method::GET,
                &format!("/api/v1/instances/{instance}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, if sees { 200 } else { 404 }, "{who}");
        assert_eq!(
            instances_listed(&app, token).await,
            usize::from(sees),
            "{who}"
        );
    }
    for (who, sees) in [
        ("olga", true),
        ("nina", true),
        ("fiona", false),
        ("ned", false),
    ] {
        let token = &tokens[who];
        let (status, _) = app
            .call(
                Method::POST,
                "/api/v1/instances",
                Some(token),
                Some(json!({"definition_key": "ops-flow"})),
            )
            .await;
        assert_eq!(status, if sees { 201 } else { 404 }, "{who}");
    }

    // Someone in Finance cannot move a definition into Ops (to them it does not exist); nina
    // can move open-flow into her own department, and then fiona no longer sees it.
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/definitions/open-flow/department",
            Some(&tokens["fiona"]),
            Some(json!({"department_id": ids["Ops"]})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("department_id")),
        "{body}"
    );
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/definitions/open-flow/department",
            Some(&admin),
            Some(json!({"department_id": "no-such-department"})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("department_id")),
        "{body}"
    );
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/definitions/open-flow/department",
            Some(&tokens["nina"]),
            Some(json!({"department_id": ids["Night"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(!listed(&app, &tokens["fiona"])
        .await
        .contains(&"open-flow".to_string()));
    assert!(listed(&app, &tokens["olga"])
        .await
        .contains(&"open-flow".to_string()));

    // Out of the department, out of sight; back to no department, seen by all again.
    let nina = me_id(&app, &tokens["nina"]).await;
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/departments/{}/members/{nina}", ids["Night"]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert!(!listed(&app, &tokens["nina"])
        .await
        .contains(&"ops-flow".to_string()));
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/definitions/ops-flow/department",
            Some(&admin),
            Some(json!({"department_id": null})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(listed(&app, &tokens["fiona"])
        .await
        .contains(&"ops-flow".to_string()));
}

#[tokio::test]
async fn departments_scope_definitions_and_instances() {
    departments_scope(spawn_app().await).await;
}

#[tokio::test]
async fn departments_scope_definitions_and_instances_on_postgres() {
    if let Some(app) = spawn_app_on_postgres().await {
        departments_scope(app).await;
    }
}

#[tokio::test]
async fn groups_are_objects_of_their_own() {
    groups(spawn_app().await).await;
}

#[tokio::test]
async fn groups_are_objects_of_their_own_on_postgres() {
    if let Some(app) = spawn_app_on_postgres().await {
        groups(app).await;
    }
}

async fn groups(app: TestApp) {
    let admin = app.admin().await;
    let (status, group) = app
        .call(
            Method::POST,
            "/api/v1/groups",
            Some(&admin),
            Some(json!({"name": "buyers", "display_name": "Buyers", "description": "purchase approvals"})),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    assert_eq!(group["member_count"], 0);
    let (status, again) = app
        .call(
            Method::POST,
            "/api/v1/groups",
            Some(&admin),
            Some(json!({"name": "buyers"})),
        )
        .await;
    assert_eq!(status, 409, "{again}");
    let (status, bad) = app
        .call(
            Method::POST,
            "/api/v1/groups",
            Some(&admin),
            Some(json!({"name": " "})),
        )
        .await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (400, Some("name")),
        "{bad}"
    );

    // A user put in `buyers` and in a new group `auditors`: the new group is created too.
    let (status, user) = app
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "bea", "password": "bea-password-1",
                        "roles": ["approver"], "groups": ["buyers", "auditors"]})),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let bea = app.sign_in("bea", "bea-password-1").await;
    let (status, list) = app
        .call(Method::GET, "/api/v1/groups", Some(&bea), None)
        .await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(names, vec!["auditors", "buyers"]);
    let (_, buyers) = app
        .call(Method::GET, "/api/v1/groups/buyers", Some(&bea), None)
        .await;
    assert_eq!(buyers["members"], json!(["bea"]));
    assert_eq!(buyers["member_count"], 1);
    assert_eq!(buyers["display_name"], "Buyers");

    let (status, _) = app
        .call(
            Method::PATCH,
            "/api/v1/groups/buyers",
            Some(&bea),
            Some(json!({"description": "mine now"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, changed) = app
        .call(
            Method::PATCH,
            "/api/v1/groups/buyers",
            Some(&admin),
            Some(json!({"display_name": "Purchasing"})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["display_name"], "Purchasing");
    assert_eq!(changed["description"], "purchase approvals");

    // A group with members stays; once empty it can go.
    let (status, refused) = app
        .call(Method::DELETE, "/api/v1/groups/buyers", Some(&admin), None)
        .await;
    assert_eq!(status, 409, "{refused}");
    let id = user["id"]
        .as_str()
        .map(str::to_string)
        .or_else(|| user["id"].as_i64().map(|n| n.to_string()))
        .expect("id");
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            Some(json!({"groups": ["auditors"]})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .call(Method::DELETE, "/api/v1/groups/buyers", Some(&admin), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .call(Method::GET, "/api/v1/groups/buyers", Some(&admin), None)
        .await;
    assert_eq!(status, 404);
}
