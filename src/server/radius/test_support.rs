//! Test helpers for the transport: a fake engine that answers by user name, a server on port 0, and a tiny
//! RADIUS client (a "NAS") on a real UDP socket.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::{
    Client, ClientTable, RadiusServer, RadiusServerError, RadiusStats, ServerOptions,
    SharedClientTable,
};
use crate::config::RadiusConfig;
use crate::engine::{
    AccessHandler, AccessRequest, AccountingRecord, Decision, EngineError, RejectReason,
};
use crate::radius::{Attribute, Code, encode_access_request, encode_raw, hide_password, types};

pub(super) const SECRET: &[u8] = b"a-long-shared-secret";
pub(super) const PASSWORD: &[u8] = b"Passw0rd123456";
/// Long enough for "nothing came back".
pub(super) const SILENCE: Duration = Duration::from_millis(300);

/// Answers by user name: accept, reject, challenge, slow (400 ms, then accept), hang (never), anything else
/// fails. Accounting from user "fail" fails.
#[derive(Debug, Default)]
pub(super) struct FakeEngine {
    pub(super) calls: AtomicUsize,
    pub(super) requests: Mutex<Vec<AccessRequest>>,
    pub(super) records: Mutex<Vec<AccountingRecord>>,
}

impl FakeEngine {
    pub(super) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl AccessHandler for FakeEngine {
    async fn access(&self, request: &AccessRequest) -> Result<Decision, EngineError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.requests.lock().unwrap().push(request.clone());
        match request.user_name.as_str() {
            "accept" => Ok(Decision::Accept {
                groups: vec!["staff".into(), "vpn".into()],
                message: Some("welcome".into()),
            }),
            "reject" => Ok(Decision::Reject {
                reason: RejectReason::BadCode,
                message: "wrong code".into(),
            }),
            "challenge" => Ok(Decision::Challenge {
                state: b"state-1".to_vec(),
                message: "enter code".into(),
            }),
            "slow" => {
                tokio::time::sleep(Duration::from_millis(400)).await;
                Ok(Decision::Accept {
                    groups: vec![],
                    message: None,
                })
            }
            "hang" => std::future::pending().await,
            _ => Err(EngineError::Hashing("the fake engine failed".into())),
        }
    }

    async fn accounting(&self, record: AccountingRecord) -> Result<(), EngineError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if record.user_name.as_deref() == Some("fail") {
            return Err(EngineError::Hashing("the fake engine failed".into()));
        }
        self.records.lock().unwrap().push(record);
        Ok(())
    }
}

/// A running server with its engine and counters.
#[derive(Debug)]
pub(super) struct TestServer {
    pub(super) auth: SocketAddr,
    pub(super) auth_v6: SocketAddr,
    pub(super) accounting: SocketAddr,
    pub(super) engine: Arc<FakeEngine>,
    pub(super) stats: Arc<RadiusStats>,
    pub(super) clients: SharedClientTable,
    pub(super) token: CancellationToken,
    pub(super) task: tokio::task::JoinHandle<Result<(), RadiusServerError>>,
    pub(super) heartbeat: Arc<super::Heartbeat>,
}

/// 127.0.0.1 and ::1, Message-Authenticator required.
pub(super) fn loopback_clients() -> Vec<Client> {
    vec![
        Client::new("nas-v4", "127.0.0.1/32".parse().unwrap(), SECRET, true),
        Client::new("nas-v6", "::1/128".parse().unwrap(), SECRET, true),
    ]
}

pub(super) async fn start(clients: Vec<Client>) -> TestServer {
    start_with(clients, RadiusConfig::default(), ServerOptions::default()).await
}

pub(super) async fn start_with(
    clients: Vec<Client>,
    config: RadiusConfig,
    options: ServerOptions,
) -> TestServer {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("motpd=debug")
        .with_test_writer()
        .try_init();
    let engine = Arc::new(FakeEngine::default());
    let table = SharedClientTable::new(ClientTable::new(clients));
    let server =
        RadiusServer::with_options(engine.clone(), table.clone(), &config, options).unwrap();
    let v4 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let v6 = UdpSocket::bind("[::1]:0").await.unwrap();
    let accounting = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (auth, auth_v6) = (v4.local_addr().unwrap(), v6.local_addr().unwrap());
    let accounting_addr = accounting.local_addr().unwrap();
    let stats = server.stats();
    let heartbeat = server.heartbeat();
    let token = CancellationToken::new();
    let task = tokio::spawn(server.serve(vec![v4, v6], vec![accounting], token.clone()));
    TestServer {
        auth,
        auth_v6,
        accounting: accounting_addr,
        engine,
        stats,
        clients: table,
        token,
        task,
        heartbeat,
    }
}

/// A RADIUS client on its own UDP socket.
#[derive(Debug)]
pub(super) struct Nas {
    pub(super) socket: UdpSocket,
    pub(super) server: SocketAddr,
}

impl Nas {
    pub(super) async fn new(server: SocketAddr) -> Self {
        let local = if server.is_ipv4() {
            "127.0.0.1:0"
        } else {
            "[::1]:0"
        };
        Self {
            socket: UdpSocket::bind(local).await.unwrap(),
            server,
        }
    }

    pub(super) async fn send(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.server).await.unwrap();
    }

    /// The next datagram from the server within `wait`.
    pub(super) async fn recv(&self, wait: Duration) -> Option<Vec<u8>> {
        let mut buffer = vec![0u8; 4096];
        let (len, from) = tokio::time::timeout(wait, self.socket.recv_from(&mut buffer))
            .await
            .ok()?
            .unwrap();
        assert_eq!(from, self.server);
        buffer.truncate(len);
        Some(buffer)
    }

    /// Sends and waits up to 2 s for the answer.
    pub(super) async fn exchange(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        self.send(bytes).await;
        self.recv(Duration::from_secs(2)).await
    }
}

/// A PAP Access-Request with Message-Authenticator, NAS-IP-Address, NAS-Identifier and Calling-Station-Id.
pub(super) fn access_request(
    id: u8,
    authenticator: [u8; 16],
    user: &str,
    secret: &[u8],
) -> Vec<u8> {
    let extra = [
        Attribute::from_ipv4(types::NAS_IP_ADDRESS, [10, 0, 0, 9].into()),
        Attribute::new(types::NAS_IDENTIFIER, b"netscaler-1".to_vec()),
        Attribute::new(types::CALLING_STATION_ID, b"203.0.113.7".to_vec()),
    ];
    encode_access_request(
        id,
        &authenticator,
        user.as_bytes(),
        PASSWORD,
        &extra,
        secret,
    )
    .unwrap()
}

/// A PAP Access-Request without Message-Authenticator, with `extra` attributes after the password.
pub(super) fn access_request_without_ma(
    id: u8,
    authenticator: [u8; 16],
    user: &str,
    extra: &[Attribute<'_>],
) -> Vec<u8> {
    let hidden = hide_password(PASSWORD, &authenticator, SECRET).unwrap();
    let mut attributes = vec![
        Attribute::new(types::USER_NAME, user.as_bytes().to_vec()),
        Attribute::new(types::USER_PASSWORD, hidden),
    ];
    attributes.extend(extra.iter().cloned());
    encode_raw(Code::AccessRequest, id, &authenticator, &attributes).unwrap()
}
