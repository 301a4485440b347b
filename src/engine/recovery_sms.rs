//! The SMS code service as the proof of the account pages and the channel of their notices: [`RecoverySms`]
//! for [`SmsService`], mapping the purposes and the check results (the reasons only reach the audit trail).

use super::EngineError;
use super::account_recovery::{RecoveryPurpose, RecoverySms, SmsCodeCheck};
use super::sms::{SmsCheck, SmsError, SmsPurpose, SmsService};
use crate::config::Language;
use crate::store::Account;

fn sms_purpose(purpose: RecoveryPurpose) -> SmsPurpose {
    match purpose {
        RecoveryPurpose::Activate => SmsPurpose::Activate,
        RecoveryPurpose::Reset => SmsPurpose::Reset,
    }
}

#[async_trait::async_trait]
impl RecoverySms for SmsService {
    fn enabled(&self) -> bool {
        SmsService::enabled(self)
    }

    async fn send(
        &self,
        account: &Account,
        purpose: RecoveryPurpose,
        language: Language,
        now: i64,
    ) -> Result<(), String> {
        self.send_code(account, sms_purpose(purpose), language, now)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn notify(&self, account: &Account, text: &str, now: i64) -> Result<(), String> {
        self.send_notice(account, text, now)
            .await
            .map_err(|e| e.to_string())
    }

    async fn verify(
        &self,
        account_id: &str,
        purpose: RecoveryPurpose,
        code: &str,
        now: i64,
    ) -> Result<SmsCodeCheck, EngineError> {
        let check = match self
            .verify_code(account_id, sms_purpose(purpose), code, now)
            .await
        {
            Ok(check) => check,
            Err(SmsError::Store(e)) => return Err(EngineError::Store(e)),
            Err(SmsError::Disabled) => return Ok(SmsCodeCheck::Refused("sms_disabled")),
            Err(_) => return Ok(SmsCodeCheck::Refused("sms_unavailable")),
        };
        Ok(match check {
            SmsCheck::Valid => SmsCodeCheck::Valid,
            SmsCheck::Wrong { .. } => SmsCodeCheck::Refused("wrong_code"),
            SmsCheck::Expired => SmsCodeCheck::Refused("expired"),
            SmsCheck::TooManyTries => SmsCodeCheck::Refused("too_many_tries"),
            SmsCheck::NoCode => SmsCodeCheck::Refused("no_code"),
        })
    }
}
