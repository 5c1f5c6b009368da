//! Debug mode, dry runs and delete over real HTTP.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{eventually, spawn_app};
use crate::rest::{ended, hello};

#[tokio::test]
async fn debug_and_dry_run_starts_and_delete_work_over_http() {
    let app = spawn_app().await;
    let token = app.admin().await;
    let mut document = hello();
    // `greet` fails unless the input says otherwise.
    document["nodes"][1]["script"] = json!(
        "if input.who == \"nobody\" { throw \"no one to greet\" } else { `hello ${input.who}` }"
    );
    app.publish(&token, document).await;

    // Debug: the failure pauses the instance; a retry with an edited input finishes it.
    let (status, started) = app
        .call(
            Method::POST,
            "/api/v1/instances",
            Some(&token),
            Some(json!({"definition_key": "hello", "input": {"who": "nobody"}, "debug": true})),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    assert_eq!(started["debug"], true);
    let id = started["id"].as_str().expect("id").to_string();
    eventually("the pause", || async {
        let (_, now) = app
            .call(
                Method::GET,
                &format!("/api/v1/instances/{id}"),
                Some(&token),
                None,
            )
            .await;
        (now["status"] == "paused").then_some(())
    })
    .await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/instances/{id}/nodes/greet/retry"),
            Some(&token),
            Some(json!({"input": {"who": "debugger"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let done = ended(&app, &token, &id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"]["greeting"], "hello debugger");

    // Deleting an ended instance is accepted; a second request while it runs, or one for a
    // running instance, is a conflict.
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/instances/{id}/delete"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 202);
    eventually("instance.deleted", || async {
        let events = app
            .runtime
            .store()
            .events(id.parse().expect("id"), 0)
            .await
            .expect("events");
        events
            .last()
            .is_some_and(|e| e.kind == "instance.deleted")
            .then_some(())
    })
    .await;

    // A dry run completes as the real one would, flagged as such.
    let (status, started) = app
        .call(
            Method::POST,
            "/api/v1/instances",
            Some(&token),
            Some(json!({"definition_key": "hello", "input": {"who": "mock"}, "mock": true})),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let id = started["id"].as_str().expect("id").to_string();
    let done = ended(&app, &token, &id).await;
    assert_eq!(
        (done["status"].as_str(), done["mock"].as_bool()),
        (Some("completed"), Some(true))
    );
}
