//! The console's admins (admin role): the list and the add form; per admin a page to reset its TOTP device,
//! disable / enable it and remove it (not itself: the engine refuses). Adding an admin and resetting its device
//! are two steps, like `motpd admin add|reset`: the QR code and initial key are shown once, and nothing is
//! stored until the device's first code. Between the two pages the pending device (and a new admin's password
//! hash) travels in a hidden field, sealed under the master key and bound to the session — no server-side
//! state, so any node can take the second step — and it lapses after [`PENDING_SECONDS`].

// The error is the page to answer with, as in every handler; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use data_encoding::BASE64URL_NOPAD;
use serde::{Deserialize, Serialize};

use super::ConsoleState;
use super::forms::{self, Done, reason};
use super::guard::{AdminOnly, SignedIn};
use super::pages::{AdminPage, AdminRow, AdminsPage, NewDevicePage};
use crate::engine::admins::{self, AdminError, AdminSeed, By};
use crate::model::{Admin, AdminRole};
use crate::monitoring::ConsoleAction;
use crate::secrets::{Aad, SecretString};
use crate::texts::ConsoleTexts;

/// How long the QR page's second step stays possible.
const PENDING_SECONDS: i64 = 600;

/// `GET /admin/admins`: the list and the add form.
pub(super) async fn list(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
    Query(done): Query<Done>,
) -> Response {
    let t = admin.desk.texts();
    let notice = match done.done.as_deref() {
        Some("added") => Some(t.admin_added),
        Some("reset") => Some(t.admin_reset_done),
        Some("disabled") => Some(t.admin_disabled_done),
        Some("enabled") => Some(t.admin_enabled_done),
        Some("removed") => Some(t.admin_removed),
        _ => None,
    };
    list_page(
        &state,
        &admin,
        &AddForm::default(),
        notice,
        None,
        StatusCode::OK,
    )
    .await
}

async fn list_page(
    state: &ConsoleState,
    admin: &SignedIn,
    typed: &AddForm,
    notice: Option<&'static str>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let t = admin.desk.texts();
    let admins = match state.store.list_admins().await {
        Ok(admins) => admins,
        Err(error) => return admin.desk.failure(&error),
    };
    let rows = admins.iter().map(|a| row(state, t, a)).collect();
    let page = AdminsPage {
        f: admin.frame("/admin/admins"),
        rows,
        csrf: admin.csrf(),
        notice,
        error,
        name: &typed.name,
        role_admin: typed.role == "admin",
        reason: &typed.reason,
    };
    admin.desk.page(status, &page, &[])
}

fn row(state: &ConsoleState, t: &ConsoleTexts, a: &Admin) -> AdminRow {
    AdminRow {
        name: a.name.clone(),
        role: role_text(t, a.role),
        state: if a.disabled {
            t.state_disabled
        } else if a.locked_until.is_some_and(|until| until > state.now()) {
            t.state_locked
        } else {
            t.state_active
        },
        last_login: a.last_login_at.map_or_else(
            || t.never.to_owned(),
            |at| crate::local_time::text(at, state.utc_offset),
        ),
    }
}

fn role_text(t: &ConsoleTexts, role: AdminRole) -> &'static str {
    match role {
        AdminRole::Helpdesk => t.role_helpdesk,
        AdminRole::Admin => t.role_admin,
    }
}

/// The add form (the passwords are never put back into a page).
#[derive(Debug, Default, Deserialize)]
pub(super) struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
    #[serde(default)]
    reason: String,
}

/// A device waiting for its first code: what the hidden field carries, sealed.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    name: String,
    /// `Some` for a new admin (with its password hash); `None` resets an existing admin's device.
    new: Option<NewAdminPending>,
    secret_base32: String,
    reason: String,
    at: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct NewAdminPending {
    /// The `admin` role (else `helpdesk`).
    admin: bool,
    password_hash: String,
}

/// `POST /admin/admins`: checks the new admin, then shows its device once and asks for the first code.
pub(super) async fn add(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
    axum::Form(mut form): axum::Form<AddForm>,
) -> Response {
    if let Err(refused) = admin.check_csrf(&form.csrf) {
        return refused;
    }
    let t = admin.desk.texts();
    let password = SecretString::new(std::mem::take(&mut form.password));
    let again = SecretString::new(std::mem::take(&mut form.password2));
    form.reason = reason(&form.reason);
    let bad = StatusCode::BAD_REQUEST;
    let refuse = |error: String| list_page(&state, &admin, &form, None, Some(error), bad);
    if form.reason.is_empty() {
        return refuse(t.reason_required.into()).await;
    }
    let role = match form.role.as_str() {
        "helpdesk" => AdminRole::Helpdesk,
        "admin" => AdminRole::Admin,
        _ => return refuse(t.admin_bad_role.into()).await,
    };
    let name = match admins::normalize_name(&form.name) {
        Ok(name) => name,
        Err(_) => return refuse(t.admin_bad_name.into()).await,
    };
    match state.store.admin(&name).await {
        Ok(None) => {}
        Ok(Some(_)) => return refuse(t.admin_exists.into()).await,
        Err(error) => return admin.desk.failure(&error),
    }
    if password.expose() != again.expose() {
        return refuse(t.passwords_differ.into()).await;
    }
    let min = state.min_password_length;
    if let Err(AdminError::Password(why)) = admins::check_password(&name, &password, min) {
        return refuse(format!("{} ({why})", t.admin_weak_password)).await;
    }
    let password_hash = match state.logins.hash_new_password(password).await {
        Ok(hash) => hash,
        Err(error) => return admin.desk.failure(&error),
    };
    let new = NewAdminPending {
        admin: role == AdminRole::Admin,
        password_hash,
    };
    start_device(&state, &admin, name, Some(new), form.reason.clone()).await
}

/// Makes a device for `name`, seals it in a [`Pending`] and shows its QR code page.
async fn start_device(
    state: &ConsoleState,
    admin: &SignedIn,
    name: String,
    new: Option<NewAdminPending>,
    reason: String,
) -> Response {
    let seed = match AdminSeed::generate(&name) {
        Ok(seed) => seed,
        Err(error) => return admin.desk.failure(&error),
    };
    let pending = Pending {
        name,
        new,
        secret_base32: seed.secret_base32.expose().to_owned(),
        reason,
        at: state.now(),
    };
    let sealed = serde_json::to_vec(&pending)
        .map_err(|e| e.to_string())
        .and_then(|json| {
            let aad = Aad::console_pending(admin.csrf());
            state.key.seal(&aad, &json).map_err(|e| e.to_string())
        });
    match sealed {
        Ok(sealed) => {
            let field = BASE64URL_NOPAD.encode(&sealed);
            device_page(admin, &pending, &seed, &field, None, StatusCode::OK)
        }
        Err(error) => admin.desk.failure(&error),
    }
}

fn device_page(
    admin: &SignedIn,
    pending: &Pending,
    seed: &AdminSeed,
    field: &str,
    error: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let qr = match crate::server::web::pages::qr_svg(seed.uri.expose()) {
        Ok(svg) => svg,
        Err(error) => return admin.desk.failure(&error),
    };
    let page = NewDevicePage {
        f: admin.frame("/admin/admins"),
        csrf: admin.csrf(),
        name: &pending.name,
        qr_svg: qr,
        secret_base32: seed.secret_base32.expose(),
        pending: field,
        error,
    };
    admin.desk.page(status, &page, &[])
}

/// The first code's form.
#[derive(Debug, Deserialize)]
pub(super) struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pending: String,
    #[serde(default)]
    code: String,
}

/// `POST /admin/admins/confirm`: the device's first code; then the admin is added (or its device replaced).
pub(super) async fn confirm(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
    axum::Form(form): axum::Form<CodeForm>,
) -> Response {
    if let Err(refused) = admin.check_csrf(&form.csrf) {
        return refused;
    }
    let t = admin.desk.texts();
    let now = state.now();
    let pending = BASE64URL_NOPAD
        .decode(form.pending.as_bytes())
        .ok()
        .and_then(|sealed| {
            let aad = Aad::console_pending(admin.csrf());
            state.key.open(&aad, &sealed).ok()
        })
        .and_then(|json| serde_json::from_slice::<Pending>(json.expose()).ok())
        .filter(|p| (0..=PENDING_SECONDS).contains(&(now - p.at)));
    let Some(pending) = pending else {
        return admin.message(
            StatusCode::BAD_REQUEST,
            t.new_device_heading,
            t.pending_expired,
        );
    };
    let seed = match AdminSeed::from_base32(&pending.name, &pending.secret_base32) {
        Ok(seed) => seed,
        Err(error) => return admin.desk.failure(&error),
    };
    let Some(step) = seed.first_code_step(&form.code, now) else {
        let bad = StatusCode::BAD_REQUEST;
        return device_page(
            &admin,
            &pending,
            &seed,
            &form.pending,
            Some(t.first_code_wrong),
            bad,
        );
    };
    let actor = admin.actor();
    let by = By {
        actor: &actor,
        reason: Some(&pending.reason),
        now,
    };
    let store = state.store.as_ref();
    let (result, (notice, action)) = match pending.new {
        Some(new) => {
            let role = if new.admin {
                AdminRole::Admin
            } else {
                AdminRole::Helpdesk
            };
            let who = (pending.name.as_str(), role);
            let added = admins::add_admin_hashed(
                store,
                &state.key,
                who,
                new.password_hash,
                &seed,
                step,
                by,
            );
            (added.await, ("added", ConsoleAction::AdminAdd))
        }
        None => {
            let reset = admins::reset_totp(store, &state.key, &pending.name, (&seed, step), by);
            (reset.await, ("reset", ConsoleAction::AdminResetDevice))
        }
    };
    match result {
        Ok(()) => {
            let change = (action, pending.name.as_str());
            forms::done(&state, &admin, change, "/admin/admins", notice)
        }
        Err(error) => refusal(&admin, &error),
    }
}

/// A refused change of an admin, in the page's language.
fn refusal(admin: &SignedIn, error: &AdminError) -> Response {
    let t = admin.desk.texts();
    let text = match error {
        AdminError::Itself(_) => t.admin_itself,
        AdminError::NoSuchAdmin(_) => t.admin_not_found,
        AdminError::Store(crate::store::StoreError::Conflict(_)) => t.admin_exists,
        _ => return admin.desk.failure(error),
    };
    admin.message(StatusCode::CONFLICT, t.admins_heading, text)
}

/// `GET /admin/admins/{name}`: its actions.
pub(super) async fn show(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
    Path(name): Path<String>,
) -> Response {
    admin_page(&state, &admin, &name, None, StatusCode::OK).await
}

async fn admin_page(
    state: &ConsoleState,
    admin: &SignedIn,
    name: &str,
    error: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let t = admin.desk.texts();
    let target = match state.store.admin(name).await {
        Ok(Some(target)) => target,
        Ok(None) => {
            return admin.message(StatusCode::NOT_FOUND, t.admins_heading, t.admin_not_found);
        }
        Err(error) => return admin.desk.failure(&error),
    };
    let path = format!("/admin/admins/{}", target.name);
    let page = AdminPage {
        f: admin.frame(&path),
        csrf: admin.csrf(),
        row: row(state, t, &target),
        disabled: target.disabled,
        itself: target.name == admin.name,
        error,
    };
    admin.desk.page(status, &page, &[])
}

/// An action's fields.
#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `POST /admin/admins/{name}/{action}`: `reset` (then the QR page), `disable`, `enable`, `remove`.
pub(super) async fn act(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
    Path((name, action)): Path<(String, String)>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    if !matches!(action.as_str(), "reset" | "disable" | "enable" | "remove") {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Err(refused) = admin.check_csrf(&form.csrf) {
        return refused;
    }
    let t = admin.desk.texts();
    let why = reason(&form.reason);
    if why.is_empty() {
        let bad = StatusCode::BAD_REQUEST;
        return admin_page(&state, &admin, &name, Some(t.reason_required), bad).await;
    }
    let exists = match state.store.admin(&name).await {
        Ok(found) => found.is_some(),
        Err(error) => return admin.desk.failure(&error),
    };
    if !exists {
        return refusal(&admin, &AdminError::NoSuchAdmin(name));
    }
    if action == "reset" {
        return start_device(&state, &admin, name, None, why).await;
    }
    let actor = admin.actor();
    let by = By {
        actor: &actor,
        reason: Some(&why),
        now: state.now(),
    };
    let store = state.store.as_ref();
    let (result, (notice, counted)) = match action.as_str() {
        "disable" => (
            admins::set_disabled(store, &name, true, by).await,
            ("disabled", ConsoleAction::AdminDisable),
        ),
        "enable" => (
            admins::set_disabled(store, &name, false, by).await,
            ("enabled", ConsoleAction::AdminEnable),
        ),
        _ => (
            admins::remove_admin(store, &name, by).await,
            ("removed", ConsoleAction::AdminRemove),
        ),
    };
    match result {
        Ok(()) => forms::done(&state, &admin, (counted, &name), "/admin/admins", notice),
        Err(error) => refusal(&admin, &error),
    }
}
