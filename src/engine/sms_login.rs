//! SMS instead of the app at VPN login (RADIUS). In `challenge` mode the code prompt offers the keyword
//! (`sms.keyword`) when SMS is allowed for the account; answering it sends a code and returns a new
//! Access-Challenge ("code sent to 0912-***-678, valid 2 minutes") whose answer is the SMS code. In
//! `password+otp` mode the password followed by the keyword (`Nurse2024sms`) leads to the same challenge.
//!
//! SMS is allowed for an account when `sms.provider` is not `none`, the account has a mobile number, and its
//! switch (`motpd user set ID --sms-fallback on|off|default`, default: `sms.allow_vpn_fallback`) is on. It is
//! meant for VPN login without the phone app, so it also serves accounts that have no device bound: after the
//! enforcement date such an account is not refused outright but offered SMS (and reminded to register). Before
//! that date the password alone still suffices, as without SMS.
//!
//! For `policy.sms_pause_hours_after_reset` after the account's password was reset or first set on the account
//! pages, no code is sent or accepted here (the phone alone must not lead from a reset to a login): the user
//! reads that SMS is unavailable, the audit trail `sms_paused`.
//!
//! A wrong SMS code counts as a failed login (lockout, counted before the code is compared: `lockout.rs`) and,
//! while the code has tries left, is answered with a
//! new challenge; the code completes exactly one login. A refused or failed send is a Reject saying why.

use crate::store::LoginStore;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::access::{Engine, Outcome};
use super::sms::{SmsCheck, SmsError, SmsPurpose, SmsService};
use super::sms_texts;
use super::{AccessRequest, Decision, EngineError, RejectReason};
use crate::config::AuthMode;
use crate::store::{Account, Challenge, ChallengePurpose, Device, NewChallenge};

impl Engine {
    /// The SMS service if SMS may replace the app for `account` at the VPN.
    pub(super) fn sms_for(&self, account: &Account) -> Option<&Arc<SmsService>> {
        self.sms
            .as_ref()
            .filter(|sms| sms.vpn_fallback_allowed(account))
    }

    /// The code prompt in `challenge` mode, offering the keyword when SMS is allowed.
    pub(super) fn code_prompt(&self, account: &Account, device: &Device) -> Option<String> {
        let sms = self.sms_for(account)?;
        Some(sms_texts::enter_code_or_keyword(
            sms.config().keyword.trim(),
            super::codes::code_shape(device),
            self.settings.load().language,
        ))
    }

    /// `password+otp`: the typed text is the password followed by the keyword and the password is right → send
    /// a code. `None` when the text does not end with the keyword (the caller goes on as usual). A text that
    /// ends with it is checked as password + keyword only: one hash, like every other login, so a password
    /// of its own ending in the keyword cannot be typed alone here.
    pub(super) async fn password_then_keyword(
        &self,
        request: &AccessRequest,
        account: &Account,
        typed: &[u8],
        now: i64,
    ) -> Result<Option<Outcome>, EngineError> {
        let Some(sms) = self.sms_for(account) else {
            return Ok(None);
        };
        let config = sms.config();
        let keyword = config.keyword.trim().as_bytes();
        let Some(at) = typed.len().checked_sub(keyword.len()).filter(|&at| at > 0) else {
            return Ok(None);
        };
        let (password, tail) = typed.split_at(at);
        if !tail.eq_ignore_ascii_case(keyword) {
            return Ok(None);
        }
        let account = match self.vpn_password(account, password, now).await? {
            Ok(account) => account,
            Err(refused) => return Ok(Some(refused)),
        };
        let account = &*account;
        if let Some(refusal) = self.account_refusal(account, now, false) {
            return Ok(Some(refusal));
        }
        self.send_login_code(request, account, now).await.map(Some)
    }

    /// No device bound. Before the enforcement date: the usual password-only Accept. After it, with SMS allowed:
    /// `challenge` mode asks for the keyword; `password+otp` mode refuses, telling to type password + keyword.
    pub(super) async fn without_device_at_vpn(
        &self,
        request: &AccessRequest,
        account: &Account,
        now: i64,
    ) -> Result<Outcome, EngineError> {
        let sms = match self.sms_for(account) {
            Some(sms) if self.enforced(now) => sms,
            _ => return Ok(self.without_device(account, now)),
        };
        let keyword = sms.config().keyword.trim().to_owned();
        let url = self.enroll_url();
        if request.mode == AuthMode::Challenge {
            let prompt = sms_texts::keyword_only(&keyword, &url, self.settings.load().language);
            return self
                .sms_challenge(request, account, ChallengePurpose::Otp, prompt, now)
                .await;
        }
        if !self.settings.load().detailed_reasons {
            // Only the password was verified: it reads like any other failure.
            return Ok(self.refuse(
                RejectReason::NotEnrolled,
                &super::messages::Message::NotEnrolled(url),
                Some(account),
            ));
        }
        Ok(self.sms_reject(
            RejectReason::NotEnrolled,
            sms_texts::password_then_keyword(&keyword, &url, self.settings.load().language),
            account,
        ))
    }

    /// Answers a challenge that involves SMS: the keyword at a code prompt, or the SMS code itself. `None` when
    /// the challenge is the app's alone (the caller goes on as usual).
    pub(super) async fn sms_challenge_answer(
        &self,
        request: &AccessRequest,
        account: &Account,
        challenge: &Challenge,
        answer: &[u8],
        now: i64,
    ) -> Result<Option<Outcome>, EngineError> {
        match challenge.purpose {
            ChallengePurpose::Sms => self
                .check_login_code(request, account, answer, now)
                .await
                .map(Some),
            ChallengePurpose::Otp => {
                let keyword = self
                    .sms_for(account)
                    .is_some_and(|sms| sms.is_keyword(answer));
                if keyword {
                    return self.send_login_code(request, account, now).await.map(Some);
                }
                if challenge.device_id.is_none() {
                    // A keyword-only prompt (no device) answered with something else.
                    let outcome = self
                        .fail(
                            account,
                            RejectReason::BadCode,
                            super::messages::Message::BadCode {
                                shape: super::messages::SMS_CODE,
                                after_password: false,
                            },
                            now,
                        )
                        .await?;
                    return Ok(Some(outcome));
                }
                Ok(None)
            }
            ChallengePurpose::HotpResync => Ok(None),
        }
    }

    /// Sends a login code and asks for it; a refused or failed send is a Reject saying why.
    async fn send_login_code(
        &self,
        request: &AccessRequest,
        account: &Account,
        now: i64,
    ) -> Result<Outcome, EngineError> {
        let Some(sms) = self.sms_for(account) else {
            return Ok(self.sms_reject(
                RejectReason::SmsUnavailable,
                sms_texts::disabled_text(self.settings.load().language),
                account,
            ));
        };
        if let Some(paused) = self.sms_pause(account, now).await? {
            return Ok(paused);
        }
        let language = self.settings.load().language;
        match sms
            .send_code(account, SmsPurpose::Login, language, now)
            .await
        {
            Ok(sent) => {
                let prompt =
                    sms_texts::code_sent(&sent.masked_phone, sms.code_ttl_seconds(), language);
                self.sms_challenge(request, account, ChallengePurpose::Sms, prompt, now)
                    .await
            }
            Err(SmsError::Store(error)) => Err(error.into()),
            Err(error) => Ok(self.sms_reject(
                RejectReason::SmsUnavailable,
                error.user_message(language, now, self.settings.load().policy.utc_offset),
                account,
            )),
        }
    }

    /// Checks the SMS code answering an SMS challenge.
    async fn check_login_code(
        &self,
        request: &AccessRequest,
        account: &Account,
        answer: &[u8],
        now: i64,
    ) -> Result<Outcome, EngineError> {
        // The account's switch or number may have changed since the code was sent: it must still allow SMS.
        let Some(sms) = self.sms_for(account) else {
            return Ok(self.sms_reject(
                RejectReason::SmsUnavailable,
                sms_texts::disabled_text(self.settings.load().language),
                account,
            ));
        };
        if let Some(paused) = self.sms_pause(account, now).await? {
            return Ok(paused);
        }
        let code = String::from_utf8_lossy(answer);
        let check = match sms
            .verify_code(&account.id, SmsPurpose::Login, &code, now)
            .await
        {
            Ok(check) => check,
            Err(SmsError::Store(error)) => return Err(error.into()),
            Err(_) => SmsCheck::NoCode,
        };
        let language = self.settings.load().language;
        match check {
            SmsCheck::Valid => {
                if let Some(locked) = self.verified_success(account, now).await? {
                    return Ok(locked);
                }
                Ok(Outcome {
                    decision: Decision::Accept {
                        groups: account.groups.clone(),
                        message: None,
                    },
                    account: Some(account.id.clone()),
                    commit: None,
                })
            }
            SmsCheck::Wrong { remaining } if remaining > 0 => {
                let state = self.settle_failure(account, now).await?;
                if let Some(until) = state.locked_until.filter(|&until| until > now) {
                    return Ok(self.refuse(
                        RejectReason::Locked,
                        &self.locked(until, now),
                        Some(account),
                    ));
                }
                let prompt = sms_texts::wrong_sms_code(remaining, language);
                self.sms_challenge(request, account, ChallengePurpose::Sms, prompt, now)
                    .await
            }
            SmsCheck::Wrong { .. }
            | SmsCheck::Expired
            | SmsCheck::TooManyTries
            | SmsCheck::NoCode => {
                let failed = self
                    .fail(
                        account,
                        RejectReason::BadCode,
                        super::messages::Message::BadCode {
                            shape: super::messages::SMS_CODE,
                            after_password: false,
                        },
                        now,
                    )
                    .await?;
                // Keep a lock message if this failure locked the account; otherwise say the code is unusable.
                Ok(match failed.decision {
                    Decision::Reject {
                        reason: RejectReason::Locked,
                        ..
                    } => failed,
                    _ => self.sms_reject(
                        RejectReason::BadCode,
                        sms_texts::sms_code_unusable(language),
                        account,
                    ),
                })
            }
        }
    }

    /// A Reject while the account's SMS fallback is paused after a reset or an activation on the account pages,
    /// or after the password was set at the directory (whose reset process may prove itself by the same
    /// phone): the user is told SMS is unavailable, the audit trail says `sms_paused`.
    async fn sms_pause(&self, account: &Account, now: i64) -> Result<Option<Outcome>, EngineError> {
        let mut paused = self
            .store
            .sms_paused_until(&account.id)
            .await?
            .is_some_and(|until| until > now);
        let pause = i64::from(self.settings.load().policy.sms_pause_hours_after_reset) * 3600;
        if !paused && pause > 0 {
            paused = self
                .passwords
                .directory_entry(&account.id)
                .await?
                .and_then(|entry| entry.password_changed_at)
                .is_some_and(|at| at.saturating_add(pause) > now);
        }
        Ok(paused.then(|| {
            self.sms_reject(
                RejectReason::SmsPaused,
                sms_texts::disabled_text(self.settings.load().language),
                account,
            )
        }))
    }

    /// Issues a challenge without a device: SMS code (or keyword) expected, valid as long as the code.
    async fn sms_challenge(
        &self,
        request: &AccessRequest,
        account: &Account,
        purpose: ChallengePurpose,
        prompt: String,
        now: i64,
    ) -> Result<Outcome, EngineError> {
        let mut state = vec![0u8; 32];
        getrandom::fill(&mut state).map_err(|_| crate::secrets::SecretError::Random)?;
        let code_ttl = self.sms.as_ref().map_or(0, |sms| sms.code_ttl_seconds());
        self.logins
            .create_challenge(
                &NewChallenge {
                    state_hash: Sha256::digest(&state).to_vec(),
                    account_id: account.id.clone(),
                    client: request.client.to_string(),
                    device_id: None,
                    purpose,
                    counter: None,
                    expires_at: now + self.settings.load().challenge_ttl_seconds.max(code_ttl),
                },
                now,
            )
            .await?;
        Ok(Outcome {
            decision: Decision::Challenge {
                state,
                message: prompt,
            },
            account: Some(account.id.clone()),
            commit: None,
        })
    }

    fn sms_reject(&self, reason: RejectReason, message: String, account: &Account) -> Outcome {
        Outcome {
            decision: Decision::Reject { reason, message },
            account: Some(account.id.clone()),
            commit: None,
        }
    }
}
