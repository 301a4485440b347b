//! The notice to an account's owner after its password was set on the account pages (activation or reset): a
//! mail if an e-mail address is on file, an SMS if a number is, both in Traditional Chinese and English ("not
//! you? call the helpdesk"). Sent in the background so the page never waits for a relay or a gateway; a failure
//! is logged (and the SMS audited by the SMS service), never shown.

use std::sync::Arc;

use super::account_recovery::{RecoveryPurpose, RecoverySms};
use super::sms_texts;
use crate::notify::{Mail, Mailer};
use crate::store::Account;
use crate::texts::MailText;

/// The mail telling the owner of `account` that its password was set (`pause_hours`: how long SMS at the VPN
/// stays off).
pub(crate) fn notice_mail(
    account: &Account,
    purpose: RecoveryPurpose,
    pause_hours: u32,
) -> Option<Mail> {
    let to = account.email.clone().filter(|e| !e.is_empty())?;
    let body = MailText::PasswordSet {
        id: &account.id,
        activated: purpose == RecoveryPurpose::Activate,
        pause_hours,
    }
    .render();
    Some(Mail {
        to,
        subject: body.subject,
        text: body.text,
        html: body.html,
        inline_image: None,
    })
}

/// Sends the mail and the SMS notice in the background.
pub(crate) fn send_in_background(
    account: Account,
    purpose: RecoveryPurpose,
    pause_hours: u32,
    mailer: Option<Arc<dyn Mailer>>,
    sms: Option<Arc<dyn RecoverySms>>,
    now: i64,
) {
    let mail = notice_mail(&account, purpose, pause_hours);
    tokio::spawn(async move {
        if let (Some(mail), Some(mailer)) = (mail, mailer)
            && let Err(error) = mailer.send(mail).await
        {
            tracing::warn!(account = %account.id, %error, "password change notice: mail not sent");
        }
        let has_phone = account.phone.as_deref().is_some_and(|p| !p.is_empty());
        if let (true, Some(sms)) = (has_phone, sms.filter(|s| s.enabled())) {
            let text = sms_texts::password_changed_notice(purpose == RecoveryPurpose::Activate);
            if let Err(reason) = sms.notify(&account, &text, now).await {
                tracing::warn!(account = %account.id, %reason, "password change notice: SMS not sent");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_mail_is_bilingual_and_only_with_an_address() {
        let mut account = Account {
            id: "alice".into(),
            name: "Alice".into(),
            phone: None,
            email: None,
            password_hash: None,
            status: crate::store::AccountStatus::Active,
            expires_on: None,
            groups: Vec::new(),
            sms_fallback: None,
            failures: 0,
            locked_until: None,
            last_login_at: None,
            created_at: 0,
            updated_at: 0,
        };
        assert!(notice_mail(&account, RecoveryPurpose::Reset, 24).is_none());
        account.email = Some("alice@example.org".into());
        let mail = notice_mail(&account, RecoveryPurpose::Reset, 24).unwrap();
        assert_eq!(mail.to, "alice@example.org");
        for part in [&mail.text, &mail.html] {
            assert!(part.contains("密碼已變更") && part.contains("password was changed"));
            assert!(part.contains("helpdesk") && part.contains("資訊室") && part.contains("24"));
        }
    }
}
