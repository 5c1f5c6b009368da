//! The server-rendered shell and the typed server function, over HTTP.

use crate::helpers::{spawn_app, ADMIN_PASSWORD};

#[tokio::test]
async fn the_overview_is_rendered_on_the_server_with_live_status() {
    let app = spawn_app().await;
    let cookie = app.session("admin", ADMIN_PASSWORD).await;
    let response = app
        .client
        .get(app.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("body");
    for expected in [
        "Workflows",
        "Instances",
        "Inbox",
        "/pkg/baton.js",
        "/pkg/baton.css",
    ] {
        assert!(html.contains(expected), "{expected} missing from {html}");
    }
    // The status was read from the database during server rendering.
    assert!(
        html.contains(r#"data-testid="status-backend">sqlite<"#),
        "{html}"
    );
}

#[tokio::test]
async fn the_page_language_follows_the_browser_and_the_cookie() {
    let app = spawn_app().await;
    let cookie = app.session("admin", ADMIN_PASSWORD).await;
    let page = |headers: &'static [(&'static str, &'static str)]| {
        let mut request = app.client.get(app.url("/workflows"));
        // The session cookie and, where the test sets one, the language cookie.
        let mut cookies = cookie.clone();
        for (name, value) in headers {
            if *name == "cookie" {
                cookies = format!("{cookies}; {value}");
            } else {
                request = request.header(*name, *value);
            }
        }
        request = request.header("cookie", cookies);
        async move {
            request
                .send()
                .await
                .expect("request")
                .text()
                .await
                .expect("body")
        }
    };

    let zh = page(&[("accept-language", "zh-CN,zh;q=0.9,en;q=0.8")]).await;
    assert!(zh.contains(r#"lang="zh""#) && zh.contains("工作流"), "{zh}");

    let en = page(&[("accept-language", "zh-CN"), ("cookie", "baton_lang=en")]).await;
    assert!(
        en.contains(r#"lang="en""#) && !en.contains("工作流"),
        "{en}"
    );
}

#[tokio::test]
async fn the_system_status_server_function_reads_the_database() {
    let app = spawn_app().await;
    let cookie = app.session("admin", ADMIN_PASSWORD).await;
    let response = app
        .client
        .post(app.url("/rpc/system_status"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let status: serde_json::Value = response.json().await.expect("json");
    assert_eq!(status["backend"], "sqlite");
    assert!(status["schema_version"].as_i64() >= Some(1), "{status}");
}

#[tokio::test]
async fn server_functions_are_not_under_the_rest_prefix() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/system_status"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn unknown_pages_are_404() {
    let app = spawn_app().await;
    let cookie = app.session("admin", ADMIN_PASSWORD).await;
    let response = app
        .client
        .get(app.url("/nowhere"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn pages_and_server_functions_need_a_session_and_refuse_other_sites() {
    let app = spawn_app().await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = plain
        .get(app.url("/instances?x=1"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 303);
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/login?next=/instances%3Fx%3D1")
    );
    let response = plain
        .get(app.url("/login"))
        .send()
        .await
        .expect("login page");
    assert_eq!(response.status(), 200);
    let response = plain
        .post(app.url("/rpc/system_status"))
        .send()
        .await
        .expect("rpc");
    assert_eq!(response.status(), 401);

    // A wrong password goes back to the form, saying so; nothing is set.
    let response = plain
        .post(app.url("/auth/login"))
        .form(&[
            ("username", "admin"),
            ("password", "wrong-password"),
            ("next", "/inbox"),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(response.status(), 303);
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/login?error=credentials&next=/inbox")
    );
    assert!(response.headers().get("set-cookie").is_none());

    let cookie = app.session("admin", ADMIN_PASSWORD).await;
    let set = plain
        .post(app.url("/auth/login"))
        .form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", "//evil.example"),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(
        set.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/")
    );
    let attributes = set
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        attributes.contains("HttpOnly") && attributes.contains("SameSite=Strict"),
        "{attributes}"
    );

    // The session works for server functions and for the REST API...
    let rpc = |extra: Option<(&'static str, &'static str)>| {
        let mut request = plain
            .post(app.url("/rpc/system_status"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some((name, value)) = extra {
            request = request.header(name, value);
        }
        request.send()
    };
    assert_eq!(rpc(None).await.expect("rpc").status(), 200);
    assert_eq!(
        rpc(Some(("origin", "http://evil.example")))
            .await
            .expect("rpc")
            .status(),
        403
    );
    assert_eq!(
        rpc(Some(("sec-fetch-site", "cross-site")))
            .await
            .expect("rpc")
            .status(),
        403
    );
    let me = plain
        .get(app.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 200);
    let forged = plain
        .post(app.url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("forged");
    assert_eq!(forged.status(), 403);

    // ...until signing out ends it.
    let out = plain
        .post(app.url("/auth/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("sign out");
    assert_eq!(out.status(), 303);
    assert!(out
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("Max-Age=0")));
    assert_eq!(rpc(None).await.expect("rpc").status(), 401);
}
