//! The phone change on the enrollment pages (`/enroll/change/...`, `web.enroll_networks` only): a logged-in
//! session posts its password and the old phone's code, gets a new session ID holding the change (old and new
//! device) and the new phone's QR code, then posts the new phone's code. The engine decides; this module keeps
//! the change in the session so that only the session that proved both factors may complete it.

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::WebState;
use super::handlers::{Page, checked_session, device_page, refusal_text, session_cookie, to_login};
use super::pages::{ChangePage, SeedView};
use super::session::SessionData;
use super::visitor::Visitor;
use crate::engine::phone_change::{ChangeOutcome, ChangeRefusal, ChangeStart};
use crate::secrets::SecretString;

/// The session's flow value while a change waits for the new phone's code.
const FLOW_PREFIX: &str = "phone-change:";

/// The start form. No `Debug`: it holds the password.
#[derive(Deserialize)]
pub(crate) struct StartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    label: String,
}

/// The new phone's code.
#[derive(Debug, Deserialize)]
pub(crate) struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    device: String,
    #[serde(default)]
    code: String,
}

fn flow_value(old_device_id: &str, new_device_id: &str) -> String {
    format!("{FLOW_PREFIX}{old_device_id}:{new_device_id}")
}

/// The old and new device of the session's change, if it is in one.
fn parse_flow(flow: Option<&str>) -> Option<(&str, &str)> {
    flow?.strip_prefix(FLOW_PREFIX)?.split_once(':')
}

/// `POST /enroll/change/start`: password and old code; on success a new session holding the change, and the
/// new phone's QR code.
pub(crate) async fn start(
    State(state): State<Arc<WebState>>,
    v: Visitor,
    Form(form): Form<StartForm>,
) -> Page {
    let (id, data) = checked_session(&state, &v, &form.csrf).await?;
    let Some(account_id) = data.account_id.clone() else {
        return Ok(to_login());
    };
    let t = v.texts();
    let now = state.service.now();
    if !state.limiter.allow(v.ip, now) {
        let error = Some(t.rate_limited.to_owned());
        return device_page(&state, &v, &data, &account_id, None, error).await;
    }
    let password = SecretString::new(form.password);
    let label =
        Some(form.label.trim().chars().take(64).collect::<String>()).filter(|l| !l.is_empty());
    let outcome = state
        .service
        .start_phone_change(
            &account_id,
            password.expose().as_bytes(),
            &form.code,
            label,
            v.ip,
        )
        .await
        .map_err(|e| v.failure(&e))?;
    let (old_device_id, new_device_id, secret_base32, uri) = match outcome {
        ChangeStart::Started {
            old_device_id,
            new_device_id,
            secret_base32,
            uri,
        } => (old_device_id, new_device_id, secret_base32, uri),
        ChangeStart::Refused(refusal) => {
            let error = match refusal {
                ChangeRefusal::BadProof => t.change_refused.to_owned(),
                ChangeRefusal::NoDevice => t.change_superseded.to_owned(),
                ChangeRefusal::Login(r) => refusal_text(&state, &v, r),
            };
            return device_page(&state, &v, &data, &account_id, None, Some(error)).await;
        }
    };
    // Both factors verified: a privilege change, so a new session ID (and CSRF token) holds the change.
    let fresh = SessionData::new(Some(account_id.clone()))
        .map_err(|e| v.failure(&e))?
        .with_flow(Some(flow_value(&old_device_id, &new_device_id)));
    let csrf = fresh.csrf.clone();
    let new_id = state
        .sessions
        .rotate(Some(&id), fresh, now)
        .await
        .map_err(|e| v.failure(&e))?;
    let seed = SeedView::new(&uri, &secret_base32, &state.otp).map_err(|e| v.failure(&e))?;
    let page = ChangePage {
        f: v.frame("/enroll/device"),
        csrf: &csrf,
        account_id: &account_id,
        device_id: &new_device_id,
        seed: Some(seed),
        error: None,
    };
    let mut response = v.page(StatusCode::OK, &page, &[]);
    set_cookie(&state, &mut response, &new_id);
    Ok(response)
}

fn set_cookie(state: &WebState, response: &mut Response, id: &str) {
    if let Ok(value) = session_cookie(state, id, None).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// `POST /enroll/change/confirm`: the new phone's first code completes the session's change.
pub(crate) async fn confirm(
    State(state): State<Arc<WebState>>,
    v: Visitor,
    Form(form): Form<ConfirmForm>,
) -> Page {
    let (id, data) = checked_session(&state, &v, &form.csrf).await?;
    let Some(account_id) = data.account_id.as_deref() else {
        return Ok(to_login());
    };
    let t = v.texts();
    let Some((old_device_id, new_device_id)) = parse_flow(data.flow.as_deref())
        .filter(|(_, new)| *new == form.device)
        .map(|(old, new)| (old.to_owned(), new.to_owned()))
    else {
        let error = Some(t.pending_expired.to_owned());
        return device_page(&state, &v, &data, account_id, None, error).await;
    };
    let outcome = state
        .service
        .confirm_phone_change(account_id, &old_device_id, &new_device_id, &form.code, v.ip)
        .await
        .map_err(|e| v.failure(&e))?;
    let (notice, error) = match outcome {
        ChangeOutcome::WrongCode => {
            let page = ChangePage {
                f: v.frame("/enroll/device"),
                csrf: &data.csrf,
                account_id,
                device_id: &new_device_id,
                seed: None,
                error: Some(t.wrong_code),
            };
            return Ok(v.page(StatusCode::OK, &page, &[]));
        }
        ChangeOutcome::Changed => (Some(t.change_done), None),
        ChangeOutcome::Expired => (None, Some(t.pending_expired.to_owned())),
        ChangeOutcome::Superseded => (None, Some(t.change_superseded.to_owned())),
    };
    let flow = flow_value(&old_device_id, &new_device_id);
    state
        .sessions
        .take_flow(&id, &flow, state.service.now())
        .await
        .map_err(|e| v.failure(&e))?;
    device_page(&state, &v, &data, account_id, notice, error).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flow_round_trips_and_other_flows_are_not_a_change() {
        let flow = flow_value("d-old", "d-new");
        assert_eq!(parse_flow(Some(&flow)), Some(("d-old", "d-new")));
        assert_eq!(parse_flow(Some("reset:alice")), None);
        assert_eq!(parse_flow(None), None);
    }
}
