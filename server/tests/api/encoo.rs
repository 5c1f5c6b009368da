//! The Encoo console surface (reference 004): the token endpoint's form and field names, the
//! PascalCase objects and `{Count, List}` pages of its examples, executing a workflow and a
//! layout, and its refusals.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{keys, sorted, spawn_app, TestApp, ADMIN_PASSWORD};

async fn form_token(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/connect/token"))
        .form(form)
        .send()
        .await
        .expect("token");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `GET`/`POST path` with the bearer token and the `CompanyId` header.
async fn call(
    app: &TestApp,
    method: Method,
    token: &str,
    company: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("CompanyId", company);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const JOB: [&str; 38] = [
    "Id",
    "WorkflowId",
    "Name",
    "Description",
    "PackageId",
    "PackageName",
    "PackageVersion",
    "PackageVersionId",
    "Arguments",
    "ContainingQueueId",
    "Priority",
    "State",
    "DisplayState",
    "VideoRecordMode",
    "Message",
    "LastRunInstaceId",
    "LastRobotName",
    "StartedAt",
    "FinishedAt",
    "RetriedCount",
    "MaxRetryCount",
    "DepartmentId",
    "CompanyId",
    "CronTriggerId",
    "JobExecutionPolicy",
    "CreatedAt",
    "CreatedBy",
    "CreatedByName",
    "ModifiedAt",
    "ModifiedBy",
    "ModifiedByName",
    "JobStartupType",
    "JobStartupId",
    "JobStartupName",
    "JobGroupId",
    "SeqNum",
    "Step",
    "JobSubjectId",
];

#[tokio::test]
async fn encoo_examples_and_flows() {
    let app = spawn_app().await;
    let admin = app.admin().await;

    // /connect/token: the document's form, its field names; refresh tokens are single-use.
    let (status, token) = form_token(
        &app,
        &[
            ("client_id", "thirdpartyservice"),
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(
        keys(&token),
        sorted(&[
            "Access_token",
            "Expires_in",
            "Token_type",
            "Refresh_token",
            "Scope"
        ])
    );
    assert!(token["Expires_in"].is_string());
    let refresh = token["Refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let (status, renewed) = form_token(
        &app,
        &[
            ("client_id", "thirdpartyservice"),
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
        ],
    )
    .await;
    assert_eq!(status, 200, "{renewed}");
    let (status, reused) = form_token(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, wrong) = form_token(
        &app,
        &[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", "nope-nope"),
        ],
    )
    .await;
    assert_eq!(
        (status, wrong["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The reuse ended the whole family, the renewed tokens too: sign in again.
    let (_, fresh) = form_token(
        &app,
        &[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
        ],
    )
    .await;
    let token = fresh["Access_token"].as_str().expect("token").to_string();
    let (status, _) = app
        .call(
            Method::GET,
            "/openapi/queues",
            renewed["Access_token"].as_str(),
            None,
        )
        .await;
    assert_eq!(status, 401, "the renewed token went with its family");

    // A company, a robot group with a robot, a deployment, and a layout of two job nodes.
    let (_, created) = app
        .call(
            Method::POST,
            "/api/v1/companies",
            Some(&admin),
            Some(json!({"name": "Acme"})),
        )
        .await;
    let company = created["company"]["id"].as_str().expect("id").to_string();
    app.call(
        Method::POST,
        &format!("/api/v1/companies/{company}/departments"),
        Some(&admin),
        Some(json!({"name": "Ops"})),
    )
    .await;
    let (_, queue) = app
        .call(
            Method::POST,
            "/api/v1/queues",
            Some(&admin),
            Some(json!({"name": "printers"})),
        )
        .await;
    let queue_id = queue["id"].as_str().expect("id").to_string();
    let (_, made) = app
        .call(
            Method::POST,
            "/api/v1/robots",
            Some(&admin),
            Some(json!({"name": "r1", "queue_id": queue_id})),
        )
        .await;
    let robot = made["token"].as_str().expect("token").to_string();
    let robot_id = made["robot"]["id"].as_str().expect("id").to_string();
    app.call(
        Method::POST,
        "/api/v1/workers/heartbeat",
        Some(&robot),
        Some(json!({})),
    )
    .await;

    let (status, companies) = call(
        &app,
        Method::GET,
        &token,
        &company,
        "/openapi/companies/companylist?Name=Ac",
        None,
    )
    .await;
    assert_eq!(status, 200, "{companies}");
    assert_eq!(companies["Companies"][0]["Name"], "Acme");
    assert_eq!(companies["Companies"][0]["Edition"], "Enterprise");
    let (status, tree) = call(
        &app,
        Method::GET,
        &token,
        &company,
        "/openapi/departments/tree",
        None,
    )
    .await;
    assert_eq!(status, 200, "{tree}");
    assert_eq!(keys(&tree), sorted(&["Count", "RootDepartment"]));
    assert_eq!(tree["Count"], 2);
    assert_eq!(
        tree["RootDepartment"]["Children"][0]["DepartmentPath"],
        "Acme/Ops"
    );
    let (status, me) = call(
        &app,
        Method::GET,
        &token,
        &company,
        "/openapi/companyusers/self",
        None,
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["UserName"].as_str(), me["Status"].as_str()),
        (Some("admin"), Some("Active"))
    );

    let (status, queues) = call(
        &app,
        Method::GET,
        &token,
        &company,
        "/openapi/queues?PageIndex=0&PageSize=20",
        None,
    )
    .await;
    assert_eq!(status, 200, "{queues}");
    assert_eq!(keys(&queues), sorted(&["Count", "List"]));
    assert_eq!(queues["List"][0]["RobotCount"], 1);
    let (status, one) = call(
        &app,
        Method::GET,
        &token,
        &company,
        &format!("/openapi/queues/{queue_id}"),
        None,
    )
    .await;
    assert_eq!((status, one["Name"].as_str()), (200, Some("printers")));
    let (status, robots) = call(
        &app,
        Method::GET,
        &token,
        &company,
        "/openapi/robots?SearchString=r",
        None,
    )
    .await;
    assert_eq!(status, 200, "{robots}");
    assert_eq!(robots["Count"], 1);
    assert_eq!(robots["List"][0]["Status"], "Ready");
    assert_eq!(robots["List"][0]["LicenseStatus"], "ServerLicensed");
    let (status, one) = call(
        &app,
        Method::GET,
        &token,
        &company,
        &format!("/openapi/robots/{robot_id}"),
        None,
    )
    .await;
    assert_eq!((status, one["Name"].as_str()), (200, Some("r1")));

    // Workflows (deployments): create as the document's body, read, list, execute → jobs.
    app.upload_package(&token, "reports", "1.0.0").await;
    app.upload_package(&token, "reports", "1.1.0").await;
    let (status, workflow) = call(
        &app,
        Method::POST,
        &token,
        &company,
        "/openapi/workflows",
        Some(json!({"Name": "nightly", "Description": "the nightly report", "Tags": [],
                    "Arguments": [{"Name": "format", "Type": "String", "Direction": "In", "DefaultValue": "pdf", "AssetContent": null}],
                    "VideoRecordMode": "NeverRecord", "PackageName": "reports", "PackageVersion": "1.0.0",
                    "AssociatedQueueId": queue_id, "Priority": 2000, "MaxRetryCount": 1,
                    "TriggerPolicy": "AnyTime"})),
    )
    .await;
    assert_eq!(status, 200, "{workflow}");
    let argument = |w: &Value, name: &str| -> Value {
        w["Arguments"]
            .as_array()
            .and_then(|all| all.iter().find(|a| a["Name"] == name).cloned())
            .unwrap_or(Value::Null)
    };
    assert_eq!(argument(&workflow, "format")["DefaultValue"], "pdf");
    // The package's declared arguments come with their types and defaults.
    assert_eq!(argument(&workflow, "Folder")["DefaultValue"], "C:/in");
    assert_eq!(argument(&workflow, "Folder")["Type"], "System.String");
    assert_eq!(argument(&workflow, "Count")["Direction"], "Out");
    assert!(workflow["PackageVersionId"].is_string(), "{workflow}");
    assert_eq!(workflow["MaxRetryCount"], 1);
    let workflow_id = workflow["Id"].as_str().expect("id").to_string();
    let (status, list) = call(
        &app,
        Method::GET,
        &token,
        &company,
        "/openapi/workflows?IsDesc=false",
        None,
    )
    .await;
    assert_eq!((status, list["Count"].as_u64()), (200, Some(1)), "{list}");
    let (status, read) = call(
        &app,
        Method::GET,
        &token,
        &company,
        &format!("/openapi/workflows/{workflow_id}"),
        None,
    )
    .await;
    assert_eq!((status, read["Name"].as_str()), (200, Some("nightly")));
    let (status, jobs) = call(
        &app,
        Method::POST,
        &token,
        &company,
        &format!("/openapi/workflows/{workflow_id}/execute"),
        Some(json!({"Source": "External", "Arguments": [{"Name": "pages", "DefaultValue": 3}], "Priority": 4000})),
    )
    .await;
    assert_eq!(status, 200, "{jobs}");
    let job = &jobs[0];
    for field in JOB {
        assert!(job.get(field).is_some(), "{field} in {job}");
    }
    assert_eq!(
        (job["State"].as_str(), job["Priority"].as_u64()),
        (Some("Queued"), Some(4000))
    );
    // The robot runs it.
    let (status, claimed) = app
        .call(
            Method::POST,
            "/api/v1/workers/jobs/claim",
            Some(&robot),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(
        claimed["arguments"],
        json!({"Folder": "C:/in", "format": "pdf", "pages": 3})
    );

    // Robot groups and workflows change and go; what is referenced stays (400).
    let (status, made) = call(
        &app,
        Method::POST,
        &token,
        &company,
        "/openapi/queues/0f8fad5b-d9cb-469f-a165-70867728950e",
        Some(json!({"Name": "scanners", "Description": "", "Tags": ["floor-2"],
                    "CompanyId": company, "DepartmentId": null, "CreateBy": null, "CreateByName": "admin"})),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(
        (made["Id"].as_str(), made["Tags"].clone()),
        (
            Some("0f8fad5b-d9cb-469f-a165-70867728950e"),
            json!(["floor-2"])
        )
    );
    let (status, changed) = call(
        &app,
        Method::PATCH,
        &token,
        &company,
        "/openapi/queues/0f8fad5b-d9cb-469f-a165-70867728950e",
        Some(json!({"Name": "scanners-2", "Description": "second floor", "Tags": []})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["Name"], "scanners-2");
    let (status, _) = call(
        &app,
        Method::DELETE,
        &token,
        &company,
        "/openapi/queues/0f8fad5b-d9cb-469f-a165-70867728950e",
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, refused) = call(
        &app,
        Method::DELETE,
        &token,
        &company,
        &format!("/openapi/queues/{queue_id}"),
        None,
    )
    .await;
    assert_eq!(
        (status, refused["Code"].as_u64()),
        (400, Some(400)),
        "{refused}"
    );
    let (status, patched) = call(
        &app,
        Method::PATCH,
        &token,
        &company,
        &format!("/openapi/workflows/{workflow_id}"),
        Some(json!({"Priority": 100, "PackageVersion": "1.1.0"})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        (
            patched["Priority"].as_u64(),
            patched["PackageVersion"].as_str()
        ),
        (Some(100), Some("1.1.0"))
    );
    assert_eq!(patched["Name"], "nightly");
    let (status, _) = call(
        &app,
        Method::DELETE,
        &token,
        &company,
        &format!("/openapi/workflows/{workflow_id}"),
        None,
    )
    .await;
    assert_eq!(status, 400, "it has a job");

    // Layouts: a published workflow with job nodes.
    app.publish(
        &admin,
        json!({"key": "month-end", "name": "Month end",
               "nodes": [{"id": "start", "kind": "start"},
                         {"id": "print", "name": "Print", "kind": "job", "deployment": "nightly"}],
               "edges": [{"from": "start", "to": "print"}]}),
    )
    .await;
    let (status, layouts) = call(
        &app,
        Method::GET,
        &token,
        &company,
        "/openapi/workflowlayouts",
        None,
    )
    .await;
    assert_eq!(
        (status, layouts["Count"].as_u64()),
        (200, Some(1)),
        "{layouts}"
    );
    let (status, layout) = call(
        &app,
        Method::GET,
        &token,
        &company,
        "/openapi/workflowlayouts/month-end",
        None,
    )
    .await;
    assert_eq!(status, 200, "{layout}");
    assert_eq!(layout["Nodes"][0]["WorkflowId"], "nightly");
    let (status, group) = call(
        &app,
        Method::POST,
        &token,
        &company,
        "/openapi/workflowlayouts/month-end/execute",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{group}");
    assert_eq!(group["Jobs"][0]["State"], "Queued");
    assert_eq!(group["Jobs"][0]["LastRunInstaceId"], group["Id"]);
}

#[tokio::test]
async fn encoo_refusals_have_its_shape() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let shape = |body: &Value| keys(body) == sorted(&["Code", "Message"]);
    for (path, token, status) in [
        ("/openapi/queues", None, 401),
        ("/openapi/queues?PageSize=1000", Some(admin.as_str()), 400),
        ("/openapi/queues?IsDesc=maybe", Some(admin.as_str()), 400),
        ("/openapi/workflows/nope", Some(admin.as_str()), 404),
        ("/openapi/robots/nope", Some(admin.as_str()), 404),
        ("/openapi/packages/nope", Some(admin.as_str()), 404),
    ] {
        let (got, body) = app.call(Method::GET, path, token, None).await;
        assert_eq!((got, shape(&body)), (status, true), "{path}: {body}");
    }
    let (status, body) = app
        .call(
            Method::POST,
            "/openapi/workflows",
            Some(&admin),
            Some(
                json!({"Name": "x", "PackageName": "p", "PackageVersion": "1",
                        "AssociatedQueueId": "nope", "Priority": 9000}),
            ),
        )
        .await;
    assert_eq!((status, shape(&body)), (400, true), "{body}");
    assert!(body["Message"]
        .as_str()
        .is_some_and(|m| m.contains("Priority")));
    let (status, body) = form_token(&app, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}
