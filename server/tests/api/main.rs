//! The server's integration tests: real HTTP against a real server on a real database.

mod helpers;
mod shell;
mod startup;
