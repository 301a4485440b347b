//! The texts of the SMS feature, in Traditional Chinese and English: the text message itself (with the code),
//! why a code was not sent, the RADIUS prompts of an SMS login, and the notice after a password was set on the
//! account pages. Times are shown in the site's time zone.

use super::messages::CodeShape;
use crate::config::Language;

/// "2 分鐘" / "2 minutes" (or seconds when the time is not whole minutes).
pub(crate) fn duration_text(seconds: i64, language: Language) -> String {
    let minutes = seconds / 60;
    match (language, seconds % 60 == 0) {
        (Language::ZhTw, true) => format!("{minutes} 分鐘"),
        (Language::ZhTw, false) => format!("{seconds} 秒"),
        (Language::En, true) if minutes == 1 => "1 minute".to_owned(),
        (Language::En, true) => format!("{minutes} minutes"),
        (Language::En, false) => format!("{seconds} seconds"),
    }
}

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
    let valid = duration_text(ttl_seconds, language);
    match language {
        Language::ZhTw => format!("motpd 驗證碼 {code}，{valid}內有效。請勿告訴任何人。"),
        Language::En => format!("motpd code {code}, valid for {valid}. Do not share it."),
    }
}

/// A send refused by the rate limits: when the next one is allowed.
pub(crate) fn rate_limited_text(
    next_at: i64,
    now: i64,
    offset: time::UtcOffset,
    language: Language,
) -> String {
    let at = local_time_text(next_at, now, offset);
    match language {
        Language::ZhTw => format!("簡訊驗證碼發送太頻繁，請於 {at} 後再試。"),
        Language::En => format!("Too many SMS codes requested. Try again after {at}."),
    }
}

/// The gateway failed or timed out.
pub(crate) fn gateway_failed_text(language: Language) -> String {
    match language {
        Language::ZhTw => "簡訊暫時無法發送，請稍後再試或聯絡資訊室。".into(),
        Language::En => {
            "The SMS could not be sent right now. Try again later or contact IT.".into()
        }
    }
}

/// The text message telling the owner that the account's password was set on the account pages (`activated`:
/// the first password). Both languages in one message: the owner's language is not known. No code, no link.
pub(crate) fn password_changed_notice(activated: bool) -> String {
    let (zh, en) = if activated {
        ("已啟用並設定密碼", "was activated and its password set")
    } else {
        ("密碼已變更", "password was changed")
    };
    let en_subject = if activated {
        "Your VPN account"
    } else {
        "Your VPN"
    };
    format!(
        "motpd：您的 VPN 帳號{zh}。若非本人操作，請立即聯絡資訊室。{en_subject} {en}. Not you? Call the IT helpdesk now."
    )
}

/// SMS switched off (globally or for the account).
pub(crate) fn disabled_text(language: Language) -> String {
    match language {
        Language::ZhTw => "此帳號無法使用簡訊驗證碼，請使用手機 App 或聯絡資訊室。".into(),
        Language::En => {
            "SMS codes are not available for this account. Use the app or contact IT.".into()
        }
    }
}

/// No mobile number registered.
pub(crate) fn no_phone_text(language: Language) -> String {
    match language {
        Language::ZhTw => "帳號未登錄手機號碼，無法發送簡訊驗證碼，請聯絡資訊室。".into(),
        Language::En => "No mobile number is registered for this account, so no SMS code can be sent. Contact IT.".into(),
    }
}

/// The challenge prompt after a correct password when SMS is offered next to the app (`keyword`).
pub(crate) fn enter_code_or_keyword(keyword: &str, shape: CodeShape, language: Language) -> String {
    match language {
        Language::ZhTw => format!(
            "請輸入手機 App 上的{}；沒有 App 時請輸入 {keyword} 以簡訊取得驗證碼。",
            shape.zh_tw()
        ),
        Language::En => format!(
            "Enter the {} from your authenticator app, or type {keyword} to get a code by SMS.",
            shape.en()
        ),
    }
}

/// The challenge prompt for an account without a device after the enforcement date, when SMS is allowed.
pub(crate) fn keyword_only(keyword: &str, url: &str, language: Language) -> String {
    match language {
        Language::ZhTw => format!(
            "尚未註冊 MOTP 動態密碼裝置：請輸入 {keyword} 以簡訊取得驗證碼，並儘快於院內網路至 {url} 註冊。"
        ),
        Language::En => format!(
            "No MOTP device is registered: type {keyword} to get a code by SMS, and register at {url} soon."
        ),
    }
}

/// `password+otp` mode, no device after the enforcement date: how to log in with SMS.
pub(crate) fn password_then_keyword(keyword: &str, url: &str, language: Language) -> String {
    match language {
        Language::ZhTw => format!(
            "尚未註冊 MOTP 動態密碼裝置：請在密碼後面直接輸入 {keyword}（例如 密碼{keyword}）以簡訊取得驗證碼，並儘快於院內網路至 {url} 註冊。"
        ),
        Language::En => format!(
            "No MOTP device is registered: type your password followed by {keyword} (e.g. password{keyword}) to get a code by SMS, and register at {url} soon."
        ),
    }
}

/// The challenge prompt after a code was sent.
pub(crate) fn code_sent(masked_phone: &str, ttl_seconds: i64, language: Language) -> String {
    let valid = duration_text(ttl_seconds, language);
    match language {
        Language::ZhTw => {
            format!("驗證碼已以簡訊傳送至 {masked_phone}，{valid}內有效，請輸入 6 位數驗證碼。")
        }
        Language::En => format!(
            "A code was sent by SMS to {masked_phone}, valid for {valid}. Enter the 6 digits."
        ),
    }
}

/// The challenge prompt after a wrong SMS code with tries left.
pub(crate) fn wrong_sms_code(remaining: u32, language: Language) -> String {
    match language {
        Language::ZhTw => format!("簡訊驗證碼錯誤，還可再試 {remaining} 次，請重新輸入。"),
        Language::En => format!("Wrong SMS code; {remaining} tries left. Enter it again."),
    }
}

/// The SMS code expired, was used, or had too many wrong tries: log in again for a new one.
pub(crate) fn sms_code_unusable(language: Language) -> String {
    match language {
        Language::ZhTw => "簡訊驗證碼已失效（逾時、已使用或錯誤次數過多），請重新登入以取得新的驗證碼。".into(),
        Language::En => "The SMS code is no longer valid (expired, used, or too many wrong tries). Log in again for a new one.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_exist_in_both_languages() {
        let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
        for language in [Language::ZhTw, Language::En] {
            let texts = [
                sms_text("123456", 120, language),
                rate_limited_text(1_000_060, 1_000_000, offset, language),
                gateway_failed_text(language),
                disabled_text(language),
                no_phone_text(language),
                enter_code_or_keyword("sms", super::super::messages::SMS_CODE, language),
                keyword_only("sms", "https://x/enroll", language),
                password_then_keyword("sms", "https://x/enroll", language),
                code_sent("0912-***-678", 120, language),
                wrong_sms_code(3, language),
                sms_code_unusable(language),
            ];
            for text in texts {
                let chinese = text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
                assert_eq!(chinese, language == Language::ZhTw, "{text}");
            }
        }
        assert_eq!(
            sms_text("123456", 120, Language::ZhTw),
            "motpd 驗證碼 123456，2 分鐘內有效。請勿告訴任何人。"
        );
        assert!(
            code_sent("0912-***-678", 120, Language::En)
                .contains("0912-***-678, valid for 2 minutes")
        );
        assert_eq!(duration_text(90, Language::En), "90 seconds");
        // 1_000_060 s after the epoch is 21:47 at +08:00 on the same day as 1_000_000.
        assert!(rate_limited_text(1_000_060, 1_000_000, offset, Language::En).contains("21:47"));
    }
}
