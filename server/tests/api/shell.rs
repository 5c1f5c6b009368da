//! The server-rendered shell and the typed server function, over HTTP.

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_overview_is_rendered_on_the_server_with_live_status() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/")).send().await.expect("request");
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
    let page = |headers: &'static [(&'static str, &'static str)]| {
        let mut request = app.client.get(app.url("/workflows"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
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
    let response = app
        .client
        .post(app.url("/rpc/system_status"))
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
    let response = app
        .client
        .get(app.url("/nowhere"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
}
