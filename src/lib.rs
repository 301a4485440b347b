//! motpd: a RADIUS two-factor server for Citrix NetScaler VPN login.
//!
//! Staff log in to the VPN with their password and the 6-digit code of an authenticator app bound to their
//! account; NetScaler asks motpd over RADIUS, and motpd answers Accept, Reject or Challenge.
//!
//! # Layout (dependencies point down; nothing imports `cli`)
//! - [`cli`]: arguments, wiring, printing. The only user of `anyhow`.
//! - [`engine`]: the decisions: login rules, device binding. No sockets, no SQL; time is a parameter.
//! - [`model`]: the domain records (accounts, devices, clients, challenges, sessions). Plain data.
//! - [`store`]: the storage roles, the login path and its cache, SQLite and PostgreSQL. The only SQL.
//! - [`radius`]: the RADIUS codec: packets, authenticators, Message-Authenticator, dictionaries. Pure: the
//!   workspace crate `motpd-radius` (crates/motpd-radius), which depends on no runtime or database.
//! - [`otp`]: TOTP, HOTP and mOTP math, otpauth URIs. Pure: the workspace crate `motpd-otp` (crates/motpd-otp).
//! - [`account_rules`]: account field rules (IDs, mobile numbers, e-mail, identities, groups). Pure.
//! - [`import`]: the account and seed CSV imports (UTF-8 or Big5, line-numbered row errors). Pure.
//! - [`password`]: Argon2id hashing, legacy hash verification, the password rule. Pure.
//! - [`runtime`]: the password-hashing threads and the Argon2 working memory each keeps.
//! - [`audit`]: the audit event and its HMAC chain. Pure.
//! - [`notify`]: delivery of mail (SMTP) and SMS (an HTTP gateway); no texts, no decisions.
//! - [`directory`]: the LDAP / Active Directory client: password binds, account entries, the sync read. No
//!   decisions.
//! - [`texts`]: the message catalogue: every sentence a person reads, one file per language. Pure.
//! - [`tls_roots`]: the CA file of an internal service as the only TLS roots (SMS gateway, directory).
//! - [`qr_png`]: a QR code as a PNG image (the invitation mail's inline QR code). Pure.
//! - [`server`]: the network transports (RADIUS over UDP, the web pages over HTTP). The only code that owns
//!   sockets.
//! - [`secrets`]: redacting secret types, the key file, sealing at rest.
//! - [`monitoring`]: the Prometheus recorder and the name and help of every metric; the admin listener
//!   (`server::web::admin`) serves it.
//! - [`config`], [`clock`], [`local_time`], [`telemetry`]: leaves.

pub mod account_rules;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod directory;
pub mod engine;
pub mod import;
pub mod local_time;
pub mod model;
pub mod monitoring;
pub mod notify;
pub use motpd_otp as otp;
pub mod password;
pub mod qr_png;
pub use motpd_radius as radius;
pub mod runtime;
pub mod secrets;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod texts;
pub mod tls_roots;
