//! The invitation e-mail's text: Traditional Chinese first, then English, as plain text and as HTML. Pure:
//! no sending (see [`crate::notify`]), no clock (the expiry is in the invitation).
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

/// The Content-ID of the QR code image.
pub(super) const QR_CONTENT_ID: &str = "enroll-qr@motpd";
/// Pixels per QR module in the mailed image.
const QR_MODULE_PIXELS: usize = 6;
/// A long link breaks anywhere rather than widen the mail past a phone's screen.
const LINK_STYLE: &str = "overflow-wrap:anywhere;word-break:break-all";
/// On the phone to be bound a QR code cannot be scanned: the link's page adds the token with a tap.
const PHONE_ZH: &str = "若您正在要綁定的手機上讀這封信：開啟上方連結並輸入密碼，頁面上有「直接加入驗證器 App」的連結，不必掃描。";
const PHONE_EN: &str = "Reading this on the phone you will use? Open the link above and enter your password: its page \
                        has a link that adds the account to the authenticator app, no scanning needed.";

impl Invitation {
    /// The bilingual mail carrying the link and its expiry (shown in `utc_offset`), and with `--qr-in-mail`
    /// the QR code.
    pub fn mail(&self, utc_offset: time::UtcOffset) -> Result<Mail, QrPngError> {
        let link = self.link.expose();
        let until = format_time(self.expires_at, utc_offset);
        let id = &self.account.id;
        let name = &self.account.name;
        let qr = self.mailed_uri.is_some();
        let text_qr = if qr {
            "\n此信的 HTML 版本附有可直接掃描的 QR 碼；若您的郵件程式只顯示純文字，請開啟上方連結掃描。\n"
        } else {
            ""
        };
        let text_qr_en = if qr {
            "\nThe HTML version of this mail carries a QR code to scan directly; if your mail program shows only \
             plain text, open the link above to scan it.\n"
        } else {
            ""
        };
        let text = format!(
            "{name} 您好：\n\n請在手機上安裝驗證器 App（例如 Google Authenticator 或 Microsoft Authenticator），\
             再開啟下列連結，掃描 QR 碼並輸入 App 顯示的 6 位數驗證碼，完成 VPN 雙因素驗證裝置的綁定（帳號 {id}）。\n\n\
             {link}\n{text_qr}\n{PHONE_ZH}\n\n此連結只能使用一次，有效至 {until}。若非您本人申請，請忽略此信並通知資訊室。\n\n\
             ----\n\nHello {name},\n\nInstall an authenticator app on your phone (for example Google \
             Authenticator or Microsoft Authenticator), then open the link below, scan the QR code and enter the \
             6-digit code the app shows to bind it to your VPN account {id}.\n\n{link}\n{text_qr_en}\n{PHONE_EN}\n\nThe link \
             works once and until {until}. If you did not expect this mail, ignore it and tell the IT department.\n"
        );
        let (name, id, link, until) = (escape(name), escape(id), escape(link), escape(&until));
        let (phone, phone_en) = (escape(PHONE_ZH.trim()), escape(PHONE_EN.trim()));
        let (html_qr, html_qr_en) = if qr {
            (
                format!(
                    "<p>您也可以直接用驗證器 App 掃描下方的 QR 碼：第一次在上方連結的頁面輸入驗證碼，或第一次以「密碼加驗證碼」\
                     登入 VPN 時，即完成綁定（{until} 前有效）。</p><p><img src=\"cid:{QR_CONTENT_ID}\" \
                     alt=\"QR 碼\" width=\"250\" height=\"250\"></p><p>{phone}</p><p><strong>此 QR 碼就是您的第二道驗證：\
                     請勿轉寄此信，綁定完成後請刪除此信。</strong></p>"
                ),
                format!(
                    "<p>You can also scan the QR code in the Chinese part above with your authenticator app directly: \
                     it is bound the first time you enter its code on the link's page or log in to the VPN with your \
                     password followed by the code (until {until}).</p><p>{phone_en}</p><p><strong>This QR code is \
                     your second factor: do not forward this mail, and delete it once you are set up.</strong></p>"
                ),
            )
        } else {
            (format!("<p>{phone}</p>"), format!("<p>{phone_en}</p>"))
        };
        let html = format!(
            "<!DOCTYPE html><html><body>\
             <div lang=\"zh-Hant-TW\"><p>{name} 您好：</p><p>請在手機上安裝驗證器 App（例如 Google Authenticator 或 \
             Microsoft Authenticator），再開啟下列連結，掃描 QR 碼並輸入 App 顯示的 6 位數驗證碼，完成 VPN \
             雙因素驗證裝置的綁定（帳號 {id}）。</p><p><a href=\"{link}\" style=\"{LINK_STYLE}\">{link}</a></p>{html_qr}\
             <p>此連結只能使用一次，有效至 {until}。若非您本人申請，請忽略此信並通知資訊室。</p></div><hr>\
             <div lang=\"en\"><p>Hello {name},</p><p>Install an authenticator app on your phone (for example \
             Google Authenticator or Microsoft Authenticator), then open the link below, scan the QR code and \
             enter the 6-digit code the app shows to bind it to your VPN account {id}.</p>\
             <p><a href=\"{link}\" style=\"{LINK_STYLE}\">{link}</a></p>{html_qr_en}<p>The link works once and until {until}. If you did \
             not expect this mail, ignore it and tell the IT department.</p></div></body></html>"
        );
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
            subject: "VPN 驗證器綁定邀請 / VPN authenticator invitation".to_owned(),
            text,
            html,
            inline_image,
        })
    }
}

/// `YYYY-MM-DD HH:MM (UTC+08:00)` in `offset`, as the pages show it.
pub(super) fn format_time(unix: i64, offset: time::UtcOffset) -> String {
    crate::local_time::for_people(unix, offset)
}

/// HTML text escaping.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_escaping() {
        let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
        assert_eq!(format_time(0, offset), "1970-01-01 08:00 (UTC+08:00)");
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
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
