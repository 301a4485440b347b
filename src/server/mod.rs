//! Network servers: the only code in motpd that owns sockets.
//!
//! - [`radius`]: the RADIUS UDP transport (authentication and accounting listeners).
//! - [`web`]: the enrollment pages (HTTP, axum).
//! - [`web::admin`]: the monitoring listener (`/metrics`, `/healthz`, `/readyz`), apart from the pages.
//! - `watch`: the node's periodic readings for the gauges (locked accounts, the clock's synchronisation).
//! - [`node`]: one node assembled (engine, client table, background jobs, listeners) and socket binding.
//!
//! Servers take sockets that are already bound (the CLI binds them from the config, tests bind port 0) and a
//! cancellation token; they turn bytes into domain requests for the engine and decisions back into bytes. They
//! decide nothing themselves: every accept and reject comes from [`crate::engine`].

mod directory_sync;
pub mod node;
pub mod radius;
mod watch;
pub mod web;
