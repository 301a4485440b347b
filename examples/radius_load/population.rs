//! The synthetic population shared by `provision` and `run`: user names (`load000001`...), passwords
//! (`Pw<user>1`; or the users of `tests/ldap/slapd.sh`, `user00001` with `Passw0rd-user00001`), TOTP seeds (HMAC-SHA1(seed-key, user), 20 bytes, 6 digits, 30 s, SHA1) and what
//! User-Password carries in each mode. Pure: no I/O, no clock (the TOTP step is a parameter).

use hmac::{Hmac, KeyInit, Mac};
use motpd::otp::{Algorithm, TotpParams};

/// Seconds per TOTP step.
pub(crate) const PERIOD: u64 = 30;
/// Digits of a code.
pub(crate) const DIGITS: u32 = 6;

/// What User-Password carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// The 6-digit code alone (motpd `radius.mode = "otp-only"`).
    OtpOnly,
    /// The password immediately followed by the code (motpd's default mode).
    #[value(name = "password+otp")]
    PasswordOtp,
    /// The password alone (motpd: accounts without a device before the enforcement date; FreeRADIUS PAP).
    PasswordOnly,
    /// Status-Server (RFC 5997) instead of an Access-Request: the server's packet path without a login.
    StatusServer,
}

impl Mode {
    /// The name used on the command line and in the JSON line.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::OtpOnly => "otp-only",
            Self::PasswordOtp => "password+otp",
            Self::PasswordOnly => "password-only",
            Self::StatusServer => "status-server",
        }
    }

    /// Whether requests carry a code, so a user may be used only once per step.
    pub(crate) const fn uses_otp(self) -> bool {
        matches!(self, Self::OtpOnly | Self::PasswordOtp)
    }
}

/// How users are named and what their passwords are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum Naming {
    /// `load000001`, password `Pw<user>1` (letters and digits, 13 characters for `load000001`).
    #[default]
    Load,
    /// `user00001`, password `Passw0rd-<user>`: the entries `tests/ldap/slapd.sh` writes, so one directory
    /// serves motpd (`password_source = "ldap"`) and FreeRADIUS (`rlm_ldap`) with the same users.
    Directory,
}

impl Naming {
    /// Name of the user at 0-based `index`: `load000001` or `user00001` for 0.
    pub(crate) fn name(self, index: u64) -> String {
        let number = index.saturating_add(1);
        match self {
            Self::Load => format!("load{number:06}"),
            Self::Directory => format!("user{number:05}"),
        }
    }

    /// The account password of `name`.
    pub(crate) fn password(self, name: &str) -> String {
        match self {
            Self::Load => format!("Pw{name}1"),
            Self::Directory => format!("Passw0rd-{name}"),
        }
    }
}

/// The users `load000001` ... (or `user00001` ...) of one seed key.
#[derive(Debug, Clone)]
pub(crate) struct Population {
    seed_key: Vec<u8>,
    users: u64,
    naming: Naming,
}

impl Population {
    pub(crate) fn new(seed_key: &str, users: u64, naming: Naming) -> Self {
        Self {
            seed_key: seed_key.as_bytes().to_vec(),
            users,
            naming,
        }
    }

    pub(crate) const fn users(&self) -> u64 {
        self.users
    }

    /// Name of the user at 0-based `index`.
    pub(crate) fn name(&self, index: u64) -> String {
        self.naming.name(index)
    }

    /// The account password of `name`.
    pub(crate) fn password(&self, name: &str) -> String {
        self.naming.password(name)
    }

    /// The 20-byte TOTP seed of `name`: HMAC-SHA1(seed-key, name).
    pub(crate) fn seed(&self, name: &str) -> Vec<u8> {
        hmac_sha1(&self.seed_key, name.as_bytes())
    }

    /// The code of `name` for TOTP `step`.
    pub(crate) fn code(&self, name: &str, step: u64) -> String {
        let params = TotpParams {
            period: PERIOD,
            digits: DIGITS,
            algorithm: Algorithm::Sha1,
        };
        params.code_for_step(&self.seed(name), step)
    }

    /// User-Password of `name` in `mode` at TOTP `step`.
    pub(crate) fn user_password(&self, mode: Mode, name: &str, step: u64) -> String {
        match mode {
            Mode::OtpOnly => self.code(name, step),
            Mode::PasswordOtp => format!("{}{}", self.password(name), self.code(name, step)),
            Mode::PasswordOnly => self.password(name),
            Mode::StatusServer => String::new(),
        }
    }
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length (RFC 2104 §2); the error branch cannot happen.
    match <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_passwords() {
        assert_eq!(Naming::Load.name(0), "load000001");
        assert_eq!(Naming::Load.name(99_999), "load100000");
        assert_eq!(Naming::Load.name(1_234_567), "load1234568");
        assert_eq!(Naming::Load.password("load000001"), "Pwload0000011");
        // tests/ldap/slapd.sh: cn=user00001,... with Passw0rd-user00001.
        assert_eq!(Naming::Directory.name(0), "user00001");
        assert_eq!(Naming::Directory.name(19_999), "user20000");
        assert_eq!(
            Naming::Directory.password("user00001"),
            "Passw0rd-user00001"
        );
    }

    #[test]
    fn seed_is_hmac_sha1_of_the_name() {
        // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?").
        let population = Population::new("Jefe", 1, Naming::Load);
        assert_eq!(
            hex::encode(population.seed("what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        let other = Population::new("another key", 1, Naming::Load);
        assert_ne!(population.seed("load000001"), other.seed("load000001"));
        assert_ne!(population.seed("load000001"), population.seed("load000002"));
    }

    #[test]
    fn user_password_per_mode() {
        let population = Population::new("k", 10, Naming::Load);
        // A seed of 20 bytes run through motpd's TOTP at the start of the step gives the same code.
        let seed = population.seed("load000003");
        let code =
            motpd::otp::totp_at(&seed, 1_000 * PERIOD, PERIOD, DIGITS, Algorithm::Sha1).unwrap();
        assert_eq!(code.len(), 6);
        assert_eq!(
            population.user_password(Mode::OtpOnly, "load000003", 1_000),
            code
        );
        assert_eq!(
            population.user_password(Mode::PasswordOtp, "load000003", 1_000),
            format!("Pwload0000031{code}")
        );
        assert_eq!(
            population.user_password(Mode::PasswordOnly, "load000003", 1_000),
            "Pwload0000031"
        );
        assert_ne!(
            population.code("load000003", 1_001),
            population.code("load000003", 1_000)
        );
    }
}
