//! The second half of a request, run as its own task: ask the engine (under a timeout), turn the outcome into
//! signed bytes, put them in the duplicate cache, then send them.
//!
//! Fail closed: an engine error or timeout becomes no reply (`on_store_error = "drop"`, so NetScaler retries
//! and fails over) or a Reject with a generic message, never an Accept. Accounting is answered only after the
//! engine recorded it. Nothing here logs a password, a State or a secret.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::UdpSocket;

use crate::config::StoreErrorAction;
use crate::engine::{AccessRequest, AccountingRecord, Decision, EngineError};
use crate::radius::{Attribute, Code, encode_response, types};

use super::clients::Client;
use super::duplicates::CacheKey;
use super::exported::Ending;
use super::handle::{Inner, Job, Work};
use super::limiter::LogKind;
use super::reply::{
    Answer, MAX_GROUP_OCTETS, MAX_REPLY_MESSAGES, reply_messages, response_attributes,
};
use crate::engine::unavailable_message;

impl Inner {
    /// Evaluates `job` and answers it on `socket`.
    pub(crate) async fn answer(self: Arc<Self>, job: Job, socket: Arc<UdpSocket>) {
        let target = job.key.source;
        if let Some(bytes) = self.evaluate(job).await {
            send(&socket, &bytes, target, &self).await;
        }
    }

    /// Evaluates `job`: the signed reply, already in the duplicate cache, or `None` (no reply).
    pub(crate) async fn evaluate(&self, job: Job) -> Option<Arc<[u8]>> {
        let Job {
            work,
            key,
            client,
            proxy_states,
            permit,
        } = job;
        let secret = client.secret.expose();
        let bytes = match work {
            Work::Access(request) => match self.decide(&request, &client, &key).await {
                Some(Outcome::Decision(decision)) => {
                    self.encode_decision(&decision, &request, &key, &proxy_states, secret)
                }
                Some(Outcome::Unavailable) => {
                    let (mut attributes, _) = reply_messages(&unavailable_message(
                        self.handler.reply_language().unwrap_or(self.language),
                    ));
                    attributes.extend(proxy_attributes(&proxy_states));
                    self.encode(Code::AccessReject, &key, &attributes, secret)
                }
                None => None,
            },
            Work::Accounting(record) => {
                let recorded = self.record(record, &client.name, &key).await;
                let attributes = proxy_attributes(&proxy_states);
                recorded
                    .then(|| self.encode(Code::AccountingResponse, &key, &attributes, secret))
                    .flatten()
            }
        };
        drop(permit);
        let Some(bytes) = bytes else {
            self.cache.abandon(&key);
            return None;
        };
        let bytes: Arc<[u8]> = bytes.into();
        self.cache.complete(&key, bytes.clone(), Instant::now());
        Some(bytes)
    }

    /// The engine's decision; on failure or timeout, what `on_store_error` says (`None`: no reply). The log
    /// lines name the client, the source, the packet's Identifier and the user (the datagram's span is only
    /// recorded at debug level).
    async fn decide(
        &self,
        request: &AccessRequest,
        client: &Client,
        key: &CacheKey,
    ) -> Option<Outcome> {
        let started = Instant::now();
        let answer = tokio::time::timeout(self.request_timeout, self.handler.access(request)).await;
        let ending = match &answer {
            Ok(Ok(decision)) => {
                client.decisions.count(decision);
                Ending::of(decision)
            }
            _ => Ending::Error,
        };
        self.stats.decided(ending, started.elapsed());
        let (decisions, client) = (&client.decisions, &*client.name);
        let failure = match answer {
            Ok(Ok(decision)) => return Some(Outcome::Decision(decision)),
            Ok(Err(EngineError::Overloaded)) => {
                // Not a failure of the database: too much work. No reply, whatever on_store_error says.
                let shed_total = self.stats.shed();
                if self
                    .limiter
                    .allow(LogKind::Shed, key.source.ip(), Instant::now())
                {
                    tracing::warn!(
                        client, src = %key.source, user = ?request.user_name, shed_total,
                        "request shed: every password-hashing thread stayed busy for 2 s"
                    );
                }
                return None;
            }
            Ok(Err(error)) => {
                if let EngineError::Store(store) = &error {
                    crate::monitoring::store_failed("login", store);
                }
                error.to_string()
            }
            Err(_) => format!("no decision within {:?}", self.request_timeout),
        };
        self.stats.error();
        decisions.failed();
        let (src, id, user) = (key.source, key.identifier, &request.user_name);
        match self.on_store_error {
            StoreErrorAction::Drop => {
                tracing::error!(client, %src, id, ?user, error = %failure,
                    "engine failed; no reply (radius.on_store_error = \"drop\")");
                None
            }
            StoreErrorAction::Reject => {
                tracing::error!(client, %src, id, ?user, error = %failure,
                    "engine failed; rejecting (radius.on_store_error = \"reject\")");
                Some(Outcome::Unavailable)
            }
        }
    }

    /// Whether the engine recorded the accounting record (if not, no reply: the NAS retries).
    async fn record(&self, record: AccountingRecord, client: &str, key: &CacheKey) -> bool {
        let (src, id) = (key.source, key.identifier);
        match tokio::time::timeout(self.request_timeout, self.handler.accounting(record)).await {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                self.stats.error();
                if let EngineError::Store(store) = &error {
                    crate::monitoring::store_failed("accounting", store);
                }
                tracing::error!(client, %src, id, %error,
                    "accounting not recorded; no reply so the NAS retries");
                false
            }
            Err(_) => {
                self.stats.error();
                tracing::error!(client, %src, id, timeout = ?self.request_timeout,
                    "accounting not recorded in time; no reply");
                false
            }
        }
    }

    fn encode_decision(
        &self,
        decision: &Decision,
        request: &AccessRequest,
        key: &CacheKey,
        proxy_states: &[Vec<u8>],
        secret: &[u8],
    ) -> Option<Vec<u8>> {
        match response_attributes(decision, &self.shape, proxy_states) {
            Ok(answer) => {
                self.report_trimmed(&answer, request, key);
                self.encode(answer.code, key, &answer.attributes, secret)
            }
            Err(error) => {
                self.stats.error();
                tracing::error!(src = %key.source, id = key.identifier, %error,
                    "cannot build the reply attributes; no reply");
                None
            }
        }
    }

    /// Logs (rate-limited per source) what the reply bounds left out: an admin should shorten the group list
    /// or the configured texts.
    fn report_trimmed(&self, answer: &Answer<'_>, request: &AccessRequest, key: &CacheKey) {
        if answer.groups_left_out == 0 && !answer.message_cut {
            return;
        }
        if !self
            .limiter
            .allow(LogKind::Trimmed, key.source.ip(), Instant::now())
        {
            return;
        }
        let (src, user) = (key.source, &request.user_name);
        if answer.groups_left_out > 0 {
            tracing::warn!(%src, ?user, left_out = answer.groups_left_out, limit = MAX_GROUP_OCTETS,
                "group attributes left out of the Accept: the account's groups take more octets than a reply \
                 keeps for them; shorten the group list");
        }
        if answer.message_cut {
            tracing::warn!(%src, ?user, limit = MAX_REPLY_MESSAGES,
                "Reply-Message cut: the text is longer than the Reply-Message attributes a reply keeps for it");
        }
    }

    /// Signs the response (Message-Authenticator first for Access-*) and counts it.
    fn encode(
        &self,
        code: Code,
        key: &CacheKey,
        attributes: &[Attribute<'_>],
        secret: &[u8],
    ) -> Option<Vec<u8>> {
        match encode_response(code, key.identifier, &key.authenticator, attributes, secret) {
            Ok(bytes) => {
                match code {
                    Code::AccessAccept => self.stats.accepted(),
                    Code::AccessReject => self.stats.rejected(),
                    Code::AccessChallenge => self.stats.challenged(),
                    _ => self.stats.accounting(),
                }
                tracing::debug!(code = code.as_u8(), "answered");
                Some(bytes)
            }
            Err(error) => {
                self.stats.error();
                tracing::error!(src = %key.source, id = key.identifier, %error,
                    "cannot encode the reply; no reply");
                None
            }
        }
    }
}

/// What the engine's answer was.
#[derive(Debug)]
enum Outcome {
    Decision(Decision),
    /// The engine failed and `on_store_error = "reject"`.
    Unavailable,
}

fn proxy_attributes(proxy_states: &[Vec<u8>]) -> Vec<Attribute<'_>> {
    proxy_states
        .iter()
        .map(|value| Attribute::borrowed(types::PROXY_STATE, value))
        .collect()
}

/// Sends `bytes` to `target`; a failure is counted and logged, never retried (the NAS retransmits).
pub(crate) async fn send(socket: &UdpSocket, bytes: &[u8], target: SocketAddr, inner: &Inner) {
    if let Err(error) = socket.send_to(bytes, target).await {
        inner.stats.send_error();
        tracing::warn!(%target, %error, "cannot send the reply");
    }
}
