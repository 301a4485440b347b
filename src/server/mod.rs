//! Network servers: the only code in motpd that owns sockets.
//!
//! - [`radius`]: the RADIUS UDP transport (authentication and accounting listeners).
//!
//! Servers take sockets that are already bound (the CLI binds them from the config, tests bind port 0) and a
//! cancellation token; they turn bytes into domain requests for the engine and decisions back into bytes. They
//! decide nothing themselves: every accept and reject comes from [`crate::engine`].

pub mod radius;
