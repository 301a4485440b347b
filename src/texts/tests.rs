//! Every key has a non-empty text in both languages; each language reads as itself; values reach the text.

use super::*;

const SIX: CodeShape = CodeShape { len: 6, hex: false };
const EIGHT: CodeShape = CodeShape { len: 8, hex: false };
const MOTP: CodeShape = CodeShape { len: 6, hex: true };

fn replies() -> Vec<Reply> {
    vec![
        Reply::LoginFailed("u".into()),
        Reply::BadCredentials,
        Reply::BadCode {
            shape: SIX,
            after_password: true,
        },
        Reply::BadCode {
            shape: SIX,
            after_password: false,
        },
        Reply::Replayed,
        Reply::Locked("10:42".into()),
        Reply::Disabled,
        Reply::NotActivated("u".into()),
        Reply::Expired("2026-01-01".into()),
        Reply::NotEnrolled("u".into()),
        Reply::RegisterReminder {
            date: "d".into(),
            url: "u".into(),
        },
        Reply::EnterCode(SIX),
        Reply::EnterNextCode,
        Reply::ChallengeExpired,
        Reply::Malformed,
        Reply::TemporaryFailure,
    ]
}

fn sms_texts() -> Vec<Sms<'static>> {
    vec![
        Sms::Code {
            code: "123456",
            ttl_seconds: 120,
        },
        Sms::RateLimited { next_at: "21:47" },
        Sms::GatewayFailed,
        Sms::Disabled,
        Sms::NoPhone,
        Sms::EnterCodeOrKeyword {
            keyword: "sms",
            shape: SMS_CODE,
        },
        Sms::KeywordOnly {
            keyword: "sms",
            url: "https://x/enroll",
        },
        Sms::PasswordThenKeyword {
            keyword: "sms",
            url: "https://x/enroll",
        },
        Sms::CodeSent {
            masked_phone: "0912-***-678",
            ttl_seconds: 120,
        },
        Sms::WrongCode { remaining: 3 },
        Sms::CodeUnusable,
        Sms::PasswordSet { activated: true },
        Sms::PasswordSet { activated: false },
        Sms::DeviceBound {
            account_id: "alice",
        },
    ]
}

const PHRASES: [Phrase; 4] = [
    Phrase::UntilItUnlocks,
    Phrase::RequestTimedOut,
    Phrase::RequestUnreadable,
    Phrase::RequestTooLarge,
];

fn mails() -> Vec<MailText<'static>> {
    let mut mails = vec![
        MailText::Invitation {
            name: "Alice",
            id: "alice",
            link: "https://x/invite/a",
            until: "2026-01-01 08:00",
            qr_content_id: Some("qr@x"),
        },
        MailText::Invitation {
            name: "Alice",
            id: "alice",
            link: "https://x/invite/a",
            until: "2026-01-01 08:00",
            qr_content_id: None,
        },
        MailText::PasswordSet {
            id: "alice",
            activated: true,
            pause_hours: 24,
        },
        MailText::PasswordSet {
            id: "alice",
            activated: false,
            pause_hours: 0,
        },
    ];
    for via in [
        BoundVia::SelfService,
        BoundVia::InvitationLink,
        BoundVia::MailedQrAtVpn,
        BoundVia::PhoneChange,
    ] {
        mails.push(MailText::DeviceBound {
            name: "Alice",
            id: "alice",
            when: "2026-01-01 08:00",
            via,
        });
    }
    mails
}

fn is_chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// Checks one key's two texts: non-empty, Chinese in Chinese, ASCII in English, different.
fn check(key: &str, zh: &str, en: &str) {
    assert!(!zh.trim().is_empty() && !en.trim().is_empty(), "{key}");
    assert!(is_chinese(zh), "{key}: {zh}");
    assert!(en.is_ascii(), "{key}: {en}");
    assert_ne!(zh, en, "{key}");
}

#[test]
fn every_key_has_both_languages() {
    let mut seen = std::collections::HashSet::new();
    for reply in replies() {
        let (zh, en) = (reply.text(Language::ZhTw), reply.text(Language::En));
        check(&format!("{reply:?}"), &zh, &en);
        assert!(
            seen.insert(zh) && seen.insert(en),
            "duplicate text for {reply:?}"
        );
    }
    for sms in sms_texts() {
        check(
            &format!("{sms:?}"),
            &sms.text(Language::ZhTw),
            &sms.text(Language::En),
        );
    }
    for phrase in PHRASES {
        check(
            &format!("{phrase:?}"),
            phrase.text(Language::ZhTw),
            phrase.text(Language::En),
        );
    }
    for rule in [
        PasswordRule::TooShort { min: 8 },
        PasswordRule::NeedsLettersAndDigits,
        PasswordRule::EqualsAccountId,
        PasswordRule::Unchanged,
    ] {
        check(
            &format!("{rule:?}"),
            &rule.text(Language::ZhTw),
            &rule.text(Language::En),
        );
    }
    for mail in mails() {
        let key = format!("{mail:?}");
        check(&key, zh_tw::mail_subject(&mail), en::mail_subject(&mail));
        check(&key, &zh_tw::mail_text(&mail), &en::mail_text(&mail));
        check(&key, &zh_tw::mail_html(&mail), &en::mail_html(&mail));
    }
    let (zh, en) = (web(Language::ZhTw), web(Language::En));
    for ((key, zh), (_, en)) in zh.strings().into_iter().zip(en.strings()) {
        assert!(!zh.trim().is_empty() && !en.trim().is_empty(), "{key}");
    }
    check("code_sent", &(zh.code_sent)(5), &(en.code_sent)(5));
    check(
        "password_intro",
        &(zh.password_intro)(8),
        &(en.password_intro)(8),
    );
}

#[test]
fn values_reach_the_text() {
    for language in LANGUAGES {
        assert!(
            Reply::Locked("10:42".into())
                .text(language)
                .contains("10:42")
        );
        let text = Reply::EnterCode(EIGHT).text(language);
        assert!(text.contains('8') && !text.contains('6'), "{text}");
        let text = Reply::BadCode {
            shape: EIGHT,
            after_password: false,
        }
        .text(language);
        assert!(text.contains('8') && !text.contains('6'), "{text}");
        assert!(!text.contains("密碼後面") && !text.contains("after your password"));
        assert!(Reply::EnterCode(MOTP).text(language).contains('a'));
        assert!((web(language).code_sent)(7).contains('7'));
        assert!((web(language).password_intro)(12).contains("12"));
    }
    let code = Sms::Code {
        code: "123456",
        ttl_seconds: 120,
    };
    assert_eq!(
        code.text(Language::ZhTw),
        "motpd 驗證碼 123456，2 分鐘內有效。請勿告訴任何人。"
    );
    let code = Sms::Code {
        code: "1",
        ttl_seconds: 90,
    };
    assert!(code.text(Language::En).contains("valid for 90 seconds"));
    let sent = Sms::CodeSent {
        masked_phone: "0912-***-678",
        ttl_seconds: 60,
    };
    assert!(
        sent.text(Language::En)
            .contains("0912-***-678, valid for 1 minute.")
    );
}

#[test]
fn bilingual_texts_put_chinese_first() {
    let sms = Sms::DeviceBound {
        account_id: "alice",
    }
    .bilingual();
    let (zh, en) = (sms.find("資訊室"), sms.find("Call IT"));
    assert!(zh.is_some() && zh < en, "{sms}");
    assert_eq!(
        Phrase::RequestTooLarge.bilingual_lines(),
        "要求內容過大。\nThe request is too large.\n"
    );
    let mail = MailText::DeviceBound {
        name: "A <b>",
        id: "alice",
        when: "1970-01-01 08:00",
        via: BoundVia::InvitationLink,
    }
    .render();
    assert_eq!(
        mail.subject,
        "VPN 驗證器已綁定 / A device was registered for your VPN account"
    );
    assert!(mail.text.starts_with("A <b> 您好") && mail.text.contains("\n\n----\n\nHello A <b>,"));
    assert!(mail.html.contains("A &lt;b&gt;") && !mail.html.contains("A <b>"));
    assert!(mail.html.find("lang=\"zh-Hant-TW\"") < mail.html.find("lang=\"en\""));
}

#[test]
fn html_escaping() {
    assert_eq!(
        escape_html("<a href=\"x\">&'"),
        "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
    );
}
