//! Account field rules: how an account ID, a mobile number, an e-mail address, a last day, a group list and the
//! identity on file are written, checked and normalised, wherever they come from (the CLI's options, the CSV
//! import, the web pages, the engine's lookups).
//!
//! Account IDs are compared case-insensitively, so they are stored in lower case. Mobile numbers are Taiwan
//! mobile numbers, normalised to ten digits (`0912345678`); `+886 912 345 678` and `0912-345-678` are accepted.
//! The identity (national ID number or birth date, see [`normalize_identity`]) is secret: it is normalised
//! here and hashed by the caller, never echoed in an error.
//! Pure: parsing and validation only, and the one state a list shows an account in ([`account_state`]).

/// A field that does not follow the rules, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// The column or option.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

/// A [`FieldError`].
pub(crate) fn field_error(field: &'static str, reason: impl Into<String>) -> FieldError {
    FieldError {
        field,
        reason: reason.into(),
    }
}

/// The end of an admin lock (`motpd user lock`): far enough in the future to mean "until an admin unlocks it".
/// A lock running until this time is never cleared by the owner's activation or password reset.
pub const ADMIN_LOCK_UNTIL: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z

/// Normalises and checks an account ID: 1–64 characters of letters, digits, `.`, `_`, `-`, `@`.
pub fn normalize_id(raw: &str) -> Result<String, FieldError> {
    let id = raw.trim().to_lowercase();
    if id.is_empty() || id.chars().count() > 64 {
        return Err(field_error("id", "must have 1 to 64 characters"));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
    {
        return Err(field_error(
            "id",
            format!("{raw:?} contains {bad:?}; use letters, digits, '.', '_', '-' or '@'"),
        ));
    }
    Ok(id)
}

/// The digits a search text stands for in a phone number (separators ignored, `+886` read as `0`), if it is a
/// number at all: the account searches of the CLI and the console match phones by this.
pub fn phone_search_digits(text: &str) -> Option<String> {
    let digits: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let digits = match digits.strip_prefix("+886") {
        Some(rest) => format!("0{rest}"),
        None => digits,
    };
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

/// Normalises a Taiwan mobile number to `09XXXXXXXX`.
pub fn normalize_phone(raw: &str) -> Result<String, FieldError> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '+'))
        .collect();
    let national = match digits.strip_prefix("886") {
        Some(rest) if raw.trim_start().starts_with('+') || digits.len() == 12 => format!("0{rest}"),
        _ => digits,
    };
    let ok = national.len() == 10
        && national.starts_with("09")
        && national.chars().all(|c| c.is_ascii_digit());
    if ok {
        Ok(national)
    } else {
        Err(field_error(
            "phone",
            format!(
                "{raw:?} is not a Taiwan mobile number (10 digits starting with 09, e.g. 0912345678)"
            ),
        ))
    }
}

/// Masks a number for display: `0912-***-678`.
pub fn mask_phone(phone: &str) -> String {
    match (phone.get(..4), phone.get(phone.len().saturating_sub(3)..)) {
        (Some(head), Some(tail)) if phone.len() == 10 => format!("{head}-***-{tail}"),
        _ => "***".to_owned(),
    }
}

/// Checks an e-mail address (shape only).
pub fn check_email(raw: &str) -> Result<String, FieldError> {
    let email = raw.trim();
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
    }) && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.len() <= 254;
    if valid {
        Ok(email.to_owned())
    } else {
        Err(field_error(
            "email",
            format!("{raw:?} is not an e-mail address"),
        ))
    }
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(raw: &str) -> Result<time::Date, FieldError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(raw.trim(), format).map_err(|_| {
        field_error(
            "expires",
            format!("{raw:?} is not a date; write it as YYYY-MM-DD"),
        )
    })
}

/// Normalises the identity the hospital holds for a person (a national ID number or a birth date), so that the
/// way it is typed does not matter: spaces removed; a date (`YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY.MM.DD` or
/// `YYYYMMDD`) in ISO form; anything else upper case, 4–32 letters and digits. The value is secret: the error
/// never repeats it.
pub fn normalize_identity(raw: &str) -> Result<String, FieldError> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if let Some(date) = identity_date(&compact) {
        return Ok(format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        ));
    }
    let upper = compact.to_ascii_uppercase();
    if !(4..=32).contains(&upper.len()) || !upper.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(field_error(
            "identity",
            "must be a national ID number (4 to 32 letters and digits) or a birth date (YYYY-MM-DD)",
        ));
    }
    Ok(upper)
}

/// A date in one of the forms [`normalize_identity`] accepts.
fn identity_date(compact: &str) -> Option<time::Date> {
    let parts: Vec<&str> = if compact.len() == 8 && compact.bytes().all(|b| b.is_ascii_digit()) {
        vec![compact.get(..4)?, compact.get(4..6)?, compact.get(6..)?]
    } else {
        compact.split(['-', '/', '.']).collect()
    };
    let [year, month, day] = parts.as_slice() else {
        return None;
    };
    if year.len() != 4 || !(1..=2).contains(&month.len()) || !(1..=2).contains(&day.len()) {
        return None;
    }
    let month = time::Month::try_from(month.parse::<u8>().ok()?).ok()?;
    time::Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()
}

/// Splits a group list (`a;b` or `a,b`), dropping empty entries and duplicates.
pub fn parse_groups(raw: &str) -> Result<Vec<String>, FieldError> {
    let mut groups: Vec<String> = Vec::new();
    for group in raw
        .split([';', ','])
        .map(str::trim)
        .filter(|g| !g.is_empty())
    {
        if group.len() > 128 || group.chars().any(char::is_control) {
            return Err(field_error(
                "groups",
                format!("{group:?} is not a valid group name"),
            ));
        }
        if !groups.iter().any(|g| g == group) {
            groups.push(group.to_owned());
        }
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_normalise_and_never_echo() {
        assert_eq!(normalize_identity(" a123 456 789 ").unwrap(), "A123456789");
        for date in ["1990-03-07", "1990/3/7", "1990.03.07", "19900307"] {
            assert_eq!(normalize_identity(date).unwrap(), "1990-03-07", "{date}");
        }
        assert!(normalize_identity("1990-02-30").is_err());
        assert!(normalize_identity("abc").is_err());
        let error = normalize_identity("A12345678-9!").unwrap_err().to_string();
        assert!(!error.contains("A12345678"), "{error}");
    }

    #[test]
    fn ids_phones_emails() {
        assert_eq!(normalize_id(" Nurse.Chen ").unwrap(), "nurse.chen");
        assert!(normalize_id("a b").is_err());
        assert!(normalize_id("").is_err());
        assert!(normalize_id(&"x".repeat(65)).is_err());
        for ok in [
            "0912345678",
            "0912-345-678",
            "+886 912 345 678",
            "886912345678",
        ] {
            assert_eq!(normalize_phone(ok).unwrap(), "0912345678", "{ok}");
        }
        for bad in ["912345678", "0212345678", "09123456789", "09123x5678", ""] {
            assert!(normalize_phone(bad).is_err(), "{bad}");
        }
        assert_eq!(mask_phone("0912345678"), "0912-***-678");
        assert!(check_email("chen@hospital.org.tw").is_ok());
        for bad in ["chen", "chen@", "@x.org", "a b@x.org", "a@x", "a@@x.org"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_groups("vpn; nurses;vpn,,").unwrap(),
            vec!["vpn", "nurses"]
        );
    }
}

/// The one state an account is shown in (`user list`, the enrollment report, the console).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// Locked (failed logins or `motpd user lock`).
    Locked,
    /// Switched off by an admin.
    Disabled,
    /// Past its last day.
    Expired,
    /// No password yet: waiting for activation.
    Pending,
    /// Usable.
    Active,
}

impl AccountState {
    /// `locked`, `disabled`, `expired`, `pending` or `active`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Locked => "locked",
            Self::Disabled => "disabled",
            Self::Expired => "expired",
            Self::Pending => "pending",
            Self::Active => "active",
        }
    }
}

/// The one state an account is shown in: a lock running at `now` first (it ends by itself or by `unlock`),
/// then an admin's `disabled`, then a last day before `today`, then the stored status (`pending` only where
/// motpd keeps the passwords: elsewhere there is nothing to activate).
pub fn account_state(
    account: &crate::model::Account,
    now: i64,
    today: time::Date,
    source: crate::config::PasswordSource,
) -> AccountState {
    use crate::model::AccountStatus;
    if account.locked_until.is_some_and(|until| until > now) {
        AccountState::Locked
    } else if account.status == AccountStatus::Disabled {
        AccountState::Disabled
    } else if account.expires_on.is_some_and(|last_day| last_day < today) {
        AccountState::Expired
    } else if account.status == AccountStatus::Pending && source.stores_passwords() {
        AccountState::Pending
    } else {
        AccountState::Active
    }
}
