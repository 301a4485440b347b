//! The RADIUS clients (admin role): the list (never a secret: not even sealed), adding one with the shared
//! secret typed once into a password field (never shown again, never echoed into a refused form), changing
//! its mode and Message-Authenticator requirement, and removing it after a confirmation. Each change needs the
//! CSRF token and a reason; the checks, sealing and audit are [`crate::engine::radius_clients`], as for
//! `motpd client`.

// The error is the page to answer with, as in every handler; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::ConsoleState;
use super::forms::{Done, done, reason};
use super::guard::{AdminOnly, SignedIn};
use super::pages::{ClientPage, ClientRow, ClientsPage};
use crate::config::AuthMode;
use crate::engine::radius_clients::{
    self, Actor, ClientError, ClientSpec, ClientUpdate, parse_address,
};
use crate::monitoring::ConsoleAction;
use crate::secrets::SecretString;
use crate::store::RadiusClient;
use crate::texts::ConsoleTexts;

/// `GET /admin/clients`: the list and the add form.
pub(super) async fn list(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
    Query(done): Query<Done>,
) -> Response {
    let t = admin.desk.texts();
    let notice = match done.done.as_deref() {
        Some("added") => Some(t.client_added),
        Some("changed") => Some(t.client_changed),
        Some("removed") => Some(t.client_removed),
        _ => None,
    };
    let typed = AddForm::default();
    list_page(&state, &admin, &typed, notice, None, StatusCode::OK).await
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
    let clients = match state.store.clients().await {
        Ok(clients) => clients,
        Err(error) => return admin.desk.failure(&error),
    };
    let rows = clients.iter().map(|c| row(state, t, c)).collect();
    let page = ClientsPage {
        f: admin.frame("/admin/clients"),
        csrf: admin.csrf(),
        rows,
        notice,
        error,
        name: &typed.name,
        address: &typed.address,
        mode: &typed.mode,
        reason: &typed.reason,
        default_mode: state.default_mode.as_str(),
    };
    admin.desk.page(status, &page, &[])
}

fn row(state: &ConsoleState, t: &ConsoleTexts, client: &RadiusClient) -> ClientRow {
    ClientRow {
        name: client.name.clone(),
        address: client.address.to_string(),
        require_ma: if client.require_message_authenticator {
            t.ma_required
        } else {
            t.ma_optional
        },
        mode: client.mode.map_or_else(
            || format!("{} ({})", state.default_mode.as_str(), t.mode_default),
            |m| m.as_str().to_owned(),
        ),
        created: crate::local_time::text(client.created_at, state.utc_offset),
    }
}

/// The add form's fields (the secret is never put back into a page).
#[derive(Debug, Default, Deserialize)]
pub(super) struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    secret: String,
    /// Present when ticked.
    #[serde(default)]
    require_ma: Option<String>,
    /// `default` or a mode's name.
    #[serde(default)]
    mode: String,
    #[serde(default)]
    reason: String,
}

/// `POST /admin/clients`: adds a client.
pub(super) async fn add(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
    axum::Form(mut form): axum::Form<AddForm>,
) -> Response {
    if let Err(refused) = admin.check_csrf(&form.csrf) {
        return refused;
    }
    let t = admin.desk.texts();
    let secret = SecretString::new(std::mem::take(&mut form.secret));
    form.reason = reason(&form.reason);
    let bad = StatusCode::BAD_REQUEST;
    let refuse = |error: String| list_page(&state, &admin, &form, None, Some(error), bad);
    if form.reason.is_empty() {
        return refuse(t.reason_required.into()).await;
    }
    let Some(mode) = parse_mode(&form.mode) else {
        return refuse(t.client_bad_mode.into()).await;
    };
    let address = match parse_address(&form.address) {
        Ok(address) => address,
        Err(error) => {
            let text = refusal(t, &error);
            return refuse(text).await;
        }
    };
    let spec = ClientSpec {
        name: form.name.trim().to_owned(),
        address,
        require_message_authenticator: form.require_ma.is_some(),
        mode,
    };
    let actor = admin.actor();
    let by = Actor {
        name: &actor,
        reason: Some(&form.reason),
        now: state.now(),
    };
    let store = state.store.as_ref();
    match radius_clients::add_client(store, &state.key, spec, &secret, by).await {
        Ok(()) => {
            let change = (ConsoleAction::ClientAdd, form.name.trim());
            done(&state, &admin, change, "/admin/clients", "added")
        }
        Err(ClientError::Secret(error)) => admin.desk.failure(&error),
        Err(ClientError::Store(error)) => admin.desk.failure(&error),
        Err(error) => {
            let text = refusal(t, &error);
            refuse(text).await
        }
    }
}

/// A refusal in the page's language.
fn refusal(t: &ConsoleTexts, error: &ClientError) -> String {
    match error {
        ClientError::Name(_) => t.client_bad_name.to_owned(),
        ClientError::Address(_) => t.client_bad_address.to_owned(),
        ClientError::SecretLength => t.client_bad_secret.to_owned(),
        ClientError::Exists(_) => t.client_exists.to_owned(),
        ClientError::SharedAddress { other, .. } => format!("{} {other}", t.client_shared_address),
        ClientError::NoSuchClient(_) => t.client_not_found.to_owned(),
        ClientError::Secret(_) | ClientError::Store(_) => t.error.to_owned(),
    }
}

/// `default` → `Some(None)`, a mode's name → `Some(Some(mode))`, anything else `None`.
fn parse_mode(text: &str) -> Option<Option<AuthMode>> {
    match text {
        "" | "default" => Some(None),
        "password+otp" => Some(Some(AuthMode::PasswordOtp)),
        "otp-only" => Some(Some(AuthMode::OtpOnly)),
        "challenge" => Some(Some(AuthMode::Challenge)),
        _ => None,
    }
}

/// `GET /admin/clients/{name}`: the change form and the remove button.
pub(super) async fn show(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
    Path(name): Path<String>,
) -> Response {
    client_page(&state, &admin, &name, false, None, StatusCode::OK).await
}

/// `GET /admin/clients/{name}/remove`: the removal's confirmation.
pub(super) async fn confirm_remove(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
    Path(name): Path<String>,
) -> Response {
    client_page(&state, &admin, &name, true, None, StatusCode::OK).await
}

async fn client_page(
    state: &ConsoleState,
    admin: &SignedIn,
    name: &str,
    removing: bool,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let t = admin.desk.texts();
    let clients = match state.store.clients().await {
        Ok(clients) => clients,
        Err(error) => return admin.desk.failure(&error),
    };
    let Some(client) = clients.iter().find(|c| c.name == name) else {
        return admin.message(StatusCode::NOT_FOUND, t.clients_heading, t.client_not_found);
    };
    let path = format!("/admin/clients/{name}");
    let page = ClientPage {
        f: admin.frame(&path),
        csrf: admin.csrf(),
        row: row(state, t, client),
        require_ma: client.require_message_authenticator,
        mode: client.mode.map_or("default", AuthMode::as_str),
        default_mode: state.default_mode.as_str(),
        removing,
        error,
    };
    admin.desk.page(status, &page, &[])
}

/// The change form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    require_ma: Option<String>,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    reason: String,
}

/// `POST /admin/clients/{name}`: changes the mode and the Message-Authenticator requirement.
pub(super) async fn change(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
    Path(name): Path<String>,
    axum::Form(form): axum::Form<ChangeForm>,
) -> Response {
    if let Err(refused) = admin.check_csrf(&form.csrf) {
        return refused;
    }
    let t = admin.desk.texts();
    let why = reason(&form.reason);
    let bad = StatusCode::BAD_REQUEST;
    let refuse = |error: String| client_page(&state, &admin, &name, false, Some(error), bad);
    if why.is_empty() {
        return refuse(t.reason_required.into()).await;
    }
    let Some(mode) = parse_mode(&form.mode) else {
        return refuse(t.client_bad_mode.into()).await;
    };
    let update = ClientUpdate {
        require_message_authenticator: Some(form.require_ma.is_some()),
        mode: Some(mode),
        ..ClientUpdate::default()
    };
    let actor = admin.actor();
    let by = Actor {
        name: &actor,
        reason: Some(&why),
        now: state.now(),
    };
    let store = state.store.as_ref();
    match radius_clients::update_client(store, &state.key, &name, update, by).await {
        Ok(_) => {
            let change = (ConsoleAction::ClientChange, name.as_str());
            done(&state, &admin, change, "/admin/clients", "changed")
        }
        Err(ClientError::Secret(error)) => admin.desk.failure(&error),
        Err(ClientError::Store(error)) => admin.desk.failure(&error),
        Err(error) => {
            let text = refusal(t, &error);
            refuse(text).await
        }
    }
}

/// The removal's fields.
#[derive(Debug, Deserialize)]
pub(super) struct RemoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `POST /admin/clients/{name}/remove`.
pub(super) async fn remove(
    State(state): State<Arc<ConsoleState>>,
    AdminOnly(admin): AdminOnly,
    Path(name): Path<String>,
    axum::Form(form): axum::Form<RemoveForm>,
) -> Response {
    if let Err(refused) = admin.check_csrf(&form.csrf) {
        return refused;
    }
    let t = admin.desk.texts();
    let why = reason(&form.reason);
    if why.is_empty() {
        let error = Some(t.reason_required.into());
        return client_page(&state, &admin, &name, true, error, StatusCode::BAD_REQUEST).await;
    }
    let actor = admin.actor();
    let by = Actor {
        name: &actor,
        reason: Some(&why),
        now: state.now(),
    };
    match radius_clients::remove_client(state.store.as_ref(), &name, by).await {
        Ok(()) => {
            let change = (ConsoleAction::ClientRemove, name.as_str());
            done(&state, &admin, change, "/admin/clients", "removed")
        }
        Err(ClientError::NoSuchClient(_)) => {
            admin.message(StatusCode::NOT_FOUND, t.clients_heading, t.client_not_found)
        }
        Err(error) => admin.desk.failure(&error),
    }
}
