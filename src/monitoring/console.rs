//! The helpdesk console's counters: one handle per label value, kept by the console's state, so that a login
//! or an action costs an atomic add. The label values are the variants of [`ConsoleLogin`] and
//! [`ConsoleAction`]: a bounded set, never an admin's or an account's name.

use metrics::Counter;

use super::names::{CONSOLE_ACTIONS, CONSOLE_LOGINS};

/// The outcome of a console login (the `outcome` label of `motpd_console_logins_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleLogin {
    /// Name, password and a new code: a session started.
    Accepted,
    /// The password was wrong.
    WrongPassword,
    /// The code was wrong.
    WrongCode,
    /// The code was right but already used.
    ReplayedCode,
    /// The admin is locked after failures.
    Locked,
    /// No such admin (a staff account's name, a guess) or a disabled one.
    Refused,
    /// Too many logins from the client's address this minute.
    Throttled,
    /// No decision: the database failed or the admin's seed could not be opened.
    Error,
}

impl ConsoleLogin {
    /// Every outcome, in the order of the counters.
    pub const ALL: [Self; 8] = [
        Self::Accepted,
        Self::WrongPassword,
        Self::WrongCode,
        Self::ReplayedCode,
        Self::Locked,
        Self::Refused,
        Self::Throttled,
        Self::Error,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::WrongPassword => "wrong_password",
            Self::WrongCode => "wrong_code",
            Self::ReplayedCode => "replayed_code",
            Self::Locked => "locked",
            Self::Refused => "refused",
            Self::Throttled => "throttled",
            Self::Error => "error",
        }
    }
}

/// A change carried out at the console (the `action` label of `motpd_console_actions_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleAction {
    /// An account's VPN lock lifted.
    Unlock,
    /// An account locked by the desk.
    Lock,
    /// An account's devices reset.
    ResetDevice,
    /// An account disabled.
    Disable,
    /// An account enabled.
    Enable,
    /// An account's last day moved.
    ExtendExpiry,
    /// SMS fallback allowed for an account.
    SmsOn,
    /// SMS fallback refused for an account.
    SmsOff,
    /// SMS fallback back to the site's default for an account.
    SmsDefault,
    /// A password reset code issued.
    ResetCode,
    /// An invitation mailed.
    Invite,
    /// An admin added (its device confirmed).
    AdminAdd,
    /// An admin's device replaced (confirmed).
    AdminResetDevice,
    /// An admin disabled.
    AdminDisable,
    /// An admin enabled.
    AdminEnable,
    /// An admin removed.
    AdminRemove,
    /// A RADIUS client added.
    ClientAdd,
    /// A RADIUS client's mode or Message-Authenticator requirement changed.
    ClientChange,
    /// A RADIUS client removed.
    ClientRemove,
}

impl ConsoleAction {
    /// Every action, in the order of the counters.
    pub const ALL: [Self; 19] = [
        Self::Unlock,
        Self::Lock,
        Self::ResetDevice,
        Self::Disable,
        Self::Enable,
        Self::ExtendExpiry,
        Self::SmsOn,
        Self::SmsOff,
        Self::SmsDefault,
        Self::ResetCode,
        Self::Invite,
        Self::AdminAdd,
        Self::AdminResetDevice,
        Self::AdminDisable,
        Self::AdminEnable,
        Self::AdminRemove,
        Self::ClientAdd,
        Self::ClientChange,
        Self::ClientRemove,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unlock => "unlock",
            Self::Lock => "lock",
            Self::ResetDevice => "reset_device",
            Self::Disable => "disable",
            Self::Enable => "enable",
            Self::ExtendExpiry => "extend_expiry",
            Self::SmsOn => "sms_on",
            Self::SmsOff => "sms_off",
            Self::SmsDefault => "sms_default",
            Self::ResetCode => "reset_code",
            Self::Invite => "invite",
            Self::AdminAdd => "admin_add",
            Self::AdminResetDevice => "admin_reset_device",
            Self::AdminDisable => "admin_disable",
            Self::AdminEnable => "admin_enable",
            Self::AdminRemove => "admin_remove",
            Self::ClientAdd => "client_add",
            Self::ClientChange => "client_change",
            Self::ClientRemove => "client_remove",
        }
    }
}

/// The console's counter handles, from the recorder in force when they are made (none: they count nothing).
#[derive(Debug, Clone)]
pub struct ConsoleCounters {
    logins: [Counter; ConsoleLogin::ALL.len()],
    actions: [Counter; ConsoleAction::ALL.len()],
}

impl ConsoleCounters {
    /// Registers every series at zero (a rate over them exists before the first login) and keeps the handles.
    pub fn new() -> Self {
        let login = |outcome: ConsoleLogin| {
            let counter = metrics::counter!(CONSOLE_LOGINS, "outcome" => outcome.as_str());
            counter.absolute(0);
            counter
        };
        let action = |action: ConsoleAction| {
            let counter = metrics::counter!(CONSOLE_ACTIONS, "action" => action.as_str());
            counter.absolute(0);
            counter
        };
        Self {
            logins: ConsoleLogin::ALL.map(login),
            actions: ConsoleAction::ALL.map(action),
        }
    }

    /// Counts a login of `outcome`.
    pub fn login(&self, outcome: ConsoleLogin) {
        self.logins[outcome as usize].increment(1);
    }

    /// Counts an action carried out.
    pub fn action(&self, action: ConsoleAction) {
        self.actions[action as usize].increment(1);
    }
}

impl Default for ConsoleCounters {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counters_follow_the_order_of_the_variants() {
        for (i, outcome) in ConsoleLogin::ALL.into_iter().enumerate() {
            assert_eq!(outcome as usize, i, "{outcome:?}");
        }
        for (i, action) in ConsoleAction::ALL.into_iter().enumerate() {
            assert_eq!(action as usize, i, "{action:?}");
        }
    }
}
