//! The name, unit and help text of every metric motpd exports (Prometheus conventions: `motpd_` prefix, the unit
//! in the name, `_total` on counters). The dashboard (`docs/monitoring/grafana-dashboard.json`) and the alert
//! rules (`docs/monitoring/alerts.yml`) use these names.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Gauge `{version, backend}` = 1.
pub const BUILD_INFO: &str = "motpd_build_info";
/// Counter: datagrams received on the RADIUS sockets.
pub const PACKETS_RECEIVED: &str = "motpd_radius_packets_received_total";
/// Counter `{reason}`: datagrams that got no answer.
pub const PACKETS_DROPPED: &str = "motpd_radius_packets_dropped_total";
/// Counter: retransmissions answered from the duplicate cache.
pub const DUPLICATES_RESENT: &str = "motpd_radius_duplicates_resent_total";
/// Counter `{outcome, reason, client}`: Access-Request decisions.
pub const DECISIONS: &str = "motpd_radius_decisions_total";
/// Histogram `{outcome}`: time from a verified Access-Request to its decision.
pub const DECISION_DURATION: &str = "motpd_radius_decision_duration_seconds";
/// Gauge: requests being evaluated.
pub const IN_FLIGHT: &str = "motpd_radius_requests_in_flight";
/// Histogram: the accepted-login commit.
pub const STORE_COMMIT: &str = "motpd_store_commit_duration_seconds";
/// Counter `{operation}`: store failures.
pub const STORE_ERRORS: &str = "motpd_store_errors_total";
/// Counter `{operation}`: store failures because the database's storage is full (also counted in
/// `motpd_store_errors_total`).
pub const STORE_FULL: &str = "motpd_store_full_total";
/// Counter `{operation}`: directory (LDAP) failures: unreachable, time-out, TLS, refused.
pub const DIRECTORY_ERRORS: &str = "motpd_directory_errors_total";
/// Histogram: wait for a hashing thread.
pub const HASHING_QUEUE_WAIT: &str = "motpd_hashing_queue_wait_seconds";
/// Histogram `{result}`: SMS gateway exchanges.
pub const SMS_SEND: &str = "motpd_sms_send_duration_seconds";
/// Histogram `{result}`: SMTP exchanges.
pub const MAIL_SEND: &str = "motpd_mail_send_duration_seconds";
/// Gauge: accounts whose VPN lock runs.
pub const ACCOUNTS_LOCKED: &str = "motpd_accounts_locked";
/// Gauge: audit events waiting for the writer.
pub const AUDIT_QUEUE: &str = "motpd_audit_queue_length";
/// Gauge: 1 while the kernel reports the clock synchronised.
pub const CLOCK_SYNCHRONISED: &str = "motpd_clock_synchronised";
/// Counter `{direction}`: steps of the wall clock (backward, forward) beyond 5 s.
pub const CLOCK_STEPS: &str = "motpd_clock_steps_total";

/// Gauge: Unix time of the last directory sync that completed on this node.
pub const DIRECTORY_SYNC_LAST_SUCCESS: &str = "motpd_directory_sync_last_success_timestamp_seconds";
/// Gauge `{change}`: accounts the last completed directory sync on this node created, updated, disabled,
/// re-enabled, left unchanged (and entries it skipped).
pub const DIRECTORY_SYNC_ACCOUNTS: &str = "motpd_directory_sync_accounts";
/// Counter `{outcome}`: directory sync runs of `motpd serve` (ok, failed, refused, skipped).
pub const DIRECTORY_SYNC_RUNS: &str = "motpd_directory_sync_runs_total";

/// Counter `{outcome}`: helpdesk console logins (accepted, wrong_password, wrong_code, replayed_code, locked,
/// refused, throttled, error); never the admin's name.
pub const CONSOLE_LOGINS: &str = "motpd_console_logins_total";
/// Gauge: console sessions that have not expired (every node counts the shared table).
pub const CONSOLE_SESSIONS: &str = "motpd_console_sessions";
/// Counter `{action}`: changes carried out at the helpdesk console (an account's unlock, an admin's removal, ...).
pub const CONSOLE_ACTIONS: &str = "motpd_console_actions_total";

/// Registers the help text and unit of every metric with the installed recorder.
pub(super) fn describe() {
    describe_gauge!(
        BUILD_INFO,
        "Always 1; the labels name the motpd version and the database backend."
    );
    describe_counter!(
        PACKETS_RECEIVED,
        "RADIUS datagrams received on every socket."
    );
    describe_counter!(
        PACKETS_DROPPED,
        "RADIUS datagrams that got no answer, by reason (unknown_client, bad_authenticator, \
         missing_message_authenticator, malformed, not_request, wrong_port, duplicate, reply_too_large, shed)."
    );
    describe_counter!(
        DUPLICATES_RESENT,
        "Retransmitted RADIUS requests answered again from the duplicate cache."
    );
    describe_counter!(
        DECISIONS,
        "Access-Request decisions by outcome (accept, reject, challenge, error), reject reason and RADIUS client."
    );
    describe_histogram!(
        DECISION_DURATION,
        Unit::Seconds,
        "Time from a verified Access-Request to its decision, by outcome."
    );
    describe_gauge!(
        IN_FLIGHT,
        "RADIUS requests being evaluated now (radius.max_in_flight caps it)."
    );
    describe_histogram!(
        STORE_COMMIT,
        Unit::Seconds,
        "Time to commit an accepted login (replay guard, failure reset, audit row) in the database."
    );
    describe_counter!(
        STORE_ERRORS,
        "Database failures by operation (login, accounting, audit_write, client_reload, purge, locked_count, \
         session_count, readiness)."
    );
    describe_counter!(
        STORE_FULL,
        "Database failures because its storage is full (no space left), by operation; a subset of motpd_store_errors_total."
    );
    describe_counter!(
        DIRECTORY_ERRORS,
        "Directory (LDAP) failures by operation (bind, search, sync): no login is accepted while it fails."
    );
    describe_histogram!(
        HASHING_QUEUE_WAIT,
        Unit::Seconds,
        "Time a password check waited for a hashing thread to start it."
    );
    describe_histogram!(
        SMS_SEND,
        Unit::Seconds,
        "Time of an SMS gateway exchange, by result (ok, failed)."
    );
    describe_histogram!(
        MAIL_SEND,
        Unit::Seconds,
        "Time of an SMTP exchange, by result (ok, failed)."
    );
    describe_gauge!(
        ACCOUNTS_LOCKED,
        "Accounts whose VPN lock runs now (refreshed every 30 seconds)."
    );
    describe_gauge!(
        AUDIT_QUEUE,
        "Audit events waiting to be written to the database."
    );
    describe_gauge!(
        DIRECTORY_SYNC_LAST_SUCCESS,
        Unit::Seconds,
        "Unix time of the last directory sync (ldap.sync_minutes) that completed on this node; alert when it \
         falls behind by several intervals."
    );
    describe_gauge!(
        DIRECTORY_SYNC_ACCOUNTS,
        "Accounts the last completed directory sync on this node changed, by change (created, updated, \
         disabled, reenabled, unchanged, skipped)."
    );
    describe_counter!(
        DIRECTORY_SYNC_RUNS,
        "Directory sync runs of motpd serve by outcome: ok, failed (directory or database; retried at the next \
         interval), refused (the safety brake: run `motpd user sync --dry-run`), skipped (another node ran it)."
    );
    describe_gauge!(
        CLOCK_SYNCHRONISED,
        "1 while the kernel reports the clock synchronised (NTP, chrony), else 0; TOTP codes need a true clock."
    );
    describe_counter!(
        CLOCK_STEPS,
        "Steps of the wall clock against the monotonic clock beyond 5 s, by direction (backward, forward)."
    );
    describe_counter!(
        CONSOLE_LOGINS,
        "Helpdesk console logins by outcome: accepted, wrong_password, wrong_code, replayed_code (a code already \
         used), locked, refused (unknown or disabled admin), throttled (too many from one address), error."
    );
    describe_gauge!(
        CONSOLE_SESSIONS,
        "Helpdesk console sessions that have not expired, on every node alike (refreshed every 30 seconds)."
    );
    describe_counter!(
        CONSOLE_ACTIONS,
        "Changes carried out at the helpdesk console, by action (unlock, reset_device, invite, admin_add, \
         client_remove, ...); a form refused for a missing reason or a bad value is not counted."
    );
}
