//! [`LogSmsSender`]: development only. It writes every message, code included, to the log instead of sending
//! it, and is only built when `sms.provider = "log"` is set explicitly (with a warning at start-up).

use super::{SmsSendError, SmsSender};
use crate::account_rules::mask_phone;

/// Writes messages to the log (at `warn`) instead of sending them.
#[derive(Debug)]
pub struct LogSmsSender(());

impl LogSmsSender {
    /// The sender; warns that codes will be in the log.
    pub fn new() -> Self {
        tracing::warn!(
            "sms.provider = \"log\": SMS codes are written to the log and sent to no phone; development only"
        );
        Self(())
    }
}

impl Default for LogSmsSender {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl SmsSender for LogSmsSender {
    async fn send(&self, phone: &str, text: &str) -> Result<(), SmsSendError> {
        tracing::warn!(to = %mask_phone(phone), message = %text, "SMS (sms.provider = \"log\", not sent)");
        Ok(())
    }
}
