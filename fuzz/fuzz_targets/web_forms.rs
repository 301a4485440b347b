//! The enrollment and account pages, through the whole axum router in-process (`tower::ServiceExt::oneshot`):
//! up to six requests per input, each to one of the pages' routes (flow A and its phone change, the account
//! activation / reset pages with their SMS, app and help-desk steps, the invitation links), with an arbitrary body,
//! content type, path parameter, language and `X-Forwarded-For`, from an address inside or outside the allowed
//! networks.
//! The requests of one input share a cookie jar, and the body's `{csrf}` becomes the CSRF token of the last
//! page, `{code}` the current code of `nurse.chen`'s app, so that inputs get past the form checks. The real
//! services run over an SQLite file with a manual clock the input moves forward.
//!
//! Invariant: nothing panics and no response is a 5xx (the store is healthy, so none may be one).
#![no_main]

include!("site.rs");

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, header};
use libfuzzer_sys::arbitrary::{Result as ArbitraryResult, Unstructured};
use motpd::clock::{Clock, ManualClock};
use motpd::config::Config;
use motpd::otp::{Algorithm, totp_at};
use motpd::server::web::{WebState, router};
use motpd::store::AccountStatus;
use tower::ServiceExt;

const NOW: i64 = 1_750_000_000;
/// RFC 6238's SHA1 seed: the app of `nurse.chen`.
const SEED: &[u8] = b"12345678901234567890";
const PASSWORD: &[u8] = b"Nurse.Chen2024!";

/// The routes of `motpd::server::web::router`; `{p}` is the path parameter the input chooses.
const ROUTES: [(&str, &str); 20] = [
    ("GET", "/enroll"),
    ("POST", "/enroll/login"),
    ("GET", "/enroll/device"),
    ("POST", "/enroll/device/start"),
    ("POST", "/enroll/device/confirm"),
    ("POST", "/enroll/logout"),
    ("GET", "/account/{p}"),
    ("POST", "/account/{p}"),
    ("GET", "/account/{p}/method"),
    ("POST", "/account/{p}/sms"),
    ("POST", "/account/{p}/sms/verify"),
    ("POST", "/account/{p}/app"),
    ("POST", "/account/{p}/helpdesk"),
    ("GET", "/account/{p}/password"),
    ("POST", "/account/{p}/password"),
    ("GET", "/invite/{p}"),
    ("POST", "/invite/{p}/unlock"),
    ("POST", "/invite/{p}/confirm"),
    ("POST", "/enroll/change/start"),
    ("POST", "/enroll/change/confirm"),
];

struct Harness {
    runtime: tokio::runtime::Runtime,
    app: Router,
    clock: ManualClock,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let clock = ManualClock::new(NOW);
        let app = runtime.block_on(app(&clock));
        Harness {
            runtime,
            app,
            clock,
        }
    })
}

async fn app(clock: &ManualClock) -> Router {
    let (stores, key) = open_site("web", clock).await;
    let store = stores.store.clone();
    let mut config = Config::default();
    config.web.enroll_networks = vec!["10.0.0.0/8".parse().expect("network")];
    config.web.trusted_proxies = vec!["192.168.100.0/24".parse().expect("network")];
    config.validate().expect("valid config");
    // With a device; without one (may enroll); disabled; never activated (no password).
    let hash = motpd::password::hash_password(PASSWORD).expect("hash");
    for (id, status, password) in [
        ("nurse.chen", AccountStatus::Active, Some(hash.clone())),
        ("dr.wang", AccountStatus::Active, Some(hash.clone())),
        ("clerk.lin", AccountStatus::Disabled, Some(hash)),
        ("new.hire", AccountStatus::Active, None),
    ] {
        add_account(
            store.as_ref(),
            id,
            status,
            password,
            Some("0912345678"),
            &["vpn"],
        )
        .await;
    }
    bind_seed(store.as_ref(), &key, "nurse.chen").await;
    let state = WebState::new(&config, &stores, key, Arc::new(clock.clone()));
    router(Arc::new(state))
}

/// Cookies set by the responses of one input, and the CSRF token of the last page that had one.
#[derive(Default)]
struct Browser {
    cookies: BTreeMap<String, String>,
    csrf: String,
}

impl Browser {
    fn keep(&mut self, response: &axum::http::Response<Body>, body: &str) {
        for value in response.headers().get_all(header::SET_COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            let pair = value.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies
                    .insert(name.trim().to_owned(), value.to_owned());
            }
        }
        let marker = "name=\"csrf\" value=\"";
        if let Some(rest) = body
            .find(marker)
            .and_then(|at| body.get(at + marker.len()..))
            && let Some(end) = rest.find('"')
        {
            self.csrf = rest.get(..end).unwrap_or_default().to_owned();
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn text(u: &mut Unstructured<'_>, max: usize) -> ArbitraryResult<String> {
    let len = u.int_in_range(0..=max)?;
    Ok(String::from_utf8_lossy(u.bytes(len)?).into_owned())
}

/// One request of the input, or `None` when the input is used up.
fn request(
    u: &mut Unstructured<'_>,
    browser: &Browser,
    now: i64,
) -> ArbitraryResult<Request<Body>> {
    let (method, route) = *u.choose(&ROUTES)?;
    let parameter = match u.int_in_range(0u8..=3)? {
        0 => "activate".to_owned(),
        1 => "reset".to_owned(),
        2 => "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdef".to_owned(),
        _ => form_urlencoded::byte_serialize(text(u, 64)?.as_bytes()).collect(),
    };
    let mut path = route.replace("{p}", &parameter);
    if u.ratio(1u8, 8)? {
        path.push_str(u.choose(&["?lang=en", "?lang=zh-TW", "?lang=xx", "?"])?);
    }
    let peer: [u8; 4] = *u.choose(&[
        [10, 1, 2, 3],
        [192, 0, 2, 1],
        [192, 168, 100, 5],
        [10, 9, 9, 9],
    ])?;
    let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(peer)), 50_000);
    let mut builder = Request::builder()
        .method(if method == "GET" {
            Method::GET
        } else {
            Method::POST
        })
        .uri(path);
    builder = builder.header(
        header::CONTENT_TYPE,
        if u.ratio(1u8, 16)? {
            text(u, 40)?
        } else {
            "application/x-www-form-urlencoded".to_owned()
        },
    );
    if u.ratio(1u8, 8)? {
        builder = builder.header("x-forwarded-for", text(u, 40)?);
    }
    if u.ratio(1u8, 8)? {
        builder = builder.header(header::ACCEPT_LANGUAGE, text(u, 40)?);
    }
    let send_cookies = !u.ratio(1u8, 16)?;
    if send_cookies && !browser.cookies.is_empty() {
        builder = builder.header(header::COOKIE, browser.cookie_header());
    }
    let code = totp_at(
        SEED,
        u64::try_from(now).unwrap_or(0),
        30,
        6,
        Algorithm::Sha1,
    )
    .unwrap_or_default();
    let body = text(u, 512)?
        .replace("{csrf}", &browser.csrf)
        .replace("{code}", &code);
    let mut request = builder
        .body(Body::from(body))
        .map_err(|_| libfuzzer_sys::arbitrary::Error::IncorrectFormat)?;
    request.extensions_mut().insert(ConnectInfo(peer));
    Ok(request)
}

/// `MOTPD_FUZZ_TRACE=1`: one line per request saying what the router answered (to check what the seeds reach).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("MOTPD_FUZZ_TRACE").is_some())
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let h = harness();
    let mut u = Unstructured::new(data);
    let advance = match u.int_in_range(0u8..=3).unwrap_or(0) {
        0 => 0,
        1 => 30,
        2 => 16 * 60,
        _ => i64::from(u.arbitrary::<u8>().unwrap_or(0)),
    };
    h.clock.advance(advance);
    let mut browser = Browser::default();
    for _ in 0..6 {
        if u.is_empty() {
            break;
        }
        let Ok(request) = request(&mut u, &browser, h.clock.now()) else {
            break;
        };
        let what = format!("{} {}", request.method(), request.uri());
        let (status, response, body) = h.runtime.block_on(async {
            let response = h.app.clone().oneshot(request).await.expect("infallible");
            let status = response.status();
            let (parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            let response = axum::http::Response::from_parts(parts, Body::empty());
            (
                status,
                response,
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        });
        if trace() {
            eprintln!("{what}: {status}");
        }
        assert!(
            !status.is_server_error(),
            "{what} answered {status}: {body}"
        );
        browser.keep(&response, &body);
    }
});
