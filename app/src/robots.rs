//! Server functions of the Robots page (queues, robots with their status, deployments, packages
//! and the latest jobs) and of the designer's deployment picker.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;

/// Jobs the page shows, newest first.
pub const JOBS_SHOWN: i64 = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub robot_count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobotView {
    pub id: String,
    pub name: String,
    pub queue: String,
    /// `ready`, `busy` or `disconnected`.
    pub status: String,
    pub sdk_version: String,
    pub last_heartbeat_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub id: String,
    pub deployment: String,
    /// `Queued`, `Running`, `Succeeded`, `Failed` or `Cancelled`.
    pub state: String,
    pub robot: String,
    pub instance_id: Option<String>,
    pub node_id: Option<String>,
    pub priority: i32,
    pub message: String,
    pub created_at: String,
}

/// A deployment as the Robots page and the designer's `job` node show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentView {
    pub name: String,
    pub package_name: String,
    pub package_version: String,
    pub queue: String,
    pub priority: i32,
    pub trigger_policy: String,
    /// The robots its jobs are bound to (none: any robot of its queue).
    pub robots: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageView {
    pub name: String,
    pub description: String,
    pub latest: String,
    pub versions: usize,
    pub downloads: i64,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobotsOverview {
    pub queues: Vec<QueueView>,
    pub robots: Vec<RobotView>,
    pub deployments: Vec<DeploymentView>,
    pub packages: Vec<PackageView>,
    /// `None` for people who may not see jobs (only admins and operators may).
    pub jobs: Option<Vec<JobView>>,
    pub jobs_total: i64,
}

/// The deployments a `job` node may name, by name, for anyone signed in.
#[server(prefix = "/rpc", endpoint = "deployments")]
pub async fn load_deployments() -> Result<Vec<DeploymentView>, AppError> {
    let user = crate::api::ssr::user()?;
    let store = crate::api::ssr::store()?;
    ssr::deployments(store.as_ref(), &user).await
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::DeploymentView;
    use crate::api::AppError;

    pub fn unavailable(err: engine::store::StoreError) -> AppError {
        tracing::warn!(error = %err, "robots query failed");
        AppError::DatabaseUnavailable
    }

    /// The deployments `user` sees (by their department).
    pub async fn deployments(
        store: &dyn engine::store::Store,
        user: &engine::people::User,
    ) -> Result<Vec<DeploymentView>, AppError> {
        let queues = store.queues().await.map_err(unavailable)?;
        let mut all = store.deployments().await.map_err(unavailable)?;
        engine::service::scope::retain_seen(store, user, &mut all, |d| d.department_id.as_deref())
            .await
            .map_err(unavailable)?;
        let mut views = Vec::new();
        for d in all {
            let robots = store
                .deployment_robots(&d.id)
                .await
                .map_err(unavailable)?
                .into_iter()
                .map(|r| r.name)
                .collect();
            views.push(DeploymentView {
                queue: queues
                    .iter()
                    .find(|q| q.id == d.queue_id)
                    .map_or(d.queue_id.clone(), |q| q.name.clone()),
                name: d.name,
                package_name: d.package_name,
                package_version: d.package_version,
                priority: d.priority,
                trigger_policy: d.trigger_policy.as_str().to_string(),
                robots,
            });
        }
        views.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(views)
    }
}

/// Queues, robots, deployments, packages and the latest jobs, for anyone signed in (jobs for
/// admins and operators).
#[server(prefix = "/rpc", endpoint = "robots")]
pub async fn load_robots() -> Result<RobotsOverview, AppError> {
    use std::collections::HashMap;

    use engine::people::Role;
    use engine::service::scope::retain_seen;
    use engine::store::JobQuery;

    let user = crate::api::ssr::user()?;
    let store = crate::api::ssr::store()?;
    let unavailable = ssr::unavailable;
    let mut queues = store.queues().await.map_err(unavailable)?;
    retain_seen(store.as_ref(), &user, &mut queues, |q| {
        q.department_id.as_deref()
    })
    .await
    .map_err(unavailable)?;
    let names: HashMap<String, String> = queues
        .iter()
        .map(|q| (q.id.clone(), q.name.clone()))
        .collect();
    let all = store.robots(None).await.map_err(unavailable)?;
    let mut placed = engine::service::scope::robot_departments(store.as_ref(), all)
        .await
        .map_err(unavailable)?;
    retain_seen(store.as_ref(), &user, &mut placed, |(_, d)| d.as_deref())
        .await
        .map_err(unavailable)?;
    let robots: Vec<_> = placed.into_iter().map(|(r, _)| r).collect();
    let robot_names: HashMap<String, String> = robots
        .iter()
        .map(|r| (r.id.clone(), r.name.clone()))
        .collect();
    let (jobs, jobs_total) = if user.is_admin() || user.has(Role::Operator) {
        let deployments: HashMap<String, String> = store
            .deployments()
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect();
        let page = store
            .jobs(&JobQuery {
                limit: JOBS_SHOWN,
                ..JobQuery::default()
            })
            .await
            .map_err(unavailable)?;
        let jobs = page
            .items
            .into_iter()
            .map(|j| JobView {
                deployment: deployments
                    .get(&j.deployment_id)
                    .cloned()
                    .unwrap_or(j.deployment_id),
                robot: j
                    .robot_id
                    .as_ref()
                    .and_then(|r| robot_names.get(r).cloned())
                    .unwrap_or_default(),
                id: j.id,
                state: j.state,
                instance_id: j.instance_id,
                node_id: j.node_id,
                priority: j.priority,
                message: j.message,
                created_at: j.created_at,
            })
            .collect();
        (Some(jobs), page.total)
    } else {
        (None, 0)
    };
    let deployments = ssr::deployments(store.as_ref(), &user).await?;
    let mut packages = store.packages().await.map_err(unavailable)?;
    retain_seen(store.as_ref(), &user, &mut packages, |p| {
        p.department_id.as_deref()
    })
    .await
    .map_err(unavailable)?;
    let packages = packages
        .into_iter()
        .map(|p| PackageView {
            latest: p.latest().map(|v| v.version.clone()).unwrap_or_default(),
            versions: p.versions.len(),
            name: p.name,
            description: p.description,
            downloads: p.total_downloads,
            updated_at: p.updated_at,
        })
        .collect();
    Ok(RobotsOverview {
        deployments,
        packages,
        robots: robots
            .into_iter()
            .map(|r| RobotView {
                queue: r
                    .queue_id
                    .as_ref()
                    .and_then(|q| names.get(q).cloned())
                    .unwrap_or_default(),
                id: r.id,
                name: r.name,
                status: r.status,
                sdk_version: r.sdk_version,
                last_heartbeat_at: r.last_heartbeat_at,
            })
            .collect(),
        queues: queues
            .into_iter()
            .map(|q| QueueView {
                id: q.id,
                name: q.name,
                description: q.description,
                robot_count: q.robot_count,
            })
            .collect(),
        jobs,
        jobs_total,
    })
}

/// The Robots page's texts, in English and Chinese (the rest of the UI's are in
/// [`crate::i18n::Key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RKey {
    NavRobots,
    Title,
    Blurb,
    Queues,
    Robots,
    Deployments,
    Packages,
    LatestJobs,
    Name,
    Queue,
    RobotCount,
    Description,
    Status,
    LastSeen,
    Sdk,
    Never,
    Job,
    Deployment,
    State,
    Robot,
    Instance,
    Priority,
    Created,
    Message,
    NoQueues,
    NoRobots,
    NoJobs,
    NoDeployments,
    NoPackages,
    Package,
    Latest,
    Versions,
    Downloads,
    Updated,
    BoundRobots,
    AnyRobot,
    Policy,
    UnknownDeployment,
    JobsHidden,
    Ready,
    Busy,
    Disconnected,
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    ShowingJobs,
}

impl crate::i18n::Phrase for RKey {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            RKey::NavRobots => ("Robots", "机器人"),
            RKey::Title => ("Robots", "机器人"),
            RKey::Blurb => (
                "Robots are workers that run the jobs of job nodes. Their status updates by itself while this page is open.",
                "机器人是运行作业节点之作业的执行者。页面打开期间，状态会自动刷新。",
            ),
            RKey::Queues => ("Queues", "机器人组"),
            RKey::Robots => ("Robots", "机器人"),
            RKey::LatestJobs => ("Latest jobs", "最近的作业"),
            RKey::Deployments => ("Deployments", "流程部署"),
            RKey::Packages => ("Packages", "流程包"),
            RKey::NoDeployments => (
                "No deployments yet. An administrator binds an uploaded package to a queue with POST /api/v1/deployments.",
                "还没有流程部署。管理员可通过 POST /api/v1/deployments 将已上传的流程包部署到机器人组。",
            ),
            RKey::NoPackages => (
                "No packages yet. An administrator uploads a .dgs file with POST /api/v1/packages.",
                "还没有流程包。管理员可通过 POST /api/v1/packages 上传 .dgs 文件。",
            ),
            RKey::Package => ("Package", "流程包"),
            RKey::Latest => ("Latest", "最新版本"),
            RKey::Versions => ("Versions", "版本数"),
            RKey::Downloads => ("Downloads", "下载次数"),
            RKey::Updated => ("Updated", "更新时间"),
            RKey::BoundRobots => ("Runs on", "执行机器人"),
            RKey::AnyRobot => ("any robot", "任一机器人"),
            RKey::Policy => ("When no robot is free", "无空闲机器人时"),
            RKey::UnknownDeployment => (
                "No deployment has this name yet.",
                "还没有这个名称的流程部署。",
            ),
            RKey::Name => ("Name", "名称"),
            RKey::Queue => ("Queue", "机器人组"),
            RKey::RobotCount => ("Robots", "机器人数"),
            RKey::Description => ("Description", "描述"),
            RKey::Status => ("Status", "状态"),
            RKey::LastSeen => ("Last heartbeat", "最后心跳"),
            RKey::Sdk => ("SDK", "SDK"),
            RKey::Never => ("never", "从未"),
            RKey::Job => ("Job", "作业"),
            RKey::Deployment => ("Deployment", "流程部署"),
            RKey::State => ("State", "状态"),
            RKey::Robot => ("Robot", "机器人"),
            RKey::Instance => ("Instance", "实例"),
            RKey::Priority => ("Priority", "优先级"),
            RKey::Created => ("Queued at", "创建时间"),
            RKey::Message => ("Message", "信息"),
            RKey::NoQueues => (
                "No queues yet. An administrator creates them with POST /api/v1/queues.",
                "还没有机器人组。管理员可通过 POST /api/v1/queues 创建。",
            ),
            RKey::NoRobots => (
                "No robots yet. An administrator creates them with POST /api/v1/robots.",
                "还没有机器人。管理员可通过 POST /api/v1/robots 创建。",
            ),
            RKey::NoJobs => ("No jobs yet.", "还没有作业。"),
            RKey::JobsHidden => (
                "Jobs are shown to operators and administrators.",
                "作业仅对操作员和管理员可见。",
            ),
            RKey::Ready => ("Ready", "空闲"),
            RKey::Busy => ("Busy", "忙碌"),
            RKey::Disconnected => ("Disconnected", "已断开"),
            RKey::Queued => ("Queued", "排队中"),
            RKey::Running => ("Running", "运行中"),
            RKey::Succeeded => ("Succeeded", "成功"),
            RKey::Failed => ("Failed", "失败"),
            RKey::Cancelled => ("Cancelled", "已取消"),
            RKey::ShowingJobs => ("Newest {shown} of {total}", "最新 {shown} 个，共 {total} 个"),
        }
    }
}

/// A robot's status or a job's state as the text key its badge shows.
pub fn state_key(state: &str) -> RKey {
    match state {
        "ready" => RKey::Ready,
        "busy" => RKey::Busy,
        "Queued" => RKey::Queued,
        "Running" => RKey::Running,
        "Succeeded" => RKey::Succeeded,
        "Failed" => RKey::Failed,
        "Cancelled" => RKey::Cancelled,
        _ => RKey::Disconnected,
    }
}
