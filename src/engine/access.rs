//! The login decision for one Access-Request: account rules, password, code, replay, lockout, challenge and the
//! enforcement date. Every decision is logged once and written to the audit trail (never the password or code).

use std::sync::Arc;
use std::time::Instant;

use super::audit_sink::AuditSink;
use super::codes::{self, CodeCheck};
use super::messages::Message;
use super::passwords::{PasswordAuthority, PasswordChecker};
use super::settings::LiveSettings;
use super::sms::SmsService;
use super::{AccessHandler, AccessRequest, AccountingRecord, Decision, EngineError, RejectReason};
use crate::account_rules::normalize_id;
use crate::audit::AuditEvent;
use crate::clock::{Clock, local_date};
use crate::config::AuthMode;
use crate::runtime::hashing::HashingPool;
use crate::secrets::{Keyring, SecretBytes};

/// The label of the reuse fingerprints' key derived from a master key.
const REUSE_LABEL: &[u8] = b"motpd reuse fingerprint v1";
use crate::store::{
    AcceptedLogin, Account, AccountStatus, AccountingEntry, ChallengePurpose, Device, Store,
};
use crate::store::{LoginStore, Logins, Stores};

/// The decision engine.
#[derive(Debug)]
pub struct Engine {
    pub(super) store: Arc<dyn Store>,
    /// The login path: account records, lockout reservations, challenges.
    pub(super) logins: Arc<Logins>,
    pub(super) key: Arc<Keyring>,
    clock: Arc<dyn Clock>,
    pub(super) settings: LiveSettings,
    audit: AuditSink,
    pub(super) passwords: PasswordChecker,
    /// Reuse fingerprints: made under the primary key, checked under every key (see `reuse_allowed`).
    reuse_ring: Arc<Keyring>,
    /// SMS instead of the app (see `sms_login.rs`); `None`: never offered.
    pub(super) sms: Option<Arc<SmsService>>,
    /// Where the notice of a mailed seed's activation goes (see `mailed_seed.rs`); `None`: no notice.
    pub(super) notices: Option<Arc<super::device_notice::DeviceNotices>>,
}

/// What [`Engine::decide`] found, for the audit record.
pub(super) struct Outcome {
    pub(super) decision: Decision,
    pub(super) account: Option<String>,
    /// An Accept's code step, still to be recorded by the replay guard ([`Engine::commit_accept`]): with its
    /// audit row, when the store writes that in the same transaction.
    pub(super) commit: Option<AcceptedLogin>,
}

impl Engine {
    /// An engine over `store`. Password hashing runs on the threads of `hashing`.
    pub fn new(
        stores: &Stores,
        key: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        settings: impl Into<LiveSettings>,
        audit: AuditSink,
        hashing: HashingPool,
    ) -> Self {
        let reuse_ring = key.clone();
        Self {
            passwords: PasswordChecker::new(stores.store.clone(), hashing),
            store: stores.store.clone(),
            logins: stores.logins.clone(),
            key,
            clock,
            settings: settings.into(),
            audit,
            reuse_ring,
            sms: None,
            notices: None,
        }
    }

    /// The engine checking passwords where `authority` says they live (default: motpd's own).
    #[must_use]
    pub fn with_password_authority(mut self, authority: PasswordAuthority) -> Self {
        self.passwords.authority = authority;
        self
    }

    /// The engine with SMS login offered through `sms` (when allowed for the account).
    pub fn with_sms(mut self, sms: Arc<SmsService>) -> Self {
        self.sms = Some(sms);
        self
    }

    pub(super) fn text(&self, message: &Message) -> String {
        message.text(self.settings.load().language)
    }

    pub(super) fn reject(
        &self,
        reason: RejectReason,
        message: &Message,
        account: Option<&Account>,
    ) -> Outcome {
        Outcome {
            decision: Decision::Reject {
                reason,
                message: self.text(message),
            },
            account: account.map(|a| a.id.clone()),
            commit: None,
        }
    }

    /// A refusal before both factors are verified: its own text only with `radius.detailed_reasons`, else the
    /// one text every such failure shares, so the reply confirms neither a password nor an account (the log
    /// and the audit trail keep `reason`).
    pub(super) fn refuse(
        &self,
        reason: RejectReason,
        message: &Message,
        account: Option<&Account>,
    ) -> Outcome {
        if self.settings.load().detailed_reasons {
            return self.reject(reason, message, account);
        }
        let base = self.settings.load().public_url.clone();
        let message = if self.passwords.authority.stores_passwords() {
            Message::LoginFailed(base)
        } else {
            Message::LoginFailedNoActivation(base)
        };
        self.reject(reason, &message, account)
    }

    /// Spends one password check's time on a refusal that needs none (a hash, or a directory search), so that
    /// it takes as long as a wrong password (modes without a password at motpd spend nothing for anyone).
    pub(super) async fn equalise_time(&self, request: &AccessRequest, password: &SecretBytes) {
        if request.mode != AuthMode::OtpOnly {
            self.passwords.burn_time(&request.user_name, password).await;
        }
    }

    pub(super) fn enforced(&self, now: i64) -> bool {
        let settings = self.settings.load();
        let today = local_date(now, settings.policy.utc_offset);
        settings
            .policy
            .enforce_after
            .is_none_or(|date| today >= date)
    }

    pub(super) fn enroll_url(&self) -> String {
        format!("{}/enroll", self.settings.load().public_url)
    }

    /// Decides one request at `now`.
    async fn decide(&self, request: &AccessRequest, now: i64) -> Result<Outcome, EngineError> {
        let Some(password) = request.password.as_ref() else {
            return Ok(self.reject(RejectReason::Malformed, &Message::Malformed, None));
        };
        let Ok(id) = normalize_id(&request.user_name) else {
            self.equalise_time(request, password).await;
            return Ok(self.refuse(RejectReason::UnknownAccount, &Message::BadCredentials, None));
        };
        if let Some(state) = &request.state {
            return self
                .continue_challenge(request, &id, state, password, now)
                .await;
        }
        let Some(record) = self.logins.login_record(&id).await? else {
            self.equalise_time(request, password).await;
            return Ok(self.refuse(RejectReason::UnknownAccount, &Message::BadCredentials, None));
        };
        let account = &record.account;
        if let Some(until) = account.locked_until.filter(|&until| until > now) {
            self.equalise_time(request, password).await;
            let message = self.locked(until, now);
            return Ok(self.refuse(RejectReason::Locked, &message, Some(account)));
        }
        if self.passwords.awaits_activation(account) {
            self.equalise_time(request, password).await;
            let message = Message::NotActivated(format!(
                "{}/account/activate",
                self.settings.load().public_url
            ));
            return Ok(self.refuse(RejectReason::NotActivated, &message, Some(account)));
        }
        let device = self
            .login_device(record.device.as_ref(), &account.id, now)
            .await?;
        let device = device.as_deref();
        if let Some(refused) = self.reserve_attempt(account, now).await? {
            self.equalise_time(request, password).await;
            return Ok(refused);
        }
        match request.mode {
            AuthMode::PasswordOtp => {
                self.password_and_code(request, account, device, password, now)
                    .await
            }
            AuthMode::OtpOnly => {
                let account = match self.directory_current(account).await? {
                    Ok(account) => account,
                    Err(refused) => return Ok(refused),
                };
                let code = String::from_utf8_lossy(password.expose()).into_owned();
                self.code_step(request, &account, device, &code, now).await
            }
            AuthMode::Challenge => {
                let account = match self.vpn_password(account, password.expose(), now).await? {
                    Ok(account) => account,
                    Err(refused) => return Ok(refused),
                };
                let account = &*account;
                if let Some(refusal) = self.account_refusal(account, now, false) {
                    return Ok(refusal);
                }
                match device {
                    None => self.without_device_at_vpn(request, account, now).await,
                    Some(device) => {
                        self.challenge(request, account, ChallengePurpose::Otp, None, device, now)
                            .await
                    }
                }
            }
        }
    }

    async fn password_and_code(
        &self,
        request: &AccessRequest,
        account: &Account,
        device: Option<&Device>,
        typed: &SecretBytes,
        now: i64,
    ) -> Result<Outcome, EngineError> {
        let typed = typed.expose();
        if let Some(outcome) = self
            .password_then_keyword(request, account, typed, now)
            .await?
        {
            return Ok(outcome);
        }
        let split = device.map(|d| typed.len().saturating_sub(codes::code_len(d)));
        let (password, code) = match split {
            Some(at) if at > 0 => (typed.get(..at).unwrap_or_default(), typed.get(at..)),
            Some(_) => (typed, None),
            None => (typed, None),
        };
        let account = match self.vpn_password(account, password, now).await? {
            Ok(account) => account,
            Err(refused) => return Ok(refused),
        };
        let account = &*account;
        match (device, code) {
            (None, _) => self.without_device_at_vpn(request, account, now).await,
            (Some(device), None) => {
                let message = self.bad_code(request, device);
                self.fail(account, RejectReason::BadCode, message, now)
                    .await
            }
            (Some(device), Some(code)) => {
                let code = String::from_utf8_lossy(code).into_owned();
                self.code_step(request, account, Some(device), &code, now)
                    .await
            }
        }
    }

    /// Refusals of the account itself: disabled, expired. Told as such once every factor this login needs is
    /// `verified`; before that like any other failure ([`Engine::refuse`]).
    pub(super) fn account_refusal(
        &self,
        account: &Account,
        now: i64,
        verified: bool,
    ) -> Option<Outcome> {
        let tell = |reason, message: &Message| {
            if verified {
                self.reject(reason, message, Some(account))
            } else {
                self.refuse(reason, message, Some(account))
            }
        };
        if account.status == AccountStatus::Disabled {
            return Some(tell(RejectReason::Disabled, &Message::Disabled));
        }
        let today = local_date(now, self.settings.load().policy.utc_offset);
        match account.expires_on {
            Some(last_day) if today > last_day => Some(tell(
                RejectReason::Expired,
                &Message::Expired(last_day.to_string()),
            )),
            _ => None,
        }
    }

    /// The text for a wrong code from `device` (detailed reasons only: see [`Engine::refuse`]).
    pub(super) fn bad_code(&self, request: &AccessRequest, device: &Device) -> Message {
        Message::BadCode {
            shape: codes::code_shape(device),
            after_password: request.mode == AuthMode::PasswordOtp,
        }
    }

    /// No active device: before the enforcement date the password alone is enough (with a reminder).
    pub(super) fn without_device(&self, account: &Account, now: i64) -> Outcome {
        if self.enforced(now) {
            // Only the password was verified: it reads like any other failure.
            return self.refuse(
                RejectReason::NotEnrolled,
                &Message::NotEnrolled(self.enroll_url()),
                Some(account),
            );
        }
        let date = self
            .settings
            .load()
            .policy
            .enforce_after
            .map(|d| d.to_string())
            .unwrap_or_default();
        let reminder = Message::RegisterReminder {
            date,
            url: self.enroll_url(),
        };
        Outcome {
            decision: Decision::Accept {
                groups: account.groups.clone(),
                message: Some(self.text(&reminder)),
            },
            account: Some(account.id.clone()),
            commit: None,
        }
    }

    pub(super) async fn code_step(
        &self,
        request: &AccessRequest,
        account: &Account,
        device: Option<&Device>,
        code: &str,
        now: i64,
    ) -> Result<Outcome, EngineError> {
        let Some(device) = device else {
            if let Some(refusal) = self.account_refusal(account, now, false) {
                return Ok(refusal);
            }
            return Ok(self.without_device(account, now));
        };
        let (seed, pin) = codes::open_seed(&self.key, device)?;
        match codes::check_code(
            device,
            &seed,
            pin.as_ref(),
            code,
            now,
            &self.settings.load().otp,
        ) {
            CodeCheck::Valid(step) => {
                if let Some(refusal) = self.account_refusal(account, now, true) {
                    return Ok(refusal);
                }
                self.accept_step(request, account, device, step, code, now)
                    .await
            }
            CodeCheck::Replayed(step) => {
                if let Some(refusal) = self.account_refusal(account, now, true) {
                    return Ok(refusal);
                }
                if self.reuse_allowed(request, device, step, code, now) {
                    if let Some(locked) = self.verified_success(account, now).await? {
                        return Ok(locked);
                    }
                    return Ok(self.accept(account));
                }
                Ok(self.reject(RejectReason::Replayed, &Message::Replayed, Some(account)))
            }
            CodeCheck::HotpOutOfStep(counter) => {
                self.challenge(
                    request,
                    account,
                    ChallengePurpose::HotpResync,
                    Some(counter),
                    device,
                    now,
                )
                .await
            }
            CodeCheck::Invalid => {
                let message = self.bad_code(request, device);
                self.fail(account, RejectReason::BadCode, message, now)
                    .await
            }
        }
    }

    pub(super) async fn accept_step(
        &self,
        request: &AccessRequest,
        account: &Account,
        device: &Device,
        step: i64,
        code: &str,
        now: i64,
    ) -> Result<Outcome, EngineError> {
        if device.state == crate::store::DeviceState::Pending {
            return self
                .activate_mailed_seed(request, account, device, step, now)
                .await;
        }
        let login = AcceptedLogin {
            account_id: account.id.clone(),
            device_id: device.id.clone(),
            step,
            now,
            fingerprint: Some(self.fingerprint(request, device, step, code)),
            audit: None,
        };
        // Recorded by `commit_accept` once the decision is complete, so that its audit row can go with it.
        Ok(Outcome {
            commit: Some(login),
            ..self.accept(account)
        })
    }

    /// Records the step of an Accept with the replay guard: the step, the success bookkeeping and the Accept's
    /// audit row, all stored before the answer (see [`LoginStore::record_accepted_login`]). If another request
    /// (or node) accepted this step first, the outcome becomes a "code already used" Reject. Returns whether
    /// the outcome's audit row is stored.
    async fn commit_accept(
        &self,
        request: &AccessRequest,
        outcome: &mut Outcome,
        mut login: AcceptedLogin,
        now: i64,
        started: Instant,
    ) -> Result<bool, EngineError> {
        login.audit = Some(self.decision_event(request, outcome, now, elapsed_us(started)));
        let account_id = login.account_id.clone();
        let committing = Instant::now();
        let committed = self.logins.record_accepted_login(login).await;
        if let Some(metrics) = crate::monitoring::global() {
            metrics.store_commit.record(committing.elapsed());
        }
        if committed? {
            self.settle_commit(outcome, &account_id, true, now).await?;
            return Ok(true);
        }
        outcome.decision = Decision::Reject {
            reason: RejectReason::Replayed,
            message: self.text(&Message::Replayed),
        };
        self.settle_commit(outcome, &account_id, false, now).await?;
        Ok(false)
    }

    fn accept(&self, account: &Account) -> Outcome {
        Outcome {
            decision: Decision::Accept {
                groups: account.groups.clone(),
                message: None,
            },
            account: Some(account.id.clone()),
            commit: None,
        }
    }

    /// The keyed fingerprint of this use of `code` (client, Calling-Station-Id, device, step).
    fn fingerprint(
        &self,
        request: &AccessRequest,
        device: &Device,
        step: i64,
        code: &str,
    ) -> Vec<u8> {
        self.fingerprint_under(
            &self.reuse_ring.derive(REUSE_LABEL),
            request,
            device,
            step,
            code,
        )
    }

    fn fingerprint_under(
        &self,
        key: &SecretBytes,
        request: &AccessRequest,
        device: &Device,
        step: i64,
        code: &str,
    ) -> Vec<u8> {
        let station = request.calling_station_id.as_deref();
        codes::use_fingerprint(key, &request.client, station, &device.id, step, code)
    }

    fn reuse_allowed(
        &self,
        request: &AccessRequest,
        device: &Device,
        step: i64,
        code: &str,
        now: i64,
    ) -> bool {
        let window = i64::from(self.settings.load().otp.reuse_seconds);
        if window == 0 || device.last_step != Some(step) {
            return false;
        }
        let recent = device.last_used_at.is_some_and(|at| now - at <= window);
        // A fingerprint stored just before a key rotation was made under the previous key.
        recent
            && device
                .last_use_fingerprint
                .as_deref()
                .is_some_and(|stored| {
                    self.reuse_ring.derive_all(REUSE_LABEL).iter().any(|key| {
                        let expected = self.fingerprint_under(key, request, device, step, code);
                        codes::same_fingerprint(stored, &expected)
                    })
                })
    }

    /// Settles the decision's attempt as a failure (`lockout.rs`); the message becomes "locked until" when
    /// this failure locks the account.
    pub(super) async fn fail(
        &self,
        account: &Account,
        reason: RejectReason,
        message: Message,
        now: i64,
    ) -> Result<Outcome, EngineError> {
        let state = self.settle_failure(account, now).await?;
        let message = match state.locked_until.filter(|&until| until > now) {
            Some(until) => self.locked(until, now),
            None => message,
        };
        Ok(self.refuse(reason, &message, Some(account)))
    }

    pub(super) fn locked(&self, until: i64, now: i64) -> Message {
        let offset = self.settings.load().policy.utc_offset;
        // An admin lock ends at the last second of year 9999, which +08:00 would carry past the calendar:
        // every conversion is checked.
        let at = time::OffsetDateTime::from_unix_timestamp(until)
            .ok()
            .and_then(|t| t.checked_to_offset(offset));
        let text = match at {
            _ if until.saturating_sub(now) > 366 * 86_400 => crate::texts::Phrase::UntilItUnlocks
                .text(self.settings.load().language)
                .to_owned(),
            Some(t) if t.date() == local_date(now, offset) => {
                format!("{:02}:{:02}", t.hour(), t.minute())
            }
            Some(t) => format!("{} {:02}:{:02}", t.date(), t.hour(), t.minute()),
            None => "-".to_owned(),
        };
        Message::Locked(text)
    }

    /// The log line of a decision (once per request, with its final outcome).
    fn log_decision(&self, request: &AccessRequest, outcome: &Outcome, micros: u64) {
        let (label, reason) = labels(&outcome.decision);
        let nas_ip = request.nas_ip.map(|ip| ip.to_string());
        tracing::info!(
            client = %request.client, user = %request.user_name, outcome = label,
            reason = reason.unwrap_or("-"), latency_us = micros,
            nas_ip = nas_ip.as_deref().unwrap_or("-"),
            calling_station = request.calling_station_id.as_deref().unwrap_or("-"),
            "access decision"
        );
    }

    /// The audit row of a decision taken in `micros` microseconds.
    fn decision_event(
        &self,
        request: &AccessRequest,
        outcome: &Outcome,
        now: i64,
        micros: u64,
    ) -> AuditEvent {
        let (label, reason) = labels(&outcome.decision);
        let user: std::borrow::Cow<'_, str> = match request.user_name.char_indices().nth(64) {
            Some((end, _)) => request.user_name.get(..end).unwrap_or_default().into(),
            None => request.user_name.as_str().into(),
        };
        // Fields in alphabetical order, as a JSON object map would write them.
        let detail = AuthDetail {
            calling_station_id: request.calling_station_id.as_deref(),
            latency_us: micros,
            mode: request.mode.as_str(),
            nas_identifier: request.nas_identifier.as_deref(),
            nas_ip: request.nas_ip,
            reason,
            user: &user,
        };
        AuditEvent {
            at: now,
            kind: "radius.auth".to_owned(),
            actor: format!("radius:{}", request.client),
            account_id: outcome.account.clone(),
            outcome: label.to_owned(),
            detail: serde_json::to_string(&detail).unwrap_or_else(|_| "{}".to_owned()),
        }
    }

    /// Waits until every audit event so far is stored (tests, shutdown).
    pub async fn flush_audit(&self) {
        self.audit.flush().await;
    }
}

/// The outcome and the reason of a decision, as the log and the audit trail name them.
fn labels(decision: &Decision) -> (&'static str, Option<&'static str>) {
    match decision {
        Decision::Accept { .. } => ("accept", None),
        Decision::Reject { reason, .. } => ("reject", Some(reason.as_str())),
        Decision::Challenge { .. } => ("challenge", None),
    }
}

fn elapsed_us(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// The audit detail of one decision (written straight from borrowed fields: one allocation for the JSON).
#[derive(serde::Serialize)]
struct AuthDetail<'a> {
    calling_station_id: Option<&'a str>,
    latency_us: u64,
    mode: &'a str,
    nas_identifier: Option<&'a str>,
    nas_ip: Option<std::net::IpAddr>,
    reason: Option<&'a str>,
    user: &'a str,
}

#[async_trait::async_trait]
impl AccessHandler for Engine {
    async fn access(&self, request: &AccessRequest) -> Result<Decision, EngineError> {
        let started = Instant::now();
        let now = self.clock.now();
        let (outcome, audited) = self
            .with_attempt(async {
                let mut outcome = self.decide(request, now).await?;
                let audited = match outcome.commit.take() {
                    Some(login) => {
                        self.commit_accept(request, &mut outcome, login, now, started)
                            .await?
                    }
                    None => false,
                };
                Ok((outcome, audited))
            })
            .await?;
        let micros = elapsed_us(started);
        self.log_decision(request, &outcome, micros);
        if !audited {
            let event = self.decision_event(request, &outcome, now, micros);
            self.audit.record(event).await;
        }
        Ok(outcome.decision)
    }

    fn reply_language(&self) -> Option<crate::config::Language> {
        Some(self.settings.load().language)
    }

    async fn accounting(&self, record: AccountingRecord) -> Result<(), EngineError> {
        let entry = AccountingEntry {
            client: record.client,
            user_name: record.user_name,
            status_type: record.status_type,
            session_id: record.session_id,
            nas_ip: record.nas_ip.map(|ip| ip.to_string()),
            calling_station_id: record.calling_station_id,
        };
        self.store
            .record_accounting(&entry, self.clock.now())
            .await?;
        Ok(())
    }
}
