//! What runs beside the async workers: the password-hashing threads ([`hashing`]) and the Argon2 working
//! memory each of them keeps between verifies ([`working_memory`]); and the kernel's clock state
//! ([`clock_sync`]); and the service manager's notification socket ([`systemd`]).
//!
//! Not pure: OS threads, their scheduling policy and memory mappings, kept apart so that [`crate::password`]
//! stays hashing rules and verification only, and the engine only queues work here.

pub mod clock_sync;
pub mod hashing;
pub mod systemd;
pub mod working_memory;
