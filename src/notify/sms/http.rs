//! [`HttpSmsSender`]: one HTTP/1.1 request per message to the gateway through `reqwest` (`http://` or `https://`
//! with rustls on *ring* and the Mozilla root certificates, or those of `sms.ca_file`), with the Authorization
//! header value read from `sms.auth_header_file` (never logged), a time-out per attempt, and bounded retries:
//! only when the gateway could not be reached or answered 5xx — never after a time-out once the request was
//! sent, where the message may already be on its way. Errors never carry the URL: it may hold an API key, and
//! for GET the number and the code.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Client, Method, Request, Url};
use tokio::time::{Instant, timeout_at};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use super::template::render_body;
use super::{SmsSendError, SmsSender};
use crate::account_rules::mask_phone;
use crate::config::{SmsBodyType, SmsConfig, SmsMethod};

/// The most of a gateway answer that is read (for `sms.success_match`).
const MAX_ANSWER: usize = 64 * 1024;
/// Pause before a retry.
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// How much sooner than the attempt's deadline connecting gives up: a connection that was never made then ends
/// as unreachable (retried), not as a time-out after the request may have been sent (final).
const CONNECT_MARGIN: Duration = Duration::from_millis(100);

/// A client of one HTTP SMS gateway.
pub struct HttpSmsSender {
    url: Url,
    method: SmsMethod,
    body_type: SmsBodyType,
    template: String,
    success_match: Option<String>,
    authorization: Option<HeaderValue>,
    timeout: Duration,
    timeout_seconds: u32,
    retries: u32,
    client: Client,
}

impl std::fmt::Debug for HttpSmsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Without the query: it may hold an API key.
        let origin = self.url.origin().ascii_serialization();
        f.debug_struct("HttpSmsSender")
            .field("url", &format_args!("{origin}{}", self.url.path()))
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
        let url = gateway_url(&config.url)?;
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
        // The provider is given here, not installed process-wide: building the client cannot panic for want of
        // a default provider, and *ring* stays the only one in the binary.
        let tls =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| bad(format!("TLS set-up: {e}")))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        let timeout = Duration::from_secs(u64::from(config.timeout_seconds));
        let client = Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(timeout.saturating_sub(CONNECT_MARGIN))
            .user_agent(concat!("motpd/", env!("CARGO_PKG_VERSION")))
            // The gateway's URL is configured: neither a redirect nor a proxy of the environment decides where the
            // number and the code go.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| bad(format!("cannot build the HTTP client: {}", describe(e))))?;
        Ok(Self {
            url,
            method: config.method,
            body_type: config.body_type,
            template: config.body_template.clone(),
            success_match: config.success_match.clone(),
            authorization,
            timeout,
            timeout_seconds: config.timeout_seconds,
            retries: config.retries,
            client,
        })
    }

    /// Sends one `HEAD` request to the gateway's URL, without the Authorization header or any phone number,
    /// and returns the HTTP status it answered with: whatever the status, the gateway was reached (and its TLS
    /// certificate accepted). For `motpd config check --reach`; no SMS is sent.
    pub async fn probe(&self) -> Result<u16, SmsSendError> {
        let request = self.client.head(self.url.clone()).timeout(self.timeout);
        match request.send().await {
            Ok(answer) => Ok(answer.status().as_u16()),
            Err(e) if e.is_timeout() && !e.is_connect() => {
                Err(SmsSendError::Timeout(self.timeout_seconds))
            }
            Err(e) => Err(SmsSendError::Connect(describe(e))),
        }
    }

    /// The request for one message (the body, or for GET the query string).
    fn request(&self, phone: &str, text: &str) -> Result<Request, SmsSendError> {
        let filled = render_body(&self.template, self.body_type, phone, text);
        let mut url = self.url.clone();
        let (method, body) = match self.method {
            SmsMethod::Get => {
                let query = match url.query() {
                    Some(query) => format!("{query}&{filled}"),
                    None => filled,
                };
                url.set_query(Some(&query));
                (Method::GET, String::new())
            }
            SmsMethod::Post => (Method::POST, filled),
            SmsMethod::Put => (Method::PUT, filled),
        };
        let mut builder = self.client.request(method, url);
        if self.method != SmsMethod::Get {
            let content_type = match self.body_type {
                SmsBodyType::Form => "application/x-www-form-urlencoded; charset=utf-8",
                SmsBodyType::Json => "application/json; charset=utf-8",
            };
            builder = builder.header(CONTENT_TYPE, content_type).body(body);
        }
        if let Some(value) = &self.authorization {
            builder = builder.header(AUTHORIZATION, value.clone());
        }
        builder
            .build()
            .map_err(|e| SmsSendError::Config(format!("cannot build the request: {}", describe(e))))
    }

    async fn attempt(&self, request: Request) -> Result<(), AttemptError> {
        let deadline = Instant::now() + self.timeout;
        let exchange = async {
            let mut response = self.client.execute(request).await?;
            let status = response.status();
            let mut body = Vec::new();
            // What was read when the answer broke off or grew too long is what `success_match` looks at.
            while body.len() < MAX_ANSWER {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        let room = MAX_ANSWER - body.len();
                        body.extend_from_slice(chunk.get(..room).unwrap_or(&chunk));
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            Ok::<_, reqwest::Error>((status, body))
        };
        let (status, body) = match timeout_at(deadline, exchange).await {
            Err(_) => {
                return Err(AttemptError::Final(SmsSendError::Timeout(
                    self.timeout_seconds,
                )));
            }
            Ok(Err(e)) if e.is_connect() => return Err(AttemptError::Unreached(describe(e))),
            Ok(Err(e)) => return Err(AttemptError::Final(SmsSendError::Protocol(describe(e)))),
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

/// `sms.url` checked: an `http://` or `https://` URL with a host.
fn gateway_url(text: &str) -> Result<Url, SmsSendError> {
    let bad = |what: String| SmsSendError::Config(what);
    // The URI syntax first: the URL parser would read `http:///x` as host `x`.
    let uri: hyper::Uri = text
        .parse()
        .map_err(|e| bad(format!("sms.url {text:?} is not a URL: {e}")))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("sms.url has no host".into()));
    }
    let url = Url::parse(text).map_err(|e| bad(format!("sms.url {text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("sms.url must start with http:// or https://".into()));
    }
    if url.host().is_none() {
        return Err(bad("sms.url has no host".into()));
    }
    Ok(url)
}

/// What went wrong, from the innermost cause (the outer ones only say in which step), `TLS: ` in front of a TLS
/// failure.
fn describe(error: reqwest::Error) -> String {
    if error.is_connect() && error.is_timeout() {
        return "connect timed out".into();
    }
    let error = error.without_url();
    let mut tls = false;
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        tls |= is_tls(e);
        text = e.to_string();
        cause = e.source();
    }
    if tls { format!("TLS: {text}") } else { text }
}

/// Whether `error` is a rustls error, perhaps inside I/O errors (as the TLS connector passes it on).
fn is_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    error.is::<rustls::Error>()
        || error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .is_some_and(|inner| is_tls(inner))
}

/// The root certificates in the PEM file at `path` (an internal CA).
fn private_roots(path: &std::path::Path) -> Result<RootCertStore, SmsSendError> {
    crate::tls_roots::pem_roots(path).map_err(|reason| SmsSendError::CaFile {
        path: path.to_owned(),
        reason,
    })
}

#[async_trait::async_trait]
impl SmsSender for HttpSmsSender {
    async fn send(&self, phone: &str, text: &str) -> Result<(), SmsSendError> {
        let started = std::time::Instant::now();
        let sent = self.send_with_retries(phone, text).await;
        if let Some(metrics) = crate::monitoring::global() {
            metrics.sms_sent(started.elapsed(), sent.is_ok());
        }
        sent
    }
}

impl HttpSmsSender {
    /// One send: the first attempt and the retries of a gateway that was not reached or answered 5xx.
    async fn send_with_retries(&self, phone: &str, text: &str) -> Result<(), SmsSendError> {
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
        let mut c = config("https://sms.example.org:8443/api/send?apikey=s3cret");
        c.auth_header_file = Some(path);
        let sender = HttpSmsSender::new(&c).unwrap();
        let shown = format!("{sender:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(
            shown.contains("https://sms.example.org:8443/api/send"),
            "{shown}"
        );
        let request = sender.request("0912345678", "碼 1").unwrap();
        assert_eq!(
            request.headers()[AUTHORIZATION].to_str().unwrap(),
            "Bearer s3cret-gateway-token"
        );
        assert!(request.headers()[AUTHORIZATION].is_sensitive());
        assert_eq!(request.url().scheme(), "https");
        assert_eq!(request.url().port_or_known_default(), Some(8443));
        assert_eq!(request.url().host_str(), Some("sms.example.org"));
    }

    #[test]
    fn requests_carry_the_body_or_the_query() {
        let sender = HttpSmsSender::new(&config("http://127.0.0.1/send?key=k")).unwrap();
        let request = sender.request("0912345678", "碼 1").unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.url().as_str(), "http://127.0.0.1/send?key=k");
        assert_eq!(
            request.body().and_then(reqwest::Body::as_bytes),
            Some(&b"phone=0912345678&message=%E7%A2%BC+1"[..])
        );
        assert!(
            request.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/x-www-form-urlencoded")
        );
        let mut c = config("http://[::1]:8080/send?key=k");
        c.method = SmsMethod::Get;
        let sender = HttpSmsSender::new(&c).unwrap();
        let request = sender.request("0912345678", "碼 1").unwrap();
        assert_eq!(
            request.url().as_str(),
            "http://[::1]:8080/send?key=k&phone=0912345678&message=%E7%A2%BC+1"
        );
        assert!(request.body().is_none());
        assert!(!request.headers().contains_key(CONTENT_TYPE));
        let mut c = config("http://127.0.0.1/send");
        c.method = SmsMethod::Get;
        let request = HttpSmsSender::new(&c)
            .unwrap()
            .request("0912345678", "x")
            .unwrap();
        assert_eq!(
            request.url().as_str(),
            "http://127.0.0.1/send?phone=0912345678&message=x"
        );
    }

    #[test]
    fn unusable_settings_are_refused() {
        for url in ["ftp://x/", "not a url", "http:///nohost", "https://"] {
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

    #[tokio::test]
    async fn errors_name_neither_the_url_nor_the_number() {
        // A port nothing listens on; GET puts the number and the text in the URL.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut c = config(&format!("http://127.0.0.1:{port}/send?apikey=s3cret"));
        c.method = SmsMethod::Get;
        c.retries = 0;
        let sender = HttpSmsSender::new(&c).unwrap();
        let error = sender.send("0912345678", "code 123456").await.unwrap_err();
        assert!(matches!(error, SmsSendError::Connect(_)), "{error:?}");
        let shown = format!("{error} {error:?}");
        for secret in ["s3cret", "0912345678", "123456", "send"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
}
