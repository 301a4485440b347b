//! The invitation e-mail's text: Traditional Chinese first, then English, as plain text and as HTML. Pure:
//! no sending (see [`crate::notify`]), no clock (the expiry is in the invitation).

use super::invitations::Invitation;
use crate::notify::Mail;

impl Invitation {
    /// The bilingual mail carrying the link and its expiry (shown in `utc_offset`).
    pub fn mail(&self, utc_offset: time::UtcOffset) -> Mail {
        let link = self.link.expose();
        let until = format_time(self.expires_at, utc_offset);
        let id = &self.account.id;
        let name = &self.account.name;
        let text = format!(
            "{name} 您好：\n\n請在手機上安裝驗證器 App（例如 Google Authenticator 或 Microsoft Authenticator），\
             再開啟下列連結，掃描 QR 碼並輸入 App 顯示的 6 位數驗證碼，完成 VPN 雙因素驗證裝置的綁定（帳號 {id}）。\n\n\
             {link}\n\n此連結只能使用一次，有效至 {until}。若非您本人申請，請忽略此信並通知資訊室。\n\n\
             ----\n\nHello {name},\n\nInstall an authenticator app on your phone (for example Google \
             Authenticator or Microsoft Authenticator), then open the link below, scan the QR code and enter the \
             6-digit code the app shows to bind it to your VPN account {id}.\n\n{link}\n\nThe link works once and \
             until {until}. If you did not expect this mail, ignore it and tell the IT department.\n"
        );
        let (name, id, link, until) = (escape(name), escape(id), escape(link), escape(&until));
        let html = format!(
            "<!DOCTYPE html><html><body>\
             <div lang=\"zh-Hant-TW\"><p>{name} 您好：</p><p>請在手機上安裝驗證器 App（例如 Google Authenticator 或 \
             Microsoft Authenticator），再開啟下列連結，掃描 QR 碼並輸入 App 顯示的 6 位數驗證碼，完成 VPN \
             雙因素驗證裝置的綁定（帳號 {id}）。</p><p><a href=\"{link}\">{link}</a></p>\
             <p>此連結只能使用一次，有效至 {until}。若非您本人申請，請忽略此信並通知資訊室。</p></div><hr>\
             <div lang=\"en\"><p>Hello {name},</p><p>Install an authenticator app on your phone (for example \
             Google Authenticator or Microsoft Authenticator), then open the link below, scan the QR code and \
             enter the 6-digit code the app shows to bind it to your VPN account {id}.</p>\
             <p><a href=\"{link}\">{link}</a></p><p>The link works once and until {until}. If you did not \
             expect this mail, ignore it and tell the IT department.</p></div></body></html>"
        );
        Mail {
            to: self.email.clone(),
            subject: "VPN 驗證器綁定邀請 / VPN authenticator invitation".to_owned(),
            text,
            html,
        }
    }
}

/// `YYYY-MM-DD HH:MM` in `offset`, with the offset.
fn format_time(unix: i64, offset: time::UtcOffset) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => {
            let t = t.to_offset(offset);
            let (h, m, _) = offset.as_hms();
            format!(
                "{} {:02}:{:02} (UTC{:+03}:{:02})",
                t.date(),
                t.hour(),
                t.minute(),
                h,
                m.unsigned_abs()
            )
        }
        Err(_) => "-".to_owned(),
    }
}

/// HTML text escaping.
fn escape(text: &str) -> String {
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
