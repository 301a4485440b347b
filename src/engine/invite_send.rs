//! Mailing an invitation: the new link is stored only after the relay accepted the mail, so a failed send
//! leaves the person's earlier link working, and the `admin.invite` audit row says what really happened
//! (`ok`, or `failed` with the kind of error; never the link, the seed or the relay's password).

use super::EngineError;
use super::invitations::{Invitation, Invitations, InviteError, InviteMode, Prepared};
use crate::notify::{Mailer, NotifyError};

impl Invitations {
    /// Creates an invitation for `account_id`, mails it with `mailer` (times in `utc_offset`), then stores it,
    /// replacing the account's earlier ones. If the mail cannot be built or sent nothing is stored and the
    /// failure is audited. The mail goes out before the store write, so a store failure after it leaves a
    /// dead link in the mailbox and the earlier one working; that is reported as an error too. The audit row
    /// carries the admin's `reason`, if given (the console asks for one).
    pub async fn invite_by_mail(
        &self,
        account_id: &str,
        mode: InviteMode,
        (actor, reason): (&str, Option<&str>),
        mailer: &dyn Mailer,
        utc_offset: time::UtcOffset,
    ) -> Result<Invitation, InviteError> {
        let prepared = self.prepare(account_id, mode).await?;
        let account_id = prepared.invitation.account.id.clone();
        let qr_in_mail = prepared.invitation.mailed_uri.is_some();
        let outcome = match self.send(&prepared, mailer, utc_offset).await {
            Ok(()) => self.commit(prepared, actor, reason).await,
            Err(e) => Err(e),
        };
        if let Err(e) = &outcome {
            self.audit_failure(&account_id, qr_in_mail, (actor, reason), e)
                .await?;
        }
        outcome
    }

    async fn send(
        &self,
        prepared: &Prepared,
        mailer: &dyn Mailer,
        utc_offset: time::UtcOffset,
    ) -> Result<(), InviteError> {
        let invitation = &prepared.invitation;
        let mail = invitation.mail(utc_offset)?;
        mailer.send(mail).await.map_err(|source| InviteError::Mail {
            email: invitation.email.clone(),
            source,
        })
    }

    async fn audit_failure(
        &self,
        account_id: &str,
        qr_in_mail: bool,
        (actor, reason): (&str, Option<&str>),
        error: &InviteError,
    ) -> Result<(), EngineError> {
        let mut detail =
            serde_json::json!({ "error": error_kind(error), "qr_in_mail": qr_in_mail });
        if let (Some(reason), Some(fields)) = (reason, detail.as_object_mut()) {
            fields.insert("reason".into(), reason.into());
        }
        let now = self.clock.now();
        self.audit_invite(now, actor, account_id, "failed", detail)
            .await
    }
}

/// A short name for the kind of failure: what the audit row keeps (the message may carry addresses or the
/// relay's words, which belong in the admin's terminal, not in the trail).
fn error_kind(error: &InviteError) -> &'static str {
    match error {
        InviteError::Mail { source, .. } => match source {
            NotifyError::Address { .. } => "mail_address",
            NotifyError::Build(_) => "mail_build",
            NotifyError::PasswordFile { .. } => "smtp_password_file",
            NotifyError::Smtp(_) => "smtp",
        },
        InviteError::Qr(_) => "qr_code",
        InviteError::AlreadyBound(_) => "already_bound",
        InviteError::NoSuchAccount(_) => "no_such_account",
        InviteError::NoEmail(_) => "no_email",
        InviteError::Disabled(_) => "disabled",
        InviteError::Expired(_) => "expired",
        InviteError::Secret(_) => "random",
        InviteError::Engine(_) => "store",
    }
}
