//! Traditional Chinese (Taiwan): every text of the catalogue (see [`super`] for the keys).

use super::{
    BoundVia, CodeShape, LINK_STYLE, MailText, PasswordRule, Phrase, Reply, Sms, WebTexts,
};

/// `6 位數動態密碼` / `6 碼動態密碼（數字及英文字母 a–f）`.
fn code_shape(shape: CodeShape) -> String {
    if shape.hex {
        format!("{} 碼動態密碼（數字及英文字母 a–f）", shape.len)
    } else {
        format!("{} 位數動態密碼", shape.len)
    }
}

/// `2 分鐘` (or seconds when the time is not whole minutes).
fn duration(seconds: i64) -> String {
    if seconds % 60 == 0 {
        format!("{} 分鐘", seconds / 60)
    } else {
        format!("{seconds} 秒")
    }
}

pub(super) fn reply(reply: &Reply) -> String {
    match reply {
        Reply::LoginFailed(base) => format!(
            "登入失敗，請確認帳號、密碼及動態密碼後再試。第一次使用請先至 {base}/account/activate 啟用帳號、至 \
             {base}/enroll 註冊 MOTP；仍無法登入請聯絡資訊室。"
        ),
        Reply::LoginFailedNoActivation(base) => format!(
            "登入失敗，請確認帳號、密碼及動態密碼後再試。第一次使用請先至 {base}/enroll 註冊 MOTP；仍無法登入請聯絡資訊室。"
        ),
        Reply::BadCredentials => "帳號、密碼或動態密碼錯誤，請重新輸入。".into(),
        Reply::BadCode {
            shape,
            after_password: true,
        } => format!(
            "動態密碼錯誤：請輸入手機 App 目前顯示的{}（密碼後面直接接動態密碼）。",
            code_shape(*shape)
        ),
        Reply::BadCode {
            shape,
            after_password: false,
        } => format!(
            "動態密碼錯誤：請輸入手機 App 目前顯示的{}。",
            code_shape(*shape)
        ),
        Reply::Replayed => "此動態密碼已使用過，請等候 App 顯示下一組密碼再登入。".into(),
        Reply::Locked(until) => {
            format!("登入失敗次數過多，帳號已暫時鎖定至 {until}，請稍後再試或聯絡資訊室。")
        }
        Reply::Disabled => "帳號已停用，請聯絡資訊室。".into(),
        Reply::NotActivated(url) => format!("帳號尚未啟用，請先至 {url} 完成帳號啟用。"),
        Reply::Expired(date) => format!("帳號已於 {date} 到期，如需延長請聯絡資訊室。"),
        Reply::NotEnrolled(url) => format!(
            "尚未註冊 MOTP 動態密碼裝置，無法登入 VPN。請於院內網路至 {url} 註冊，院外請聯絡資訊室寄送註冊信。"
        ),
        Reply::RegisterReminder { date, url } => {
            format!("提醒：請於 {date} 前至 {url} 註冊 MOTP 動態密碼，逾期將無法登入 VPN。")
        }
        Reply::EnterCode(shape) => format!("請輸入手機 App 上的{}。", code_shape(*shape)),
        Reply::EnterNextCode => {
            "動態密碼不同步：請在 App 產生下一組密碼後輸入，以重新同步。".into()
        }
        Reply::ChallengeExpired => "登入逾時或驗證已使用，請重新登入。".into(),
        Reply::Malformed => "登入資料不完整，請重新登入。".into(),
        Reply::TemporaryFailure => "系統暫時無法驗證，請稍後再試。".into(),
    }
}

pub(super) fn sms(sms: &Sms<'_>) -> String {
    match *sms {
        Sms::Code { code, ttl_seconds } => format!(
            "motpd 驗證碼 {code}，{}內有效。請勿告訴任何人。",
            duration(ttl_seconds)
        ),
        Sms::RateLimited { next_at } => format!("簡訊驗證碼發送太頻繁，請於 {next_at} 後再試。"),
        Sms::GatewayFailed => "簡訊暫時無法發送，請稍後再試或聯絡資訊室。".into(),
        Sms::Disabled => "此帳號無法使用簡訊驗證碼，請使用手機 App 或聯絡資訊室。".into(),
        Sms::NoPhone => "帳號未登錄手機號碼，無法發送簡訊驗證碼，請聯絡資訊室。".into(),
        Sms::EnterCodeOrKeyword { keyword, shape } => format!(
            "請輸入手機 App 上的{}；沒有 App 時請輸入 {keyword} 以簡訊取得驗證碼。",
            code_shape(shape)
        ),
        Sms::KeywordOnly { keyword, url } => format!(
            "尚未註冊 MOTP 動態密碼裝置：請輸入 {keyword} 以簡訊取得驗證碼，並儘快於院內網路至 {url} 註冊。"
        ),
        Sms::PasswordThenKeyword { keyword, url } => format!(
            "尚未註冊 MOTP 動態密碼裝置：請在密碼後面直接輸入 {keyword}（例如 密碼{keyword}）以簡訊取得驗證碼，\
             並儘快於院內網路至 {url} 註冊。"
        ),
        Sms::CodeSent {
            masked_phone,
            ttl_seconds,
        } => format!(
            "驗證碼已以簡訊傳送至 {masked_phone}，{}內有效，請輸入 6 位數驗證碼。",
            duration(ttl_seconds)
        ),
        Sms::WrongCode { remaining } => {
            format!("簡訊驗證碼錯誤，還可再試 {remaining} 次，請重新輸入。")
        }
        Sms::CodeUnusable => {
            "簡訊驗證碼已失效（逾時、已使用或錯誤次數過多），請重新登入以取得新的驗證碼。".into()
        }
        Sms::PasswordSet { activated: true } => {
            "motpd：您的 VPN 帳號已啟用並設定密碼。若非本人操作，請立即聯絡資訊室。".into()
        }
        Sms::PasswordSet { activated: false } => {
            "motpd：您的 VPN 帳號密碼已變更。若非本人操作，請立即聯絡資訊室。".into()
        }
        Sms::DeviceBound { account_id } => {
            format!("VPN 帳號 {account_id} 已綁定新的驗證器裝置，若非本人操作請立即聯絡資訊室。")
        }
    }
}

pub(super) fn phrase(phrase: Phrase) -> &'static str {
    match phrase {
        Phrase::UntilItUnlocks => "資訊室解除鎖定為止",
        Phrase::RequestTimedOut => "要求逾時,請重新整理頁面後再試一次。",
        Phrase::RequestUnreadable => "無法讀取要求內容,請再試一次。",
        Phrase::RequestTooLarge => "要求內容過大。",
    }
}

pub(super) fn password_rule(rule: PasswordRule) -> String {
    match rule {
        PasswordRule::TooShort { min } => format!("密碼長度至少需 {min} 個字元"),
        PasswordRule::NeedsLettersAndDigits => "密碼必須同時包含英文字母與數字".into(),
        PasswordRule::EqualsAccountId => "密碼不可與帳號相同".into(),
        PasswordRule::Unchanged => "新密碼不可與舊密碼相同".into(),
    }
}

pub(super) fn mail_subject(mail: &MailText<'_>) -> &'static str {
    match mail {
        MailText::Invitation { .. } => "VPN 驗證器綁定邀請",
        MailText::DeviceBound { .. } => "VPN 驗證器已綁定",
        MailText::PasswordSet {
            activated: true, ..
        } => "VPN 帳號已啟用",
        MailText::PasswordSet {
            activated: false, ..
        } => "VPN 密碼已變更",
    }
}

/// On the phone to be bound a QR code cannot be scanned: the link's page adds the token with a tap.
const ON_THE_PHONE: &str = "若您正在要綁定的手機上讀這封信：開啟上方連結並輸入密碼，頁面上有「直接加入驗證器 App」的連結，\
                            不必掃描。";

fn bound_via(via: BoundVia) -> &'static str {
    match via {
        BoundVia::SelfService => "在醫院內部網路的自助註冊頁面",
        BoundVia::InvitationLink => "透過電子郵件邀請連結",
        BoundVia::MailedQrAtVpn => "透過邀請信中的 QR 碼，於第一次登入 VPN 時",
        BoundVia::PhoneChange => {
            "在自助註冊頁面以密碼與舊手機的驗證碼，由舊手機移轉（舊手機的驗證碼已失效），"
        }
    }
}

fn password_set(activated: bool, pause_hours: u32) -> String {
    let what = if activated {
        "您的 VPN 帳號已啟用並設定了密碼。"
    } else {
        "您的 VPN 密碼已變更。"
    };
    if pause_hours > 0 {
        format!("{what}為安全起見，接下來 {pause_hours} 小時內無法以簡訊驗證碼登入 VPN。")
    } else {
        what.to_owned()
    }
}

const NOT_YOU: &str = "若非本人操作，請立即聯絡資訊室。";

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
                "\n此信的 HTML 版本附有可直接掃描的 QR 碼；若您的郵件程式只顯示純文字，請開啟上方連結掃描。\n"
            } else {
                ""
            };
            format!(
                "{name} 您好：\n\n請在手機上安裝驗證器 App（例如 Google Authenticator 或 Microsoft Authenticator），\
                 再開啟下列連結，掃描 QR 碼並輸入 App 顯示的 6 位數驗證碼，完成 VPN 雙因素驗證裝置的綁定（帳號 {id}）。\
                 \n\n{link}\n{qr}\n{ON_THE_PHONE}\n\n此連結只能使用一次，有效至 {until}。若非您本人申請，請忽略此信並\
                 通知資訊室。"
            )
        }
        MailText::DeviceBound {
            name,
            id,
            when,
            via,
        } => format!(
            "{name} 您好：\n\n您的 VPN 帳號 {id} 已於 {when} {}綁定了一台驗證器裝置。\n\n若這是您本人操作，不需要做任何事。\
             若不是您本人，請立即致電資訊室服務台：可能有人取得了您的密碼與電子郵件。",
            bound_via(via)
        ),
        MailText::PasswordSet {
            id,
            activated,
            pause_hours,
        } => format!(
            "帳號 {id}\n\n{}\n{NOT_YOU}",
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
            let qr = match qr_content_id {
                Some(cid) => format!(
                    "<p>您也可以直接用驗證器 App 掃描下方的 QR 碼：第一次在上方連結的頁面輸入驗證碼，或第一次以\
                     「密碼加驗證碼」登入 VPN 時，即完成綁定（{until} 前有效）。</p><p><img src=\"cid:{cid}\" \
                     alt=\"QR 碼\" width=\"250\" height=\"250\"></p><p>{ON_THE_PHONE}</p><p><strong>此 QR 碼就是\
                     您的第二道驗證：請勿轉寄此信，綁定完成後請刪除此信。</strong></p>"
                ),
                None => format!("<p>{ON_THE_PHONE}</p>"),
            };
            format!(
                "<p>{name} 您好：</p><p>請在手機上安裝驗證器 App（例如 Google Authenticator 或 Microsoft \
                 Authenticator），再開啟下列連結，掃描 QR 碼並輸入 App 顯示的 6 位數驗證碼，完成 VPN 雙因素驗證裝置的\
                 綁定（帳號 {id}）。</p><p><a href=\"{link}\" style=\"{LINK_STYLE}\">{link}</a></p>{qr}\
                 <p>此連結只能使用一次，有效至 {until}。若非您本人申請，請忽略此信並通知資訊室。</p>"
            )
        }
        MailText::DeviceBound {
            name,
            id,
            when,
            via,
        } => format!(
            "<p>{name} 您好：</p><p>您的 VPN 帳號 {id} 已於 {when} {}綁定了一台驗證器裝置。</p><p><strong>若不是您本人，\
             請立即致電資訊室服務台</strong>：可能有人取得了您的密碼與電子郵件。若這是您本人操作，不需要做任何事。</p>",
            bound_via(via)
        ),
        MailText::PasswordSet {
            id,
            activated,
            pause_hours,
        } => format!(
            "<p>帳號 {id}</p><p>{}</p><p><strong>{NOT_YOU}</strong></p>",
            password_set(activated, pause_hours)
        ),
    }
}

/// The web page strings.
pub(crate) static WEB: WebTexts = WebTexts {
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
    no_password_check: "本系統不驗證密碼,無法在此自助註冊驗證器,請洽資訊服務台寄送邀請。",
    rate_limited: "嘗試次數過多,請稍候一分鐘再試。",
    logged_in_as: "已登入:",
    logout: "登出",
    bound_heading: "已綁定驗證器",
    bound_since: "綁定時間",
    last_used: "最後使用",
    never: "尚未使用",
    bound_replace: "每個帳號只能綁定一個裝置。若手機遺失,請洽資訊室重設後再註冊。",
    change_heading: "更換手機?",
    change_intro: "您可以自行將驗證器移轉到新手機:請輸入密碼與目前(舊)手機顯示的驗證碼,再用新手機掃描新的 QR 碼並輸入新手機的驗證碼,完成後舊手機才會失效。手機遺失請洽資訊室重設。",
    old_code: "舊手機的驗證碼",
    change_button: "移轉到新手機",
    change_refused: "密碼或舊手機的驗證碼不正確,或該驗證碼已使用過。請等下一組驗證碼再試。",
    change_scan_intro: "請用「新手機」的驗證器 App 掃描此 QR 碼,再輸入新手機顯示的驗證碼。完成前舊手機仍可使用。10 分鐘內有效。",
    change_done: "移轉完成!新手機已綁定,舊手機的驗證碼已失效。若醫院登記有您的電子郵件或手機號碼,也會寄送通知。",
    change_superseded: "無法完成更換手機:已綁定的裝置在此期間已被變更或重設。這次操作沒有變更任何設定。",
    unbound_heading: "尚未綁定驗證器",
    unbound_intro: "請在手機安裝驗證器 App(例如 Google Authenticator 或 Microsoft Authenticator),再按下方按鈕。",
    label: "裝置名稱(選填)",
    start_button: "註冊軟體憑證",
    scan_heading: "以驗證器 App 掃描 QR 碼",
    scan_intro: "在 App 中選擇「新增帳戶」→「掃描 QR 碼」。此畫面只顯示一次,10 分鐘內有效。",
    invite_scan_intro: "在 App 中選擇「新增帳戶」→「掃描 QR 碼」。邀請連結有效期間內,重新開啟連結會顯示同一個 QR 碼;綁定後即失效。",
    tap_to_add: "正在要綁定的手機上看這個畫面?點這裡直接加入驗證器 App",
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
    done_otp_only: "綁定完成!之後登入 VPN 時,請在第一欄輸入密碼,第二欄輸入 App 顯示的驗證碼。",
    done_challenge: "綁定完成!之後登入 VPN 時,先輸入密碼;畫面要求驗證碼時,再輸入 App 顯示的驗證碼。",
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
    invite_bound_otp_only: "綁定完成!之後登入 VPN 時,請在第一欄輸入密碼,第二欄輸入 App 顯示的驗證碼。此邀請連結已失效。",
    invite_bound_challenge: "綁定完成!之後登入 VPN 時,先輸入密碼;畫面要求驗證碼時,再輸入 App 顯示的驗證碼。此邀請連結已失效。",
    invite_already_bound: "此帳號已綁定驗證器。若手機遺失或更換,請洽資訊室重設。",
    invite_pending_expired: "此畫面已逾時或已被新的畫面取代,請重新開啟邀請連結。",
    invite_account_disabled: "此帳號已停用,邀請連結無法使用。請洽資訊室。",
    invite_account_expired: "此帳號已過期,邀請連結無法使用。請洽資訊室。",
    invite_password_heading: "先確認是您本人",
    invite_password_intro: "此邀請連結只能為下列帳號綁定驗證器。請輸入此帳號的密碼,才會顯示 QR 碼:",
    invite_password_not_you: "若這不是您的帳號,請勿繼續,並通知資訊室。",
    invite_unlock_button: "繼續",
    invite_activate_first: "此帳號尚未啟用。請先在醫院內部網路的電腦上「啟用帳號」設定密碼,再於邀請連結有效期間內重新開啟同一個連結。",
    account_outside_heading: "僅限院內網路",
    account_outside: "帳號啟用與忘記密碼只能在醫院內部網路使用,請洽資訊室。",
    activate_link: "第一次使用?啟用帳號",
    reset_link: "忘記密碼",
    activate_heading: "啟用帳號",
    activate_intro: "第一次使用(例如新進人員或實習生):先以兩種方式確認身分(簡訊或驗證器 App 的驗證碼,加上身分證字號或出生日期;或資訊室核發的一次性代碼),再設定您的密碼。",
    reset_heading: "忘記密碼",
    reset_intro: "先以兩種方式確認身分(簡訊或驗證器 App 的驗證碼,加上身分證字號或出生日期;或資訊室核發的一次性代碼),再設定新密碼。",
    next_button: "下一步",
    method_heading: "請選擇確認身分的方式:驗證碼(簡訊或 App)須同時輸入醫院登錄的身分證字號或出生日期。",
    sms_heading: "以簡訊接收驗證碼",
    sms_intro: "請輸入此帳號登記的手機號碼(10 位數字)。",
    phone: "手機號碼",
    send_button: "傳送驗證碼",
    bad_phone: "請輸入手機號碼:09 開頭的 10 位數字。",
    app_heading: "以驗證器 App 的驗證碼",
    app_intro: "若此帳號已綁定驗證器 App,請輸入 App 目前顯示的驗證碼。",
    verify_button: "確認",
    sms_code_heading: "請輸入簡訊中的驗證碼",
    verify_failed: "驗證失敗:帳號、驗證碼或身分資料不正確,或驗證碼已過期。若醫院沒有您的身分資料,請攜帶識別證至資訊室取得一次性代碼。",
    identity: "身分證字號或出生日期",
    identity_hint: "醫院登錄的身分證字號(例如 A123456789)或出生日期(例如 1990-03-07)。",
    helpdesk_heading: "資訊室核發的一次性代碼",
    helpdesk_intro: "醫院沒有您的身分資料,或無法使用簡訊與 App 時:請攜帶識別證親至資訊室,核對身分後會給您一組一次性代碼(24 小時內有效,只能使用一次)。",
    helpdesk_code: "一次性代碼",
    new_code_link: "重新申請驗證碼",
    password_heading: "設定密碼",
    new_password: "新密碼",
    confirm_password: "再輸入一次",
    set_password_button: "設定密碼",
    passwords_differ: "兩次輸入的密碼不一致。",
    activated: "帳號已啟用!登入 VPN 時請使用新密碼,並在密碼後面接著輸入驗證器 App 的驗證碼。尚未綁定驗證器者,請至註冊頁綁定。簡訊登入 VPN 將暫停一段時間;登記的電子郵件與手機也會收到通知。",
    reset_done: "密碼已變更!登入 VPN 時請使用新密碼。此帳號在本網站的其他登入已全部登出。為安全起見,簡訊登入 VPN 將暫停一段時間;登記的電子郵件與手機也會收到通知。",
    directory_password: "您的密碼即醫院網路帳號的密碼,本系統不保存密碼,因此無法在此啟用帳號或重設密碼。請使用醫院的密碼服務,或洽資訊服務台。",
    directory_password_at: "變更或重設密碼請至:",
    use_reset: "此帳號已啟用。若忘記密碼,請使用「忘記密碼」。",
    use_activation: "此帳號尚未啟用,請先啟用帳號。",
    admin_locked: "此帳號已被資訊室鎖定,請洽資訊室。",
    flow_expired: "此步驟已逾時或已完成,請重新開始。",
    start_over: "重新開始",
    to_enroll: "前往驗證器註冊頁",
    code_sent: |minutes| {
        format!(
            "若帳號與手機號碼相符,驗證碼已傳送至登記的手機,{minutes} 分鐘內有效。若未收到,請確認號碼後稍候一分鐘再重新\
             申請,或洽資訊室。"
        )
    },
    password_intro: |min| {
        format!(
            "至少 {min} 個字元,須同時包含英文字母與數字;不可與帳號相同,也不可與目前(或初始)密碼相同。"
        )
    },
};
