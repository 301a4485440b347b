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
    pub(crate) kind: String,
    pub(crate) actor: String,
    pub(crate) outcome: String,
    pub(crate) detail: String,
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
    pub(crate) error: Option<&'static str>,
}

/// One admin in the admin list.
#[derive(Debug)]
pub(crate) struct AdminRow {
    pub(crate) name: String,
    pub(crate) role: &'static str,
    pub(crate) state: &'static str,
    pub(crate) last_login: String,
}

/// The console's admins (admin role only).
#[derive(Debug, Template)]
#[template(path = "console/admins.html")]
pub(crate) struct AdminsPage {
    pub(crate) f: Frame,
    pub(crate) rows: Vec<AdminRow>,
}

/// A heading and a sentence.
#[derive(Debug, Template)]
#[template(path = "console/message.html")]
pub(crate) struct MessagePage<'a> {
    pub(crate) f: Frame,
    pub(crate) heading: &'a str,
    pub(crate) message: &'a str,
}
