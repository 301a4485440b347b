//! The small enums of the configuration, their serde forms, and the semantic checks of [`super::Config`].

use serde::{Deserialize, Serialize};

use super::{Config, Problem};

/// How a RADIUS client's users prove themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthMode {
    /// User-Password is the account password followed by the code.
    #[serde(rename = "password+otp")]
    PasswordOtp,
    /// User-Password is the code alone (NetScaler checks the password against LDAP itself).
    #[serde(rename = "otp-only")]
    OtpOnly,
    /// Password first, then an Access-Challenge asks for the code.
    #[serde(rename = "challenge")]
    Challenge,
}

impl AuthMode {
    /// The config and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordOtp => "password+otp",
            Self::OtpOnly => "otp-only",
            Self::Challenge => "challenge",
        }
    }

    /// Parses a config or database name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "password+otp" => Some(Self::PasswordOtp),
            "otp-only" => Some(Self::OtpOnly),
            "challenge" => Some(Self::Challenge),
            _ => None,
        }
    }
}

/// A language of texts people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Language {
    /// Traditional Chinese (Taiwan).
    #[serde(rename = "zh-TW")]
    ZhTw,
    /// English.
    #[serde(rename = "en")]
    En,
}

/// What a request gets when the database fails (never an Accept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreErrorAction {
    /// No reply: NetScaler retries and fails over to another server.
    Drop,
    /// An Access-Reject.
    Reject,
}

/// Which SMS sender is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    /// SMS switched off.
    None,
    /// Development only: codes are written to the log.
    Log,
    /// An HTTP gateway.
    Http,
}

/// The HTTP method of SMS gateway requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SmsMethod {
    /// The template is the request body.
    Post,
    /// The template is the request body.
    Put,
    /// The rendered (form) template is the query string; no body.
    Get,
}

impl SmsMethod {
    /// The HTTP method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Get => "GET",
        }
    }
}

/// How an SMS gateway body template is filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsBodyType {
    /// `application/x-www-form-urlencoded`: values are percent-encoded.
    Form,
    /// `application/json`: values are escaped as JSON string contents.
    Json,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain (a relay on the same host or a trusted network).
    None,
    /// STARTTLS upgrade (port 587).
    Starttls,
    /// TLS from the start (port 465).
    Tls,
}

/// The scheduling priority of the password-hashing threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashingPriority {
    /// Linux `SCHED_IDLE`: hashing gets a core only while the packet loop does not want it.
    #[default]
    Idle,
    /// The same priority as the rest of the process (for machines that run other busy work).
    Normal,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// One JSON object per line.
    Json,
}

/// Where an Access-Accept carries the account's groups (NetScaler "group extraction").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupAttribute {
    /// `vendor` (a Vendor-Specific attribute), `class`, `filter-id`, or `none`.
    pub attribute: String,
    /// Vendor ID for `vendor` (NetScaler: "Group Vendor Identifier").
    pub vendor_id: u32,
    /// Vendor attribute type for `vendor` (NetScaler: "Group Attribute Type").
    pub vendor_type: u8,
    /// Text put before the group list (NetScaler: "Group Prefix").
    pub prefix: String,
    /// Between groups (NetScaler: "Group Separator"); empty sends one attribute per group.
    pub separator: String,
}

impl Default for GroupAttribute {
    fn default() -> Self {
        Self {
            attribute: "vendor".into(),
            vendor_id: 66,
            vendor_type: 16,
            prefix: String::new(),
            separator: ",".into(),
        }
    }
}

/// Serialises an optional date as `YYYY-MM-DD` (for `--json` output of records).
pub fn serialize_opt_date<S: serde::Serializer>(
    value: &Option<time::Date>,
    s: S,
) -> Result<S::Ok, S::Error> {
    opt_date::serialize(value, s)
}

/// `YYYY-MM-DD` dates, optional.
pub(super) mod opt_date {
    use serde::{Deserialize, Deserializer, Serializer};

    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]");

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<time::Date>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(date) => s.serialize_str(&date.format(FORMAT).map_err(serde::ser::Error::custom)?),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<time::Date>, D::Error> {
        let text = String::deserialize(d)?;
        time::Date::parse(&text, FORMAT).map(Some).map_err(|_| {
            serde::de::Error::custom(format!("{text:?} is not a date; write it as YYYY-MM-DD"))
        })
    }
}

/// `+08:00` style UTC offsets.
pub(super) mod offset {
    use serde::{Deserialize, Deserializer, Serializer};

    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");

    pub(crate) fn serialize<S: Serializer>(
        value: &time::UtcOffset,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.format(FORMAT).map_err(serde::ser::Error::custom)?)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<time::UtcOffset, D::Error> {
        let text = String::deserialize(d)?;
        time::UtcOffset::parse(&text, FORMAT).map_err(|_| {
            serde::de::Error::custom(format!("{text:?} is not a UTC offset; write it as +08:00"))
        })
    }
}

fn check(
    problems: &mut Vec<Problem>,
    ok: bool,
    key: &'static str,
    message: impl FnOnce() -> String,
) {
    if !ok {
        problems.push(Problem {
            key,
            message: message(),
        });
    }
}

/// Every semantic problem of `c`.
pub(super) fn problems(c: &Config) -> Vec<Problem> {
    let mut p = Vec::new();
    let url = &c.database.url;
    check(
        &mut p,
        url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"),
        "database.url",
        || "must start with sqlite:// (embedded) or postgres:// (several nodes)".into(),
    );
    check(
        &mut p,
        (1..=256).contains(&c.database.max_connections),
        "database.max_connections",
        || {
            format!(
                "{} is out of range; use 1 to 256",
                c.database.max_connections
            )
        },
    );
    check(
        &mut p,
        c.database.cache_seconds <= 3600,
        "database.cache_seconds",
        || {
            format!(
                "{} is out of range; use 0 (off) to 3600 (a few seconds is enough)",
                c.database.cache_seconds
            )
        },
    );
    check(
        &mut p,
        (1..=10_000_000).contains(&c.database.cache_entries),
        "database.cache_entries",
        || {
            format!(
                "{} is out of range; use 1 to 10000000",
                c.database.cache_entries
            )
        },
    );
    check(&mut p, !c.radius.listen.is_empty(), "radius.listen", || {
        "needs at least one address, e.g. [\"0.0.0.0:1812\", \"[::]:1812\"]".into()
    });
    check(
        &mut p,
        c.radius.max_in_flight >= 1,
        "radius.max_in_flight",
        || "must be at least 1".into(),
    );
    check(
        &mut p,
        (1..=300).contains(&c.radius.duplicate_cache_seconds),
        "radius.duplicate_cache_seconds",
        || "use 1 to 300 (RFC 5080 suggests about 30; NetScaler retries for 3 × 3 s)".into(),
    );
    check(
        &mut p,
        (10..=900).contains(&c.radius.challenge_ttl_seconds),
        "radius.challenge_ttl_seconds",
        || "use 10 to 900 seconds".into(),
    );
    let g = &c.radius.group_attribute;
    check(
        &mut p,
        ["vendor", "class", "filter-id", "none"].contains(&g.attribute.as_str()),
        "radius.group_attribute.attribute",
        || {
            format!(
                "{:?} is not one of \"vendor\", \"class\", \"filter-id\", \"none\"",
                g.attribute
            )
        },
    );
    check(
        &mut p,
        g.attribute != "vendor" || g.vendor_id != 0,
        "radius.group_attribute.vendor_id",
        || "must be set (not 0) when attribute = \"vendor\"".into(),
    );
    let w = &c.web;
    check(
        &mut p,
        w.public_url.starts_with("http://") || w.public_url.starts_with("https://"),
        "web.public_url",
        || format!("{:?} must start with http:// or https://", w.public_url),
    );
    check(
        &mut p,
        (1..=24 * 30).contains(&w.invite_ttl_hours),
        "web.invite_ttl_hours",
        || "use 1 to 720 hours".into(),
    );
    for (value, key) in [
        (w.header_timeout_seconds, "web.header_timeout_seconds"),
        (w.body_timeout_seconds, "web.body_timeout_seconds"),
    ] {
        check(&mut p, (1..=300).contains(&value), key, || {
            "use 1 to 300 seconds".into()
        });
    }
    check(
        &mut p,
        (1..=w.max_connections).contains(&w.max_connections_per_address),
        "web.max_connections_per_address",
        || "use 1 to web.max_connections".into(),
    );
    check(
        &mut p,
        (1..=1_000_000).contains(&w.max_connections),
        "web.max_connections",
        || "use 1 to 1000000".into(),
    );
    otp_problems(c, &mut p);
    let pol = &c.policy;
    check(
        &mut p,
        (1..=1000).contains(&pol.lockout_failures),
        "policy.lockout_failures",
        || "use 1 to 1000 consecutive failures".into(),
    );
    check(
        &mut p,
        (1..=7 * 24 * 60).contains(&pol.lockout_minutes),
        "policy.lockout_minutes",
        || "use 1 to 10080 minutes".into(),
    );
    check(
        &mut p,
        (8..=128).contains(&pol.min_password_length),
        "policy.min_password_length",
        || "the hospital's rule is at least 8; use 8 to 128".into(),
    );
    check(
        &mut p,
        pol.sms_pause_hours_after_reset <= 30 * 24,
        "policy.sms_pause_hours_after_reset",
        || "use 0 to 720 hours".into(),
    );
    check(
        &mut p,
        !c.secrets.key_file.as_os_str().is_empty(),
        "secrets.key_file",
        || "must name the key file (e.g. \"motpd.key\", created by `motpd init`)".into(),
    );
    sms_problems(c, &mut p);
    check(&mut p, c.smtp.port != 0, "smtp.port", || {
        "must not be 0".into()
    });
    check(&mut p, c.smtp.from.contains('@'), "smtp.from", || {
        format!("{:?} is not an e-mail address", c.smtp.from)
    });
    p
}

fn otp_problems(c: &Config, p: &mut Vec<Problem>) {
    let o = &c.otp;
    check(p, !o.issuer.trim().is_empty(), "otp.issuer", || {
        "must not be empty".into()
    });
    check(
        p,
        ["sha1", "sha256", "sha512"].contains(&o.algorithm.as_str()),
        "otp.algorithm",
        || {
            format!(
                "{:?} is not one of \"sha1\", \"sha256\", \"sha512\"",
                o.algorithm
            )
        },
    );
    check(p, o.digits == 6 || o.digits == 8, "otp.digits", || {
        format!("{} must be 6 or 8", o.digits)
    });
    check(p, (15..=120).contains(&o.period), "otp.period", || {
        format!(
            "{} is out of range; authenticator apps use 30 seconds",
            o.period
        )
    });
    check(p, o.window <= 2, "otp.window", || {
        format!("{} steps of drift is too lenient; use 0, 1 or 2", o.window)
    });
    check(p, o.reuse_seconds <= 600, "otp.reuse_seconds", || {
        "use 0 to 600 seconds".into()
    });
    check(
        p,
        (1..=100).contains(&o.hotp_look_ahead),
        "otp.hotp_look_ahead",
        || "use 1 to 100".into(),
    );
    check(
        p,
        (10..=600).contains(&o.motp_tolerance_seconds),
        "otp.motp_tolerance_seconds",
        || "use 10 to 600 seconds (classic mOTP uses 180)".into(),
    );
}

fn sms_problems(c: &Config, p: &mut Vec<Problem>) {
    let s = &c.sms;
    check(
        p,
        (30..=900).contains(&s.code_ttl_seconds),
        "sms.code_ttl_seconds",
        || "use 30 to 900 seconds".into(),
    );
    check(
        p,
        (1..=10).contains(&s.max_attempts),
        "sms.max_attempts",
        || "use 1 to 10".into(),
    );
    check(p, s.max_per_day >= 1, "sms.max_per_day", || {
        "must be at least 1".into()
    });
    check(p, !s.keyword.trim().is_empty(), "sms.keyword", || {
        "must not be empty".into()
    });
    check(
        p,
        s.provider != SmsProvider::Http
            || s.url.starts_with("http://")
            || s.url.starts_with("https://"),
        "sms.url",
        || "provider = \"http\" needs the gateway's http:// or https:// URL".into(),
    );
    check(
        p,
        s.provider != SmsProvider::Http
            || (s.body_template.contains("{phone}") && s.body_template.contains("{message}")),
        "sms.body_template",
        || "must contain {phone} and {message}".into(),
    );
    check(
        p,
        (1..=120).contains(&s.timeout_seconds),
        "sms.timeout_seconds",
        || "use 1 to 120 seconds".into(),
    );
    check(
        p,
        (1..=86_400).contains(&s.min_interval_seconds),
        "sms.min_interval_seconds",
        || "use 1 to 86400 seconds".into(),
    );
    check(p, s.max_per_day <= 1000, "sms.max_per_day", || {
        "use 1 to 1000 codes per 24 hours".into()
    });
    check(p, s.retries <= 3, "sms.retries", || "use 0 to 3".into());
    check(
        p,
        !s.keyword
            .chars()
            .any(|c| c.is_ascii_digit() || c.is_whitespace()),
        "sms.keyword",
        || {
            "must contain no digits and no spaces (it is typed after the password instead of a code)".into()
        },
    );
    check(
        p,
        s.provider != SmsProvider::Http
            || s.method != SmsMethod::Get
            || s.body_type == SmsBodyType::Form,
        "sms.body_type",
        || {
            "method = \"GET\" sends the template as the query string: use body_type = \"form\""
                .into()
        },
    );
    check(
        p,
        s.provider != SmsProvider::Http
            || s.body_type != SmsBodyType::Json
            || serde_json::from_str::<serde_json::Value>(
                &s.body_template
                    .replace("{phone}", "0")
                    .replace("{message}", "m"),
            )
            .is_ok(),
        "sms.body_template",
        || {
            "body_type = \"json\" needs a JSON template with {phone} and {message} inside quotes, e.g. {\"to\": \"{phone}\", \"text\": \"{message}\"}".into()
        },
    );
    check(
        p,
        s.success_match.as_deref().is_none_or(|m| !m.is_empty()),
        "sms.success_match",
        || "must not be empty (leave it out to check the status code only)".into(),
    );
}
