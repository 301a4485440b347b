//! motpd: a RADIUS two-factor server for Citrix NetScaler VPN login.
//!
//! Staff log in to the VPN with their password and the 6-digit code of an authenticator app bound to their
//! account; NetScaler asks motpd over RADIUS, and motpd answers Accept, Reject or Challenge.
//!
//! # Layout (dependencies point down; nothing imports `cli`)
//! - [`cli`]: arguments, wiring, printing. The only user of `anyhow`.
//! - [`engine`]: the decisions: login rules, device binding. No sockets, no SQL; time is a parameter.
//! - [`model`]: the domain records (accounts, devices, clients, challenges, sessions). Plain data.
//! - [`store`]: the one storage trait and its SQLite and PostgreSQL implementations. The only SQL.
//! - [`radius`]: the RADIUS codec: packets, authenticators, Message-Authenticator, dictionaries. Pure.
//! - [`otp`]: TOTP, HOTP and mOTP math, otpauth URIs. Pure.
//! - [`accounts`]: account field rules and the CSV import format. Pure.
//! - [`csv_table`]: reading an import CSV with line-numbered row errors (accounts and seeds). Pure.
//! - [`csv_text`]: an import file's bytes as text: UTF-8 or Big5, CRLF or LF. Pure.
//! - [`device_import`]: the bulk seed import CSV format (`motpd device import`). Pure.
//! - [`password`]: Argon2id hashing, legacy hash verification, the password rule. Pure.
//! - [`audit`]: the audit event and its HMAC chain. Pure.
//! - [`notify`]: delivery of mail (SMTP) and SMS (an HTTP gateway); no texts, no decisions.
//! - [`qr_png`]: a QR code as a PNG image (the invitation mail's inline QR code). Pure.
//! - [`server`]: the network transports (RADIUS over UDP, the web pages over HTTP). The only code that owns
//!   sockets.
//! - [`secrets`]: redacting secret types, the key file, sealing at rest.
//! - [`config`], [`clock`], [`local_time`], [`telemetry`]: leaves.

pub mod accounts;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod csv_table;
pub mod csv_text;
pub mod device_import;
pub mod engine;
pub mod local_time;
pub mod model;
pub mod notify;
pub mod otp;
pub mod password;
pub mod qr_png;
pub mod radius;
pub mod secrets;
pub mod server;
pub mod store;
pub mod telemetry;
