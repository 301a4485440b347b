//! The message catalogue: every sentence a person reads (RADIUS Reply-Messages, SMS bodies, mail subjects and
//! bodies, web page strings), one file per language (`en.rs`, `zh_tw.rs`). This module holds the keys: enums whose
//! variants carry the typed values a sentence needs (URLs, codes, minutes, names), and the lookup by
//! [`Language`]. A language file matches every key exhaustively, so a key missing in one language does not
//! compile. Pure: no I/O, no clock.
//!
//! Mails and notice SMS go to people whose language is not known: they carry Traditional Chinese first, then
//! English, put together here from each language's part.

mod audit_events;
mod console;
mod en;
mod zh_tw;

pub(crate) use audit_events::{event_label, outcome_label};
pub(crate) use console::{ConsoleTexts, console};

pub use crate::config::Language;
pub(crate) use en::WEB as WEB_EN;
pub(crate) use zh_tw::WEB as WEB_ZH_TW;

/// The languages, in the order bilingual texts show them.
pub const LANGUAGES: [Language; 2] = [Language::ZhTw, Language::En];

/// What the user types as a code: how many characters, and whether they are decimal digits (TOTP, HOTP) or
/// hexadecimal characters (mOTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CodeShape {
    /// Characters in a code.
    pub(crate) len: usize,
    /// mOTP: 0-9 and a-f.
    pub(crate) hex: bool,
}

/// An SMS code.
pub(crate) const SMS_CODE: CodeShape = CodeShape { len: 6, hex: false };

/// A RADIUS Reply-Message: what the VPN login tells the user. Each says what happened and what to do; none
/// reveals more than the decision allows (the engine picks [`Reply::LoginFailed`] before both factors are
/// verified unless detailed reasons are on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Any failure before both factors are verified, when detailed reasons are off; the pages' base address
    /// (where to activate and to register).
    LoginFailed(String),
    /// [`Reply::LoginFailed`] where passwords are the directory's (nothing to activate at motpd): the pages' base
    /// address (where to register).
    LoginFailedNoActivation(String),
    /// Unknown account or wrong password.
    BadCredentials,
    /// The password was right (or the gateway checked it: `after_password` false), the code was not.
    BadCode {
        /// The device's code.
        shape: CodeShape,
        /// `password+otp`: the code is typed right after the password.
        after_password: bool,
    },
    /// The code was used already.
    Replayed,
    /// Locked until the given local time (`HH:MM`, or a date, or [`Phrase::UntilItUnlocks`]).
    Locked(String),
    /// Disabled by IT.
    Disabled,
    /// Not activated (no password yet); where to activate.
    NotActivated(String),
    /// Expired on the given date.
    Expired(String),
    /// No device after the enforcement date; where to register.
    NotEnrolled(String),
    /// Accepted with the password alone; register before the date at the address.
    RegisterReminder {
        /// Enforcement date.
        date: String,
        /// Enrollment address.
        url: String,
    },
    /// Challenge prompt for the code.
    EnterCode(CodeShape),
    /// HOTP token out of step: enter the next code.
    EnterNextCode,
    /// The State is unknown or expired.
    ChallengeExpired,
    /// The request could not be understood.
    Malformed,
    /// The server could not decide (database down) and was told to reject.
    TemporaryFailure,
}

impl Reply {
    /// The text in `language`.
    pub(crate) fn text(&self, language: Language) -> String {
        match language {
            Language::ZhTw => zh_tw::reply(self),
            Language::En => en::reply(self),
        }
    }
}

/// A text of the SMS feature: the text message with the code, why no code was sent, the RADIUS prompts of an
/// SMS login, and the notices sent by SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sms<'a> {
    /// The text message carrying `code`, valid for `ttl_seconds`.
    Code {
        /// The code.
        code: &'a str,
        /// How long it is valid.
        ttl_seconds: i64,
    },
    /// A send refused by the rate limits; the local time the next one is allowed.
    RateLimited {
        /// `HH:MM`, with the date when not today.
        next_at: &'a str,
    },
    /// The gateway failed or timed out.
    GatewayFailed,
    /// SMS switched off (globally or for the account).
    Disabled,
    /// No mobile number registered.
    NoPhone,
    /// The challenge prompt after a correct password when SMS is offered next to the app.
    EnterCodeOrKeyword {
        /// What to type to get a code by SMS.
        keyword: &'a str,
        /// The device's code.
        shape: CodeShape,
    },
    /// The challenge prompt for an account without a device after the enforcement date, when SMS is allowed.
    KeywordOnly {
        /// What to type to get a code by SMS.
        keyword: &'a str,
        /// Where to register.
        url: &'a str,
    },
    /// `password+otp` mode, no device after the enforcement date: how to log in with SMS.
    PasswordThenKeyword {
        /// What to type after the password.
        keyword: &'a str,
        /// Where to register.
        url: &'a str,
    },
    /// The challenge prompt after a code was sent.
    CodeSent {
        /// The number, partly hidden.
        masked_phone: &'a str,
        /// How long the code is valid.
        ttl_seconds: i64,
    },
    /// The challenge prompt after a wrong SMS code with tries left.
    WrongCode {
        /// Tries left.
        remaining: u32,
    },
    /// The SMS code expired, was used, or had too many wrong tries.
    CodeUnusable,
    /// The notice that the account's password was set on the account pages (`activated`: the first password).
    PasswordSet {
        /// Activation rather than a reset.
        activated: bool,
    },
    /// The notice that a device was bound to the account.
    DeviceBound {
        /// The account.
        account_id: &'a str,
    },
}

impl Sms<'_> {
    /// The text in `language`.
    pub(crate) fn text(&self, language: Language) -> String {
        match language {
            Language::ZhTw => zh_tw::sms(self),
            Language::En => en::sms(self),
        }
    }

    /// Traditional Chinese then English in one message, for a reader whose language is not known.
    pub(crate) fn bilingual(&self) -> String {
        LANGUAGES.map(|language| self.text(language)).concat()
    }
}

/// A short phrase used inside other texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phrase {
    /// The end of an administrator's lock (in [`Reply::Locked`]).
    UntilItUnlocks,
    /// The web server gave up waiting for a request's body.
    RequestTimedOut,
    /// The web server could not read a request's body.
    RequestUnreadable,
    /// A request's body was over the limit.
    RequestTooLarge,
}

impl Phrase {
    /// The text in `language`.
    pub(crate) fn text(self, language: Language) -> &'static str {
        match language {
            Language::ZhTw => zh_tw::phrase(self),
            Language::En => en::phrase(self),
        }
    }

    /// Each language on its own line, for a reader whose language is not known (plain-text HTTP errors).
    pub(crate) fn bilingual_lines(self) -> String {
        LANGUAGES
            .map(|language| format!("{}\n", self.text(language)))
            .concat()
    }
}

/// Why a new password is refused (the account pages show it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PasswordRule {
    /// Shorter than the minimum.
    TooShort {
        /// The minimum length.
        min: usize,
    },
    /// Lacks a letter or a digit.
    NeedsLettersAndDigits,
    /// Equal to the account ID.
    EqualsAccountId,
    /// Equal to the password it replaces.
    Unchanged,
}

impl PasswordRule {
    /// The text in `language`.
    pub(crate) fn text(self, language: Language) -> String {
        match language {
            Language::ZhTw => zh_tw::password_rule(self),
            Language::En => en::password_rule(self),
        }
    }
}

/// How a device was bound (named in the notice to the account's owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundVia {
    /// On the self-service enrollment pages (flow A).
    SelfService,
    /// On the invitation link's page.
    InvitationLink,
    /// At the first VPN login with a seed mailed as a QR code (`motpd invite --qr-in-mail`).
    MailedQrAtVpn,
    /// Moved from the previous phone on the enrollment pages (password and the old phone's code).
    PhoneChange,
}

/// A mail: the values each language's part needs. Values are plain text; the HTML part gets them escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MailText<'a> {
    /// The invitation with the enrollment link.
    Invitation {
        /// The account owner's name.
        name: &'a str,
        /// The account ID.
        id: &'a str,
        /// The invitation link.
        link: &'a str,
        /// When the link expires, as people read it.
        until: &'a str,
        /// With `--qr-in-mail`: the Content-ID of the inline QR code image.
        qr_content_id: Option<&'static str>,
    },
    /// A device was bound to the account.
    DeviceBound {
        /// The account owner's name.
        name: &'a str,
        /// The account ID.
        id: &'a str,
        /// When, as people read it.
        when: &'a str,
        /// How.
        via: BoundVia,
    },
    /// The account's password was set on the account pages.
    PasswordSet {
        /// The account ID.
        id: &'a str,
        /// Activation rather than a reset.
        activated: bool,
        /// How long SMS codes at the VPN stay off (0: not at all).
        pause_hours: u32,
    },
}

/// A mail's subject and parts, both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MailBody {
    /// `中文 / English`.
    pub(crate) subject: String,
    /// Plain text: Chinese, a rule, English.
    pub(crate) text: String,
    /// HTML: the same, each part in an element carrying its `lang`.
    pub(crate) html: String,
}

/// A long link breaks anywhere rather than widen the mail past a phone's screen.
const LINK_STYLE: &str = "overflow-wrap:anywhere;word-break:break-all";

impl MailText<'_> {
    /// Subject, text and HTML, Traditional Chinese first, then English.
    pub(crate) fn render(&self) -> MailBody {
        let subject = format!("{} / {}", zh_tw::mail_subject(self), en::mail_subject(self));
        let text = format!(
            "{}\n\n----\n\n{}\n",
            zh_tw::mail_text(self),
            en::mail_text(self)
        );
        let escaped: Vec<String> = self.values().iter().map(|v| escape_html(v)).collect();
        let html_of = |mail: &MailText<'_>| {
            format!(
                "<!DOCTYPE html><html><body><div lang=\"zh-Hant-TW\">{}</div><hr><div lang=\"en\">{}</div>\
                 </body></html>",
                zh_tw::mail_html(mail),
                en::mail_html(mail)
            )
        };
        let html = html_of(&self.with_values(&escaped));
        MailBody {
            subject,
            text,
            html,
        }
    }

    /// The text values, in a fixed order per variant.
    fn values(&self) -> Vec<&str> {
        match *self {
            Self::Invitation {
                name,
                id,
                link,
                until,
                ..
            } => vec![name, id, link, until],
            Self::DeviceBound { name, id, when, .. } => vec![name, id, when],
            Self::PasswordSet { id, .. } => vec![id],
        }
    }

    /// The same mail with its text values replaced by `values` (in [`Self::values`]'s order).
    fn with_values<'b>(&self, values: &'b [String]) -> MailText<'b> {
        let value = |i: usize| values.get(i).map_or("", String::as_str);
        match *self {
            Self::Invitation { qr_content_id, .. } => MailText::Invitation {
                name: value(0),
                id: value(1),
                link: value(2),
                until: value(3),
                qr_content_id,
            },
            Self::DeviceBound { via, .. } => MailText::DeviceBound {
                name: value(0),
                id: value(1),
                when: value(2),
                via,
            },
            Self::PasswordSet {
                activated,
                pause_hours,
                ..
            } => MailText::PasswordSet {
                id: value(0),
                activated,
                pause_hours,
            },
        }
    }
}

/// HTML text escaping (for values put into a mail's HTML part).
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// Declares [`WebTexts`]: one `&'static str` per listed field, plus the texts with a value to fill in.
macro_rules! web_texts {
    ($($(#[$doc:meta])* $field:ident,)*) => {
        /// The strings of the web pages in one language (the templates read them as `t.<field>`).
        #[derive(Debug)]
        pub(crate) struct WebTexts {
            $($(#[$doc])* pub(crate) $field: &'static str,)*
            /// After an SMS code was requested; how many minutes it is valid.
            pub(crate) code_sent: fn(minutes: u32) -> String,
            /// The password rule; the minimum length.
            pub(crate) password_intro: fn(min: usize) -> String,
        }

        impl WebTexts {
            /// Every plain string, named (for the completeness test).
            #[cfg(test)]
            fn strings(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($field), self.$field),)*]
            }
        }
    };
}

web_texts! {
    html_lang,
    title,
    other_language,
    other_code,
    login_heading,
    login_intro,
    account,
    password,
    login_button,
    bad_credentials,
    locked_until,
    disabled,
    expired_account,
    not_activated,
    no_password_check,
    rate_limited,
    logged_in_as,
    logout,
    bound_heading,
    bound_since,
    last_used,
    never,
    bound_replace,
    /// The phone change form on the device page (password and a code from the old phone).
    change_heading,
    change_intro,
    old_code,
    change_button,
    /// A wrong password or old code (not told apart).
    change_refused,
    change_scan_intro,
    change_done,
    /// The bound device changed since the change started (IT reset, another change).
    change_superseded,
    unbound_heading,
    unbound_intro,
    label,
    start_button,
    scan_heading,
    scan_intro,
    invite_scan_intro,
    /// The tap-to-add link under the QR code (the page read on the phone itself).
    tap_to_add,
    manual_heading,
    initial_key,
    manual_type,
    manual_digits,
    manual_period,
    manual_algorithm,
    seconds,
    code_heading,
    code,
    confirm_button,
    wrong_code,
    pending_expired,
    done,
    /// `done` when NetScaler asks for the code in a second field (`radius.mode = "otp-only"`).
    done_otp_only,
    /// `done` when NetScaler asks for the code after the password (`radius.mode = "challenge"`).
    done_challenge,
    forbidden_heading,
    forbidden,
    session_expired,
    error_heading,
    error,
    outside_heading,
    outside,
    invite_heading,
    invite_used,
    invite_expired,
    invite_unknown,
    invite_bound,
    /// `invite_bound` for `radius.mode = "otp-only"`.
    invite_bound_otp_only,
    /// `invite_bound` for `radius.mode = "challenge"`.
    invite_bound_challenge,
    invite_already_bound,
    invite_pending_expired,
    invite_account_disabled,
    invite_account_expired,
    invite_password_heading,
    invite_password_intro,
    invite_password_not_you,
    invite_unlock_button,
    invite_activate_first,
    account_outside_heading,
    account_outside,
    activate_link,
    reset_link,
    activate_heading,
    activate_intro,
    reset_heading,
    reset_intro,
    next_button,
    method_heading,
    sms_heading,
    sms_intro,
    phone,
    send_button,
    bad_phone,
    app_heading,
    app_intro,
    verify_button,
    sms_code_heading,
    verify_failed,
    identity,
    identity_hint,
    helpdesk_heading,
    helpdesk_intro,
    helpdesk_code,
    new_code_link,
    password_heading,
    new_password,
    confirm_password,
    set_password_button,
    passwords_differ,
    activated,
    reset_done,
    use_reset,
    directory_password,
    directory_password_at,
    use_activation,
    admin_locked,
    flow_expired,
    start_over,
    to_enroll,
}

/// The web page strings of `language`.
pub(crate) fn web(language: Language) -> &'static WebTexts {
    match language {
        Language::ZhTw => &WEB_ZH_TW,
        Language::En => &WEB_EN,
    }
}

#[cfg(test)]
mod tests;
