//! The one integration test binary (see `common` for the shared helpers).

mod attacks_invite;
mod attacks_lockout;
mod attacks_oracles;
mod attacks_radius;
mod attacks_recovery;
mod attacks_web;
mod cli;
mod common;
mod engine_rules;
mod external_clients;
mod invite_mail;
mod invite_outage;
mod key_rotation;
mod lockout_store_contract;
mod pg_transport;
mod radius_flow;
mod sms_codes;
mod sms_radius;
mod sms_store_contract;
mod sqlite_hot_path;
mod store_contract;
mod web_account;
mod web_account_sms;
mod web_browser;
mod web_enroll;
