//! Attribute type numbers, typed accessors on [`Packet`], attribute constructors, and
//! Vendor-Specific (RFC 2865 §5.26) sub-attributes.
//!
//! The numbers are written by hand for speed and readability; a drift test checks each one
//! against the FreeRADIUS dictionaries in `dictionaries/`. Text attributes are returned as
//! bytes: interpreting them (UTF-8, Latin-1) is the caller's choice. No crypto lives here
//! except the User-Password accessor, which delegates to `password.rs`.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::RadiusError;
use super::packet::{Attribute, MAX_ATTRIBUTE_VALUE_LEN, Packet, Reader};
use super::password::{Password, unhide_password};

/// Attribute type numbers (RFC 2865 §5, RFC 2866 §5, RFC 3579 §3, RFC 3162 §2) and vendor
/// attribute numbers (FreeRADIUS `dictionary.citrix`).
pub mod types {
    pub const USER_NAME: u8 = 1;
    pub const USER_PASSWORD: u8 = 2;
    pub const NAS_IP_ADDRESS: u8 = 4;
    pub const NAS_PORT: u8 = 5;
    pub const SERVICE_TYPE: u8 = 6;
    pub const FRAMED_IP_ADDRESS: u8 = 8;
    pub const FILTER_ID: u8 = 11;
    pub const REPLY_MESSAGE: u8 = 18;
    pub const STATE: u8 = 24;
    pub const CLASS: u8 = 25;
    pub const VENDOR_SPECIFIC: u8 = 26;
    pub const SESSION_TIMEOUT: u8 = 27;
    pub const CALLED_STATION_ID: u8 = 30;
    pub const CALLING_STATION_ID: u8 = 31;
    pub const NAS_IDENTIFIER: u8 = 32;
    pub const PROXY_STATE: u8 = 33;
    pub const ACCT_STATUS_TYPE: u8 = 40;
    pub const ACCT_SESSION_ID: u8 = 44;
    pub const EAP_MESSAGE: u8 = 79;
    pub const MESSAGE_AUTHENTICATOR: u8 = 80;
    pub const NAS_IPV6_ADDRESS: u8 = 95;

    /// Citrix (NetScaler) SMI vendor id, FreeRADIUS `share/dictionary.citrix`
    /// ("VENDOR Citrix 66").
    pub const CITRIX_VENDOR_ID: u32 = 66;
    /// Citrix-User-Groups (vendor type 16, string): the attribute NetScaler's RADIUS group
    /// extraction reads when configured with vendor id 66, attribute type 16.
    pub const CITRIX_USER_GROUPS: u8 = 16;
    pub const CITRIX_GROUP_NAMES: u8 = 14;
}

/// Enumerated values used by motpd (RFC 2865 §5.6, RFC 2866 §5.1).
pub mod values {
    pub const SERVICE_TYPE_LOGIN_USER: u32 = 1;
    pub const SERVICE_TYPE_FRAMED_USER: u32 = 2;
    pub const SERVICE_TYPE_AUTHENTICATE_ONLY: u32 = 8;
    pub const ACCT_STATUS_TYPE_START: u32 = 1;
    pub const ACCT_STATUS_TYPE_STOP: u32 = 2;
    pub const ACCT_STATUS_TYPE_INTERIM_UPDATE: u32 = 3;
    pub const ACCT_STATUS_TYPE_ACCOUNTING_ON: u32 = 7;
    pub const ACCT_STATUS_TYPE_ACCOUNTING_OFF: u32 = 8;
}

use types::*;

/// Largest value of one vendor sub-attribute: 253 - 4 (Vendor-Id) - 2 (type, length).
const MAX_VENDOR_VALUE_LEN: usize = MAX_ATTRIBUTE_VALUE_LEN - 6;

fn fixed<const N: usize>(typ: u8, value: &[u8]) -> Result<[u8; N], RadiusError> {
    value
        .try_into()
        .map_err(|_| RadiusError::InvalidAttributeValue {
            typ,
            len: value.len(),
        })
}

impl<'a> Packet<'a> {
    fn first_fixed<const N: usize>(&self, typ: u8) -> Result<Option<[u8; N]>, RadiusError> {
        self.first(typ)
            .map(|value| fixed::<N>(typ, value))
            .transpose()
    }

    fn first_u32(&self, typ: u8) -> Result<Option<u32>, RadiusError> {
        Ok(self.first_fixed::<4>(typ)?.map(u32::from_be_bytes))
    }

    /// User-Name (1); an error if sent twice.
    pub fn user_name(&self) -> Result<Option<&'a [u8]>, RadiusError> {
        self.single(USER_NAME)
    }

    /// User-Password (2), unhidden with this packet's Request Authenticator. An error if sent
    /// twice or if the hidden value is malformed. A wrong secret yields garbage, not an error.
    pub fn user_password(&self, secret: &[u8]) -> Result<Option<Password>, RadiusError> {
        self.single(USER_PASSWORD)?
            .map(|hidden| unhide_password(hidden, self.authenticator(), secret))
            .transpose()
    }

    pub fn nas_ip_address(&self) -> Result<Option<Ipv4Addr>, RadiusError> {
        Ok(self.first_fixed::<4>(NAS_IP_ADDRESS)?.map(Ipv4Addr::from))
    }

    pub fn framed_ip_address(&self) -> Result<Option<Ipv4Addr>, RadiusError> {
        Ok(self
            .first_fixed::<4>(FRAMED_IP_ADDRESS)?
            .map(Ipv4Addr::from))
    }

    pub fn nas_ipv6_address(&self) -> Result<Option<Ipv6Addr>, RadiusError> {
        Ok(self
            .first_fixed::<16>(NAS_IPV6_ADDRESS)?
            .map(Ipv6Addr::from))
    }

    pub fn service_type(&self) -> Result<Option<u32>, RadiusError> {
        self.first_u32(SERVICE_TYPE)
    }

    pub fn session_timeout(&self) -> Result<Option<u32>, RadiusError> {
        self.first_u32(SESSION_TIMEOUT)
    }

    pub fn acct_status_type(&self) -> Result<Option<u32>, RadiusError> {
        self.first_u32(ACCT_STATUS_TYPE)
    }

    /// State (24): at most one, echoed from an Access-Challenge (RFC 2865 §5.24).
    pub fn state(&self) -> Result<Option<&'a [u8]>, RadiusError> {
        self.single(STATE)
    }

    pub fn class(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        self.all(CLASS)
    }

    pub fn reply_messages(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        self.all(REPLY_MESSAGE)
    }

    pub fn filter_ids(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        self.all(FILTER_ID)
    }

    /// Proxy-State (33) values in wire order, to be echoed unchanged in the response.
    pub fn proxy_states(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        self.all(PROXY_STATE)
    }

    #[must_use]
    pub fn calling_station_id(&self) -> Option<&'a [u8]> {
        self.first(CALLING_STATION_ID)
    }

    #[must_use]
    pub fn nas_identifier(&self) -> Option<&'a [u8]> {
        self.first(NAS_IDENTIFIER)
    }

    #[must_use]
    pub fn acct_session_id(&self) -> Option<&'a [u8]> {
        self.first(ACCT_SESSION_ID)
    }

    #[must_use]
    pub fn message_authenticator(&self) -> Option<&'a [u8]> {
        self.first(MESSAGE_AUTHENTICATOR)
    }

    /// Every vendor sub-attribute of every Vendor-Specific (26) attribute, in wire order.
    pub fn vendor_attributes(&self) -> Result<Vec<VendorAttribute<'a>>, RadiusError> {
        let mut out = Vec::new();
        for value in self.all(VENDOR_SPECIFIC) {
            out.extend(parse_vendor_specific(value)?);
        }
        Ok(out)
    }
}

/// One vendor sub-attribute: Vendor-Id, vendor type and value (RFC 2865 §5.26 format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VendorAttribute<'a> {
    pub vendor_id: u32,
    pub vendor_type: u8,
    pub value: &'a [u8],
}

/// Parse the value of a Vendor-Specific attribute: a 4-octet Vendor-Id (high octet zero)
/// followed by one or more (vendor type, vendor length ≥ 2, value) triples filling it exactly.
pub fn parse_vendor_specific(value: &[u8]) -> Result<Vec<VendorAttribute<'_>>, RadiusError> {
    let mut reader = Reader::new(value);
    let vendor_id = reader
        .array::<4>()
        .map(u32::from_be_bytes)
        .filter(|id| id >> 24 == 0)
        .ok_or(RadiusError::InvalidVendorSpecific)?;
    let mut out = Vec::new();
    while !reader.is_empty() {
        let vendor_type = reader.u8().ok_or(RadiusError::InvalidVendorSpecific)?;
        let value = reader
            .u8()
            .and_then(|len| usize::from(len).checked_sub(2))
            .and_then(|len| reader.take(len))
            .ok_or(RadiusError::InvalidVendorSpecific)?;
        out.push(VendorAttribute {
            vendor_id,
            vendor_type,
            value,
        });
    }
    if out.is_empty() {
        return Err(RadiusError::InvalidVendorSpecific);
    }
    Ok(out)
}

impl Attribute<'static> {
    /// A 32-bit integer attribute (Service-Type, Session-Timeout, Acct-Status-Type…).
    #[must_use]
    pub fn from_u32(typ: u8, value: u32) -> Self {
        Self::new(typ, value.to_be_bytes().to_vec())
    }

    #[must_use]
    pub fn from_ipv4(typ: u8, address: Ipv4Addr) -> Self {
        Self::new(typ, address.octets().to_vec())
    }

    #[must_use]
    pub fn from_ipv6(typ: u8, address: Ipv6Addr) -> Self {
        Self::new(typ, address.octets().to_vec())
    }

    /// A Vendor-Specific attribute holding one sub-attribute (value at most 247 octets).
    pub fn vendor_specific(
        vendor_id: u32,
        vendor_type: u8,
        value: &[u8],
    ) -> Result<Self, RadiusError> {
        let too_long = RadiusError::AttributeTooLong {
            typ: VENDOR_SPECIFIC,
            len: value.len(),
        };
        if value.len() > MAX_VENDOR_VALUE_LEN || vendor_id >> 24 != 0 {
            return Err(too_long);
        }
        let vendor_len = u8::try_from(value.len() + 2).map_err(|_| too_long)?;
        let mut bytes = Vec::with_capacity(value.len() + 6);
        bytes.extend_from_slice(&vendor_id.to_be_bytes());
        bytes.extend_from_slice(&[vendor_type, vendor_len]);
        bytes.extend_from_slice(value);
        Ok(Self::new(VENDOR_SPECIFIC, bytes))
    }

    /// Reply-Message (18) attributes carrying `text`, split into pieces of at most 253 octets
    /// at character boundaries (RFC 2865 §5.18: the client shows them in order). Empty text
    /// gives no attribute.
    #[must_use]
    pub fn reply_messages(text: &str) -> Vec<Self> {
        split_text(text, MAX_ATTRIBUTE_VALUE_LEN)
            .map(|piece| Self::new(REPLY_MESSAGE, piece.as_bytes().to_vec()))
            .collect()
    }
}

impl<'a> Attribute<'a> {
    /// An attribute borrowing its value (e.g. a Proxy-State echoed from the request).
    #[must_use]
    pub fn borrowed(typ: u8, value: &'a [u8]) -> Self {
        Self {
            typ,
            value: Cow::Borrowed(value),
        }
    }
}

/// Split `text` into pieces of at most `max` octets without cutting a UTF-8 character.
fn split_text(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut cut = rest.len().min(max);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, tail) = rest.split_at_checked(cut)?;
        rest = tail;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
    use super::super::dictionary::{self, DataType};
    use super::super::packet::{Code, encode_raw};
    use super::*;

    /// Drift test: every hand-written number agrees with the parsed dictionary files.
    #[test]
    fn constants_match_dictionary() {
        let standard = [
            ("User-Name", USER_NAME, DataType::Text),
            ("User-Password", USER_PASSWORD, DataType::Text),
            ("NAS-IP-Address", NAS_IP_ADDRESS, DataType::IpAddr),
            ("NAS-Port", NAS_PORT, DataType::Integer),
            ("Service-Type", SERVICE_TYPE, DataType::Integer),
            ("Framed-IP-Address", FRAMED_IP_ADDRESS, DataType::IpAddr),
            ("Filter-Id", FILTER_ID, DataType::Text),
            ("Reply-Message", REPLY_MESSAGE, DataType::Text),
            ("State", STATE, DataType::Octets),
            ("Class", CLASS, DataType::Octets),
            ("Vendor-Specific", VENDOR_SPECIFIC, DataType::Vsa),
            ("Session-Timeout", SESSION_TIMEOUT, DataType::Integer),
            ("Called-Station-Id", CALLED_STATION_ID, DataType::Text),
            ("Calling-Station-Id", CALLING_STATION_ID, DataType::Text),
            ("NAS-Identifier", NAS_IDENTIFIER, DataType::Text),
            ("Proxy-State", PROXY_STATE, DataType::Octets),
            ("Acct-Status-Type", ACCT_STATUS_TYPE, DataType::Integer),
            ("Acct-Session-Id", ACCT_SESSION_ID, DataType::Text),
            ("EAP-Message", EAP_MESSAGE, DataType::Octets),
            (
                "Message-Authenticator",
                MESSAGE_AUTHENTICATOR,
                DataType::Octets,
            ),
            ("NAS-IPv6-Address", NAS_IPV6_ADDRESS, DataType::Ipv6Addr),
        ];
        for (name, code, data_type) in standard {
            let entry = dictionary::lookup(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(
                (entry.code, &entry.data_type, entry.vendor),
                (code, &data_type, None),
                "{name}"
            );
            assert_eq!(dictionary::name_of(code), Some(name));
        }
        let citrix = dictionary::embedded().vendor_id("Citrix");
        assert_eq!(citrix, Some(CITRIX_VENDOR_ID));
        for (name, code) in [
            ("Citrix-User-Groups", CITRIX_USER_GROUPS),
            ("Citrix-Group-Names", CITRIX_GROUP_NAMES),
        ] {
            let entry = dictionary::lookup(name).unwrap();
            assert_eq!(
                (entry.code, entry.vendor, &entry.data_type),
                (code, citrix, &DataType::Text)
            );
        }
        let d = dictionary::embedded();
        for (attribute, name, value) in [
            (
                "Service-Type",
                "Login-User",
                values::SERVICE_TYPE_LOGIN_USER,
            ),
            (
                "Service-Type",
                "Framed-User",
                values::SERVICE_TYPE_FRAMED_USER,
            ),
            (
                "Service-Type",
                "Authenticate-Only",
                values::SERVICE_TYPE_AUTHENTICATE_ONLY,
            ),
            ("Acct-Status-Type", "Start", values::ACCT_STATUS_TYPE_START),
            ("Acct-Status-Type", "Stop", values::ACCT_STATUS_TYPE_STOP),
            (
                "Acct-Status-Type",
                "Interim-Update",
                values::ACCT_STATUS_TYPE_INTERIM_UPDATE,
            ),
            (
                "Acct-Status-Type",
                "Accounting-On",
                values::ACCT_STATUS_TYPE_ACCOUNTING_ON,
            ),
            (
                "Acct-Status-Type",
                "Accounting-Off",
                values::ACCT_STATUS_TYPE_ACCOUNTING_OFF,
            ),
        ] {
            assert_eq!(d.value(attribute, name), Some(value), "{attribute} {name}");
        }
    }

    fn decode_attrs(attributes: &[Attribute<'_>]) -> Vec<u8> {
        encode_raw(Code::AccessRequest, 9, &[3; 16], attributes).unwrap()
    }

    #[test]
    fn typed_accessors() {
        let v6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let bytes = decode_attrs(&[
            Attribute::from_ipv4(NAS_IP_ADDRESS, Ipv4Addr::new(10, 0, 0, 1)),
            Attribute::from_ipv4(FRAMED_IP_ADDRESS, Ipv4Addr::new(10, 0, 0, 2)),
            Attribute::from_ipv6(NAS_IPV6_ADDRESS, v6),
            Attribute::from_u32(SERVICE_TYPE, 8),
            Attribute::from_u32(SESSION_TIMEOUT, 3600),
            Attribute::from_u32(ACCT_STATUS_TYPE, 1),
            Attribute::borrowed(CALLING_STATION_ID, b"1.2.3.4"),
            Attribute::borrowed(NAS_IDENTIFIER, b"ns1"),
            Attribute::borrowed(ACCT_SESSION_ID, b"abc"),
            Attribute::borrowed(CLASS, b"c1"),
            Attribute::borrowed(FILTER_ID, b"f1"),
            Attribute::borrowed(PROXY_STATE, b"p1"),
            Attribute::borrowed(CLASS, b"c2"),
            Attribute::borrowed(PROXY_STATE, b"p2"),
            Attribute::borrowed(STATE, b"st"),
        ]);
        let p = Packet::decode(&bytes).unwrap();
        assert_eq!(
            p.nas_ip_address().unwrap(),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(
            p.framed_ip_address().unwrap(),
            Some(Ipv4Addr::new(10, 0, 0, 2))
        );
        assert_eq!(p.nas_ipv6_address().unwrap(), Some(v6));
        assert_eq!(p.service_type().unwrap(), Some(8));
        assert_eq!(p.session_timeout().unwrap(), Some(3600));
        assert_eq!(p.acct_status_type().unwrap(), Some(1));
        assert_eq!(p.calling_station_id(), Some(&b"1.2.3.4"[..]));
        assert_eq!(p.nas_identifier(), Some(&b"ns1"[..]));
        assert_eq!(p.acct_session_id(), Some(&b"abc"[..]));
        assert_eq!(p.class().collect::<Vec<_>>(), [b"c1", b"c2"]);
        assert_eq!(p.filter_ids().collect::<Vec<_>>(), [b"f1"]);
        assert_eq!(p.proxy_states().collect::<Vec<_>>(), [b"p1", b"p2"]);
        assert_eq!(p.state().unwrap(), Some(&b"st"[..]));
        assert_eq!(p.user_name().unwrap(), None);
        assert_eq!(p.message_authenticator(), None);
        assert!(p.user_password(b"s").unwrap().is_none());
    }

    #[test]
    fn typed_accessors_reject_bad_sizes_and_duplicates() {
        let bytes = decode_attrs(&[
            Attribute::borrowed(NAS_IP_ADDRESS, &[1, 2, 3]),
            Attribute::borrowed(SERVICE_TYPE, &[1, 2, 3, 4, 5]),
            Attribute::borrowed(NAS_IPV6_ADDRESS, &[0; 4]),
            Attribute::borrowed(USER_NAME, b"a"),
            Attribute::borrowed(USER_NAME, b"b"),
            Attribute::borrowed(USER_PASSWORD, &[0; 15]),
        ]);
        let p = Packet::decode(&bytes).unwrap();
        assert_eq!(
            p.nas_ip_address(),
            Err(RadiusError::InvalidAttributeValue { typ: 4, len: 3 })
        );
        assert_eq!(
            p.service_type(),
            Err(RadiusError::InvalidAttributeValue { typ: 6, len: 5 })
        );
        assert!(p.nas_ipv6_address().is_err());
        assert_eq!(
            p.user_name(),
            Err(RadiusError::DuplicateAttribute { typ: 1 })
        );
        assert_eq!(
            p.user_password(b"s").unwrap_err(),
            RadiusError::InvalidHiddenPassword { len: 15 }
        );
    }

    #[test]
    fn vendor_specific_round_trip() {
        let groups =
            Attribute::vendor_specific(CITRIX_VENDOR_ID, CITRIX_USER_GROUPS, b"vpn-users").unwrap();
        assert_eq!(&groups.value[..6], &[0, 0, 0, 66, 16, 11]);
        let mut two = groups.value.to_vec();
        two.extend_from_slice(&[14, 3, b'x']);
        let bytes = decode_attrs(&[groups.clone(), Attribute::new(VENDOR_SPECIFIC, two)]);
        let all = Packet::decode(&bytes).unwrap().vendor_attributes().unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(
            all[2],
            VendorAttribute {
                vendor_id: 66,
                vendor_type: 14,
                value: b"x"
            }
        );
        assert_eq!(all[0].value, b"vpn-users");
        assert!(Attribute::vendor_specific(66, 1, &[0; 247]).is_ok());
        assert!(Attribute::vendor_specific(66, 1, &[0; 248]).is_err());
        assert!(Attribute::vendor_specific(1 << 24, 1, b"x").is_err());
        for bad in [
            &[0, 0, 0][..],
            &[0, 0, 0, 66],
            &[0, 0, 0, 66, 1, 1],
            &[0, 0, 0, 66, 1, 4, 0],
            &[1, 0, 0, 66, 1, 2],
        ] {
            assert_eq!(
                parse_vendor_specific(bad),
                Err(RadiusError::InvalidVendorSpecific),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn long_reply_message_is_split_at_char_boundaries() {
        assert!(Attribute::reply_messages("").is_empty());
        let short = Attribute::reply_messages("Enter your code");
        assert_eq!(short.len(), 1);
        assert_eq!(&short[0].value[..], b"Enter your code");
        // 300 two-octet characters: 600 octets, split at 252 (126 chars) boundaries.
        let text = "é".repeat(300);
        let pieces = Attribute::reply_messages(&text);
        assert_eq!(
            pieces.iter().map(|a| a.value.len()).collect::<Vec<_>>(),
            [252, 252, 96]
        );
        let joined: Vec<u8> = pieces
            .iter()
            .flat_map(|a| a.value.iter().copied())
            .collect();
        assert_eq!(joined, text.as_bytes());
        assert!(
            pieces
                .iter()
                .all(|a| a.typ == REPLY_MESSAGE && std::str::from_utf8(&a.value).is_ok())
        );
        let ascii = Attribute::reply_messages(&"a".repeat(600));
        assert_eq!(
            ascii.iter().map(|a| a.value.len()).collect::<Vec<_>>(),
            [253, 253, 94]
        );
    }
}
