//! The page templates (askama, auto-escaped; files in `templates/`) and the data they show. No logic beyond
//! formatting: the handlers decide which page to show.

use askama::Template;

use super::texts::Texts;

/// What every page has: its texts and the link to the other language.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) t: &'static Texts,
    pub(crate) switch_href: String,
}

/// The login form.
#[derive(Debug, Template)]
#[template(path = "login.html")]
pub(crate) struct LoginPage<'a> {
    pub(crate) f: Frame,
    pub(crate) csrf: &'a str,
    pub(crate) account: &'a str,
    pub(crate) error: Option<String>,
}

/// The active device, formatted.
#[derive(Debug)]
pub(crate) struct Bound {
    pub(crate) confirmed_at: String,
    pub(crate) last_used_at: String,
}

/// The device status page (bound, or the "register" button).
#[derive(Debug, Template)]
#[template(path = "device.html")]
pub(crate) struct DevicePage<'a> {
    pub(crate) f: Frame,
    pub(crate) csrf: &'a str,
    pub(crate) account_id: &'a str,
    pub(crate) bound: Option<Bound>,
    pub(crate) notice: Option<&'static str>,
    pub(crate) error: Option<String>,
}

/// A new seed as shown once.
#[derive(Debug)]
pub(crate) struct SeedView {
    pub(crate) qr_svg: String,
    /// The `otpauth://` URI: a tap-to-add link for a person reading the page on the phone itself.
    pub(crate) uri: String,
    pub(crate) key_grouped: String,
    pub(crate) digits: u32,
    pub(crate) period: u32,
    pub(crate) algorithm: String,
}

/// The QR code and the code form (without the seed after a wrong code).
#[derive(Debug, Template)]
#[template(path = "enroll.html")]
pub(crate) struct EnrollPage<'a> {
    pub(crate) f: Frame,
    pub(crate) csrf: &'a str,
    pub(crate) account_id: &'a str,
    pub(crate) device_id: &'a str,
    pub(crate) seed: Option<SeedView>,
    pub(crate) error: Option<&'static str>,
}

/// The phone change's QR code (for the new phone) and code form (without the seed after a wrong code).
#[derive(Debug, Template)]
#[template(path = "change.html")]
pub(crate) struct ChangePage<'a> {
    pub(crate) f: Frame,
    pub(crate) csrf: &'a str,
    pub(crate) account_id: &'a str,
    pub(crate) device_id: &'a str,
    pub(crate) seed: Option<SeedView>,
    pub(crate) error: Option<&'static str>,
}

/// The invitation page: QR code and code form, posting back to the invitation's own URL.
#[derive(Debug, Template)]
#[template(path = "invite.html")]
pub(crate) struct InvitePage<'a> {
    pub(crate) f: Frame,
    pub(crate) csrf: &'a str,
    pub(crate) token: &'a str,
    pub(crate) account_id: &'a str,
    pub(crate) device_id: &'a str,
    pub(crate) seed: Option<SeedView>,
    pub(crate) error: Option<&'static str>,
}

/// The invitation's password form: the link's account, fixed, and its password.
#[derive(Debug, Template)]
#[template(path = "invite_password.html")]
pub(crate) struct InvitePasswordPage<'a> {
    pub(crate) f: Frame,
    pub(crate) csrf: &'a str,
    pub(crate) token: &'a str,
    pub(crate) account_id: &'a str,
    pub(crate) error: Option<String>,
}

/// The bilingual page of an invitation that cannot be used (or was just used).
#[derive(Debug, Template)]
#[template(path = "invite_state.html")]
pub(crate) struct InviteStatePage {
    pub(crate) zh: &'static Texts,
    pub(crate) en: &'static Texts,
    pub(crate) zh_message: &'static str,
    pub(crate) en_message: &'static str,
    /// Whether to link to the account activation page.
    pub(crate) activate: bool,
}

/// Which step of the account activation / reset pages to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccountStep {
    /// The account ID form.
    Start,
    /// SMS (number) or app code.
    Method,
    /// The SMS code form.
    SmsCode,
    /// The new password form.
    Password,
    /// An outcome: only the notice or error and the links.
    Outcome,
}

/// The account activation / reset pages (one template, one step at a time).
#[derive(Debug, Template)]
#[template(path = "account.html")]
pub(crate) struct AccountPage<'a> {
    pub(crate) f: Frame,
    pub(crate) step: AccountStep,
    pub(crate) csrf: &'a str,
    /// `/account/activate` or `/account/reset`.
    pub(crate) base: &'static str,
    pub(crate) heading: &'static str,
    pub(crate) intro: &'static str,
    /// The other flow's path and link text.
    pub(crate) other_base: &'static str,
    pub(crate) other_label: &'static str,
    pub(crate) account: &'a str,
    pub(crate) sms: bool,
    pub(crate) min_password: usize,
    pub(crate) password_intro: String,
    pub(crate) notice: Option<String>,
    pub(crate) error: Option<String>,
}

/// A message (forbidden, rate limited, error).
#[derive(Debug, Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage<'a> {
    pub(crate) f: Frame,
    pub(crate) heading: &'a str,
    pub(crate) message: &'a str,
}

/// The bilingual "hospital network only" page.
#[derive(Debug, Template)]
#[template(path = "outside.html")]
pub(crate) struct OutsidePage {
    pub(crate) zh_heading: &'static str,
    pub(crate) zh_text: &'static str,
    pub(crate) en_heading: &'static str,
    pub(crate) en_text: &'static str,
}

/// A time in the site's offset with the offset written out, as the mails and the CLI show it; total for every
/// `unix` (see [`crate::local_time`]).
pub(crate) fn format_time(unix: i64, offset: time::UtcOffset) -> String {
    crate::local_time::for_people(unix, offset)
}

impl SeedView {
    /// The page view of a new seed: its `otpauth://` `uri` as a QR code and as text, the base32 key in groups
    /// of four, and the code parameters of `otp`.
    pub(crate) fn new(
        uri: &crate::secrets::SecretString,
        secret_base32: &crate::secrets::SecretString,
        otp: &crate::config::OtpConfig,
    ) -> Result<Self, qrcode::types::QrError> {
        Ok(Self {
            qr_svg: qr_svg(uri.expose())?,
            uri: uri.expose().to_owned(),
            key_grouped: crate::otp::group_in_fours(secret_base32.expose()),
            digits: otp.digits,
            period: otp.period,
            algorithm: otp.algorithm.to_uppercase(),
        })
    }
}

/// The inline SVG QR code of `uri`.
pub(crate) fn qr_svg(uri: &str) -> Result<String, qrcode::types::QrError> {
    Ok(qrcode::QrCode::new(uri.as_bytes())?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn formatting_a_time_never_panics() {
        let taipei = time::UtcOffset::from_hms(8, 0, 0).unwrap();
        let west = time::UtcOffset::from_hms(-8, 0, 0).unwrap();
        assert_eq!(format_time(0, taipei), "1970-01-01 08:00 (UTC+08:00)");
        let admin_lock = crate::account_rules::ADMIN_LOCK_UNTIL;
        assert_eq!(
            format_time(admin_lock, taipei),
            "9999-12-31 23:59 (UTC+00:00)"
        );
        assert_eq!(
            format_time(admin_lock, west),
            "9999-12-31 15:59 (UTC-08:00)"
        );
        for unix in [i64::MIN, i64::MAX, -377_705_116_800 - 1, admin_lock + 1] {
            assert_eq!(format_time(unix, taipei), "-", "{unix}");
        }
        assert!(format_time(-377_705_116_800, west).ends_with("(UTC+00:00)"));
    }
}
