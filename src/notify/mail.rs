//! [`SmtpMailer`]: delivery through an SMTP relay with lettre (`smtp.tls` none / starttls / tls, optional
//! login with the password read from `smtp.password_file`, a time-out per message). No message texts here.
//!
//! The time-out bounds the whole exchange: lettre's own applies to the TCP connect only, so a relay that
//! accepts and never answers would hold a send (and its background task and socket) for ever.

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
    timeout: Duration,
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
        let timeout = Duration::from_secs(u64::from(config.timeout_seconds));
        let mut builder = builder.port(config.port).timeout(Some(timeout));
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
            timeout,
        })
    }
}

impl SmtpMailer {
    /// Connects to the relay as a send would (EHLO, STARTTLS or TLS, login when configured) and says NOOP,
    /// sending no mail; for `motpd config check --reach`. Bounded by the configured time-out.
    pub async fn test_connection(&self) -> Result<(), NotifyError> {
        match tokio::time::timeout(self.timeout, self.transport.test_connection()).await {
            Err(_) => Err(self.timed_out()),
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(NotifyError::Smtp(
                "the relay did not answer NOOP with 250".to_owned(),
            )),
            Ok(Err(e)) => Err(NotifyError::Smtp(e.to_string())),
        }
    }

    fn timed_out(&self) -> NotifyError {
        NotifyError::Smtp(format!(
            "no answer from the relay within {} s (smtp.timeout_seconds)",
            self.timeout.as_secs()
        ))
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
        let sent = match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Err(_) => Err(self.timed_out()),
            Ok(sent) => sent
                .map(|_| ())
                .map_err(|e| NotifyError::Smtp(e.to_string())),
        };
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

    #[tokio::test]
    async fn a_relay_that_accepts_and_never_answers_times_out() {
        let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = relay.local_addr().unwrap().port();
        // Accepts every connection and keeps it open without a greeting.
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = relay.accept().await {
                open.push(socket);
            }
        });
        let config = SmtpConfig {
            port,
            timeout_seconds: 1,
            ..SmtpConfig::default()
        };
        let mailer = SmtpMailer::new(&config).unwrap();
        let mail = Mail {
            to: "alice@example.org".into(),
            subject: "s".into(),
            text: "t".into(),
            html: "<p>h</p>".into(),
            inline_image: None,
        };
        let started = std::time::Instant::now();
        let sent = tokio::time::timeout(Duration::from_secs(10), mailer.send(mail))
            .await
            .expect("the send ends by itself");
        assert!(
            matches!(&sent, Err(NotifyError::Smtp(m)) if m.contains("within 1 s")),
            "{sent:?}"
        );
        let probe = tokio::time::timeout(Duration::from_secs(10), mailer.test_connection())
            .await
            .expect("the check ends by itself");
        assert!(probe.is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
        held.abort();
    }
}
