//! The Encoo console's `CompanyId` / `DepartmentId` headers: what is created with a department
//! belongs to it; lists narrow to a department and below; people see only the departments
//! related to theirs (one they do not see is "not found").

use engine::people::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// `method path` with the token and the tenancy headers given.
async fn call(
    app: &TestApp,
    method: Method,
    token: &str,
    headers: &[(&str, &str)],
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["List"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["Name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn departments_scope_robot_groups_workflows_and_packages() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (company, ids) = app
        .company(
            &admin,
            "Acme",
            &[("Ops", None), ("Night", Some("Ops")), ("Finance", None)],
        )
        .await;
    let mut people = std::collections::HashMap::new();
    for (name, department) in [("olga", "Ops"), ("fiona", "Finance")] {
        let token = app.user(name, &[Role::Operator]).await;
        app.join(&admin, &token, &ids[department]).await;
        people.insert(name, token);
    }
    let in_company = [("CompanyId", company.as_str())];
    let at = |department: &str| {
        [
            ("CompanyId", company.clone()),
            ("DepartmentId", ids[department].clone()),
        ]
    };

    // The administrator makes a robot group in Ops, one in Night, one in Finance and one in none.
    for (queue, department) in [
        ("ops-q", Some("Ops")),
        ("night-q", Some("Night")),
        ("fin-q", Some("Finance")),
        ("open-q", None),
    ] {
        let headers: Vec<(&str, String)> = match department {
            Some(d) => at(d).to_vec(),
            None => vec![("CompanyId", company.clone())],
        };
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, made) = call(
            &app,
            Method::POST,
            &admin,
            &headers,
            &format!("/openapi/queues/{queue}"),
            Some(json!({"Name": queue})),
        )
        .await;
        assert_eq!(status, 200, "{made}");
        assert_eq!(
            made["DepartmentId"],
            json!(department.map(|d| ids[d].clone()))
        );
        assert_eq!(
            made["CompanyId"],
            json!(department.map(|_| company.clone()))
        );
    }
    // A package uploaded in Ops belongs to Ops.
    let ops = at("Ops");
    let ops: Vec<(&str, &str)> = ops.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = app
        .client
        .put(app.url("/openapi/packages"))
        .bearer_auth(&admin)
        .header("Content-Type", "application/octet-stream")
        .header("CompanyId", &company)
        .header("DepartmentId", &ids["Ops"])
        .body(engine::testing::simple_package("ops-pkg", "1.0"))
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), 200);

    // Lists: everything for the administrator; narrowed to a department and those below it.
    let (_, all) = call(
        &app,
        Method::GET,
        &admin,
        &in_company,
        "/openapi/queues",
        None,
    )
    .await;
    assert_eq!(names(&all), ["fin-q", "night-q", "open-q", "ops-q"]);
    let (_, narrowed) = call(&app, Method::GET, &admin, &ops, "/openapi/queues", None).await;
    assert_eq!(names(&narrowed), ["night-q", "open-q", "ops-q"]);

    // Olga (Ops) sees Ops and Night, not Finance; Fiona the other way round.
    let olga = &people["olga"];
    let (_, seen) = call(
        &app,
        Method::GET,
        olga,
        &in_company,
        "/openapi/queues",
        None,
    )
    .await;
    assert_eq!(names(&seen), ["night-q", "open-q", "ops-q"]);
    let (status, _) = call(
        &app,
        Method::GET,
        olga,
        &in_company,
        "/openapi/queues/fin-q",
        None,
    )
    .await;
    assert_eq!(status, 404, "another department's group is not found");
    let finance = at("Finance");
    let finance: Vec<(&str, &str)> = finance.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, refused) = call(&app, Method::GET, olga, &finance, "/openapi/queues", None).await;
    assert_eq!(status, 404, "{refused}");
    assert!(
        refused["Message"]
            .as_str()
            .is_some_and(|m| m.contains("DepartmentId")),
        "{refused}"
    );
    let (status, refused) = call(
        &app,
        Method::GET,
        olga,
        &[("CompanyId", "not-a-company")],
        "/openapi/queues",
        None,
    )
    .await;
    assert_eq!(status, 404, "{refused}");
    assert!(
        refused["Message"]
            .as_str()
            .is_some_and(|m| m.contains("CompanyId")),
        "{refused}"
    );
    let fiona = &people["fiona"];
    let (_, seen) = call(
        &app,
        Method::GET,
        fiona,
        &in_company,
        "/openapi/queues",
        None,
    )
    .await;
    assert_eq!(names(&seen), ["fin-q", "open-q"]);
    let (_, packages) = call(
        &app,
        Method::GET,
        fiona,
        &in_company,
        "/openapi/packages",
        None,
    )
    .await;
    assert_eq!(packages["Count"], 0, "{packages}");
    let (_, packages) = call(
        &app,
        Method::GET,
        olga,
        &in_company,
        "/openapi/packages",
        None,
    )
    .await;
    assert_eq!(names(&packages), ["ops-pkg"]);

    // A workflow made in Ops, on the Ops group; Fiona cannot see or run it.
    let (status, workflow) = call(
        &app,
        Method::POST,
        &admin,
        &ops,
        "/openapi/workflows",
        Some(json!({"Name": "ops-flow", "PackageName": "ops-pkg", "AssociatedQueueId": "ops-q"})),
    )
    .await;
    assert_eq!(status, 200, "{workflow}");
    assert_eq!(workflow["DepartmentId"], json!(ids["Ops"]));
    let id = workflow["Id"].as_str().expect("id");
    let (status, _) = call(
        &app,
        Method::POST,
        fiona,
        &in_company,
        &format!("/openapi/workflows/{id}/execute"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, jobs) = call(
        &app,
        Method::POST,
        olga,
        &in_company,
        &format!("/openapi/workflows/{id}/execute"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{jobs}");
    assert_eq!(jobs[0]["DepartmentId"], json!(ids["Ops"]));
    assert_eq!(jobs[0]["CompanyId"], json!(company));
    let (_, listed) = call(
        &app,
        Method::GET,
        fiona,
        &in_company,
        "/openapi/workflows",
        None,
    )
    .await;
    assert_eq!(listed["Count"], 0);

    // The native API's lists follow the same departments.
    let native = |path: &'static str, token: String| {
        let app = &app;
        async move {
            let (status, list) = app.call(Method::GET, path, Some(&token), None).await;
            assert_eq!(status, 200, "{list}");
            let mut names: Vec<String> = list["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|i| i["name"].as_str().map(str::to_string))
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(
        native("/api/v1/queues", fiona.clone()).await,
        ["fin-q", "open-q"]
    );
    assert_eq!(
        native("/api/v1/queues", olga.clone()).await,
        ["night-q", "open-q", "ops-q"]
    );
    assert!(native("/api/v1/packages", fiona.clone()).await.is_empty());
    assert!(native("/api/v1/deployments", fiona.clone())
        .await
        .is_empty());
    assert_eq!(
        native("/api/v1/deployments", olga.clone()).await,
        ["ops-flow"]
    );
    let (status, _) = app
        .call(Method::GET, "/api/v1/packages/ops-pkg", Some(fiona), None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(Method::GET, "/api/v1/packages/ops-pkg", Some(olga), None)
        .await;
    assert_eq!(status, 200);
    // The native routes put what they create in a department when asked.
    let (status, made) = app
        .call(
            Method::POST,
            "/api/v1/queues",
            Some(&admin),
            Some(json!({"name": "fin-native", "department_id": ids["Finance"]})),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["department_id"], json!(ids["Finance"]));
    let fin_native = "fin-native".to_string();
    assert!(native("/api/v1/queues", fiona.clone())
        .await
        .contains(&fin_native));
    assert!(!native("/api/v1/queues", olga.clone())
        .await
        .contains(&fin_native));
    let (status, refused) = app
        .call(
            Method::POST,
            "/api/v1/queues",
            Some(&admin),
            Some(json!({"name": "nowhere", "department_id": "nope"})),
        )
        .await;
    assert_eq!(
        (status, refused["field"].as_str()),
        (422, Some("department_id")),
        "{refused}"
    );
}
