//! The REST API's definitions and instances, over HTTP: the happy path, every kind of bad input
//! (nothing written), and idempotent starts.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

pub fn hello() -> Value {
    json!({"key": "hello", "name": "Hello",
           "input_schema": {"type": "object", "required": ["who"],
                            "properties": {"who": {"type": "string"}}},
           "nodes": [{"id": "start", "kind": "start"},
                     {"id": "greet", "kind": "script", "script": "`hello ${input.who}`",
                      "output_mappings": [{"source": "$.output", "target": "$.context.greeting"}]},
                     {"id": "end", "kind": "end",
                      "output_mappings": [{"source": "$.context.greeting", "target": "$.output.greeting"}]}],
           "edges": [{"from": "start", "to": "greet"}, {"from": "greet", "to": "end"}]})
}

/// Waits until the instance has ended; returns it.
pub async fn ended(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, instance) = app
            .call(
                Method::GET,
                &format!("/api/v1/instances/{id}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{instance}");
        if ["completed", "failed", "cancelled"].contains(&instance["status"].as_str().unwrap_or(""))
        {
            return instance;
        }
        assert!(Instant::now() < deadline, "still {}", instance["status"]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_definition_goes_from_draft_to_a_finished_instance() {
    let app = spawn_app().await;
    let token = app.admin().await;

    let (status, created) = app
        .call(
            Method::POST,
            "/api/v1/definitions",
            Some(&token),
            Some(hello()),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["definition"]["key"], "hello");
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/definitions",
            Some(&token),
            Some(hello()),
        )
        .await;
    assert_eq!(status, 409, "a key is created once");

    let (status, published) = app
        .call(
            Method::POST,
            "/api/v1/definitions/hello/publish",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 201, "{published}");
    assert_eq!(published["version"], 1);

    let (status, listed) = app
        .call(
            Method::GET,
            "/api/v1/definitions?q=hel&limit=5",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["latest_version"], 1);

    let (status, read) = app
        .call(Method::GET, "/api/v1/definitions/hello", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(read["versions"][0]["version"], 1);
    assert_eq!(read["grants"].as_array().map(Vec::len), Some(2));

    // The version as YAML reads back as the same definition.
    let yaml = app
        .client
        .get(app.url("/api/v1/definitions/hello/versions/1?format=yaml"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("yaml");
    assert_eq!(yaml.status(), 200);
    let text = yaml.text().await.expect("text");
    assert!(text.contains("key: hello"), "{text}");
    let (status, check) = app
        .call(
            Method::POST,
            "/api/v1/definitions/validate",
            Some(&token),
            Some(serde_norway::from_str(&text).expect("yaml parses")),
        )
        .await;
    assert_eq!((status, check["issues"].clone()), (200, json!([])));

    // A YAML draft saves, with the issues it still has.
    let draft = app
        .client
        .put(app.url("/api/v1/definitions/hello/draft"))
        .bearer_auth(&token)
        .header("content-type", "application/yaml")
        .body("key: hello\nname: Hello again\nnodes: [{id: start, kind: start}]\nedges: [{from: start, to: nowhere}]\n")
        .send()
        .await
        .expect("draft");
    assert_eq!(draft.status(), 200);
    let draft: Value = draft.json().await.expect("json");
    assert_eq!(draft["issues"][0]["code"], "dangling_edge", "{draft}");
    // The draft exports as YAML and as JSON.
    let exported = app
        .client
        .get(app.url("/api/v1/definitions/hello/draft?format=yaml"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("export");
    assert_eq!(
        exported
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/yaml; charset=utf-8")
    );
    let yaml = exported.text().await.expect("yaml");
    assert!(
        yaml.contains("name: Hello again") && yaml.contains("to: nowhere"),
        "{yaml}"
    );
    let (status, json_draft) = app
        .call(
            Method::GET,
            "/api/v1/definitions/hello/draft",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        (status, json_draft["name"].as_str()),
        (200, Some("Hello again"))
    );

    let (status, started) = app
        .call(Method::POST, "/api/v1/instances", Some(&token),
              Some(json!({"definition_key": "hello", "input": {"who": "world"}, "idempotency_key": "req-1"})))
        .await;
    assert_eq!(status, 201, "{started}");
    let id = started["id"].as_str().expect("ids are strings").to_string();
    let (status, again) = app
        .call(Method::POST, "/api/v1/instances", Some(&token),
              Some(json!({"definition_key": "hello", "input": {"who": "world"}, "idempotency_key": "req-1"})))
        .await;
    assert_eq!(
        (status, again["id"].as_str()),
        (200, Some(id.as_str())),
        "same key, same instance"
    );

    let done = ended(&app, &token, &id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"], json!({"greeting": "hello world"}));
    assert_eq!(done["node_runs"].as_array().map(Vec::len), Some(3));

    let (status, listed) = app
        .call(
            Method::GET,
            "/api/v1/instances?status=completed&definition_key=hello",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["total"], 1);

    // The event log as server-sent events, ending with the instance.
    let events = app
        .client
        .get(app.url(&format!("/api/v1/instances/{id}/events")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sse");
    assert_eq!(
        events
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let stream = tokio::time::timeout(Duration::from_secs(5), events.text())
        .await
        .expect("the stream ends with the instance")
        .expect("text");
    assert!(stream.contains("event: instance.started"), "{stream}");
    assert!(stream.contains("event: instance.completed"), "{stream}");
    assert!(stream.contains("id: 1\n"), "{stream}");
}

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_problem_and_writes_nothing() {
    let app = spawn_app().await;
    let token = app.admin().await;
    app.call(
        Method::POST,
        "/api/v1/definitions",
        Some(&token),
        Some(hello()),
    )
    .await;
    app.call(
        Method::POST,
        "/api/v1/definitions/hello/publish",
        Some(&token),
        None,
    )
    .await;

    let mut broken = hello();
    broken["key"] = json!("broken");
    broken["edges"] = json!([{"from": "start", "to": "nowhere"}]);
    /// method, path, body, status, code, field
    type Case<'a> = (
        Method,
        &'a str,
        Option<Value>,
        u16,
        &'a str,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            Method::POST,
            "/api/v1/definitions",
            Some(broken),
            422,
            "invalid_definition",
            None,
        ),
        (
            Method::POST,
            "/api/v1/definitions",
            Some(json!({"key": "x"})),
            422,
            "invalid_definition",
            None,
        ),
        (
            Method::POST,
            "/api/v1/instances",
            Some(json!({})),
            400,
            "invalid_request",
            Some("definition_key"),
        ),
        (
            Method::POST,
            "/api/v1/instances",
            Some(json!({"definition_key": 7})),
            400,
            "invalid_request",
            Some("definition_key"),
        ),
        (
            Method::POST,
            "/api/v1/instances",
            Some(json!({"definition_key": "hello", "extra": 1})),
            400,
            "invalid_request",
            None,
        ),
        (
            Method::POST,
            "/api/v1/instances",
            Some(json!({"definition_key": "hello", "input": {}})),
            422,
            "invalid_input",
            Some("input"),
        ),
        (
            Method::POST,
            "/api/v1/instances",
            Some(json!({"definition_key": "hello", "input": {"who": 5}})),
            422,
            "invalid_input",
            Some("input/who"),
        ),
        (
            Method::POST,
            "/api/v1/instances",
            Some(json!({"definition_key": "nope"})),
            404,
            "not_found",
            None,
        ),
        (
            Method::POST,
            "/api/v1/instances",
            Some(json!({"definition_key": "hello", "session_id": "s-1"})),
            422,
            "invalid_input",
            Some("session_id"),
        ),
        (
            Method::POST,
            "/api/v1/instances",
            Some(json!({"definition_key": "hello", "bindings": []})),
            400,
            "invalid_request",
            Some("bindings"),
        ),
        (
            Method::GET,
            "/api/v1/instances/abc",
            None,
            400,
            "invalid_request",
            Some("id"),
        ),
        (
            Method::GET,
            "/api/v1/instances/12345",
            None,
            404,
            "not_found",
            None,
        ),
        (
            Method::GET,
            "/api/v1/instances?status=odd",
            None,
            400,
            "invalid_request",
            Some("status"),
        ),
        (
            Method::GET,
            "/api/v1/definitions?limit=1000",
            None,
            400,
            "invalid_request",
            Some("limit"),
        ),
        (
            Method::GET,
            "/api/v1/definitions?limit=x",
            None,
            400,
            "invalid_request",
            Some("limit"),
        ),
        (
            Method::GET,
            "/api/v1/definitions/hello/versions/0",
            None,
            400,
            "invalid_request",
            Some("version"),
        ),
        (
            Method::GET,
            "/api/v1/definitions/hello/versions/9",
            None,
            404,
            "not_found",
            None,
        ),
        (
            Method::GET,
            "/api/v1/definitions/hello/versions/1?format=xml",
            None,
            400,
            "invalid_request",
            Some("format"),
        ),
        (
            Method::POST,
            "/api/v1/instances/1/explode",
            None,
            404,
            "not_found",
            None,
        ),
    ];
    for (method, path, body, status, code, field) in cases {
        let (got, error) = app
            .call(method.clone(), path, Some(&token), body.clone())
            .await;
        assert_eq!(got, status, "{method} {path} {body:?}: {error}");
        assert_eq!(error["code"], code, "{method} {path}: {error}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{error}"
        );
        if let Some(field) = field {
            assert_eq!(error["field"], field, "{method} {path}: {error}");
        }
        let text = error.to_string().to_lowercase();
        assert!(
            !text.contains("select ") && !text.contains("insert "),
            "no SQL: {text}"
        );
    }

    // Not JSON, wrong media type, too large.
    let raw = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/instances"))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let response = raw("{not json", "application/json").await.expect("send");
    assert_eq!(response.status(), 400);
    let response = raw("definition_key=hello", "text/plain")
        .await
        .expect("send");
    assert_eq!(response.status(), 415);
    let huge = json!({"definition_key": "hello", "input": {"who": "x".repeat(3 * 1024 * 1024)}});
    let (status, error) = app
        .call(Method::POST, "/api/v1/instances", Some(&token), Some(huge))
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (413, Some("too_large")),
        "{error}"
    );

    // A 10,000-node definition is refused whole, naming the limit.
    let nodes: Vec<Value> = (0..10_000)
        .map(|i| json!({"id": format!("n{i}"), "kind": "script", "script": "1"}))
        .collect();
    let (status, error) = app
        .call(
            Method::POST,
            "/api/v1/definitions",
            Some(&token),
            Some(json!({"key": "huge", "name": "Huge", "nodes": nodes, "edges": []})),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (422, Some("invalid_definition")),
        "{error}"
    );
    assert!(error.to_string().contains("too_many_nodes"), "{error}");

    // Nothing of that was written: still one definition, no instance.
    let (_, definitions) = app
        .call(Method::GET, "/api/v1/definitions", Some(&token), None)
        .await;
    assert_eq!(definitions["total"], 1);
    let (_, instances) = app
        .call(Method::GET, "/api/v1/instances", Some(&token), None)
        .await;
    assert_eq!(instances["total"], 0);
}

#[tokio::test]
async fn every_route_is_in_the_openapi_document_and_answers() {
    let app = spawn_app().await;
    let (status, doc) = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    let paths = doc["paths"].as_object().expect("paths");
    let expected = crate::documented::ROUTES;
    let mut documented = 0;
    for (path, item) in paths {
        for method in item.as_object().expect("operations").keys() {
            documented += 1;
            assert!(
                expected.contains(&(path.as_str(), method.as_str())),
                "{method} {path} is documented but not in this test's list"
            );
        }
    }
    assert_eq!(documented, expected.len());
    // Each documented route is served: with a made-up token it is refused by authentication
    // (401), never missing (a 404 would come from the router's fallback, which is behind it
    // too, so ask as the admin for that).
    let token = app.admin().await;
    for (path, method) in expected {
        let concrete = path
            .replace("{key}", "nope")
            .replace("{version}", "1")
            .replace("{id}", "1")
            .replace("{node}", "n")
            .replace("{user_id}", "1")
            .replace("{name}", "nope")
            .replace("{outcome}", "progress")
            .replace(
                "{operation}",
                if path.contains("nodes") {
                    "rerun"
                } else {
                    "pause"
                },
            );
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let (status, body) = app
            .call(
                method.clone(),
                &format!("/api/v1{concrete}"),
                Some(&token),
                Some(json!({})),
            )
            .await;
        assert!(
            !(status == 404 && body["message"] == "route not found"),
            "{method} {concrete} is documented but not routed"
        );
    }
    let page = app
        .client
        .get(app.url("/api/docs"))
        .send()
        .await
        .expect("docs");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("/api/v1/openapi.json") && !html.contains("https://"),
        "self-contained"
    );
}
