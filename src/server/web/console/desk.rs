//! Who is at the console: the client address, the page language (`?lang=`, the language cookie,
//! `Accept-Language`, then `web.default_language`, as on the enrollment pages), the console's cookies; and how
//! a page response is put together (the template, the cookies to set, the language cookie).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ConsoleState;
use super::pages::{Frame, MessagePage, Who};
use super::sessions::{COOKIE, FORM_COOKIE};
use crate::config::Language;
use crate::server::web::net;
use crate::server::web::session::cookie;
use crate::server::web::texts::{self, LANG_COOKIE};
use crate::texts::ConsoleTexts;

/// The client's address: the socket peer, or `X-Forwarded-For` when the peer is a trusted proxy.
pub(super) fn client_ip(state: &ConsoleState, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let forwarded = (!forwarded.is_empty()).then(|| forwarded.join(","));
    net::client_ip(peer, forwarded.as_deref(), &state.web.trusted_proxies)
}

/// A request to the console (already inside `admin_networks`).
#[derive(Debug)]
pub(super) struct Desk {
    pub(super) ip: IpAddr,
    pub(super) language: Language,
    remember_language: bool,
    /// The session cookie, unverified.
    pub(super) session_id: Option<String>,
    /// The login form's CSRF cookie, unverified.
    pub(super) form_cookie: Option<String>,
}

impl FromRequestParts<Arc<ConsoleState>> for Desk {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ConsoleState>,
    ) -> Result<Self, Self::Rejection> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let ip = client_ip(state, peer.ip(), &parts.headers);
        let cookies: String = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join("; ");
        let query = parts.uri.query().and_then(|q| {
            q.split('&')
                .find_map(|pair| pair.strip_prefix("lang="))
                .and_then(texts::parse_code)
        });
        let language = query
            .or_else(|| cookie(&cookies, LANG_COOKIE).and_then(texts::parse_code))
            .or_else(|| {
                let accept = parts.headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
                texts::from_accept_language(accept)
            })
            .unwrap_or(state.default_language);
        Ok(Self {
            ip,
            language,
            remember_language: query.is_some(),
            session_id: cookie(&cookies, COOKIE)
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
            form_cookie: cookie(&cookies, FORM_COOKIE).map(str::to_owned),
        })
    }
}

impl Desk {
    pub(super) fn texts(&self) -> &'static ConsoleTexts {
        crate::texts::console(self.language)
    }

    /// The frame of a page at `path` for the signed-in `who` (if any).
    pub(super) fn frame(&self, path: &str, who: Option<Who>) -> Frame {
        let t = self.texts();
        Frame {
            t,
            switch_href: format!("{path}?lang={}", t.other_code),
            who,
        }
    }

    /// A rendered page with `status` and `cookies`, plus the language cookie when `?lang=` chose it.
    pub(super) fn page(
        &self,
        status: StatusCode,
        page: &impl Template,
        cookies: &[String],
    ) -> Response {
        crate::server::web::visitor::render_page(
            self.language,
            self.remember_language,
            status,
            page,
            cookies,
        )
    }

    /// A message page.
    pub(super) fn message(
        &self,
        status: StatusCode,
        who: Option<Who>,
        heading: &str,
        message: &str,
    ) -> Response {
        let page = MessagePage {
            f: self.frame("/admin", who),
            heading,
            message,
        };
        self.page(status, &page, &[])
    }

    /// 403: a form without its session's CSRF token.
    pub(super) fn forbidden(&self, who: Option<Who>) -> Response {
        let t = self.texts();
        self.message(StatusCode::FORBIDDEN, who, t.forbidden_heading, t.forbidden)
    }

    /// 500: the store or the hashing failed.
    pub(super) fn failure(&self, error: &dyn std::fmt::Display) -> Response {
        tracing::error!(%error, client = %self.ip, "helpdesk console failed");
        let t = self.texts();
        self.message(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            t.error_heading,
            t.error,
        )
    }
}
