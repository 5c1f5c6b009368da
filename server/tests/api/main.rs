//! The server's integration tests: real HTTP against a real server on a real database.

mod crash;
mod helpers;
mod scheduler;
mod shell;
mod startup;
