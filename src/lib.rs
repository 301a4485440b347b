//! motpd: a RADIUS two-factor server for Citrix NetScaler VPN login.
pub mod audit;
pub mod clock;
pub mod config;
pub mod otp;
pub mod password;
pub mod secrets;
pub mod store;
