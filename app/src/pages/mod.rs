//! One module per page.

mod coming;
mod not_found;
mod overview;

pub use coming::ComingPage;
pub use not_found::NotFound;
pub use overview::Overview;
