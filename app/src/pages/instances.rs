//! `/instances`: the instances the signed-in person may see, newest first, with a status filter
//! and paging in the address; the list reads itself again every five seconds, so statuses stay
//! live while it is open.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

use super::inbox::short_time;
use crate::i18n::{use_i18n, Key};
use crate::monitor::{list_instances, InstanceList, InstanceRecord, InstanceStatus, PAGE_SIZE};

const FILTERS: [(&str, Key); 7] = [
    ("", Key::AllStatuses),
    ("running", Key::InstRunning),
    ("paused", Key::InstPaused),
    ("completed", Key::StatusCompleted),
    ("failed", Key::InstFailed),
    ("cancelled", Key::StatusCancelled),
    ("rolling_back", Key::InstRollingBack),
];

fn list_href(status: &str, offset: i64) -> String {
    let mut query = Vec::new();
    if !status.is_empty() {
        query.push(format!("status={status}"));
    }
    if offset > 0 {
        query.push(format!("offset={offset}"));
    }
    if query.is_empty() {
        "/instances".into()
    } else {
        format!("/instances?{}", query.join("&"))
    }
}

#[component]
pub fn InstancesPage() -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    let query = use_query_map();
    let status = move || query.with(|q| q.get("status").unwrap_or_default());
    let offset = move || {
        query.with(|q| {
            q.get("offset")
                .and_then(|o| o.parse::<i64>().ok())
                .unwrap_or(0)
        })
    };
    let ticks = RwSignal::new(0u32);
    Effect::new(move |_| {
        let _ = set_interval_with_handle(
            move || ticks.update(|n| *n = n.wrapping_add(1)),
            std::time::Duration::from_secs(5),
        );
    });
    let list = Resource::new(
        move || (status(), offset(), ticks.get()),
        |(status, offset, _)| list_instances((!status.is_empty()).then_some(status), offset),
    );
    let navigate = use_navigate();
    let choose = move |ev: leptos::ev::Event| {
        navigate(&list_href(&event_target_value(&ev), 0), Default::default());
    };

    view! {
        <Title text=t(Key::InstancesTitle) />
        <section class="page">
            <div class="page-head">
                <h1>{t(Key::InstancesTitle)}</h1>
                <label class="filter">
                    <span>{t(Key::InboxFilter)}</span>
                    <select data-testid="instances-filter" on:change=choose prop:value=status>
                        {FILTERS
                            .iter()
                            .map(|(value, key)| view! { <option value=*value>{i18n.t(*key)}</option> })
                            .collect_view()}
                    </select>
                </label>
            </div>
            <Transition fallback=move || view! { <p class="muted">{t(Key::Checking)}</p> }>
                {move || {
                    list.get()
                        .map(|answer| match answer {
                            Ok(list) => view! { <InstanceTable list status=status() /> }.into_any(),
                            Err(_) => {
                                view! { <p class="error" role="alert">{t(Key::LoadFailed)}</p> }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn InstanceTable(list: InstanceList, status: String) -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    if list.items.is_empty() {
        return view! {
            <div class="empty-state" data-testid="instances-empty">
                <p>{t(Key::InstancesEmpty)}</p>
            </div>
        }
        .into_any();
    }
    let from = list.offset + 1;
    let to = list.offset + list.items.len() as i64;
    let total = list.total;
    let range = move || {
        i18n.t(Key::ShowingRange)()
            .replace("{from}", &from.to_string())
            .replace("{to}", &to.to_string())
            .replace("{total}", &total.to_string())
    };
    let previous = (list.offset > 0).then(|| list_href(&status, (list.offset - PAGE_SIZE).max(0)));
    let next = (to < total).then(|| list_href(&status, to));
    view! {
        <div class="card table-card">
            <table class="list" data-testid="instances-list">
                <thead>
                    <tr>
                        <th>{t(Key::ColumnInstance)}</th>
                        <th>{t(Key::ColumnWorkflow)}</th>
                        <th>{t(Key::ColumnStatus)}</th>
                        <th>{t(Key::ColumnStartedBy)}</th>
                        <th>{t(Key::ColumnStarted)}</th>
                        <th>{t(Key::ColumnDuration)}</th>
                    </tr>
                </thead>
                <tbody>
                    {list.items.into_iter().map(|instance| view! { <InstanceRow instance /> }).collect_view()}
                </tbody>
            </table>
            <div class="pager">
                <span class="muted">{range}</span>
                <span class="pager-links">
                    {previous.map(|href| view! { <A href=href>{t(Key::PagePrevious)}</A> })}
                    {next.map(|href| view! { <A href=href>{t(Key::PageNext)}</A> })}
                </span>
            </div>
        </div>
    }
    .into_any()
}

#[component]
fn InstanceRow(instance: InstanceRecord) -> impl IntoView {
    let href = format!("/instances/{}", instance.id);
    view! {
        <tr>
            <td>
                <A href=href attr:class="row-link mono">{instance.id.to_string()}</A>
            </td>
            <td>{format!("{} v{}", instance.definition_key, instance.version)}</td>
            <td>
                <InstanceBadge status=instance.status />
            </td>
            <td class="muted">{instance.operator}</td>
            <td class="muted nowrap">{short_time(&instance.created_at)}</td>
            <td class="muted nowrap">{instance.cost_ms.map(duration)}</td>
        </tr>
    }
}

/// An instance's status as a coloured word.
#[component]
pub fn InstanceBadge(status: InstanceStatus) -> impl IntoView {
    let i18n = use_i18n();
    let key = match status {
        InstanceStatus::Pending => Key::InstPending,
        InstanceStatus::Running => Key::InstRunning,
        InstanceStatus::Paused => Key::InstPaused,
        InstanceStatus::Completed => Key::StatusCompleted,
        InstanceStatus::Failed => Key::InstFailed,
        InstanceStatus::Cancelled => Key::StatusCancelled,
        InstanceStatus::RollingBack => Key::InstRollingBack,
    };
    view! {
        <span class=format!("status status-{}", status.as_str()) data-testid="instance-status">
            {i18n.t(key)}
        </span>
    }
}

/// `1234` ms → `1.2 s`; `75000` → `1 min 15 s`.
pub fn duration(ms: i64) -> String {
    match ms {
        ms if ms < 1_000 => format!("{ms} ms"),
        ms if ms < 60_000 => format!("{:.1} s", ms as f64 / 1_000.0),
        ms => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1_000),
    }
}

#[cfg(test)]
mod tests {
    use super::{duration, list_href};

    #[test]
    fn durations_and_addresses_read_well() {
        assert_eq!(duration(250), "250 ms");
        assert_eq!(duration(1_234), "1.2 s");
        assert_eq!(duration(75_000), "1 min 15 s");
        assert_eq!(list_href("", 0), "/instances");
        assert_eq!(
            list_href("failed", 20),
            "/instances?status=failed&offset=20"
        );
    }
}
