//! `/workflows`: the definitions the signed-in person may see — name, key, latest version, draft
//! state, tags — searched and paged through the address; create a new one, open, duplicate.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

use super::inbox::short_time;
use super::instances::with_query;
use crate::api::AppError;
use crate::designer::text::DKey;
use crate::i18n::{use_i18n, Key};
use crate::workflows::{
    create_workflow, duplicate_workflow, list_workflows, DefinitionStatus, DefinitionSummary,
    WorkflowList, PAGE_SIZE,
};

fn list_href(q: &str, offset: i64) -> String {
    let offset = if offset > 0 {
        offset.to_string()
    } else {
        String::new()
    };
    with_query("/workflows", &[("q", q), ("offset", offset.as_str())])
}

/// A key made from a name: lower case, words joined by `-`.
pub fn key_from(name: &str) -> String {
    let mut key = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.ends_with('-') && !key.is_empty() {
            key.push('-');
        }
    }
    key.trim_end_matches('-').to_string()
}

/// What a failed create or duplicate says, beside the form.
fn refusal(error: &AppError, i18n: crate::i18n::I18n) -> String {
    match error {
        AppError::Conflict(_) => i18n.t(DKey::KeyExists)().to_string(),
        AppError::InvalidDefinition(issues) => issues
            .iter()
            .map(|i| i.message.clone())
            .collect::<Vec<_>>()
            .join("; "),
        AppError::Forbidden => i18n.t(Key::ActionFailed)().to_string(),
        other => other.to_string(),
    }
}

#[component]
pub fn WorkflowsPage() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let q = move || query.with(|m| m.get("q").unwrap_or_default());
    let offset = move || {
        query.with(|m| {
            m.get("offset")
                .and_then(|o| o.parse::<i64>().ok())
                .unwrap_or(0)
        })
    };
    let list = Resource::new(
        move || (q(), offset()),
        |(q, offset)| list_workflows(q, offset),
    );
    let navigate = use_navigate();
    let search = move |ev: leptos::ev::Event| {
        navigate(&list_href(&event_target_value(&ev), 0), Default::default());
    };
    view! {
        <Title text=i18n.t(Key::WorkflowsTitle) />
        <section class="page">
            <div class="page-head">
                <h1>{i18n.t(Key::WorkflowsTitle)}</h1>
            </div>
            <div class="filters">
                <label class="filter grow">
                    <span>{i18n.t(DKey::Search)}</span>
                    <input type="search" data-testid="workflow-search" placeholder=i18n.t(DKey::SearchHint)
                        prop:value=q on:change=search />
                </label>
            </div>
            <Transition fallback=move || view! { <p class="muted">{i18n.t(Key::Checking)}</p> }>
                {move || {
                    list.get()
                        .map(|answer| match answer {
                            Ok(list) => view! { <WorkflowTable list q=q() /> }.into_any(),
                            Err(error) => super::not_loaded(&error, None),
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn WorkflowTable(list: WorkflowList, q: String) -> impl IntoView {
    let i18n = use_i18n();
    let may_create = list.may_create;
    let from = list.offset + 1;
    let to = list.offset + list.items.len() as i64;
    let total = list.total;
    let previous = (list.offset > 0).then(|| list_href(&q, (list.offset - PAGE_SIZE).max(0)));
    let next = (to < total).then(|| list_href(&q, to));
    let empty = list.items.is_empty();
    view! {
        {may_create.then(|| view! { <NewWorkflow /> })}
        {if empty {
            view! {
                <div class="empty-state" data-testid="workflows-empty">
                    <p>{i18n.t(DKey::NoWorkflows)}</p>
                </div>
            }
            .into_any()
        } else {
            view! {
                <div class="card table-card">
                    <table class="list" data-testid="workflows-list">
                        <thead>
                            <tr>
                                <th>{i18n.t(DKey::ColumnName)}</th>
                                <th>{i18n.t(DKey::KeyLabel)}</th>
                                <th>{i18n.t(DKey::ColumnVersion)}</th>
                                <th>{i18n.t(Key::ColumnStatus)}</th>
                                <th>{i18n.t(DKey::Tags)}</th>
                                <th>{i18n.t(DKey::ColumnUpdated)}</th>
                                <th></th>
                            </tr>
                        </thead>
                        <tbody>
                            {list
                                .items
                                .into_iter()
                                .map(|item| view! { <WorkflowRow item may_create /> })
                                .collect_view()}
                        </tbody>
                    </table>
                    <super::Pager from to total previous next />
                </div>
            }
            .into_any()
        }}
    }
}

#[component]
fn WorkflowRow(item: DefinitionSummary, may_create: bool) -> impl IntoView {
    let i18n = use_i18n();
    let design = format!("/workflows/{}/design", item.key);
    let (status, status_key) = match item.status {
        DefinitionStatus::Draft => ("draft", DKey::StatusDraft),
        DefinitionStatus::Published => ("published", DKey::StatusPublished),
        DefinitionStatus::Archived => ("archived", DKey::StatusArchived),
    };
    let copying = RwSignal::new(false);
    let key = item.key.clone();
    view! {
        <tr data-key=item.key.clone()>
            <td>
                <A href=design.clone() attr:class="row-link">{item.name.clone()}</A>
            </td>
            <td class="mono">{item.key.clone()}</td>
            <td>{item.latest_version.map(|v| format!("v{v}")).unwrap_or_else(|| "—".into())}</td>
            <td>
                <span class=format!("badge badge-{status}") data-testid="workflow-status">{i18n.t(status_key)}</span>
                {(item.has_draft && item.latest_version.is_some())
                    .then(|| view! { <span class="badge badge-draft" title=i18n.t(DKey::UnpublishedHint)>{i18n.t(DKey::Unpublished)}</span> })}
            </td>
            <td>
                {item.tags.iter().map(|t| view! { <span class="tag">{t.clone()}</span> }).collect_view()}
            </td>
            <td class="muted nowrap">{short_time(&item.updated_at)}</td>
            <td class="row-actions">
                <A href=design>{i18n.t(DKey::Open)}</A>
                {(item.latest_version.is_some() && item.status != DefinitionStatus::Archived).then(|| {
                    view! { <A href=format!("/workflows/{}/run", item.key)>{i18n.t(DKey::Run)}</A> }
                })}
                {may_create.then(|| view! {
                    <button type="button" class="link" data-testid="duplicate" on:click=move |_| copying.update(|c| *c = !*c)>
                        {i18n.t(DKey::Duplicate)}
                    </button>
                })}
            </td>
        </tr>
        {move || copying.get().then(|| {
            let from = key.clone();
            view! {
                <tr class="inline-form-row">
                    <td colspan="7">
                        <KeyForm from=Some(from) on_cancel=Callback::new(move |_| copying.set(false)) />
                    </td>
                </tr>
            }
        })}
    }
}

#[component]
fn NewWorkflow() -> impl IntoView {
    let i18n = use_i18n();
    let open = RwSignal::new(false);
    view! {
        <div class="new-workflow">
            {move || if open.get() {
                view! { <KeyForm from=None on_cancel=Callback::new(move |_| open.set(false)) /> }.into_any()
            } else {
                view! {
                    <button type="button" class="primary" data-testid="new-workflow" on:click=move |_| open.set(true)>
                        {i18n.t(DKey::NewWorkflow)}
                    </button>
                }
                .into_any()
            }}
        </div>
    }
}

/// Name and key of a new workflow (empty, or a copy of `from`); on success, the designer.
#[component]
fn KeyForm(from: Option<String>, on_cancel: Callback<()>) -> impl IntoView {
    let i18n = use_i18n();
    let name = RwSignal::new(String::new());
    let key = RwSignal::new(String::new());
    let key_touched = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    let copy_of = from.clone();
    let create = Action::new(move |(key, name): &(String, String)| {
        let (key, name, from) = (key.clone(), name.clone(), copy_of.clone());
        async move {
            match from {
                Some(from) => duplicate_workflow(from, key, name).await,
                None => create_workflow(key, name).await,
            }
        }
    });
    Effect::new(move |_| {
        if let Some(answer) = create.value().get() {
            match answer {
                Ok(key) => navigate(&format!("/workflows/{key}/design"), Default::default()),
                Err(e) => error.set(Some(refusal(&e, i18n))),
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        create.dispatch((key.get_untracked(), name.get_untracked()));
    };
    let title = if from.is_some() {
        DKey::DuplicateTitle
    } else {
        DKey::NewWorkflow
    };
    view! {
        <form class="key-form card" on:submit=submit data-testid="key-form">
            <h2>{i18n.t(title)} {from.map(|f| format!(" · {f}"))}</h2>
            <div class="form-row">
                <label>
                    <span>{i18n.t(DKey::ColumnName)}</span>
                    <input type="text" required data-testid="new-name" prop:value=move || name.get()
                        on:input=move |ev| {
                            let typed = event_target_value(&ev);
                            if !key_touched.get_untracked() {
                                key.set(key_from(&typed));
                            }
                            name.set(typed);
                        } />
                </label>
                <label>
                    <span>{i18n.t(DKey::KeyLabel)}</span>
                    <input type="text" required pattern="[A-Za-z0-9_-]+" data-testid="new-key" class="mono"
                        prop:value=move || key.get()
                        on:input=move |ev| {
                            key_touched.set(true);
                            key.set(event_target_value(&ev));
                        } />
                </label>
                <button type="submit" class="primary" disabled=move || create.pending().get()>{i18n.t(DKey::Create)}</button>
                <button type="button" class="link" on:click=move |_| on_cancel.run(())>{i18n.t(DKey::Cancel)}</button>
            </div>
            <p class="hint">{i18n.t(DKey::KeyHint)}</p>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_names() {
        assert_eq!(key_from("  Order Approval (EU) "), "order-approval-eu");
        assert_eq!(key_from("Déjà vu"), "d-j-vu");
        assert_eq!(list_href("a b", 20), "/workflows?q=a%20b&offset=20");
    }
}
