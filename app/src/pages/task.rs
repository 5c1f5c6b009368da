//! `/inbox/:id`: one human task — its title and content (always as text), what the workflow knows
//! so far, claim / give back, and the form with one button per outcome. The form is checked in
//! the browser with the engine's own rules before it is sent; after completing, the next task
//! waiting opens. A task completed elsewhere meanwhile is said plainly, never as an error page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use std::collections::HashMap;

use serde_json::{Map, Value};

use super::inbox::{short_time, StatusBadge};
use crate::api::AppError;
use crate::i18n::{use_i18n, Key};
use crate::inbox::{
    claim_task, complete_task, get_task, Completed, FieldError, HumanTask, TaskView,
};
use engine::definition::{FormField, FormFieldKind};
use engine::task::{check_submission, DEFAULT_OUTCOMES};

#[component]
pub fn TaskPage() -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    // Bumped to read the task again (after a claim, or when it changed elsewhere).
    let reload = RwSignal::new(0u32);
    let task = Resource::new(move || (id(), reload.get()), |(id, _)| get_task(id));
    // What the last action says; it outlives the task being read again, and a new task starts
    // without one.
    let notice = RwSignal::new(None::<Key>);
    // The navigation's inbox count follows what happens here.
    if let Some(badge) = use_context::<crate::layout::InboxBadge>() {
        Effect::new(move |_| {
            reload.get();
            badge.refresh();
        });
    }
    // What the person typed, kept while the task is read again (after a claim).
    let drafts = RwSignal::new(HashMap::<String, String>::new());
    Effect::new(move |_| {
        id();
        notice.set(None);
        drafts.set(HashMap::new());
    });

    view! {
        <Title text=t(Key::InboxTitle) />
        <section class="page task-page">
            <p class="crumb">
                <A href="/inbox">"← " {t(Key::BackToInbox)}</A>
            </p>
            <Transition fallback=move || view! { <p class="muted">{t(Key::Checking)}</p> }>
                {move || {
                    task.get()
                        .map(|answer| match answer {
                            Ok(view) => view! { <TaskDetail view reload notice drafts /> }.into_any(),
                            Err(error) => {
                                super::not_loaded(&error, Some((Key::TaskNotFound, "task-missing")))
                            }
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn TaskDetail(
    view: TaskView,
    reload: RwSignal<u32>,
    notice: RwSignal<Option<Key>>,
    drafts: RwSignal<HashMap<String, String>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    let TaskView {
        task,
        context,
        may_act,
        viewer,
    } = view;
    let open = task.status.is_open();
    let people: Vec<String> = task
        .assignees
        .iter()
        .cloned()
        .chain(task.groups.iter().map(|g| format!("@{g}")))
        .collect();

    view! {
        <article class="card task" data-testid="task">
            <header class="task-head">
                <h1 data-testid="task-title">{task.title.clone()}</h1>
                <StatusBadge status=task.status />
            </header>
            {move || {
                notice
                    .get()
                    .map(|key| {
                        view! { <p class="notice" role="alert" data-testid="task-notice">{i18n.t(key)}</p> }
                    })
            }}
            <dl class="facts compact">
                <dt>{t(Key::ColumnWorkflow)}</dt>
                <dd>{task.definition_key.clone()}</dd>
                <dt>{t(Key::TaskFor)}</dt>
                <dd>{people.join(", ")}</dd>
                <dt>{t(Key::ColumnCreated)}</dt>
                <dd>{short_time(&task.created_at)}</dd>
                {task
                    .due_at
                    .as_deref()
                    .map(|due| {
                        view! {
                            <dt>{t(Key::ColumnDue)}</dt>
                            <dd>{short_time(due)}</dd>
                        }
                    })}
            </dl>
            {(!task.content.is_empty())
                .then(|| view! { <div class="task-content" data-testid="task-content">{task.content.clone()}</div> })}
            <ContextFacts context />
            {if open && may_act {
                view! { <Answer task viewer reload notice drafts /> }.into_any()
            } else if open {
                view! { <p class="note">{t(Key::NotYours)}</p> }.into_any()
            } else {
                view! { <Closed task /> }.into_any()
            }}
        </article>
    }
}

/// The instance's context, one line per top-level field.
#[component]
fn ContextFacts(context: Value) -> impl IntoView {
    let i18n = use_i18n();
    let rows: Vec<(String, String)> = match context {
        Value::Object(map) => map
            .into_iter()
            .map(|(key, value)| {
                let text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (key, text)
            })
            .collect(),
        _ => Vec::new(),
    };
    view! {
        <details class="context" open>
            <summary>{i18n.t(Key::TaskContext)}</summary>
            {if rows.is_empty() {
                view! { <p class="muted">{i18n.t(Key::NoContext)}</p> }.into_any()
            } else {
                view! {
                    <dl class="facts compact" data-testid="task-context">
                        {rows
                            .into_iter()
                            .map(|(key, value)| view! { <dt>{key}</dt><dd>{value}</dd> })
                            .collect_view()}
                    </dl>
                }
                    .into_any()
            }}
        </details>
    }
}

/// What a closed task ended with.
#[component]
fn Closed(task: HumanTask) -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    // The submitted fields by their labels, in the form's order.
    let submitted: Vec<(String, Value)> = task
        .form
        .iter()
        .filter_map(|field| {
            let value = task.data.as_ref()?.get(&field.name)?.clone();
            let label = if field.label.is_empty() {
                &field.name
            } else {
                &field.label
            };
            Some((label.clone(), value))
        })
        .collect();
    view! {
        <div class="closed" data-testid="task-closed">
            <p>{t(Key::TaskIsClosed)}</p>
            <dl class="facts compact">
                {task.completed_by.map(|who| view! { <dt>{t(Key::CompletedBy)}</dt><dd>{who}</dd> })}
                {task
                    .outcome
                    .map(|o| {
                        let label = outcome_label(&o);
                        view! {
                            <dt>{t(Key::Outcome)}</dt>
                            <dd>{move || label.map_or_else(|| o.clone(), |key| i18n.t(key)().to_string())}</dd>
                        }
                    })}
                {submitted
                    .into_iter()
                    .map(|(label, value)| {
                        let text = move || match &value {
                            Value::Bool(true) => i18n.t(Key::Yes)().to_string(),
                            Value::Bool(false) => i18n.t(Key::No)().to_string(),
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        view! { <dt>{label}</dt><dd>{text}</dd> }
                    })
                    .collect_view()}
            </dl>
        </div>
    }
}

/// What the viewer may do with an open task: claim or give it back, fill the form, choose an
/// outcome.
#[component]
fn Answer(
    task: HumanTask,
    viewer: String,
    reload: RwSignal<u32>,
    notice: RwSignal<Option<Key>>,
    drafts: RwSignal<HashMap<String, String>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    let id = task.id.to_string();
    let claimed_by = task.claimed_by.clone();
    let mine = claimed_by.as_deref() == Some(viewer.as_str());
    let locked = claimed_by.is_some() && !mine;
    let form = task.form.clone();
    let outcomes: Vec<String> = if task.outcomes.is_empty() {
        DEFAULT_OUTCOMES.iter().map(|o| o.to_string()).collect()
    } else {
        task.outcomes.clone()
    };
    // One value per field, as text (booleans as "true" / "false").
    let values: Vec<(FormField, RwSignal<String>)> = form
        .iter()
        .map(|field| {
            let name = field.name.clone();
            let typed = drafts.with_untracked(|d| d.get(&name).cloned());
            let value = RwSignal::new(typed.unwrap_or_else(|| initial_text(field)));
            Effect::new(move |_| {
                let text = value.get();
                drafts.update(|d| {
                    d.insert(name.clone(), text);
                });
            });
            (field.clone(), value)
        })
        .collect();
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let navigate = use_navigate();

    let claim_id = id.clone();
    let claim = Action::new(move |claim: &bool| {
        let id = claim_id.clone();
        let claim = *claim;
        async move { claim_task(id, claim).await }
    });
    Effect::new(move |_| match claim.value().get() {
        Some(Ok(_)) => {
            notice.set(None);
            reload.update(|n| *n += 1);
        }
        Some(Err(AppError::Conflict(_))) => {
            notice.set(Some(Key::ClaimedByOther));
            reload.update(|n| *n += 1);
        }
        Some(Err(_)) => notice.set(Some(Key::ActionFailed)),
        None => {}
    });

    let complete_id = id.clone();
    let complete = Action::new(move |(outcome, data): &(String, String)| {
        let (id, outcome, data) = (complete_id.clone(), outcome.clone(), data.clone());
        async move { complete_task(id, outcome, data).await }
    });
    Effect::new(move |_| match complete.value().get() {
        Some(Ok(Completed { next })) => {
            let to = next.map_or_else(|| "/inbox".to_string(), |id| format!("/inbox/{id}"));
            navigate(&to, Default::default());
        }
        Some(Err(AppError::Conflict(_))) => {
            notice.set(Some(Key::TaskClosedMeanwhile));
            reload.update(|n| *n += 1);
        }
        Some(Err(AppError::Invalid(found))) => {
            errors.set(found);
            notice.set(Some(Key::FixFields));
        }
        Some(Err(_)) => notice.set(Some(Key::ActionFailed)),
        None => {}
    });

    let check_values = values.clone();
    let check_outcomes = outcomes.clone();
    let submit = move |outcome: String| {
        let data = collect(&check_values);
        match check_submission(&form, &check_outcomes, &outcome, &data) {
            Err(found) => {
                errors.set(found);
                notice.set(Some(Key::FixFields));
            }
            Ok(_) => {
                errors.set(Vec::new());
                notice.set(None);
                complete.dispatch((outcome, data.to_string()));
            }
        }
    };
    let busy = move || complete.pending().get() || claim.pending().get();

    view! {
        <section class="answer" aria-labelledby="answer-title">
            <h2 id="answer-title">{t(Key::TaskAnswer)}</h2>
            <div class="claim">
                {if mine {
                    view! {
                        <p class="muted">{t(Key::ClaimedByYou)}</p>
                        <button type="button" class="button secondary" disabled=busy on:click=move |_| { claim.dispatch(false); }>
                            {t(Key::Release)}
                        </button>
                    }
                        .into_any()
                } else if let Some(other) = claimed_by.clone() {
                    view! { <p class="note">{t(Key::ClaimedBy)} ": " {other}</p> }.into_any()
                } else {
                    view! {
                        <button type="button" class="button secondary" disabled=busy on:click=move |_| { claim.dispatch(true); }>
                            {t(Key::Claim)}
                        </button>
                    }
                        .into_any()
                }}
            </div>
            <form class="task-form" on:submit=|ev| ev.prevent_default()>
                {values
                    .iter()
                    .map(|(field, value)| view! { <Field field=field.clone() value=*value errors locked /> })
                    .collect_view()}
                <div class="outcomes">
                    {outcomes
                        .into_iter()
                        .enumerate()
                        .map(|(i, outcome)| {
                            let label = outcome_label(&outcome);
                            let submit = submit.clone();
                            let chosen = outcome.clone();
                            let shown = outcome.clone();
                            view! {
                                <button
                                    type="button"
                                    class=if i == 0 { "button primary" } else { "button secondary" }
                                    data-outcome=outcome.clone()
                                    disabled=move || busy() || locked
                                    on:click=move |_| submit(chosen.clone())
                                >
                                    {move || label.map_or_else(|| shown.clone(), |key| i18n.t(key)().to_string())}
                                </button>
                            }
                        })
                        .collect_view()}
                    {move || busy().then(|| view! { <span class="muted">{t(Key::Sending)}</span> })}
                </div>
            </form>
        </section>
    }
}

/// One form field, by its type, with its error.
#[component]
fn Field(
    field: FormField,
    value: RwSignal<String>,
    errors: RwSignal<Vec<FieldError>>,
    locked: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    let name = field.name.clone();
    let path = format!("data.{}", field.name);
    let error = Memo::new(move |_| {
        errors.with(|all| {
            all.iter()
                .find(|e| e.field == path)
                .map(|e| e.message.clone())
        })
    });
    let label = if field.label.is_empty() {
        field.name.clone()
    } else {
        field.label.clone()
    };
    let input_id = format!("field-{name}");
    let control = match field.kind {
        FormFieldKind::Textarea => view! {
            <textarea id=input_id.clone() name=name.clone() rows="4" disabled=locked
                prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))></textarea>
        }
        .into_any(),
        FormFieldKind::Boolean => view! {
            <input id=input_id.clone() name=name.clone() type="checkbox" disabled=locked
                prop:checked=move || value.get() == "true"
                on:change=move |ev| value.set(event_target_checked(&ev).to_string()) />
        }
        .into_any(),
        FormFieldKind::Enum => view! {
            <select id=input_id.clone() name=name.clone() disabled=locked prop:value=move || value.get()
                on:change=move |ev| value.set(event_target_value(&ev))>
                <option value="">{i18n.t(Key::ChooseOption)}</option>
                {field.options.iter().map(|o| view! { <option value=o.clone()>{o.clone()}</option> }).collect_view()}
            </select>
        }
        .into_any(),
        kind => {
            let kind = match kind {
                FormFieldKind::Number => "number",
                FormFieldKind::Date => "date",
                _ => "text",
            };
            view! {
                <input id=input_id.clone() name=name.clone() type=kind step="any" disabled=locked
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
            }
            .into_any()
        }
    };
    view! {
        <div class="field" class:invalid=move || error.with(Option::is_some)>
            <label for=input_id>
                {label}
                {field.required.then(|| view! { <span class="required">" (" {i18n.t(Key::Required)} ")"</span> })}
            </label>
            {control}
            {move || error.get().map(|message| view! { <span class="field-error" role="alert">{message}</span> })}
        </div>
    }
}

/// A field's starting text: its default, as the control shows it.
fn initial_text(field: &FormField) -> String {
    match (&field.default, field.kind) {
        (Some(Value::String(s)), _) => s.clone(),
        (Some(Value::Bool(b)), _) => b.to_string(),
        (Some(Value::Number(n)), _) => n.to_string(),
        (_, FormFieldKind::Boolean) => "false".into(),
        _ => String::new(),
    }
}

/// The form's values as the answer's `data`: empty fields left out (so a required one is
/// missing), numbers as numbers where they read as one, booleans as booleans.
fn collect(values: &[(FormField, RwSignal<String>)]) -> Value {
    let mut data = Map::new();
    for (field, value) in values {
        let text = value.get_untracked();
        let json = match field.kind {
            FormFieldKind::Boolean => Value::Bool(text == "true"),
            _ if text.trim().is_empty() => continue,
            FormFieldKind::Number => text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::String(text), Value::Number),
            _ => Value::String(text),
        };
        data.insert(field.name.clone(), json);
    }
    Value::Object(data)
}

/// The built-in outcomes are translated; others show as the workflow names them.
fn outcome_label(outcome: &str) -> Option<Key> {
    match outcome {
        "approve" => Some(Key::OutcomeApprove),
        "reject" => Some(Key::OutcomeReject),
        _ => None,
    }
}
