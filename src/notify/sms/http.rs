//! [`HttpSmsSender`]: one HTTP/1.1 request per message to the gateway (`http://` or `https://` with rustls and
//! the Mozilla root certificates, or those of `sms.ca_file`), with the Authorization header value read from `sms.auth_header_file` (never
//! logged), a time-out per attempt, and bounded retries: only when the gateway could not be reached or answered
//! 5xx — never after a time-out once the request was sent, where the message may already be on its way.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use super::template::render_body;
use super::{SmsSendError, SmsSender};
use crate::account_rules::mask_phone;
use crate::config::{SmsBodyType, SmsConfig, SmsMethod};

/// The most of a gateway answer that is read (for `sms.success_match`).
const MAX_ANSWER: usize = 64 * 1024;
/// Pause before a retry.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// A client of one HTTP SMS gateway.
pub struct HttpSmsSender {
    uri: Uri,
    https: bool,
    host: String,
    port: u16,
    method: SmsMethod,
    body_type: SmsBodyType,
    template: String,
    success_match: Option<String>,
    authorization: Option<HeaderValue>,
    timeout: Duration,
    timeout_seconds: u32,
    retries: u32,
    tls: TlsConnector,
}

impl std::fmt::Debug for HttpSmsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSmsSender")
            .field("uri", &self.uri)
            .field("method", &self.method)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

/// How one attempt ended without a confirmed send.
enum AttemptError {
    /// Nothing reached the gateway: safe to try again.
    Unreached(String),
    /// The gateway answered 5xx: it says it did not take the message.
    ServerError(u16),
    /// Anything else: final.
    Final(SmsSendError),
}

impl HttpSmsSender {
    /// A sender for `config` (`provider = "http"`); reads the Authorization header file now.
    pub fn new(config: &SmsConfig) -> Result<Self, SmsSendError> {
        let bad = |what: String| SmsSendError::Config(what);
        let uri: Uri = config
            .url
            .parse()
            .map_err(|e| bad(format!("sms.url {:?} is not a URL: {e}", config.url)))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("sms.url must start with http:// or https://".into())),
        };
        let host = uri
            .host()
            .ok_or_else(|| bad("sms.url has no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authorization = match &config.auth_header_file {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| {
                    SmsSendError::AuthHeaderFile {
                        path: path.clone(),
                        source,
                    }
                })?;
                let mut value = HeaderValue::from_str(text.trim_end_matches(['\r', '\n']))
                    .map_err(|_| {
                        bad(format!(
                            "{} does not hold a valid header value (one line of visible ASCII)",
                            path.display()
                        ))
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        let roots = match &config.ca_file {
            None => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
            Some(path) => private_roots(path)?,
        };
        let tls =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| bad(format!("TLS set-up: {e}")))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(Self {
            uri,
            https,
            host,
            port,
            method: config.method,
            body_type: config.body_type,
            template: config.body_template.clone(),
            success_match: config.success_match.clone(),
            authorization,
            timeout: Duration::from_secs(u64::from(config.timeout_seconds)),
            timeout_seconds: config.timeout_seconds,
            retries: config.retries,
            tls: TlsConnector::from(Arc::new(tls)),
        })
    }

    /// The request for one message (the body, or for GET the query string).
    fn request(&self, phone: &str, text: &str) -> Result<Request<Full<Bytes>>, SmsSendError> {
        let filled = render_body(&self.template, self.body_type, phone, text);
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let (method, target, body) = match self.method {
            SmsMethod::Get => {
                let joiner = if path.contains('?') { '&' } else { '?' };
                (
                    Method::GET,
                    format!("{path}{joiner}{filled}"),
                    String::new(),
                )
            }
            SmsMethod::Post => (Method::POST, path.to_owned(), filled),
            SmsMethod::Put => (Method::PUT, path.to_owned(), filled),
        };
        let authority = self
            .uri
            .authority()
            .map_or(self.host.as_str(), |a| a.as_str());
        let mut builder = Request::builder()
            .method(method)
            .uri(target)
            .header(HOST, authority)
            .header(USER_AGENT, concat!("motpd/", env!("CARGO_PKG_VERSION")));
        if self.method != SmsMethod::Get {
            let content_type = match self.body_type {
                SmsBodyType::Form => "application/x-www-form-urlencoded; charset=utf-8",
                SmsBodyType::Json => "application/json; charset=utf-8",
            };
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        if let Some(value) = &self.authorization {
            builder = builder.header(AUTHORIZATION, value.clone());
        }
        builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| SmsSendError::Config(format!("cannot build the request: {e}")))
    }

    async fn connect(&self) -> Result<Box<dyn Stream>, String> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        if !self.https {
            return Ok(Box::new(tcp));
        }
        let name = ServerName::try_from(self.host.clone()).map_err(|e| e.to_string())?;
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        Ok(Box::new(tls))
    }

    async fn attempt(&self, request: Request<Full<Bytes>>) -> Result<(), AttemptError> {
        let deadline = Instant::now() + self.timeout;
        let stream = match timeout_at(deadline, self.connect()).await {
            Err(_) => return Err(AttemptError::Unreached("connect timed out".into())),
            Ok(Err(e)) => return Err(AttemptError::Unreached(e)),
            Ok(Ok(stream)) => stream,
        };
        let (mut sender, connection) =
            match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
                Ok(pair) => pair,
                Err(e) => return Err(AttemptError::Unreached(e.to_string())),
            };
        let driver = tokio::spawn(connection);
        let exchange = async {
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Ok::<_, hyper::Error>((status, body))
        };
        let outcome = timeout_at(deadline, exchange).await;
        driver.abort();
        let (status, body) = match outcome {
            Err(_) => {
                return Err(AttemptError::Final(SmsSendError::Timeout(
                    self.timeout_seconds,
                )));
            }
            Ok(Err(e)) => {
                return Err(AttemptError::Final(SmsSendError::Protocol(e.to_string())));
            }
            Ok(Ok(answer)) => answer,
        };
        if status.is_server_error() {
            return Err(AttemptError::ServerError(status.as_u16()));
        }
        if !status.is_success() {
            return Err(AttemptError::Final(SmsSendError::Status(status.as_u16())));
        }
        match &self.success_match {
            Some(expected) if !String::from_utf8_lossy(&body).contains(expected.as_str()) => {
                Err(AttemptError::Final(SmsSendError::NotConfirmed))
            }
            _ => Ok(()),
        }
    }
}

/// The root certificates in the PEM file at `path` (an internal CA).
fn private_roots(path: &std::path::Path) -> Result<RootCertStore, SmsSendError> {
    let fail = |reason: String| SmsSendError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| fail(format!("not PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| fail(format!("not a usable certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(fail("holds no certificate".into()));
    }
    Ok(roots)
}

/// A byte stream to the gateway, plain or TLS.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

#[async_trait::async_trait]
impl SmsSender for HttpSmsSender {
    async fn send(&self, phone: &str, text: &str) -> Result<(), SmsSendError> {
        let mut tries_left = self.retries;
        loop {
            let error = match self.attempt(self.request(phone, text)?).await {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            let (retryable, final_error) = match error {
                AttemptError::Unreached(e) => (true, SmsSendError::Connect(e)),
                AttemptError::ServerError(code) => (true, SmsSendError::Status(code)),
                AttemptError::Final(e) => (false, e),
            };
            if !retryable || tries_left == 0 {
                tracing::warn!(to = %mask_phone(phone), error = %final_error, "SMS gateway failed");
                return Err(final_error);
            }
            tries_left -= 1;
            tracing::info!(to = %mask_phone(phone), error = %final_error, "SMS gateway failed; retrying");
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(url: &str) -> SmsConfig {
        SmsConfig {
            provider: crate::config::SmsProvider::Http,
            url: url.to_owned(),
            ..SmsConfig::default()
        }
    }

    #[test]
    fn the_authorization_value_never_shows_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth");
        std::fs::write(&path, "Bearer s3cret-gateway-token\r\n").unwrap();
        let mut c = config("https://sms.example.org:8443/api/send?x=1");
        c.auth_header_file = Some(path);
        let sender = HttpSmsSender::new(&c).unwrap();
        let shown = format!("{sender:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert_eq!(
            sender.authorization.as_ref().unwrap().to_str().unwrap(),
            "Bearer s3cret-gateway-token"
        );
        assert!(sender.https && sender.port == 8443 && sender.host == "sms.example.org");
    }

    #[test]
    fn requests_carry_the_body_or_the_query() {
        let sender = HttpSmsSender::new(&config("http://127.0.0.1/send?key=k")).unwrap();
        let request = sender.request("0912345678", "碼 1").unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri(), "/send?key=k");
        assert_eq!(request.headers()[HOST], "127.0.0.1");
        let mut c = config("http://[::1]:8080/send?key=k");
        c.method = SmsMethod::Get;
        let sender = HttpSmsSender::new(&c).unwrap();
        assert_eq!(sender.host, "::1");
        let request = sender.request("0912345678", "碼 1").unwrap();
        assert_eq!(
            request.uri(),
            "/send?key=k&phone=0912345678&message=%E7%A2%BC+1"
        );
        assert!(!request.headers().contains_key(CONTENT_TYPE));
    }

    #[test]
    fn unusable_settings_are_refused() {
        for url in ["ftp://x/", "not a url", "http:///nohost"] {
            assert!(
                matches!(
                    HttpSmsSender::new(&config(url)),
                    Err(SmsSendError::Config(_))
                ),
                "{url}"
            );
        }
        let mut c = config("http://127.0.0.1/");
        c.auth_header_file = Some("/nonexistent/motpd-sms-auth".into());
        assert!(matches!(
            HttpSmsSender::new(&c),
            Err(SmsSendError::AuthHeaderFile { .. })
        ));
    }
}
