//! A real HTTP SMS gateway for tests: an axum server on 127.0.0.1:0 that records every request (headers and
//! body) and answers as told — 200 with a body, 500, or never (to test time-outs). Tests read the codes from
//! the recorded messages. [`SmsGateway::start_tls`] serves the same over HTTPS with the certificate in
//! `tests/data/sms-tls` (issued for 127.0.0.1 by the test CA `ca.pem` there).

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;
use tokio_util::sync::CancellationToken;

/// How the gateway answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GatewayMode {
    /// 200 with the body `statuscode=1`.
    Ok,
    /// 500.
    Fail,
    /// Never answers (holds the connection).
    Hang,
}

/// One request the gateway received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) method: String,
    pub(crate) query: Option<String>,
    pub(crate) authorization: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) body: String,
}

impl Received {
    /// The 6-digit code in the (URL-encoded or JSON) message.
    pub(crate) fn code(&self) -> String {
        let text = self.text();
        text.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .unwrap_or_else(|| panic!("no code in {text:?}"))
            .to_owned()
    }

    /// The decoded message text (form body `message=`, JSON `text`, or the query string).
    pub(crate) fn text(&self) -> String {
        if self.body.trim_start().starts_with('{') {
            let value: serde_json::Value = serde_json::from_str(&self.body).unwrap();
            return value["text"].as_str().unwrap().to_owned();
        }
        let form = if self.body.is_empty() {
            self.query.clone().unwrap_or_default()
        } else {
            self.body.clone()
        };
        form_urlencoded::parse(form.as_bytes())
            .find(|(k, _)| k == "message")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    }

    /// The phone number field (`phone=` or JSON `to`).
    pub(crate) fn phone(&self) -> String {
        if self.body.trim_start().starts_with('{') {
            let value: serde_json::Value = serde_json::from_str(&self.body).unwrap();
            return value["to"].as_str().unwrap().to_owned();
        }
        let form = if self.body.is_empty() {
            self.query.clone().unwrap_or_default()
        } else {
            self.body.clone()
        };
        form_urlencoded::parse(form.as_bytes())
            .find(|(k, _)| k == "phone")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    }
}

#[derive(Clone)]
struct Shared {
    mode: Arc<Mutex<GatewayMode>>,
    received: Arc<Mutex<Vec<Received>>>,
}

/// A running gateway; stops when dropped.
pub(crate) struct SmsGateway {
    /// `http://127.0.0.1:PORT/send`.
    pub(crate) url: String,
    shared: Shared,
    token: CancellationToken,
}

impl SmsGateway {
    pub(crate) async fn start(mode: GatewayMode) -> Self {
        let shared = Shared {
            mode: Arc::new(Mutex::new(mode)),
            received: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/send", any(answer))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/send", listener.local_addr().unwrap());
        let token = CancellationToken::new();
        let stop = token.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
                .unwrap();
        });
        Self { url, shared, token }
    }

    /// The same gateway over HTTPS: `https://127.0.0.1:PORT/send`.
    pub(crate) async fn start_tls(mode: GatewayMode) -> Self {
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        use tokio_rustls::rustls::{self, ServerConfig};

        let dir = tls_dir();
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dir.join("gateway.pem"))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
        let key = PrivateKeyDer::from_pem_file(dir.join("gateway.key")).unwrap();
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let shared = Shared {
            mode: Arc::new(Mutex::new(mode)),
            received: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/send", any(answer))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}/send", listener.local_addr().unwrap());
        let token = CancellationToken::new();
        let stop = token.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = tokio::select! {
                    () = stop.cancelled() => return,
                    accepted = listener.accept() => accepted.unwrap(),
                };
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake: nothing to serve.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |request| {
                        tower::ServiceExt::oneshot(app.clone(), request)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self { url, shared, token }
    }

    /// Changes how it answers from now on.
    pub(crate) fn set_mode(&self, mode: GatewayMode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// Every request so far.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The code of the last message.
    pub(crate) fn last_code(&self) -> String {
        self.received().last().expect("no SMS received").code()
    }
}

/// `tests/data/sms-tls`: the test CA and the gateway's certificate and key.
pub(crate) fn tls_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sms-tls")
}

impl Drop for SmsGateway {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

async fn answer(
    State(shared): State<Shared>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    shared.received.lock().unwrap().push(Received {
        method: method.to_string(),
        query: uri.query().map(str::to_owned),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: String::from_utf8(body.to_vec()).unwrap(),
    });
    let mode = *shared.mode.lock().unwrap();
    match mode {
        GatewayMode::Ok => (StatusCode::OK, "statuscode=1"),
        GatewayMode::Fail => (StatusCode::INTERNAL_SERVER_ERROR, "statuscode=e"),
        GatewayMode::Hang => {
            std::future::pending::<()>().await;
            (StatusCode::OK, "never")
        }
    }
}
