//! Server-side sessions of the enrollment pages: a random 32-byte ID in a cookie, the data (logged-in account,
//! CSRF token, the step of the account activation / reset pages) kept behind the [`SessionStore`] trait. A
//! session is created only by a successful POST that needs one (a login, a code request or check: anonymous
//! forms are protected by [`super::form_token`] instead), and gets a new ID at every privilege change
//! ([`SessionStore::rotate`]).
//! [`StoreSessions`] keeps them in the database, so every node serving the pages sees every session (what
//! `motpd serve` uses); only the SHA-256 of the cookie value is stored. [`MemorySessions`] is the single-node
//! implementation (lost on restart, not shared) for tests. Sessions expire after [`IDLE_SECONDS`] without
//! use. Times are parameters. No SQL here: the store owns it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::WebError;
use crate::store::{NewWebSession, Store};

/// A session ends after this long without a request.
pub const IDLE_SECONDS: i64 = 15 * 60;
/// The session cookie's name.
pub(crate) const COOKIE: &str = "motpd_session";

/// What a session holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionData {
    /// The logged-in account, once the password was checked.
    pub account_id: Option<String>,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// The state of the account activation / reset pages (their own JSON), if the session is in one.
    pub flow: Option<String>,
}

impl SessionData {
    /// A fresh session (with a new CSRF token) for `account_id`.
    pub fn new(account_id: Option<String>) -> Result<Self, WebError> {
        Ok(Self {
            account_id,
            csrf: random_token()?,
            flow: None,
        })
    }

    /// The same session holding the account pages' state `flow`.
    #[must_use]
    pub fn with_flow(mut self, flow: Option<String>) -> Self {
        self.flow = flow;
        self
    }

    /// Whether `token` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, token: &str) -> bool {
        !token.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(token.as_bytes()))
    }
}

/// Where sessions live.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    /// Stores a new session; returns its ID.
    async fn create(&self, data: SessionData, now: i64) -> Result<String, WebError>;
    /// The session with this ID if it has not expired; its idle deadline moves to `now + IDLE_SECONDS`.
    async fn touch(&self, id: &str, now: i64) -> Result<Option<SessionData>, WebError>;
    /// Ends a session.
    async fn remove(&self, id: &str) -> Result<(), WebError>;
    /// Replaces the session's account-page state (`None` clears it); `false` if the session is gone.
    async fn set_flow(&self, id: &str, flow: Option<&str>, now: i64) -> Result<bool, WebError>;
    /// Clears the account-page state only if it is exactly `flow`, atomically: `true` for the one request
    /// that took it.
    async fn take_flow(&self, id: &str, flow: &str, now: i64) -> Result<bool, WebError>;

    /// Ends session `old` (if any) and stores `data` under a new ID, which it returns: every change of what a
    /// session may do gets a new ID, so a cookie seen or planted before it is worth nothing after it.
    async fn rotate(
        &self,
        old: Option<&str>,
        data: SessionData,
        now: i64,
    ) -> Result<String, WebError> {
        if let Some(old) = old {
            self.remove(old).await?;
        }
        self.create(data, now).await
    }
}

/// Sessions in this process's memory.
#[derive(Debug, Default)]
pub struct MemorySessions {
    sessions: Mutex<HashMap<String, (SessionData, i64)>>,
}

#[async_trait::async_trait]
impl SessionStore for MemorySessions {
    async fn create(&self, data: SessionData, now: i64) -> Result<String, WebError> {
        let id = random_token()?;
        let mut sessions = self.sessions.lock().map_err(|_| WebError::Poisoned)?;
        sessions.retain(|_, (_, expires)| *expires > now);
        sessions.insert(id.clone(), (data, now.saturating_add(IDLE_SECONDS)));
        Ok(id)
    }

    async fn touch(&self, id: &str, now: i64) -> Result<Option<SessionData>, WebError> {
        let mut sessions = self.sessions.lock().map_err(|_| WebError::Poisoned)?;
        let Some((data, expires)) = sessions.get_mut(id) else {
            return Ok(None);
        };
        if *expires <= now {
            sessions.remove(id);
            return Ok(None);
        }
        *expires = now.saturating_add(IDLE_SECONDS);
        Ok(Some(data.clone()))
    }

    async fn remove(&self, id: &str) -> Result<(), WebError> {
        let mut sessions = self.sessions.lock().map_err(|_| WebError::Poisoned)?;
        sessions.remove(id);
        Ok(())
    }

    async fn set_flow(&self, id: &str, flow: Option<&str>, now: i64) -> Result<bool, WebError> {
        let mut sessions = self.sessions.lock().map_err(|_| WebError::Poisoned)?;
        Ok(match sessions.get_mut(id) {
            Some((data, expires)) if *expires > now => {
                data.flow = flow.map(str::to_owned);
                true
            }
            _ => false,
        })
    }

    async fn take_flow(&self, id: &str, flow: &str, now: i64) -> Result<bool, WebError> {
        let mut sessions = self.sessions.lock().map_err(|_| WebError::Poisoned)?;
        Ok(match sessions.get_mut(id) {
            Some((data, expires)) if *expires > now && data.flow.as_deref() == Some(flow) => {
                data.flow = None;
                true
            }
            _ => false,
        })
    }
}

/// Sessions in the database, shared by every node on the same store.
#[derive(Debug, Clone)]
pub struct StoreSessions {
    store: Arc<dyn Store>,
}

impl StoreSessions {
    /// Sessions kept in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

/// What the store keys a session by: the SHA-256 of the cookie value.
fn id_hash(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

#[async_trait::async_trait]
impl SessionStore for StoreSessions {
    async fn create(&self, data: SessionData, now: i64) -> Result<String, WebError> {
        let id = random_token()?;
        let hash = id_hash(&id);
        let session = NewWebSession {
            id_hash: hash.clone(),
            account_id: data.account_id,
            csrf: data.csrf,
            expires_at: now.saturating_add(IDLE_SECONDS),
        };
        self.store.create_web_session(&session, now).await?;
        // The cookie is not out yet, so nobody can see the row between the two statements.
        if let Some(flow) = data.flow.as_deref() {
            self.store
                .set_web_session_flow(&hash, Some(flow), now)
                .await?;
        }
        Ok(id)
    }

    async fn touch(&self, id: &str, now: i64) -> Result<Option<SessionData>, WebError> {
        let deadline = now.saturating_add(IDLE_SECONDS);
        let found = self
            .store
            .touch_web_session(&id_hash(id), now, deadline)
            .await?;
        Ok(found.map(|s| SessionData {
            account_id: s.account_id,
            csrf: s.csrf,
            flow: s.flow,
        }))
    }

    async fn remove(&self, id: &str) -> Result<(), WebError> {
        self.store.remove_web_session(&id_hash(id)).await?;
        Ok(())
    }

    async fn set_flow(&self, id: &str, flow: Option<&str>, now: i64) -> Result<bool, WebError> {
        Ok(self
            .store
            .set_web_session_flow(&id_hash(id), flow, now)
            .await?)
    }

    async fn take_flow(&self, id: &str, flow: &str, now: i64) -> Result<bool, WebError> {
        Ok(self
            .store
            .take_web_session_flow(&id_hash(id), flow, now)
            .await?)
    }
}

/// 32 random bytes, hex.
pub(crate) fn random_token() -> Result<String, WebError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| WebError::Random)?;
    Ok(hex::encode(bytes))
}

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn sessions_expire_when_idle_and_touching_extends_them() {
        let store = MemorySessions::default();
        let id = store
            .create(SessionData::new(None).unwrap(), 1000)
            .await
            .unwrap();
        assert_eq!(id.len(), 64);
        assert!(
            store
                .touch(&id, 1000 + IDLE_SECONDS - 1)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .touch(&id, 1000 + 2 * IDLE_SECONDS - 2)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .touch(&id, 1000 + 4 * IDLE_SECONDS)
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.touch("nope", 1000).await.unwrap().is_none());
    }

    #[test]
    fn csrf_and_cookies() {
        let data = SessionData::new(None).unwrap();
        assert!(data.csrf_matches(&data.csrf.clone()));
        assert!(!data.csrf_matches(""));
        assert!(!data.csrf_matches("00"));
        assert_eq!(cookie("a=1; motpd_session=xyz; b=2", COOKIE), Some("xyz"));
        assert_eq!(cookie("a=1", COOKIE), None);
    }
}
