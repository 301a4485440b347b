//! CSRF protection of the anonymous forms (the `/enroll` login, the first steps of the account pages) without
//! any server state: a signed double-submit cookie. The cookie holds an issue time, a random nonce and an
//! optional small state of the form (the account pages' typed account), signed with HMAC-SHA256 under a key
//! derived from the master key; the form carries the nonce. A POST is accepted when the cookie's signature is
//! valid, it is younger than [`TTL_SECONDS`], and the form's nonce equals the cookie's (constant time).
//!
//! So a visitor who has posted nothing costs no store write: the server-side session
//! ([`super::session`]) is created only by the first successful POST that needs one. Every node with the same
//! master key accepts every node's cookies. Pure apart from the random nonce; times are parameters.

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::WebError;
use super::session::random_token;
use crate::secrets::{Keyring, SecretBytes};

/// The cookie's name.
pub(crate) const COOKIE: &str = "motpd_form";
/// How long a form cookie is accepted after it was issued.
pub(crate) const TTL_SECONDS: i64 = 2 * 60 * 60;
/// A cookie issued further in the future than this is refused (clock skew between nodes).
const FUTURE_SKEW_SECONDS: i64 = 60;
/// The longest form state kept (a typed account's JSON is far shorter); keeps the cookie small.
const MAX_STATE_BYTES: usize = 512;
/// The master key's label for this key.
const LABEL: &[u8] = b"motpd web form token v1";

/// The signing keys of the form cookies: the primary key's signs, every key's verifies (a cookie issued just
/// before a key rotation stays valid).
#[derive(Debug, Clone)]
pub(crate) struct FormKey(Arc<Keyring>);

impl FormKey {
    /// The form keys derived from the keyring's master keys.
    pub(crate) fn derive(master: &Arc<Keyring>) -> Self {
        Self(master.clone())
    }

    fn mac(key: &SecretBytes, payload: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(payload.as_bytes());
        mac
    }
}

/// A verified (or freshly issued) form cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FormToken {
    issued_at: i64,
    nonce: String,
    /// The form's own state, if any (the account pages keep their flow here before a session exists).
    pub(crate) state: Option<String>,
}

impl FormToken {
    /// A new token issued at `now`, without state.
    pub(crate) fn issue(now: i64) -> Result<Self, WebError> {
        Ok(Self {
            issued_at: now,
            nonce: random_token()?,
            state: None,
        })
    }

    /// The same token (same nonce, so open forms stay valid) with `state`, issued again at `now`.
    pub(crate) fn with_state(&self, state: Option<String>, now: i64) -> Self {
        Self {
            issued_at: now,
            nonce: self.nonce.clone(),
            state: state.filter(|s| s.len() <= MAX_STATE_BYTES),
        }
    }

    /// What the forms carry as their CSRF field.
    pub(crate) fn csrf(&self) -> &str {
        &self.nonce
    }

    /// Whether a form's CSRF field is this token's (constant time).
    pub(crate) fn csrf_matches(&self, field: &str) -> bool {
        !field.is_empty() && bool::from(self.nonce.as_bytes().ct_eq(field.as_bytes()))
    }

    /// Whether the token is old enough to be issued again on the next page (so it never runs out mid-form).
    pub(crate) fn should_renew(&self, now: i64) -> bool {
        now.saturating_sub(self.issued_at) > TTL_SECONDS / 2
    }

    /// The cookie value: `issued.nonce.state-hex.mac-hex`.
    pub(crate) fn encode(&self, key: &FormKey) -> String {
        let payload = self.payload();
        let mac = FormKey::mac(&key.0.derive(LABEL), &payload)
            .finalize()
            .into_bytes();
        format!("{payload}.{}", hex::encode(mac))
    }

    /// The token in a cookie value if its signature is valid and it is not expired at `now`.
    pub(crate) fn decode(value: &str, key: &FormKey, now: i64) -> Option<Self> {
        let (payload, mac_hex) = value.rsplit_once('.')?;
        let mac = hex::decode(mac_hex).ok()?;
        let signed = key
            .0
            .derive_all(LABEL)
            .iter()
            .any(|k| FormKey::mac(k, payload).verify_slice(&mac).is_ok());
        if !signed {
            return None;
        }
        let mut parts = payload.split('.');
        let issued_at: i64 = parts.next()?.parse().ok()?;
        let nonce = parts.next()?.to_owned();
        let state_hex = parts.next()?;
        if parts.next().is_some() || nonce.is_empty() {
            return None;
        }
        let age = now.checked_sub(issued_at)?;
        if !(-FUTURE_SKEW_SECONDS..TTL_SECONDS).contains(&age) {
            return None;
        }
        let state = if state_hex.is_empty() {
            None
        } else {
            Some(String::from_utf8(hex::decode(state_hex).ok()?).ok()?)
        };
        Some(Self {
            issued_at,
            nonce,
            state,
        })
    }

    fn payload(&self) -> String {
        let state = self.state.as_deref().map(hex::encode).unwrap_or_default();
        format!("{}.{}.{state}", self.issued_at, self.nonce)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(byte: u8) -> FormKey {
        FormKey::derive(&Arc::new(Keyring::single(
            crate::secrets::MasterKey::from_bytes([byte; 32]),
        )))
    }

    #[test]
    fn a_signed_cookie_round_trips_until_it_expires() {
        let k = key(1);
        let token = FormToken::issue(1000).unwrap();
        let cookie = token.encode(&k);
        assert_eq!(FormToken::decode(&cookie, &k, 1000), Some(token.clone()));
        assert!(FormToken::decode(&cookie, &k, 1000 + TTL_SECONDS - 1).is_some());
        assert!(FormToken::decode(&cookie, &k, 1000 + TTL_SECONDS).is_none());
        assert!(FormToken::decode(&cookie, &k, 1000 - 61).is_none());
        assert!(token.csrf_matches(token.csrf()));
        assert!(!token.csrf_matches(""));
        assert!(!token.csrf_matches("00"));
        assert!(!token.should_renew(1000 + TTL_SECONDS / 2));
        assert!(token.should_renew(1000 + TTL_SECONDS / 2 + 1));
    }

    #[test]
    fn state_is_kept_and_signed() {
        let k = key(1);
        let token = FormToken::issue(1000).unwrap();
        let with = token.with_state(Some("{\"a\":\"b.c\"}".into()), 1100);
        assert_eq!(with.csrf(), token.csrf(), "open forms stay valid");
        let decoded = FormToken::decode(&with.encode(&k), &k, 1100).unwrap();
        assert_eq!(decoded.state.as_deref(), Some("{\"a\":\"b.c\"}"));
        let long = token.with_state(Some("x".repeat(MAX_STATE_BYTES + 1)), 1100);
        assert_eq!(long.state, None);
    }

    #[test]
    fn forged_altered_or_foreign_cookies_are_refused() {
        let k = key(1);
        let token = FormToken::issue(1000)
            .unwrap()
            .with_state(Some("s".into()), 1000);
        let cookie = token.encode(&k);
        assert!(FormToken::decode(&cookie, &key(2), 1000).is_none());
        let altered = cookie.replacen("1000.", "1001.", 1);
        assert!(FormToken::decode(&altered, &k, 1001).is_none());
        let (payload, _) = cookie.rsplit_once('.').unwrap();
        let unsigned = format!("{payload}.{}", "00".repeat(32));
        assert!(FormToken::decode(&unsigned, &k, 1000).is_none());
        for junk in ["", ".", "a.b.c.d", "1000..", "x.y.z.zz.00"] {
            assert!(FormToken::decode(junk, &k, 1000).is_none(), "{junk}");
        }
    }
}
