//! Baton's HTTP server: configuration, the router that merges every surface, and start-up.
//! It wires things together; the rules live in `engine`, the pages in `app`.

pub mod api;
pub mod compat;
pub mod config;
pub mod health;
pub mod session;
pub mod startup;
pub mod telemetry;

pub use config::Config;
pub use startup::{Application, StartError};
