//! The `shoal` binary's library half (L5): configuration, wiring the store, services and
//! gateways together, startup and graceful shutdown. `main.rs` adds the command line; tests
//! start the same `Server` in process.

mod alpn;
pub mod config;
pub mod credentials;
mod functions;
mod http_client;
mod objects_backend;
pub mod reset_cli;
mod rules_http;
mod server;

pub use server::{open_store, Server};
