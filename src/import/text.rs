//! The text of an admin's import file, whatever Excel saved it as: UTF-8 (with or without a BOM), or Big5,
//! which Excel on Taiwanese Windows writes for "CSV (comma delimited)". Line ends are normalised to `\n` so
//! that the CSV reader counts lines the same for CRLF files. Pure: bytes in, text out.

use std::borrow::Cow;

/// The encoding a file was read as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SourceEncoding {
    /// UTF-8, the expected one.
    #[default]
    Utf8,
    /// Not valid UTF-8, but valid Big5 (Traditional Chinese Windows' ANSI code page).
    Big5,
}

/// The file is neither UTF-8 nor Big5.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the file is neither UTF-8 nor Big5 text (first bad byte at offset {offset}); in Excel, save it with \
     \"Save as\" → \"CSV UTF-8 (comma delimited)\""
)]
pub struct EncodingError {
    /// Where UTF-8 decoding first failed.
    pub offset: usize,
}

/// Decodes `bytes` as UTF-8, or else as Big5; strips a UTF-8 BOM and turns CRLF (and lone CR) into LF.
pub fn decode(bytes: &[u8]) -> Result<(String, SourceEncoding), EncodingError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let (text, encoding): (Cow<'_, str>, _) = match std::str::from_utf8(bytes) {
        Ok(text) => (Cow::Borrowed(text), SourceEncoding::Utf8),
        Err(e) => {
            let big5 = encoding_rs::BIG5
                .decode_without_bom_handling_and_without_replacement(bytes)
                .ok_or(EncodingError {
                    offset: e.valid_up_to(),
                })?;
            (big5, SourceEncoding::Big5)
        }
    };
    Ok((normalize_line_ends(&text), encoding))
}

/// CRLF and lone CR become LF (a CR inside a quoted cell too: no import column holds one).
fn normalize_line_ends(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_bom_crlf_and_big5() {
        let (text, enc) = decode(b"\xef\xbb\xbfid,name\r\na,A\r\n").unwrap();
        assert_eq!(
            (text.as_str(), enc),
            ("id,name\na,A\n", SourceEncoding::Utf8)
        );
        // 陳小美 in Big5.
        let (text, enc) = decode(b"id,name\r\nchen,\xb3\xaf\xa4\x70\xac\xfc\r\n").unwrap();
        assert_eq!(
            (text.as_str(), enc),
            ("id,name\nchen,陳小美\n", SourceEncoding::Big5)
        );
        // A lead byte with no trail byte is neither.
        let error = decode(b"id,name\na,\xb3").unwrap_err();
        assert_eq!(error.offset, 10);
        assert!(error.to_string().contains("CSV UTF-8"), "{error}");
    }
}
