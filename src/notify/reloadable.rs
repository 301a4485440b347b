//! A mailer whose `[smtp]` settings `motpd serve` replaces on SIGHUP: services hold one [`ReloadableMailer`]
//! for the life of the node, and each send goes through the relay configured at that moment.

use std::sync::Arc;

use arc_swap::ArcSwapOption;

use super::{Mail, Mailer, NotifyError, SmtpMailer};
use crate::config::SmtpConfig;

/// The SMTP mailer in force, or none while the `[smtp]` settings cannot be used (each send then fails with a
/// clear error, which the callers log; logins never depend on mail).
#[derive(Debug, Default)]
pub struct ReloadableMailer {
    current: ArcSwapOption<SmtpMailer>,
}

impl ReloadableMailer {
    /// A mailer for `config`; the error says why the settings cannot be used (the mailer then holds none).
    pub fn new(config: &SmtpConfig) -> (Self, Result<(), NotifyError>) {
        let mailer = Self::default();
        let result = mailer.reconfigure(config);
        (mailer, result)
    }

    /// Sends through `config`'s relay from the next mail on. Settings that cannot be used (an unreadable
    /// password file, a bad sender address) keep the relay in force and return why.
    pub fn reconfigure(&self, config: &SmtpConfig) -> Result<(), NotifyError> {
        let mailer = SmtpMailer::new(config)?;
        self.current.store(Some(Arc::new(mailer)));
        Ok(())
    }
}

#[async_trait::async_trait]
impl Mailer for ReloadableMailer {
    async fn send(&self, mail: Mail) -> Result<(), NotifyError> {
        let Some(mailer) = self.current.load_full() else {
            return Err(NotifyError::Smtp(
                "the [smtp] settings cannot be used; fix them and reload (SIGHUP)".into(),
            ));
        };
        mailer.send(mail).await
    }
}
