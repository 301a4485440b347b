//! The tamper-evident audit trail: event shape and the HMAC chain that links each row to the one before it.
//!
//! Every row carries `mac = HMAC-SHA256(k, prev_mac || seq || at || kind || actor || account || outcome ||
//! detail)`, each field length-prefixed, with `k` derived from the master key
//! ([`crate::secrets::MasterKey::audit_chain_key`]). Changing, inserting or deleting a row breaks every later link,
//! and someone who can write the database but cannot read the key file cannot forge a new chain. Truncating the
//! newest rows is not detectable from the chain alone: `motpd audit verify` prints the head so operators can
//! record it elsewhere.
//!
//! Key rotation (`motpd secrets rotate`) continues the chain: the rotation row (kind [`ROTATION_KIND`], detail
//! naming `from_key_id` and `to_key_id`) is still linked under the old key, every later row under the new one.
//! Which key links the next row is what the database's key check value names, read under the chain's lock
//! ([`AuditChain::span`]); so the switch happens in the rotation's own transaction, for every node at once.
//! [`ChainVerifier`] walks the keyring the same way.
//!
//! This module is pure: the store appends rows (serialised, so the chain has one order even across nodes) and
//! hands them back for verification.

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use std::sync::Arc;

use crate::secrets::{Keyring, SecretBytes, SecretError};

/// The kind of the row `motpd secrets rotate` appends: the last row linked under the old key.
pub const ROTATION_KIND: &str = "secrets.rotate";
/// The label of the chain key derived from a master key.
const CHAIN_LABEL: &[u8] = b"motpd audit chain v1";

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
    /// A rotation row names a key the keyring lacks: the rows after it cannot be checked.
    #[error(
        "audit row {seq} is a key rotation to key {key_id}, which is not in this node's keyring"
    )]
    UnknownKey {
        /// The rotation row.
        seq: i64,
        /// The key it names.
        key_id: String,
    },
}

/// The chain's keys: one fixed key (tests, benches), or the node's keyring.
#[derive(Debug, Clone)]
pub struct AuditChain {
    keys: ChainKeys,
}

#[derive(Debug, Clone)]
enum ChainKeys {
    Fixed(ChainKey),
    Keyring(Arc<Keyring>),
}

impl AuditChain {
    /// A chain keyed with `key` for good (from [`crate::secrets::MasterKey::audit_chain_key`]).
    pub fn new(key: SecretBytes) -> Self {
        Self {
            keys: ChainKeys::Fixed(ChainKey(key)),
        }
    }

    /// A chain keyed by the keyring: each span by the key the database names (see [`AuditChain::span`]).
    pub fn keyring(keyring: Arc<Keyring>) -> Self {
        Self {
            keys: ChainKeys::Keyring(keyring),
        }
    }

    /// The key that links the next rows, given the database's key check value read under the chain's lock
    /// (`None`: none stored yet, the primary key). The keyring makes that key its primary one, so this node's
    /// new seals follow a rotation committed by another node.
    pub fn span(&self, key_check: Option<&[u8]>) -> Result<ChainKey, SecretError> {
        match &self.keys {
            ChainKeys::Fixed(key) => Ok(key.clone()),
            ChainKeys::Keyring(ring) => {
                let key = match key_check {
                    Some(stored) => ring.adopt_key_check(stored)?,
                    None => ring.primary(),
                };
                Ok(ChainKey(key.derive(CHAIN_LABEL)))
            }
        }
    }

    /// The link of row `seq` holding `event`, after a row whose link is `prev`, under the fixed key or the
    /// keyring's primary key.
    pub fn link(&self, prev: &[u8; 32], seq: i64, event: &AuditEvent) -> [u8; 32] {
        match &self.keys {
            ChainKeys::Fixed(key) => key.link(prev, seq, event),
            ChainKeys::Keyring(ring) => {
                ChainKey(ring.primary().derive(CHAIN_LABEL)).link(prev, seq, event)
            }
        }
    }

    /// Every key a row may be linked under, with its master key id (`None` for a fixed key).
    fn candidates(&self) -> Vec<(Option<String>, ChainKey)> {
        match &self.keys {
            ChainKeys::Fixed(key) => vec![(None, key.clone())],
            ChainKeys::Keyring(ring) => ring
                .keys()
                .iter()
                .map(|k| (Some(k.key_id()), ChainKey(k.derive(CHAIN_LABEL))))
                .collect(),
        }
    }

    /// The chain key of the master key with this id, if the keyring holds it.
    fn key_named(&self, key_id: &str) -> Option<ChainKey> {
        self.candidates()
            .into_iter()
            .find(|(id, _)| id.as_deref() == Some(key_id))
            .map(|(_, key)| key)
    }

    fn is_keyring(&self) -> bool {
        matches!(self.keys, ChainKeys::Keyring(_))
    }
}

/// One span's chain key.
#[derive(Debug, Clone)]
pub struct ChainKey(SecretBytes);

impl ChainKey {
    /// The link of row `seq` holding `event`, after a row whose link is `prev`.
    pub fn link(&self, prev: &[u8; 32], seq: i64, event: &AuditEvent) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.expose())
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

/// Incremental verifier: feed rows in `seq` order, page by page, then call [`ChainVerifier::finish`].
///
/// With a keyring chain the first row is tried under every key, and each rotation row switches to the key it
/// names. If the keyring no longer holds the first span's key (its file was removed after a rotation), the rows
/// up to the first rotation row are counted as unverified instead of broken, but only when that rotation row
/// names a key the keyring lacks: if the keyring holds it, those rows are reported as broken.
#[derive(Debug)]
pub struct ChainVerifier<'a> {
    chain: &'a AuditChain,
    prev: [u8; 32],
    next_seq: i64,
    /// The key of the current span (`None`: not known yet, every key is tried).
    current: Option<ChainKey>,
    /// The first row of a leading span whose key may be missing, while in that span.
    skipping_from: Option<i64>,
    unverified: i64,
    unverified_key: Option<String>,
}

impl<'a> ChainVerifier<'a> {
    /// Starts at the beginning of the trail.
    pub fn new(chain: &'a AuditChain) -> Self {
        Self {
            chain,
            prev: GENESIS_MAC,
            next_seq: 1,
            current: None,
            skipping_from: None,
            unverified: 0,
            unverified_key: None,
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
        if let Some(first) = self.skipping_from {
            return self.skip(first, record);
        }
        let links = |key: &ChainKey| {
            let expected = key.link(&self.prev, record.seq, &record.event);
            bool::from(subtle::ConstantTimeEq::ct_eq(
                &expected[..],
                &record.mac[..],
            ))
        };
        match &self.current {
            Some(key) => {
                if !links(key) {
                    return Err(AuditBreak::BadLink { seq: record.seq });
                }
            }
            None => {
                let found = self
                    .chain
                    .candidates()
                    .into_iter()
                    .map(|(_, key)| key)
                    .find(|key| links(key));
                match found {
                    Some(key) => self.current = Some(key),
                    None if self.chain.is_keyring() && record.seq == 1 => {
                        self.skipping_from = Some(1);
                        return self.skip(1, record);
                    }
                    None => return Err(AuditBreak::BadLink { seq: record.seq }),
                }
            }
        }
        self.prev = record.mac;
        self.next_seq += 1;
        self.follow_rotation(record)
    }

    /// A row of a leading span whose key may be missing: counted, not checked, until the first rotation row.
    fn skip(&mut self, first: i64, record: &AuditRecord) -> Result<(), AuditBreak> {
        self.unverified += 1;
        self.prev = record.mac;
        self.next_seq += 1;
        if record.event.kind != ROTATION_KIND {
            return Ok(());
        }
        self.skipping_from = None;
        let (from, _) = rotation_keys(&record.event);
        if from
            .as_deref()
            .is_none_or(|id| self.chain.key_named(id).is_some())
        {
            // The span's key is here, yet no row of it links: the rows were changed.
            self.unverified = 0;
            let _ = self.follow_rotation(record);
            return Err(AuditBreak::BadLink { seq: first });
        }
        self.unverified_key = from;
        self.follow_rotation(record)
    }

    /// After a rotation row, the key it names links the next rows.
    fn follow_rotation(&mut self, record: &AuditRecord) -> Result<(), AuditBreak> {
        if record.event.kind != ROTATION_KIND || !self.chain.is_keyring() {
            return Ok(());
        }
        let (_, to) = rotation_keys(&record.event);
        let to = to.unwrap_or_default();
        self.current = self.chain.key_named(&to);
        if self.current.is_none() {
            return Err(AuditBreak::UnknownKey {
                seq: record.seq,
                key_id: to,
            });
        }
        Ok(())
    }

    /// Ends the walk: a leading span still unchecked at the end of the trail (no rotation row came) is broken.
    pub fn finish(&mut self) -> Result<(), AuditBreak> {
        match self.skipping_from.take() {
            Some(first) => {
                self.unverified = 0;
                Err(AuditBreak::BadLink { seq: first })
            }
            None => Ok(()),
        }
    }

    /// Goes on after a break as if `record` were intact, so that a report can name every break, not only the
    /// first (everything after a break is suspect until compared with a backup).
    pub fn resync(&mut self, record: &AuditRecord) {
        self.prev = record.mac;
        self.next_seq = record.seq.saturating_add(1);
    }

    /// Rows verified so far.
    pub fn verified(&self) -> i64 {
        self.next_seq - 1 - self.unverified
    }

    /// Rows of a leading span left unchecked because the keyring lacks its key, and that key's id.
    pub fn unverified(&self) -> Option<(i64, String)> {
        (self.unverified > 0 && self.skipping_from.is_none()).then(|| {
            (
                self.unverified,
                self.unverified_key.clone().unwrap_or_default(),
            )
        })
    }

    /// The last verified link, hex (to record elsewhere and compare later).
    pub fn head_hex(&self) -> String {
        hex::encode(self.prev)
    }
}

/// The `from_key_id` and `to_key_id` of a rotation row's detail.
fn rotation_keys(event: &AuditEvent) -> (Option<String>, Option<String>) {
    let detail: serde_json::Value = serde_json::from_str(&event.detail).unwrap_or_default();
    let field = |name: &str| detail.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    (field("from_key_id"), field("to_key_id"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MasterKey;

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

    /// Rows 1-3 under `old`, row 4 the rotation (still under `old`), rows 5-6 under `new`.
    fn rotated_rows(old: &MasterKey, new: &MasterKey) -> Vec<AuditRecord> {
        let (old_chain, new_chain) = (
            AuditChain::new(old.derive(CHAIN_LABEL)),
            AuditChain::new(new.derive(CHAIN_LABEL)),
        );
        let mut prev = GENESIS_MAC;
        (1..=6)
            .map(|seq| {
                let event = if seq == 4 {
                    AuditEvent::new(
                        seq,
                        ROTATION_KIND,
                        "cli",
                        None,
                        "ok",
                        serde_json::json!({"from_key_id": old.key_id(), "to_key_id": new.key_id()}),
                    )
                } else {
                    AuditEvent::new(
                        seq,
                        "radius.auth",
                        "radius:nas",
                        None,
                        "accept",
                        serde_json::json!({}),
                    )
                };
                let chain = if seq <= 4 { &old_chain } else { &new_chain };
                let mac = chain.link(&prev, seq, &event);
                prev = mac;
                AuditRecord { seq, event, mac }
            })
            .collect()
    }

    fn walk(
        chain: &AuditChain,
        rows: &[AuditRecord],
    ) -> (Vec<AuditBreak>, i64, Option<(i64, String)>) {
        let mut v = ChainVerifier::new(chain);
        let mut breaks = Vec::new();
        for r in rows {
            if let Err(b) = v.check(r) {
                breaks.push(b);
                v.resync(r);
            }
        }
        if let Err(b) = v.finish() {
            breaks.push(b);
        }
        (breaks, v.verified(), v.unverified())
    }

    #[test]
    fn the_chain_continues_across_a_key_rotation() {
        let key = |b| MasterKey::from_bytes([b; 32]);
        let rows = rotated_rows(&key(1), &key(2));
        let both = AuditChain::keyring(Arc::new(Keyring::with_keys(key(2), vec![key(1)])));
        assert_eq!(walk(&both, &rows), (vec![], 6, None));

        // A row after the rotation linked under the old key (a node that did not switch) is a break.
        let mut stale = rows.clone();
        stale[4].mac =
            AuditChain::new(key(1).derive(CHAIN_LABEL)).link(&rows[3].mac, 5, &rows[4].event);
        assert_eq!(walk(&both, &stale).0[0], AuditBreak::BadLink { seq: 5 });

        // The rotation row rewritten to name another key: its own link breaks.
        let mut renamed = rows.clone();
        renamed[3].event.detail = renamed[3]
            .event
            .detail
            .replace(&key(2).key_id(), &key(3).key_id());
        assert_eq!(walk(&both, &renamed).0[0], AuditBreak::BadLink { seq: 4 });

        // The old key file removed: the first span is unverified, the rest verified.
        let only_new = AuditChain::keyring(Arc::new(Keyring::single(key(2))));
        assert_eq!(
            walk(&only_new, &rows),
            (vec![], 2, Some((4, key(1).key_id())))
        );

        // With the old key present, a changed row of the first span is a break, not "unverified".
        let mut edited = rows.clone();
        edited[0].event.outcome = "reject".into();
        let (breaks, _, unverified) = walk(&both, &edited);
        assert_eq!(breaks[0], AuditBreak::BadLink { seq: 1 });
        assert_eq!(unverified, None);

        // No key opens anything and no rotation row follows: broken, not unverified.
        let other = AuditChain::keyring(Arc::new(Keyring::single(key(9))));
        let (breaks, _, unverified) = walk(&other, &rows[..3]);
        assert_eq!(breaks, vec![AuditBreak::BadLink { seq: 1 }]);
        assert_eq!(unverified, None);
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let c = chain();
        let a = AuditEvent::new(1, "ab", "c", None, "x", serde_json::json!({}));
        let b = AuditEvent::new(1, "a", "bc", None, "x", serde_json::json!({}));
        assert_ne!(c.link(&GENESIS_MAC, 1, &a), c.link(&GENESIS_MAC, 1, &b));
    }
}
