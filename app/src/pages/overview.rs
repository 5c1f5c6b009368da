//! The landing page: what the installation is running on, read live from the database through a
//! server function, plus the way into each section.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{get_system_status, SystemStatus};
use crate::i18n::{use_i18n, Key};

#[component]
pub fn Overview() -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    // Bumped by the button; the resource re-runs the server function from the browser.
    let checks = RwSignal::new(0u32);
    let status = Resource::new(move || checks.get(), |_| get_system_status());

    view! {
        <Title text=t(Key::OverviewTitle) />
        <section class="page">
            <h1>{t(Key::OverviewTitle)}</h1>
            <div class="card" aria-live="polite">
                <div class="card-head">
                    <h2>{t(Key::SystemStatus)}</h2>
                    <button
                        type="button"
                        class="button"
                        data-testid="refresh-status"
                        on:click=move |_| checks.update(|n| *n += 1)
                    >
                        {t(Key::Refresh)}
                    </button>
                </div>
                <Transition fallback=move || view! { <p class="muted">{t(Key::Checking)}</p> }>
                    {move || {
                        status
                            .get()
                            .map(|result| match result {
                                Ok(s) => view! { <StatusList status=s /> }.into_any(),
                                Err(_) => {
                                    view! { <p class="error" role="alert">{t(Key::StatusUnavailable)}</p> }
                                        .into_any()
                                }
                            })
                    }}
                </Transition>
            </div>
            <div class="tiles">
                <Tile href="/workflows" title=t(Key::WorkflowsTitle) blurb=t(Key::WorkflowsBlurb) />
                <Tile href="/instances" title=t(Key::InstancesTitle) blurb=t(Key::InstancesBlurb) />
                <Tile href="/inbox" title=t(Key::InboxTitle) blurb=t(Key::InboxBlurb) />
            </div>
        </section>
    }
}

#[component]
fn StatusList(status: SystemStatus) -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    view! {
        <dl class="facts">
            <dt>{t(Key::Database)}</dt>
            <dd data-testid="status-backend">{status.backend.as_str()}</dd>
            <dt>{t(Key::SchemaVersion)}</dt>
            <dd data-testid="status-schema">{status.schema_version}</dd>
            <dt>{t(Key::InstalledAt)}</dt>
            <dd>{readable_time(&status.installed_at)}</dd>
            <dt>{t(Key::CheckedAt)}</dt>
            <dd data-testid="status-checked-at">{readable_time(&status.checked_at)}</dd>
        </dl>
    }
}

#[component]
fn Tile(
    href: &'static str,
    title: impl Fn() -> &'static str + Send + Sync + 'static,
    blurb: impl Fn() -> &'static str + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <a class="tile" href=href>
            <h3>{title}</h3>
            <p>{blurb}</p>
        </a>
    }
}

/// `2026-11-21T19:40:12.345Z` → `2026-11-21 19:40:12.345 UTC`. Millisecond precision is kept so
/// that two checks a moment apart visibly differ.
fn readable_time(rfc3339: &str) -> String {
    match rfc3339.strip_suffix('Z') {
        Some(utc) => format!("{} UTC", utc.replacen('T', " ", 1)),
        None => rfc3339.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::readable_time;

    #[test]
    fn times_read_as_utc() {
        assert_eq!(
            readable_time("2026-11-21T19:40:12.345Z"),
            "2026-11-21 19:40:12.345 UTC"
        );
        assert_eq!(
            readable_time("2026-11-21T19:40:12+01:00"),
            "2026-11-21T19:40:12+01:00"
        );
    }
}
