//! `/inbox`: the human tasks waiting for the signed-in person (theirs and their groups'), newest
//! first, with a status filter and paging in the address (so a view can be linked and reloaded).
//! ↑ / ↓ move between tasks; Enter opens one.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::i18n::{use_i18n, Key};
use crate::inbox::{my_inbox, HumanTask, InboxPage, TaskStatus, PAGE_SIZE};

/// The filter's choices: the query value and its label (`""`: what waits for me).
const FILTERS: [(&str, Key); 5] = [
    ("", Key::InboxWaiting),
    ("claimed", Key::StatusClaimed),
    ("completed", Key::StatusCompleted),
    ("expired", Key::StatusExpired),
    ("cancelled", Key::StatusCancelled),
];

/// The inbox's address for a status, a workflow and a page.
fn inbox_href(status: &str, key: &str, offset: i64) -> String {
    let offset = if offset > 0 {
        offset.to_string()
    } else {
        String::new()
    };
    super::instances::with_query(
        "/inbox",
        &[("status", status), ("key", key), ("offset", &offset)],
    )
}

#[component]
pub fn InboxPage() -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    let query = use_query_map();
    let status = move || query.with(|q| q.get("status").unwrap_or_default());
    let key = move || query.with(|q| q.get("key").unwrap_or_default());
    let offset = move || {
        query.with(|q| {
            q.get("offset")
                .and_then(|o| o.parse::<i64>().ok())
                .unwrap_or(0)
        })
    };
    let page = Resource::new(
        move || (status(), key(), offset()),
        |(status, key, offset)| {
            my_inbox(
                (!status.is_empty()).then_some(status),
                (!key.is_empty()).then_some(key),
                offset,
            )
        },
    );
    let navigate = use_navigate();
    let go = navigate.clone();
    let choose = move |ev: leptos::ev::Event| {
        go(
            &inbox_href(&event_target_value(&ev), &key(), 0),
            Default::default(),
        );
    };
    let choose_key = move |ev: leptos::ev::Event| {
        navigate(
            &inbox_href(&status(), &event_target_value(&ev), 0),
            Default::default(),
        );
    };

    view! {
        <Title text=t(Key::InboxTitle) />
        <section class="page">
            <div class="page-head">
                <h1>{t(Key::InboxTitle)}</h1>
            </div>
            <div class="filters">
                <label class="filter">
                    <span>{t(Key::InboxFilter)}</span>
                    <select data-testid="inbox-filter" on:change=choose prop:value=status>
                        {FILTERS
                            .iter()
                            .map(|(value, key)| {
                                view! { <option value=*value>{i18n.t(*key)}</option> }
                            })
                            .collect_view()}
                    </select>
                </label>
                <label class="filter">
                    <span>{t(Key::ColumnWorkflow)}</span>
                    <input type="search" data-testid="inbox-key" on:change=choose_key prop:value=key />
                </label>
            </div>
            <Transition fallback=move || view! { <p class="muted">{t(Key::Checking)}</p> }>
                {move || {
                    page.get()
                        .map(|answer| match answer {
                            Ok(page) => view! { <TaskTable page status=status() key=key() /> }.into_any(),
                            Err(error) => super::not_loaded(&error, None),
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn TaskTable(page: InboxPage, status: String, key: String) -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    if page.items.is_empty() {
        return view! {
            <div class="empty-state" data-testid="inbox-empty">
                <p>{t(Key::InboxEmpty)}</p>
            </div>
        }
        .into_any();
    }
    let from = page.offset + 1;
    let to = page.offset + page.items.len() as i64;
    let total = page.total;
    let previous =
        (page.offset > 0).then(|| inbox_href(&status, &key, (page.offset - PAGE_SIZE).max(0)));
    let next = (to < total).then(|| inbox_href(&status, &key, to));
    view! {
        <div class="card table-card">
            <table class="list" data-testid="inbox-list">
                <thead>
                    <tr>
                        <th>{t(Key::ColumnTask)}</th>
                        <th>{t(Key::ColumnWorkflow)}</th>
                        <th>{t(Key::ColumnStatus)}</th>
                        <th>{t(Key::ColumnCreated)}</th>
                        <th>{t(Key::ColumnDue)}</th>
                    </tr>
                </thead>
                <tbody on:keydown=move_between_rows>
                    {page.items.into_iter().map(|task| view! { <TaskRow task /> }).collect_view()}
                </tbody>
            </table>
            <super::Pager from to total previous next range_testid="inbox-range" />
            <p class="hint muted">{t(Key::InboxKeyboardHint)}</p>
        </div>
    }
    .into_any()
}

#[component]
fn TaskRow(task: HumanTask) -> impl IntoView {
    let href = format!("/inbox/{}", task.id);
    view! {
        <tr>
            <td>
                <A href=href attr:class="row-link">{task.title}</A>
            </td>
            <td class="muted">{task.definition_key}</td>
            <td>
                <StatusBadge status=task.status />
            </td>
            <td class="muted nowrap">{short_time(&task.created_at)}</td>
            <td class="muted nowrap">{task.due_at.as_deref().map(short_time)}</td>
        </tr>
    }
}

/// A task's status as a coloured word.
#[component]
pub fn StatusBadge(status: TaskStatus) -> impl IntoView {
    let i18n = use_i18n();
    let key = match status {
        TaskStatus::Open => Key::StatusOpen,
        TaskStatus::Claimed => Key::StatusClaimed,
        TaskStatus::Completed => Key::StatusCompleted,
        TaskStatus::Cancelled => Key::StatusCancelled,
        TaskStatus::Expired => Key::StatusExpired,
    };
    badge(i18n, status.as_str(), key, "task-status")
}

/// A status as a coloured word (its colour from the `status-<state>` class).
pub fn badge(
    i18n: crate::i18n::I18n,
    state: &str,
    key: Key,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <span class=format!("status status-{state}") data-testid=testid>
            {i18n.t(key)}
        </span>
    }
}

/// `2026-11-22T01:31:05.123Z` → `2026-11-22 01:31 UTC`.
pub fn short_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(day), Some(minute)) if rfc3339.ends_with('Z') => format!("{day} {minute} UTC"),
        _ => rfc3339.to_string(),
    }
}

/// ↑ and ↓ move the focus between the rows' links.
fn move_between_rows(ev: leptos::ev::KeyboardEvent) {
    let step: i32 = match ev.key().as_str() {
        "ArrowDown" => 1,
        "ArrowUp" => -1,
        _ => return,
    };
    ev.prevent_default();
    use leptos::wasm_bindgen::JsCast;
    let Ok(links) = document().query_selector_all("a.row-link") else {
        return;
    };
    let active = document().active_element();
    let count = links.length() as i32;
    let current = (0..count).find(|i| {
        links
            .item(*i as u32)
            .zip(active.as_ref())
            .is_some_and(|(node, active)| node.is_same_node(Some(active)))
    });
    let target = match current {
        Some(i) => (i + step).clamp(0, count - 1),
        None => 0,
    };
    if let Some(element) = links
        .item(target as u32)
        .and_then(|node| node.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = element.focus();
    }
}

#[cfg(test)]
mod tests {
    use super::{inbox_href, short_time};

    #[test]
    fn addresses_and_times_read_well() {
        assert_eq!(inbox_href("", "", 0), "/inbox");
        assert_eq!(
            inbox_href("completed", "buy", 40),
            "/inbox?status=completed&key=buy&offset=40"
        );
        assert_eq!(
            short_time("2026-11-22T01:31:05.123Z"),
            "2026-11-22 01:31 UTC"
        );
        assert_eq!(short_time("yesterday"), "yesterday");
    }
}
