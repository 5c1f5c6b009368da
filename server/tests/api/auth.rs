//! Signing in over HTTP: grants, rotation and reuse, revocation, throttling, and routes that
//! deny anonymous callers whatever the path looks like.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, ADMIN_PASSWORD};

#[tokio::test]
async fn the_token_endpoint_grants_rotates_and_revokes() {
    let app = spawn_app().await;
    // JSON and the OAuth2 form both work.
    let form = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .expect("form grant");
    assert_eq!(form.status(), 200);
    assert_eq!(
        form.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let first: serde_json::Value = form.json().await.expect("json");
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 900);
    let access = first["access_token"].as_str().expect("access");
    let (status, me) = app
        .call(Method::GET, "/api/v1/me", Some(access), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(me["username"], "admin");
    assert_eq!(me["roles"], json!(["admin"]));

    let refresh = |token: &str| json!({"grant_type": "refresh_token", "refresh_token": token});
    let (status, second) = app
        .call(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(refresh(first["refresh_token"].as_str().expect("r"))),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    // Reuse of the spent token: refused, and the second pair dies with its family.
    let (status, error) = app
        .call(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(refresh(first["refresh_token"].as_str().expect("r"))),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(error["code"], "invalid_grant");
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/me",
            second["access_token"].as_str(),
            None,
        )
        .await;
    assert_eq!(status, 401);

    // Logout ends the sign-in.
    let token = app.admin().await;
    let (status, _) = app
        .call(Method::POST, "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .call(Method::GET, "/api/v1/me", Some(&token), None)
        .await;
    assert_eq!(status, 401);

    // A password change ends every sign-in of the user.
    let token = app.user("pat", &[engine::people::Role::Operator]).await;
    let other = app.sign_in("pat", "pat-password").await;
    let (status, error) = app
        .call(
            Method::POST,
            "/api/v1/me/password",
            Some(&token),
            Some(json!({"current_password": "pat-password", "new_password": "short"})),
        )
        .await;
    assert_eq!(
        (status, error["field"].as_str()),
        (400, Some("new_password")),
        "{error}"
    );
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/me/password",
            Some(&token),
            Some(json!({"current_password": "pat-password", "new_password": "a-much-longer-one"})),
        )
        .await;
    assert_eq!(status, 200);
    for stale in [&token, &other] {
        let (status, _) = app.call(Method::GET, "/api/v1/me", Some(stale), None).await;
        assert_eq!(status, 401);
    }
    app.sign_in("pat", "a-much-longer-one").await;
}

#[tokio::test]
async fn bad_sign_ins_are_one_answer_then_throttled() {
    let app = spawn_app().await;
    let grant = |user: &str, password: &str| json!({"grant_type": "password", "username": user, "password": password});
    let (status, unknown) = app
        .call(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(grant("nobody", "whatever")),
        )
        .await;
    assert_eq!(status, 401);
    let (_, wrong) = app
        .call(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(grant("admin", "whatever")),
        )
        .await;
    assert_eq!(
        unknown, wrong,
        "unknown users get the same answer as wrong passwords"
    );

    let (status, error) = app
        .call(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"grant_type": "password", "username": "admin"})),
        )
        .await;
    assert_eq!((status, error["field"].as_str()), (400, Some("password")));
    let (status, error) = app
        .call(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"grant_type": "magic"})),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, error) = app
        .call(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"username": "admin"})),
        )
        .await;
    assert_eq!(
        (status, error["field"].as_str()),
        (400, Some("grant_type")),
        "{error}"
    );

    for _ in 0..4 {
        app.call(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(grant("admin", "nope-nope")),
        )
        .await;
    }
    let response = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&grant("admin", ADMIN_PASSWORD))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn anonymous_callers_get_401_whatever_the_path() {
    let app = spawn_app().await;
    let (status, body) = app.call(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "unauthorized");
    let (status, _) = app
        .call(Method::GET, "/api/v1/me", Some("made-up-token"), None)
        .await;
    assert_eq!(status, 401);
    for path in [
        "/api/v1/me/",
        "/api/v1/definitions%2fx",
        "/api/v1/definitions/%2e%2e/me",
        "/api/v1/x/../me",
        "/api/v1/instances/1/../../me",
        "/api/v1/nothing-here",
        "/api/v1/DEFINITIONS",
    ] {
        let (status, body) = app.call(Method::GET, path, None, None).await;
        assert_eq!(status, 401, "{path}: {body}");
    }
    // Other spellings of the prefix are not the API at all: no data, no 200 with JSON.
    for path in ["/API/v1/me", "/api/V1/me", "//api/v1/me"] {
        let (status, body) = app.call(Method::GET, path, None, None).await;
        // (A page path for the browser: anonymous visitors are sent to the sign-in page.)
        assert!(
            status == 404 || status == 401 || body.is_null(),
            "{path}: {status} {body}"
        );
        assert!(body.get("username").is_none(), "{path}: {body}");
    }
}

#[tokio::test]
async fn admins_create_and_disable_users() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (status, user) = app
        .call(Method::POST, "/api/v1/users", Some(&admin),
              Some(json!({"username": "Ada", "password": "ada-password", "roles": ["designer"], "groups": ["ops"]})))
        .await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["username"], "ada");
    assert_eq!(user["groups"], json!(["ops"]));
    let (status, error) = app
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "ada", "password": "ada-password"})),
        )
        .await;
    assert_eq!((status, error["code"].as_str()), (409, Some("conflict")));
    let (status, error) = app
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "bob", "password": "bob-password", "roles": ["king"]})),
        )
        .await;
    assert_eq!((status, error["field"].as_str()), (400, Some("roles")));
    let (status, error) = app
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "bob", "password": "short"})),
        )
        .await;
    assert_eq!((status, error["field"].as_str()), (400, Some("password")));

    let ada = app.sign_in("ada", "ada-password").await;
    let (status, _) = app
        .call(Method::GET, "/api/v1/users", Some(&ada), None)
        .await;
    assert_eq!(status, 403, "only admins administer people");
    let (status, listed) = app
        .call(Method::GET, "/api/v1/users", Some(&admin), None)
        .await;
    assert_eq!((status, listed["total"].as_i64()), (200, Some(2)));

    let id = user["id"].as_str().expect("id");
    let (status, disabled) = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{id}/disable"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!((status, disabled["disabled"].as_bool()), (200, Some(true)));
    let (status, _) = app.call(Method::GET, "/api/v1/me", Some(&ada), None).await;
    assert_eq!(status, 401, "disabling ends the sign-in at once");
    let me = app
        .call(Method::GET, "/api/v1/me", Some(&admin), None)
        .await
        .1;
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{}/disable", me["id"].as_str().expect("id")),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn each_caller_is_rate_limited() {
    // 60 a minute: bursts of 12.
    let app = spawn_app_with(|config| config.rate_limit = 60).await;
    let admin = app.admin().await;
    let other = app.user("olga", &[engine::people::Role::Operator]).await;
    let mut statuses = Vec::new();
    for _ in 0..15 {
        statuses.push(
            app.call(Method::GET, "/api/v1/me", Some(&admin), None)
                .await
                .0,
        );
    }
    assert!(statuses[..10].iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let response = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_some());
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["code"], "rate_limited");
    // Another caller is not held back by the first.
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", Some(&other), None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn companies_hold_a_department_tree_that_members_see() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (status, created) = app
        .call(
            Method::POST,
            "/api/v1/companies",
            Some(&admin),
            Some(json!({"name": "Acme", "tags": ["pilot"], "properties": {"region": "north"}})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let company = created["company"]["id"].as_str().expect("id").to_string();
    assert_eq!(company.len(), 36, "a UUID");
    let root = created["root_department_id"]
        .as_str()
        .expect("root")
        .to_string();

    let departments = format!("/api/v1/companies/{company}/departments");
    let (status, finance) = app
        .call(
            Method::POST,
            &departments,
            Some(&admin),
            Some(json!({"name": "Finance"})),
        )
        .await;
    assert_eq!(status, 201, "{finance}");
    assert_eq!(finance["path"], "Acme/Finance");
    let (status, payroll) = app
        .call(
            Method::POST,
            &departments,
            Some(&admin),
            Some(json!({"name": "Payroll", "parent_id": finance["id"]})),
        )
        .await;
    assert_eq!(
        (status, payroll["path"].as_str()),
        (201, Some("Acme/Finance/Payroll"))
    );
    let (status, error) = app
        .call(
            Method::POST,
            &departments,
            Some(&admin),
            Some(json!({"name": "Finance"})),
        )
        .await;
    assert_eq!(status, 409, "siblings have distinct names: {error}");
    let (status, error) = app
        .call(
            Method::POST,
            &departments,
            Some(&admin),
            Some(json!({"name": "a/b"})),
        )
        .await;
    assert_eq!((status, error["field"].as_str()), (400, Some("name")));
    let (status, error) = app
        .call(
            Method::POST,
            &departments,
            Some(&admin),
            Some(json!({"name": "Lost", "parent_id": "not-a-department"})),
        )
        .await;
    assert_eq!((status, error["field"].as_str()), (404, Some("parent_id")));

    // A member sees the company and its tree; someone else does not.
    let member = app.user("mia", &[engine::people::Role::Operator]).await;
    let outsider = app.user("otto", &[engine::people::Role::Operator]).await;
    let me = app
        .call(Method::GET, "/api/v1/me", Some(&member), None)
        .await
        .1;
    let (status, _) = app
        .call(
            Method::PUT,
            &format!(
                "/api/v1/departments/{}/members/{}",
                payroll["id"].as_str().expect("id"),
                me["id"].as_str().expect("id")
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, tree) = app
        .call(Method::GET, &departments, Some(&member), None)
        .await;
    assert_eq!(status, 200, "{tree}");
    assert_eq!(tree["count"], 3);
    assert_eq!(tree["root"]["id"], root.as_str());
    assert_eq!(tree["root"]["children"][0]["name"], "Finance");
    assert_eq!(tree["root"]["children"][0]["children"][0]["user_count"], 1);
    let (_, listed) = app
        .call(
            Method::GET,
            "/api/v1/companies?name=acm",
            Some(&member),
            None,
        )
        .await;
    assert_eq!(listed["companies"].as_array().map(Vec::len), Some(1));
    let (_, listed) = app
        .call(Method::GET, "/api/v1/companies", Some(&outsider), None)
        .await;
    assert_eq!(listed["companies"], json!([]));
    let (status, _) = app
        .call(Method::GET, &departments, Some(&outsider), None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/companies",
            Some(&member),
            Some(json!({"name": "Mine"})),
        )
        .await;
    assert_eq!(status, 403);
}
