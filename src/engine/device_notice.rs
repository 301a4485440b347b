//! The notice sent to an account after a device was bound to it ("a device was registered for your VPN
//! account; not you? call the helpdesk"), by mail and, when SMS is on, by SMS to the registered number, in
//! Traditional Chinese first, then English: whoever bound it, the owner hears of it on both channels.
//!
//! Sent in the background: a binding never waits for the mail relay or the SMS gateway and never fails because
//! of them (a failure is logged as a warning; an SMS is audited `sms.notice`). An account without an e-mail
//! address gets no mail, one without a number no SMS. The texts are pure and carry no secret (no seed, code,
//! link or device ID).

use std::sync::Arc;

use super::invite_mail::format_time;
use super::sms::SmsService;
use crate::notify::{Mail, Mailer};
use crate::store::Account;
use crate::texts::{MailText, Sms};

/// How the device was bound (named in the notice).
pub use crate::texts::BoundVia;

/// Mails binding notices through a [`Mailer`].
#[derive(Debug)]
pub struct DeviceNotices {
    mailer: Arc<dyn Mailer>,
    utc_offset: time::UtcOffset,
    sms: Option<Arc<SmsService>>,
}

impl DeviceNotices {
    /// Notices sent through `mailer`, with times shown in `utc_offset`.
    pub fn new(mailer: Arc<dyn Mailer>, utc_offset: time::UtcOffset) -> Self {
        Self {
            mailer,
            utc_offset,
            sms: None,
        }
    }

    /// The same notices, also by SMS through `sms` when it is switched on.
    #[must_use]
    pub fn with_sms(mut self, sms: Arc<SmsService>) -> Self {
        self.sms = Some(sms).filter(|sms| sms.enabled());
        self
    }

    /// Sends the notice for `account` in the background: a mail if it has an e-mail address, an SMS if SMS is
    /// on and it has a number.
    pub fn device_bound(&self, account: &Account, via: BoundVia, at: i64) {
        if let Some(sms) = &self.sms
            && account.phone.as_deref().is_some_and(|p| !p.is_empty())
        {
            let sms = sms.clone();
            let owner = account.clone();
            let text = notice_sms(&account.id);
            tokio::spawn(async move {
                if let Err(error) = sms.send_notice(&owner, &text, at).await {
                    tracing::warn!(account = %owner.id, %error, "device notice could not be sent by SMS");
                }
            });
        }
        let Some(mail) = notice_mail(account, via, at, self.utc_offset) else {
            tracing::info!(account = %account.id, "device bound; no e-mail address for the notice");
            return;
        };
        let mailer = self.mailer.clone();
        let account_id = account.id.clone();
        tokio::spawn(async move {
            match mailer.send(mail).await {
                Ok(()) => tracing::info!(account = %account_id, "device notice mailed"),
                Err(error) => {
                    tracing::warn!(account = %account_id, %error, "device notice could not be mailed");
                }
            }
        });
    }
}

/// The SMS notice: short, both languages, no secret.
pub(super) fn notice_sms(account_id: &str) -> String {
    Sms::DeviceBound { account_id }.bilingual()
}

/// The notice for `account` (bound `via`, at `at`), or `None` without an e-mail address.
pub(super) fn notice_mail(
    account: &Account,
    via: BoundVia,
    at: i64,
    offset: time::UtcOffset,
) -> Option<Mail> {
    let to = account
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())?;
    let when = format_time(at, offset);
    let body = MailText::DeviceBound {
        name: &account.name,
        id: &account.id,
        when: &when,
        via,
    }
    .render();
    Some(Mail {
        to: to.to_owned(),
        subject: body.subject,
        text: body.text,
        html: body.html,
        inline_image: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AccountStatus;

    fn account(email: Option<&str>) -> Account {
        Account {
            id: "alice".into(),
            name: "A <b>".into(),
            phone: None,
            email: email.map(str::to_owned),
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
        }
    }

    #[test]
    fn the_notice_is_bilingual_and_needs_an_address() {
        let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
        assert!(notice_mail(&account(None), BoundVia::InvitationLink, 0, offset).is_none());
        assert!(notice_mail(&account(Some(" ")), BoundVia::InvitationLink, 0, offset).is_none());
        let mail = notice_mail(
            &account(Some("alice@example.org")),
            BoundVia::MailedQrAtVpn,
            0,
            offset,
        );
        let Some(mail) = mail else {
            panic!("a notice for an account with an address");
        };
        assert_eq!(mail.to, "alice@example.org");
        let (zh, en) = (
            mail.text.find("資訊室服務台"),
            mail.text.find("IT helpdesk"),
        );
        assert!(zh.is_some() && en.is_some() && zh < en, "{}", mail.text);
        assert!(mail.text.contains("1970-01-01 08:00"), "{}", mail.text);
        assert!(mail.html.contains("A &lt;b&gt;") && !mail.html.contains("A <b>"));
        let sms = notice_sms("alice");
        assert!(sms.contains("資訊室") && sms.contains("Call IT") && sms.contains("alice"));
    }
}
