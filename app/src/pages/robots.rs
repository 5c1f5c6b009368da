//! `/robots`: queues, robots with their live status, deployments, packages and the latest jobs.
//! The page reads itself again every five seconds while it is open.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::inbox::short_time;
use crate::i18n::{use_i18n, Key};
use crate::robots::{
    load_robots, state_key, DeploymentView, JobView, PackageView, RKey, RobotView, RobotsOverview,
};

#[component]
pub fn RobotsPage() -> impl IntoView {
    let i18n = use_i18n();
    let ticks = RwSignal::new(0u32);
    Effect::new(move |_| {
        let _ = set_interval_with_handle(
            move || ticks.update(|n| *n = n.wrapping_add(1)),
            std::time::Duration::from_secs(5),
        );
    });
    let overview = Resource::new(move || ticks.get(), |_| load_robots());
    view! {
        <Title text=i18n.t(RKey::Title) />
        <section class="page">
            <div class="page-head">
                <h1>{i18n.t(RKey::Title)}</h1>
            </div>
            <p class="muted">{i18n.t(RKey::Blurb)}</p>
            <Transition fallback=move || view! { <p class="muted">{i18n.t(Key::Checking)}</p> }>
                {move || {
                    overview
                        .get()
                        .map(|answer| match answer {
                            Ok(overview) => view! { <Overview overview /> }.into_any(),
                            Err(error) => super::not_loaded(&error, None),
                        })
                }}
            </Transition>
        </section>
    }
}

/// A status word on its colour.
fn badge(state: &str, testid: &'static str) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <span class=format!("status status-{}", state.to_lowercase()) data-testid=testid>
            {i18n.t(state_key(state))}
        </span>
    }
}

#[component]
fn Overview(overview: RobotsOverview) -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    let RobotsOverview {
        queues,
        robots,
        deployments,
        packages,
        jobs,
        jobs_total,
    } = overview;
    let queues_view = if queues.is_empty() {
        view! { <p class="muted" data-testid="queues-empty">{t(RKey::NoQueues)}</p> }.into_any()
    } else {
        view! {
            <table class="list" data-testid="queues">
                <thead>
                    <tr>
                        <th>{t(RKey::Name)}</th>
                        <th>{t(RKey::RobotCount)}</th>
                        <th>{t(RKey::Description)}</th>
                    </tr>
                </thead>
                <tbody>
                    {queues
                        .into_iter()
                        .map(|q| {
                            let key = q.name.clone();
                            view! {
                            <tr data-queue=key>
                                <td>{q.name}</td>
                                <td>{q.robot_count}</td>
                                <td class="muted">{q.description}</td>
                            </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    let robots_view = if robots.is_empty() {
        view! { <p class="muted" data-testid="robots-empty">{t(RKey::NoRobots)}</p> }.into_any()
    } else {
        view! {
            <table class="list" data-testid="robots">
                <thead>
                    <tr>
                        <th>{t(RKey::Name)}</th>
                        <th>{t(RKey::Queue)}</th>
                        <th>{t(RKey::Status)}</th>
                        <th>{t(RKey::LastSeen)}</th>
                        <th>{t(RKey::Sdk)}</th>
                    </tr>
                </thead>
                <tbody>{robots.into_iter().map(robot_row).collect_view()}</tbody>
            </table>
        }
        .into_any()
    };
    let jobs_view = match jobs {
        None => view! { <p class="muted">{t(RKey::JobsHidden)}</p> }.into_any(),
        Some(jobs) if jobs.is_empty() => {
            view! { <p class="muted" data-testid="jobs-empty">{t(RKey::NoJobs)}</p> }.into_any()
        }
        Some(jobs) => {
            let shown = jobs.len();
            let range = move || {
                i18n.t(RKey::ShowingJobs)()
                    .replace("{shown}", &shown.to_string())
                    .replace("{total}", &jobs_total.to_string())
            };
            view! {
                <table class="list" data-testid="jobs">
                    <thead>
                        <tr>
                            <th>{t(RKey::Job)}</th>
                            <th>{t(RKey::Deployment)}</th>
                            <th>{t(RKey::State)}</th>
                            <th>{t(RKey::Robot)}</th>
                            <th>{t(RKey::Instance)}</th>
                            <th>{t(RKey::Priority)}</th>
                            <th>{t(RKey::Created)}</th>
                            <th>{t(RKey::Message)}</th>
                        </tr>
                    </thead>
                    <tbody>{jobs.into_iter().map(job_row).collect_view()}</tbody>
                </table>
                <div class="pager"><span class="muted">{range}</span></div>
            }
            .into_any()
        }
    };
    view! {
        <div class="robots-grid">
            <div class="card table-card">
                <h2>{t(RKey::Queues)}</h2>
                {queues_view}
            </div>
            <div class="card table-card">
                <h2>{t(RKey::Robots)}</h2>
                {robots_view}
            </div>
        </div>
        <div class="robots-grid halves">
            <div class="card table-card">
                <h2>{t(RKey::Deployments)}</h2>
                {deployments_table(deployments)}
            </div>
            <div class="card table-card">
                <h2>{t(RKey::Packages)}</h2>
                {packages_table(packages)}
            </div>
        </div>
        <div class="card table-card">
            <h2>{t(RKey::LatestJobs)}</h2>
            {jobs_view}
        </div>
    }
}

fn deployments_table(deployments: Vec<DeploymentView>) -> AnyView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    if deployments.is_empty() {
        return view! { <p class="muted" data-testid="deployments-empty">{t(RKey::NoDeployments)}</p> }
            .into_any();
    }
    let rows = deployments
        .into_iter()
        .map(|d| {
            let key = d.name.clone();
            let runs_on = if d.robots.is_empty() {
                view! { <span class="muted">{t(RKey::AnyRobot)}</span> }.into_any()
            } else {
                d.robots.join(", ").into_any()
            };
            view! {
                <tr data-deployment=key>
                    <td>{d.name}</td>
                    <td><span>{d.package_name}</span> " " <span class="muted mono">{d.package_version}</span></td>
                    <td class="muted">{d.queue}</td>
                    <td>{runs_on}</td>
                    <td class="muted">{d.priority}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="list" data-testid="deployments">
            <thead>
                <tr>
                    <th>{t(RKey::Name)}</th>
                    <th>{t(RKey::Package)}</th>
                    <th>{t(RKey::Queue)}</th>
                    <th>{t(RKey::BoundRobots)}</th>
                    <th>{t(RKey::Priority)}</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

fn packages_table(packages: Vec<PackageView>) -> AnyView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    if packages.is_empty() {
        return view! { <p class="muted" data-testid="packages-empty">{t(RKey::NoPackages)}</p> }
            .into_any();
    }
    let rows = packages
        .into_iter()
        .map(|p| {
            let key = p.name.clone();
            view! {
                <tr data-package=key>
                    <td title=p.description>{p.name}</td>
                    <td class="mono">{p.latest}</td>
                    <td class="muted">{p.versions}</td>
                    <td class="muted">{p.downloads}</td>
                    <td class="muted nowrap" title=p.updated_at.clone()>
                        {p.updated_at.get(..10).unwrap_or_default().to_string()}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="list" data-testid="packages">
            <thead>
                <tr>
                    <th>{t(RKey::Name)}</th>
                    <th>{t(RKey::Latest)}</th>
                    <th>{t(RKey::Versions)}</th>
                    <th>{t(RKey::Downloads)}</th>
                    <th>{t(RKey::Updated)}</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

fn robot_row(robot: RobotView) -> impl IntoView {
    let i18n = use_i18n();
    let seen = robot
        .last_heartbeat_at
        .as_deref()
        .map(short_time)
        .map_or_else(
            || view! { {i18n.t(RKey::Never)} }.into_any(),
            |s| s.into_any(),
        );
    let key = robot.name.clone();
    view! {
        <tr data-robot=key>
            <td>{robot.name}</td>
            <td class="muted">{robot.queue}</td>
            <td>{badge(&robot.status, "robot-status")}</td>
            <td class="muted nowrap">{seen}</td>
            <td class="muted">{robot.sdk_version}</td>
        </tr>
    }
}

fn job_row(job: JobView) -> impl IntoView {
    let short: String = job.id.chars().take(8).collect();
    let instance = job.instance_id.clone().map(|id| {
        let label = match &job.node_id {
            Some(node) => format!("{id} · {node}"),
            None => id.clone(),
        };
        view! { <A href=format!("/instances/{id}") attr:class="mono">{label}</A> }
    });
    let (key, title) = (job.id.clone(), job.id.clone());
    view! {
        <tr data-job=key>
            <td class="mono" title=title>{short}</td>
            <td>{job.deployment}</td>
            <td>{badge(&job.state, "job-state")}</td>
            <td class="muted">{job.robot}</td>
            <td>{instance}</td>
            <td class="muted">{job.priority}</td>
            <td class="muted nowrap">{short_time(&job.created_at)}</td>
            <td class="muted">{job.message}</td>
        </tr>
    }
}
