//! What an audit row says, in words the service desk reads: a label for each audit kind (and, for a VPN
//! login, its outcome and refusal reason) and a word for each outcome, in zh-TW and English. A kind or
//! reason not listed here reads as its identifier, so a new kind is never hidden. Pure.

use crate::config::Language;

/// A label per language.
type Pair = (&'static str, &'static str);

/// The audit kinds people meet on the console, (English, zh-TW).
const KINDS: &[(&str, Pair)] = &[
    (
        "account.activate",
        ("Account activated on the web", "於網頁啟用帳號"),
    ),
    (
        "account.code_request",
        ("SMS code requested on the web", "於網頁申請簡訊驗證碼"),
    ),
    (
        "account.reset",
        ("Password reset on the web", "於網頁重設密碼"),
    ),
    (
        "account.verify",
        ("Identity proved on the web", "於網頁驗證身分"),
    ),
    (
        "account.sync",
        ("Changed by the directory sync", "由目錄同步變更"),
    ),
    ("account.sync.summary", ("Directory sync", "目錄同步")),
    (
        "admin.admin.add",
        ("Console admin added", "新增主控台管理員"),
    ),
    (
        "admin.admin.disable",
        ("Console admin disabled", "停用主控台管理員"),
    ),
    (
        "admin.admin.enable",
        ("Console admin enabled", "啟用主控台管理員"),
    ),
    (
        "admin.admin.remove",
        ("Console admin removed", "刪除主控台管理員"),
    ),
    (
        "admin.admin.reset",
        (
            "Console admin's device replaced",
            "更換主控台管理員的驗證裝置",
        ),
    ),
    (
        "admin.audit.verify",
        ("Audit trail verified", "驗證稽核紀錄"),
    ),
    (
        "admin.client.add",
        ("RADIUS client added", "新增 RADIUS 用戶端"),
    ),
    (
        "admin.client.remove",
        ("RADIUS client removed", "刪除 RADIUS 用戶端"),
    ),
    (
        "admin.client.set",
        ("RADIUS client changed", "變更 RADIUS 用戶端"),
    ),
    (
        "admin.device.bind",
        ("Device bound by IT", "由資訊人員綁定裝置"),
    ),
    ("admin.device.import", ("Devices imported", "匯入裝置")),
    ("admin.device.reset", ("Device reset", "重設裝置")),
    ("admin.init", ("Database created", "建立資料庫")),
    ("admin.invite", ("Invitation sent", "寄送邀請")),
    ("admin.restore", ("Database restored", "還原資料庫")),
    ("admin.user.add", ("Account created", "建立帳號")),
    (
        "admin.user.identity",
        ("Name or contact details changed", "變更姓名或聯絡資料"),
    ),
    ("admin.user.import", ("Accounts imported", "匯入帳號")),
    (
        "admin.user.lock",
        ("Account locked by IT", "由資訊人員鎖定帳號"),
    ),
    ("admin.user.remove", ("Account removed", "刪除帳號")),
    (
        "admin.user.reset-password",
        ("In-person reset code issued", "核發臨櫃密碼重設碼"),
    ),
    (
        "admin.user.set",
        ("Account setting changed", "變更帳號設定"),
    ),
    ("admin.user.unlock", ("Account unlocked", "解除帳號鎖定")),
    ("console.login", ("Console login", "主控台登入")),
    ("enroll.confirm", ("Device enrolled", "完成裝置註冊")),
    ("enroll.login", ("Enrollment page login", "註冊頁面登入")),
    ("enroll.start", ("Enrollment started", "開始註冊裝置")),
    ("invite.unlock", ("Invitation link opened", "開啟邀請連結")),
    ("phone.change", ("Phone changed", "完成更換手機")),
    (
        "phone.change_start",
        ("Phone change started", "開始更換手機"),
    ),
    ("secrets.rotate", ("Encryption key rotated", "更換加密金鑰")),
    ("sms.notice", ("SMS notice sent", "寄送簡訊通知")),
    ("sms.send", ("SMS code sent", "寄送簡訊驗證碼")),
];

/// Why a VPN login was refused ([`crate::engine::RejectReason::as_str`]), (English, zh-TW).
const REASONS: &[(&str, Pair)] = &[
    ("unknown_account", ("no such account", "帳號不存在")),
    ("bad_password", ("wrong password", "密碼錯誤")),
    ("bad_code", ("wrong code", "驗證碼錯誤")),
    ("replayed", ("code already used", "驗證碼已使用過")),
    ("locked", ("account locked", "帳號已鎖定")),
    ("disabled", ("account disabled", "帳號已停用")),
    ("not_activated", ("account not activated", "帳號尚未啟用")),
    ("expired", ("past its last day", "已過使用期限")),
    ("not_enrolled", ("no device bound", "尚未綁定裝置")),
    (
        "bad_state",
        (
            "answer to an unknown or expired challenge",
            "回覆的驗證要求無效或已逾時",
        ),
    ),
    ("malformed", ("incomplete request", "請求內容不完整")),
    (
        "sms_unavailable",
        ("SMS code unavailable", "無法使用簡訊驗證碼"),
    ),
    (
        "sms_paused",
        (
            "SMS paused after a password reset",
            "密碼重設後暫停使用簡訊驗證碼",
        ),
    ),
    (
        "no_password_source",
        ("no password to check against", "沒有可比對的密碼來源"),
    ),
];

/// The outcome words, (English, zh-TW).
const OUTCOMES: &[(&str, Pair)] = &[
    ("ok", ("done", "完成")),
    ("accept", ("accepted", "通過")),
    ("reject", ("refused", "拒絕")),
    ("challenge", ("code asked for", "要求輸入驗證碼")),
    ("refused", ("refused", "拒絕")),
    ("fail", ("failed", "失敗")),
    ("failed", ("failed", "失敗")),
    ("error", ("failed", "失敗")),
];

fn pick(language: Language, (en, zh): Pair) -> &'static str {
    match language {
        Language::En => en,
        Language::ZhTw => zh,
    }
}

fn find(table: &[(&str, Pair)], key: &str) -> Option<Pair> {
    table.iter().find(|(k, _)| *k == key).map(|(_, pair)| *pair)
}

/// The label of an audit row of `kind` with `outcome`; `detail` is its JSON detail (a VPN login's refusal
/// reason is read from it).
pub(crate) fn event_label(language: Language, kind: &str, outcome: &str, detail: &str) -> String {
    if kind == "radius.auth" {
        let login = match outcome {
            "accept" => pick(language, ("VPN login accepted", "VPN 登入成功")).to_owned(),
            "reject" => pick(language, ("VPN login refused", "VPN 登入被拒")).to_owned(),
            "challenge" => pick(
                language,
                ("VPN login: code asked for", "VPN 登入:要求輸入驗證碼"),
            )
            .to_owned(),
            other => format!("{} {other}", pick(language, ("VPN login", "VPN 登入"))),
        };
        let reason = serde_json::from_str::<serde_json::Value>(detail)
            .ok()
            .and_then(|d| d.get("reason").and_then(|r| r.as_str()).map(str::to_owned));
        return match reason {
            Some(reason) => {
                let why =
                    find(REASONS, &reason).map_or(reason.clone(), |p| pick(language, p).to_owned());
                let sep = pick(language, (": ", ":"));
                format!("{login}{sep}{why}")
            }
            None => login,
        };
    }
    find(KINDS, kind).map_or_else(|| kind.to_owned(), |pair| pick(language, pair).to_owned())
}

/// The word for an audit row's `outcome`.
pub(crate) fn outcome_label(language: Language, outcome: &str) -> String {
    find(OUTCOMES, outcome).map_or_else(
        || outcome.to_owned(),
        |pair| pick(language, pair).to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_vpn_login_reads_with_its_reason() {
        let detail = r#"{"calling_station_id":"10.0.0.9","reason":"bad_code","user":"alice"}"#;
        assert_eq!(
            event_label(Language::En, "radius.auth", "reject", detail),
            "VPN login refused: wrong code"
        );
        assert_eq!(
            event_label(Language::ZhTw, "radius.auth", "reject", detail),
            "VPN 登入被拒:驗證碼錯誤"
        );
        assert_eq!(
            event_label(Language::En, "radius.auth", "accept", "{}"),
            "VPN login accepted"
        );
    }

    #[test]
    fn unknown_kinds_reasons_and_outcomes_read_as_themselves() {
        assert_eq!(
            event_label(Language::ZhTw, "new.kind", "ok", "{}"),
            "new.kind"
        );
        let detail = r#"{"reason":"something_new"}"#;
        assert_eq!(
            event_label(Language::En, "radius.auth", "reject", detail),
            "VPN login refused: something_new"
        );
        assert_eq!(outcome_label(Language::En, "partial"), "partial");
        assert_eq!(
            event_label(Language::En, "radius.auth", "reject", "not json"),
            "VPN login refused"
        );
    }

    #[test]
    fn every_reject_reason_and_listed_kind_has_both_languages() {
        use crate::engine::RejectReason as R;
        for reason in [
            R::UnknownAccount,
            R::BadPassword,
            R::BadCode,
            R::Replayed,
            R::Locked,
            R::Disabled,
            R::NotActivated,
            R::Expired,
            R::NotEnrolled,
            R::BadState,
            R::Malformed,
            R::SmsUnavailable,
            R::SmsPaused,
            R::NoPasswordSource,
        ] {
            assert!(find(REASONS, reason.as_str()).is_some(), "{reason:?}");
        }
        for (kind, (en, zh)) in KINDS.iter().chain(REASONS).chain(OUTCOMES) {
            assert!(!en.is_empty() && !zh.is_empty(), "{kind}");
            assert!(!zh.is_ascii(), "{kind}: {zh}");
        }
    }
}
