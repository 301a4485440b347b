//! The one integration test binary (see `common` for the shared helpers).

mod common;
mod engine_rules;
mod store_contract;
