//! The SMS code service: makes a 6-digit code (CSPRNG), stores only its keyed hash, sends it through an
//! [`SmsSender`], and checks codes typed back — valid `sms.code_ttl_seconds`, single use, at most
//! `sms.max_attempts` tries (counted before comparing), a new code replacing the earlier one — with rate limits
//! per account and per number (`sms.min_interval_seconds`, `sms.max_per_day` in any rolling 24 hours).
//!
//! The limits count per purpose (VPN login, activation, reset): the account pages cannot use up the VPN
//! fallback's quota. Every rule that must hold across nodes is one atomic store operation. A send that the gateway refuses or
//! does not confirm in time leaves no usable code (the stored code is discarded), but it does use its
//! rate-limit slot: a gateway that times out may still deliver, and the limits exist to stop SMS flooding.
//! Every send (sent, refused, failed) is audited as `sms.send` — never with the code — and counted.

use std::sync::Arc;

use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::audit_sink::AuditSink;
use super::sms_texts;
use crate::account_rules::mask_phone;
use crate::audit::AuditEvent;
use crate::config::{Language, SmsConfig, SmsProvider};
use crate::notify::sms::SmsSender;
use crate::secrets::{Keyring, SecretBytes};
use crate::store::{Account, NewSmsCode, SmsIssue, SmsLimits, Store, StoreError};

pub use crate::store::SmsPurpose;

/// Seconds in the rolling window of `sms.max_per_day`.
const DAY_SECONDS: i64 = 86_400;

/// A code that went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSent {
    /// The number it went to, masked (`0912-***-678`).
    pub masked_phone: String,
    /// The code is refused from this time on.
    pub expires_at: i64,
}

/// The result of checking a typed code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsCheck {
    /// Right, and now used up (no other request can use it).
    Valid,
    /// Wrong; this many further tries are allowed.
    Wrong {
        /// Tries left for this code.
        remaining: u32,
    },
    /// The code's time is over.
    Expired,
    /// `sms.max_attempts` tries were used; the code is refused even if right.
    TooManyTries,
    /// No code outstanding (none sent, already used, or replaced).
    NoCode,
}

/// Why no code was sent (or checked).
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// `sms.provider = "none"`.
    #[error("SMS is switched off")]
    Disabled,
    /// The account has no mobile number.
    #[error("the account has no mobile number")]
    NoPhone,
    /// A rate limit refused the send.
    #[error("rate limited until {next_allowed_at}")]
    RateLimited {
        /// When a send to this account and number is allowed again.
        next_allowed_at: i64,
    },
    /// The gateway failed or timed out; no usable code was left.
    #[error("SMS gateway: {0}")]
    Gateway(String),
    /// The database failed.
    #[error("store failure: {0}")]
    Store(#[from] StoreError),
    /// No randomness for the code.
    #[error("no randomness available for the code")]
    Random,
}

impl SmsError {
    /// What to tell the person, in `language` (times at `utc_offset`).
    pub fn user_message(
        &self,
        language: Language,
        now: i64,
        utc_offset: time::UtcOffset,
    ) -> String {
        match self {
            Self::Disabled => sms_texts::disabled_text(language),
            Self::NoPhone => sms_texts::no_phone_text(language),
            Self::RateLimited { next_allowed_at } => {
                sms_texts::rate_limited_text(*next_allowed_at, now, utc_offset, language)
            }
            Self::Gateway(_) | Self::Store(_) | Self::Random => {
                sms_texts::gateway_failed_text(language)
            }
        }
    }
}

/// Counters of the SMS service (for tests and the periodic summary).
#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    rate_limited: AtomicU64,
    gateway_failures: AtomicU64,
    refused: AtomicU64,
    verified: AtomicU64,
    wrong: AtomicU64,
}

/// A copy of the SMS counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SmsStats {
    /// Codes the gateway confirmed.
    pub sent: u64,
    /// Sends refused by a rate limit.
    pub rate_limited: u64,
    /// Sends the gateway failed, refused or did not confirm in time.
    pub gateway_failures: u64,
    /// Sends refused before any gateway (SMS off, no number).
    pub refused: u64,
    /// Codes accepted.
    pub verified: u64,
    /// Checks that did not accept (wrong, expired, too many tries, none).
    pub wrong: u64,
}

/// Sends and checks SMS codes.
pub struct SmsService {
    store: Arc<dyn Store>,
    /// The keys codes are hashed with (the keyring's primary key's subkey seals new codes).
    ring: Arc<Keyring>,
    setup: ArcSwap<SmsSetup>,
    audit: AuditSink,
    counters: Counters,
}

/// The gateway and the `[sms]` rules in force, replaced as one on reload.
#[derive(Debug)]
struct SmsSetup {
    sender: Arc<dyn SmsSender>,
    config: Arc<SmsConfig>,
}

impl std::fmt::Debug for SmsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let setup = self.setup.load();
        f.debug_struct("SmsService")
            .field("provider", &setup.config.provider)
            .field("sender", &setup.sender)
            .finish_non_exhaustive()
    }
}

/// The label of the SMS code key derived from a master key.
const SMS_CODE_LABEL: &[u8] = b"motpd sms code v1";

/// HMAC-SHA256 of the code under `key`, bound to the account and purpose.
fn code_hash_under(
    key: &SecretBytes,
    account_id: &str,
    purpose: SmsPurpose,
    code: &[u8],
) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(purpose.as_str().as_bytes());
    mac.update(b"\0");
    mac.update(account_id.as_bytes());
    mac.update(b"\0");
    mac.update(code);
    mac.finalize().into_bytes().to_vec()
}

impl SmsService {
    /// A service sending through `sender` under the rules of `config`. Codes are hashed with a key derived
    /// from `key`.
    pub fn new(
        store: Arc<dyn Store>,
        key: Arc<Keyring>,
        sender: Arc<dyn SmsSender>,
        config: SmsConfig,
        audit: AuditSink,
    ) -> Self {
        Self {
            store,
            ring: key,
            setup: ArcSwap::from_pointee(SmsSetup {
                sender,
                config: Arc::new(config),
            }),
            audit,
            counters: Counters::default(),
        }
    }

    /// Whether SMS is switched on (`sms.provider` is not `none`).
    pub fn enabled(&self) -> bool {
        self.setup.load().config.provider != SmsProvider::None
    }

    /// The `[sms]` settings in force.
    pub fn config(&self) -> Arc<SmsConfig> {
        self.setup.load().config.clone()
    }

    /// The gateway in force (an owned handle: a send outlives no reload's swap).
    fn sender(&self) -> Arc<dyn SmsSender> {
        self.setup.load().sender.clone()
    }

    /// Sends through `sender` under `config` from the next send on (SIGHUP); codes already sent stay valid.
    pub fn reconfigure(&self, sender: Arc<dyn SmsSender>, config: SmsConfig) {
        self.setup.store(Arc::new(SmsSetup {
            sender,
            config: Arc::new(config),
        }));
    }

    /// Whether SMS may replace the app at VPN login for `account`: SMS on, a number registered, and the
    /// account's switch (or, when unset, `sms.allow_vpn_fallback`) on.
    pub fn vpn_fallback_allowed(&self, account: &Account) -> bool {
        self.enabled()
            && account.phone.as_deref().is_some_and(|p| !p.is_empty())
            && account
                .sms_fallback
                .unwrap_or(self.setup.load().config.allow_vpn_fallback)
    }

    /// Whether `answer` is the SMS keyword (case-insensitive, surrounding spaces ignored).
    pub fn is_keyword(&self, answer: &[u8]) -> bool {
        let setup = self.setup.load();
        let keyword = setup.config.keyword.trim().as_bytes();
        answer.trim_ascii().eq_ignore_ascii_case(keyword)
    }

    /// The code's validity in seconds.
    pub fn code_ttl_seconds(&self) -> i64 {
        i64::from(self.setup.load().config.code_ttl_seconds)
    }

    /// The counters so far.
    pub fn stats(&self) -> SmsStats {
        let c = &self.counters;
        SmsStats {
            sent: c.sent.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            gateway_failures: c.gateway_failures.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            verified: c.verified.load(Ordering::Relaxed),
            wrong: c.wrong.load(Ordering::Relaxed),
        }
    }

    /// Sends a new code for `purpose` to the account's number (replacing an earlier code of that purpose), if
    /// the rate limits allow. On a gateway failure no usable code is left.
    pub async fn send_code(
        &self,
        account: &Account,
        purpose: SmsPurpose,
        language: Language,
        now: i64,
    ) -> Result<SmsSent, SmsError> {
        let phone = account.phone.as_deref().filter(|p| !p.is_empty());
        let refusal = match (self.enabled(), phone) {
            (false, _) => Some(SmsError::Disabled),
            (true, None) => Some(SmsError::NoPhone),
            (true, Some(_)) => None,
        };
        if let Some(error) = refusal {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            let reason = match error {
                SmsError::Disabled => "disabled",
                _ => "no_phone",
            };
            self.audit_send(account, purpose, now, "refused", reason, None)
                .await;
            return Err(error);
        }
        let phone = phone.unwrap_or_default();
        let masked_phone = mask_phone(phone);
        let code = random_code().ok_or(SmsError::Random)?;
        let code_hash = self.code_hash(&account.id, purpose, code.as_bytes());
        let expires_at = now + self.code_ttl_seconds();
        let new_code = NewSmsCode {
            account_id: account.id.clone(),
            phone: phone.to_owned(),
            purpose,
            code_hash: code_hash.clone(),
            expires_at,
        };
        let limits = SmsLimits {
            min_interval_seconds: i64::from(self.setup.load().config.min_interval_seconds),
            max_per_window: self.setup.load().config.max_per_day,
            window_seconds: DAY_SECONDS,
        };
        match self.store.issue_sms_code(&new_code, &limits, now).await? {
            SmsIssue::Issued => {}
            SmsIssue::RateLimited { next_allowed_at } => {
                self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                tracing::info!(account = %account.id, purpose = purpose.as_str(), next_allowed_at,
                    "SMS code refused: rate limit");
                self.audit_send(
                    account,
                    purpose,
                    now,
                    "refused",
                    "rate_limited",
                    Some(&masked_phone),
                )
                .await;
                return Err(SmsError::RateLimited { next_allowed_at });
            }
        }
        let text = sms_texts::sms_text(&code, self.code_ttl_seconds(), language);
        let sender = self.sender();
        if let Err(error) = sender.send(phone, &text).await {
            self.counters
                .gateway_failures
                .fetch_add(1, Ordering::Relaxed);
            let discarded = self
                .store
                .discard_sms_code(&account.id, purpose, &code_hash)
                .await;
            tracing::warn!(account = %account.id, purpose = purpose.as_str(), to = %masked_phone,
                %error, code_discarded = ?discarded.as_ref().ok(), "SMS code not sent: gateway failure");
            self.audit_send(
                account,
                purpose,
                now,
                "failed",
                "gateway",
                Some(&masked_phone),
            )
            .await;
            discarded?;
            return Err(SmsError::Gateway(error.to_string()));
        }
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        tracing::info!(account = %account.id, purpose = purpose.as_str(), to = %masked_phone, "SMS code sent");
        self.audit_send(account, purpose, now, "sent", "-", Some(&masked_phone))
            .await;
        Ok(SmsSent {
            masked_phone,
            expires_at,
        })
    }

    /// Sends a notice (no code) to the account's number, outside the code quotas: notices follow a password
    /// change, which the quotas of its own purpose already limit. Audited as `sms.notice`.
    pub async fn send_notice(
        &self,
        account: &Account,
        text: &str,
        now: i64,
    ) -> Result<(), SmsError> {
        let phone = account.phone.as_deref().filter(|p| !p.is_empty());
        let (outcome, reason, result) = match (self.enabled(), phone) {
            (false, _) => ("refused", "disabled", Err(SmsError::Disabled)),
            (true, None) => ("refused", "no_phone", Err(SmsError::NoPhone)),
            (true, Some(phone)) => match self.sender().send(phone, text).await {
                Ok(()) => ("sent", "-", Ok(())),
                Err(error) => (
                    "failed",
                    "gateway",
                    Err(SmsError::Gateway(error.to_string())),
                ),
            },
        };
        let detail = serde_json::json!({
            "reason": reason,
            "to": phone.map(mask_phone),
        });
        let event = AuditEvent::new(
            now,
            "sms.notice",
            "sms:notice",
            Some(&account.id),
            outcome,
            detail,
        );
        self.audit.record(event).await;
        result
    }

    /// Checks `code` against the account's outstanding code for `purpose`. The try is counted first (so the
    /// try after `sms.max_attempts` is refused even with the right code); a right code is used up atomically,
    /// so of two racing requests with it exactly one gets [`SmsCheck::Valid`].
    pub async fn verify_code(
        &self,
        account_id: &str,
        purpose: SmsPurpose,
        code: &str,
        now: i64,
    ) -> Result<SmsCheck, SmsError> {
        let check = self.check(account_id, purpose, code, now).await?;
        let counter = match check {
            SmsCheck::Valid => &self.counters.verified,
            _ => &self.counters.wrong,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(check)
    }

    async fn check(
        &self,
        account_id: &str,
        purpose: SmsPurpose,
        code: &str,
        now: i64,
    ) -> Result<SmsCheck, SmsError> {
        let Some(attempt) = self.store.count_sms_attempt(account_id, purpose).await? else {
            return Ok(SmsCheck::NoCode);
        };
        if attempt.expires_at <= now {
            return Ok(SmsCheck::Expired);
        }
        let max = i64::from(self.setup.load().config.max_attempts);
        if attempt.attempts > max {
            return Ok(SmsCheck::TooManyTries);
        }
        // A code sent just before a key rotation was hashed under the previous key.
        let matched = self
            .ring
            .derive_all(SMS_CODE_LABEL)
            .iter()
            .fold(false, |found, key| {
                let typed = code_hash_under(key, account_id, purpose, code.trim().as_bytes());
                found | bool::from(typed.ct_eq(&attempt.code_hash))
            });
        if matched {
            let used = self
                .store
                .consume_sms_code(
                    account_id,
                    purpose,
                    &attempt.code_hash,
                    self.setup.load().config.max_attempts,
                    now,
                )
                .await?;
            return Ok(if used {
                SmsCheck::Valid
            } else {
                SmsCheck::NoCode
            });
        }
        Ok(SmsCheck::Wrong {
            remaining: u32::try_from(max - attempt.attempts).unwrap_or(0),
        })
    }

    /// HMAC-SHA256 of the code under the primary key, bound to the account and purpose.
    fn code_hash(&self, account_id: &str, purpose: SmsPurpose, code: &[u8]) -> Vec<u8> {
        code_hash_under(&self.ring.derive(SMS_CODE_LABEL), account_id, purpose, code)
    }

    async fn audit_send(
        &self,
        account: &Account,
        purpose: SmsPurpose,
        now: i64,
        outcome: &str,
        reason: &str,
        masked_phone: Option<&str>,
    ) {
        let detail = serde_json::json!({
            "purpose": purpose.as_str(),
            "reason": reason,
            "to": masked_phone,
        });
        let actor = format!("sms:{}", purpose.as_str());
        let event = AuditEvent::new(now, "sms.send", &actor, Some(&account.id), outcome, detail);
        self.audit.record(event).await;
    }
}

/// Six decimal digits, uniformly from the operating system's CSPRNG (`None` if it fails).
fn random_code() -> Option<String> {
    // Rejection sampling: 4_294_000_000 is the largest multiple of 1_000_000 below 2^32.
    loop {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).ok()?;
        let value = u32::from_le_bytes(bytes);
        if value < 4_294_000_000 {
            return Some(format!("{:06}", value % 1_000_000));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> =
            (0..200).filter_map(|_| random_code()).collect();
        assert!(codes.len() > 190, "{} distinct codes of 200", codes.len());
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
    }
}
