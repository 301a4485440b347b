//! RADIUS protocol codec: bytes in, typed packets out, and back.
//!
//! This crate owns the wire format of RADIUS (RFC 2865 packets and attributes, RFC 2866
//! accounting authenticators, RFC 2869/3579 Message-Authenticator, RFC 5997 Status-Server),
//! PAP User-Password hiding, and the FreeRADIUS-format dictionary table in the repository's
//! top-level `dictionaries/`. motpd re-exports it as `motpd::radius`.
//!
//! It is **pure**: no sockets, no tokio, no logging, no clock, no global state other than the
//! lazily parsed, read-only dictionary; its own dependency list keeps it so. It never decides
//! anything: whether a client is known, whether Message-Authenticator is required, and what to
//! answer belong to motpd's `server::radius` and `engine`. Every function that sees hostile bytes
//! returns a [`RadiusError`] instead of panicking, and every comparison of an authenticator is
//! constant-time.
//!
//! # Typical server flow
//! 1. [`Packet::decode`] the datagram (octets past the header Length are padding and ignored).
//! 2. Drop it unless [`Code::is_request`].
//! 3. [`Packet::verify_request_message_authenticator`] (Access-Request, Status-Server) and, for
//!    Accounting-Request, [`Packet::verify_accounting_request`]. Both work on the raw bytes the
//!    packet borrows, so nothing is re-encoded.
//! 4. Read typed values ([`Packet::user_name`], [`Packet::user_password`], [`Packet::state`]…).
//! 5. [`encode_response`] the answer: Message-Authenticator first (BlastRADIUS), then the
//!    Response Authenticator. Echo [`Packet::proxy_states`] in order.
//!
//! # Files
//! - `packet.rs`: header, [`Code`], attribute TLV decoding through a bounds-checked cursor, raw
//!   encoding.
//! - `attributes.rs`: attribute type constants, typed accessors, attribute constructors, VSAs.
//! - `password.rs`: User-Password hiding (RFC 2865 §5.2).
//! - `auth.rs`: Request/Response Authenticators and Message-Authenticator (RFC 3579 §3.2).
//! - `encode.rs`: signed responses and requests, response verification for clients.
//! - `dictionary.rs`: FreeRADIUS dictionary parser and the embedded table.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

mod attributes;
mod auth;
pub mod dictionary;
mod encode;
mod packet;
mod password;

pub use attributes::{VendorAttribute, parse_vendor_specific, types, values};
pub use auth::{
    MessageAuthenticator, verify_accounting_request, verify_request_message_authenticator,
};
pub use encode::{
    VerifiedResponse, encode_access_request, encode_accounting_request, encode_request,
    encode_response, random_authenticator, verify_response,
};
pub use packet::{
    Attribute, AttributeIter, Code, HEADER_LEN, MAX_ATTRIBUTE_VALUE_LEN, MAX_PACKET_LEN, Packet,
    encode_raw,
};
pub use password::{MAX_PASSWORD_LEN, Password, hide_password, unhide_password};

/// Everything that can go wrong in the codec. Nothing here carries secret material: values are
/// described by their type number, offset and length only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RadiusError {
    /// The datagram is shorter than the 20-octet header.
    #[error("datagram of {len} octets is shorter than the 20-octet RADIUS header")]
    TooShort { len: usize },
    /// The header Length field is below 20 or above 4096 (RFC 2865 §3).
    #[error("header Length {length} is outside 20..=4096")]
    InvalidLength { length: u16 },
    /// The header Length field claims more octets than the datagram holds.
    #[error("header Length {length} exceeds the {datagram}-octet datagram")]
    Truncated { length: u16, datagram: usize },
    /// An attribute's Length octet is below 2.
    #[error("attribute type {typ} at offset {offset} has Length < 2")]
    AttributeTooShort { typ: u8, offset: usize },
    /// An attribute runs past the end of the packet (or its Length octet is missing).
    #[error("attribute at offset {offset} overruns the packet")]
    AttributeOverrun { offset: usize },
    /// An attribute appears more than once where the RFC allows at most one.
    #[error("attribute type {typ} appears more than once")]
    DuplicateAttribute { typ: u8 },
    /// An attribute value has the wrong size or format for its type.
    #[error("attribute type {typ} has an invalid value of {len} octets")]
    InvalidAttributeValue { typ: u8, len: usize },
    /// A Vendor-Specific attribute whose sub-attributes are malformed.
    #[error("malformed Vendor-Specific attribute")]
    InvalidVendorSpecific,
    /// A hidden User-Password that is empty, not a multiple of 16 octets, or over 128.
    #[error("hidden User-Password of {len} octets is not 16..=128 in steps of 16")]
    InvalidHiddenPassword { len: usize },
    /// A plain password longer than 128 octets (RFC 2865 §5.2).
    #[error("password of {len} octets exceeds 128")]
    PasswordTooLong { len: usize },
    /// An attribute value too long to encode (over 253 octets, or 247 inside a VSA).
    #[error("attribute type {typ} value of {len} octets is too long to encode")]
    AttributeTooLong { typ: u8, len: usize },
    /// The encoded packet would exceed 4096 octets.
    #[error("encoded packet of {len} octets exceeds 4096")]
    PacketTooLong { len: usize },
    /// The packet code is not valid for the operation (e.g. signing a request as a response).
    #[error("packet code {code} is not valid here")]
    UnexpectedCode { code: u8 },
    /// The shared secret is empty (RFC 2865 §3 requires a non-empty secret).
    #[error("shared secret is empty")]
    InvalidSecret,
    /// Message-Authenticator present but wrong: bad length, duplicated, or HMAC mismatch.
    #[error("invalid Message-Authenticator: {reason}")]
    InvalidMessageAuthenticator { reason: &'static str },
    /// The Accounting-Request Request Authenticator does not match (RFC 2866 §3).
    #[error("invalid accounting Request Authenticator")]
    InvalidRequestAuthenticator,
    /// The Response Authenticator does not match (RFC 2865 §3).
    #[error("invalid Response Authenticator")]
    InvalidResponseAuthenticator,
    /// The operating system random generator failed.
    #[error("random generator failed: {0}")]
    Random(String),
    /// A line of a dictionary file could not be parsed.
    #[error("dictionary line {line}: {reason}")]
    Dictionary { line: usize, reason: &'static str },
}

impl RadiusError {
    /// True for failures of a cryptographic check (bad Message-Authenticator or authenticator):
    /// the packet was well-formed but not signed with the secret we hold.
    #[must_use]
    pub fn is_authentication_failure(&self) -> bool {
        matches!(
            self,
            Self::InvalidMessageAuthenticator { .. }
                | Self::InvalidRequestAuthenticator
                | Self::InvalidResponseAuthenticator
        )
    }
}

/// Fuzzing entry point (for the cargo-fuzz target and the proptest in this crate): decodes
/// arbitrary bytes, verifies Message-Authenticator and the accounting authenticator with a
/// fixed secret, reads every typed accessor, and re-encodes the attributes.
///
/// Returns `false` only if an internal invariant broke: a decoded packet that does not
/// re-encode to exactly its own bytes. A fuzz target should `assert!` the result; invalid
/// input returns `true`. It never panics.
#[must_use]
pub fn fuzz_decode(data: &[u8]) -> bool {
    const SECRET: &[u8] = b"fuzz-secret";
    let Ok(packet) = Packet::decode(data) else {
        return true;
    };
    let _ = packet.verify_request_message_authenticator(SECRET);
    let _ = packet.verify_accounting_request(SECRET);
    let _ = verify_response(packet.raw(), &[0; 16], SECRET);
    let _ = packet.user_name();
    let _ = packet.user_password(SECRET);
    let _ = packet.state();
    let _ = packet.nas_ip_address();
    let _ = packet.nas_ipv6_address();
    let _ = packet.service_type();
    let _ = packet.vendor_attributes();
    let _ = packet.proxy_states().count();
    let attributes: Vec<Attribute<'_>> = packet.attributes().collect();
    encode_raw(
        packet.code(),
        packet.identifier(),
        packet.authenticator(),
        &attributes,
    )
    .is_ok_and(|bytes| bytes == packet.raw())
}

#[cfg(test)]
mod tests;
