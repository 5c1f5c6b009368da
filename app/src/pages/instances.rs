//! `/instances`: the instances the signed-in person may see, newest first, with a status filter
//! and paging in the address; the list reads itself again every five seconds, so statuses stay
//! live while it is open.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

use super::inbox::short_time;
use crate::i18n::{use_i18n, Key};
use crate::monitor::{
    list_instances, InstanceFilter, InstanceList, InstanceRecord, InstanceStatus, PAGE_SIZE,
};

const FILTERS: [(&str, Key); 7] = [
    ("", Key::AllStatuses),
    ("running", Key::InstRunning),
    ("paused", Key::InstPaused),
    ("completed", Key::StatusCompleted),
    ("failed", Key::InstFailed),
    ("cancelled", Key::StatusCancelled),
    ("rolling_back", Key::InstRollingBack),
];

/// The address of a filtered page: the filter's fields as query parameters.
fn list_href(filter: &InstanceFilter, offset: i64) -> String {
    let offset = if offset > 0 {
        offset.to_string()
    } else {
        String::new()
    };
    with_query(
        "/instances",
        &[
            ("status", filter.status.as_str()),
            ("key", filter.definition_key.as_str()),
            ("by", filter.started_by.as_str()),
            ("from", filter.from.as_str()),
            ("to", filter.to.as_str()),
            ("offset", offset.as_str()),
        ],
    )
}

/// `path` with the non-empty `pairs` as its query.
pub(super) fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v.trim())))
        .collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Percent-encodes what a query value must not hold as is.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[component]
pub fn InstancesPage() -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    let query = use_query_map();
    let filter = move || {
        query.with(|q| InstanceFilter {
            status: q.get("status").unwrap_or_default(),
            definition_key: q.get("key").unwrap_or_default(),
            started_by: q.get("by").unwrap_or_default(),
            from: q.get("from").unwrap_or_default(),
            to: q.get("to").unwrap_or_default(),
        })
    };
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
        move || (filter(), offset(), ticks.get()),
        |(filter, offset, _)| list_instances(filter, offset),
    );
    let navigate = use_navigate();
    // Each control changes one field of the filter and goes to its first page.
    let set = move |change: fn(&mut InstanceFilter, String)| {
        let navigate = navigate.clone();
        move |ev: leptos::ev::Event| {
            let mut next = filter();
            change(&mut next, event_target_value(&ev));
            navigate(&list_href(&next, 0), Default::default());
        }
    };

    view! {
        <Title text=t(Key::InstancesTitle) />
        <section class="page">
            <div class="page-head">
                <h1>{t(Key::InstancesTitle)}</h1>
            </div>
            <div class="filters">
                <label class="filter">
                    <span>{t(Key::ColumnStatus)}</span>
                    <select data-testid="instances-filter" on:change=set(|f, v| f.status = v)
                        prop:value=move || filter().status>
                        {FILTERS
                            .iter()
                            .map(|(value, key)| view! { <option value=*value>{i18n.t(*key)}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label class="filter">
                    <span>{t(Key::ColumnWorkflow)}</span>
                    <input type="search" data-testid="filter-key" on:change=set(|f, v| f.definition_key = v)
                        prop:value=move || filter().definition_key />
                </label>
                <label class="filter">
                    <span>{t(Key::ColumnStartedBy)}</span>
                    <input type="search" data-testid="filter-by" on:change=set(|f, v| f.started_by = v)
                        prop:value=move || filter().started_by />
                </label>
                <label class="filter">
                    <span>{t(Key::StartedFrom)}</span>
                    <input type="date" data-testid="filter-from" on:change=set(|f, v| f.from = v)
                        prop:value=move || filter().from />
                </label>
                <label class="filter">
                    <span>{t(Key::StartedTo)}</span>
                    <input type="date" data-testid="filter-to" on:change=set(|f, v| f.to = v)
                        prop:value=move || filter().to />
                </label>
            </div>
            <Transition fallback=move || view! { <p class="muted">{t(Key::Checking)}</p> }>
                {move || {
                    list.get()
                        .map(|answer| match answer {
                            Ok(list) => view! { <InstanceTable list filter=filter() /> }.into_any(),
                            Err(error) => super::not_loaded(&error, None),
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn InstanceTable(list: InstanceList, filter: InstanceFilter) -> impl IntoView {
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
    let previous = (list.offset > 0).then(|| list_href(&filter, (list.offset - PAGE_SIZE).max(0)));
    let next = (to < total).then(|| list_href(&filter, to));
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
            <super::Pager from to total previous next />
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
    super::inbox::badge(i18n, status.as_str(), key, "instance-status")
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
    use super::{duration, list_href, InstanceFilter};

    #[test]
    fn durations_and_addresses_read_well() {
        assert_eq!(duration(250), "250 ms");
        assert_eq!(duration(1_234), "1.2 s");
        assert_eq!(duration(75_000), "1 min 15 s");
        let mut filter = InstanceFilter::default();
        assert_eq!(list_href(&filter, 0), "/instances");
        filter.status = "failed".into();
        filter.started_by = "ann lee".into();
        assert_eq!(
            list_href(&filter, 20),
            "/instances?status=failed&by=ann%20lee&offset=20"
        );
    }
}
