//! One module per page.

mod coming;
mod inbox;
mod instances;
mod login;
mod monitor;
mod not_found;
mod overview;
mod task;

pub use coming::ComingPage;
pub use inbox::InboxPage;
pub use instances::InstancesPage;
pub use login::SignInPage;
pub use monitor::MonitorPage;
pub use not_found::NotFound;
pub use overview::Overview;
pub use task::TaskPage;

use leptos::prelude::*;

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
