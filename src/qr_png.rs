//! A QR code as a PNG image, for places that cannot show the pages' inline SVG: the invitation mail with
//! `--qr-in-mail` (mail programs show PNG, few show SVG). Pure.
//!
//! No image crate: the PNG is 1-bit greyscale (black modules on white, a 4-module quiet zone) in uncompressed
//! ("stored") deflate blocks, which every PNG decoder reads. A code for an `otpauth://` URI is about 250 × 250
//! pixels and 8 KiB.

use qrcode::{Color, QrCode};

/// The white border around the code, in modules (ISO/IEC 18004 asks for 4).
const QUIET_ZONE: usize = 4;
/// The largest stored deflate block.
const STORED_BLOCK: usize = 65_535;
const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Why no image was made.
#[derive(Debug, thiserror::Error)]
pub enum QrPngError {
    /// The text does not fit in a QR code.
    #[error("QR code: {0}")]
    Qr(#[from] qrcode::types::QrError),
    /// `module_pixels` is 0, or the image would be absurdly large.
    #[error("QR image size out of range")]
    Size,
}

/// The PNG bytes of a QR code for `text`, each module `module_pixels` square.
pub fn qr_png(text: &str, module_pixels: usize) -> Result<Vec<u8>, QrPngError> {
    let code = QrCode::new(text.as_bytes())?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = modules
        .checked_add(2 * QUIET_ZONE)
        .and_then(|m| m.checked_mul(module_pixels))
        .filter(|&side| side > 0 && side <= 8_192)
        .ok_or(QrPngError::Size)?;
    let dark = |x: usize, y: usize| -> bool {
        let (mx, my) = (x / module_pixels, y / module_pixels);
        let inside = (QUIET_ZONE..QUIET_ZONE + modules).contains(&mx)
            && (QUIET_ZONE..QUIET_ZONE + modules).contains(&my);
        inside && colors.get((my - QUIET_ZONE) * modules + (mx - QUIET_ZONE)) == Some(&Color::Dark)
    };
    // Each row: filter type 0 (none), then the pixels packed 8 to a byte, most significant bit first; 1 = white.
    let row_bytes = side.div_ceil(8);
    let mut raw = Vec::with_capacity(side * (row_bytes + 1));
    for y in 0..side {
        raw.push(0);
        for byte in 0..row_bytes {
            let mut bits = 0u8;
            for bit in 0..8 {
                let x = byte * 8 + bit;
                if x >= side || !dark(x, y) {
                    bits |= 0x80 >> bit;
                }
            }
            raw.push(bits);
        }
    }
    let side = u32::try_from(side).map_err(|_| QrPngError::Size)?;
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&side.to_be_bytes());
    // Bit depth 1, colour type 0 (greyscale), deflate, adaptive filtering, no interlace.
    header.extend_from_slice(&[1, 0, 0, 0, 0]);
    let mut png = SIGNATURE.to_vec();
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    chunk(&mut png, b"IEND", &[]);
    Ok(png)
}

/// Appends one PNG chunk: length, type, data, CRC-32 of type and data.
fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    png.extend_from_slice(&len.to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(png.get(start..).unwrap_or_default());
    png.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 §3.2.4).
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(STORED_BLOCK).collect()
    };
    let last = blocks.len() - 1;
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i == last));
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % MOD;
        b = (b + a) % MOD;
    }
    (b << 16) | a
}

/// CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320), as PNG and zlib use it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn checksums_match_their_reference_values() {
        // The standard check values of CRC-32/ISO-HDLC and Adler-32 (RFC 1950's "Wikipedia" example).
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn stored_blocks_split_at_65535_bytes() {
        let data = vec![7u8; 70_000];
        let z = zlib_stored(&data);
        assert_eq!(&z[..2], &[0x78, 0x01]);
        assert_eq!(z[2], 0, "first block is not the last");
        assert_eq!(&z[3..7], &[0xFF, 0xFF, 0x00, 0x00]);
        let second = 2 + 5 + 65_535;
        assert_eq!(z[second], 1, "second block is the last");
        assert_eq!(z.len(), 2 + 5 + 65_535 + 5 + (70_000 - 65_535) + 4);
        assert_eq!(
            zlib_stored(&[]),
            vec![0x78, 0x01, 1, 0, 0, 0xFF, 0xFF, 0, 0, 0, 1]
        );
    }

    #[test]
    fn an_image_is_a_png_of_the_right_size_with_white_corners() {
        let png = qr_png(
            "otpauth://totp/motpd:alice?secret=JBSWY3DPEHPK3PXP&issuer=motpd",
            6,
        )
        .unwrap();
        assert!(png.starts_with(SIGNATURE));
        assert_eq!(&png[12..16], b"IHDR");
        let side = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let modules =
            QrCode::new(b"otpauth://totp/motpd:alice?secret=JBSWY3DPEHPK3PXP&issuer=motpd")
                .unwrap()
                .width();
        assert_eq!(side as usize, (modules + 8) * 6);
        assert_eq!(&png[24..29], &[1, 0, 0, 0, 0]);
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]));
        // The first row is quiet zone: filter byte 0, then all white.
        let idat = 8 + 25 + 8;
        let first_row = &png[idat + 2 + 5..idat + 2 + 5 + 1 + (side as usize).div_ceil(8)];
        assert_eq!(first_row[0], 0);
        assert!(first_row[1..].iter().all(|&b| b == 0xFF));
        assert!(matches!(qr_png("x", 0), Err(QrPngError::Size)));
    }
}
