//! Authenticators: Message-Authenticator (RFC 3579 §3.2, HMAC-MD5), the Accounting-Request
//! Request Authenticator (RFC 2866 §3) and the Response Authenticator (RFC 2865 §3).
//!
//! Everything here works on the raw received bytes, feeding the hash in pieces (the MA value
//! replaced by zeros, the header authenticator possibly substituted) so that nothing is copied
//! and the secret is only borrowed. Every comparison is constant-time. Decides nothing about
//! whether a Message-Authenticator is *required*: that is the server's per-client policy.

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use super::RadiusError;
use super::attributes::types::MESSAGE_AUTHENTICATOR;
use super::packet::{Code, HEADER_LEN, Packet, RawAttributes};

type HmacMd5 = Hmac<Md5>;

/// Outcome of a successful Message-Authenticator check. An invalid one is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum MessageAuthenticator {
    /// The packet carries no Message-Authenticator (the caller decides if that is acceptable).
    Absent,
    /// Exactly one Message-Authenticator, 16 octets, HMAC verified.
    Valid,
}

/// Where the single Message-Authenticator value sits in the packet, if any.
/// Errors on a duplicate or on a length other than 16.
pub(crate) fn find_message_authenticator(raw: &[u8]) -> Result<Option<usize>, RadiusError> {
    let mut found = None;
    for attribute in RawAttributes::new(raw).filter(|a| a.typ == MESSAGE_AUTHENTICATOR) {
        if found.is_some() {
            return Err(RadiusError::InvalidMessageAuthenticator {
                reason: "more than one Message-Authenticator",
            });
        }
        if attribute.value.len() != 16 {
            return Err(RadiusError::InvalidMessageAuthenticator {
                reason: "Message-Authenticator is not 16 octets",
            });
        }
        found = Some(attribute.value_offset);
    }
    Ok(found)
}

/// Split `raw` around a 16-octet field at `offset`: (before, field, after).
fn around(raw: &[u8], offset: usize) -> Option<(&[u8], &[u8], &[u8])> {
    let (before, rest) = raw.split_at_checked(offset)?;
    let (field, after) = rest.split_at_checked(16)?;
    Some((before, field, after))
}

/// HMAC-MD5 over the packet with the header authenticator replaced by `header_auth` and the
/// Message-Authenticator value (at `ma_offset`) replaced by zeros.
pub(crate) fn message_authenticator_mac(
    raw: &[u8],
    ma_offset: usize,
    header_auth: &[u8; 16],
    secret: &[u8],
) -> Result<HmacMd5, RadiusError> {
    if secret.is_empty() {
        return Err(RadiusError::InvalidSecret);
    }
    let malformed = RadiusError::InvalidMessageAuthenticator {
        reason: "Message-Authenticator outside the packet",
    };
    let (head, _, body) = around(raw, 4).ok_or(malformed.clone())?;
    let body_start = HEADER_LEN;
    let ma_in_body = ma_offset.checked_sub(body_start).ok_or(malformed.clone())?;
    let (before, _, after) = around(body, ma_in_body).ok_or(malformed)?;
    let mut mac = HmacMd5::new_from_slice(secret).map_err(|_| RadiusError::InvalidSecret)?;
    mac.update(head);
    mac.update(header_auth);
    mac.update(before);
    mac.update(&[0; 16]);
    mac.update(after);
    Ok(mac)
}

/// Verify the Message-Authenticator (if present) of `raw`, computed with `header_auth` in the
/// authenticator field. Constant-time.
pub(crate) fn check_message_authenticator(
    raw: &[u8],
    header_auth: &[u8; 16],
    secret: &[u8],
) -> Result<MessageAuthenticator, RadiusError> {
    let Some(offset) = find_message_authenticator(raw)? else {
        return Ok(MessageAuthenticator::Absent);
    };
    let received = around(raw, offset)
        .map(|(_, field, _)| field)
        .unwrap_or_default();
    message_authenticator_mac(raw, offset, header_auth, secret)?
        .verify_slice(received)
        .map(|()| MessageAuthenticator::Valid)
        .map_err(|_| RadiusError::InvalidMessageAuthenticator {
            reason: "HMAC mismatch",
        })
}

/// MD5(Code + Identifier + Length + `header_auth` + Attributes + Secret): the Response
/// Authenticator (with the Request Authenticator) or the accounting Request Authenticator
/// (with zeros).
pub(crate) fn md5_authenticator(
    raw: &[u8],
    header_auth: &[u8; 16],
    secret: &[u8],
) -> Result<[u8; 16], RadiusError> {
    if secret.is_empty() {
        return Err(RadiusError::InvalidSecret);
    }
    let head = raw.get(..4).unwrap_or_default();
    let body = raw.get(HEADER_LEN..).unwrap_or_default();
    Ok(Md5::new()
        .chain_update(head)
        .chain_update(header_auth)
        .chain_update(body)
        .chain_update(secret)
        .finalize()
        .into())
}

pub(crate) fn ct_eq16(a: &[u8; 16], b: &[u8; 16]) -> bool {
    a.ct_eq(b).into()
}

impl Packet<'_> {
    /// Verify a request's Message-Authenticator over the raw bytes. For Access-Request and
    /// Status-Server (and other non-response codes) the authenticator field is used as
    /// received (RFC 3579 §3.2). For Accounting-Request it is taken as zeros, as FreeRADIUS
    /// does: that Request Authenticator is computed after the MA, over the MA. Response codes
    /// are refused: verify those with `verify_response`.
    pub fn verify_request_message_authenticator(
        &self,
        secret: &[u8],
    ) -> Result<MessageAuthenticator, RadiusError> {
        let header_auth = match self.code() {
            code if code.is_response() => {
                return Err(RadiusError::UnexpectedCode { code: code.as_u8() });
            }
            Code::AccountingRequest => [0; 16],
            _ => *self.authenticator(),
        };
        check_message_authenticator(self.raw(), &header_auth, secret)
    }

    /// Verify an Accounting-Request Request Authenticator (RFC 2866 §3):
    /// MD5(Code + Identifier + Length + 16 zero octets + Attributes + Secret). Constant-time.
    pub fn verify_accounting_request(&self, secret: &[u8]) -> Result<(), RadiusError> {
        if self.code() != Code::AccountingRequest {
            return Err(RadiusError::UnexpectedCode {
                code: self.code().as_u8(),
            });
        }
        let expected = md5_authenticator(self.raw(), &[0; 16], secret)?;
        if ct_eq16(&expected, self.authenticator()) {
            Ok(())
        } else {
            Err(RadiusError::InvalidRequestAuthenticator)
        }
    }
}

/// Decode `raw` and verify its Message-Authenticator as a request (see
/// [`Packet::verify_request_message_authenticator`]). `Absent` means no MA attribute.
pub fn verify_request_message_authenticator(
    raw: &[u8],
    secret: &[u8],
) -> Result<MessageAuthenticator, RadiusError> {
    Packet::decode(raw)?.verify_request_message_authenticator(secret)
}

/// Decode `raw` and verify it as an Accounting-Request (RFC 2866 §3).
pub fn verify_accounting_request(raw: &[u8], secret: &[u8]) -> Result<(), RadiusError> {
    Packet::decode(raw)?.verify_accounting_request(secret)
}
