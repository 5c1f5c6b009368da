//! Engine benchmarks, run with `make bench` (release build). Every number in the README's
//! Performance section comes from here.
//!
//! - W1: a 40-node chain of no-op script nodes; orchestration overhead per node =
//!   instance `cost_ms` / 40 (median of the runs).
//! - W3: 3-node workflows started back to back by four concurrent clients; node transitions per
//!   second until every instance has completed; the median of three runs. On PostgreSQL the
//!   work is shared by two worker processes (this binary, run as `baton-bench worker URL N`).
//! - W4, W5: the approval inbox and callbacks (see `waits.rs`).
//! - Beside them, the raw rate of single-row committed inserts on the same database.
//!
//! Usage: baton-bench [--postgres ADMIN_URL]   (the URL as printed by scripts/test-postgres)
//!
//! `BENCH_ONLY=w3` (any of w1, w3, w4, w5, raw, comma-separated) runs only those workloads.

mod waits;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::id::IdGenerator;
use engine::instance::{InstanceStatus, Trigger};
use engine::runtime::{Runtime, RuntimeConfig, StartRequest};
use engine::service::DefinitionService;
use engine::store::{self, DatabaseUrl, InstanceQuery, Store};
use engine::testing::TestDatabase;
use serde_json::{json, Value};

const W1_RUNS: usize = 20;
const W1_NODES: usize = 40;
const W3_INSTANCES: usize = 2_000;
/// W3 runs (each on a fresh definition key); the median is reported.
const W3_RUNS: usize = 3;
/// Concurrent clients starting the W3 instances.
const W3_CLIENTS: usize = 4;

pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("worker") {
        let url = args.get(1).ok_or("worker URL")?;
        let generator: u16 = args.get(2).ok_or("worker number")?.parse()?;
        return worker(url, generator).await;
    }
    let postgres = match args.as_slice() {
        [flag, url] if flag == "--postgres" => Some(url.clone()),
        [] => None,
        _ => return Err("usage: baton-bench [--postgres ADMIN_URL]".into()),
    };

    println!("backend,workload,value,unit");
    let sqlite = TestDatabase::sqlite();
    run_all("sqlite", &sqlite.url, 1).await?;
    if let Some(admin) = postgres {
        std::env::set_var("BATON_TEST_POSTGRES_URL", admin);
        let db = TestDatabase::postgres().await.ok_or("no PostgreSQL")?;
        run_all("postgres", &db.url, 2).await?;
    }
    Ok(())
}

async fn open(url: &str) -> Result<Arc<dyn Store>, Error> {
    let url: DatabaseUrl = url.parse()?;
    Ok(store::connect(&url).await?)
}

/// Whether `BENCH_ONLY` (unset: every workload) names `workload`.
fn selected(workload: &str) -> bool {
    std::env::var("BENCH_ONLY")
        .map(|only| {
            only.split(',')
                .any(|w| w.trim().eq_ignore_ascii_case(workload))
        })
        .unwrap_or(true)
}

async fn run_all(backend: &str, url: &str, w3_processes: usize) -> Result<(), Error> {
    let store = open(url).await?;
    if selected("w1") {
        let per_node = w1(&store).await?;
        println!("{backend},W1 orchestration overhead per node,{per_node:.3},ms");
    }
    if selected("w3") {
        // The machine's other load moves single runs by 10-20 %: the median of three.
        let mut rates = Vec::with_capacity(W3_RUNS);
        for run in 0..W3_RUNS {
            rates.push(w3(&store, url, w3_processes, &format!("w3-{run}")).await?);
        }
        rates.sort_by(f64::total_cmp);
        let rate = rates[W3_RUNS / 2];
        println!(
            "{backend},W3 node transitions ({w3_processes} worker process(es)),{rate:.0},per second"
        );
    }
    if selected("w4") {
        let inbox = waits::w4(&store, url).await?;
        println!("{backend},W4 first inbox page of 100000 open tasks (p95),{inbox:.2},ms");
    }
    if selected("w5") {
        let (p50, p95) = waits::w5(&store).await?;
        println!("{backend},W5 callback to next node started (p50),{p50:.1},ms");
        println!("{backend},W5 callback to next node started (p95),{p95:.1},ms");
    }
    if selected("raw") {
        let inserts = raw_inserts(url).await?;
        println!("{backend},raw single-row committed inserts,{inserts:.0},per second");
    }
    store.close().await;
    Ok(())
}

pub(crate) async fn publish(store: &Arc<dyn Store>, document: Value) -> Result<(), Error> {
    let service = DefinitionService::new(store.clone(), IdGenerator::new(1000));
    let key = document["key"].as_str().unwrap_or_default().to_string();
    service
        .save_draft(document, "bench")
        .await
        .map_err(|e| format!("{e:?}"))?;
    service
        .publish(&key, "bench")
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(())
}

fn chain(key: &str, scripts: usize) -> Value {
    let mut nodes = vec![json!({"id": "start", "kind": "start"})];
    let mut edges = Vec::new();
    let mut previous = "start".to_string();
    for i in 0..scripts {
        let id = format!("s{i}");
        nodes.push(if std::env::var_os("BENCH_PASSTHROUGH").is_some() {
            json!({"id": id, "kind": "parallel"})
        } else {
            json!({"id": id, "kind": "script", "script": "0"})
        });
        edges.push(json!({"from": previous, "to": id}));
        previous = id;
    }
    nodes.push(json!({"id": "end", "kind": "end"}));
    edges.push(json!({"from": previous, "to": "end"}));
    json!({"key": key, "name": key, "nodes": nodes, "edges": edges})
}

fn request(key: &str) -> StartRequest {
    StartRequest {
        definition_key: key.into(),
        version: None,
        input: json!({}),
        trigger: Trigger::Api,
        operator: "bench".into(),
        idempotency_key: None,
    }
}

/// Median instance cost per node of a 40-node chain (start, 38 scripts, end), one at a time.
async fn w1(store: &Arc<dyn Store>) -> Result<f64, Error> {
    publish(store, chain("w1", W1_NODES - 2)).await?;
    let runtime = Runtime::new(
        store.clone(),
        IdGenerator::new(1),
        "w1",
        RuntimeConfig::default(),
    );
    let mut per_node = Vec::with_capacity(W1_RUNS);
    for _ in 0..W1_RUNS {
        let instance = runtime.start(request("w1")).await?;
        runtime.drain().await?;
        let done = store.instance(instance.id).await?.ok_or("instance gone")?;
        if done.status != InstanceStatus::Completed {
            return Err(format!("W1 instance ended {:?}", done.status).into());
        }
        per_node.push(done.cost_ms.unwrap_or_default() as f64 / W1_NODES as f64);
    }
    per_node.sort_by(f64::total_cmp);
    Ok(per_node[per_node.len() / 2])
}

/// Starts W3_INSTANCES 3-node instances back to back while the workers run; transitions/s.
async fn w3(store: &Arc<dyn Store>, url: &str, processes: usize, key: &str) -> Result<f64, Error> {
    publish(store, chain(key, 1)).await?;
    let begun = Instant::now();
    let mut workers: Vec<Child> = Vec::new();
    let local = if processes == 1 {
        let runtime = Runtime::new(
            store.clone(),
            IdGenerator::new(2),
            "w3",
            RuntimeConfig::default(),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            runtime
                .run_until(async {
                    let _ = stopped.await;
                })
                .await
        });
        Some((stop, handle))
    } else {
        let exe = std::env::current_exe()?;
        for n in 0..processes {
            workers.push(
                Command::new(&exe)
                    .args(["worker", url, &(10 + n).to_string()])
                    .stdin(Stdio::piped())
                    .spawn()?,
            );
        }
        None
    };
    let starter = Runtime::new(
        store.clone(),
        IdGenerator::new(3),
        "w3-starter",
        RuntimeConfig::default(),
    );
    // W3_CLIENTS clients, each starting its share back to back, as callers of the API would.
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..W3_CLIENTS {
        let starter = starter.clone();
        let key = key.to_string();
        clients.spawn(async move {
            let mut ids = Vec::with_capacity(W3_INSTANCES / W3_CLIENTS);
            for _ in 0..W3_INSTANCES / W3_CLIENTS {
                ids.push(starter.start(request(&key)).await?.id);
            }
            Ok::<_, engine::runtime::RuntimeError>(ids)
        });
    }
    let mut ids = Vec::with_capacity(W3_INSTANCES);
    while let Some(started) = clients.join_next().await {
        ids.extend(started??);
    }
    // Done when every instance has completed: one count per poll (reading each instance
    // would add 2,000 queries of the benchmark's own to the engine's work).
    let of_status = |status| InstanceQuery {
        status: Some(status),
        definition_key: Some(key.to_string()),
        limit: 1,
        ..InstanceQuery::default()
    };
    loop {
        let completed = store
            .list_instances(&of_status(InstanceStatus::Completed))
            .await?;
        if completed.total as usize == ids.len() {
            break;
        }
        let failed = store
            .list_instances(&of_status(InstanceStatus::Failed))
            .await?;
        if failed.total > 0 {
            return Err(format!("{} W3 instances failed", failed.total).into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = begun.elapsed().as_secs_f64();
    if let Some((stop, handle)) = local {
        let _ = stop.send(());
        handle.await?;
    }
    for mut worker in workers {
        // Closing stdin tells a worker to stop.
        drop(worker.stdin.take());
        worker.wait()?;
    }
    // Three nodes per instance: start, script, end.
    Ok((W3_INSTANCES * 3) as f64 / elapsed)
}

/// A worker process: runs the scheduler until its stdin closes.
async fn worker(url: &str, generator: u16) -> Result<(), Error> {
    let store = open(url).await?;
    let runtime = Runtime::new(
        store.clone(),
        IdGenerator::new(generator),
        format!("worker-{generator}"),
        RuntimeConfig::default(),
    );
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    });
    runtime
        .run_until(async {
            let _ = stdin_closed.await;
        })
        .await;
    store.close().await;
    Ok(())
}

/// Single-row inserts, each its own committed transaction, for two seconds.
async fn raw_inserts(url: &str) -> Result<f64, Error> {
    // The same loop on either driver's pool (sqlx's executors are per driver).
    macro_rules! measure {
        ($pool:expr, $create:literal) => {{
            let pool = $pool;
            sqlx::query($create).execute(&pool).await?;
            let window = Duration::from_secs(2);
            let begun = Instant::now();
            let mut n = 0u64;
            while begun.elapsed() < window {
                sqlx::query("insert into bench_raw (v) values ($1)")
                    .bind("x")
                    .execute(&pool)
                    .await?;
                n += 1;
            }
            Ok(n as f64 / begun.elapsed().as_secs_f64())
        }};
    }
    match url.parse::<DatabaseUrl>()? {
        DatabaseUrl::Sqlite(options) => measure!(
            sqlx::SqlitePool::connect_with(
                options
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal),
            )
            .await?,
            "create table if not exists bench_raw (id integer primary key, v text)"
        ),
        DatabaseUrl::Postgres(options) => measure!(
            sqlx::PgPool::connect_with(options).await?,
            "create table if not exists bench_raw (id bigserial primary key, v text)"
        ),
    }
}
