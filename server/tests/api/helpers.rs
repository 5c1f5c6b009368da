//! `spawn_app()`: a real Baton server on a free loopback port, on a fresh database.

use engine::testing::TestDatabase;
use server::{Application, Config};

/// The administrator every test server starts with.
pub const ADMIN_PASSWORD: &str = "admin-test-password";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub access: engine::service::AccessService,
    /// The server's own scheduler, for starting instances until the REST API exists.
    pub runtime: engine::runtime::Runtime,
    _db: TestDatabase,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Creates a user with these roles (password `<name>-password`) and signs them in.
    pub async fn user(&self, name: &str, roles: &[engine::people::Role]) -> String {
        let password = format!("{name}-password");
        self.access
            .create_user(name, name, &password, roles, &[])
            .await
            .expect("user");
        self.sign_in(name, &password).await
    }

    /// An access token for `name`.
    pub async fn sign_in(&self, name: &str, password: &str) -> String {
        let response = self
            .client
            .post(self.url("/api/v1/auth/token"))
            .json(&serde_json::json!({"grant_type": "password", "username": name, "password": password}))
            .send()
            .await
            .expect("token request");
        assert_eq!(response.status(), 200, "sign in as {name}");
        let body: serde_json::Value = response.json().await.expect("json");
        body["access_token"].as_str().expect("token").to_string()
    }

    /// A browser session cookie (`baton_session=…`) for `name`, from the sign-in form.
    pub async fn session(&self, name: &str, password: &str) -> String {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let response = client
            .post(self.url("/auth/login"))
            .form(&[("username", name), ("password", password), ("next", "/")])
            .send()
            .await
            .expect("sign in");
        assert_eq!(response.status(), 303);
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("a session cookie")
            .to_string();
        cookie.split(';').next().unwrap_or_default().to_string()
    }

    pub async fn admin(&self) -> String {
        self.sign_in("admin", ADMIN_PASSWORD).await
    }

    /// Creates a definition from `document` as `token` and publishes it as version 1.
    pub async fn publish(&self, token: &str, document: serde_json::Value) {
        let key = document["key"].as_str().unwrap_or_default().to_string();
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/definitions",
                Some(token),
                Some(document),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/definitions/{key}/publish"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }

    /// A company `name` with `departments` (`(name, parent)`, parents first): the company's id
    /// and the departments' ids by name.
    pub async fn company(
        &self,
        admin: &str,
        name: &str,
        departments: &[(&str, Option<&str>)],
    ) -> (String, std::collections::HashMap<String, String>) {
        let (status, created) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/companies",
                Some(admin),
                Some(serde_json::json!({"name": name})),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let company = created["company"]["id"].as_str().expect("id").to_string();
        let path = format!("/api/v1/companies/{company}/departments");
        let mut ids = std::collections::HashMap::new();
        for (name, parent) in departments {
            let parent_id = parent.map(|p| ids.get(p).cloned().expect("parents first"));
            let (status, d) = self
                .call(
                    reqwest::Method::POST,
                    &path,
                    Some(admin),
                    Some(serde_json::json!({"name": name, "parent_id": parent_id})),
                )
                .await;
            assert_eq!(status, 201, "{d}");
            ids.insert(name.to_string(), d["id"].as_str().expect("id").to_string());
        }
        (company, ids)
    }

    /// Puts the user signed in with `token` in `department`.
    pub async fn join(&self, admin: &str, token: &str, department: &str) {
        let (_, me) = self
            .call(reqwest::Method::GET, "/api/v1/me", Some(token), None)
            .await;
        let id = me["id"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| me["id"].to_string());
        let (status, body) = self
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/departments/{department}/members/{id}"),
                Some(admin),
                None,
            )
            .await;
        assert_eq!(status, 204, "{body}");
    }

    /// Sends raw `bytes` (a package file) to `method path` as `application/octet-stream`.
    pub async fn send_file(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        bytes: Vec<u8>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("content-type", "application/octet-stream")
            .body(bytes);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Uploads package `name` at `version` (see `engine::testing::simple_package`) through the
    /// native API; returns the answer.
    pub async fn upload_package(
        &self,
        admin: &str,
        name: &str,
        version: &str,
    ) -> serde_json::Value {
        let (status, made) = self
            .send_file(
                reqwest::Method::POST,
                "/api/v1/packages",
                Some(admin),
                engine::testing::simple_package(name, version),
            )
            .await;
        assert_eq!(status, 201, "{made}");
        made
    }

    /// A robot queue `queue` with a deployment `deployment` on it (package `p` 1, uploaded
    /// when missing), made by `admin`; returns the queue's id.
    pub async fn queue_with_deployment(
        &self,
        admin: &str,
        queue: &str,
        deployment: &str,
    ) -> String {
        let (status, made) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/queues",
                Some(admin),
                Some(serde_json::json!({"name": queue})),
            )
            .await;
        assert_eq!(status, 201, "{made}");
        let queue_id = made["id"].as_str().expect("queue id").to_string();
        let (status, _) = self
            .call(
                reqwest::Method::GET,
                "/api/v1/packages/p",
                Some(admin),
                None,
            )
            .await;
        if status == 404 {
            self.upload_package(admin, "p", "1").await;
        }
        let (status, made) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/deployments",
                Some(admin),
                Some(serde_json::json!({"name": deployment, "package_name": "p",
                                        "package_version": "1", "queue_id": queue_id})),
            )
            .await;
        assert_eq!(status, 201, "{made}");
        queue_id
    }

    /// Sends `method path` with `token` and an optional JSON body; returns status and JSON
    /// (`null` when the body is not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }
}

async fn spawn_on(db: TestDatabase) -> TestApp {
    spawn_configured(db, |_| {}).await
}

/// A server whose configuration `adjust` changed first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_configured(TestDatabase::sqlite(), adjust).await
}

async fn spawn_configured(db: TestDatabase, adjust: impl FnOnce(&mut Config)) -> TestApp {
    // Server logs in test output only when asked for: TEST_LOG=1 cargo test.
    if std::env::var_os("TEST_LOG").is_some() {
        server::telemetry::init("text");
    }
    let mut config = Config::for_tests(&db.url).expect("test configuration");
    config.admin_password = Some(ADMIN_PASSWORD.into());
    adjust(&mut config);
    let app = Application::build(config).await.expect("server starts");
    let address = format!("http://{}", app.local_addr());
    let runtime = app.runtime();
    let access =
        engine::service::AccessService::new(app.store(), engine::id::IdGenerator::new(900));
    tokio::spawn(app.run_until(std::future::pending()));
    TestApp {
        address,
        client: reqwest::Client::new(),
        access,
        runtime,
        _db: db,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_on(TestDatabase::sqlite()).await
}

/// `None` when no PostgreSQL server is configured (see `TestDatabase::postgres`).
pub async fn spawn_app_on_postgres() -> Option<TestApp> {
    Some(spawn_on(TestDatabase::postgres().await?).await)
}

/// Asks `check` every 20 ms until it answers `Some`, for at most ten seconds; `what` names what
/// is awaited when it never comes.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "{what} never came");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// An object's field names, sorted: for comparing an answer's shape with a document's.
pub fn keys(value: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// The names, sorted (see [`keys`]).
pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    names.sort();
    names
}
