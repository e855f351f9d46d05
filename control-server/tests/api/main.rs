//! The control server's integration tests: the real router on a real socket
//! (port 0), a real SQLite file in a temp directory, real WebSockets.

mod common;

mod alerts;
mod approval;
mod assets;
mod auth;
mod cap;
mod council;
mod display_logs;
mod displays;
mod hub;
mod open_data;
mod releases;
mod resources;
mod sensors;
mod transit;
