//! RFC 4515 escaping of an account ID before it goes into `ldap.user_filter`, so an ID can only ever be an
//! assertion value: `*`, `(`, `)`, `\` and NUL become `\2a \28 \29 \5c \00`, and every byte outside printable
//! ASCII is hex-escaped too (a filter holds no raw control or non-ASCII bytes for a server to interpret).

use crate::config::ID_PLACEHOLDER;

/// `value` escaped as an RFC 4515 assertion value.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &byte in value.as_bytes() {
        match byte {
            b'*' | b'(' | b')' | b'\\' | 0 => push_hex(&mut out, byte),
            0x21..=0x7e | b' ' => out.push(char::from(byte)),
            _ => push_hex(&mut out, byte),
        }
    }
    out
}

fn push_hex(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('\\');
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0x0f)]));
}

/// `template` (`ldap.user_filter`) with every `{id}` replaced by the escaped `id`.
pub fn user_filter(template: &str, id: &str) -> String {
    template.replace(ID_PLACEHOLDER, &escape(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_metacharacters_are_escaped() {
        assert_eq!(escape("*"), "\\2a");
        assert_eq!(escape("("), "\\28");
        assert_eq!(escape(")"), "\\29");
        assert_eq!(escape("\\"), "\\5c");
        assert_eq!(escape("\0"), "\\00");
        assert_eq!(escape("\\2a"), "\\5c2a");
        assert_eq!(
            escape("*)(sAMAccountName=*"),
            "\\2a\\29\\28sAMAccountName=\\2a"
        );
        assert_eq!(escape("user00001)(|(x=*"), "user00001\\29\\28|\\28x=\\2a");
    }

    #[test]
    fn control_and_non_ascii_bytes_are_hex_escaped() {
        assert_eq!(escape("a\nb\x7f"), "a\\0ab\\7f");
        assert_eq!(escape("é"), "\\c3\\a9");
        assert_eq!(escape("王"), "\\e7\\8e\\8b");
    }

    #[test]
    fn ordinary_ids_pass_unchanged() {
        for id in ["user00001", "a.b-c_d@hospital.local", "o'brien", "x y"] {
            assert_eq!(escape(id), id);
        }
    }

    #[test]
    fn every_placeholder_is_replaced() {
        assert_eq!(
            user_filter("(|(sAMAccountName={id})(userPrincipalName={id}))", "a*"),
            "(|(sAMAccountName=a\\2a)(userPrincipalName=a\\2a))"
        );
    }

    #[test]
    fn no_escaped_value_can_close_or_open_a_filter() {
        let all: String = (0u8..=127).map(char::from).chain(['é', '王']).collect();
        let escaped = escape(&all);
        assert!(!escaped.contains(['(', ')', '*', '\0']));
        // Every backslash starts a two-digit hex escape.
        let mut rest = escaped.as_str();
        while let Some(at) = rest.find('\\') {
            let hex = &rest[at + 1..at + 3];
            assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()), "{hex}");
            rest = &rest[at + 3..];
        }
    }
}
