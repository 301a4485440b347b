//! The texts of the SMS feature (the sentences are in [`crate::texts`]): the text message itself (with the
//! code), why a code was not sent, the RADIUS prompts of an SMS login, and the notice after a password was set
//! on the account pages. Times are shown in the site's time zone.

use super::messages::CodeShape;
use crate::config::Language;
use crate::texts::Sms;

/// `HH:MM` at `offset`, with the date when it is not `now`'s day.
pub(crate) fn local_time_text(at: i64, now: i64, offset: time::UtcOffset) -> String {
    let local = |t: i64| time::OffsetDateTime::from_unix_timestamp(t).map(|t| t.to_offset(offset));
    match (local(at), local(now)) {
        (Ok(t), Ok(n)) if t.date() == n.date() => format!("{:02}:{:02}", t.hour(), t.minute()),
        (Ok(t), _) => format!("{} {:02}:{:02}", t.date(), t.hour(), t.minute()),
        (Err(_), _) => "-".to_owned(),
    }
}

/// The text message carrying `code`, valid for `ttl_seconds`.
pub(crate) fn sms_text(code: &str, ttl_seconds: i64, language: Language) -> String {
    Sms::Code { code, ttl_seconds }.text(language)
}

/// A send refused by the rate limits: when the next one is allowed.
pub(crate) fn rate_limited_text(
    next_at: i64,
    now: i64,
    offset: time::UtcOffset,
    language: Language,
) -> String {
    let next_at = local_time_text(next_at, now, offset);
    Sms::RateLimited { next_at: &next_at }.text(language)
}

/// The gateway failed or timed out.
pub(crate) fn gateway_failed_text(language: Language) -> String {
    Sms::GatewayFailed.text(language)
}

/// The text message telling the owner that the account's password was set on the account pages (`activated`:
/// the first password). Both languages in one message: the owner's language is not known. No code, no link.
pub(crate) fn password_changed_notice(activated: bool) -> String {
    Sms::PasswordSet { activated }.bilingual()
}

/// SMS switched off (globally or for the account).
pub(crate) fn disabled_text(language: Language) -> String {
    Sms::Disabled.text(language)
}

/// No mobile number registered.
pub(crate) fn no_phone_text(language: Language) -> String {
    Sms::NoPhone.text(language)
}

/// The challenge prompt after a correct password when SMS is offered next to the app (`keyword`).
pub(crate) fn enter_code_or_keyword(keyword: &str, shape: CodeShape, language: Language) -> String {
    Sms::EnterCodeOrKeyword { keyword, shape }.text(language)
}

/// The challenge prompt for an account without a device after the enforcement date, when SMS is allowed.
pub(crate) fn keyword_only(keyword: &str, url: &str, language: Language) -> String {
    Sms::KeywordOnly { keyword, url }.text(language)
}

/// `password+otp` mode, no device after the enforcement date: how to log in with SMS.
pub(crate) fn password_then_keyword(keyword: &str, url: &str, language: Language) -> String {
    Sms::PasswordThenKeyword { keyword, url }.text(language)
}

/// The challenge prompt after a code was sent.
pub(crate) fn code_sent(masked_phone: &str, ttl_seconds: i64, language: Language) -> String {
    Sms::CodeSent {
        masked_phone,
        ttl_seconds,
    }
    .text(language)
}

/// The challenge prompt after a wrong SMS code with tries left.
pub(crate) fn wrong_sms_code(remaining: u32, language: Language) -> String {
    Sms::WrongCode { remaining }.text(language)
}

/// The SMS code expired, was used, or had too many wrong tries: log in again for a new one.
pub(crate) fn sms_code_unusable(language: Language) -> String {
    Sms::CodeUnusable.text(language)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_shows_the_local_time() {
        let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
        // 1_000_060 s after the epoch is 21:47 at +08:00 on the same day as 1_000_000.
        for language in [Language::ZhTw, Language::En] {
            assert!(rate_limited_text(1_000_060, 1_000_000, offset, language).contains("21:47"));
        }
        assert!(local_time_text(1_900_000, 1_000_000, offset).contains("1970-01-23"));
    }
}
