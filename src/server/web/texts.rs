//! Every text of the enrollment pages, in Traditional Chinese and English, and the choice of language
//! (`?lang=`, then the language cookie, then `Accept-Language`, then `web.default_language`). Pure.

use crate::config::Language;

/// The language cookie's name.
pub(crate) const LANG_COOKIE: &str = "motpd_lang";

/// The strings of one language.
#[derive(Debug)]
pub(crate) struct Texts {
    pub(crate) html_lang: &'static str,
    pub(crate) title: &'static str,
    pub(crate) other_language: &'static str,
    pub(crate) other_code: &'static str,
    pub(crate) login_heading: &'static str,
    pub(crate) login_intro: &'static str,
    pub(crate) account: &'static str,
    pub(crate) password: &'static str,
    pub(crate) login_button: &'static str,
    pub(crate) bad_credentials: &'static str,
    pub(crate) locked_until: &'static str,
    pub(crate) disabled: &'static str,
    pub(crate) expired_account: &'static str,
    pub(crate) not_activated: &'static str,
    pub(crate) rate_limited: &'static str,
    pub(crate) logged_in_as: &'static str,
    pub(crate) logout: &'static str,
    pub(crate) bound_heading: &'static str,
    pub(crate) bound_since: &'static str,
    pub(crate) last_used: &'static str,
    pub(crate) never: &'static str,
    pub(crate) bound_replace: &'static str,
    pub(crate) unbound_heading: &'static str,
    pub(crate) unbound_intro: &'static str,
    pub(crate) label: &'static str,
    pub(crate) start_button: &'static str,
    pub(crate) scan_heading: &'static str,
    pub(crate) scan_intro: &'static str,
    pub(crate) invite_scan_intro: &'static str,
    pub(crate) manual_heading: &'static str,
    pub(crate) initial_key: &'static str,
    pub(crate) manual_type: &'static str,
    pub(crate) manual_digits: &'static str,
    pub(crate) manual_period: &'static str,
    pub(crate) manual_algorithm: &'static str,
    pub(crate) seconds: &'static str,
    pub(crate) code_heading: &'static str,
    pub(crate) code: &'static str,
    pub(crate) confirm_button: &'static str,
    pub(crate) wrong_code: &'static str,
    pub(crate) pending_expired: &'static str,
    pub(crate) done: &'static str,
    pub(crate) forbidden_heading: &'static str,
    pub(crate) forbidden: &'static str,
    pub(crate) session_expired: &'static str,
    pub(crate) error_heading: &'static str,
    pub(crate) error: &'static str,
    pub(crate) outside_heading: &'static str,
    pub(crate) outside: &'static str,
    pub(crate) invite_heading: &'static str,
    pub(crate) invite_used: &'static str,
    pub(crate) invite_expired: &'static str,
    pub(crate) invite_unknown: &'static str,
    pub(crate) invite_bound: &'static str,
    pub(crate) invite_already_bound: &'static str,
    pub(crate) invite_pending_expired: &'static str,
    pub(crate) invite_account_disabled: &'static str,
    pub(crate) invite_account_expired: &'static str,
    pub(crate) account_outside_heading: &'static str,
    pub(crate) account_outside: &'static str,
    pub(crate) activate_link: &'static str,
    pub(crate) reset_link: &'static str,
    pub(crate) activate_heading: &'static str,
    pub(crate) activate_intro: &'static str,
    pub(crate) reset_heading: &'static str,
    pub(crate) reset_intro: &'static str,
    pub(crate) next_button: &'static str,
    pub(crate) method_heading: &'static str,
    pub(crate) sms_heading: &'static str,
    pub(crate) sms_intro: &'static str,
    pub(crate) phone: &'static str,
    pub(crate) send_button: &'static str,
    pub(crate) bad_phone: &'static str,
    pub(crate) app_heading: &'static str,
    pub(crate) app_intro: &'static str,
    pub(crate) verify_button: &'static str,
    pub(crate) code_sent: &'static str,
    pub(crate) sms_code_heading: &'static str,
    pub(crate) verify_failed: &'static str,
    pub(crate) new_code_link: &'static str,
    pub(crate) password_heading: &'static str,
    pub(crate) password_intro: &'static str,
    pub(crate) new_password: &'static str,
    pub(crate) confirm_password: &'static str,
    pub(crate) set_password_button: &'static str,
    pub(crate) passwords_differ: &'static str,
    pub(crate) activated: &'static str,
    pub(crate) reset_done: &'static str,
    pub(crate) use_reset: &'static str,
    pub(crate) use_activation: &'static str,
    pub(crate) admin_locked: &'static str,
    pub(crate) flow_expired: &'static str,
    pub(crate) start_over: &'static str,
    pub(crate) to_enroll: &'static str,
}

/// Traditional Chinese (Taiwan).
pub(crate) static ZH_TW: Texts = Texts {
    html_lang: "zh-Hant-TW",
    title: "VPN 雙因素驗證註冊",
    other_language: "English",
    other_code: "en",
    login_heading: "登入以註冊驗證器",
    login_intro: "請輸入您的帳號與密碼(與 VPN 登入相同)。",
    account: "帳號",
    password: "密碼",
    login_button: "登入",
    bad_credentials: "帳號或密碼錯誤。",
    locked_until: "登入失敗次數過多,帳號已鎖定至",
    disabled: "此帳號已停用,請洽資訊室。",
    expired_account: "此帳號已過期,請洽資訊室。",
    not_activated: "此帳號尚未啟用,請先至「啟用帳號」設定密碼。",
    rate_limited: "嘗試次數過多,請稍候一分鐘再試。",
    logged_in_as: "已登入:",
    logout: "登出",
    bound_heading: "已綁定驗證器",
    bound_since: "綁定時間",
    last_used: "最後使用",
    never: "尚未使用",
    bound_replace: "每個帳號只能綁定一個裝置。若手機遺失或更換,請洽資訊室重設後再註冊。",
    unbound_heading: "尚未綁定驗證器",
    unbound_intro: "請在手機安裝驗證器 App(例如 Google Authenticator 或 Microsoft Authenticator),再按下方按鈕。",
    label: "裝置名稱(選填)",
    start_button: "註冊軟體憑證",
    scan_heading: "以驗證器 App 掃描 QR 碼",
    scan_intro: "在 App 中選擇「新增帳戶」→「掃描 QR 碼」。此畫面只顯示一次,10 分鐘內有效。",
    invite_scan_intro: "在 App 中選擇「新增帳戶」→「掃描 QR 碼」。邀請連結有效期間內,重新開啟連結會顯示同一個 QR 碼;綁定後即失效。",
    manual_heading: "無法掃描?請手動輸入",
    initial_key: "初始金鑰",
    manual_type: "類型:以時間為準(TOTP)",
    manual_digits: "位數",
    manual_period: "間隔",
    manual_algorithm: "演算法",
    seconds: "秒",
    code_heading: "輸入 App 顯示的 6 位數驗證碼以完成綁定",
    code: "驗證碼",
    confirm_button: "確認綁定",
    wrong_code: "驗證碼不正確,請輸入 App 目前顯示的驗證碼(並確認手機時間正確)。",
    pending_expired: "此註冊已逾時或已被新的註冊取代,請重新開始。",
    done: "綁定完成!之後登入 VPN 時,請在密碼後面接著輸入 App 顯示的驗證碼。",
    forbidden_heading: "無法處理此要求",
    forbidden: "表單已失效(安全性檢查失敗),請回到註冊頁重新操作。",
    session_expired: "閒置過久,請重新登入。",
    error_heading: "系統錯誤",
    error: "系統暫時無法處理,請稍後再試或洽資訊室。",
    outside_heading: "僅限院內網路",
    outside: "自助註冊只能在醫院內部網路使用。若您在院外,請洽資訊室寄送電子郵件註冊邀請。",
    invite_heading: "電子郵件註冊邀請",
    invite_used: "此邀請連結已使用過,無法再次使用。若需重新綁定,請洽資訊室。",
    invite_expired: "此邀請連結已過期。請洽資訊室重新寄送邀請。",
    invite_unknown: "此邀請連結無效,或已被較新的邀請取代。請使用最新一封邀請信中的連結。",
    invite_bound: "綁定完成!之後登入 VPN 時,請在密碼後面接著輸入 App 顯示的驗證碼。此邀請連結已失效。",
    invite_already_bound: "此帳號已綁定驗證器。若手機遺失或更換,請洽資訊室重設。",
    invite_pending_expired: "此畫面已逾時或已被新的畫面取代,請重新開啟邀請連結。",
    invite_account_disabled: "此帳號已停用,邀請連結無法使用。請洽資訊室。",
    invite_account_expired: "此帳號已過期,邀請連結無法使用。請洽資訊室。",
    account_outside_heading: "僅限院內網路",
    account_outside: "帳號啟用與忘記密碼只能在醫院內部網路使用,請洽資訊室。",
    activate_link: "第一次使用?啟用帳號",
    reset_link: "忘記密碼",
    activate_heading: "啟用帳號",
    activate_intro: "第一次使用(例如新進人員或實習生):先以簡訊或驗證器 App 確認身分,再設定您的密碼。",
    reset_heading: "忘記密碼",
    reset_intro: "先以簡訊或驗證器 App 確認身分,再設定新密碼。",
    next_button: "下一步",
    method_heading: "請選擇確認身分的方式",
    sms_heading: "以簡訊接收驗證碼",
    sms_intro: "請輸入此帳號登記的手機號碼(10 位數字)。",
    phone: "手機號碼",
    send_button: "傳送驗證碼",
    bad_phone: "請輸入手機號碼:09 開頭的 10 位數字。",
    app_heading: "以驗證器 App 的驗證碼",
    app_intro: "若此帳號已綁定驗證器 App,請輸入 App 目前顯示的驗證碼。",
    verify_button: "確認",
    code_sent: "若帳號與手機號碼相符,驗證碼已傳送至登記的手機,{minutes} 分鐘內有效。若未收到,請確認號碼後稍候一分鐘再重新申請,或洽資訊室。",
    sms_code_heading: "請輸入簡訊中的驗證碼",
    verify_failed: "驗證失敗:帳號或驗證碼不正確,或驗證碼已過期。",
    new_code_link: "重新申請驗證碼",
    password_heading: "設定密碼",
    password_intro: "至少 {min} 個字元,須同時包含英文字母與數字;不可與帳號相同,也不可與目前(或初始)密碼相同。",
    new_password: "新密碼",
    confirm_password: "再輸入一次",
    set_password_button: "設定密碼",
    passwords_differ: "兩次輸入的密碼不一致。",
    activated: "帳號已啟用!登入 VPN 時請使用新密碼,並在密碼後面接著輸入驗證器 App 的驗證碼。尚未綁定驗證器者,請至註冊頁綁定。",
    reset_done: "密碼已變更!登入 VPN 時請使用新密碼。此帳號在本網站的其他登入已全部登出。",
    use_reset: "此帳號已啟用。若忘記密碼,請使用「忘記密碼」。",
    use_activation: "此帳號尚未啟用,請先啟用帳號。",
    admin_locked: "此帳號已被資訊室鎖定,請洽資訊室。",
    flow_expired: "此步驟已逾時或已完成,請重新開始。",
    start_over: "重新開始",
    to_enroll: "前往驗證器註冊頁",
};

/// English.
pub(crate) static EN: Texts = Texts {
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
    rate_limited: "Too many attempts. Please wait a minute and try again.",
    logged_in_as: "Logged in as",
    logout: "Log out",
    bound_heading: "Authenticator registered",
    bound_since: "Registered",
    last_used: "Last used",
    never: "not yet",
    bound_replace: "One device per account. If your phone was lost or replaced, ask IT to reset it, then register again.",
    unbound_heading: "No authenticator registered",
    unbound_intro: "Install an authenticator app on your phone (e.g. Google Authenticator or Microsoft Authenticator), then press the button.",
    label: "Device name (optional)",
    start_button: "Register a software token",
    scan_heading: "Scan the QR code with your authenticator app",
    scan_intro: "In the app choose \"Add account\" → \"Scan a QR code\". This is shown only once and is valid for 10 minutes.",
    invite_scan_intro: "In the app choose \"Add account\" → \"Scan a QR code\". While the invitation link is valid, opening it again shows the same QR code; it stops working once bound.",
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
    invite_already_bound: "This account already has an authenticator. If your phone was lost or replaced, contact IT to reset it.",
    invite_pending_expired: "This page timed out or was replaced by a newer one. Open the invitation link again.",
    invite_account_disabled: "This account is disabled, so the invitation link cannot be used. Please contact IT.",
    invite_account_expired: "This account has expired, so the invitation link cannot be used. Please contact IT.",
    account_outside_heading: "Hospital network only",
    account_outside: "Account activation and password reset work only from the hospital network. Please contact IT.",
    activate_link: "First time? Activate your account",
    reset_link: "Forgot your password?",
    activate_heading: "Activate your account",
    activate_intro: "First use (e.g. new staff or interns): prove who you are by SMS or with your authenticator app, then choose your password.",
    reset_heading: "Forgotten password",
    reset_intro: "Prove who you are by SMS or with your authenticator app, then choose a new password.",
    next_button: "Next",
    method_heading: "How do you want to prove it is you?",
    sms_heading: "A code by SMS",
    sms_intro: "Type the mobile number registered for this account (10 digits).",
    phone: "Mobile number",
    send_button: "Send the code",
    bad_phone: "Type a mobile number: 10 digits starting with 09.",
    app_heading: "The code of your authenticator app",
    app_intro: "If an authenticator app is registered for this account, type the code it shows now.",
    verify_button: "Verify",
    code_sent: "If the account and the number match, a code has been sent to the registered number; it is valid for {minutes} minutes. If none arrives, check the number, wait a minute and ask again, or contact IT.",
    sms_code_heading: "Type the code from the SMS",
    verify_failed: "Verification failed: the account or the code is not correct, or the code has expired.",
    new_code_link: "Ask for a new code",
    password_heading: "Choose your password",
    password_intro: "At least {min} characters, with letters and digits; not your account ID, and not your current (or initial) password.",
    new_password: "New password",
    confirm_password: "Type it again",
    set_password_button: "Set the password",
    passwords_differ: "The two passwords are not the same.",
    activated: "Your account is active. At the VPN login use your new password followed by your authenticator app's code. No app registered yet? Register it on the registration page.",
    reset_done: "Your password has been changed. Use the new password at the VPN login. Every other session of this account on these pages was logged out.",
    use_reset: "This account is already active. If you forgot your password, use \"Forgot your password?\".",
    use_activation: "This account has not been activated yet. Please activate it first.",
    admin_locked: "This account was locked by IT. Please contact IT.",
    flow_expired: "This step has expired or was already completed. Please start again.",
    start_over: "Start again",
    to_enroll: "Go to the authenticator registration page",
};

/// The texts of `language`.
pub(crate) fn texts(language: Language) -> &'static Texts {
    match language {
        Language::ZhTw => &ZH_TW,
        Language::En => &EN,
    }
}

/// A language code as used in `?lang=` and the cookie.
pub(crate) fn parse_code(code: &str) -> Option<Language> {
    match code.trim().to_ascii_lowercase().as_str() {
        "en" => Some(Language::En),
        "zh-tw" | "zh" => Some(Language::ZhTw),
        _ => None,
    }
}

/// The preferred supported language of an `Accept-Language` header (Chinese of any script shows zh-TW).
pub(crate) fn from_accept_language(header: &str) -> Option<Language> {
    let mut best: Option<(u32, Language)> = None;
    for entry in header.split(',') {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        // Thousandths, so the comparison is on integers.
        let quality = (quality.clamp(0.0, 1.0) * 1000.0) as u32;
        let language = match tag.split('-').next() {
            Some("zh") => Language::ZhTw,
            Some("en") => Language::En,
            _ => continue,
        };
        if quality > 0 && best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, language));
        }
    }
    best.map(|(_, language)| language)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(from_accept_language("en-US,en;q=0.9"), Some(Language::En));
        assert_eq!(
            from_accept_language("fr, en;q=0.5, zh-TW;q=0.8"),
            Some(Language::ZhTw)
        );
        assert_eq!(from_accept_language("zh-Hant"), Some(Language::ZhTw));
        assert_eq!(from_accept_language("fr, de"), None);
        assert_eq!(from_accept_language("en;q=0"), None);
        assert_eq!(parse_code("zh-TW"), Some(Language::ZhTw));
        assert_eq!(parse_code("EN"), Some(Language::En));
        assert_eq!(parse_code("de"), None);
    }
}
