//! [`SmtpMailer`]: delivery through an SMTP relay with lettre (`smtp.tls` none / starttls / tls, optional
//! login with the password read from `smtp.password_file`, a time-out per message). No message texts here.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Mail, Mailer, NotifyError};
use crate::config::{SmtpConfig, SmtpTls};

/// A mailer over one pooled SMTP transport.
#[derive(Debug)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// A mailer for `config` (reads the password file now; connects on the first send).
    pub fn new(config: &SmtpConfig) -> Result<Self, NotifyError> {
        let smtp = |e: lettre::transport::smtp::Error| NotifyError::Smtp(e.to_string());
        let builder = match config.tls {
            SmtpTls::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
            }
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host).map_err(smtp)?
            }
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host).map_err(smtp)?
            }
        };
        let mut builder = builder
            .port(config.port)
            .timeout(Some(Duration::from_secs(u64::from(config.timeout_seconds))));
        if let Some(user) = &config.username {
            let password = match &config.password_file {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|source| NotifyError::PasswordFile {
                        path: path.clone(),
                        source,
                    })?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
                None => String::new(),
            };
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Self {
            transport: builder.build(),
            from: mailbox(&config.from)?,
        })
    }
}

impl SmtpMailer {
    /// Connects to the relay as a send would (EHLO, STARTTLS or TLS, login when configured) and says NOOP,
    /// sending no mail; for `motpd config check --reach`. Bounded by the configured time-out.
    pub async fn test_connection(&self) -> Result<(), NotifyError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(NotifyError::Smtp(
                "the relay did not answer NOOP with 250".to_owned(),
            )),
            Err(e) => Err(NotifyError::Smtp(e.to_string())),
        }
    }
}

fn mailbox(address: &str) -> Result<Mailbox, NotifyError> {
    address
        .parse()
        .map_err(|e: lettre::address::AddressError| NotifyError::Address {
            address: address.to_owned(),
            reason: e.to_string(),
        })
}

/// The RFC 5322 message for `mail`.
fn message(from: &Mailbox, mail: Mail) -> Result<Message, NotifyError> {
    let body = match mail.inline_image {
        None => MultiPart::alternative_plain_html(mail.text, mail.html),
        Some(image) => {
            let content_type = ContentType::parse(&image.content_type)
                .map_err(|e| NotifyError::Build(format!("{}: {e}", image.content_type)))?;
            let attachment = Attachment::new_inline(image.content_id)
                .body(image.data.expose().to_vec(), content_type);
            MultiPart::alternative()
                .singlepart(SinglePart::plain(mail.text))
                .multipart(
                    MultiPart::related()
                        .singlepart(SinglePart::html(mail.html))
                        .singlepart(attachment),
                )
        }
    };
    Message::builder()
        .from(from.clone())
        .to(mailbox(&mail.to)?)
        .subject(mail.subject)
        .multipart(body)
        .map_err(|e| NotifyError::Build(e.to_string()))
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> Result<(), NotifyError> {
        let message = message(&self.from, mail)?;
        let started = std::time::Instant::now();
        let sent = self
            .transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| NotifyError::Smtp(e.to_string()));
        if let Some(metrics) = crate::monitoring::global() {
            metrics.mail_sent(started.elapsed(), sent.is_ok());
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn messages_are_multipart_alternative_and_addresses_checked() {
        let from = mailbox("motp@example.org").unwrap();
        let mail = Mail {
            to: "alice@example.org".into(),
            subject: "邀請 / Invitation".into(),
            text: "plain".into(),
            html: "<p>html</p>".into(),
            inline_image: None,
        };
        let raw = String::from_utf8(message(&from, mail.clone()).unwrap().formatted()).unwrap();
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(
            raw.contains("text/plain") && raw.contains("text/html"),
            "{raw}"
        );
        let with_image = Mail {
            html: "<img src=\"cid:qr@motpd\">".into(),
            inline_image: Some(super::super::InlineImage {
                content_id: "qr@motpd".into(),
                content_type: "image/png".into(),
                data: vec![0x89, b'P', b'N', b'G'].into(),
            }),
            ..mail.clone()
        };
        let raw = String::from_utf8(message(&from, with_image).unwrap().formatted()).unwrap();
        let (alternative, related, image) = (
            raw.find("multipart/alternative").unwrap(),
            raw.find("multipart/related").unwrap(),
            raw.find("Content-ID: <qr@motpd>").unwrap(),
        );
        assert!(alternative < related && related < image, "{raw}");
        assert!(raw.contains("Content-Disposition: inline"), "{raw}");
        let bad = Mail {
            to: "not an address".into(),
            ..mail
        };
        assert!(matches!(
            message(&from, bad),
            Err(NotifyError::Address { .. })
        ));
    }
}
