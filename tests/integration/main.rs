//! The one integration test binary (see `common` for the shared helpers).

mod common;
mod store_contract;
