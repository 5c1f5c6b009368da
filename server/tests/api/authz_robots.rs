//! The robots routes' rows of the authorisation matrix (see `authz.rs`): queues, robots,
//! deployments, packages and jobs, on the queue `authz-q` with its deployment `authz-d` (package
//! `p`).

use reqwest::Method;
use serde_json::json;

use crate::authz::Expect::{Forbidden, Ok};
use crate::authz::Row;

pub(crate) fn rows(queue_id: &str) -> Vec<Row> {
    vec![
        (Method::GET, "/api/v1/queues".into(), None, [Ok, Ok, Ok, Ok]),
        (
            Method::POST,
            "/api/v1/queues".into(),
            Some(json!({"name": "night"})),
            [Ok, Forbidden, Forbidden, Forbidden],
        ),
        (Method::GET, "/api/v1/robots".into(), None, [Ok, Ok, Ok, Ok]),
        (
            Method::POST,
            "/api/v1/robots".into(),
            Some(json!({"name": "night-robot"})),
            [Ok, Forbidden, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            "/api/v1/deployments".into(),
            None,
            [Ok, Ok, Ok, Ok],
        ),
        (
            Method::POST,
            "/api/v1/deployments".into(),
            Some(
                json!({"name": "d2", "package_name": "p", "package_version": "1", "queue_id": queue_id}),
            ),
            [Ok, Forbidden, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            "/api/v1/jobs".into(),
            None,
            [Ok, Forbidden, Ok, Forbidden],
        ),
        (
            Method::GET,
            "/api/v1/packages".into(),
            None,
            [Ok, Ok, Ok, Ok],
        ),
        (
            Method::GET,
            "/api/v1/packages/p".into(),
            None,
            [Ok, Ok, Ok, Ok],
        ),
        (
            // The deployment uses it: 409 for the admin.
            Method::DELETE,
            "/api/v1/packages/p".into(),
            None,
            [Ok, Forbidden, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            "/api/v1/deployments/authz-d/robots".into(),
            None,
            [Ok, Ok, Ok, Ok],
        ),
        (
            Method::POST,
            "/api/v1/deployments/authz-d/robots".into(),
            Some(json!({"robot_ids": []})),
            [Ok, Forbidden, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            "/api/v1/deployments/upgrade".into(),
            Some(json!({"deployment_ids": ["authz-d"]})),
            [Ok, Forbidden, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            "/api/v1/deployments/authz-d/execute".into(),
            None,
            [Ok, Forbidden, Ok, Forbidden],
        ),
    ]
}
