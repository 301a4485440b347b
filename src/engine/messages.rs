//! The texts staff read at the VPN login (Reply-Message), in Traditional Chinese and English.
//!
//! Each says what happened and what to do. None reveals more than the decision allows: before both factors are
//! verified every failure reads [`Message::LoginFailed`] unless `radius.detailed_reasons` is on, and even then
//! an unknown account and a wrong password read the same.

use crate::config::Language;

/// What the user types as a code: how many characters, and whether they are decimal digits (TOTP, HOTP) or
/// hexadecimal characters (mOTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CodeShape {
    /// Characters in a code.
    pub(crate) len: usize,
    /// mOTP: 0-9 and a-f.
    pub(crate) hex: bool,
}

impl CodeShape {
    /// `6 位數動態密碼` / `6-digit code`.
    pub(crate) fn zh_tw(self) -> String {
        if self.hex {
            format!("{} 碼動態密碼（數字及英文字母 a–f）", self.len)
        } else {
            format!("{} 位數動態密碼", self.len)
        }
    }

    pub(crate) fn en(self) -> String {
        if self.hex {
            format!("{}-character code (digits and letters a-f)", self.len)
        } else {
            format!("{}-digit code", self.len)
        }
    }
}

/// An SMS code (see `sms.rs`).
pub(crate) const SMS_CODE: CodeShape = CodeShape { len: 6, hex: false };

/// Something to tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    /// Any failure before both factors are verified, when detailed reasons are off; the pages' base address
    /// (where to activate and to register).
    LoginFailed(String),
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
    /// Locked until the given local time (`HH:MM`, or a date for admin locks).
    Locked(String),
    /// Disabled by IT.
    Disabled,
    /// Not activated (no password yet).
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

impl Message {
    /// The text in `language`.
    pub(crate) fn text(&self, language: Language) -> String {
        match language {
            Language::ZhTw => self.zh_tw(),
            Language::En => self.en(),
        }
    }

    fn zh_tw(&self) -> String {
        match self {
            Self::LoginFailed(base) => format!(
                "登入失敗，請確認帳號、密碼及動態密碼後再試。第一次使用請先至 {base}/account/activate 啟用帳號、至 {base}/enroll 註冊 MOTP；仍無法登入請聯絡資訊室。"
            ),
            Self::BadCredentials => "帳號、密碼或動態密碼錯誤，請重新輸入。".into(),
            Self::BadCode {
                shape,
                after_password: true,
            } => format!(
                "動態密碼錯誤：請輸入手機 App 目前顯示的{}（密碼後面直接接動態密碼）。",
                shape.zh_tw()
            ),
            Self::BadCode {
                shape,
                after_password: false,
            } => format!("動態密碼錯誤：請輸入手機 App 目前顯示的{}。", shape.zh_tw()),
            Self::Replayed => "此動態密碼已使用過，請等候 App 顯示下一組密碼再登入。".into(),
            Self::Locked(until) => {
                format!("登入失敗次數過多，帳號已暫時鎖定至 {until}，請稍後再試或聯絡資訊室。")
            }
            Self::Disabled => "帳號已停用，請聯絡資訊室。".into(),
            Self::NotActivated(url) => format!("帳號尚未啟用，請先至 {url} 完成帳號啟用。"),
            Self::Expired(date) => format!("帳號已於 {date} 到期，如需延長請聯絡資訊室。"),
            Self::NotEnrolled(url) => format!(
                "尚未註冊 MOTP 動態密碼裝置，無法登入 VPN。請於院內網路至 {url} 註冊，院外請聯絡資訊室寄送註冊信。"
            ),
            Self::RegisterReminder { date, url } => {
                format!("提醒：請於 {date} 前至 {url} 註冊 MOTP 動態密碼，逾期將無法登入 VPN。")
            }
            Self::EnterCode(shape) => format!("請輸入手機 App 上的{}。", shape.zh_tw()),
            Self::EnterNextCode => {
                "動態密碼不同步：請在 App 產生下一組密碼後輸入，以重新同步。".into()
            }
            Self::ChallengeExpired => "登入逾時或驗證已使用，請重新登入。".into(),
            Self::Malformed => "登入資料不完整，請重新登入。".into(),
            Self::TemporaryFailure => "系統暫時無法驗證，請稍後再試。".into(),
        }
    }

    fn en(&self) -> String {
        match self {
            Self::LoginFailed(base) => format!(
                "Login failed. Check your account, password and code, then try again. First time: activate \
                 your account at {base}/account/activate and register your app at {base}/enroll. If it keeps \
                 failing, contact IT."
            ),
            Self::BadCredentials => "Wrong account, password or code. Please try again.".into(),
            Self::BadCode {
                shape,
                after_password: true,
            } => format!(
                "Wrong code: type the {} the app shows now, right after your password.",
                shape.en()
            ),
            Self::BadCode {
                shape,
                after_password: false,
            } => format!("Wrong code: type the {} the app shows now.", shape.en()),
            Self::Replayed => {
                "This code was already used. Wait for the next code in the app, then log in.".into()
            }
            Self::Locked(until) => {
                format!(
                    "Too many failed logins: the account is locked until {until}. Try later or contact IT."
                )
            }
            Self::Disabled => "This account is disabled. Please contact IT.".into(),
            Self::NotActivated(url) => {
                format!("This account is not activated yet. Activate it first at {url}.")
            }
            Self::Expired(date) => {
                format!("This account expired on {date}. Contact IT to extend it.")
            }
            Self::NotEnrolled(url) => format!(
                "No MOTP device is registered, so VPN login is refused. Register at {url} from the hospital \
                 network, or ask IT for an e-mail invitation."
            ),
            Self::RegisterReminder { date, url } => {
                format!(
                    "Reminder: register your MOTP app at {url} before {date}; after that, VPN login needs it."
                )
            }
            Self::EnterCode(shape) => {
                format!("Enter the {} from your authenticator app.", shape.en())
            }
            Self::EnterNextCode => {
                "Your token is out of step: enter its next code to resynchronise.".into()
            }
            Self::ChallengeExpired => {
                "The login timed out or was already used. Please log in again.".into()
            }
            Self::Malformed => "The login request was incomplete. Please log in again.".into(),
            Self::TemporaryFailure => {
                "Login cannot be checked right now. Please try again shortly.".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_exists_in_both_languages_and_differs() {
        let six = CodeShape { len: 6, hex: false };
        let all = [
            Message::LoginFailed("u".into()),
            Message::BadCredentials,
            Message::BadCode {
                shape: six,
                after_password: true,
            },
            Message::BadCode {
                shape: six,
                after_password: false,
            },
            Message::Replayed,
            Message::Locked("10:42".into()),
            Message::Disabled,
            Message::NotActivated("u".into()),
            Message::Expired("2026-01-01".into()),
            Message::NotEnrolled("u".into()),
            Message::RegisterReminder {
                date: "d".into(),
                url: "u".into(),
            },
            Message::EnterCode(six),
            Message::EnterNextCode,
            Message::ChallengeExpired,
            Message::Malformed,
            Message::TemporaryFailure,
        ];
        let mut seen = std::collections::HashSet::new();
        for m in &all {
            let zh = m.text(Language::ZhTw);
            let en = m.text(Language::En);
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{zh}"
            );
            assert!(en.is_ascii(), "{en}");
            assert!(
                seen.insert(zh) && seen.insert(en),
                "duplicate text for {m:?}"
            );
        }
        assert!(
            Message::Locked("10:42".into())
                .text(Language::En)
                .contains("10:42")
        );
    }

    #[test]
    fn code_texts_follow_the_device() {
        let eight = CodeShape { len: 8, hex: false };
        let motp = CodeShape { len: 6, hex: true };
        for language in [Language::ZhTw, Language::En] {
            let text = Message::EnterCode(eight).text(language);
            assert!(text.contains('8') && !text.contains('6'), "{text}");
            let text = Message::BadCode {
                shape: eight,
                after_password: false,
            }
            .text(language);
            assert!(text.contains('8') && !text.contains('6'), "{text}");
            assert!(!text.contains("密碼後面") && !text.contains("after your password"));
            assert!(Message::EnterCode(motp).text(language).contains("a"));
        }
    }
}
