//! RADIUS packet header and attribute TLVs (RFC 2865 §3, §5): decoding and raw encoding.
//!
//! Owns the bounds-checked [`Reader`] cursor, [`Code`], the borrowed [`Packet`] view and the
//! [`Attribute`] type. It computes no authenticator and knows no secret: signing and verifying
//! live in `auth.rs` and `encode.rs`, typed attribute values in `attributes.rs`.

use std::borrow::Cow;

use super::RadiusError;

/// Size of the RADIUS header: Code, Identifier, Length, Authenticator.
pub const HEADER_LEN: usize = 20;
/// Largest packet RFC 2865 §3 allows.
pub const MAX_PACKET_LEN: usize = 4096;
/// Largest attribute value: the Length octet counts Type and Length too (255 - 2).
pub const MAX_ATTRIBUTE_VALUE_LEN: usize = 253;

/// A cursor over untrusted bytes whose reads return `None` instead of panicking.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// The next `n` octets, or `None` (consuming nothing) when fewer remain.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.rest.split_at_checked(n)?;
        self.rest = tail;
        Some(head)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let (&first, tail) = self.rest.split_first()?;
        self.rest = tail;
        Some(first)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// RADIUS packet type (RFC 2865 §4, RFC 5997). Unknown codes decode as `Other` so that the
/// caller can count and drop them; build values with [`Code::from_u8`] so that `Other` never
/// holds a known code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    AccessRequest,
    AccessAccept,
    AccessReject,
    AccountingRequest,
    AccountingResponse,
    AccessChallenge,
    StatusServer,
    StatusClient,
    Other(u8),
}

impl Code {
    #[must_use]
    pub const fn from_u8(code: u8) -> Self {
        match code {
            1 => Self::AccessRequest,
            2 => Self::AccessAccept,
            3 => Self::AccessReject,
            4 => Self::AccountingRequest,
            5 => Self::AccountingResponse,
            11 => Self::AccessChallenge,
            12 => Self::StatusServer,
            13 => Self::StatusClient,
            other => Self::Other(other),
        }
    }

    #[must_use]
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::AccessRequest => 1,
            Self::AccessAccept => 2,
            Self::AccessReject => 3,
            Self::AccountingRequest => 4,
            Self::AccountingResponse => 5,
            Self::AccessChallenge => 11,
            Self::StatusServer => 12,
            Self::StatusClient => 13,
            Self::Other(code) => code,
        }
    }

    /// Codes a RADIUS server accepts: Access-Request, Accounting-Request, Status-Server.
    /// Everything else (responses, Status-Client, unknown codes) must be dropped by a server.
    #[must_use]
    pub const fn is_request(self) -> bool {
        matches!(
            self,
            Self::AccessRequest | Self::AccountingRequest | Self::StatusServer
        )
    }

    /// Codes a server sends: Access-Accept/Reject/Challenge, Accounting-Response.
    #[must_use]
    pub const fn is_response(self) -> bool {
        matches!(
            self,
            Self::AccessAccept
                | Self::AccessReject
                | Self::AccessChallenge
                | Self::AccountingResponse
        )
    }
}

impl From<u8> for Code {
    fn from(code: u8) -> Self {
        Self::from_u8(code)
    }
}

impl From<Code> for u8 {
    fn from(code: Code) -> Self {
        code.as_u8()
    }
}

/// One attribute: type and value (without the Type/Length octets). Decoded attributes borrow
/// from the datagram; built ones usually own their value. Lengths are checked when encoding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attribute<'a> {
    pub typ: u8,
    pub value: Cow<'a, [u8]>,
}

impl<'a> Attribute<'a> {
    #[must_use]
    pub fn new(typ: u8, value: impl Into<Cow<'a, [u8]>>) -> Self {
        Self {
            typ,
            value: value.into(),
        }
    }

    #[must_use]
    pub fn into_owned(self) -> Attribute<'static> {
        Attribute {
            typ: self.typ,
            value: Cow::Owned(self.value.into_owned()),
        }
    }
}

/// A decoded packet: a validated view over the received bytes (zero-copy). The raw bytes stay
/// available through [`Packet::raw`] for authenticator checks. `Debug` shows the header and
/// the attribute types only, never values (User-Password, State).
#[derive(Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    code: Code,
    identifier: u8,
    authenticator: [u8; 16],
    raw: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Decode one datagram. Checks (RFC 2865 §3, §5): at least 20 octets; header Length in
    /// 20..=4096 and not beyond the datagram (octets after Length are padding and ignored);
    /// every attribute Length ≥ 2 and inside the packet, with nothing left over.
    pub fn decode(datagram: &'a [u8]) -> Result<Self, RadiusError> {
        let mut header = Reader::new(datagram);
        let too_short = RadiusError::TooShort {
            len: datagram.len(),
        };
        let [code, identifier, len_hi, len_lo] = header.array::<4>().ok_or(too_short.clone())?;
        let authenticator = header.array::<16>().ok_or(too_short)?;
        let length = u16::from_be_bytes([len_hi, len_lo]);
        if usize::from(length) < HEADER_LEN || usize::from(length) > MAX_PACKET_LEN {
            return Err(RadiusError::InvalidLength { length });
        }
        let raw = datagram
            .get(..usize::from(length))
            .ok_or(RadiusError::Truncated {
                length,
                datagram: datagram.len(),
            })?;
        let body = raw.get(HEADER_LEN..).unwrap_or_default();
        validate_attributes(body)?;
        Ok(Self {
            code: Code::from_u8(code),
            identifier,
            authenticator,
            raw,
        })
    }

    #[must_use]
    pub fn code(&self) -> Code {
        self.code
    }

    #[must_use]
    pub fn identifier(&self) -> u8 {
        self.identifier
    }

    /// The Authenticator field as received (Request or Response Authenticator).
    #[must_use]
    pub fn authenticator(&self) -> &[u8; 16] {
        &self.authenticator
    }

    /// The packet bytes, cut to the header Length (padding removed).
    #[must_use]
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// All attributes in wire order.
    #[must_use]
    pub fn attributes(&self) -> AttributeIter<'a> {
        AttributeIter {
            inner: RawAttributes::new(self.raw),
        }
    }

    /// The value of the first attribute of type `typ`.
    #[must_use]
    pub fn first(&self, typ: u8) -> Option<&'a [u8]> {
        self.all(typ).next()
    }

    /// The values of every attribute of type `typ`, in wire order.
    pub fn all(&self, typ: u8) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        RawAttributes::new(self.raw)
            .filter(move |raw| raw.typ == typ)
            .map(|raw| raw.value)
    }

    /// The value of the only attribute of type `typ`; an error if it appears twice.
    pub fn single(&self, typ: u8) -> Result<Option<&'a [u8]>, RadiusError> {
        let mut values = self.all(typ);
        let first = values.next();
        match values.next() {
            Some(_) => Err(RadiusError::DuplicateAttribute { typ }),
            None => Ok(first),
        }
    }
}

impl std::fmt::Debug for Packet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let types: Vec<u8> = RawAttributes::new(self.raw).map(|a| a.typ).collect();
        f.debug_struct("Packet")
            .field("code", &self.code)
            .field("identifier", &self.identifier)
            .field("length", &self.raw.len())
            .field("attribute_types", &types)
            .finish_non_exhaustive()
    }
}

/// Iterator over the attributes of a decoded [`Packet`], borrowing their values.
#[derive(Debug, Clone)]
pub struct AttributeIter<'a> {
    inner: RawAttributes<'a>,
}

impl<'a> Iterator for AttributeIter<'a> {
    type Item = Attribute<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner
            .next()
            .map(|raw| Attribute::new(raw.typ, raw.value))
    }
}

/// An attribute together with the offset of its value in the packet (for MA zeroing).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawAttribute<'a> {
    pub(crate) typ: u8,
    pub(crate) value_offset: usize,
    pub(crate) value: &'a [u8],
}

/// Walks the attributes of an already validated packet; stops at the first malformed one.
#[derive(Debug, Clone)]
pub(crate) struct RawAttributes<'a> {
    reader: Reader<'a>,
    offset: usize,
}

impl<'a> RawAttributes<'a> {
    /// `raw` is a whole packet (header included); iteration starts after the header.
    pub(crate) fn new(raw: &'a [u8]) -> Self {
        Self {
            reader: Reader::new(raw.get(HEADER_LEN..).unwrap_or_default()),
            offset: HEADER_LEN,
        }
    }
}

impl<'a> Iterator for RawAttributes<'a> {
    type Item = RawAttribute<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let typ = self.reader.u8()?;
        let len = usize::from(self.reader.u8()?);
        let value = self.reader.take(len.checked_sub(2)?)?;
        let value_offset = self.offset + 2;
        self.offset += len;
        Some(RawAttribute {
            typ,
            value_offset,
            value,
        })
    }
}

/// Check the attribute TLVs of a packet body (everything after the header).
fn validate_attributes(body: &[u8]) -> Result<(), RadiusError> {
    let mut reader = Reader::new(body);
    let mut offset = HEADER_LEN;
    while !reader.is_empty() {
        let overrun = RadiusError::AttributeOverrun { offset };
        let typ = reader.u8().ok_or(overrun.clone())?;
        let len = reader.u8().ok_or(overrun.clone())?;
        let value_len = usize::from(len)
            .checked_sub(2)
            .ok_or(RadiusError::AttributeTooShort { typ, offset })?;
        reader.take(value_len).ok_or(overrun)?;
        offset += usize::from(len);
    }
    Ok(())
}

/// Start a packet: header with a zero Length (filled in by [`finish_length`]).
pub(crate) fn start_packet(code: Code, identifier: u8, authenticator: &[u8; 16]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(512);
    buf.extend_from_slice(&[code.as_u8(), identifier, 0, 0]);
    buf.extend_from_slice(authenticator);
    buf
}

/// Append one attribute; returns the offset of its value.
pub(crate) fn push_attribute(
    buf: &mut Vec<u8>,
    typ: u8,
    value: &[u8],
) -> Result<usize, RadiusError> {
    let len = u8::try_from(value.len() + 2)
        .ok()
        .filter(|_| value.len() <= MAX_ATTRIBUTE_VALUE_LEN)
        .ok_or(RadiusError::AttributeTooLong {
            typ,
            len: value.len(),
        })?;
    buf.extend_from_slice(&[typ, len]);
    let offset = buf.len();
    buf.extend_from_slice(value);
    Ok(offset)
}

/// Write the header Length field; fails if the packet exceeds 4096 octets.
pub(crate) fn finish_length(buf: &mut [u8]) -> Result<(), RadiusError> {
    let len = buf.len();
    let length = u16::try_from(len)
        .ok()
        .filter(|_| len <= MAX_PACKET_LEN)
        .ok_or(RadiusError::PacketTooLong { len })?;
    if let Some(field) = buf.get_mut(2..4) {
        field.copy_from_slice(&length.to_be_bytes());
    }
    Ok(())
}

/// Encode a packet exactly as given: no authenticator is computed and no attribute is added.
/// For tests, tools and Access-Request round trips; servers sign with `encode_response`.
pub fn encode_raw(
    code: Code,
    identifier: u8,
    authenticator: &[u8; 16],
    attributes: &[Attribute<'_>],
) -> Result<Vec<u8>, RadiusError> {
    let mut buf = start_packet(code, identifier, authenticator);
    for attribute in attributes {
        push_attribute(&mut buf, attribute.typ, &attribute.value)?;
    }
    finish_length(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn packet(body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![1, 7, 0, 0];
        bytes.extend_from_slice(&[0xAA; 16]);
        bytes.extend_from_slice(body);
        let len = u16::try_from(bytes.len()).unwrap().to_be_bytes();
        bytes[2..4].copy_from_slice(&len);
        bytes
    }

    #[test]
    fn reader_take_returns_none_when_short() {
        let mut reader = Reader::new(&[1, 2, 3]);
        assert_eq!(reader.take(4), None);
        assert_eq!(reader.take(2), Some(&[1, 2][..]));
        assert_eq!(reader.u8(), Some(3));
        assert_eq!(reader.u8(), None);
    }

    #[test]
    fn code_round_trips_and_classifies() {
        for n in 0..=255u8 {
            assert_eq!(Code::from_u8(n).as_u8(), n);
        }
        assert!(Code::AccessRequest.is_request());
        assert!(Code::StatusServer.is_request());
        assert!(Code::AccountingRequest.is_request());
        for code in [
            Code::AccessAccept,
            Code::AccessReject,
            Code::AccessChallenge,
        ] {
            assert!(!code.is_request() && code.is_response());
        }
        assert!(!Code::StatusClient.is_request() && !Code::Other(40).is_request());
        assert_eq!(Code::from_u8(40), Code::Other(40));
    }

    #[test]
    fn header_length_rules() {
        let good = packet(&[1, 3, b'a']);
        assert!(Packet::decode(&good).is_ok());
        // Padding after Length is ignored.
        let mut padded = good.clone();
        padded.extend_from_slice(&[0xFF; 10]);
        assert_eq!(Packet::decode(&padded).unwrap().raw(), &good[..]);
        // Length larger than the datagram.
        let mut long = good.clone();
        long[3] += 1;
        assert_eq!(
            Packet::decode(&long),
            Err(RadiusError::Truncated {
                length: 24,
                datagram: 23
            })
        );
        let mut small = good.clone();
        small[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(
            Packet::decode(&small),
            Err(RadiusError::InvalidLength { length: 19 })
        );
        let mut huge = vec![0; 5000];
        huge[..good.len()].copy_from_slice(&good);
        huge[2..4].copy_from_slice(&4097u16.to_be_bytes());
        assert_eq!(
            Packet::decode(&huge),
            Err(RadiusError::InvalidLength { length: 4097 })
        );
        assert_eq!(
            Packet::decode(&good[..19]),
            Err(RadiusError::TooShort { len: 19 })
        );
    }

    #[test]
    fn attribute_rules() {
        assert_eq!(
            Packet::decode(&packet(&[1, 1])),
            Err(RadiusError::AttributeTooShort { typ: 1, offset: 20 })
        );
        assert_eq!(
            Packet::decode(&packet(&[1, 0])),
            Err(RadiusError::AttributeTooShort { typ: 1, offset: 20 })
        );
        assert_eq!(
            Packet::decode(&packet(&[1, 2, 1, 4, 0])),
            Err(RadiusError::AttributeOverrun { offset: 22 })
        );
        assert_eq!(
            Packet::decode(&packet(&[1, 2, 9])),
            Err(RadiusError::AttributeOverrun { offset: 22 })
        );
        let ok = packet(&[1, 2, 33, 3, 7, 33, 4, 8, 9]);
        let decoded = Packet::decode(&ok).unwrap();
        assert_eq!(decoded.first(1), Some(&[][..]));
        assert_eq!(
            decoded.all(33).collect::<Vec<_>>(),
            vec![&[7][..], &[8, 9][..]]
        );
        assert_eq!(
            decoded.single(33),
            Err(RadiusError::DuplicateAttribute { typ: 33 })
        );
        assert_eq!(decoded.single(1), Ok(Some(&[][..])));
        assert_eq!(decoded.single(2), Ok(None));
        let shown = format!("{decoded:?}");
        assert!(shown.contains("attribute_types: [1, 33, 33]") && !shown.contains("170"));
    }

    #[test]
    fn encode_raw_checks_sizes() {
        let auth = [0; 16];
        let ok = Attribute::new(18, vec![b'x'; 253]);
        assert!(encode_raw(Code::AccessAccept, 1, &auth, &[ok]).is_ok());
        let too_long = Attribute::new(18, vec![b'x'; 254]);
        assert_eq!(
            encode_raw(Code::AccessAccept, 1, &auth, &[too_long]),
            Err(RadiusError::AttributeTooLong { typ: 18, len: 254 })
        );
        let many = vec![Attribute::new(18, vec![b'x'; 253]); 17];
        assert_eq!(
            encode_raw(Code::AccessAccept, 1, &auth, &many),
            Err(RadiusError::PacketTooLong { len: 20 + 17 * 255 })
        );
    }
}
