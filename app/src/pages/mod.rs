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
