//! The helpdesk console's strings in zh-TW and English: one struct, one static per language (a field missing
//! in a language does not compile). The templates read them as `t.<field>`. Pure.

use crate::config::Language;

/// Declares [`ConsoleTexts`]: one `&'static str` per listed field.
macro_rules! console_texts {
    ($($field:ident,)*) => {
        /// The console's strings in one language.
        #[derive(Debug)]
        pub(crate) struct ConsoleTexts {
            $(pub(crate) $field: &'static str,)*
        }

        impl ConsoleTexts {
            /// Every string, named (for the completeness test).
            #[cfg(test)]
            fn strings(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($field), self.$field),)*]
            }
        }
    };
}

console_texts! {
    html_lang, title, other_language, other_code,
    login_heading, login_intro, admin_name, password, code, login_button, login_failed, logout, signed_in_as,
    role_helpdesk, role_admin,
    search_heading, search_label, search_hint, search_button, no_results, more_results,
    col_id, col_name, col_phone, col_status,
    account_heading, status_active, status_disabled, status_pending, device_kind, no_device, bound_at,
    last_used, failures, locked_until, not_locked, sms_setting, sms_default, sms_on, sms_off, expires,
    never_expires, never, audit_heading, col_time, col_kind, col_actor, col_outcome, col_detail, no_events,
    actions_heading, unlock_button, reset_button, confirm_unlock_heading, confirm_unlock_text,
    confirm_reset_heading, confirm_reset_text, reason, reason_hint, reason_required, confirm_button, cancel,
    unlocked, nothing_to_unlock, reset_done, no_device_to_reset,
    admins_heading, nav_search, nav_admins, col_role, col_state, col_last_login, state_locked, state_disabled,
    state_active,
    forbidden_heading, forbidden, role_forbidden, session_expired, not_found, error_heading, error, outside,
}

/// English.
pub(crate) static CONSOLE_EN: ConsoleTexts = ConsoleTexts {
    html_lang: "en",
    title: "Helpdesk console",
    other_language: "中文",
    other_code: "zh-TW",
    login_heading: "Console login",
    login_intro: "Your admin name, your password and the code of your authenticator app: all three are required.",
    admin_name: "Admin name",
    password: "Password",
    code: "Code from the app",
    login_button: "Log in",
    login_failed: "Login failed. Check the name, password and code; after several failures the login is \
                   locked for a while.",
    logout: "Log out",
    signed_in_as: "Signed in as",
    role_helpdesk: "helpdesk",
    role_admin: "admin",
    search_heading: "Find an account",
    search_label: "Account ID, name or phone",
    search_hint: "Part of it is enough.",
    search_button: "Search",
    no_results: "No account matches.",
    more_results: "More accounts match than are shown: type more of the ID, name or phone.",
    col_id: "Account ID",
    col_name: "Name",
    col_phone: "Phone",
    col_status: "Status",
    account_heading: "Account",
    status_active: "active",
    status_disabled: "disabled",
    status_pending: "not activated",
    device_kind: "Device",
    no_device: "none bound",
    bound_at: "Bound",
    last_used: "Last used",
    failures: "Failed logins",
    locked_until: "Locked until",
    not_locked: "not locked",
    sms_setting: "SMS fallback",
    sms_default: "site default",
    sms_on: "on",
    sms_off: "off",
    expires: "Expires",
    never_expires: "never",
    never: "never",
    audit_heading: "Last 50 events",
    col_time: "Time",
    col_kind: "Event",
    col_actor: "By",
    col_outcome: "Outcome",
    col_detail: "Detail",
    no_events: "No events yet.",
    actions_heading: "Actions",
    unlock_button: "Unlock…",
    reset_button: "Reset device (lost phone)…",
    confirm_unlock_heading: "Unlock this account?",
    confirm_unlock_text: "The lock and the failed-login counter are cleared; the person can log in again at once.",
    confirm_reset_heading: "Reset this account's device?",
    confirm_reset_text: "The bound authenticator stops working now. The person's VPN logins fail until they \
                         register a new phone.",
    reason: "Reason (recorded in the audit trail)",
    reason_hint: "e.g. ticket number, caller verified by employee ID",
    reason_required: "Give a reason.",
    confirm_button: "Confirm",
    cancel: "Cancel",
    unlocked: "Unlocked.",
    nothing_to_unlock: "The account was not locked and had no failures; nothing changed.",
    reset_done: "The device was reset; the person can now register a new phone.",
    no_device_to_reset: "The account has no device; nothing changed.",
    admins_heading: "Console admins",
    nav_search: "Accounts",
    nav_admins: "Admins",
    col_role: "Role",
    col_state: "State",
    col_last_login: "Last login",
    state_locked: "locked",
    state_disabled: "disabled",
    state_active: "active",
    forbidden_heading: "Refused",
    forbidden: "This form is no longer valid. Go back, reload the page and try again.",
    role_forbidden: "Your role does not include this page.",
    session_expired: "Your session ended (idle too long). Log in again.",
    not_found: "No such account.",
    error_heading: "Something went wrong",
    error: "The action could not be completed. Try again; if it keeps failing, tell the system administrator.",
    outside: "The helpdesk console is not available from this network.",
};

/// Traditional Chinese (Taiwan).
pub(crate) static CONSOLE_ZH_TW: ConsoleTexts = ConsoleTexts {
    html_lang: "zh-Hant-TW",
    title: "服務台管理主控台",
    other_language: "English",
    other_code: "en",
    login_heading: "主控台登入",
    login_intro: "請輸入管理者名稱、密碼與驗證器 App 上的驗證碼,三者皆必填。",
    admin_name: "管理者名稱",
    password: "密碼",
    code: "App 驗證碼",
    login_button: "登入",
    login_failed: "登入失敗。請確認名稱、密碼與驗證碼;多次失敗後將暫時鎖定登入。",
    logout: "登出",
    signed_in_as: "目前登入",
    role_helpdesk: "服務台",
    role_admin: "管理員",
    search_heading: "查詢帳號",
    search_label: "帳號、姓名或手機號碼",
    search_hint: "輸入部分即可。",
    search_button: "查詢",
    no_results: "查無符合的帳號。",
    more_results: "符合的帳號多於顯示筆數,請輸入更完整的帳號、姓名或手機號碼。",
    col_id: "帳號",
    col_name: "姓名",
    col_phone: "手機",
    col_status: "狀態",
    account_heading: "帳號",
    status_active: "啟用中",
    status_disabled: "已停用",
    status_pending: "尚未啟用",
    device_kind: "驗證器",
    no_device: "未綁定",
    bound_at: "綁定時間",
    last_used: "最後使用",
    failures: "登入失敗次數",
    locked_until: "鎖定至",
    not_locked: "未鎖定",
    sms_setting: "簡訊備援",
    sms_default: "依系統預設",
    sms_on: "開啟",
    sms_off: "關閉",
    expires: "到期日",
    never_expires: "無",
    never: "從未",
    audit_heading: "最近 50 筆紀錄",
    col_time: "時間",
    col_kind: "事件",
    col_actor: "操作者",
    col_outcome: "結果",
    col_detail: "細節",
    no_events: "尚無紀錄。",
    actions_heading: "操作",
    unlock_button: "解除鎖定…",
    reset_button: "重設驗證器(手機遺失)…",
    confirm_unlock_heading: "確定解除此帳號的鎖定?",
    confirm_unlock_text: "將清除鎖定與登入失敗次數,使用者可立即再登入。",
    confirm_reset_heading: "確定重設此帳號的驗證器?",
    confirm_reset_text: "已綁定的驗證器將立即失效,使用者需重新註冊新手機後才能登入 VPN。",
    reason: "原因(記錄於稽核軌跡)",
    reason_hint: "例如:工單編號、已以員工編號核對來電者",
    reason_required: "請填寫原因。",
    confirm_button: "確認",
    cancel: "取消",
    unlocked: "已解除鎖定。",
    nothing_to_unlock: "此帳號未鎖定且無失敗紀錄,未做任何變更。",
    reset_done: "驗證器已重設,使用者現在可以註冊新手機。",
    no_device_to_reset: "此帳號沒有驗證器,未做任何變更。",
    admins_heading: "主控台管理者",
    nav_search: "帳號",
    nav_admins: "管理者",
    col_role: "角色",
    col_state: "狀態",
    col_last_login: "最後登入",
    state_locked: "已鎖定",
    state_disabled: "已停用",
    state_active: "正常",
    forbidden_heading: "已拒絕",
    forbidden: "此表單已失效。請返回、重新整理頁面後再試一次。",
    role_forbidden: "您的角色無權使用此頁面。",
    session_expired: "閒置過久,工作階段已結束。請重新登入。",
    not_found: "查無此帳號。",
    error_heading: "發生錯誤",
    error: "無法完成此操作。請再試一次;若持續失敗,請通知系統管理員。",
    outside: "此網路無法使用服務台管理主控台。",
};

/// The console's strings in `language`.
pub(crate) fn console(language: Language) -> &'static ConsoleTexts {
    match language {
        Language::ZhTw => &CONSOLE_ZH_TW,
        Language::En => &CONSOLE_EN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_exists_in_both_languages() {
        for (name, text) in CONSOLE_EN
            .strings()
            .into_iter()
            .chain(CONSOLE_ZH_TW.strings())
        {
            assert!(!text.trim().is_empty(), "{name} is empty");
        }
        let zh = CONSOLE_ZH_TW.strings();
        for ((name, en), (_, zh)) in CONSOLE_EN.strings().into_iter().zip(zh) {
            if !matches!(name, "html_lang" | "other_code" | "other_language") {
                assert_ne!(en, zh, "{name} is not translated");
            }
        }
    }
}
