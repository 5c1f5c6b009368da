//! Test support shared by the engine's and the server's test suites: a fresh database per test,
//! on SQLite (a file in a temporary folder) or on the PostgreSQL server named by
//! `BATON_TEST_POSTGRES_URL` (`make test` starts one; see `scripts/test-postgres`).

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// A database that lives as long as this value (the SQLite folder is removed on drop; PostgreSQL
/// test databases are dropped by the next `scripts/test-postgres`, so a failure can be inspected).
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder for a test database");
        let url = format!("sqlite://{}/baton.db", dir.path().display());
        Self {
            url,
            _dir: Some(dir),
        }
    }

    /// A new, empty PostgreSQL database; `None` (with a note on stderr) when no server is
    /// configured, unless `BATON_REQUIRE_POSTGRES` is set, as `make test` does: then it fails.
    pub async fn postgres() -> Option<Self> {
        let Ok(admin) = std::env::var("BATON_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var_os("BATON_REQUIRE_POSTGRES").is_none(),
                "BATON_REQUIRE_POSTGRES is set but BATON_TEST_POSTGRES_URL is not"
            );
            eprintln!(
                "note: BATON_TEST_POSTGRES_URL unset; PostgreSQL part skipped (make test runs it)"
            );
            return None;
        };
        let name = unique_name();
        let mut conn = PgConnectOptions::from_str(&admin)
            .expect("BATON_TEST_POSTGRES_URL is a PostgreSQL URL")
            .connect()
            .await
            .expect("connect to the test PostgreSQL server");
        sqlx::query(&format!("create database \"{name}\""))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        let _ = conn.close().await;
        Some(Self {
            url: with_database(&admin, &name),
            _dir: None,
        })
    }
}

fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "baton_t_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `postgres://u:p@h:5432/admin?x=y` with the database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let host = rest.split_once('/').map_or(rest, |(h, _)| h);
    match query {
        Some(q) => format!("{scheme}://{host}/{name}?{q}"),
        None => format!("{scheme}://{host}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_replaced_and_query_kept() {
        assert_eq!(
            with_database("postgres://b:p@127.0.0.1:5432/baton_test", "x"),
            "postgres://b:p@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://h/db?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: serde_json::Value,
}

/// A real HTTP server on loopback that records what http nodes send it. Routes:
/// `/status/{code}` answers that status; `/redirect?to={url}` answers 302 to `url`;
/// `/slow/{ms}` answers after `ms` milliseconds; anything else answers 200 with
/// `{"received": <body>, "path": <path>}`.
pub struct Receiver {
    pub addr: std::net::SocketAddr,
    log: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> Self {
        use axum::extract::{Request, State};
        use axum::response::{IntoResponse, Response};

        type Log = std::sync::Arc<std::sync::Mutex<Vec<Received>>>;

        async fn handle(State(log): State<Log>, request: Request) -> Response {
            let method = request.method().to_string();
            let uri = request.uri().clone();
            let path = uri.path().to_string();
            let headers: std::collections::BTreeMap<String, String> = request
                .headers()
                .iter()
                .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
                .collect();
            let bytes = axum::body::to_bytes(request.into_body(), 64 * 1024 * 1024)
                .await
                .unwrap_or_default();
            let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
            });
            log.lock().expect("receiver log").push(Received {
                method,
                path: path.clone(),
                idempotency_key: headers.get("idempotency-key").cloned(),
                headers,
                body: body.clone(),
            });
            let mut parts = path.trim_start_matches('/').splitn(2, '/');
            match (parts.next(), parts.next()) {
                (Some("status"), Some(code)) => {
                    let code = code.parse().unwrap_or(500);
                    let status = axum::http::StatusCode::from_u16(code)
                        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
                    (status, axum::Json(serde_json::json!({"status": code}))).into_response()
                }
                (Some("redirect"), _) => {
                    let to = uri
                        .query()
                        .and_then(|q| q.strip_prefix("to="))
                        .unwrap_or("/")
                        .to_string();
                    (
                        axum::http::StatusCode::FOUND,
                        [(axum::http::header::LOCATION, to)],
                    )
                        .into_response()
                }
                (Some("slow"), Some(ms)) => {
                    let ms = ms.parse().unwrap_or(0);
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                    axum::Json(serde_json::json!({"slept_ms": ms})).into_response()
                }
                _ => {
                    axum::Json(serde_json::json!({"received": body, "path": path})).into_response()
                }
            }
        }

        let log: Log = Default::default();
        let app = axum::Router::new().fallback(handle).with_state(log.clone());
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("receiver address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            log,
            _server: server,
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().expect("receiver log").clone()
    }
}

/// A package file (`.dgs`): a zip archive holding `manifest` as `package.json` and the `files`
/// given (any path, so tests can offer a robot `../evil` too).
pub fn package_file(manifest: &serde_json::Value, files: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(crate::service::packages::MANIFEST, options)
        .expect("zip entry");
    zip.write_all(manifest.to_string().as_bytes())
        .expect("zip write");
    for (path, bytes) in files {
        zip.start_file(*path, options).expect("zip entry");
        zip.write_all(bytes).expect("zip write");
    }
    zip.finish().expect("zip finish").into_inner()
}

/// A package file of `name` at `version`, taking one argument `Folder`.
pub fn simple_package(name: &str, version: &str) -> Vec<u8> {
    package_file(
        &serde_json::json!({
            "name": name, "version": version, "description": format!("{name} robot"),
            "arguments": [{"name": "Folder", "type": "System.String", "direction": "In",
                           "defaultValue": "C:/in"},
                          {"name": "Count", "type": "Int32", "direction": "Out"}],
        }),
        &[("main.xaml", b"<Activity/>")],
    )
}
