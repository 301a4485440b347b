//! PAP User-Password hiding and unhiding (RFC 2865 §5.2).
//!
//! Owns the MD5 keystream chaining and the [`Password`] container (fixed 128-octet buffer,
//! wiped on drop, redacted `Debug`). Passwords are bytes, never decoded as text: NetScaler may
//! send UTF-8 or Latin-1. Only trailing NUL padding is stripped. Must not log or compare
//! passwords: that is the engine's job.

use std::fmt;

use md5::{Digest, Md5};
use zeroize::Zeroize;

use super::RadiusError;

/// Longest User-Password RFC 2865 §5.2 allows (plain and hidden).
pub const MAX_PASSWORD_LEN: usize = 128;

/// A recovered plain password: up to 128 octets, zeroized on drop, never printed.
#[derive(Clone)]
pub struct Password {
    buf: [u8; MAX_PASSWORD_LEN],
    len: usize,
}

impl Password {
    /// The password octets (trailing NUL padding removed).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Password([redacted], {} octets)", self.len)
    }
}

/// MD5 state after absorbing the secret, cloned for every block so the secret is hashed
/// from one place and never copied.
fn keyed(secret: &[u8]) -> Result<Md5, RadiusError> {
    if secret.is_empty() {
        return Err(RadiusError::InvalidSecret);
    }
    Ok(Md5::new_with_prefix(secret))
}

fn block(keyed: &Md5, previous: &[u8]) -> [u8; 16] {
    keyed.clone().chain_update(previous).finalize().into()
}

/// Hide a password for a User-Password attribute: pad with NULs to a multiple of 16 (an empty
/// password becomes one block), then c(i) = p(i) xor MD5(S + c(i-1)), c(0) = RA.
pub fn hide_password(
    password: &[u8],
    request_authenticator: &[u8; 16],
    secret: &[u8],
) -> Result<Vec<u8>, RadiusError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(RadiusError::PasswordTooLong {
            len: password.len(),
        });
    }
    let keyed = keyed(secret)?;
    let blocks = password.len().div_ceil(16).max(1);
    let mut out = Vec::with_capacity(blocks * 16);
    let mut previous = *request_authenticator;
    for index in 0..blocks {
        let mut chunk = [0u8; 16];
        let plain = password.get(index * 16..).unwrap_or_default();
        for (dst, src) in chunk.iter_mut().zip(plain) {
            *dst = *src;
        }
        let key = block(&keyed, &previous);
        for (c, k) in chunk.iter_mut().zip(key) {
            *c ^= k;
        }
        out.extend_from_slice(&chunk);
        previous = chunk;
    }
    Ok(out)
}

/// Recover a password from a User-Password value: p(i) = c(i) xor MD5(S + c(i-1)). The hidden
/// value must be 16..=128 octets in steps of 16. Trailing NULs (the padding) are removed; NULs
/// inside the password are kept.
pub fn unhide_password(
    hidden: &[u8],
    request_authenticator: &[u8; 16],
    secret: &[u8],
) -> Result<Password, RadiusError> {
    let len = hidden.len();
    if len == 0 || len > MAX_PASSWORD_LEN || !len.is_multiple_of(16) {
        return Err(RadiusError::InvalidHiddenPassword { len });
    }
    let keyed = keyed(secret)?;
    let mut password = Password {
        buf: [0; MAX_PASSWORD_LEN],
        len,
    };
    let mut previous: &[u8] = request_authenticator;
    for (cipher, plain) in hidden.chunks(16).zip(password.buf.chunks_mut(16)) {
        let key = block(&keyed, previous);
        for ((p, c), k) in plain.iter_mut().zip(cipher).zip(key) {
            *p = c ^ k;
        }
        previous = cipher;
    }
    while password.len > 0 && password.buf.get(password.len - 1) == Some(&0) {
        password.len -= 1;
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
    use super::*;

    const RA: [u8; 16] = [
        0x0f, 0x40, 0x3f, 0x94, 0x73, 0x97, 0x80, 0x57, 0xbd, 0x83, 0xd5, 0xcb, 0x98, 0xf4, 0x22,
        0x7a,
    ];

    #[test]
    fn rfc2865_7_1_password_vector() {
        // RFC 2865 §7.1: "arctangent" hidden with secret "xyzzy5461".
        let hidden = [
            0x0d, 0xbe, 0x70, 0x8d, 0x93, 0xd4, 0x13, 0xce, 0x31, 0x96, 0xe4, 0x3f, 0x78, 0x2a,
            0x0a, 0xee,
        ];
        assert_eq!(
            hide_password(b"arctangent", &RA, b"xyzzy5461").unwrap(),
            hidden
        );
        let plain = unhide_password(&hidden, &RA, b"xyzzy5461").unwrap();
        assert_eq!(plain.as_bytes(), b"arctangent");
        let wrong = unhide_password(&hidden, &RA, b"xyzzy5462").unwrap();
        assert_ne!(wrong.as_bytes(), b"arctangent");
    }

    #[test]
    fn lengths_and_padding() {
        assert_eq!(hide_password(b"", &RA, b"s").unwrap().len(), 16);
        assert_eq!(hide_password(&[7; 16], &RA, b"s").unwrap().len(), 16);
        assert_eq!(hide_password(&[7; 17], &RA, b"s").unwrap().len(), 32);
        assert_eq!(hide_password(&[7; 128], &RA, b"s").unwrap().len(), 128);
        assert_eq!(
            hide_password(&[7; 129], &RA, b"s"),
            Err(RadiusError::PasswordTooLong { len: 129 })
        );
        assert_eq!(
            hide_password(b"x", &RA, b""),
            Err(RadiusError::InvalidSecret)
        );
        for len in [0, 15, 17, 144] {
            assert!(matches!(
                unhide_password(&vec![1; len], &RA, b"s"),
                Err(RadiusError::InvalidHiddenPassword { .. })
            ));
        }
    }

    #[test]
    fn latin1_and_inner_nul_survive() {
        let latin1 = b"p\xe4ss\x00word\xff123456";
        let hidden = hide_password(latin1, &RA, b"secret").unwrap();
        assert_eq!(
            unhide_password(&hidden, &RA, b"secret").unwrap().as_bytes(),
            latin1
        );
    }

    #[test]
    fn debug_redacts() {
        let hidden = hide_password(b"hunter2", &RA, b"secret").unwrap();
        let plain = unhide_password(&hidden, &RA, b"secret").unwrap();
        let shown = format!("{plain:?}");
        assert!(!shown.contains("hunter2") && shown.contains("redacted"));
    }
}
