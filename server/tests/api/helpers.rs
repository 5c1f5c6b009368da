//! `spawn_app()`: a real Baton server on a free loopback port, on a fresh database.

use engine::testing::TestDatabase;
use server::{Application, Config};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// The server's own scheduler, for starting instances until the REST API exists.
    pub runtime: engine::runtime::Runtime,
    _db: TestDatabase,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }
}

async fn spawn_on(db: TestDatabase) -> TestApp {
    // Server logs in test output only when asked for: TEST_LOG=1 cargo test.
    if std::env::var_os("TEST_LOG").is_some() {
        server::telemetry::init("text");
    }
    let config = Config::for_tests(&db.url).expect("test configuration");
    let app = Application::build(config).await.expect("server starts");
    let address = format!("http://{}", app.local_addr());
    let runtime = app.runtime();
    tokio::spawn(app.run_until(std::future::pending()));
    TestApp {
        address,
        client: reqwest::Client::new(),
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
