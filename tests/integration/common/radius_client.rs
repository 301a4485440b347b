//! A RADIUS test client built on motpd's codec (verifies every reply's authenticators), and a server fixture:
//! a real node on 127.0.0.1:0 over the engine fixture's store and manual clock.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use motpd::radius::{self, Attribute, Code, MessageAuthenticator, types};
use motpd::secrets::Aad;
use motpd::server::node::{Node, bind_udp};
use motpd::store::NewClient;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::NOW;
use super::fixture::{CLIENT, EngineFixture};

/// The shared secret of the fixture's client.
pub(crate) const SECRET: &[u8] = b"testing123-long-secret";

/// A decoded, verified reply.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) code: Code,
    pub(crate) raw: Vec<u8>,
    pub(crate) messages: String,
    pub(crate) state: Option<Vec<u8>>,
    pub(crate) groups: Vec<String>,
}

/// A RADIUS server on loopback with its engine fixture.
pub(crate) struct RadiusFixture {
    pub(crate) f: EngineFixture,
    pub(crate) auth: SocketAddr,
    pub(crate) accounting: SocketAddr,
    pub(crate) token: CancellationToken,
    pub(crate) node: Option<Node>,
}

impl RadiusFixture {
    /// Starts a node; `require_ma` for the fixture's client.
    pub(crate) async fn start(f: EngineFixture, require_ma: bool) -> Self {
        add_client(&f, CLIENT, "127.0.0.1/32", SECRET, require_ma).await;
        Self::start_without_client(f).await
    }

    /// Starts a node with the clients already in the store.
    pub(crate) async fn start_without_client(f: EngineFixture) -> Self {
        let auth = bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
        let accounting = bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
        let (auth_addr, acct_addr) = (auth.local_addr().unwrap(), accounting.local_addr().unwrap());
        let token = CancellationToken::new();
        let node = Node::start(
            &f.config,
            f.stores.clone(),
            f.key.clone(),
            Arc::new(f.clock.clone()),
            (vec![auth], vec![accounting]),
            None,
            token.clone(),
        )
        .await
        .unwrap();
        Self {
            f,
            auth: auth_addr,
            accounting: acct_addr,
            token,
            node: Some(node),
        }
    }

    /// A client socket talking to this server with the right secret.
    pub(crate) async fn client(&self) -> TestClient {
        TestClient::new(self.auth, SECRET).await
    }

    /// Stops the node and waits for it.
    pub(crate) async fn stop(mut self) {
        self.token.cancel();
        if let Some(node) = self.node.take() {
            node.finish().await.unwrap();
        }
    }
}

/// Adds a RADIUS client to the fixture's store.
pub(crate) async fn add_client(
    f: &EngineFixture,
    name: &str,
    cidr: &str,
    secret: &[u8],
    require_ma: bool,
) {
    let client = NewClient {
        name: name.to_owned(),
        address: cidr.parse().unwrap(),
        sealed_secret: f.key.seal(&Aad::client_secret(name), secret).unwrap(),
        require_message_authenticator: require_ma,
        mode: None,
    };
    f.store.add_client(&client, NOW).await.unwrap();
}

/// A UDP client bound to an ephemeral loopback port.
pub(crate) struct TestClient {
    pub(crate) socket: UdpSocket,
    pub(crate) server: SocketAddr,
    pub(crate) secret: Vec<u8>,
    next_id: u8,
}

impl TestClient {
    pub(crate) async fn new(server: SocketAddr, secret: &[u8]) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        Self {
            socket,
            server,
            secret: secret.to_vec(),
            next_id: 0,
        }
    }

    /// Sends raw bytes and waits up to `wait` for one datagram.
    pub(crate) async fn exchange(&self, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
        self.socket.send_to(bytes, self.server).await.unwrap();
        let mut buf = vec![0u8; 4096];
        match tokio::time::timeout(wait, self.socket.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
            _ => None,
        }
    }

    /// Builds an Access-Request with Message-Authenticator.
    pub(crate) fn request(
        &mut self,
        user: &str,
        password: &[u8],
        state: Option<&[u8]>,
    ) -> (Vec<u8>, [u8; 16]) {
        self.next_id = self.next_id.wrapping_add(1);
        let authenticator = radius::random_authenticator().unwrap();
        let mut extra = vec![
            Attribute::from_ipv4(types::NAS_IP_ADDRESS, "10.0.0.10".parse().unwrap()),
            Attribute::new(types::CALLING_STATION_ID, b"203.0.113.7".to_vec()),
        ];
        if let Some(state) = state {
            extra.push(Attribute::new(types::STATE, state.to_vec()));
        }
        let bytes = radius::encode_access_request(
            self.next_id,
            &authenticator,
            user.as_bytes(),
            password,
            &extra,
            &self.secret,
        )
        .unwrap();
        (bytes, authenticator)
    }

    /// Sends an Access-Request and returns the verified reply, or `None` if none came.
    pub(crate) async fn access(
        &mut self,
        user: &str,
        password: &[u8],
        state: Option<&[u8]>,
    ) -> Option<Reply> {
        let (bytes, authenticator) = self.request(user, password, state);
        let raw = self.exchange(&bytes, Duration::from_secs(5)).await?;
        Some(parse_reply(&raw, &authenticator, &self.secret))
    }
}

/// Verifies a reply (both authenticators; Message-Authenticator required and first) and extracts its fields.
pub(crate) fn parse_reply(raw: &[u8], authenticator: &[u8; 16], secret: &[u8]) -> Reply {
    let verified = radius::verify_response(raw, authenticator, secret).unwrap();
    let packet = verified.packet;
    if packet.code() != Code::AccountingResponse {
        assert_eq!(verified.message_authenticator, MessageAuthenticator::Valid);
        assert_eq!(
            packet.attributes().next().unwrap().typ,
            types::MESSAGE_AUTHENTICATOR,
            "MA first"
        );
    }
    let messages: Vec<u8> = packet.reply_messages().flat_map(|m| m.to_vec()).collect();
    let groups = packet
        .vendor_attributes()
        .unwrap()
        .iter()
        .filter(|v| v.vendor_id == 66 && v.vendor_type == 16)
        .flat_map(|v| {
            String::from_utf8_lossy(v.value)
                .split(',')
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    Reply {
        code: packet.code(),
        raw: raw.to_vec(),
        messages: String::from_utf8(messages).unwrap(),
        state: packet.state().unwrap().map(<[u8]>::to_vec),
        groups,
    }
}
