//! Robots over real HTTP: an administrator sets up a queue, robots and a deployment; a workflow
//! of `job` nodes (what the Encoo console calls a layout) runs; a worker written against the
//! protocol claims, reports and finishes its jobs; a worker that dies mid-job loses the job to
//! another robot once the lease lapses; bad input is refused.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app_with, TestApp};

struct Setup {
    admin: String,
    robots: Vec<(String, String)>,
}

/// A queue `printers` with robots `r1` and `r2` (their ids and tokens), a deployment `report`
/// and a workflow `layout` running it twice.
async fn set_up(app: &TestApp) -> Setup {
    let admin = app.admin().await;
    let (status, queue) = app
        .call(
            Method::POST,
            "/api/v1/queues",
            Some(&admin),
            Some(json!({"name": "printers", "description": "the office printers"})),
        )
        .await;
    assert_eq!(status, 201, "{queue}");
    let queue_id = queue["id"].as_str().expect("id").to_string();
    let mut robots = Vec::new();
    for name in ["r1", "r2"] {
        let (status, made) = app
            .call(
                Method::POST,
                "/api/v1/robots",
                Some(&admin),
                Some(json!({"name": name, "queue_id": queue_id})),
            )
            .await;
        assert_eq!(status, 201, "{made}");
        robots.push((
            made["robot"]["id"].as_str().expect("id").to_string(),
            made["token"].as_str().expect("token").to_string(),
        ));
    }
    app.upload_package(&admin, "reports", "1.2.0").await;
    app.upload_package(&admin, "p", "1").await;
    let (status, deployment) = app
        .call(
            Method::POST,
            "/api/v1/deployments",
            Some(&admin),
            Some(
                json!({"name": "report", "package_name": "reports", "package_version": "1.2.0",
                        "queue_id": queue_id, "arguments": {"format": "pdf"}, "priority": 3000}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{deployment}");
    app.publish(
        &admin,
        json!({"key": "layout", "name": "Layout",
               "nodes": [{"id": "start", "kind": "start"},
                         {"id": "first", "kind": "job", "deployment": "report",
                          "arguments": {"part": 1}},
                         {"id": "second", "kind": "job", "deployment": "report",
                          "arguments": {"part": "{{context.part}}"},
                          "output_mappings": [{"source": "$.output.output", "target": "$.context.last"}]},
                         {"id": "end", "kind": "end",
                          "output_mappings": [{"source": "$.context.last", "target": "$.output.last"}]}],
               "edges": [{"from": "start", "to": "first"}, {"from": "first", "to": "second"},
                         {"from": "second", "to": "end"}]}),
    )
    .await;
    Setup { admin, robots }
}

async fn start(app: &TestApp, admin: &str) -> String {
    let (status, started) = app
        .call(
            Method::POST,
            "/api/v1/instances",
            Some(admin),
            Some(json!({"definition_key": "layout", "input": {"part": 2}})),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    started["id"].as_str().expect("id").to_string()
}

/// One protocol call as a robot.
async fn worker(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    app.call(
        Method::POST,
        &format!("/api/v1/workers/{path}"),
        Some(token),
        Some(body),
    )
    .await
}

/// A worker: heartbeat, then claim, report progress and succeed until `jobs` jobs are done.
async fn work(app: &TestApp, token: &str, jobs: usize) -> Vec<Value> {
    let mut done = Vec::new();
    while done.len() < jobs {
        let (status, _) = worker(app, token, "heartbeat", json!({"sdk_version": "2.1"})).await;
        assert_eq!(status, 200);
        let (status, job) = worker(app, token, "jobs/claim", json!({})).await;
        if status == 204 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        assert_eq!(status, 200, "{job}");
        let id = job["id"].as_str().expect("id").to_string();
        // The robot fetches what it runs.
        let file = app
            .client
            .get(app.url(&format!(
                "/api/v1/workers/packages/{}/{}",
                job["package_name"].as_str().expect("package"),
                job["package_version"].as_str().expect("version")
            )))
            .bearer_auth(token)
            .send()
            .await
            .expect("download");
        assert_eq!(file.status(), 200);
        let sha = file.headers()["x-package-sha256"]
            .to_str()
            .expect("hash")
            .to_string();
        let bytes = file.bytes().await.expect("file");
        assert_eq!(engine::service::packages::sha256_hex(&bytes), sha);
        engine::service::packages::read_package(&bytes).expect("a package file");
        let (status, _) = worker(
            app,
            token,
            &format!("jobs/{id}/progress"),
            json!({"message": "printing"}),
        )
        .await;
        assert_eq!(status, 200);
        let part = job["arguments"]["part"].clone();
        let (status, finished) = worker(
            app,
            token,
            &format!("jobs/{id}/succeed"),
            json!({"output": {"printed": part}}),
        )
        .await;
        assert_eq!(status, 200, "{finished}");
        assert_eq!(finished["state"], "Succeeded");
        done.push(job);
    }
    done
}

async fn instance(app: &TestApp, admin: &str, id: &str, status: &str) -> Value {
    eventually(&format!("the instance is {status}"), || async {
        let (_, body) = app
            .call(
                Method::GET,
                &format!("/api/v1/instances/{id}"),
                Some(admin),
                None,
            )
            .await;
        (body["status"] == status).then_some(body)
    })
    .await
}

#[tokio::test]
async fn a_worker_runs_the_jobs_of_a_workflow_and_a_dead_one_loses_its_job() {
    let app = spawn_app_with(|c| c.lease = Duration::from_secs(1)).await;
    let Setup { admin, robots } = set_up(&app).await;
    let (r1, r2) = (robots[0].clone(), robots[1].clone());

    // The worker runs both jobs of the workflow, in order, with their arguments.
    let id = start(&app, &admin).await;
    let jobs = work(&app, &r1.1, 2).await;
    // The package's defaults (`Folder`) under the deployment's and the node's arguments.
    let args = |part| json!({"Folder": "C:/in", "format": "pdf", "part": part});
    assert_eq!(jobs[0]["arguments"], args(1));
    assert_eq!(jobs[1]["arguments"], args(2));
    assert_eq!(jobs[0]["package_version"], "1.2.0");
    assert_eq!(jobs[0]["priority"], 3000);
    let done = instance(&app, &admin, &id, "completed").await;
    assert_eq!(done["output"], json!({"last": {"printed": 2}}));

    // r1 claims the next job and dies; after the lease the job goes to r2, not back to r1.
    let id = start(&app, &admin).await;
    let job = eventually("a job is queued", || async {
        let (status, job) = worker(&app, &r1.1, "jobs/claim", json!({})).await;
        (status == 200).then_some(job)
    })
    .await;
    let job_id = job["id"].as_str().expect("id").to_string();
    let taken = eventually("r2 gets the lost job", || async {
        worker(&app, &r2.1, "heartbeat", json!({})).await;
        let (status, job) = worker(&app, &r2.1, "jobs/claim", json!({})).await;
        (status == 200).then_some(job)
    })
    .await;
    assert_eq!(taken["id"], json!(job_id));
    assert_eq!(taken["requeued"], true);
    let (status, late) = worker(
        &app,
        &r1.1,
        &format!("jobs/{job_id}/succeed"),
        json!({"output": {}}),
    )
    .await;
    assert_eq!(status, 409, "r1's late report changes nothing: {late}");
    let (status, _) = worker(
        &app,
        &r2.1,
        &format!("jobs/{job_id}/succeed"),
        json!({"output": {"printed": 1}}),
    )
    .await;
    assert_eq!(status, 200);
    work(&app, &r2.1, 1).await;
    instance(&app, &admin, &id, "completed").await;

    // The console: robots with their status, and the instance's jobs.
    let (status, list) = app
        .call(Method::GET, "/api/v1/robots", Some(&admin), None)
        .await;
    assert_eq!(status, 200, "{list}");
    let r1_status = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["id"] == json!(r1.0))
        .map(|r| r["status"].clone());
    assert_eq!(r1_status, Some(json!("disconnected")), "{list}");
    let (status, jobs) = app
        .call(
            Method::GET,
            &format!("/api/v1/jobs?instance_id={id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{jobs}");
    assert_eq!(jobs["total"], 2);
    assert!(jobs["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|j| j["state"] == "Succeeded"));
}

#[tokio::test]
async fn robots_refuse_bad_input_and_strangers() {
    let app = spawn_app_with(|_| {}).await;
    let Setup { admin, robots } = set_up(&app).await;
    let operator = app.user("olga", &[engine::people::Role::Operator]).await;
    let (_, queues) = app
        .call(Method::GET, "/api/v1/queues", Some(&operator), None)
        .await;
    let queue_id = queues["items"][0]["id"].as_str().expect("id").to_string();

    for (path, body, status, field) in [
        (
            "/api/v1/deployments",
            json!({"name": "x", "package_name": "p", "package_version": "1", "queue_id": queue_id, "priority": 6000}),
            400,
            "priority",
        ),
        (
            "/api/v1/deployments",
            json!({"name": "x", "package_name": "p", "package_version": "1", "queue_id": queue_id, "max_retries": 11}),
            400,
            "max_retries",
        ),
        (
            "/api/v1/deployments",
            json!({"name": "x", "package_name": "p", "package_version": "1", "queue_id": queue_id, "trigger_policy": "Sometimes"}),
            400,
            "trigger_policy",
        ),
        (
            "/api/v1/deployments",
            json!({"name": "x", "package_name": "p", "package_version": "1", "queue_id": "nope"}),
            422,
            "queue_id",
        ),
        (
            "/api/v1/robots",
            json!({"name": "r3", "queue_id": "nope"}),
            422,
            "queue_id",
        ),
        ("/api/v1/robots", json!({"name": " "}), 400, "name"),
    ] {
        let (got, answer) = app.call(Method::POST, path, Some(&admin), Some(body)).await;
        assert_eq!(
            (got, answer["field"].as_str()),
            (status, Some(field)),
            "{answer}"
        );
    }
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/robots",
            Some(&admin),
            Some(json!({"name": "r1"})),
        )
        .await;
    assert_eq!(status, 409, "names are unique");
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/robots",
            Some(&operator),
            Some(json!({"name": "r9"})),
        )
        .await;
    assert_eq!(status, 403);
    // A robot's token is not a person's, and a person's is not a robot's.
    let (status, _) = worker(&app, "not-a-robot-token", "jobs/claim", json!({})).await;
    assert_eq!(status, 401);
    let (status, _) = worker(&app, &operator, "jobs/claim", json!({})).await;
    assert_eq!(status, 401);
    let (status, _) = app
        .call(Method::GET, "/api/v1/me", Some(&robots[0].1), None)
        .await;
    assert_eq!(status, 401);
    // Reports on a job that is not the robot's, or an unknown outcome.
    let (status, _) = worker(&app, &robots[0].1, "jobs/nope/succeed", json!({})).await;
    assert_eq!(status, 404);
    let (status, answer) = worker(&app, &robots[0].1, "jobs/nope/explode", json!({})).await;
    assert_eq!((status, answer["field"].as_str()), (400, Some("outcome")));
    // A job run on its own, by an operator; its failure needs a reason.
    let (status, job) = app
        .call(
            Method::POST,
            "/api/v1/deployments/report/execute",
            Some(&operator),
            Some(json!({"arguments": {"part": 9}})),
        )
        .await;
    assert_eq!(status, 201, "{job}");
    let (_, claimed) = worker(&app, &robots[1].1, "jobs/claim", json!({})).await;
    assert_eq!(claimed["id"], job["id"]);
    let id = claimed["id"].as_str().expect("id");
    let (status, answer) = worker(&app, &robots[1].1, &format!("jobs/{id}/fail"), json!({})).await;
    assert_eq!((status, answer["field"].as_str()), (400, Some("message")));
    let (status, failed) = worker(
        &app,
        &robots[1].1,
        &format!("jobs/{id}/fail"),
        json!({"message": "out of paper"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(failed["state"], "Failed");
    assert_eq!(failed["message"], "out of paper");
}
