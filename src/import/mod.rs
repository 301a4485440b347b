//! The admin's CSV imports: accounts (`motpd user import`) and device seeds (`motpd device import`), read from
//! whatever Excel saved, every row validated before anything is written.
//!
//! Pure: bytes in, validated values out. Nothing here reads the store or calls the engine; the engine and the
//! CLI take what these modules produce (an [`accounts::ImportPlan`], a [`seeds::SeedPlan`]).

pub mod accounts;
pub mod seeds;
pub mod table;
pub mod text;
