//! Access-Challenges: issuing one (random State, only its hash stored, bound to account, client, device and
//! expiry) and answering one (taken from the store atomically, so it is single use across nodes).

use crate::store::LoginStore;
use sha2::{Digest, Sha256};

use super::access::{Engine, Outcome};
use super::codes;
use super::messages::Message;
use super::{AccessRequest, Decision, EngineError, RejectReason};
use crate::secrets::SecretBytes;
use crate::store::{Account, ChallengePurpose, Device, NewChallenge};

impl Engine {
    pub(super) async fn challenge(
        &self,
        request: &AccessRequest,
        account: &Account,
        purpose: ChallengePurpose,
        counter: Option<i64>,
        device: &Device,
        now: i64,
    ) -> Result<Outcome, EngineError> {
        let mut state = vec![0u8; 32];
        getrandom::fill(&mut state).map_err(|_| crate::secrets::SecretError::Random)?;
        self.logins
            .create_challenge(
                &NewChallenge {
                    state_hash: Sha256::digest(&state).to_vec(),
                    account_id: account.id.clone(),
                    client: request.client.to_string(),
                    device_id: Some(device.id.clone()),
                    purpose,
                    counter,
                    expires_at: now + self.settings.load().challenge_ttl_seconds,
                },
                now,
            )
            .await?;
        let prompt = match purpose {
            ChallengePurpose::HotpResync => self.text(&Message::EnterNextCode),
            ChallengePurpose::Otp | ChallengePurpose::Sms => self
                .code_prompt(account, device)
                .unwrap_or_else(|| self.text(&Message::EnterCode(codes::code_shape(device)))),
        };
        Ok(Outcome {
            decision: Decision::Challenge {
                state,
                message: prompt,
            },
            account: Some(account.id.clone()),
            commit: None,
        })
    }

    pub(super) async fn continue_challenge(
        &self,
        request: &AccessRequest,
        id: &str,
        state: &[u8],
        answer: &SecretBytes,
        now: i64,
    ) -> Result<Outcome, EngineError> {
        let hash = Sha256::digest(state).to_vec();
        let expired = || self.reject(RejectReason::BadState, &Message::ChallengeExpired, None);
        let Some(challenge) = self.logins.take_challenge(&hash, now).await? else {
            return Ok(expired());
        };
        if challenge.account_id != id || *challenge.client != *request.client {
            return Ok(expired());
        }
        let Some(record) = self.logins.login_record(id).await? else {
            return Ok(expired());
        };
        let account = &record.account;
        if let Some(until) = account.locked_until.filter(|&until| until > now) {
            let message = self.locked(until, now);
            return Ok(self.refuse(RejectReason::Locked, &message, Some(account)));
        }
        let account = match self.directory_current(account).await? {
            Ok(account) => account,
            Err(refused) => return Ok(refused),
        };
        let account = &*account;
        if let Some(refusal) = self.account_refusal(account, now, false) {
            return Ok(refusal);
        }
        if let Some(refused) = self.reserve_attempt(account, now).await? {
            return Ok(refused);
        }
        if let Some(outcome) = self
            .sms_challenge_answer(request, account, &challenge, answer.expose(), now)
            .await?
        {
            return Ok(outcome);
        }
        let device = self
            .login_device(record.device.as_ref(), id, now)
            .await?
            .filter(|d| challenge.device_id.as_deref() == Some(d.id.as_str()));
        let Some(device) = device else {
            return Ok(expired());
        };
        let code = String::from_utf8_lossy(answer.expose()).into_owned();
        match (challenge.purpose, challenge.counter) {
            (ChallengePurpose::HotpResync, Some(counter)) => {
                let (seed, _) = codes::open_seed(&self.key, &device)?;
                let next = counter.saturating_add(1);
                if codes::hotp_matches(&device, &seed, &code, next) {
                    return self
                        .accept_step(request, account, &device, next, &code, now)
                        .await;
                }
                let message = self.bad_code(request, &device);
                self.fail(account, RejectReason::BadCode, message, now)
                    .await
            }
            _ => {
                self.code_step(request, account, Some(&device), &code, now)
                    .await
            }
        }
    }
}
