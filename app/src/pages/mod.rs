//! One module per page.

mod coming;
mod login;
mod not_found;
mod overview;

pub use coming::ComingPage;
pub use login::SignInPage;
pub use not_found::NotFound;
pub use overview::Overview;
