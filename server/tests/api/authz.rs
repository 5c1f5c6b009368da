//! The authorisation matrix: every route × every role × own and other's objects, in one table.
//! `Ok` means the caller got past authorisation (the route may still answer 409 for the state).

use engine::instance::Trigger;
use engine::people::Role;
use engine::runtime::StartRequest;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::spawn_app;
use crate::rest::{ended, hello};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Expect {
    Ok,
    /// 403: may see the object, not do this to it.
    Forbidden,
    /// 404: may not even know it exists.
    Hidden,
}
use Expect::{Forbidden, Hidden, Ok};

/// A route, its body, and what each of [`ROLES`] gets.
pub(crate) type Row = (Method, String, Option<Value>, [Expect; 4]);

const ROLES: [&str; 4] = ["admin", "designer", "operator", "approver"];

#[tokio::test]
async fn every_route_for_every_role_on_own_and_others_objects() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mut tokens = vec![admin.clone()];
    for (name, role) in [
        ("designer", Role::Designer),
        ("operator", Role::Operator),
        ("approver", Role::Approver),
    ] {
        tokens.push(app.user(name, &[role]).await);
    }

    // `shared` has the default grants (designer MGMT, operator USE); `private` none.
    // A small catalog: `t:b` records reference `t:a` records.
    for (path, body) in [
        ("/api/v1/entity-types", json!({"id": "t:a"})),
        (
            "/api/v1/entity-types",
            json!({"id": "t:b", "attributes": [{"name": "a", "references": "t:a"}]}),
        ),
        ("/api/v1/entity-types/t:a/records", json!([{"guid": "a1"}])),
        (
            "/api/v1/entity-types/t:b/records",
            json!([{"guid": "b1", "a": "a1"}]),
        ),
    ] {
        let (status, answer) = app.call(Method::POST, path, Some(&admin), Some(body)).await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
    for key in ["shared", "private"] {
        let mut document = hello();
        document["key"] = json!(key);
        document["root_entity"] = json!("t:a");
        let (status, body) = app
            .call(
                Method::POST,
                "/api/v1/definitions",
                Some(&admin),
                Some(document),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, _) = app
            .call(
                Method::POST,
                &format!("/api/v1/definitions/{key}/publish"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(status, 201);
    }
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/definitions/private/grants",
            Some(&admin),
            Some(json!({"grants": []})),
        )
        .await;
    assert_eq!(status, 200);

    let start = |token: &str, key: &str| {
        let token = token.to_string();
        let key = key.to_string();
        let app = &app;
        async move {
            let (status, body) = app
                .call(
                    Method::POST,
                    "/api/v1/instances",
                    Some(&token),
                    Some(json!({"definition_key": key, "input": {"who": "x"}})),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            let id = body["id"].as_str().expect("id").to_string();
            ended(app, &token, &id).await;
            id
        }
    };
    // The operator's own instance of `shared`; the admin's of `private`; and one of `private`
    // that the operator started before the grants changed (own, but no USE any more).
    let own = start(&tokens[2], "shared").await;
    let others = start(&admin, "private").await;
    let started_earlier = app
        .runtime
        .start(StartRequest {
            definition_key: "private".into(),
            version: None,
            input: json!({"who": "y"}),
            trigger: Trigger::Api,
            operator: "operator".into(),
            idempotency_key: None,
        })
        .await
        .expect("start")
        .id
        .to_string();
    ended(&app, &admin, &started_earlier).await;

    // A task for the approver, and one for somebody else.
    crate::tasks::publish_approval(&app, &admin, "ask-approver", "approver").await;
    crate::tasks::publish_approval(&app, &admin, "ask-other", "somebody").await;
    let (_, mine) = crate::tasks::start_and_wait_for_task(&app, &admin, "ask-approver").await;
    let (_, not_mine) = crate::tasks::start_and_wait_for_task(&app, &admin, "ask-other").await;
    let answer = json!({"outcome": "approve", "data": {"comment": "fine"}});
    let (_, me) = app
        .call(Method::GET, "/api/v1/me", Some(&tokens[3]), None)
        .await;
    let approver_id = me["id"].as_str().expect("id").to_string();

    let draft = |key: &str| {
        let mut document = hello();
        document["key"] = json!(key);
        document
    };
    let start_body = |key: &str| json!({"definition_key": key, "input": {"who": "z"}});
    let default_grants = json!({"grants": [{"role": "designer", "permission": "MGMT"},
                                           {"role": "operator", "permission": "USE"}]});
    // A queue and a deployment on it, for the robots routes.
    let queue_id = app
        .queue_with_deployment(&admin, "authz-q", "authz-d")
        .await;
    let mut rows: Vec<Row> = vec![
        (Method::GET, "/api/v1/me".into(), None, [Ok, Ok, Ok, Ok]),
        (
            Method::GET,
            "/api/v1/entity-types".into(),
            None,
            [Ok, Ok, Ok, Ok],
        ),
        (
            Method::POST,
            "/api/v1/entity-types".into(),
            Some(json!({"id": "t:c"})),
            [Ok, Ok, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            "/api/v1/entity-types/t:a".into(),
            None,
            [Ok, Ok, Ok, Ok],
        ),
        // 409 for those who may: the type has records.
        (
            Method::DELETE,
            "/api/v1/entity-types/t:a".into(),
            None,
            [Ok, Ok, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            "/api/v1/entity-types/t:a/records".into(),
            None,
            [Ok, Ok, Ok, Ok],
        ),
        (
            Method::POST,
            "/api/v1/entity-types/t:c/records".into(),
            Some(json!([{"guid": "c1"}])),
            [Ok, Ok, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            "/api/v1/entities/a1".into(),
            None,
            [Ok, Ok, Ok, Ok],
        ),
        // 409 for those who may: b1 references a1.
        (
            Method::DELETE,
            "/api/v1/entities/a1".into(),
            None,
            [Ok, Ok, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            "/api/v1/definitions/shared/root-entities".into(),
            None,
            [Ok, Ok, Ok, Hidden],
        ),
        (
            Method::GET,
            "/api/v1/definitions/private/root-entities".into(),
            None,
            [Ok, Hidden, Hidden, Hidden],
        ),
        (
            Method::POST,
            "/api/v1/definitions/shared/preview".into(),
            Some(json!({"root_entity_id": "a1"})),
            [Ok, Ok, Ok, Hidden],
        ),
        (
            Method::POST,
            "/api/v1/definitions/private/preview".into(),
            Some(json!({"root_entity_id": "a1"})),
            [Ok, Hidden, Hidden, Hidden],
        ),
        (
            Method::GET,
            "/api/v1/users".into(),
            None,
            [Ok, Forbidden, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"username": "new-person", "password": "new-person-pw"})),
            [Ok, Forbidden, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            "/api/v1/definitions".into(),
            None,
            [Ok, Ok, Ok, Ok],
        ),
        (
            Method::POST,
            "/api/v1/definitions/validate".into(),
            Some(draft("v")),
            [Ok, Ok, Ok, Ok],
        ),
        (
            Method::POST,
            "/api/v1/definitions".into(),
            Some(draft("brand-new")),
            [Ok, Ok, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            "/api/v1/definitions/shared".into(),
            None,
            [Ok, Ok, Ok, Hidden],
        ),
        (
            Method::GET,
            "/api/v1/definitions/private".into(),
            None,
            [Ok, Hidden, Hidden, Hidden],
        ),
        (
            Method::GET,
            "/api/v1/definitions/shared/versions/1".into(),
            None,
            [Ok, Ok, Ok, Hidden],
        ),
        (
            Method::GET,
            "/api/v1/definitions/private/versions/1".into(),
            None,
            [Ok, Hidden, Hidden, Hidden],
        ),
        (
            Method::PUT,
            "/api/v1/definitions/shared/draft".into(),
            Some(draft("shared")),
            [Ok, Ok, Forbidden, Hidden],
        ),
        (
            Method::PUT,
            "/api/v1/definitions/private/draft".into(),
            Some(draft("private")),
            [Ok, Hidden, Hidden, Hidden],
        ),
        (
            Method::POST,
            "/api/v1/definitions/shared/publish".into(),
            None,
            [Ok, Ok, Forbidden, Hidden],
        ),
        (
            Method::POST,
            "/api/v1/definitions/private/publish".into(),
            None,
            [Ok, Hidden, Hidden, Hidden],
        ),
        (
            Method::GET,
            "/api/v1/definitions/shared/grants".into(),
            None,
            [Ok, Ok, Ok, Hidden],
        ),
        (
            Method::PUT,
            "/api/v1/definitions/shared/grants".into(),
            Some(default_grants.clone()),
            [Ok, Ok, Forbidden, Hidden],
        ),
        (
            Method::PUT,
            "/api/v1/definitions/private/grants".into(),
            Some(json!({"grants": []})),
            [Ok, Hidden, Hidden, Hidden],
        ),
        (
            Method::POST,
            "/api/v1/instances".into(),
            Some(start_body("shared")),
            [Ok, Ok, Ok, Hidden],
        ),
        (
            Method::POST,
            "/api/v1/instances".into(),
            Some(start_body("private")),
            [Ok, Hidden, Hidden, Hidden],
        ),
        (
            Method::GET,
            "/api/v1/instances".into(),
            None,
            [Ok, Ok, Ok, Ok],
        ),
        (
            Method::GET,
            format!("/api/v1/instances/{own}"),
            None,
            [Ok, Ok, Ok, Hidden],
        ),
        (
            Method::GET,
            format!("/api/v1/instances/{others}"),
            None,
            [Ok, Hidden, Hidden, Hidden],
        ),
        (
            Method::GET,
            format!("/api/v1/instances/{started_earlier}"),
            None,
            [Ok, Hidden, Ok, Hidden],
        ),
        (
            Method::GET,
            format!("/api/v1/instances/{own}/events"),
            None,
            [Ok, Ok, Ok, Hidden],
        ),
        (
            Method::GET,
            format!("/api/v1/instances/{others}/events"),
            None,
            [Ok, Hidden, Hidden, Hidden],
        ),
        (
            Method::POST,
            format!("/api/v1/instances/{own}/pause"),
            None,
            [Ok, Ok, Ok, Hidden],
        ),
        (
            Method::POST,
            format!("/api/v1/instances/{own}/cancel"),
            None,
            [Ok, Ok, Ok, Hidden],
        ),
        (
            Method::POST,
            format!("/api/v1/instances/{others}/resume"),
            None,
            [Ok, Hidden, Hidden, Hidden],
        ),
        (
            Method::POST,
            format!("/api/v1/instances/{started_earlier}/cancel"),
            None,
            [Ok, Hidden, Forbidden, Hidden],
        ),
        (
            Method::POST,
            format!("/api/v1/instances/{own}/nodes/greet/rerun"),
            None,
            [Ok, Ok, Ok, Hidden],
        ),
        (
            Method::POST,
            format!("/api/v1/instances/{others}/nodes/greet/skip"),
            None,
            [Ok, Hidden, Hidden, Hidden],
        ),
        (
            Method::POST,
            format!("/api/v1/instances/{started_earlier}/nodes/greet/retry"),
            Some(json!({"input": {}})),
            [Ok, Hidden, Forbidden, Hidden],
        ),
        (
            Method::PUT,
            "/api/v1/definitions/shared/department".into(),
            Some(json!({"department_id": null})),
            [Ok, Ok, Forbidden, Hidden],
        ),
        (
            Method::PUT,
            "/api/v1/definitions/private/department".into(),
            Some(json!({"department_id": null})),
            [Ok, Hidden, Hidden, Hidden],
        ),
        (Method::GET, "/api/v1/groups".into(), None, [Ok, Ok, Ok, Ok]),
        (
            Method::POST,
            "/api/v1/groups".into(),
            Some(json!({"name": "night-shift"})),
            [Ok, Forbidden, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            "/api/v1/groups/night-shift".into(),
            None,
            [Ok, Ok, Ok, Ok],
        ),
        (
            Method::PATCH,
            "/api/v1/groups/night-shift".into(),
            Some(json!({"description": "nights"})),
            [Ok, Forbidden, Forbidden, Forbidden],
        ),
        (
            Method::DELETE,
            "/api/v1/groups/night-shift".into(),
            None,
            [Ok, Forbidden, Forbidden, Forbidden],
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{approver_id}"),
            Some(json!({"display_name": "The Approver"})),
            [Ok, Forbidden, Forbidden, Forbidden],
        ),
        (Method::GET, "/api/v1/tasks".into(), None, [Ok, Ok, Ok, Ok]),
        (
            Method::GET,
            format!("/api/v1/tasks/{mine}"),
            None,
            [Ok, Hidden, Hidden, Ok],
        ),
        (
            Method::GET,
            format!("/api/v1/tasks/{not_mine}"),
            None,
            [Ok, Hidden, Hidden, Hidden],
        ),
        (
            Method::POST,
            format!("/api/v1/tasks/{mine}/claim"),
            None,
            [Forbidden, Hidden, Hidden, Ok],
        ),
        (
            Method::POST,
            format!("/api/v1/tasks/{mine}/unclaim"),
            None,
            [Forbidden, Hidden, Hidden, Ok],
        ),
        (
            Method::POST,
            format!("/api/v1/tasks/{not_mine}/claim"),
            None,
            [Forbidden, Hidden, Hidden, Hidden],
        ),
        (
            Method::POST,
            format!("/api/v1/tasks/{not_mine}/complete"),
            Some(answer.clone()),
            [Forbidden, Hidden, Hidden, Hidden],
        ),
        (
            Method::POST,
            format!("/api/v1/tasks/{mine}/complete"),
            Some(answer.clone()),
            [Forbidden, Hidden, Hidden, Ok],
        ),
    ];
    rows.extend(crate::authz_robots::rows(&queue_id));

    let mut failures = Vec::new();
    for (method, path, body, expected) in &rows {
        for (i, role) in ROLES.iter().enumerate() {
            let (status, answer) = app
                .call(method.clone(), path, Some(&tokens[i]), body.clone())
                .await;
            let fits = match expected[i] {
                // Past authorisation: done, or refused for the object's state.
                Ok => matches!(status, 200 | 201 | 204 | 409),
                Forbidden => status == 403 && answer["code"] == "forbidden",
                Hidden => status == 404 && answer["code"] == "not_found",
            };
            if !fits {
                failures.push(format!(
                    "{role} {method} {path}: expected {:?}, got {status} {answer}",
                    expected[i]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Lists show only what each role may see.
    let (_, approver_sees) = app
        .call(Method::GET, "/api/v1/instances", Some(&tokens[3]), None)
        .await;
    assert_eq!(approver_sees["total"], 0);
    let (_, operator_sees) = app
        .call(Method::GET, "/api/v1/definitions", Some(&tokens[2]), None)
        .await;
    let keys: Vec<&str> = operator_sees["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|d| d["key"].as_str())
        .collect();
    assert!(
        keys.contains(&"shared") && !keys.contains(&"private"),
        "{keys:?}"
    );
    let (_, operator_instances) = app
        .call(Method::GET, "/api/v1/instances", Some(&tokens[2]), None)
        .await;
    let ids: Vec<&str> = operator_instances["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert!(ids.contains(&own.as_str()) && ids.contains(&started_earlier.as_str()));
    assert!(!ids.contains(&others.as_str()));
}
