//! Configuration (to be completed).

use serde::{Deserialize, Serialize};

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
