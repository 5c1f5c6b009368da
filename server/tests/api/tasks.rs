//! The approval inbox and callbacks over real HTTP: an approver works a task from the inbox,
//! bad submissions are refused field by field with nothing written, a second completion is 409;
//! a callback is finished with its token once, duplicates are no-ops.

use engine::people::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app, TestApp};
use crate::rest::ended;

/// A published workflow whose `ask` node is an approval for `assignee`.
pub async fn publish_approval(app: &TestApp, admin: &str, key: &str, assignee: &str) {
    let document = json!({
        "key": key, "name": key,
        "nodes": [{"id": "start", "kind": "start"},
                  {"id": "ask", "kind": "approval", "title": "Order of {{context.size}}",
                   "content": "<script>alert(1)</script> for {{context.who}}",
                   "assignees": [assignee], "groups": ["buyers"],
                   "form": [{"name": "comment", "label": "Comment", "type": "textarea", "required": true},
                            {"name": "budget", "type": "number"}],
                   "output_mappings": [{"source": "$.output.outcome", "target": "$.context.decision"}]},
                  {"id": "end", "kind": "end",
                   "output_mappings": [{"source": "$.context.decision", "target": "$.output.decision"}]}],
        "edges": [{"from": "start", "to": "ask"}, {"from": "ask", "to": "end"}]
    });
    app.publish(admin, document).await;
}

/// Starts `key` as `token` and waits until its approval task is open; returns (instance, task).
pub async fn start_and_wait_for_task(app: &TestApp, token: &str, key: &str) -> (String, String) {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/instances",
            Some(token),
            Some(json!({"definition_key": key, "input": {"size": 3, "who": "olivia"}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let instance = body["id"].as_str().expect("id").to_string();
    eventually("the task", || async {
        let (_, read) = app
            .call(
                Method::GET,
                &format!("/api/v1/instances/{instance}"),
                Some(token),
                None,
            )
            .await;
        read["node_runs"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["node_id"] == "ask" && r["status"] == "waiting")
            .then_some(())
    })
    .await;
    let page = app
        .runtime
        .store()
        .inbox(&engine::store::InboxQuery {
            username: "nobody".into(),
            groups: vec!["buyers".into()],
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("inbox");
    let task = page
        .items
        .iter()
        .find(|t| t.instance_id.to_string() == instance)
        .expect("the task");
    (instance, task.id.to_string())
}

#[tokio::test]
async fn an_approver_works_a_task_from_the_inbox() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let approver = app.user("ann", &[Role::Approver]).await;
    let other = app.user("ben", &[Role::Approver]).await;
    publish_approval(&app, &admin, "purchase", "ann").await;
    let (instance, task) = start_and_wait_for_task(&app, &admin, "purchase").await;

    let (status, inbox) = app
        .call(Method::GET, "/api/v1/tasks", Some(&approver), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(inbox["total"], 1, "{inbox}");
    let item = &inbox["items"][0];
    assert_eq!(item["id"], task.as_str());
    assert_eq!(item["title"], "Order of 3");
    assert_eq!(item["status"], "open");
    assert_eq!(item["outcomes"], json!(["approve", "reject"]));
    let (_, theirs) = app
        .call(Method::GET, "/api/v1/tasks", Some(&other), None)
        .await;
    assert_eq!(theirs["total"], 0, "not ben's task");
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/tasks/{task}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/tasks?status=nope",
            Some(&approver),
            None,
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("status")));

    // Bad submissions: every problem named, nothing written.
    let complete = format!("/api/v1/tasks/{task}/complete");
    for (body, field) in [
        (
            json!({"outcome": "maybe", "data": {"comment": "x"}}),
            "outcome",
        ),
        (json!({"outcome": "approve", "data": {}}), "data.comment"),
        (
            json!({"outcome": "approve", "data": {"comment": "x", "budget": "ten"}}),
            "data.budget",
        ),
        (
            json!({"outcome": "approve", "data": {"comment": "x", "extra": 1}}),
            "data.extra",
        ),
        (json!({"data": {"comment": "x"}}), "outcome"),
        (json!({"outcome": 7}), "outcome"),
    ] {
        let (status, answer) = app
            .call(Method::POST, &complete, Some(&approver), Some(body.clone()))
            .await;
        assert!(status == 422 || status == 400, "{body}: {status} {answer}");
        let named = answer["field"] == field
            || answer["issues"]
                .as_array()
                .is_some_and(|all| all.iter().any(|i| i["field"] == field));
        assert!(named, "{body}: {answer}");
    }
    let (_, still) = app
        .call(
            Method::GET,
            &format!("/api/v1/tasks/{task}"),
            Some(&approver),
            None,
        )
        .await;
    assert_eq!(still["status"], "open");

    // Claim, complete, and a second completion is a conflict.
    let (status, claimed) = app
        .call(
            Method::POST,
            &format!("/api/v1/tasks/{task}/claim"),
            Some(&approver),
            None,
        )
        .await;
    assert_eq!((status, claimed["claimed_by"].as_str()), (200, Some("ann")));
    let (status, again) = app
        .call(
            Method::POST,
            &format!("/api/v1/tasks/{task}/claim"),
            Some(&approver),
            None,
        )
        .await;
    assert_eq!((status, again["code"].as_str()), (409, Some("conflict")));
    let answer = json!({"outcome": "approve", "data": {"comment": "within budget", "budget": 120}});
    let (status, done) = app
        .call(
            Method::POST,
            &complete,
            Some(&approver),
            Some(answer.clone()),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["data"]["budget"], 120);
    let (status, twice) = app
        .call(Method::POST, &complete, Some(&approver), Some(answer))
        .await;
    assert_eq!((status, twice["code"].as_str()), (409, Some("conflict")));

    let finished = ended(&app, &admin, &instance).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(finished["output"]["decision"], "approve");
    let (_, history) = app
        .call(
            Method::GET,
            "/api/v1/tasks?status=completed",
            Some(&approver),
            None,
        )
        .await;
    assert_eq!(history["total"], 1);
}

async fn callback_token(app: &TestApp, instance: &str) -> String {
    eventually("the callback", || async {
        let events = app
            .runtime
            .store()
            .events(instance.parse().expect("id"), 0)
            .await
            .expect("events");
        let waiting = events.iter().find(|e| e.kind == "node.waiting")?;
        Some(waiting.data["callback"]["token"].as_str()?.to_string())
    })
    .await
}

#[tokio::test]
async fn a_callback_is_finished_once_by_its_token() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let document = json!({
        "key": "hook", "name": "hook",
        "nodes": [{"id": "start", "kind": "start"},
                  {"id": "wait", "kind": "callback",
                   "output_mappings": [{"source": "$.output", "target": "$.context.result"}]},
                  {"id": "end", "kind": "end",
                   "output_mappings": [{"source": "$.context.result", "target": "$.output"}]}],
        "edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "end"}]
    });
    app.publish(&admin, document).await;
    let (_, started) = app
        .call(
            Method::POST,
            "/api/v1/instances",
            Some(&admin),
            Some(json!({"definition_key": "hook"})),
        )
        .await;
    let instance = started["id"].as_str().expect("id").to_string();
    let token = callback_token(&app, &instance).await;

    // The token is the credential: no bearer token needed, and a wrong one is just unknown.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/callbacks/wrong-token",
            None,
            Some(json!({"output": {}})),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let url = format!("/api/v1/callbacks/{token}");
    let (status, body) = app
        .call(Method::POST, &url, None, Some(json!({"status": "maybe"})))
        .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("status")));
    let (status, body) = app
        .call(
            Method::POST,
            &url,
            None,
            Some(json!({"status": "succeeded", "output": {"ticket": 7}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["applied"], true);
    assert_eq!(body["instance_id"], instance.as_str());
    let (status, body) = app
        .call(
            Method::POST,
            &url,
            None,
            Some(json!({"status": "succeeded", "output": {"ticket": 8}})),
        )
        .await;
    assert_eq!((status, body["applied"].as_bool()), (200, Some(false)));
    let (status, _) = app
        .call(Method::POST, &url, None, Some(json!({"status": "failed"})))
        .await;
    assert_eq!(status, 409);
    let finished = ended(&app, &admin, &instance).await;
    assert_eq!(finished["status"], "completed");
    assert_eq!(finished["output"], json!({"ticket": 7}));
}

#[tokio::test]
async fn a_webhook_starts_its_definition_with_the_body_as_input() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let operator = app.user("otto", &[Role::Operator]).await;
    let mut document = crate::rest::hello();
    document["triggers"] = json!([{"kind": "webhook", "name": "deploy"}]);
    app.publish(&admin, document).await;
    let (status, listed) = app
        .call(
            Method::GET,
            "/api/v1/definitions/hello/triggers",
            Some(&operator),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"][0]["name"], "deploy");
    assert_eq!(listed["items"][0]["has_token"], false);

    // Only someone who manages the definition issues the token.
    let issue = "/api/v1/definitions/hello/triggers/deploy/token";
    let (status, _) = app.call(Method::POST, issue, Some(&operator), None).await;
    assert_eq!(status, 403);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/definitions/hello/triggers/nope/token",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, issued) = app.call(Method::POST, issue, Some(&admin), None).await;
    assert_eq!(status, 201, "{issued}");
    let path = issued["path"].as_str().expect("path").to_string();

    let (status, started) = app
        .call(Method::POST, &path, None, Some(json!({"who": "hook"})))
        .await;
    assert_eq!(status, 201, "{started}");
    let id = started["instance_id"].as_str().expect("id").to_string();
    let finished = ended(&app, &admin, &id).await;
    assert_eq!(finished["trigger"], "webhook");
    assert_eq!(finished["output"]["greeting"], "hello hook");

    // Bad input gets the start's own errors; a wrong token is unknown.
    let (status, body) = app
        .call(Method::POST, &path, None, Some(json!({"who": 7})))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_input"))
    );
    let response = app
        .client
        .post(app.url(&path))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/hooks/not-a-token",
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404);

    // A repeated delivery with the same Idempotency-Key starts once.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let response = app
            .client
            .post(app.url(&path))
            .header("idempotency-key", "delivery-1")
            .json(&json!({"who": "again"}))
            .send()
            .await
            .expect("send");
        let body: Value = response.json().await.expect("json");
        ids.push(body["instance_id"].clone());
    }
    assert_eq!(ids[0], ids[1]);

    // Rotating the token retires the old one.
    let (_, rotated) = app.call(Method::POST, issue, Some(&admin), None).await;
    let (status, _) = app
        .call(Method::POST, &path, None, Some(json!({"who": "old"})))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(
            Method::POST,
            rotated["path"].as_str().expect("path"),
            None,
            Some(json!({"who": "new"})),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_user_given_a_group_sees_its_tasks() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ben = app.user("ben", &[Role::Approver]).await;
    publish_approval(&app, &admin, "purchase", "nobody-in-particular").await;
    start_and_wait_for_task(&app, &admin, "purchase").await;
    let (_, inbox) = app
        .call(Method::GET, "/api/v1/tasks", Some(&ben), None)
        .await;
    assert_eq!(inbox["total"], 0);

    let (_, me) = app.call(Method::GET, "/api/v1/me", Some(&ben), None).await;
    let path = format!("/api/v1/users/{}", me["id"].as_str().expect("id"));
    let (status, changed) = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"groups": ["buyers"], "roles": ["approver", "operator"]})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["groups"], json!(["buyers"]));
    let (_, inbox) = app
        .call(Method::GET, "/api/v1/tasks", Some(&ben), None)
        .await;
    assert_eq!(inbox["total"], 1, "the same sign-in sees the new group");
    let (_, me) = app.call(Method::GET, "/api/v1/me", Some(&ben), None).await;
    assert_eq!(me["roles"], json!(["approver", "operator"]));

    // Bad input names its field and changes nothing; an admin keeps their own admin role.
    for (body, field) in [
        (json!({"roles": ["boss"]}), "roles"),
        (json!({"groups": [""]}), "groups"),
        (json!({"display_name": " "}), "display_name"),
        (json!({"nickname": "x"}), "nickname"),
    ] {
        let (status, error) = app
            .call(Method::PATCH, &path, Some(&admin), Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["field"], field, "{body}: {error}");
    }
    let (_, still) = app.call(Method::GET, "/api/v1/me", Some(&ben), None).await;
    assert_eq!(still["groups"], json!(["buyers"]));
    let (_, admin_me) = app
        .call(Method::GET, "/api/v1/me", Some(&admin), None)
        .await;
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{}", admin_me["id"].as_str().expect("id")),
            Some(&admin),
            Some(json!({"roles": ["designer"]})),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = app
        .call(
            Method::PATCH,
            "/api/v1/users/12345",
            Some(&admin),
            Some(json!({"display_name": "Nobody"})),
        )
        .await;
    assert_eq!(status, 404);
}
