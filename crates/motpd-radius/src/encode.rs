//! Signed packet encoding: server responses, client requests, and client-side response
//! verification.
//!
//! Owns the signing order that BlastRADIUS (CVE-2024-3596) requires: Message-Authenticator is
//! the FIRST attribute of every Access-Accept/Reject/Challenge and of every Access-Request and
//! Status-Server we build; it is computed with the Request Authenticator in the header, and
//! only then is the Response Authenticator computed over the finished packet. Callers cannot
//! place their own Message-Authenticator: any type-80 attribute they pass is skipped.
//! Does no I/O; the random Request Authenticator comes from `getrandom`.

use hmac::Mac;

use super::RadiusError;
use super::attributes::types::{MESSAGE_AUTHENTICATOR, USER_NAME, USER_PASSWORD};
use super::auth::{
    MessageAuthenticator, check_message_authenticator, ct_eq16, md5_authenticator,
    message_authenticator_mac,
};
use super::packet::{Attribute, Code, Packet, finish_length, push_attribute, start_packet};
use super::password::hide_password;

/// Codes whose packets carry a Message-Authenticator when we build them.
/// Accounting-Request/Response do not: RFC 2866 packets are authenticated by their
/// Request/Response Authenticator, and RFC 3579 §3.2 defines MA for the Access-* exchange.
fn carries_message_authenticator(code: Code) -> bool {
    matches!(
        code,
        Code::AccessRequest
            | Code::AccessAccept
            | Code::AccessReject
            | Code::AccessChallenge
            | Code::StatusServer
    )
}

/// Header + (MA placeholder first when the code calls for it) + caller attributes, with the
/// Length set. Returns the buffer and the offset of the MA value.
fn assemble(
    code: Code,
    identifier: u8,
    header_auth: &[u8; 16],
    attributes: &[Attribute<'_>],
) -> Result<(Vec<u8>, Option<usize>), RadiusError> {
    let mut buf = start_packet(code, identifier, header_auth);
    let ma_offset = if carries_message_authenticator(code) {
        Some(push_attribute(&mut buf, MESSAGE_AUTHENTICATOR, &[0; 16])?)
    } else {
        None
    };
    for attribute in attributes.iter().filter(|a| a.typ != MESSAGE_AUTHENTICATOR) {
        push_attribute(&mut buf, attribute.typ, &attribute.value)?;
    }
    finish_length(&mut buf)?;
    Ok((buf, ma_offset))
}

/// Fill in the Message-Authenticator (computed with the header as it stands).
fn sign_message_authenticator(
    buf: &mut [u8],
    ma_offset: usize,
    header_auth: &[u8; 16],
    secret: &[u8],
) -> Result<(), RadiusError> {
    let mac = message_authenticator_mac(buf, ma_offset, header_auth, secret)?.finalize();
    if let Some(field) = buf.get_mut(ma_offset..ma_offset + 16) {
        field.copy_from_slice(&mac.into_bytes());
    }
    Ok(())
}

fn set_header_authenticator(buf: &mut [u8], authenticator: &[u8; 16]) {
    if let Some(field) = buf.get_mut(4..20) {
        field.copy_from_slice(authenticator);
    }
}

/// Encode and sign a response (Access-Accept/Reject/Challenge or Accounting-Response).
///
/// Access-* responses get a Message-Authenticator as their first attribute, computed with
/// `request_authenticator` in the header; then the Response Authenticator
/// MD5(Code + ID + Length + RequestAuth + Attributes + Secret) is written. Accounting-Response
/// gets no MA (see the module doc). Attributes are written in the given order; echo the
/// request's Proxy-State values last, in order (RFC 2865 §5.33).
pub fn encode_response(
    code: Code,
    identifier: u8,
    request_authenticator: &[u8; 16],
    attributes: &[Attribute<'_>],
    secret: &[u8],
) -> Result<Vec<u8>, RadiusError> {
    if !code.is_response() {
        return Err(RadiusError::UnexpectedCode { code: code.as_u8() });
    }
    let (mut buf, ma_offset) = assemble(code, identifier, request_authenticator, attributes)?;
    if let Some(offset) = ma_offset {
        sign_message_authenticator(&mut buf, offset, request_authenticator, secret)?;
    }
    let response_authenticator = md5_authenticator(&buf, request_authenticator, secret)?;
    set_header_authenticator(&mut buf, &response_authenticator);
    Ok(buf)
}

/// Encode an Access-Request or Status-Server with the given Request Authenticator and a
/// Message-Authenticator first. Attributes go in as given: hide User-Password with the same
/// authenticator ([`hide_password`]) or use [`encode_access_request`].
pub fn encode_request(
    code: Code,
    identifier: u8,
    request_authenticator: &[u8; 16],
    attributes: &[Attribute<'_>],
    secret: &[u8],
) -> Result<Vec<u8>, RadiusError> {
    if !matches!(code, Code::AccessRequest | Code::StatusServer) {
        return Err(RadiusError::UnexpectedCode { code: code.as_u8() });
    }
    let (mut buf, ma_offset) = assemble(code, identifier, request_authenticator, attributes)?;
    if let Some(offset) = ma_offset {
        sign_message_authenticator(&mut buf, offset, request_authenticator, secret)?;
    }
    Ok(buf)
}

/// Encode a PAP Access-Request: Message-Authenticator, User-Name, User-Password (hidden with
/// `request_authenticator`), then `extra` attributes. Use [`random_authenticator`] for a fresh
/// Request Authenticator.
pub fn encode_access_request(
    identifier: u8,
    request_authenticator: &[u8; 16],
    user_name: &[u8],
    password: &[u8],
    extra: &[Attribute<'_>],
    secret: &[u8],
) -> Result<Vec<u8>, RadiusError> {
    let hidden = hide_password(password, request_authenticator, secret)?;
    let mut attributes = Vec::with_capacity(extra.len() + 2);
    attributes.push(Attribute::new(USER_NAME, user_name));
    attributes.push(Attribute::new(USER_PASSWORD, hidden));
    attributes.extend(extra.iter().cloned());
    encode_request(
        Code::AccessRequest,
        identifier,
        request_authenticator,
        &attributes,
        secret,
    )
}

/// Encode an Accounting-Request; its Request Authenticator is computed (RFC 2866 §3).
pub fn encode_accounting_request(
    identifier: u8,
    attributes: &[Attribute<'_>],
    secret: &[u8],
) -> Result<Vec<u8>, RadiusError> {
    let (mut buf, _) = assemble(Code::AccountingRequest, identifier, &[0; 16], attributes)?;
    let request_authenticator = md5_authenticator(&buf, &[0; 16], secret)?;
    set_header_authenticator(&mut buf, &request_authenticator);
    Ok(buf)
}

/// 16 random octets from the operating system for a Request Authenticator.
pub fn random_authenticator() -> Result<[u8; 16], RadiusError> {
    let mut authenticator = [0; 16];
    getrandom::fill(&mut authenticator).map_err(|e| RadiusError::Random(e.to_string()))?;
    Ok(authenticator)
}

/// A response whose Response Authenticator (and Message-Authenticator, if any) verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedResponse<'a> {
    pub packet: Packet<'a>,
    /// `Absent` if the server sent none: a BlastRADIUS-safe client rejects that for Access-*.
    pub message_authenticator: MessageAuthenticator,
}

/// Client side: decode a response and verify, in constant time, its Response Authenticator
/// against the `request_authenticator` we sent, and its Message-Authenticator if present.
/// Matching the Identifier to the request is left to the caller.
pub fn verify_response<'a>(
    raw: &'a [u8],
    request_authenticator: &[u8; 16],
    secret: &[u8],
) -> Result<VerifiedResponse<'a>, RadiusError> {
    let packet = Packet::decode(raw)?;
    if !packet.code().is_response() {
        return Err(RadiusError::UnexpectedCode {
            code: packet.code().as_u8(),
        });
    }
    let expected = md5_authenticator(packet.raw(), request_authenticator, secret)?;
    if !ct_eq16(&expected, packet.authenticator()) {
        return Err(RadiusError::InvalidResponseAuthenticator);
    }
    let message_authenticator =
        check_message_authenticator(packet.raw(), request_authenticator, secret)?;
    Ok(VerifiedResponse {
        packet,
        message_authenticator,
    })
}
