//! The server's integration tests: real HTTP against a real server on a real database.

mod activiti;
mod auth;
mod authz;
mod authz_robots;
mod crash;
mod cron;
mod designer;
mod documented;
mod encoo;
mod encoo_scopes;
mod helpers;
mod modes;
mod node_inst;
mod packages;
mod preview;
mod rest;
mod rill;
mod robots;
mod scheduler;
mod scopes;
mod shell;
mod startup;
mod tasks;
mod wecube;
