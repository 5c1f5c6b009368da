//! `/instances/:id`: one instance, live. The workflow's diagram with each node coloured by its
//! latest run, progress, the runs of a selected node, the event log, and cancel / pause / resume
//! (asked to confirm) for those who may operate it. The page listens to the instance's
//! server-sent events and reads the instance again on each, so it changes without a reload.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::inbox::short_time;
use super::instances::{duration, InstanceBadge};
use crate::api::AppError;
use crate::i18n::{use_i18n, Key};
use crate::monitor::{
    instance_view, node_operation, operate_instance, DiagramNode, InstanceStatus, MonitorView,
    NodeRun, NodeRunStatus,
};

/// Every event kind the engine writes; the page reads the instance again on each.
const EVENT_KINDS: &[&str] = &[
    "instance.started",
    "instance.completed",
    "instance.failed",
    "instance.cancelled",
    "instance.paused",
    "instance.resumed",
    "instance.rolling_back",
    "instance.debug_left",
    "instance.deleted",
    "instance.delete_requested",
    "instance.cancel_actions_done",
    "node.started",
    "node.completed",
    "node.failed",
    "node.skipped",
    "node.waiting",
    "node.retrying",
    "node.rerun_requested",
    "node.skip_requested",
    "task.claimed",
    "task.released",
    "task.completed",
    "task.expired",
    "callback.finished",
    "mock.passed",
    "rollback.begin",
    "rollback.success",
    "rollback.failed",
    "cancel.begin",
    "cancel.success",
    "cancel.failed",
    "delete.begin",
    "delete.success",
    "delete.failed",
];

const NODE_WIDTH: f64 = 150.0;
const NODE_HEIGHT: f64 = 46.0;

#[component]
pub fn MonitorPage() -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let changes = RwSignal::new(0u32);
    let view = Resource::new(move || (id(), changes.get()), |(id, _)| instance_view(id));
    let selected = RwSignal::new(None::<String>);
    listen(id, changes);

    view! {
        <Title text=t(Key::InstancesTitle) />
        <section class="page monitor-page">
            <p class="crumb">
                <A href="/instances">"← " {t(Key::BackToInstances)}</A>
            </p>
            <Transition fallback=move || view! { <p class="muted">{t(Key::Checking)}</p> }>
                {move || {
                    view.get()
                        .map(|answer| match answer {
                            Ok(view) => view! { <Monitor view selected changes /> }.into_any(),
                            Err(error) => {
                                super::not_loaded(&error, Some((Key::InstanceNotFound, "instance-missing")))
                            }
                        })
                }}
            </Transition>
        </section>
    }
}

/// Opens the instance's event stream in the browser; each event bumps `changes`. A stream from
/// an earlier id is closed when the id changes, and one whose page is gone closes itself at its
/// next event (nothing of this runs on the server).
fn listen(id: impl Fn() -> String + 'static, changes: RwSignal<u32>) {
    use leptos::wasm_bindgen::closure::Closure;
    use leptos::wasm_bindgen::JsCast;
    Effect::new(move |previous: Option<Option<web_sys::EventSource>>| {
        if let Some(Some(old)) = previous {
            old.close();
        }
        let url = format!("/api/v1/instances/{}/events", id());
        let events = web_sys::EventSource::new(&url).ok()?;
        let this = events.clone();
        let bump = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            if changes.try_update(|n| *n = n.wrapping_add(1)).is_none() {
                this.close();
            }
        });
        for kind in EVENT_KINDS {
            let _ = events.add_event_listener_with_callback(kind, bump.as_ref().unchecked_ref());
        }
        // The stream ends with the instance; the browser would reconnect, so stop instead.
        let stop = events.clone();
        let ended = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            if stop.ready_state() != web_sys::EventSource::OPEN {
                stop.close();
            }
        });
        let _ = events.add_event_listener_with_callback("error", ended.as_ref().unchecked_ref());
        // The handlers live as long as the stream.
        bump.forget();
        ended.forget();
        Some(events)
    });
}

#[component]
fn Monitor(
    view: MonitorView,
    selected: RwSignal<Option<String>>,
    changes: RwSignal<u32>,
) -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    let MonitorView {
        instance,
        runs,
        events,
        nodes,
        edges,
        may_operate,
    } = view;
    let latest = |node: &str| {
        runs.iter()
            .filter(|r| r.node_id == node)
            .max_by_key(|r| r.id.0)
            .map(|r| r.status)
    };
    let statuses: Vec<(DiagramNode, Option<NodeRunStatus>)> = nodes
        .into_iter()
        .map(|n| {
            let status = latest(&n.id);
            (n, status)
        })
        .collect();
    let done = statuses
        .iter()
        .filter(|(_, s)| matches!(s, Some(NodeRunStatus::Completed | NodeRunStatus::Skipped)))
        .count();
    let total = statuses.len();
    let progress = move || {
        i18n.t(Key::Progress)()
            .replace("{done}", &done.to_string())
            .replace("{total}", &total.to_string())
    };
    let id = instance.id.to_string();
    let title = format!("{} v{}", instance.definition_key, instance.version);
    let error = instance.error.as_ref().map(|e| {
        e.get("message")
            .and_then(|m| m.as_str())
            .map_or_else(|| e.to_string(), str::to_string)
    });

    view! {
        <article class="card monitor" data-testid="monitor">
            <header class="task-head">
                <div>
                    <h1 data-testid="monitor-title">{title}</h1>
                    <p class="muted mono">{id.clone()}</p>
                </div>
                <InstanceBadge status=instance.status />
            </header>
            <div class="monitor-bar">
                <span data-testid="monitor-progress">{progress}</span>
                <span class="muted">
                    {t(Key::ColumnStartedBy)} ": " {instance.operator.clone()} " · "
                    {short_time(&instance.created_at)}
                    {instance.cost_ms.map(|ms| format!(" · {}", duration(ms)))}
                </span>
                {(!instance.status.is_final()).then(|| view! { <span class="live">{t(Key::LiveUpdates)}</span> })}
                {may_operate.then(|| view! { <Operations id=id.clone() status=instance.status changes /> })}
            </div>
            {error.map(|message| view! { <p class="notice" role="alert" data-testid="instance-error">{message}</p> })}
            <Diagram nodes=statuses edges selected />
            <NodePanel
                runs=runs.clone()
                selected
                operable=may_operate && instance.status == InstanceStatus::Paused
                id=id.clone()
                changes
            />
            <EventLog events />
        </article>
    }
}

#[component]
fn Operations(id: String, status: InstanceStatus, changes: RwSignal<u32>) -> impl IntoView {
    let i18n = use_i18n();
    let operate = Action::new(move |operation: &&'static str| {
        let (id, operation) = (id.clone(), operation.to_string());
        async move { operate_instance(id, operation).await }
    });
    Effect::new(move |_| {
        if operate.value().get().is_some() {
            changes.update(|n| *n = n.wrapping_add(1));
        }
    });
    let offered: Vec<(&'static str, Key, Key)> = match status {
        InstanceStatus::Running | InstanceStatus::Pending => vec![
            ("pause", Key::PauseInstance, Key::ConfirmPause),
            ("cancel", Key::CancelInstance, Key::ConfirmCancel),
        ],
        InstanceStatus::Paused => vec![
            ("resume", Key::ResumeInstance, Key::ConfirmResume),
            ("cancel", Key::CancelInstance, Key::ConfirmCancel),
        ],
        _ => Vec::new(),
    };
    view! {
        <span class="operations">
            {offered
                .into_iter()
                .map(|(operation, label, question)| {
                    view! {
                        <button
                            type="button"
                            class="button secondary"
                            data-operation=operation
                            disabled=move || operate.pending().get()
                            on:click=move |_| {
                                let asked = window()
                                    .confirm_with_message(i18n.t(question)())
                                    .unwrap_or(false);
                                if asked {
                                    operate.dispatch(operation);
                                }
                            }
                        >
                            {i18n.t(label)}
                        </button>
                    }
                })
                .collect_view()}
        </span>
    }
}

#[component]
fn Diagram(
    nodes: Vec<(DiagramNode, Option<NodeRunStatus>)>,
    edges: Vec<(String, String)>,
    selected: RwSignal<Option<String>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let (min_x, min_y) = nodes.iter().fold((f64::MAX, f64::MAX), |(x, y), (n, _)| {
        (x.min(n.x), y.min(n.y))
    });
    let (max_x, max_y) = nodes.iter().fold((f64::MIN, f64::MIN), |(x, y), (n, _)| {
        (x.max(n.x), y.max(n.y))
    });
    let pad = 16.0;
    let width = (max_x - min_x) + NODE_WIDTH + 2.0 * pad;
    let height = (max_y - min_y) + NODE_HEIGHT + 2.0 * pad;
    let at = |id: &str| {
        nodes
            .iter()
            .find(|(n, _)| n.id == id)
            .map(|(n, _)| (n.x - min_x + pad, n.y - min_y + pad))
    };
    let lines: Vec<(f64, f64, f64, f64)> = edges
        .iter()
        .filter_map(|(from, to)| {
            let (fx, fy) = at(from)?;
            let (tx, ty) = at(to)?;
            Some((
                fx + NODE_WIDTH,
                fy + NODE_HEIGHT / 2.0,
                tx,
                ty + NODE_HEIGHT / 2.0,
            ))
        })
        .collect();
    view! {
        <div class="diagram-wrap">
            <svg
                class="diagram"
                role="group"
                aria-label=i18n.t(Key::Diagram)
                viewBox=format!("0 0 {width} {height}")
                width=width
                height=height
            >
                <defs>
                    <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head" />
                    </marker>
                </defs>
                {lines
                    .into_iter()
                    .map(|(x1, y1, x2, y2)| {
                        view! { <line class="edge" x1=x1 y1=y1 x2=x2 y2=y2 marker-end="url(#arrow)" /> }
                    })
                    .collect_view()}
                {nodes
                    .into_iter()
                    .map(|(node, status)| {
                        let (x, y) = (node.x - min_x + pad, node.y - min_y + pad);
                        let state = status.map_or("not_started", NodeRunStatus::as_str);
                        let id = node.id.clone();
                        let chosen = node.id.clone();
                        let is_selected = move || selected.get().as_deref() == Some(chosen.as_str());
                        let pick = id.clone();
                        let pick_key = id.clone();
                        let label: String = node.label.chars().take(20).collect();
                        view! {
                            <g
                                class=format!("node node-{state}")
                                class:selected=is_selected
                                data-node=id
                                data-status=state
                                tabindex="0"
                                role="button"
                                on:click=move |_| selected.set(Some(pick.clone()))
                                on:keydown=move |ev| {
                                    if ev.key() == "Enter" || ev.key() == " " {
                                        ev.prevent_default();
                                        selected.set(Some(pick_key.clone()));
                                    }
                                }
                            >
                                <rect x=x y=y width=NODE_WIDTH height=NODE_HEIGHT rx="8" />
                                <text x=x + 12.0 y=y + 20.0 class="node-label">{label}</text>
                                <text x=x + 12.0 y=y + 36.0 class="node-kind">
                                    {node.kind} " · " {move || run_status_text(i18n, status)}
                                </text>
                            </g>
                        }
                    })
                    .collect_view()}
            </svg>
        </div>
    }
}

fn run_status_text(i18n: crate::i18n::I18n, status: Option<NodeRunStatus>) -> &'static str {
    let key = match status {
        None | Some(NodeRunStatus::NotStarted) => Key::RunNotStarted,
        Some(NodeRunStatus::Running) => Key::InstRunning,
        Some(NodeRunStatus::Waiting) => Key::RunWaiting,
        Some(NodeRunStatus::Completed) => Key::StatusCompleted,
        Some(NodeRunStatus::Failed) => Key::InstFailed,
        Some(NodeRunStatus::Skipped) => Key::RunSkipped,
        Some(NodeRunStatus::Cancelled) => Key::StatusCancelled,
        Some(NodeRunStatus::TimedOut) => Key::RunTimedOut,
        Some(NodeRunStatus::Compensated) => Key::RunCompensated,
    };
    i18n.t(key)()
}

#[component]
fn NodePanel(
    runs: Vec<NodeRun>,
    selected: RwSignal<Option<String>>,
    /// The instance is paused and the viewer may operate it: nodes can be re-run or skipped.
    operable: bool,
    id: String,
    changes: RwSignal<u32>,
) -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    let runs = StoredValue::new(runs);
    let id = StoredValue::new(id);
    view! {
        <section class="node-panel" data-testid="node-panel">
            <h2>{t(Key::NodeRunsTitle)}</h2>
            {move || match selected.get() {
                None => view! { <p class="muted">{t(Key::SelectNode)}</p> }.into_any(),
                Some(node) => {
                    let mine: Vec<NodeRun> = runs
                        .with_value(|all| all.iter().filter(|r| r.node_id == node).cloned().collect());
                    if mine.is_empty() {
                        return view! { <p class="muted"><strong>{node}</strong> " — " {t(Key::NoRuns)}</p> }
                            .into_any();
                    }
                    let last_input = mine
                        .iter()
                        .max_by_key(|r| r.id.0)
                        .and_then(|r| r.input.clone())
                        .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
                        .unwrap_or_default();
                    view! {
                        <p><strong>{node.clone()}</strong></p>
                        {operable
                            .then(|| {
                                view! { <NodeActions id=id.get_value() node=node.clone() input=last_input changes /> }
                            })}
                        <div class="runs">
                            {mine.into_iter().map(|run| view! { <RunCard run /> }).collect_view()}
                        </div>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

/// Re-run a node (as it was, or with an edited input) or skip it, on a paused instance.
#[component]
fn NodeActions(id: String, node: String, input: String, changes: RwSignal<u32>) -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    let edited = RwSignal::new(input);
    let problem = RwSignal::new(None::<String>);
    let act = Action::new(move |(operation, input): &(&'static str, String)| {
        let (id, node, operation, input) = (
            id.clone(),
            node.clone(),
            operation.to_string(),
            input.clone(),
        );
        async move { node_operation(id, node, operation, input).await }
    });
    Effect::new(move |_| match act.value().get() {
        Some(Ok(())) => {
            problem.set(None);
            changes.update(|n| *n = n.wrapping_add(1));
        }
        Some(Err(AppError::Conflict(why))) => problem.set(Some(why)),
        Some(Err(AppError::Invalid(errors))) => {
            problem.set(
                errors
                    .first()
                    .map(|e| format!("{}: {}", e.field, e.message)),
            );
        }
        Some(Err(_)) => problem.set(Some(i18n.t(Key::ActionFailed)().to_string())),
        None => {}
    });
    let ask = move |question: Key, operation: &'static str, input: String| {
        let asked = window()
            .confirm_with_message(i18n.t(question)())
            .unwrap_or(false);
        if asked {
            act.dispatch((operation, input));
        }
    };
    view! {
        <div class="node-actions" data-testid="node-actions">
            <label class="field">
                <span>{t(Key::InputLabel)} " (JSON)"</span>
                <textarea
                    rows="5"
                    class="mono"
                    data-testid="node-input"
                    prop:value=move || edited.get()
                    on:input=move |ev| edited.set(event_target_value(&ev))
                ></textarea>
            </label>
            {move || problem.get().map(|why| view! { <p class="notice" role="alert">{why}</p> })}
            <div class="outcomes">
                <button type="button" class="button secondary" disabled=move || act.pending().get()
                    on:click=move |_| ask(Key::ConfirmRerun, "rerun", String::new())>
                    {t(Key::RerunNode)}
                </button>
                <button type="button" class="button secondary" disabled=move || act.pending().get()
                    on:click=move |_| ask(Key::ConfirmRerun, "rerun", edited.get_untracked())>
                    {t(Key::RetryWithInput)}
                </button>
                <button type="button" class="button secondary" disabled=move || act.pending().get()
                    on:click=move |_| ask(Key::ConfirmSkip, "skip", String::new())>
                    {t(Key::SkipNode)}
                </button>
            </div>
        </div>
    }
}

#[component]
fn RunCard(run: NodeRun) -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    let json = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .filter(|v| !v.is_null())
            .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
    };
    let (input, output, error) = (json(&run.input), json(&run.output), json(&run.error));
    let status = run.status;
    view! {
        <div class="run" data-testid="run">
            <div class="run-head">
                <span class=format!("status status-{}", status.as_str())>{move || run_status_text(i18n, Some(status))}</span>
                <span class="muted">{t(Key::Attempt)} " " {run.attempt}</span>
                {run.loop_index.map(|i| view! { <span class="muted">{t(Key::LoopIndex)} " " {i}</span> })}
                <span class="muted">{short_time(&run.started_at)}</span>
                {run.ended_at.as_deref().map(|e| view! { <span class="muted">"→ " {short_time(e)}</span> })}
                {run.cost_ms.map(|ms| view! { <span class="muted">{duration(ms)}</span> })}
            </div>
            {input.map(|text| view! { <details><summary>{t(Key::InputLabel)}</summary><pre>{text}</pre></details> })}
            {output.map(|text| view! { <details><summary>{t(Key::OutputLabel)}</summary><pre>{text}</pre></details> })}
            {error.map(|text| view! { <details open><summary>{t(Key::ErrorLabel)}</summary><pre>{text}</pre></details> })}
        </div>
    }
}

#[component]
fn EventLog(events: Vec<crate::monitor::Event>) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <section class="event-log">
            <h2>{i18n.t(Key::EventLog)}</h2>
            <ol class="timeline" data-testid="event-log" reversed>
                {events
                    .into_iter()
                    .rev()
                    .map(|event| {
                        view! {
                            <li>
                                <span class="muted nowrap">{short_time(&event.at)}</span>
                                <span class="mono">{event.kind}</span>
                                {event.node_id.map(|n| view! { <span class="muted">{n}</span> })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        </section>
    }
}
