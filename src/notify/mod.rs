//! Outgoing notifications: the [`Mailer`] trait and the [`Mail`] it sends (invitations), and SMS delivery
//! ([`sms`]: the [`sms::SmsSender`] trait and its HTTP gateway and development log senders). The SMTP
//! implementation is in `mail.rs`. This module composes no texts and makes no decisions; the engine says what
//! to send, the CLI says through which mailer.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

mod mail;
mod reloadable;
pub mod sms;

pub use mail::SmtpMailer;
pub use reloadable::ReloadableMailer;

/// One e-mail: plain text and HTML of the same content (sent as multipart/alternative; with an inline image,
/// the HTML part and the image are a multipart/related inside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
    /// An image the HTML shows as `<img src="cid:{content_id}">`.
    pub inline_image: Option<InlineImage>,
}

/// An image attached inline (`Content-Disposition: inline`, `Content-ID`), e.g. the invitation's QR code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineImage {
    /// The Content-ID, without angle brackets.
    pub content_id: String,
    /// The MIME type, e.g. `image/png`.
    pub content_type: String,
    /// The image (secret when it is a QR code of a seed: redacted in `Debug`, zeroed on drop).
    pub data: crate::secrets::SecretBytes,
}

/// Why a notification could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// An address (sender or recipient) is not valid.
    #[error("invalid e-mail address {address:?}: {reason}")]
    Address {
        /// The address.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The message could not be built.
    #[error("could not build the message: {0}")]
    Build(String),
    /// The password file could not be read.
    #[error("cannot read the SMTP password file {path}: {source}")]
    PasswordFile {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The relay refused the message or could not be reached.
    #[error("SMTP: {0}")]
    Smtp(String),
}

/// Something that delivers mail.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// Sends one mail (returns when the relay accepted it).
    async fn send(&self, mail: Mail) -> Result<(), NotifyError>;
}
