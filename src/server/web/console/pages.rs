//! The console's templates (askama, auto-escaped; files in `templates/console/`) and the rows they show,
//! already formatted. No logic beyond formatting.

use askama::Template;

use crate::texts::ConsoleTexts;

/// The signed-in admin, as the page header shows it.
#[derive(Debug, Clone)]
pub(crate) struct Who {
    pub(crate) name: String,
    pub(crate) role: &'static str,
    pub(crate) is_admin: bool,
    /// The logout form's token.
    pub(crate) csrf: String,
}

/// What every page has: texts, the language switch, the signed-in admin.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) t: &'static ConsoleTexts,
    pub(crate) switch_href: String,
    pub(crate) who: Option<Who>,
}

/// The login form.
#[derive(Debug, Template)]
#[template(path = "console/login.html")]
pub(crate) struct LoginPage<'a> {
    pub(crate) f: Frame,
    pub(crate) csrf: &'a str,
    pub(crate) name: &'a str,
    /// The page to go back to after the login, or empty.
    pub(crate) next: &'a str,
    pub(crate) error: Option<&'static str>,
}

/// One account in the search results.
#[derive(Debug)]
pub(crate) struct AccountRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) phone: String,
    pub(crate) status: &'static str,
}

/// The search form and its results.
#[derive(Debug, Template)]
#[template(path = "console/search.html")]
pub(crate) struct SearchPage<'a> {
    pub(crate) f: Frame,
    pub(crate) query: &'a str,
    pub(crate) searched: bool,
    pub(crate) rows: Vec<AccountRow>,
    pub(crate) more: bool,
    /// Without a search: the accounts locked now, and those whose last day is near.
    pub(crate) locked: Vec<DueRow>,
    /// More accounts are locked than `locked` shows.
    pub(crate) locked_more: bool,
    pub(crate) expiring: Vec<DueRow>,
    pub(crate) expiring_more: bool,
}

/// An account on the search page's lists, with the time that puts it there.
#[derive(Debug)]
pub(crate) struct DueRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) when: String,
}

/// A label and its value on the account page.
#[derive(Debug)]
pub(crate) struct Fact {
    pub(crate) label: &'static str,
    pub(crate) value: String,
}

/// One audit row.
#[derive(Debug)]
pub(crate) struct EventRow {
    pub(crate) at: String,
    /// What happened, in the page's language; `kind` is the identifier beneath it.
    pub(crate) label: String,
    pub(crate) kind: String,
    pub(crate) actor: String,
    pub(crate) outcome: String,
    pub(crate) detail: String,
}

impl EventRow {
    /// `event` as a row in `language`, its time in the site's `offset`; `detail` is what the detail column
    /// shows.
    pub(crate) fn new(
        language: crate::config::Language,
        event: crate::audit::AuditEvent,
        offset: time::UtcOffset,
        detail: String,
    ) -> Self {
        Self {
            at: crate::local_time::text(event.at, offset),
            label: crate::texts::event_label(language, &event.kind, &event.outcome, &event.detail),
            outcome: crate::texts::outcome_label(language, &event.outcome),
            kind: event.kind,
            actor: event.actor,
            detail,
        }
    }
}

/// An account, its device, its last audit events and the actions.
#[derive(Debug, Template)]
#[template(path = "console/account.html")]
pub(crate) struct AccountPage<'a> {
    pub(crate) f: Frame,
    pub(crate) id: &'a str,
    pub(crate) name: &'a str,
    pub(crate) facts: Vec<Fact>,
    pub(crate) events: Vec<EventRow>,
    pub(crate) notice: Option<&'static str>,
    /// Which buttons make sense: the account is disabled; its SMS switch; motpd keeps the passwords.
    pub(crate) disabled: bool,
    pub(crate) sms: Option<bool>,
    pub(crate) local_passwords: bool,
    /// The console can mail invitations.
    pub(crate) can_invite: bool,
}

/// The confirmation step of an action, with its required reason.
#[derive(Debug, Template)]
#[template(path = "console/confirm.html")]
pub(crate) struct ConfirmPage<'a> {
    pub(crate) f: Frame,
    pub(crate) id: &'a str,
    pub(crate) action: &'a str,
    pub(crate) heading: &'static str,
    pub(crate) text: &'static str,
    pub(crate) csrf: &'a str,
    pub(crate) reason: &'a str,
    /// The new last day's field (the expiry action only), with its current value.
    pub(crate) date: Option<&'a str>,
    /// Today, the date field's lowest value.
    pub(crate) today: &'a str,
    /// The invitation's "QR code in the mail" box (the invite action only), ticked or not.
    pub(crate) qr: Option<bool>,
    pub(crate) error: Option<&'static str>,
}

/// A password reset code, shown once.
#[derive(Debug, Template)]
#[template(path = "console/code.html")]
pub(crate) struct CodePage<'a> {
    pub(crate) f: Frame,
    pub(crate) id: &'a str,
    pub(crate) code: &'a str,
    pub(crate) valid_until: String,
    pub(crate) url: String,
}

/// One admin in the admin list.
#[derive(Debug)]
pub(crate) struct AdminRow {
    pub(crate) name: String,
    pub(crate) role: &'static str,
    pub(crate) state: &'static str,
    pub(crate) last_login: String,
}

/// The console's admins (admin role only) and the add form (what was typed, except the passwords).
#[derive(Debug, Template)]
#[template(path = "console/admins.html")]
pub(crate) struct AdminsPage<'a> {
    pub(crate) f: Frame,
    pub(crate) rows: Vec<AdminRow>,
    pub(crate) csrf: &'a str,
    pub(crate) notice: Option<&'static str>,
    pub(crate) error: Option<String>,
    pub(crate) name: &'a str,
    pub(crate) role_admin: bool,
    pub(crate) reason: &'a str,
}

/// One admin's actions.
#[derive(Debug, Template)]
#[template(path = "console/admin.html")]
pub(crate) struct AdminPage<'a> {
    pub(crate) f: Frame,
    pub(crate) csrf: &'a str,
    pub(crate) row: AdminRow,
    pub(crate) disabled: bool,
    /// The signed-in admin's own page: no disable, no remove.
    pub(crate) itself: bool,
    pub(crate) error: Option<&'static str>,
}

/// A new admin device, shown once, and the form for its first code.
#[derive(Debug, Template)]
#[template(path = "console/new_device.html")]
pub(crate) struct NewDevicePage<'a> {
    pub(crate) f: Frame,
    pub(crate) csrf: &'a str,
    pub(crate) name: &'a str,
    pub(crate) qr_svg: String,
    pub(crate) secret_base32: &'a str,
    /// The sealed pending device.
    pub(crate) pending: &'a str,
    pub(crate) error: Option<&'static str>,
}

/// A heading and a sentence.
#[derive(Debug, Template)]
#[template(path = "console/message.html")]
pub(crate) struct MessagePage<'a> {
    pub(crate) f: Frame,
    pub(crate) heading: &'a str,
    pub(crate) message: &'a str,
}

/// One RADIUS client (never its secret).
#[derive(Debug)]
pub(crate) struct ClientRow {
    pub(crate) name: String,
    pub(crate) address: String,
    pub(crate) require_ma: &'static str,
    pub(crate) mode: String,
    pub(crate) created: String,
}

/// The RADIUS clients and the add form (what was typed, except the secret).
#[derive(Debug, Template)]
#[template(path = "console/clients.html")]
pub(crate) struct ClientsPage<'a> {
    pub(crate) f: Frame,
    pub(crate) csrf: &'a str,
    pub(crate) rows: Vec<ClientRow>,
    pub(crate) notice: Option<&'static str>,
    pub(crate) error: Option<String>,
    pub(crate) name: &'a str,
    pub(crate) address: &'a str,
    pub(crate) mode: &'a str,
    pub(crate) reason: &'a str,
    pub(crate) default_mode: &'static str,
}

/// One RADIUS client: the change form, or the removal's confirmation.
#[derive(Debug, Template)]
#[template(path = "console/client.html")]
pub(crate) struct ClientPage<'a> {
    pub(crate) f: Frame,
    pub(crate) csrf: &'a str,
    pub(crate) row: ClientRow,
    pub(crate) require_ma: bool,
    pub(crate) mode: &'a str,
    pub(crate) default_mode: &'static str,
    pub(crate) removing: bool,
    pub(crate) error: Option<String>,
}

/// Enrolled and not, in one group.
#[derive(Debug)]
pub(crate) struct GroupRow {
    pub(crate) group: String,
    pub(crate) enrolled: u64,
    pub(crate) unenrolled: u64,
}

/// The enrollment report.
#[derive(Debug, Template)]
#[template(path = "console/report.html")]
pub(crate) struct ReportPage<'a> {
    pub(crate) f: Frame,
    pub(crate) total: u64,
    pub(crate) unenrolled: usize,
    pub(crate) enforcement: String,
    pub(crate) groups: Vec<GroupRow>,
    pub(crate) columns: &'a [&'static str],
    pub(crate) rows: Vec<Vec<String>>,
}

/// The audit search, its results and the chain's last verification.
#[derive(Debug, Template)]
#[template(path = "console/audit.html")]
pub(crate) struct AuditPage<'a> {
    pub(crate) f: Frame,
    pub(crate) csrf: &'a str,
    pub(crate) account: &'a str,
    pub(crate) actor: &'a str,
    /// The start of the event kind (`admin.user.`).
    pub(crate) kind: &'a str,
    pub(crate) outcome: &'a str,
    pub(crate) from: &'a str,
    pub(crate) to: &'a str,
    pub(crate) error: Option<&'static str>,
    pub(crate) rows: Vec<EventRow>,
    /// The older rows' link, when this page is full.
    pub(crate) next: Option<String>,
    /// The last verification, written out; `None`: never verified.
    pub(crate) verification: Option<String>,
    pub(crate) broken: bool,
    pub(crate) limit: u32,
}
