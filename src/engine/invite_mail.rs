//! The invitation e-mail: Traditional Chinese first, then English, as plain text and as HTML (the sentences
//! are in [`crate::texts`]). Pure: no sending (see [`crate::notify`]), no clock (the expiry is in the invitation).
//!
//! With `--qr-in-mail` the HTML part also shows the pending token's QR code, as an inline PNG image
//! (`cid:`), with a warning that the mail is now the second factor. The plain-text part never carries the seed
//! (no initial key in clear text: plain text is what gets quoted, forwarded and indexed); it points to the link
//! instead. Neither part carries the `otpauth://` URI as text (mail gateways log and rewrite links): a person
//! reading the mail on the phone to be bound is told that the link's page, after the password, adds the token
//! with a tap. Long links break anywhere in the HTML part instead of widening the mail.

use super::invitations::Invitation;
use crate::notify::{InlineImage, Mail};
use crate::qr_png::{QrPngError, qr_png};
use crate::texts::MailText;

/// The Content-ID of the QR code image.
pub(super) const QR_CONTENT_ID: &str = "enroll-qr@motpd";
/// Pixels per QR module in the mailed image.
const QR_MODULE_PIXELS: usize = 6;

impl Invitation {
    /// The bilingual mail carrying the link and its expiry (shown in `utc_offset`), and with `--qr-in-mail`
    /// the QR code.
    pub fn mail(&self, utc_offset: time::UtcOffset) -> Result<Mail, QrPngError> {
        let until = format_time(self.expires_at, utc_offset);
        let body = MailText::Invitation {
            name: &self.account.name,
            id: &self.account.id,
            link: self.link.expose(),
            until: &until,
            qr_content_id: self.mailed_uri.is_some().then_some(QR_CONTENT_ID),
        }
        .render();
        let inline_image = match &self.mailed_uri {
            Some(uri) => Some(InlineImage {
                content_id: QR_CONTENT_ID.to_owned(),
                content_type: "image/png".to_owned(),
                data: qr_png(uri.expose(), QR_MODULE_PIXELS)?.into(),
            }),
            None => None,
        };
        Ok(Mail {
            to: self.email.clone(),
            subject: body.subject,
            text: body.text,
            html: body.html,
            inline_image,
        })
    }
}

/// `YYYY-MM-DD HH:MM (UTC+08:00)` in `offset`, as the pages show it.
pub(super) fn format_time(unix: i64, offset: time::UtcOffset) -> String {
    crate::local_time::for_people(unix, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_people_read_them() {
        let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
        assert_eq!(format_time(0, offset), "1970-01-01 08:00 (UTC+08:00)");
    }

    fn invitation(mailed_uri: Option<&str>) -> Invitation {
        use crate::store::{Account, AccountStatus};
        Invitation {
            account: Account {
                id: "alice".into(),
                name: "Alice".into(),
                phone: None,
                email: Some("alice@example.org".into()),
                expires_on: None,
                groups: Vec::new(),
                password_hash: None,
                status: AccountStatus::Active,
                sms_fallback: None,
                failures: 0,
                locked_until: None,
                last_login_at: None,
                created_at: 0,
                updated_at: 0,
            },
            email: "alice@example.org".into(),
            link: format!("https://motp.example.org/invite/{}", "a".repeat(64)).into(),
            expires_at: 0,
            mailed_uri: mailed_uri.map(|u| u.to_owned().into()),
        }
    }

    #[test]
    fn a_mail_read_on_the_phone_points_to_the_tap_and_its_link_wraps() {
        let offset = time::macros::offset!(+8);
        let uri = "otpauth://totp/VPN:alice?secret=JBSWY3DPEHPK3PXP&issuer=VPN";
        for mailed in [Some(uri), None] {
            let Ok(mail) = invitation(mailed).mail(offset) else {
                panic!("the mail");
            };
            for part in [&mail.text, &mail.html] {
                assert!(!part.contains("otpauth"), "no seed as text: {part}");
                assert!(
                    part.contains("不必掃描") && part.contains("no scanning needed"),
                    "{part}"
                );
            }
            assert!(
                mail.html.contains("overflow-wrap:anywhere"),
                "{}",
                mail.html
            );
        }
    }
}
