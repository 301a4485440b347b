//! English: every text of the catalogue (see [`super`] for the keys).

use super::{
    BoundVia, CodeShape, LINK_STYLE, MailText, PasswordRule, Phrase, Reply, Sms, WebTexts,
};

/// `6-digit code` / `6-character code (digits and letters a-f)`.
fn code_shape(shape: CodeShape) -> String {
    if shape.hex {
        format!("{}-character code (digits and letters a-f)", shape.len)
    } else {
        format!("{}-digit code", shape.len)
    }
}

/// `2 minutes` (or seconds when the time is not whole minutes).
fn duration(seconds: i64) -> String {
    match (seconds / 60, seconds % 60 == 0) {
        (1, true) => "1 minute".to_owned(),
        (minutes, true) => format!("{minutes} minutes"),
        (_, false) => format!("{seconds} seconds"),
    }
}

pub(super) fn reply(reply: &Reply) -> String {
    match reply {
        Reply::LoginFailed(base) => format!(
            "Login failed. Check your account, password and code, then try again. First time: activate \
             your account at {base}/account/activate and register your app at {base}/enroll. If it keeps \
             failing, contact IT."
        ),
        Reply::LoginFailedNoActivation(base) => format!(
            "Login failed. Check your account, password and code, then try again. First time: register your \
             app at {base}/enroll. If it keeps failing, contact IT."
        ),
        Reply::BadCredentials => "Wrong account, password or code. Please try again.".into(),
        Reply::BadCode {
            shape,
            after_password: true,
        } => format!(
            "Wrong code: type the {} the app shows now, right after your password.",
            code_shape(*shape)
        ),
        Reply::BadCode {
            shape,
            after_password: false,
        } => format!(
            "Wrong code: type the {} the app shows now.",
            code_shape(*shape)
        ),
        Reply::Replayed => {
            "This code was already used. Wait for the next code in the app, then log in.".into()
        }
        Reply::Locked(until) => {
            format!(
                "Too many failed logins: the account is locked until {until}. Try later or contact IT."
            )
        }
        Reply::Disabled => "This account is disabled. Please contact IT.".into(),
        Reply::NotActivated(url) => {
            format!("This account is not activated yet. Activate it first at {url}.")
        }
        Reply::Expired(date) => format!("This account expired on {date}. Contact IT to extend it."),
        Reply::NotEnrolled(url) => format!(
            "No MOTP device is registered, so VPN login is refused. Register at {url} from the hospital \
             network, or ask IT for an e-mail invitation."
        ),
        Reply::RegisterReminder { date, url } => {
            format!(
                "Reminder: register your MOTP app at {url} before {date}; after that, VPN login needs it."
            )
        }
        Reply::EnterCode(shape) => {
            format!(
                "Enter the {} from your authenticator app.",
                code_shape(*shape)
            )
        }
        Reply::EnterNextCode => {
            "Your token is out of step: enter its next code to resynchronise.".into()
        }
        Reply::ChallengeExpired => {
            "The login timed out or was already used. Please log in again.".into()
        }
        Reply::Malformed => "The login request was incomplete. Please log in again.".into(),
        Reply::TemporaryFailure => {
            "Login cannot be checked right now. Please try again shortly.".into()
        }
    }
}

pub(super) fn sms(sms: &Sms<'_>) -> String {
    match *sms {
        Sms::Code { code, ttl_seconds } => {
            format!("motpd code {code}, valid for {}. Do not share it.", duration(ttl_seconds))
        }
        Sms::RateLimited { next_at } => {
            format!("Too many SMS codes requested. Try again after {next_at}.")
        }
        Sms::GatewayFailed => {
            "The SMS could not be sent right now. Try again later or contact IT.".into()
        }
        Sms::Disabled => {
            "SMS codes are not available for this account. Use the app or contact IT.".into()
        }
        Sms::NoPhone => "No mobile number is registered for this account, so no SMS code can be sent. \
                         Contact IT."
            .into(),
        Sms::EnterCodeOrKeyword { keyword, shape } => format!(
            "Enter the {} from your authenticator app, or type {keyword} to get a code by SMS.",
            code_shape(shape)
        ),
        Sms::KeywordOnly { keyword, url } => format!(
            "No MOTP device is registered: type {keyword} to get a code by SMS, and register at {url} soon."
        ),
        Sms::PasswordThenKeyword { keyword, url } => format!(
            "No MOTP device is registered: type your password followed by {keyword} (e.g. password{keyword}) \
             to get a code by SMS, and register at {url} soon."
        ),
        Sms::CodeSent {
            masked_phone,
            ttl_seconds,
        } => format!(
            "A code was sent by SMS to {masked_phone}, valid for {}. Enter the 6 digits.",
            duration(ttl_seconds)
        ),
        Sms::WrongCode { remaining } => {
            format!("Wrong SMS code; {remaining} tries left. Enter it again.")
        }
        Sms::CodeUnusable => "The SMS code is no longer valid (expired, used, or too many wrong tries). \
                              Log in again for a new one."
            .into(),
        Sms::PasswordSet { activated: true } => {
            "Your VPN account was activated and its password set. Not you? Call the IT helpdesk now.".into()
        }
        Sms::PasswordSet { activated: false } => {
            "Your VPN password was changed. Not you? Call the IT helpdesk now.".into()
        }
        Sms::DeviceBound { account_id } => format!(
            "A device was registered for VPN account {account_id}; not you? Call IT now."
        ),
    }
}

pub(super) fn phrase(phrase: Phrase) -> &'static str {
    match phrase {
        Phrase::UntilItUnlocks => "IT unlocks it",
        Phrase::RequestTimedOut => "The request timed out. Please reload the page and try again.",
        Phrase::RequestUnreadable => "The request could not be read. Please try again.",
        Phrase::RequestTooLarge => "The request is too large.",
    }
}

pub(super) fn password_rule(rule: PasswordRule) -> String {
    match rule {
        PasswordRule::TooShort { min } => {
            format!("the password must have at least {min} characters")
        }
        PasswordRule::NeedsLettersAndDigits => {
            "the password must contain both letters and digits".into()
        }
        PasswordRule::EqualsAccountId => "the password must not be the account ID".into(),
        PasswordRule::Unchanged => "the new password must differ from the old one".into(),
    }
}

pub(super) fn mail_subject(mail: &MailText<'_>) -> &'static str {
    match mail {
        MailText::Invitation { .. } => "VPN authenticator invitation",
        MailText::DeviceBound { .. } => "A device was registered for your VPN account",
        MailText::PasswordSet {
            activated: true, ..
        } => "Your VPN account was activated",
        MailText::PasswordSet {
            activated: false, ..
        } => "Your VPN password was changed",
    }
}

/// On the phone to be bound a QR code cannot be scanned: the link's page adds the token with a tap.
const ON_THE_PHONE: &str = "Reading this on the phone you will use? Open the link above and enter your password: \
                            its page has a link that adds the account to the authenticator app, no scanning \
                            needed.";

fn bound_via(via: BoundVia) -> &'static str {
    match via {
        BoundVia::SelfService => "on the self-service registration page",
        BoundVia::InvitationLink => "through an e-mail invitation link",
        BoundVia::MailedQrAtVpn => "with the QR code of an invitation mail, at its first VPN login",
        BoundVia::PhoneChange => {
            "moved from your previous phone on the self-service registration page (with your password and a code \
             from that phone); the previous phone's codes no longer work"
        }
    }
}

fn password_set(activated: bool, pause_hours: u32) -> String {
    let what = if activated {
        "Your VPN account was activated and its password set."
    } else {
        "Your VPN password was changed."
    };
    if pause_hours > 0 {
        format!(
            "{what} For your safety, SMS codes at the VPN login are off for the next {pause_hours} hours."
        )
    } else {
        what.to_owned()
    }
}

const NOT_YOU: &str = "Not you? Call the IT helpdesk now.";

pub(super) fn mail_text(mail: &MailText<'_>) -> String {
    match *mail {
        MailText::Invitation {
            name,
            id,
            link,
            until,
            qr_content_id,
        } => {
            let qr = if qr_content_id.is_some() {
                "\nThe HTML version of this mail carries a QR code to scan directly; if your mail program shows \
                 only plain text, open the link above to scan it.\n"
            } else {
                ""
            };
            format!(
                "Hello {name},\n\nInstall an authenticator app on your phone (for example Google \
                 Authenticator or Microsoft Authenticator), then open the link below, scan the QR code and enter \
                 the 6-digit code the app shows to bind it to your VPN account {id}.\n\n{link}\n{qr}\n\
                 {ON_THE_PHONE}\n\nThe link works once and until {until}. If you did not expect this mail, ignore \
                 it and tell the IT department."
            )
        }
        MailText::DeviceBound {
            name,
            id,
            when,
            via,
        } => format!(
            "Hello {name},\n\nAn authenticator device was registered for your VPN account {id} on {when}, \
             {}.\n\nIf this was you, there is nothing to do. If it was not you, call the IT helpdesk now: \
             someone may have your password and your e-mail.",
            bound_via(via)
        ),
        MailText::PasswordSet {
            id,
            activated,
            pause_hours,
        } => format!(
            "Account {id}\n\n{}\n{NOT_YOU}",
            password_set(activated, pause_hours)
        ),
    }
}

pub(super) fn mail_html(mail: &MailText<'_>) -> String {
    match *mail {
        MailText::Invitation {
            name,
            id,
            link,
            until,
            qr_content_id,
        } => {
            let qr = if qr_content_id.is_some() {
                format!(
                    "<p>You can also scan the QR code in the Chinese part above with your authenticator app \
                     directly: it is bound the first time you enter its code on the link's page or log in to the \
                     VPN with your password followed by the code (until {until}).</p><p>{ON_THE_PHONE}</p>\
                     <p><strong>This QR code is your second factor: do not forward this mail, and delete it once \
                     you are set up.</strong></p>"
                )
            } else {
                format!("<p>{ON_THE_PHONE}</p>")
            };
            format!(
                "<p>Hello {name},</p><p>Install an authenticator app on your phone (for example Google \
                 Authenticator or Microsoft Authenticator), then open the link below, scan the QR code and enter \
                 the 6-digit code the app shows to bind it to your VPN account {id}.</p>\
                 <p><a href=\"{link}\" style=\"{LINK_STYLE}\">{link}</a></p>{qr}<p>The link works once and until \
                 {until}. If you did not expect this mail, ignore it and tell the IT department.</p>"
            )
        }
        MailText::DeviceBound {
            name,
            id,
            when,
            via,
        } => format!(
            "<p>Hello {name},</p><p>An authenticator device was registered for your VPN account {id} on {when}, \
             {}.</p><p><strong>If it was not you, call the IT helpdesk now</strong>: someone may have your \
             password and your e-mail. If this was you, there is nothing to do.</p>",
            bound_via(via)
        ),
        MailText::PasswordSet {
            id,
            activated,
            pause_hours,
        } => format!(
            "<p>Account {id}</p><p>{}</p><p><strong>{NOT_YOU}</strong></p>",
            password_set(activated, pause_hours)
        ),
    }
}

/// The web page strings.
pub(crate) static WEB: WebTexts = WebTexts {
    html_lang: "en",
    title: "VPN two-factor registration",
    other_language: "中文",
    other_code: "zh-TW",
    login_heading: "Log in to register your authenticator",
    login_intro: "Enter your account and password (the same as for the VPN).",
    account: "Account",
    password: "Password",
    login_button: "Log in",
    bad_credentials: "Wrong account or password.",
    locked_until: "Too many failed logins: the account is locked until",
    disabled: "This account is disabled. Please contact IT.",
    expired_account: "This account has expired. Please contact IT.",
    not_activated: "This account is not activated yet: please set a password first (\"Activate your account\").",
    no_password_check: "This server does not check passwords, so it cannot register an authenticator here. Please ask the IT service desk for an invitation.",
    rate_limited: "Too many attempts. Please wait a minute and try again.",
    logged_in_as: "Logged in as",
    logout: "Log out",
    bound_heading: "Authenticator registered",
    bound_since: "Registered",
    last_used: "Last used",
    never: "not yet",
    bound_replace: "One device per account. If your phone was lost, ask IT to reset it, then register again.",
    change_heading: "Changing phones?",
    change_intro: "Move the registration to your new phone yourself: type your password and the code your current (old) phone shows now. Then scan a new QR code with the new phone and type its code; only then does the old phone stop working. Lost your phone? Ask IT to reset it instead.",
    old_code: "Code from the old phone",
    change_button: "Move to a new phone",
    change_refused: "The password or the old phone's code is not correct, or that code was already used. Wait for the next code and try again.",
    change_scan_intro: "Scan this QR code with the NEW phone's authenticator app, then type the code the new phone shows. Until then the old phone keeps working. Valid for 10 minutes.",
    change_done: "Done! The new phone is registered and the old phone's codes no longer work. If the hospital has your e-mail address or phone number, a notice goes there too.",
    change_superseded: "The phone change could not be completed: the registered device was changed or reset meanwhile. Nothing was changed by this attempt.",
    unbound_heading: "No authenticator registered",
    unbound_intro: "Install an authenticator app on your phone (e.g. Google Authenticator or Microsoft Authenticator), then press the button.",
    label: "Device name (optional)",
    start_button: "Register a software token",
    scan_heading: "Scan the QR code with your authenticator app",
    scan_intro: "In the app choose \"Add account\" → \"Scan a QR code\". This is shown only once and is valid for 10 minutes.",
    invite_scan_intro: "In the app choose \"Add account\" → \"Scan a QR code\". While the invitation link is valid, opening it again shows the same QR code; it stops working once bound.",
    tap_to_add: "Reading this on the phone itself? Tap here to add it to the authenticator app",
    manual_heading: "Cannot scan? Enter it by hand",
    initial_key: "Initial key",
    manual_type: "Type: time based (TOTP)",
    manual_digits: "Digits",
    manual_period: "Interval",
    manual_algorithm: "Algorithm",
    seconds: "seconds",
    code_heading: "Type the 6-digit code the app shows to finish",
    code: "Code",
    confirm_button: "Confirm",
    wrong_code: "The code is not correct. Type the code the app shows now (and check the phone's clock).",
    pending_expired: "This registration has expired or was replaced by a newer one. Please start again.",
    done: "Done! From now on, at the VPN login type the app's code right after your password.",
    done_otp_only: "Done! From now on, at the VPN login type your password in the first field and the app's code in the second.",
    done_challenge: "Done! From now on, at the VPN login type your password; when asked for the code, type the one the app shows.",
    forbidden_heading: "This request cannot be processed",
    forbidden: "The form is no longer valid (security check failed). Please go back to the registration page and try again.",
    session_expired: "You were idle too long. Please log in again.",
    error_heading: "System error",
    error: "The system cannot handle this right now. Please try again later or contact IT.",
    outside_heading: "Hospital network only",
    outside: "Self-service registration works only from the hospital network. If you are outside, ask IT to send you an e-mail invitation.",
    invite_heading: "E-mail registration invitation",
    invite_used: "This invitation link has already been used and cannot be used again. To bind a new phone, contact IT.",
    invite_expired: "This invitation link has expired. Ask IT to send a new invitation.",
    invite_unknown: "This invitation link is not valid, or a newer invitation replaced it. Use the link in the latest invitation mail.",
    invite_bound: "Done! From now on, when you log in to the VPN, type the app's code right after your password. This invitation link no longer works.",
    invite_bound_otp_only: "Done! From now on, when you log in to the VPN, type your password in the first field and the app's code in the second. This invitation link no longer works.",
    invite_bound_challenge: "Done! From now on, when you log in to the VPN, type your password; when asked for the code, type the one the app shows. This invitation link no longer works.",
    invite_already_bound: "This account already has an authenticator. If your phone was lost or replaced, contact IT to reset it.",
    invite_pending_expired: "This page timed out or was replaced by a newer one. Open the invitation link again.",
    invite_account_disabled: "This account is disabled, so the invitation link cannot be used. Please contact IT.",
    invite_account_expired: "This account has expired, so the invitation link cannot be used. Please contact IT.",
    invite_password_heading: "First, confirm it is you",
    invite_password_intro: "This invitation link can bind an authenticator only to the account below. Enter that account's password to see the QR code:",
    invite_password_not_you: "If this is not your account, do not go on, and tell the IT department.",
    invite_unlock_button: "Continue",
    invite_activate_first: "This account is not activated yet. First activate it (set your password) on a hospital computer, then open this same link again while it is valid.",
    account_outside_heading: "Hospital network only",
    account_outside: "Account activation and password reset work only from the hospital network. Please contact IT.",
    activate_link: "First time? Activate your account",
    reset_link: "Forgot your password?",
    activate_heading: "Activate your account",
    activate_intro: "First use (e.g. new staff or interns): prove who you are in two ways (a code by SMS or from your authenticator app, plus your national ID number or date of birth; or a one-time code from the IT helpdesk), then choose your password.",
    reset_heading: "Forgotten password",
    reset_intro: "Prove who you are in two ways (a code by SMS or from your authenticator app, plus your national ID number or date of birth; or a one-time code from the IT helpdesk), then choose a new password.",
    next_button: "Next",
    method_heading: "How do you want to prove it is you? With a code (SMS or app) you also type your national ID number or date of birth as on file at the hospital.",
    sms_heading: "A code by SMS",
    sms_intro: "Type the mobile number registered for this account (10 digits).",
    phone: "Mobile number",
    send_button: "Send the code",
    bad_phone: "Type a mobile number: 10 digits starting with 09.",
    app_heading: "The code of your authenticator app",
    app_intro: "If an authenticator app is registered for this account, type the code it shows now.",
    verify_button: "Verify",
    sms_code_heading: "Type the code from the SMS",
    verify_failed: "Verification failed: the account, the code or the identity data is not correct, or the code has expired. If the hospital has no identity data on file for you, bring your staff or ID card to the IT helpdesk for a one-time code.",
    identity: "National ID number or date of birth",
    identity_hint: "As on file at the hospital: your national ID number (e.g. A123456789) or your date of birth (e.g. 1990-03-07).",
    helpdesk_heading: "A one-time code from the IT helpdesk",
    helpdesk_intro: "If the hospital has no identity data on file for you, or you cannot use SMS or the app: bring your staff or ID card to the IT helpdesk; after checking it they give you a one-time code (valid 24 hours, usable once).",
    helpdesk_code: "One-time code",
    new_code_link: "Ask for a new code",
    password_heading: "Choose your password",
    new_password: "New password",
    confirm_password: "Type it again",
    set_password_button: "Set the password",
    passwords_differ: "The two passwords are not the same.",
    activated: "Your account is active. At the VPN login use your new password followed by your authenticator app's code. No app registered yet? Register it on the registration page. SMS codes at the VPN login are off for a while; the e-mail address and phone on file get a notice.",
    reset_done: "Your password has been changed. Use the new password at the VPN login. Every other session of this account on these pages was logged out. For your safety, SMS codes at the VPN login are off for a while; the e-mail address and phone on file get a notice.",
    directory_password: "Your password is the hospital network account's password: this server does not keep it, so it cannot activate an account or reset a password. Please use the hospital's password service, or call the IT service desk.",
    directory_password_at: "Change or reset it at:",
    use_reset: "This account is already active. If you forgot your password, use \"Forgot your password?\".",
    use_activation: "This account has not been activated yet. Please activate it first.",
    admin_locked: "This account was locked by IT. Please contact IT.",
    flow_expired: "This step has expired or was already completed. Please start again.",
    start_over: "Start again",
    to_enroll: "Go to the authenticator registration page",
    code_sent: |minutes| {
        format!(
            "If the account and the number match, a code has been sent to the registered number; it is valid for \
             {minutes} minutes. If none arrives, check the number, wait a minute and ask again, or contact IT."
        )
    },
    password_intro: |min| {
        format!(
            "At least {min} characters, with letters and digits; not your account ID, and not your current (or \
             initial) password."
        )
    },
};
