//! The decisions: who may log in, with what, and how devices are bound.
//!
//! The engine owns every accept and reject and every device binding. It knows no sockets and no SQL: it talks
//! to the [`crate::store::Store`] trait, gets the time as a parameter, and writes the audit trail.

pub mod enrollment;
