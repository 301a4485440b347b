//! The tamper-evident audit trail: event shape and the HMAC chain that links each row to the one before it.
//!
//! Every row carries `mac = HMAC-SHA256(k, prev_mac || seq || at || kind || actor || account || outcome ||
//! detail)`, each field length-prefixed, with `k` derived from the master key
//! ([`crate::secrets::MasterKey::audit_chain_key`]). Changing, inserting or deleting a row breaks every later link,
//! and someone who can write the database but cannot read the key file cannot forge a new chain. Truncating the
//! newest rows is not detectable from the chain alone: `motpd audit verify` prints the head so operators can
//! record it elsewhere.
//!
//! This module is pure: the store appends rows (serialised, so the chain has one order even across nodes) and
//! hands them back for verification.

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::secrets::SecretBytes;

/// The `mac` of the (virtual) row before the first one.
pub const GENESIS_MAC: [u8; 32] = [0u8; 32];

/// One thing that happened, as the caller describes it. Never holds a password, code or seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// Unix seconds.
    pub at: i64,
    /// What happened, dotted: `radius.auth`, `admin.user.add`, `enroll.confirm`, ...
    pub kind: String,
    /// Who did it: `cli`, `radius:<client name>`, `web:<address>`.
    pub actor: String,
    /// The account concerned, if any.
    pub account_id: Option<String>,
    /// `accept`, `reject`, `challenge`, `ok`, `error`, ...
    pub outcome: String,
    /// Details as a JSON object (reason, NAS-IP, Calling-Station-Id, latency...).
    pub detail: String,
}

impl AuditEvent {
    /// An event with a JSON detail object.
    pub fn new(
        at: i64,
        kind: &str,
        actor: &str,
        account_id: Option<&str>,
        outcome: &str,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            at,
            kind: kind.to_owned(),
            actor: actor.to_owned(),
            account_id: account_id.map(str::to_owned),
            outcome: outcome.to_owned(),
            detail: detail.to_string(),
        }
    }

    /// Writes the event to the server log as well (the web pages' enrollments, activations, resets and
    /// invitation steps), so that an admin following the log sees them without reading the database. Audit
    /// details never hold a secret.
    pub fn log(&self) {
        tracing::info!(
            kind = %self.kind, actor = %self.actor, account = %self.account_id.as_deref().unwrap_or("-"),
            outcome = %self.outcome, detail = %self.detail, "audit event"
        );
    }
}

/// A stored row of the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// The event.
    pub event: AuditEvent,
    /// This row's link.
    pub mac: [u8; 32],
}

/// Where verification found the chain broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditBreak {
    /// A row's MAC does not match its content and predecessor.
    #[error("audit row {seq} was altered, or a row before it was removed or inserted")]
    BadLink {
        /// The first row whose link fails.
        seq: i64,
    },
    /// Sequence numbers are not consecutive.
    #[error("audit rows are missing: expected row {expected}, found row {found}")]
    Gap {
        /// The sequence number that should have come next.
        expected: i64,
        /// The one found.
        found: i64,
    },
}

/// Computes and checks links with the chain key.
#[derive(Debug, Clone)]
pub struct AuditChain {
    key: SecretBytes,
}

impl AuditChain {
    /// A chain keyed with `key` (from [`crate::secrets::MasterKey::audit_chain_key`]).
    pub fn new(key: SecretBytes) -> Self {
        Self { key }
    }

    /// The link of row `seq` holding `event`, after a row whose link is `prev`.
    pub fn link(&self, prev: &[u8; 32], seq: i64, event: &AuditEvent) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.key.expose())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(prev);
        mac.update(&seq.to_be_bytes());
        mac.update(&event.at.to_be_bytes());
        for field in [
            event.kind.as_str(),
            event.actor.as_str(),
            event.account_id.as_deref().unwrap_or("\u{0}none"),
            event.outcome.as_str(),
            event.detail.as_str(),
        ] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }
}

/// Incremental verifier: feed rows in `seq` order, page by page.
#[derive(Debug)]
pub struct ChainVerifier<'a> {
    chain: &'a AuditChain,
    prev: [u8; 32],
    next_seq: i64,
}

impl<'a> ChainVerifier<'a> {
    /// Starts at the beginning of the trail.
    pub fn new(chain: &'a AuditChain) -> Self {
        Self {
            chain,
            prev: GENESIS_MAC,
            next_seq: 1,
        }
    }

    /// Checks the next row.
    pub fn check(&mut self, record: &AuditRecord) -> Result<(), AuditBreak> {
        if record.seq != self.next_seq {
            return Err(AuditBreak::Gap {
                expected: self.next_seq,
                found: record.seq,
            });
        }
        let expected = self.chain.link(&self.prev, record.seq, &record.event);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            &expected[..],
            &record.mac[..],
        )) {
            return Err(AuditBreak::BadLink { seq: record.seq });
        }
        self.prev = record.mac;
        self.next_seq += 1;
        Ok(())
    }

    /// Goes on after a break as if `record` were intact, so that a report can name every break, not only the
    /// first (everything after a break is suspect until compared with a backup).
    pub fn resync(&mut self, record: &AuditRecord) {
        self.prev = record.mac;
        self.next_seq = record.seq.saturating_add(1);
    }

    /// Rows verified so far.
    pub fn verified(&self) -> i64 {
        self.next_seq - 1
    }

    /// The last verified link, hex (to record elsewhere and compare later).
    pub fn head_hex(&self) -> String {
        hex::encode(self.prev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> AuditChain {
        AuditChain::new(SecretBytes::new(vec![9; 32]))
    }

    fn rows(chain: &AuditChain, n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_MAC;
        (1..=n)
            .map(|seq| {
                let event = AuditEvent::new(
                    1_700_000_000 + seq,
                    "radius.auth",
                    "radius:netscaler",
                    Some("alice"),
                    "accept",
                    serde_json::json!({"n": seq}),
                );
                let mac = chain.link(&prev, seq, &event);
                prev = mac;
                AuditRecord { seq, event, mac }
            })
            .collect()
    }

    fn verify(chain: &AuditChain, rows: &[AuditRecord]) -> Result<i64, AuditBreak> {
        let mut v = ChainVerifier::new(chain);
        for r in rows {
            v.check(r)?;
        }
        Ok(v.verified())
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain();
        assert_eq!(verify(&c, &rows(&c, 5)), Ok(5));
    }

    #[test]
    fn edits_deletions_and_other_keys_are_detected() {
        let c = chain();
        let good = rows(&c, 5);

        let mut edited = good.clone();
        edited[2].event.outcome = "reject".into();
        assert_eq!(verify(&c, &edited), Err(AuditBreak::BadLink { seq: 3 }));

        let mut deleted = good.clone();
        deleted.remove(1);
        assert_eq!(
            verify(&c, &deleted),
            Err(AuditBreak::Gap {
                expected: 2,
                found: 3
            })
        );

        // Renumbering after a deletion still breaks the link.
        let mut renumbered = deleted.clone();
        for (i, r) in renumbered.iter_mut().enumerate() {
            r.seq = i as i64 + 1;
        }
        assert_eq!(verify(&c, &renumbered), Err(AuditBreak::BadLink { seq: 2 }));

        let other = AuditChain::new(SecretBytes::new(vec![8; 32]));
        assert_eq!(verify(&other, &good), Err(AuditBreak::BadLink { seq: 1 }));
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let c = chain();
        let a = AuditEvent::new(1, "ab", "c", None, "x", serde_json::json!({}));
        let b = AuditEvent::new(1, "a", "bc", None, "x", serde_json::json!({}));
        assert_ne!(c.link(&GENESIS_MAC, 1, &a), c.link(&GENESIS_MAC, 1, &b));
    }
}
