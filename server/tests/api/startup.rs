//! Start-up, health and configuration errors, as an operator sees them.

use std::process::Command;

use crate::helpers::{spawn_app, spawn_app_on_postgres, TestApp};

async fn assert_healthy(app: &TestApp, backend: &str) {
    let response = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "database": backend})
    );
}

#[tokio::test]
async fn healthz_answers_200_on_sqlite() {
    assert_healthy(&spawn_app().await, "sqlite").await;
}

#[tokio::test]
async fn healthz_answers_200_on_postgres() {
    if let Some(app) = spawn_app_on_postgres().await {
        assert_healthy(&app, "postgres").await;
    }
}

#[tokio::test]
async fn healthz_answers_503_when_the_database_is_gone() {
    let db = engine::testing::TestDatabase::sqlite();
    let config = server::Config::for_tests(&db.url).expect("config");
    let app = server::Application::build(config).await.expect("starts");
    let address = format!("http://{}", app.local_addr());
    let store = app.store();
    tokio::spawn(app.run_until(std::future::pending()));
    store.close().await;

    let response = reqwest::get(format!("{address}/healthz"))
        .await
        .expect("request");
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["status"], "unavailable");
}

/// Runs the real binary with `DATABASE_URL` set to `url`; returns (exit code, stderr).
fn run_binary_with_database(url: &str) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_baton"))
        .env("DATABASE_URL", url)
        .env("BATON_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "off")
        .output()
        .expect("run baton");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_bad_database_url_stops_the_server_with_one_line_naming_the_variable() {
    for url in [
        "mysql://localhost/baton",
        "nonsense",
        "postgres://baton:secret@127.0.0.1:1/baton",
    ] {
        let (code, stderr) = run_binary_with_database(url);
        assert_ne!(code, Some(0), "{url}: {stderr}");
        assert!(code.is_some(), "{url}: killed by a signal");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{url}: expected one line, got {stderr:?}");
        assert!(lines[0].contains("DATABASE_URL"), "{url}: {stderr}");
        assert!(
            !lines[0].contains("secret"),
            "the password leaked: {stderr}"
        );
    }
}

#[test]
fn a_bad_listen_address_names_baton_addr() {
    let output = Command::new(env!("CARGO_BIN_EXE_baton"))
        .env("DATABASE_URL", "sqlite::memory:")
        .env("BATON_ADDR", "not-an-address")
        .env("RUST_LOG", "off")
        .output()
        .expect("run baton");
    assert_ne!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stderr).contains("BATON_ADDR"));
}

#[cfg(unix)]
#[test]
fn sigterm_shuts_down_gracefully() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let dir = tempfile::tempdir().expect("temporary folder");
    let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/baton.db", dir.path().display()),
        )
        .env("BATON_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "off")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start baton");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    let mut reader = BufReader::new(stdout);
    reader.read_line(&mut first).expect("the start line");
    assert!(
        first.starts_with("Baton is running at http://127.0.0.1:"),
        "{first}"
    );
    // The first start of an empty database shows the generated admin password, once.
    let mut second = String::new();
    reader.read_line(&mut second).expect("the password line");
    assert!(
        second.starts_with("First start: sign in as `admin` with the password "),
        "{second}"
    );
    drop(reader);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("baton exits");
    assert_eq!(exit.code(), Some(0), "graceful shutdown exits 0");
}
