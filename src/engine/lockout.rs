//! The VPN lockout, counted before comparing: at most `policy.lockout_failures` secrets (passwords, app codes,
//! SMS codes) are ever evaluated per lock window, whatever the concurrency and on any number of nodes.
//!
//! A decision that is about to evaluate a secret first *reserves* an attempt ([`Engine::reserve_attempt`]):
//! one atomic store statement that refuses while the account is locked or while its count already reached
//! the threshold, and otherwise counts the attempt (see `store/lockout.rs` for the rule). What the decision
//! finds then *settles* it, exactly once:
//!
//! - a wrong secret: [`Engine::fail`] locks when the count reached the threshold (no second count);
//! - a full two-factor success: the accept itself, conditional on "not locked" in the same statement as the
//!   replay guard (`LoginStore::record_accepted_login`), or [`Engine::verified_success`] for the accepts that
//!   have no step (a code reused within `otp.reuse_seconds`, an SMS code), which clears the count likewise;
//! - anything else (a right password that leads to a challenge or an SMS, a refusal that needs no secret, a
//!   replayed code, a request shed before its check): the unit is given back when the decision ends
//!   ([`Engine::with_attempt`]).
//!
//! Which of these happened is kept per decision in a task-local slot, so the settlement points stay one call
//! each in the login code.

use crate::store::LoginStore;
use std::cell::Cell;

use super::EngineError;
use super::RejectReason;
use super::access::{Engine, Outcome};
use super::messages::Message;
use crate::store::{Account, Counter, FailureState, LockoutPolicy, Reservation};

/// Where the attempt of the decision running on this task stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Attempt {
    /// Nothing reserved yet, or settled.
    Idle,
    /// Reserved for this account and not settled yet.
    Reserved(String),
}

tokio::task_local! {
    static ATTEMPT: Cell<Attempt>;
}

/// The reserved account of the running decision, leaving the slot idle (settled).
fn take_reserved() -> Option<String> {
    ATTEMPT
        .try_with(|slot| match slot.replace(Attempt::Idle) {
            Attempt::Reserved(id) => Some(id),
            Attempt::Idle => None,
        })
        .ok()
        .flatten()
}

/// `policy`'s thresholds as the store takes them (the VPN and the web counters use the same numbers).
pub(super) fn lockout_policy(policy: &crate::config::PolicyConfig) -> LockoutPolicy {
    LockoutPolicy {
        threshold: policy.lockout_failures,
        lock_seconds: i64::from(policy.lockout_minutes) * 60,
    }
}

impl Engine {
    /// The policy's thresholds, as the store takes them.
    pub(super) fn lockout_policy(&self) -> LockoutPolicy {
        lockout_policy(&self.settings.load().policy)
    }

    /// Runs one decision with its attempt slot; an attempt still reserved when it ends (nothing was found
    /// wrong, and no accept settled it) is given back. A request that failed for the database keeps its unit:
    /// whether its secret was evaluated is not known. One the directory could not answer gives it back: the
    /// asker learns nothing from it, and an outage must not lock everyone who retries.
    pub(super) async fn with_attempt<T>(
        &self,
        decision: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        let (outcome, left) = ATTEMPT
            .scope(Cell::new(Attempt::Idle), async {
                let outcome = decision.await;
                (outcome, take_reserved())
            })
            .await;
        if let Some(id) = left
            && matches!(
                outcome,
                Ok(_) | Err(EngineError::Overloaded | EngineError::Directory(_))
            )
        {
            self.logins.release_attempt(Counter::Vpn, &id).await?;
        }
        outcome
    }

    /// Reserves the attempt of this decision before a secret of `account` is evaluated. `Some` is the Reject
    /// to answer instead (locked, or the account is gone); `None`: go on and evaluate.
    pub(super) async fn reserve_attempt(
        &self,
        account: &Account,
        now: i64,
    ) -> Result<Option<Outcome>, EngineError> {
        if let Some(id) = take_reserved() {
            // A decision reserves once; a second reservation would count one attempt twice.
            self.logins.release_attempt(Counter::Vpn, &id).await?;
        }
        let reservation = self
            .logins
            .reserve_attempt(Counter::Vpn, &account.id, now, self.lockout_policy())
            .await?;
        match reservation {
            Some(Reservation::Granted { .. }) => {
                let _ = ATTEMPT.try_with(|slot| slot.set(Attempt::Reserved(account.id.clone())));
                Ok(None)
            }
            Some(Reservation::Refused { until }) => Ok(Some(self.refuse(
                RejectReason::Locked,
                &self.locked(until, now),
                Some(account),
            ))),
            None => Ok(Some(self.refuse(
                RejectReason::UnknownAccount,
                &Message::BadCredentials,
                None,
            ))),
        }
    }

    /// Settles this decision's attempt as a wrong secret: locks when the count reached the threshold.
    pub(super) async fn settle_failure(
        &self,
        account: &Account,
        now: i64,
    ) -> Result<FailureState, EngineError> {
        take_reserved();
        Ok(self
            .logins
            .settle_failure(Counter::Vpn, &account.id, now, self.lockout_policy())
            .await?)
    }

    /// Settles this decision's attempt as a two-factor success without a replay-guarded step. `Some` is the
    /// Locked Reject to answer instead of the Accept (a lock settled meanwhile, on any node).
    pub(super) async fn verified_success(
        &self,
        account: &Account,
        now: i64,
    ) -> Result<Option<Outcome>, EngineError> {
        take_reserved();
        if self
            .logins
            .settle_success(Counter::Vpn, &account.id, now)
            .await?
        {
            return Ok(None);
        }
        Ok(Some(self.locked_reject(account, now).await?))
    }

    /// The accept of this decision was recorded (the count is cleared with it) or refused: settled either way,
    /// except for a replayed code, whose unit is given back when the decision ends. A refused accept becomes a
    /// Locked Reject when the account is locked at `now`.
    pub(super) async fn settle_commit(
        &self,
        outcome: &mut Outcome,
        account_id: &str,
        won: bool,
        now: i64,
    ) -> Result<(), EngineError> {
        if won {
            take_reserved();
            return Ok(());
        }
        let Some(account) = self.store.account(account_id).await? else {
            return Ok(());
        };
        if let Some(until) = account.locked_until.filter(|&until| until > now) {
            take_reserved();
            *outcome = self.locked_outcome(&account, until, now);
        }
        Ok(())
    }

    async fn locked_reject(&self, account: &Account, now: i64) -> Result<Outcome, EngineError> {
        let fresh = self.store.account(&account.id).await?;
        let until = fresh
            .and_then(|a| a.locked_until)
            .filter(|&until| until > now)
            .unwrap_or(now + self.lockout_policy().lock_seconds);
        Ok(self.locked_outcome(account, until, now))
    }

    fn locked_outcome(&self, account: &Account, until: i64, now: i64) -> Outcome {
        self.reject(
            RejectReason::Locked,
            &self.locked(until, now),
            Some(account),
        )
    }
}
