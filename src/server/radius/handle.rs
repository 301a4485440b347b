//! The receive path of one datagram, top to bottom: client lookup, header, authenticators, duplicate cache,
//! Status-Server, the reply size bound, the request in domain terms, and the in-flight bound. It returns an
//! [`Action`] for the loop: drop, send these bytes, or evaluate this job (see `answer.rs`).
//!
//! Synchronous and free of socket calls so that the whole policy reads in one place and runs inside the
//! datagram's span. It decides nothing about the user: that is the engine's. It never logs a password, a
//! State or a secret.

use std::fmt::Arguments;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Span;

use crate::config::{AuthMode, Language, StoreErrorAction};
use crate::engine::{AccessHandler, AccessRequest, AccountingRecord};
use crate::radius::{
    Attribute, Code, MAX_PACKET_LEN, MessageAuthenticator, Packet, RadiusError, encode_response,
    types,
};
use crate::secrets::SecretBytes;

use super::clients::{Client, SharedClientTable};
use super::duplicates::{CacheKey, DuplicateCache, Lookup};
use super::limiter::{LogKind, LogLimiter};
use super::reply::ReplyShape;
use super::stats::DropReason::{self, *};
use super::stats::RadiusStats;

/// Which port a socket serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Access-Request and Status-Server (1812).
    Auth,
    /// Accounting-Request and Status-Server (1813).
    Accounting,
}

impl Role {
    /// Why a packet with `code` is not served here, if it is not.
    fn refuses(self, code: Code) -> Option<DropReason> {
        let served = match self {
            Self::Auth => matches!(code, Code::AccessRequest | Code::StatusServer),
            Self::Accounting => matches!(code, Code::AccountingRequest | Code::StatusServer),
        };
        match (served, code.is_request()) {
            (true, _) => None,
            (false, true) => Some(WrongPort),
            (false, false) => Some(NotRequest),
        }
    }
}

/// Logged (rate-limited) for a datagram from an unknown address.
const NO_CLIENT: &str = "no client has this address; add it with `motpd client add`";

/// Everything the receive loops of one server share.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) handler: Arc<dyn AccessHandler>,
    pub(crate) clients: SharedClientTable,
    pub(crate) mode: AuthMode,
    pub(crate) on_store_error: StoreErrorAction,
    pub(crate) language: Language,
    pub(crate) shape: ReplyShape,
    pub(crate) request_timeout: Duration,
    pub(crate) cache: DuplicateCache,
    pub(crate) limiter: LogLimiter,
    pub(crate) stats: Arc<RadiusStats>,
    pub(crate) in_flight: Arc<Semaphore>,
}

/// What the loop does with a datagram.
#[derive(Debug)]
pub(crate) enum Action {
    Drop,
    Send(Arc<[u8]>),
    Evaluate(Box<Job>),
}

/// A verified request admitted for evaluation, with what its answer needs.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) work: Work,
    pub(crate) key: CacheKey,
    pub(crate) client: Arc<Client>,
    pub(crate) proxy_states: Vec<Vec<u8>>,
    pub(crate) permit: OwnedSemaphorePermit,
}

#[derive(Debug)]
pub(crate) enum Work {
    Access(AccessRequest),
    Accounting(AccountingRecord),
}

impl Inner {
    /// One datagram from `src`, received at `now` on a socket serving `role`.
    pub(crate) fn handle_datagram(
        &self,
        datagram: &[u8],
        src: SocketAddr,
        role: Role,
        now: Instant,
    ) -> Action {
        self.stats.received();
        // 1. Only known clients (longest-prefix match on the source address).
        let Some(client) = self.clients.load().lookup(src.ip()).cloned() else {
            return self.dropped(UnknownClient, src, now, format_args!("{NO_CLIENT}"));
        };
        Span::current().record("client", &*client.name);
        // 2. A request for this port, or nothing: never answer a response (no reflection).
        let packet = match Packet::decode(datagram) {
            Ok(packet) => packet,
            Err(error) => return self.dropped(Malformed, src, now, format_args!("{error}")),
        };
        Span::current().record("id", packet.identifier());
        if let Some(reason) = role.refuses(packet.code()) {
            let code = packet.code().as_u8();
            return self.dropped(reason, src, now, format_args!("code {code}"));
        }
        // 3. Message-Authenticator, and the accounting Request Authenticator. Before the cache: the cache key
        //    does not cover the attributes, so only a verified copy may count as a retransmission.
        if let Err(action) = self.verify(&packet, &client, src, now) {
            return action;
        }
        // 4. A retransmission gets the answer already sent, byte for byte.
        let key = CacheKey::of(&client.name, src, &packet);
        match self.cache.lookup(&key, now) {
            Lookup::Ready(bytes) => {
                self.stats.duplicate_resent();
                tracing::debug!("retransmission answered from the duplicate cache");
                return Action::Send(bytes);
            }
            Lookup::InProgress => return self.in_progress(src, now),
            Lookup::Miss => {}
        }
        // 5. Status-Server is answered here, without the engine.
        if packet.code() == Code::StatusServer {
            return self.status_server(&packet, &client, role);
        }
        // 6. A reply that could not be sent is refused before the engine uses anything up (a code, a State):
        //    the NAS's retry would otherwise be refused as a replay.
        if packet.code() == Code::AccessRequest
            && let Err(largest) = self.shape.check_fits(packet.proxy_states())
        {
            let count = packet.proxy_states().count();
            let detail = format_args!(
                "its reply could reach {largest} octets with the {count} Proxy-State attributes it carries \
                 (RADIUS allows {MAX_PACKET_LEN}); is a proxy between the NAS and motpd looping?"
            );
            return self.dropped(ReplyTooLarge, src, now, detail);
        }
        // 7. The request in domain terms.
        let work = match self.work(&packet, &client) {
            Ok(work) => work,
            Err(what) => return self.dropped(Malformed, src, now, format_args!("{what}")),
        };
        // 8. Bounded work: shed rather than queue, then claim the cache entry.
        self.start(work, key, client, &packet, src, now)
    }

    /// Step 7: the Access-Request or Accounting-Request in domain terms.
    fn work(&self, packet: &Packet<'_>, client: &Client) -> Result<Work, &'static str> {
        match packet.code() {
            Code::AccessRequest => self.access_request(packet, client).map(Work::Access),
            _ => Ok(Work::Accounting(accounting_record(packet, client))),
        }
    }

    /// Step 8: takes an in-flight permit (or sheds) and marks the request as being evaluated.
    fn start(
        &self,
        work: Work,
        key: CacheKey,
        client: Arc<Client>,
        packet: &Packet<'_>,
        src: SocketAddr,
        now: Instant,
    ) -> Action {
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            let shed_total = self.stats.shed();
            if self.limiter.allow(LogKind::Shed, src.ip(), now) {
                // One line per source per 10 s: the running total tells how many went unlogged.
                tracing::warn!(
                    client = %client.name, %src, shed_total,
                    "request shed: radius.max_in_flight requests are being evaluated"
                );
            }
            return Action::Drop;
        };
        if !self.cache.begin(key.clone(), now) {
            return self.in_progress(src, now);
        }
        let proxy_states = packet.proxy_states().map(<[u8]>::to_vec).collect();
        Action::Evaluate(Box::new(Job {
            work,
            key,
            client,
            proxy_states,
            permit,
        }))
    }

    fn in_progress(&self, src: SocketAddr, now: Instant) -> Action {
        let detail = format_args!("retransmission of a request still being evaluated");
        self.dropped(DropReason::InProgressDuplicate, src, now, detail)
    }

    /// Counts the drop and logs it: at `warn` (at most once per source and reason per interval) for the
    /// reasons an admin must act on, else at `debug`.
    fn dropped(
        &self,
        reason: DropReason,
        src: SocketAddr,
        now: Instant,
        detail: Arguments<'_>,
    ) -> Action {
        self.stats.dropped(reason);
        if reason.needs_attention() && self.limiter.allow(LogKind::Drop(reason), src.ip(), now) {
            tracing::warn!(?reason, %src, "dropped: {detail}");
        } else {
            tracing::debug!(?reason, %src, "dropped: {detail}");
        }
        Action::Drop
    }

    /// Step 3. `Err` carries the drop.
    fn verify(
        &self,
        packet: &Packet<'_>,
        client: &Client,
        src: SocketAddr,
        now: Instant,
    ) -> Result<(), Action> {
        let secret = client.secret.expose();
        let bad = |error: RadiusError| {
            let hint = "is the shared secret the same on both sides?";
            self.dropped(BadAuthenticator, src, now, format_args!("{error}; {hint}"))
        };
        let message_authenticator = packet
            .verify_request_message_authenticator(secret)
            .map_err(bad)?;
        match packet.code() {
            Code::AccountingRequest => packet.verify_accounting_request(secret).map_err(bad),
            _ if message_authenticator == MessageAuthenticator::Valid => Ok(()),
            Code::StatusServer => {
                let detail = format_args!("Status-Server without Message-Authenticator (RFC 5997)");
                Err(self.dropped(MissingMessageAuthenticator, src, now, detail))
            }
            _ if client.require_message_authenticator => Err(self.dropped(
                MissingMessageAuthenticator,
                src,
                now,
                format_args!(
                    "client {} sent no Message-Authenticator; NetScaler: enable it in the RADIUS action, or \
                     (old firmware only) `motpd client set {} --require-message-authenticator off`",
                    client.name, client.name
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Step 5: RFC 5997 — Access-Accept on the authentication port, Accounting-Response on accounting.
    fn status_server(&self, packet: &Packet<'_>, client: &Client, role: Role) -> Action {
        let code = match role {
            Role::Auth => Code::AccessAccept,
            Role::Accounting => Code::AccountingResponse,
        };
        let proxy: Vec<Attribute<'_>> = packet
            .proxy_states()
            .map(|value| Attribute::borrowed(types::PROXY_STATE, value))
            .collect();
        let secret = client.secret.expose();
        match encode_response(
            code,
            packet.identifier(),
            packet.authenticator(),
            &proxy,
            secret,
        ) {
            Ok(bytes) => {
                self.stats.status_server();
                Action::Send(bytes.into())
            }
            Err(error) => {
                self.stats.error();
                tracing::error!(client = %client.name, %error, "cannot encode the Status-Server answer");
                Action::Drop
            }
        }
    }

    /// Step 7 for an Access-Request. `Err` names what is malformed (RFC 2865: silently discarded).
    fn access_request(
        &self,
        packet: &Packet<'_>,
        client: &Client,
    ) -> Result<AccessRequest, &'static str> {
        let user = packet
            .user_name()
            .map_err(|_| "User-Name sent twice")?
            .ok_or("Access-Request without User-Name")?;
        let user_name = std::str::from_utf8(user)
            .map_err(|_| "User-Name is not UTF-8")?
            .to_owned();
        Span::current().record("user", tracing::field::debug(&user_name));
        let password = packet
            .user_password(client.secret.expose())
            .map_err(|_| "malformed User-Password")?
            .map(|password| SecretBytes::new(password.as_bytes().to_vec()));
        let state = packet
            .state()
            .map_err(|_| "State sent twice")?
            .map(<[u8]>::to_vec);
        Ok(AccessRequest {
            client: client.name.clone(),
            mode: client.mode.unwrap_or(self.mode),
            user_name,
            password,
            state,
            nas_ip: nas_ip(packet),
            nas_identifier: packet.nas_identifier().map(lossy),
            calling_station_id: packet.calling_station_id().map(lossy),
        })
    }
}

/// Step 7 for an Accounting-Request: informational, so malformed optional values are left out.
fn accounting_record(packet: &Packet<'_>, client: &Client) -> AccountingRecord {
    let user_name = packet.user_name().ok().flatten().map(lossy);
    if let Some(user) = &user_name {
        Span::current().record("user", tracing::field::debug(user));
    }
    AccountingRecord {
        client: client.name.to_string(),
        user_name,
        status_type: packet.acct_status_type().ok().flatten(),
        session_id: packet.acct_session_id().map(lossy),
        nas_ip: nas_ip(packet),
        calling_station_id: packet.calling_station_id().map(lossy),
    }
}

/// NAS-IP-Address, else NAS-IPv6-Address (a malformed value counts as absent: it is only recorded).
fn nas_ip(packet: &Packet<'_>) -> Option<IpAddr> {
    packet
        .nas_ip_address()
        .ok()
        .flatten()
        .map(IpAddr::V4)
        .or_else(|| packet.nas_ipv6_address().ok().flatten().map(IpAddr::V6))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
