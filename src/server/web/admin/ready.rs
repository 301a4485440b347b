//! `/readyz`: whether this node can serve logins now. Ready means all of: the database answers, holds the key
//! check value of the key in use (a node started with the wrong key file would refuse every code), and takes a
//! real write (the node's heartbeat row is upserted: a read-only standby, a full disk or a stuck write lock
//! fails it); and every listener is serving. The database checks share one time budget ([`BUDGET`]): a
//! database that does not answer in time is not ready. The answer names each failed check, never a secret.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AdminState;

/// How long the database checks may take together.
const BUDGET: Duration = Duration::from_secs(2);

pub(super) async fn readyz(State(state): State<Arc<AdminState>>) -> Response {
    let mut failed = match tokio::time::timeout(BUDGET, database_problems(&state)).await {
        Ok(problems) => problems,
        Err(_) => {
            crate::monitoring::store_error("readiness");
            vec![format!("database: no answer within {} s", BUDGET.as_secs())]
        }
    };
    for (name, serving) in &state.listeners {
        if !serving.get() {
            failed.push(format!("{name}: not serving"));
        }
    }
    if failed.is_empty() {
        return (StatusCode::OK, "ready\n").into_response();
    }
    tracing::warn!(failed = ?failed, "not ready");
    let mut body = String::from("not ready\n");
    for line in &failed {
        body.push_str(line);
        body.push('\n');
    }
    (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
}

/// One line per failed database check.
async fn database_problems(state: &AdminState) -> Vec<String> {
    let mut failed = Vec::new();
    match state.store.key_check().await {
        // Any key of the keyring: after a rotation the database names the new key, which this node holds too.
        Ok(Some(stored))
            if state
                .key
                .keys()
                .iter()
                .any(|key| key.matches_key_check(&stored)) => {}
        Ok(Some(_)) => failed
            .push("key: the database names a key none of this node's key files holds".to_owned()),
        Ok(None) => failed.push("key: the database holds no key check value".to_owned()),
        Err(error) => {
            crate::monitoring::store_error("readiness");
            failed.push(format!("database: not reachable ({error})"));
            return failed;
        }
    }
    if let Err(error) = state.store.heartbeat(&state.node, state.clock.now()).await {
        crate::monitoring::store_error("readiness");
        failed.push(format!("database: not writable ({error})"));
    }
    failed
}
