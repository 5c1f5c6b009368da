//! W4 and W5: the approval inbox and callbacks.
//!
//! - W4: with 100,000 open tasks over 1,000 users and 50 groups, the first inbox page (20 tasks,
//!   newest first, with the total) of a random user, at the store; p95 over 500 queries.
//! - W5: a callback finished → the next node started (its run's recorded start), p50 and p95
//!   over 200 instances, with the scheduler running as in the server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::id::IdGenerator;
use engine::instance::{InstanceStatus, Trigger};
use engine::people::token_hash;
use engine::runtime::{Runtime, RuntimeConfig, StartRequest};
use engine::store::{CallbackFinish, DatabaseUrl, InboxQuery, Store};
use serde_json::json;

use crate::{publish, Error};

const W4_TASKS: i64 = 100_000;
const W4_USERS: i64 = 1_000;
const W4_GROUPS: i64 = 50;
const W4_QUERIES: usize = 500;
const W5_INSTANCES: usize = 200;

fn runtime(store: &Arc<dyn Store>, generator: u16) -> Runtime {
    Runtime::new(
        store.clone(),
        IdGenerator::new(generator),
        format!("bench-{generator}"),
        RuntimeConfig::default(),
    )
}

async fn start(rt: &Runtime, key: &str) -> Result<engine::id::Id, Error> {
    Ok(rt
        .start(StartRequest {
            definition_key: key.into(),
            version: None,
            input: json!({}),
            trigger: Trigger::Api,
            operator: "bench".into(),
            idempotency_key: None,
        })
        .await?
        .id)
}

/// The p-th percentile (0–100) of `values` (sorted here).
fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * (values.len() as f64 - 1.0)).round() as usize;
    values[rank.min(values.len() - 1)]
}

/// W4: the p95 of the first inbox page, in milliseconds.
pub async fn w4(store: &Arc<dyn Store>, url: &str) -> Result<f64, Error> {
    // One real instance waiting on a real task; the other tasks are written beside it in bulk
    // (creating 100,000 instances would measure the scheduler, not the inbox).
    publish(
        store,
        json!({"key": "w4", "name": "W4",
               "nodes": [{"id": "start", "kind": "start"},
                         {"id": "ask", "kind": "approval", "title": "W4", "assignees": ["user0"]},
                         {"id": "end", "kind": "end"}],
               "edges": [{"from": "start", "to": "ask"}, {"from": "ask", "to": "end"}]}),
    )
    .await?;
    let rt = runtime(store, 1001);
    let instance = start(&rt, "w4").await?;
    rt.drain().await?;
    seed_tasks(url, instance.0).await?;

    let mut times = Vec::with_capacity(W4_QUERIES);
    for i in 0..W4_QUERIES {
        let user = (i as i64 * 7_919) % W4_USERS;
        let query = InboxQuery {
            username: format!("user{user}"),
            groups: vec![format!("group{}", user % W4_GROUPS)],
            status: None,
            definition_key: None,
            limit: 20,
            offset: 0,
        };
        let begun = Instant::now();
        let page = store.inbox(&query).await?;
        times.push(begun.elapsed().as_secs_f64() * 1_000.0);
        if page.items.len() != 20 || page.total < W4_TASKS / W4_GROUPS {
            return Err(format!(
                "unexpected inbox page: {} of {}",
                page.items.len(),
                page.total
            )
            .into());
        }
    }
    Ok(percentile(&mut times, 95.0))
}

/// Writes W4's tasks: task i is assigned to user (i mod 1,000) and offered to group (i mod 50).
async fn seed_tasks(url: &str, instance: i64) -> Result<(), Error> {
    macro_rules! seed {
        ($pool:expr) => {{
            let pool = $pool;
            let now = chrono::Utc::now();
            let mut tx = pool.begin().await?;
            for batch in 0..(W4_TASKS / 1_000) {
                let ids: Vec<i64> = (batch * 1_000..(batch + 1) * 1_000).collect();
                let mut tasks = sqlx::QueryBuilder::new(
                    "insert into human_tasks (id, instance_id, node_id, node_run_id, item_id,
                         definition_key, title, content, assignees, candidate_groups, form,
                         outcomes, status, created_at) ",
                );
                tasks.push_values(&ids, |mut row, i| {
                    row.push_bind(1_000_000 + i)
                        .push_bind(instance)
                        .push_bind("ask")
                        .push_bind(0_i64)
                        .push_bind(0_i64)
                        .push_bind("w4")
                        .push_bind(format!("Task {i}"))
                        .push_bind("")
                        .push_bind(sqlx::types::Json(json!([format!("user{}", i % W4_USERS)])))
                        .push_bind(sqlx::types::Json(json!([format!(
                            "group{}",
                            i % W4_GROUPS
                        )])))
                        .push_bind(sqlx::types::Json(json!([])))
                        .push_bind(sqlx::types::Json(json!(["approve", "reject"])))
                        .push_bind("open")
                        .push_bind(now);
                });
                tasks.build().execute(&mut *tx).await?;
                let mut candidates = sqlx::QueryBuilder::new(
                    "insert into task_candidates (task_id, principal, status) ",
                );
                let rows: Vec<(i64, String)> = ids
                    .iter()
                    .flat_map(|i| {
                        [
                            (*i, format!("u:user{}", i % W4_USERS)),
                            (*i, format!("g:group{}", i % W4_GROUPS)),
                        ]
                    })
                    .collect();
                candidates.push_values(rows, |mut row, (i, principal)| {
                    row.push_bind(1_000_000 + i)
                        .push_bind(principal)
                        .push_bind("open");
                });
                candidates.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            sqlx::query("analyze").execute(&pool).await?;
            Ok(())
        }};
    }
    match url.parse::<DatabaseUrl>()? {
        DatabaseUrl::Sqlite(options) => seed!(sqlx::SqlitePool::connect_with(options).await?),
        DatabaseUrl::Postgres(options) => seed!(sqlx::PgPool::connect_with(options).await?),
    }
}

/// W5: callback finished → next node started, (p50, p95) in milliseconds.
pub async fn w5(store: &Arc<dyn Store>) -> Result<(f64, f64), Error> {
    publish(
        store,
        json!({"key": "w5", "name": "W5",
               "nodes": [{"id": "start", "kind": "start"},
                         {"id": "wait", "kind": "callback"},
                         {"id": "after", "kind": "script", "script": "1"},
                         {"id": "end", "kind": "end"}],
               "edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "after"},
                         {"from": "after", "to": "end"}]}),
    )
    .await?;
    let rt = runtime(store, 1002);
    let mut waiting = Vec::with_capacity(W5_INSTANCES);
    for _ in 0..W5_INSTANCES {
        waiting.push(start(&rt, "w5").await?);
    }
    rt.drain().await?;
    let mut tokens = Vec::with_capacity(W5_INSTANCES);
    for id in &waiting {
        let events = store.events(*id, 0).await?;
        let token = events
            .iter()
            .find(|e| e.kind == "node.waiting")
            .and_then(|e| e.data["callback"]["token"].as_str())
            .ok_or("no callback token")?
            .to_string();
        tokens.push(token);
    }

    // The scheduler runs as in the server: idle, woken by the finish.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let background = rt.clone();
    let scheduler = tokio::spawn(async move {
        background
            .run_until(async {
                let _ = stopped.await;
            })
            .await;
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut latencies = Vec::with_capacity(W5_INSTANCES);
    for (id, token) in waiting.iter().zip(&tokens) {
        // Whole milliseconds, as the store records the start: the difference is within 1 ms.
        let now = chrono::Utc::now();
        let finished_at =
            chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        store
            .finish_callback(
                &token_hash(token),
                CallbackFinish {
                    succeeded: true,
                    output: &json!({"ok": true}),
                },
            )
            .await?;
        rt.wake();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let instance = store.instance(*id).await?.ok_or("instance")?;
            if instance.status == InstanceStatus::Completed {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("instance {id} is still {:?}", instance.status).into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let runs = store.node_runs(*id).await?;
        let after = runs
            .iter()
            .find(|r| r.node_id == "after")
            .ok_or("no run of the next node")?;
        let started = chrono::DateTime::parse_from_rfc3339(&after.started_at)?;
        let ms = (started.with_timezone(&chrono::Utc) - finished_at)
            .num_microseconds()
            .unwrap_or(0) as f64
            / 1_000.0;
        latencies.push(ms.max(0.0));
    }
    let _ = stop.send(());
    let _ = scheduler.await;
    let p50 = percentile(&mut latencies, 50.0);
    let p95 = percentile(&mut latencies, 95.0);
    Ok((p50, p95))
}
