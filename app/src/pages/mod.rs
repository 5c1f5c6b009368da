//! One module per page.

mod coming;
mod inbox;
mod login;
mod not_found;
mod overview;
mod task;

pub use coming::ComingPage;
pub use inbox::InboxPage;
pub use login::SignInPage;
pub use not_found::NotFound;
pub use overview::Overview;
pub use task::TaskPage;
