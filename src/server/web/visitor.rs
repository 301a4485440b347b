//! The [`Visitor`] extractor: the client address (allow-listed, else the bilingual "hospital network only"
//! page, HTTP 403), the page language, the session cookie and the form cookie. Also how every page response is assembled.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::pages::{Frame, MessagePage, OutsidePage};
use super::session::{self, COOKIE};
use super::texts::{self, EN, LANG_COOKIE, Texts, ZH_TW};
use super::{WebState, form_token, net};
use crate::config::Language;

/// Who is asking, in which language, with which session.
#[derive(Debug)]
pub(crate) struct Visitor {
    pub(crate) ip: IpAddr,
    pub(crate) language: Language,
    /// `?lang=` was given: remember it in a cookie.
    remember_language: bool,
    pub(crate) session_id: Option<String>,
    /// The signed form cookie of the anonymous forms, unverified.
    pub(crate) form_cookie: Option<String>,
}

/// A [`Visitor`] from any network (the invitation pages: the link itself is the credential).
#[derive(Debug)]
pub(crate) struct AnyNetwork(pub(crate) Visitor);

/// A [`Visitor`] of the account activation / reset pages: from `web.account_networks` (default: `web.enroll_networks`).
#[derive(Debug)]
pub(crate) struct AccountVisitor(pub(crate) Visitor);

/// Which networks a page is for.
#[derive(Debug, Clone, Copy)]
enum Gate {
    /// `web.enroll_networks` (flow A).
    Enroll,
    /// `web.account_networks` (default: `web.enroll_networks`).
    Account,
    /// Any network.
    Open,
}

impl FromRequestParts<Arc<WebState>> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<WebState>,
    ) -> Result<Self, Self::Rejection> {
        Visitor::extract(parts, state, Gate::Enroll).await
    }
}

impl FromRequestParts<Arc<WebState>> for AnyNetwork {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<WebState>,
    ) -> Result<Self, Self::Rejection> {
        Visitor::extract(parts, state, Gate::Open)
            .await
            .map(AnyNetwork)
    }
}

impl FromRequestParts<Arc<WebState>> for AccountVisitor {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<WebState>,
    ) -> Result<Self, Self::Rejection> {
        Visitor::extract(parts, state, Gate::Account)
            .await
            .map(AccountVisitor)
    }
}

impl Visitor {
    /// The visitor of a request, if its address may use pages behind `gate`.
    async fn extract(
        parts: &mut Parts,
        state: &Arc<WebState>,
        gate: Gate,
    ) -> Result<Self, Response> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let forwarded = (!forwarded.is_empty()).then(|| forwarded.join(","));
        let ip = net::client_ip(peer.ip(), forwarded.as_deref(), &state.web.trusted_proxies);
        let web = &state.web;
        match gate {
            Gate::Enroll if !net::allowed(ip, &web.enroll_networks) => {
                return Err(outside(|t| (t.outside_heading, t.outside)));
            }
            Gate::Account if !net::allowed(ip, web.account_networks()) => {
                return Err(outside(|t| (t.account_outside_heading, t.account_outside)));
            }
            Gate::Enroll | Gate::Account | Gate::Open => {}
        }
        let cookies = cookie_header(&parts.headers);
        let query = parts.uri.query().and_then(|q| {
            q.split('&')
                .find_map(|pair| pair.strip_prefix("lang="))
                .and_then(texts::parse_code)
        });
        let language = query
            .or_else(|| session::cookie(&cookies, LANG_COOKIE).and_then(texts::parse_code))
            .or_else(|| {
                let accept = parts.headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
                texts::from_accept_language(accept)
            })
            .unwrap_or(state.web.default_language);
        Ok(Self {
            ip,
            language,
            remember_language: query.is_some(),
            session_id: session::cookie(&cookies, COOKIE).map(str::to_owned),
            form_cookie: session::cookie(&cookies, form_token::COOKIE).map(str::to_owned),
        })
    }
}

impl Visitor {
    pub(crate) fn texts(&self) -> &'static Texts {
        texts::texts(self.language)
    }

    /// The frame of a page whose language switch leads to `path`.
    pub(crate) fn frame(&self, path: &str) -> Frame {
        let t = self.texts();
        Frame {
            t,
            switch_href: format!("{path}?lang={}", t.other_code),
        }
    }

    /// A rendered page with `status`, plus the language cookie when `?lang=` chose it and `cookies`.
    pub(crate) fn page(
        &self,
        status: StatusCode,
        page: &impl Template,
        cookies: &[String],
    ) -> Response {
        render_page(self.language, self.remember_language, status, page, cookies)
    }

    /// A message page.
    pub(crate) fn message(&self, status: StatusCode, heading: &str, message: &str) -> Response {
        let page = MessagePage {
            f: self.frame("/enroll"),
            heading,
            message,
        };
        self.page(status, &page, &[])
    }

    /// 403, in both languages (a forged form may come with any language): the form's CSRF token is missing
    /// or wrong, or its session or form cookie is gone.
    pub(crate) fn forbidden(&self) -> Response {
        outside(|t| (t.forbidden_heading, t.forbidden))
    }

    /// 500: the decision could not be made.
    pub(crate) fn failure(&self, error: &dyn std::fmt::Display) -> Response {
        tracing::error!(%error, client = %self.ip, "enrollment page failed");
        let t = self.texts();
        self.message(StatusCode::INTERNAL_SERVER_ERROR, t.error_heading, t.error)
    }
}

fn cookie_header(headers: &HeaderMap) -> String {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The bilingual 403 page with the heading and text `pick` chooses (outside the allowed networks, or a refused
/// form).
fn outside(pick: fn(&Texts) -> (&'static str, &'static str)) -> Response {
    let (zh_heading, zh_text) = pick(&ZH_TW);
    let (en_heading, en_text) = pick(&EN);
    let page = OutsidePage {
        zh_heading,
        zh_text,
        en_heading,
        en_text,
    };
    match page.render() {
        Ok(html) => (StatusCode::FORBIDDEN, Html(html)).into_response(),
        Err(_) => StatusCode::FORBIDDEN.into_response(),
    }
}

/// `page` rendered with `status` and `cookies`, plus the language cookie when the visitor chose `language` by
/// `?lang=` (`remember`); shared by the enrollment pages and the console.
pub(crate) fn render_page(
    language: Language,
    remember: bool,
    status: StatusCode,
    page: &impl Template,
    cookies: &[String],
) -> Response {
    let mut response = match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "page template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    };
    let code = match language {
        Language::ZhTw => "zh-TW",
        Language::En => "en",
    };
    let lang = remember
        .then(|| format!("{LANG_COOKIE}={code}; SameSite=Strict; Path=/; Max-Age=31536000"));
    for cookie in cookies.iter().chain(lang.iter()) {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}
