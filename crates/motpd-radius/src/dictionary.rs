//! FreeRADIUS-format dictionary parser and the embedded attribute table.
//!
//! Owns the mapping between attribute names and (vendor, code, type), built once from the files
//! in the repository's top-level `dictionaries/` (embedded with `include_str!`, parsed on first
//! use). Understands `ATTRIBUTE`, `VALUE`, `VENDOR`, `BEGIN-VENDOR`/`END-VENDOR`, comments;
//! ignores `$INCLUDE`.
//! Vendors must use the default 1-octet type / 1-octet length format. The codec itself does
//! not consult the table: it is for names in logs, configuration and admin output. Reads no
//! file at run time.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::RadiusError;

/// The dictionary files motpd ships, in load order.
const EMBEDDED_FILES: &[(&str, &str)] = &[
    (
        "dictionary.rfc2865",
        include_str!("../../../dictionaries/dictionary.rfc2865"),
    ),
    (
        "dictionary.rfc2866",
        include_str!("../../../dictionaries/dictionary.rfc2866"),
    ),
    (
        "dictionary.rfc2869",
        include_str!("../../../dictionaries/dictionary.rfc2869"),
    ),
    (
        "dictionary.rfc3162",
        include_str!("../../../dictionaries/dictionary.rfc3162"),
    ),
    (
        "dictionary.rfc3579",
        include_str!("../../../dictionaries/dictionary.rfc3579"),
    ),
    (
        "dictionary.rfc5997",
        include_str!("../../../dictionaries/dictionary.rfc5997"),
    ),
    (
        "dictionary.citrix",
        include_str!("../../../dictionaries/dictionary.citrix"),
    ),
];

/// Value type of an attribute, as named in the dictionary.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `string`: text (UTF-8 expected, not enforced).
    Text,
    Octets,
    /// `integer`: 32-bit unsigned, network order.
    Integer,
    /// `ipaddr`: IPv4 address.
    IpAddr,
    Ipv6Addr,
    Ipv6Prefix,
    Date,
    /// `vsa`: the Vendor-Specific container.
    Vsa,
    /// Any other FreeRADIUS type name (`ifid`, `byte`, `tlv`…), kept verbatim.
    Other(String),
}

impl DataType {
    fn parse(name: &str) -> Self {
        // "octets[16]" is a fixed-size octets type.
        let base = name.split('[').next().unwrap_or(name);
        match base {
            "string" => Self::Text,
            "octets" => Self::Octets,
            "integer" => Self::Integer,
            "ipaddr" => Self::IpAddr,
            "ipv6addr" => Self::Ipv6Addr,
            "ipv6prefix" => Self::Ipv6Prefix,
            "date" => Self::Date,
            "vsa" => Self::Vsa,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// One `ATTRIBUTE` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DictAttribute {
    pub name: String,
    pub code: u8,
    pub data_type: DataType,
    /// `None` for standard attributes, the SMI vendor id for vendor attributes.
    pub vendor: Option<u32>,
    /// FreeRADIUS `encrypt=N` flag (1 = User-Password hiding).
    pub encrypt: Option<u8>,
}

/// A parsed set of dictionary files.
#[derive(Debug, Clone, Default)]
pub struct Dictionary {
    attributes: Vec<DictAttribute>,
    by_name: HashMap<String, usize>,
    by_code: HashMap<(Option<u32>, u8), usize>,
    vendors: HashMap<String, u32>,
    /// (attribute name lowercased, value name lowercased) -> number, and the reverse.
    values: HashMap<(String, String), u32>,
    value_names: HashMap<(String, u32), String>,
}

fn err(line: usize, reason: &'static str) -> RadiusError {
    RadiusError::Dictionary { line, reason }
}

fn parse_number(text: &str) -> Option<u32> {
    match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

impl Dictionary {
    /// Parse one file's text (errors carry the 1-based line number).
    pub fn parse(text: &str) -> Result<Self, RadiusError> {
        let mut dictionary = Self::default();
        dictionary.load(text)?;
        Ok(dictionary)
    }

    /// Add one more file's definitions to this dictionary.
    pub fn load(&mut self, text: &str) -> Result<(), RadiusError> {
        let mut vendor: Option<u32> = None;
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let content = line.split('#').next().unwrap_or_default();
            let fields: Vec<&str> = content.split_whitespace().collect();
            match fields.as_slice() {
                [] => {}
                ["$INCLUDE", ..] => {}
                ["ATTRIBUTE", rest @ ..] => self.define_attribute(rest, vendor, number)?,
                ["VALUE", attribute, name, value] => {
                    self.define_value(attribute, name, value, number)?;
                }
                ["VENDOR", name, id, rest @ ..] => self.define_vendor(name, id, rest, number)?,
                ["BEGIN-VENDOR", name, ..] => {
                    let id = self.vendor_id(name).ok_or(err(number, "unknown vendor"))?;
                    vendor = Some(id);
                }
                ["END-VENDOR", name] => {
                    if vendor.is_none() || vendor != self.vendor_id(name) {
                        return Err(err(number, "END-VENDOR does not match BEGIN-VENDOR"));
                    }
                    vendor = None;
                }
                _ => return Err(err(number, "unknown or malformed directive")),
            }
        }
        match vendor {
            Some(_) => Err(err(text.lines().count(), "BEGIN-VENDOR without END-VENDOR")),
            None => Ok(()),
        }
    }

    fn define_attribute(
        &mut self,
        fields: &[&str],
        block_vendor: Option<u32>,
        line: usize,
    ) -> Result<(), RadiusError> {
        let (name, code, data_type, extra) = match fields {
            [name, code, data_type] => (name, code, data_type, None),
            [name, code, data_type, extra] => (name, code, data_type, Some(*extra)),
            _ => return Err(err(line, "ATTRIBUTE needs name, number, type")),
        };
        let code = parse_number(code)
            .and_then(|c| u8::try_from(c).ok())
            .ok_or(err(line, "attribute number is not 0..=255"))?;
        let mut vendor = block_vendor;
        let mut encrypt = None;
        match extra {
            Some(flags) if flags.contains('=') || flags == "concat" || flags == "has_tag" => {
                for flag in flags.split(',') {
                    if let Some(value) = flag.strip_prefix("encrypt=") {
                        encrypt = Some(value.parse().map_err(|_| err(line, "bad encrypt flag"))?);
                    }
                }
            }
            Some(vendor_name) => {
                vendor = Some(
                    self.vendor_id(vendor_name)
                        .ok_or(err(line, "unknown vendor"))?,
                );
            }
            None => {}
        }
        let key = name.to_ascii_lowercase();
        if self.by_name.contains_key(&key) {
            return Err(err(line, "attribute name defined twice"));
        }
        let index = self.attributes.len();
        self.attributes.push(DictAttribute {
            name: (*name).to_owned(),
            code,
            data_type: DataType::parse(data_type),
            vendor,
            encrypt,
        });
        self.by_name.insert(key, index);
        self.by_code.entry((vendor, code)).or_insert(index);
        Ok(())
    }

    fn define_value(
        &mut self,
        attribute: &str,
        name: &str,
        value: &str,
        line: usize,
    ) -> Result<(), RadiusError> {
        let number = parse_number(value).ok_or(err(line, "VALUE number is not an integer"))?;
        if self.lookup(attribute).is_none() {
            return Err(err(line, "VALUE for an undefined attribute"));
        }
        let attribute = attribute.to_ascii_lowercase();
        self.values
            .insert((attribute.clone(), name.to_ascii_lowercase()), number);
        self.value_names
            .entry((attribute, number))
            .or_insert_with(|| name.to_owned());
        Ok(())
    }

    fn define_vendor(
        &mut self,
        name: &str,
        id: &str,
        rest: &[&str],
        line: usize,
    ) -> Result<(), RadiusError> {
        if !matches!(rest, [] | ["format=1,1"]) {
            return Err(err(line, "only the 1,1 vendor format is supported"));
        }
        let id = parse_number(id).ok_or(err(line, "vendor id is not an integer"))?;
        self.vendors.insert(name.to_ascii_lowercase(), id);
        Ok(())
    }

    /// An attribute by name (ASCII case-insensitive, as FreeRADIUS).
    #[must_use]
    pub fn lookup(&self, name: &str) -> Option<&DictAttribute> {
        let index = *self.by_name.get(&name.to_ascii_lowercase())?;
        self.attributes.get(index)
    }

    /// An attribute by (vendor, code); `vendor` is `None` for standard attributes.
    #[must_use]
    pub fn attribute(&self, vendor: Option<u32>, code: u8) -> Option<&DictAttribute> {
        let index = *self.by_code.get(&(vendor, code))?;
        self.attributes.get(index)
    }

    #[must_use]
    pub fn vendor_id(&self, name: &str) -> Option<u32> {
        self.vendors.get(&name.to_ascii_lowercase()).copied()
    }

    /// The number of a named value of an enumerated attribute (`VALUE` lines).
    #[must_use]
    pub fn value(&self, attribute: &str, name: &str) -> Option<u32> {
        let key = (attribute.to_ascii_lowercase(), name.to_ascii_lowercase());
        self.values.get(&key).copied()
    }

    /// The first name given to `number` for `attribute`.
    #[must_use]
    pub fn value_name(&self, attribute: &str, number: u32) -> Option<&str> {
        let key = (attribute.to_ascii_lowercase(), number);
        self.value_names.get(&key).map(String::as_str)
    }

    pub fn attributes(&self) -> impl Iterator<Item = &DictAttribute> {
        self.attributes.iter()
    }
}

/// Parse every embedded file into one dictionary.
fn parse_embedded() -> Result<Dictionary, RadiusError> {
    let mut dictionary = Dictionary::default();
    for (_, text) in EMBEDDED_FILES {
        dictionary.load(text)?;
    }
    Ok(dictionary)
}

/// Parsed once. A unit test proves the embedded files parse; should that ever regress, the
/// table is empty rather than the process panicking (names then show as numbers).
static EMBEDDED: LazyLock<Dictionary> = LazyLock::new(|| parse_embedded().unwrap_or_default());

/// The dictionary built from the embedded `dictionaries/` files.
#[must_use]
pub fn embedded() -> &'static Dictionary {
    &EMBEDDED
}

/// A standard or vendor attribute by name, from the embedded dictionary.
#[must_use]
pub fn lookup(name: &str) -> Option<&'static DictAttribute> {
    EMBEDDED.lookup(name)
}

/// The name of a standard attribute type.
#[must_use]
pub fn name_of(code: u8) -> Option<&'static str> {
    EMBEDDED.attribute(None, code).map(|a| a.name.as_str())
}

/// The name of a vendor attribute type.
#[must_use]
pub fn vendor_name_of(vendor_id: u32, code: u8) -> Option<&'static str> {
    EMBEDDED
        .attribute(Some(vendor_id), code)
        .map(|a| a.name.as_str())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn every_embedded_file_parses() {
        for (name, text) in EMBEDDED_FILES {
            // Vendor files reference their own VENDOR line only; RFC files stand alone.
            if let Err(e) = Dictionary::parse(text) {
                panic!("{name}: {e}");
            }
        }
        let all = parse_embedded().unwrap();
        assert!(all.attributes().count() > 60);
    }

    #[test]
    fn lookups() {
        let user_password = lookup("user-password").unwrap();
        assert_eq!(user_password.code, 2);
        assert_eq!(user_password.encrypt, Some(1));
        assert_eq!(name_of(80), Some("Message-Authenticator"));
        assert_eq!(name_of(17), None);
        assert_eq!(vendor_name_of(66, 16), Some("Citrix-User-Groups"));
        assert_eq!(embedded().vendor_id("Citrix"), Some(66));
        assert_eq!(
            embedded().value("Service-Type", "Authenticate-Only"),
            Some(8)
        );
        assert_eq!(
            embedded().value_name("Acct-Status-Type", 3),
            Some("Interim-Update")
        );
    }

    #[test]
    fn parser_rejects_malformed_lines() {
        let cases = [
            ("ATTRIBUTE X 256 integer", 1),
            ("ATTRIBUTE X integer", 1),
            ("ATTRIBUTE A 1 string\nATTRIBUTE a 2 string", 2),
            ("VALUE Nope Foo 1", 1),
            ("BEGIN-VENDOR Nobody", 1),
            ("VENDOR V 9\nBEGIN-VENDOR V\nATTRIBUTE A 1 string", 3),
            ("VENDOR V 9 format=2,2", 1),
            ("FROB x", 1),
            ("ATTRIBUTE A 1 string UnknownVendor", 1),
        ];
        for (text, line) in cases {
            match Dictionary::parse(text) {
                Err(RadiusError::Dictionary { line: got, .. }) => assert_eq!(got, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn parser_accepts_both_vendor_styles_and_hex() {
        let text = "# c\nVENDOR Acme 0x10 # trailing\n$INCLUDE other\n\
                    ATTRIBUTE Acme-A 1 string Acme\nBEGIN-VENDOR Acme\n\
                    ATTRIBUTE Acme-B 0x02 octets[4]\nEND-VENDOR Acme\nVALUE Acme-A X 0x1f\n";
        let d = Dictionary::parse(text).unwrap();
        assert_eq!(d.lookup("Acme-A").unwrap().vendor, Some(16));
        let b = d.attribute(Some(16), 2).unwrap();
        assert_eq!(
            (b.name.as_str(), &b.data_type),
            ("Acme-B", &DataType::Octets)
        );
        assert_eq!(d.value("acme-a", "x"), Some(31));
        assert_eq!(d.attribute(None, 1), None);
    }
}
