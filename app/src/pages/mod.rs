//! One module per page.

mod design;
mod inbox;
mod instances;
mod login;
mod monitor;
mod not_found;
mod overview;
mod robots;
mod run;
mod task;
mod workflows;

pub use design::DesignPage;
pub use inbox::InboxPage;
pub use instances::InstancesPage;
pub use login::SignInPage;
pub use monitor::MonitorPage;
pub use not_found::NotFound;
pub use overview::Overview;
pub use robots::RobotsPage;
pub use run::RunPage;
pub use task::TaskPage;
pub use workflows::WorkflowsPage;

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::AppError;
use crate::i18n::{use_i18n, Key};

/// What a page shows when what it reads does not come: for a thing that does not exist or is not
/// the viewer's, `missing` (its text and test id) plainly; otherwise that loading failed.
pub(crate) fn not_loaded(error: &AppError, missing: Option<(Key, &'static str)>) -> AnyView {
    let i18n = use_i18n();
    match (error, missing) {
        (AppError::NotFound | AppError::Forbidden, Some((key, testid))) => view! {
            <div class="empty-state" data-testid=testid>
                <p>{i18n.t(key)}</p>
            </div>
        }
        .into_any(),
        _ => view! { <p class="error" role="alert">{i18n.t(Key::LoadFailed)}</p> }.into_any(),
    }
}

/// The foot of a paged list: which rows are shown of how many, and links to the pages around.
#[component]
pub(crate) fn Pager(
    from: i64,
    to: i64,
    total: i64,
    previous: Option<String>,
    next: Option<String>,
    /// A test id for the "1–20 of 57" text.
    #[prop(optional)]
    range_testid: Option<&'static str>,
) -> impl IntoView {
    let i18n = use_i18n();
    let range = move || {
        i18n.t(Key::ShowingRange)()
            .replace("{from}", &from.to_string())
            .replace("{to}", &to.to_string())
            .replace("{total}", &total.to_string())
    };
    view! {
        <div class="pager">
            <span class="muted" data-testid=range_testid>{range}</span>
            <span class="pager-links">
                {previous.map(|href| view! { <A href=href>{i18n.t(Key::PagePrevious)}</A> })}
                {next.map(|href| view! { <A href=href>{i18n.t(Key::PageNext)}</A> })}
            </span>
        </div>
    }
}
