//! The invitation e-mail's text: Traditional Chinese first, then English, as plain text and as HTML. Pure:
//! no sending (see [`crate::notify`]), no clock (the expiry is in the invitation).
//!
//! With `--qr-in-mail` the HTML part also shows the pending token's QR code, as an inline PNG image
//! (`cid:`), with a warning that the mail is now the second factor. The plain-text part never carries the seed
//! (no initial key in clear text: plain text is what gets quoted, forwarded and indexed); it points to the link
//! instead.

use super::invitations::Invitation;
use crate::notify::{InlineImage, Mail};
use crate::qr_png::{QrPngError, qr_png};

/// The Content-ID of the QR code image.
pub(super) const QR_CONTENT_ID: &str = "enroll-qr@motpd";
/// Pixels per QR module in the mailed image.
const QR_MODULE_PIXELS: usize = 6;

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
             {link}\n{text_qr}\n此連結只能使用一次，有效至 {until}。若非您本人申請，請忽略此信並通知資訊室。\n\n\
             ----\n\nHello {name},\n\nInstall an authenticator app on your phone (for example Google \
             Authenticator or Microsoft Authenticator), then open the link below, scan the QR code and enter the \
             6-digit code the app shows to bind it to your VPN account {id}.\n\n{link}\n{text_qr_en}\nThe link \
             works once and until {until}. If you did not expect this mail, ignore it and tell the IT department.\n"
        );
        let (name, id, link, until) = (escape(name), escape(id), escape(link), escape(&until));
        let (html_qr, html_qr_en) = if qr {
            (
                format!(
                    "<p>您也可以直接用驗證器 App 掃描下方的 QR 碼：第一次在上方連結的頁面輸入驗證碼，或第一次以「密碼加驗證碼」\
                     登入 VPN 時，即完成綁定（{until} 前有效）。</p><p><img src=\"cid:{QR_CONTENT_ID}\" \
                     alt=\"QR 碼\" width=\"250\" height=\"250\"></p><p><strong>此 QR 碼就是您的第二道驗證：請勿轉寄此信，\
                     綁定完成後請刪除此信。</strong></p>"
                ),
                format!(
                    "<p>You can also scan the QR code in the Chinese part above with your authenticator app directly: \
                     it is bound the first time you enter its code on the link's page or log in to the VPN with your \
                     password followed by the code (until {until}).</p><p><strong>This QR code is your second \
                     factor: do not forward this mail, and delete it once you are set up.</strong></p>"
                ),
            )
        } else {
            (String::new(), String::new())
        };
        let html = format!(
            "<!DOCTYPE html><html><body>\
             <div lang=\"zh-Hant-TW\"><p>{name} 您好：</p><p>請在手機上安裝驗證器 App（例如 Google Authenticator 或 \
             Microsoft Authenticator），再開啟下列連結，掃描 QR 碼並輸入 App 顯示的 6 位數驗證碼，完成 VPN \
             雙因素驗證裝置的綁定（帳號 {id}）。</p><p><a href=\"{link}\">{link}</a></p>{html_qr}\
             <p>此連結只能使用一次，有效至 {until}。若非您本人申請，請忽略此信並通知資訊室。</p></div><hr>\
             <div lang=\"en\"><p>Hello {name},</p><p>Install an authenticator app on your phone (for example \
             Google Authenticator or Microsoft Authenticator), then open the link below, scan the QR code and \
             enter the 6-digit code the app shows to bind it to your VPN account {id}.</p>\
             <p><a href=\"{link}\">{link}</a></p>{html_qr_en}<p>The link works once and until {until}. If you did \
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
}
