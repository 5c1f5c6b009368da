//! Http nodes against a real server on loopback: templates, idempotency keys, accepted statuses,
//! and the refusal of internal addresses (directly, through DNS and through redirects).

use std::sync::Arc;

use engine::id::IdGenerator;
use engine::instance::{InstanceStatus, NodeRunStatus};
use engine::runtime::{Runtime, RuntimeConfig};
use engine::status::Backend;
use engine::store::Store;
use engine::testing::{Receiver, TestDatabase};
use serde_json::{json, Value};

use crate::runtime::{finished, publish, start};
use crate::{conformance, open};

fn with_allow(store: &Arc<dyn Store>, allow: &[&str]) -> Runtime {
    Runtime::new(
        store.clone(),
        IdGenerator::new(3),
        "http-worker",
        RuntimeConfig {
            http_allow: allow
                .iter()
                .map(|n| n.parse().expect("a network"))
                .collect(),
            ..RuntimeConfig::default()
        },
    )
}

/// start → call → end, where `call` is the given http node.
fn calling(key: &str, call: Value) -> Value {
    let mut node = call;
    node["id"] = json!("call");
    node["kind"] = json!("http");
    json!({
        "key": key, "name": key,
        "nodes": [{"id": "start", "kind": "start"}, node, {"id": "end", "kind": "end",
            "output_mappings": [{"source": "$.context.reply", "target": "$.output.reply"}]}],
        "edges": [{"from": "start", "to": "call"}, {"from": "call", "to": "end"}]
    })
}

conformance!(
    an_http_node_sends_its_templates_and_an_idempotency_key,
    sends
);
async fn sends(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let receiver = Receiver::start().await;
    let rt = with_allow(&store, &["127.0.0.0/8"]);
    publish(
        &store,
        calling(
            "post",
            json!({"method": "POST", "url": receiver.url("/users/{{input.id}}"),
                   "headers": {"x-team": "{{context.team}}"},
                   "body": {"id": "{{input.id}}", "note": "for {{context.team}}"},
                   "input_mappings": [{"source": "$.context.user", "target": "$.input.id"}],
                   "output_mappings": [{"source": "$.output.body.received", "target": "$.context.reply"}]}),
        ),
    )
    .await;
    let id = start(&rt, "post", json!({"user": 42, "team": "ops"}))
        .await
        .id;
    let done = finished(&rt, id).await;
    assert_eq!(done.status, InstanceStatus::Completed, "{:?}", done.error);
    assert_eq!(
        done.output,
        Some(json!({"reply": {"id": 42, "note": "for ops"}}))
    );
    let got = receiver.received();
    let call = got.iter().find(|r| r.path == "/users/42").expect("called");
    assert_eq!(call.method, "POST");
    assert_eq!(call.headers.get("x-team").map(String::as_str), Some("ops"));
    let key = call.idempotency_key.clone().expect("an idempotency key");
    assert!(!key.is_empty());
    let keys: std::collections::HashSet<_> = got
        .iter()
        .filter_map(|r| r.idempotency_key.clone())
        .collect();
    assert_eq!(keys.len(), got.len(), "each activation has its own key");
}

conformance!(
    an_unaccepted_status_fails_the_node_with_the_response,
    statuses
);
async fn statuses(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let receiver = Receiver::start().await;
    let rt = with_allow(&store, &["127.0.0.1/32"]);
    publish(
        &store,
        calling("teapot", json!({"url": receiver.url("/status/418")})),
    )
    .await;
    publish(
        &store,
        calling(
            "teapot-ok",
            json!({"url": receiver.url("/status/418"), "accepted_statuses": [418, "2xx"],
                   "output_mappings": [{"source": "$.output.status", "target": "$.context.reply"}]}),
        ),
    )
    .await;

    let id = start(&rt, "teapot", json!({})).await.id;
    let done = finished(&rt, id).await;
    assert_eq!(done.status, InstanceStatus::Failed);
    let error = done.error.expect("error");
    assert_eq!(error["code"], "http_status", "{error}");
    let run = store.node_runs(id).await.expect("runs");
    let call = run.iter().find(|r| r.node_id == "call").expect("call run");
    assert_eq!(call.status, NodeRunStatus::Failed);
    assert_eq!(call.error.as_ref().expect("error")["detail"]["status"], 418);

    let id = start(&rt, "teapot-ok", json!({})).await.id;
    let done = finished(&rt, id).await;
    assert_eq!(done.status, InstanceStatus::Completed, "{:?}", done.error);
    assert_eq!(done.output, Some(json!({"reply": 418})));
}

conformance!(internal_addresses_are_refused_unless_allowed, refusals);
async fn refusals(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let receiver = Receiver::start().await;
    let strict = with_allow(&store, &[]);
    let port = receiver.addr.port();
    let cases = [
        ("literal", format!("http://127.0.0.1:{port}/x")),
        ("dns", format!("http://localhost:{port}/x")),
        (
            "metadata",
            "http://169.254.169.254/latest/meta-data/".to_string(),
        ),
        ("mapped", format!("http://[::ffff:127.0.0.1]:{port}/x")),
    ];
    for (name, url) in &cases {
        publish(
            &store,
            calling(&format!("refuse-{name}"), json!({"url": url})),
        )
        .await;
        let id = start(&strict, &format!("refuse-{name}"), json!({}))
            .await
            .id;
        let done = finished(&strict, id).await;
        assert_eq!(done.status, InstanceStatus::Failed, "{name}");
        let error = done.error.expect("error");
        assert_eq!(error["code"], "address_refused", "{name}: {error}");
    }
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );

    // A redirect to an internal address is refused even when the first hop is allowed.
    let inner = Receiver::start_on("127.0.0.2:0").await;
    let partly = with_allow(&store, &["127.0.0.1/32"]);
    let hop = receiver.url(&format!("/redirect?to={}", inner.url("/secret")));
    publish(&store, calling("refuse-redirect", json!({"url": hop}))).await;
    let id = start(&partly, "refuse-redirect", json!({})).await.id;
    let done = finished(&partly, id).await;
    assert_eq!(done.status, InstanceStatus::Failed);
    assert_eq!(done.error.expect("error")["code"], "address_refused");
    assert!(inner.received().is_empty(), "the redirect was not followed");

    // Allowed, the same redirect is followed.
    let open_rt = with_allow(&store, &["127.0.0.0/8"]);
    let id = start(&open_rt, "refuse-redirect", json!({})).await.id;
    let done = finished(&open_rt, id).await;
    assert_eq!(done.status, InstanceStatus::Completed, "{:?}", done.error);
    assert_eq!(inner.received().len(), 1);
}

conformance!(
    an_instance_hook_is_sent_once_the_instance_ends_and_retried_when_refused,
    hooks
);
async fn hooks(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let receiver = Receiver::start().await;
    let rt = with_allow(&store, &["127.0.0.0/8"]);
    publish(
        &store,
        calling(
            "hooked",
            json!({"method": "POST", "url": receiver.url("/work")}),
        ),
    )
    .await;
    let id = start(&rt, "hooked", json!({})).await.id;
    rt.add_hook(id, &receiver.url("/ended"), "")
        .await
        .expect("hook");
    rt.add_hook(id, &receiver.url("/status/503"), "")
        .await
        .expect("hook");
    let refused = start(&rt, "hooked", json!({})).await.id;
    rt.add_hook(refused, "http://169.254.169.254/latest", "")
        .await
        .expect("hook");
    // Not ended yet: nothing is sent.
    assert_eq!(rt.deliver_hooks().await, 0);
    assert!(receiver.received().iter().all(|r| r.path != "/ended"));

    let done = finished(&rt, id).await;
    finished(&rt, refused).await;
    assert_eq!(done.status, InstanceStatus::Completed);
    assert_eq!(rt.deliver_hooks().await, 1);
    let sent: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.path == "/ended")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "POST");
    assert_eq!(sent[0].body["instance_id"], json!(id.to_string()));
    assert_eq!(sent[0].body["status"], json!("completed"));
    assert!(sent[0]
        .idempotency_key
        .as_deref()
        .is_some_and(|k| k.starts_with("hook-")));

    let hooks = store.hooks_of(id).await.expect("hooks");
    assert_eq!(hooks[0].state, "delivered");
    assert_eq!(hooks[1].state, "pending", "a 503 is tried again");
    assert_eq!(hooks[1].attempts, 1);
    assert!(hooks[1].last_error.is_some());
    let guarded = store.hooks_of(refused).await.expect("hooks");
    assert_eq!(guarded[0].state, "pending");
    assert!(
        guarded[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("link-local")),
        "the address guard refuses it: {:?}",
        guarded[0].last_error
    );
    // Delivered hooks are not sent again, and a retry is not due yet.
    assert_eq!(rt.deliver_hooks().await, 0);
    assert_eq!(
        receiver
            .received()
            .iter()
            .filter(|r| r.path == "/ended")
            .count(),
        1
    );
}
