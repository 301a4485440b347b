//! The account activation (`/account/activate`) and forgotten-password (`/account/reset`) pages: account ID,
//! then two proofs — a code (by SMS to the registered number, or from the bound app) together with the identity
//! on file (national ID number or birth date), or alone a one-time code from the helpdesk — then a new password.
//!
//! From `web.account_networks` (default: `web.enroll_networks`). Every POST needs a CSRF token: the signed form
//! cookie's until a code is requested (no session, no store write before), then the session's; code requests
//! and checks are rate-limited per address and per typed account ID. Until a code is verified the pages are the
//! same whatever the typed account and number are (see [`crate::engine::account_recovery`], which makes every
//! decision). The step is kept in the form cookie, then in the session ([`AccountFlow`]); a verified code moves
//! it to a session with a new ID.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::WebState;
use super::account_flow::AccountFlow;
use super::guard::{Poster, anonymous_form, checked_anonymous, checked_poster, form_cookie};
use super::handlers::{Page, checked_session, session_cookie};
use super::pages::{AccountPage, AccountStep};
use super::session::SessionData;
use super::texts::Texts;
use super::visitor::{AccountVisitor, Visitor};
use crate::account_rules::normalize_phone;
use crate::engine::account_recovery::{
    Committed, PasswordCheck, ProofMethod, RecoveryPurpose, Standing, Verification,
};
use crate::secrets::SecretString;

/// Every field of the account pages' forms (all optional, so a missing CSRF token is a 403, not a 422). No
/// `Debug`: it holds passwords and codes.
#[derive(Deserialize)]
pub(crate) struct AccountForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    identity: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// The purpose named in the path, else 404.
macro_rules! purpose_or_404 {
    ($state:expr, $v:expr, $raw:expr) => {
        match RecoveryPurpose::parse($raw) {
            Some(purpose) if !$state.recovery.stores_passwords() => {
                return Ok(directory_password(&$state, &$v, purpose));
            }
            Some(purpose) => purpose,
            None => return Ok(StatusCode::NOT_FOUND.into_response()),
        }
    };
}

/// The path of a purpose's pages.
fn base_of(purpose: RecoveryPurpose) -> &'static str {
    match purpose {
        RecoveryPurpose::Activate => "/account/activate",
        RecoveryPurpose::Reset => "/account/reset",
    }
}

/// A page of `purpose` at `step` (no notice, no error).
fn page<'a>(
    state: &WebState,
    v: &Visitor,
    purpose: RecoveryPurpose,
    step: AccountStep,
    csrf: &'a str,
    account: &'a str,
) -> AccountPage<'a> {
    let t = v.texts();
    let base = base_of(purpose);
    let (heading, intro, other_label) = match purpose {
        RecoveryPurpose::Activate => (t.activate_heading, t.activate_intro, t.reset_link),
        RecoveryPurpose::Reset => (t.reset_heading, t.reset_intro, t.activate_link),
    };
    let other = match purpose {
        RecoveryPurpose::Activate => RecoveryPurpose::Reset,
        RecoveryPurpose::Reset => RecoveryPurpose::Activate,
    };
    let min = state.min_password_length;
    // The language switch stays on this step (a GET of it).
    let here = match step {
        AccountStep::Start | AccountStep::Outcome => base.to_owned(),
        AccountStep::Method | AccountStep::SmsCode => format!("{base}/method"),
        AccountStep::Password => format!("{base}/password"),
    };
    AccountPage {
        f: v.frame(&here),
        step,
        csrf,
        base,
        heading,
        intro,
        other_base: base_of(other),
        other_label,
        account,
        sms: state.recovery.sms_enabled(),
        min_password: min,
        password_intro: (t.password_intro)(min),
        notice: None,
        error: None,
    }
}

/// The CSRF token and account-page state of a GET: the visitor's session if it is in the account pages, else
/// the signed form cookie (new if there is none, with its `Set-Cookie`). Writes nothing for a visitor without a
/// session.
async fn form_state(
    state: &WebState,
    v: &Visitor,
) -> Result<(String, Option<String>, Vec<String>), Response> {
    if let Some(data) = existing_session(state, v)
        .await?
        .filter(|d| d.flow.is_some())
    {
        return Ok((data.csrf, data.flow, Vec::new()));
    }
    let (token, cookies) = anonymous_form(state, v)?;
    Ok((token.csrf().to_owned(), token.state, cookies))
}

/// Stores the verified proof's grant under a new session ID (the old session, if any, ends): the step that lets
/// the password be set is a privilege change.
async fn grant_session(
    state: &WebState,
    v: &Visitor,
    grant: &AccountFlow,
) -> Result<String, Response> {
    let data = SessionData::new(None)
        .map_err(|e| v.failure(&e))?
        .with_flow(Some(grant.to_json()));
    let id = state
        .sessions
        .rotate(v.session_id.as_deref(), data, state.recovery.now())
        .await
        .map_err(|e| v.failure(&e))?;
    Ok(session_cookie(state, &id, None))
}

/// The session of a GET that needs one; `None` if there is none.
async fn existing_session(state: &WebState, v: &Visitor) -> Result<Option<SessionData>, Response> {
    let Some(id) = v.session_id.as_deref() else {
        return Ok(None);
    };
    state
        .sessions
        .touch(id, state.recovery.now())
        .await
        .map_err(|e| v.failure(&e))
}

async fn set_flow(
    state: &WebState,
    v: &Visitor,
    id: &str,
    flow: Option<&AccountFlow>,
) -> Result<(), Response> {
    let json = flow.map(AccountFlow::to_json);
    state
        .sessions
        .set_flow(id, json.as_deref(), state.recovery.now())
        .await
        .map_err(|e| v.failure(&e))?;
    Ok(())
}

/// Counts one code request or check against the address and the typed account; `false` if over a limit.
fn within_limits(state: &WebState, v: &Visitor, account: &str) -> bool {
    let now = state.recovery.now();
    let by_address = state.account_tries_by_address.allow(v.ip, now);
    let by_account = state.account_tries_by_id.allow(account.to_owned(), now);
    by_address && by_account
}

/// The typed account as kept in the flow: trimmed, lower case, at most 64 characters.
fn typed_account(raw: &str) -> String {
    raw.trim().to_lowercase().chars().take(64).collect()
}

fn to_start(purpose: RecoveryPurpose) -> Response {
    Redirect::to(base_of(purpose)).into_response()
}

/// Where passwords are the directory's: the page says so and where staff change or reset theirs.
fn directory_password(state: &WebState, v: &Visitor, purpose: RecoveryPurpose) -> Response {
    let t = v.texts();
    let notice = match state.password_help_url.as_str() {
        "" => t.directory_password.to_owned(),
        url => format!("{} {} {url}", t.directory_password, t.directory_password_at),
    };
    outcome(state, v, purpose, Some(&notice), None)
}

/// An outcome page: the step is over (done, refused, expired).
fn outcome(
    state: &WebState,
    v: &Visitor,
    purpose: RecoveryPurpose,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let mut p = page(state, v, purpose, AccountStep::Outcome, "", "");
    p.notice = notice.map(str::to_owned);
    p.error = error.map(str::to_owned);
    v.page(StatusCode::OK, &p, &[])
}

/// What a verified owner whose account may not get a password this way is told.
fn standing_text(t: &'static Texts, standing: Standing) -> &'static str {
    match standing {
        Standing::AlreadyActive => t.use_reset,
        Standing::NotActivated => t.use_activation,
        Standing::Disabled => t.disabled,
        Standing::Expired => t.expired_account,
        Standing::AdminLocked => t.admin_locked,
        Standing::Unavailable | Standing::MaySetPassword => t.flow_expired,
    }
}

/// `GET /account/{purpose}`: the account ID form.
pub(crate) async fn start_form(
    State(state): State<Arc<WebState>>,
    AccountVisitor(v): AccountVisitor,
    Path(purpose): Path<String>,
) -> Page {
    let purpose = purpose_or_404!(state, v, &purpose);
    let (token, cookies) = anonymous_form(&state, &v)?;
    let p = page(&state, &v, purpose, AccountStep::Start, token.csrf(), "");
    Ok(v.page(StatusCode::OK, &p, &cookies))
}

/// `POST /account/{purpose}`: remembers the typed account (without looking it up) in the form cookie and goes on
/// to the methods; the browser's session from before (an earlier attempt, an enrollment login) ends, so no stale
/// step shadows the new one.
pub(crate) async fn identify(
    State(state): State<Arc<WebState>>,
    AccountVisitor(v): AccountVisitor,
    Path(purpose): Path<String>,
    Form(form): Form<AccountForm>,
) -> Page {
    let purpose = purpose_or_404!(state, v, &purpose);
    let token = checked_anonymous(&state, &v, &form.csrf)?;
    let account = typed_account(&form.account);
    if account.is_empty() {
        let p = page(&state, &v, purpose, AccountStep::Start, token.csrf(), "");
        return Ok(v.page(StatusCode::OK, &p, &[]));
    }
    let flow = AccountFlow::Identified { purpose, account };
    let mut cookies = vec![form_cookie(
        &state,
        &token.with_state(Some(flow.to_json()), state.recovery.now()),
    )];
    if let Some(old) = v.session_id.as_deref() {
        state
            .sessions
            .remove(old)
            .await
            .map_err(|e| v.failure(&e))?;
        cookies.push(session_cookie(&state, "", Some(0)));
    }
    let mut response = Redirect::to(&format!("{}/method", base_of(purpose))).into_response();
    for cookie in cookies {
        if let Ok(value) = cookie.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// `GET /account/{purpose}/method`: SMS (the registered number) or the app's code.
pub(crate) async fn method_form(
    State(state): State<Arc<WebState>>,
    AccountVisitor(v): AccountVisitor,
    Path(purpose): Path<String>,
) -> Page {
    let purpose = purpose_or_404!(state, v, &purpose);
    let (csrf, flow, cookies) = form_state(&state, &v).await?;
    let Some(account) = AccountFlow::identified(flow.as_deref(), purpose) else {
        return Ok(to_start(purpose));
    };
    let p = page(&state, &v, purpose, AccountStep::Method, &csrf, &account);
    Ok(v.page(StatusCode::OK, &p, &cookies))
}

/// `POST /account/{purpose}/sms`: a code to the registered number if the typed number is it; the same answer
/// in every case. The session starts here (within the rate limits), to count the code's checks.
pub(crate) async fn send_sms(
    State(state): State<Arc<WebState>>,
    AccountVisitor(v): AccountVisitor,
    Path(purpose): Path<String>,
    Form(form): Form<AccountForm>,
) -> Page {
    let purpose = purpose_or_404!(state, v, &purpose);
    let poster = checked_poster(&state, &v, &form.csrf).await?;
    let Some(account) = AccountFlow::identified(poster.flow(), purpose) else {
        return Ok(to_start(purpose));
    };
    let t = v.texts();
    let mut p = page(
        &state,
        &v,
        purpose,
        AccountStep::Method,
        poster.csrf(),
        &account,
    );
    if !state.recovery.sms_enabled() {
        return Ok(v.page(StatusCode::OK, &p, &[]));
    }
    if normalize_phone(&form.phone).is_err() {
        p.error = Some(t.bad_phone.to_owned());
        return Ok(v.page(StatusCode::OK, &p, &[]));
    }
    if !within_limits(&state, &v, &account) {
        p.error = Some(t.rate_limited.to_owned());
        return Ok(v.page(StatusCode::TOO_MANY_REQUESTS, &p, &[]));
    }
    state
        .recovery
        .send_sms_code(purpose, &account, &form.phone, v.language, v.ip)
        .await
        .map_err(|e| v.failure(&e))?;
    let flow = AccountFlow::Identified {
        purpose,
        account: account.clone(),
    };
    let (session, cookies) = match poster {
        Poster::Session { data, .. } => (data, Vec::new()),
        Poster::Anonymous(_) => {
            let data = SessionData::new(None)
                .map_err(|e| v.failure(&e))?
                .with_flow(Some(flow.to_json()));
            let id = state
                .sessions
                .rotate(v.session_id.as_deref(), data.clone(), state.recovery.now())
                .await
                .map_err(|e| v.failure(&e))?;
            (data, vec![session_cookie(&state, &id, None)])
        }
    };
    let mut p = page(
        &state,
        &v,
        purpose,
        AccountStep::SmsCode,
        &session.csrf,
        &account,
    );
    p.notice = Some((t.code_sent)(state.sms_code_minutes));
    Ok(v.page(StatusCode::OK, &p, &cookies))
}

/// `POST /account/{purpose}/sms/verify`: the code from the SMS.
pub(crate) async fn verify_sms(
    State(state): State<Arc<WebState>>,
    AccountVisitor(v): AccountVisitor,
    Path(purpose): Path<String>,
    Form(form): Form<AccountForm>,
) -> Page {
    verify(&state, &v, &purpose, &form, ProofMethod::Sms).await
}

/// `POST /account/{purpose}/helpdesk`: the one-time code from the helpdesk.
pub(crate) async fn verify_helpdesk(
    State(state): State<Arc<WebState>>,
    AccountVisitor(v): AccountVisitor,
    Path(purpose): Path<String>,
    Form(form): Form<AccountForm>,
) -> Page {
    verify(&state, &v, &purpose, &form, ProofMethod::Helpdesk).await
}

/// `POST /account/{purpose}/app`: the app's current code.
pub(crate) async fn verify_app(
    State(state): State<Arc<WebState>>,
    AccountVisitor(v): AccountVisitor,
    Path(purpose): Path<String>,
    Form(form): Form<AccountForm>,
) -> Page {
    verify(&state, &v, &purpose, &form, ProofMethod::App).await
}

async fn verify(
    state: &WebState,
    v: &Visitor,
    purpose: &str,
    form: &AccountForm,
    method: ProofMethod,
) -> Page {
    let purpose = purpose_or_404!(state, v, purpose);
    let poster = checked_poster(state, v, &form.csrf).await?;
    let Some(account) = AccountFlow::identified(poster.flow(), purpose) else {
        return Ok(to_start(purpose));
    };
    let t = v.texts();
    let step = match method {
        ProofMethod::Sms => AccountStep::SmsCode,
        ProofMethod::App | ProofMethod::Helpdesk => AccountStep::Method,
    };
    let mut p = page(state, v, purpose, step, poster.csrf(), &account);
    if !within_limits(state, v, &account) {
        p.error = Some(t.rate_limited.to_owned());
        return Ok(v.page(StatusCode::TOO_MANY_REQUESTS, &p, &[]));
    }
    let recovery = &state.recovery;
    let verification = match method {
        ProofMethod::Sms => {
            recovery
                .verify_sms_code(purpose, &account, &form.code, &form.identity, v.ip)
                .await
        }
        ProofMethod::App => {
            recovery
                .verify_app_code(purpose, &account, &form.code, &form.identity, v.ip)
                .await
        }
        ProofMethod::Helpdesk => {
            recovery
                .verify_helpdesk_code(purpose, &account, &form.code, v.ip)
                .await
        }
    }
    .map_err(|e| v.failure(&e))?;
    let Verification::Verified {
        account_id,
        standing,
    } = verification
    else {
        p.error = Some(t.verify_failed.to_owned());
        return Ok(v.page(StatusCode::OK, &p, &[]));
    };
    if standing != Standing::MaySetPassword {
        if let Poster::Session { id, .. } = &poster {
            set_flow(state, v, id, None).await?;
        }
        return Ok(outcome(
            state,
            v,
            purpose,
            None,
            Some(standing_text(t, standing)),
        ));
    }
    let grant = AccountFlow::verified(purpose, account_id, method, recovery.now())
        .map_err(|e| v.failure(&e))?;
    let cookie = grant_session(state, v, &grant).await?;
    let mut response = Redirect::to(&format!("{}/password", base_of(purpose))).into_response();
    if let Ok(value) = cookie.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `GET /account/{purpose}/password`: the new password form, while the verified code's grant lasts.
pub(crate) async fn password_form(
    State(state): State<Arc<WebState>>,
    AccountVisitor(v): AccountVisitor,
    Path(purpose): Path<String>,
) -> Page {
    let purpose = purpose_or_404!(state, v, &purpose);
    let now = state.recovery.now();
    let data = existing_session(&state, &v).await?;
    let granted = data
        .as_ref()
        .and_then(|d| AccountFlow::granted(d.flow.as_deref(), purpose, now));
    let (Some(data), Some((account, _))) = (data.as_ref(), granted) else {
        return Ok(outcome(
            &state,
            &v,
            purpose,
            None,
            Some(v.texts().flow_expired),
        ));
    };
    let p = page(
        &state,
        &v,
        purpose,
        AccountStep::Password,
        &data.csrf,
        &account,
    );
    Ok(v.page(StatusCode::OK, &p, &[]))
}

/// `POST /account/{purpose}/password`: checks the new password, takes the grant (once), stores it.
pub(crate) async fn set_password(
    State(state): State<Arc<WebState>>,
    AccountVisitor(v): AccountVisitor,
    Path(purpose): Path<String>,
    Form(form): Form<AccountForm>,
) -> Page {
    let purpose = purpose_or_404!(state, v, &purpose);
    let (id, data) = checked_session(&state, &v, &form.csrf).await?;
    let password = SecretString::new(form.password);
    let confirm = SecretString::new(form.confirm);
    let t = v.texts();
    let recovery = &state.recovery;
    let Some((account, method)) =
        AccountFlow::granted(data.flow.as_deref(), purpose, recovery.now())
    else {
        return Ok(outcome(&state, &v, purpose, None, Some(t.flow_expired)));
    };
    let mut p = page(
        &state,
        &v,
        purpose,
        AccountStep::Password,
        &data.csrf,
        &account,
    );
    if password.expose() != confirm.expose() {
        p.error = Some(t.passwords_differ.to_owned());
        return Ok(v.page(StatusCode::OK, &p, &[]));
    }
    let check = recovery
        .prepare_password(purpose, method, &account, password.expose())
        .await
        .map_err(|e| v.failure(&e))?;
    let prepared = match check {
        PasswordCheck::Prepared(prepared) => prepared,
        PasswordCheck::Refused(violation) => {
            p.error = Some(violation.message(v.language));
            return Ok(v.page(StatusCode::OK, &p, &[]));
        }
        PasswordCheck::NotAllowed(standing) => {
            set_flow(&state, &v, &id, None).await?;
            return Ok(outcome(
                &state,
                &v,
                purpose,
                None,
                Some(standing_text(t, standing)),
            ));
        }
    };
    let Some(grant) = data.flow.as_deref() else {
        return Ok(outcome(&state, &v, purpose, None, Some(t.flow_expired)));
    };
    let taken = state
        .sessions
        .take_flow(&id, grant, recovery.now())
        .await
        .map_err(|e| v.failure(&e))?;
    if !taken {
        return Ok(outcome(&state, &v, purpose, None, Some(t.flow_expired)));
    }
    let committed = recovery
        .commit_password(prepared, v.ip)
        .await
        .map_err(|e| v.failure(&e))?;
    Ok(match committed {
        Committed::Done { .. } => {
            let done = match purpose {
                RecoveryPurpose::Activate => t.activated,
                RecoveryPurpose::Reset => t.reset_done,
            };
            outcome(&state, &v, purpose, Some(done), None)
        }
        Committed::Changed => outcome(&state, &v, purpose, None, Some(t.flow_expired)),
    })
}
