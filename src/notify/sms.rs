//! SMS delivery: the [`SmsSender`] trait, its [`SmsSendError`], and [`sender_from_config`], which picks the
//! implementation named by `sms.provider`. Delivery only: this module makes no codes and composes no texts (the
//! engine's `sms` module does). The HTTP gateway client is in `sms/http.rs`, the development log sender in
//! `sms/log.rs`, and filling in the request body template in `sms/template.rs`.

mod http;
mod log;
mod template;

use std::sync::Arc;

pub use http::HttpSmsSender;
pub use log::LogSmsSender;
pub use template::render_body;

use crate::config::{SmsConfig, SmsProvider};

/// Why an SMS was not delivered to the gateway. None of these carries the message text or the number.
#[derive(Debug, thiserror::Error)]
pub enum SmsSendError {
    /// `sms.provider = "none"`.
    #[error("SMS is switched off (sms.provider = \"none\")")]
    Disabled,
    /// The configuration cannot be used (bad URL, unreadable header value...).
    #[error("SMS gateway configuration: {0}")]
    Config(String),
    /// The CA file could not be read or holds no certificate.
    #[error("cannot use sms.ca_file {path}: {reason}")]
    CaFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The Authorization header file could not be read.
    #[error("cannot read sms.auth_header_file {path}: {source}")]
    AuthHeaderFile {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The gateway could not be reached (after every retry).
    #[error("SMS gateway unreachable: {0}")]
    Connect(String),
    /// The gateway took the request but did not answer in time: the message may or may not go out.
    #[error("SMS gateway did not answer within {0} s")]
    Timeout(u32),
    /// The gateway answered with a status other than 2xx (after every retry for 5xx).
    #[error("SMS gateway answered HTTP {0}")]
    Status(u16),
    /// A 2xx answer without the configured `sms.success_match` text.
    #[error("SMS gateway answer does not contain sms.success_match")]
    NotConfirmed,
    /// The request or the answer broke off.
    #[error("SMS gateway exchange failed: {0}")]
    Protocol(String),
}

/// Something that hands text messages to a phone network.
#[async_trait::async_trait]
pub trait SmsSender: Send + Sync + std::fmt::Debug {
    /// Sends `text` to `phone` (digits only, e.g. `0912345678`); returns when the gateway confirmed it.
    async fn send(&self, phone: &str, text: &str) -> Result<(), SmsSendError>;
}

/// The sender for `sms.provider = "none"`: every send fails with [`SmsSendError::Disabled`].
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSmsSender;

#[async_trait::async_trait]
impl SmsSender for NoSmsSender {
    async fn send(&self, _phone: &str, _text: &str) -> Result<(), SmsSendError> {
        Err(SmsSendError::Disabled)
    }
}

/// The sender `config` names: `none` (refuses), `log` (development only; warns now) or `http` (reads the
/// Authorization header file now).
pub fn sender_from_config(config: &SmsConfig) -> Result<Arc<dyn SmsSender>, SmsSendError> {
    Ok(match config.provider {
        SmsProvider::None => Arc::new(NoSmsSender),
        SmsProvider::Log => Arc::new(LogSmsSender::new()),
        SmsProvider::Http => Arc::new(HttpSmsSender::new(config)?),
    })
}
