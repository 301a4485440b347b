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
    pub(crate) error: Option<&'static str>,
}

/// A new seed as shown once.
#[derive(Debug)]
pub(crate) struct SeedView {
    pub(crate) qr_svg: String,
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

/// The bilingual page of an invitation that cannot be used (or was just used).
#[derive(Debug, Template)]
#[template(path = "invite_state.html")]
pub(crate) struct InviteStatePage {
    pub(crate) zh: &'static Texts,
    pub(crate) en: &'static Texts,
    pub(crate) zh_message: &'static str,
    pub(crate) en_message: &'static str,
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
    pub(crate) zh: &'static Texts,
    pub(crate) en: &'static Texts,
}

/// A time in the site's offset, `YYYY-MM-DD HH:MM`.
pub(crate) fn format_time(unix: i64, offset: time::UtcOffset) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => {
            let t = t.to_offset(offset);
            format!("{} {:02}:{:02}", t.date(), t.hour(), t.minute())
        }
        Err(_) => "-".to_owned(),
    }
}

/// The inline SVG QR code of `uri`.
pub(crate) fn qr_svg(uri: &str) -> Result<String, qrcode::types::QrError> {
    Ok(qrcode::QrCode::new(uri.as_bytes())?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}
