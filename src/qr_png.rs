//! A QR code as a PNG image, for places that cannot show the pages' inline SVG: the invitation mail with
//! `--qr-in-mail` (mail programs show PNG, few show SVG). Pure.
//!
//! The PNG is 1-bit greyscale (black modules on white, a 4-module quiet zone), encoded by the `png` crate. A
//! code for an `otpauth://` URI is about 250 × 250 pixels and well under 1 KiB.

use png::{BitDepth, ColorType, Encoder};
use qrcode::{Color, QrCode};

/// The white border around the code, in modules (ISO/IEC 18004 asks for 4).
const QUIET_ZONE: usize = 4;
/// The largest side accepted, in pixels: a guard against absurd `module_pixels`.
const MAX_SIDE: usize = 8_192;

/// Why no image was made.
#[derive(Debug, thiserror::Error)]
pub enum QrPngError {
    /// The text does not fit in a QR code.
    #[error("QR code: {0}")]
    Qr(#[from] qrcode::types::QrError),
    /// `module_pixels` is 0, or the image would be absurdly large.
    #[error("QR image size out of range")]
    Size,
    /// The PNG encoder refused the image.
    #[error("PNG encoding: {0}")]
    Png(#[from] png::EncodingError),
}

/// The PNG bytes of a QR code for `text`, each module `module_pixels` square.
pub fn qr_png(text: &str, module_pixels: usize) -> Result<Vec<u8>, QrPngError> {
    let code = QrCode::new(text.as_bytes())?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = modules
        .checked_add(2 * QUIET_ZONE)
        .and_then(|m| m.checked_mul(module_pixels))
        .filter(|&side| side > 0 && side <= MAX_SIDE)
        .ok_or(QrPngError::Size)?;
    let dark = |x: usize, y: usize| -> bool {
        let (mx, my) = (x / module_pixels, y / module_pixels);
        let inside = (QUIET_ZONE..QUIET_ZONE + modules).contains(&mx)
            && (QUIET_ZONE..QUIET_ZONE + modules).contains(&my);
        inside && colors.get((my - QUIET_ZONE) * modules + (mx - QUIET_ZONE)) == Some(&Color::Dark)
    };
    // Rows of pixels packed 8 to a byte, most significant bit first; 1 = white (greyscale 1-bit).
    let row_bytes = side.div_ceil(8);
    let mut pixels = Vec::with_capacity(side * row_bytes);
    for y in 0..side {
        for byte in 0..row_bytes {
            let mut bits = 0u8;
            for bit in 0..8 {
                let x = byte * 8 + bit;
                if x >= side || !dark(x, y) {
                    bits |= 0x80 >> bit;
                }
            }
            pixels.push(bits);
        }
    }
    let side = u32::try_from(side).map_err(|_| QrPngError::Size)?;
    let mut png = Vec::new();
    let mut encoder = Encoder::new(&mut png, side, side);
    encoder.set_color(ColorType::Grayscale);
    encoder.set_depth(BitDepth::One);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const URI: &str = "otpauth://totp/motpd:alice?secret=JBSWY3DPEHPK3PXP&issuer=motpd";

    /// The image decoded (by the `png` crate's decoder) to one byte per pixel: (side, pixels).
    fn decode(png_bytes: &[u8]) -> (usize, Vec<u8>) {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!(
            (info.color_type, info.bit_depth),
            (ColorType::Grayscale, BitDepth::One)
        );
        assert_eq!(info.width, info.height);
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut buffer).unwrap();
        assert_eq!(frame.color_type, ColorType::Grayscale);
        assert_eq!(frame.bit_depth, BitDepth::Eight);
        buffer.truncate(frame.buffer_size());
        (frame.width as usize, buffer)
    }

    #[test]
    fn an_image_is_a_png_of_the_right_size_with_white_corners() {
        let png_bytes = qr_png(URI, 6).unwrap();
        assert!(png_bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        let (side, pixels) = decode(&png_bytes);
        let modules = QrCode::new(URI.as_bytes()).unwrap().width();
        assert_eq!(side, (modules + 8) * 6);
        assert_eq!(pixels.len(), side * side);
        // The quiet zone is white all round; the finder pattern's corner is black.
        let quiet = QUIET_ZONE * 6;
        for i in 0..side {
            for j in 0..quiet {
                assert_eq!(pixels[j * side + i], 0xFF, "top row {j}, column {i}");
                assert_eq!(pixels[i * side + j], 0xFF, "left column {j}, row {i}");
                assert_eq!(pixels[(side - 1 - j) * side + i], 0xFF, "bottom");
                assert_eq!(pixels[i * side + side - 1 - j], 0xFF, "right");
            }
        }
        assert_eq!(pixels[quiet * side + quiet], 0);
        assert!(matches!(qr_png("x", 0), Err(QrPngError::Size)));
        assert!(matches!(qr_png("x", 1_000), Err(QrPngError::Size)));
    }

    #[test]
    fn the_image_decodes_back_to_the_text() {
        for module_pixels in [1, 4] {
            let (side, pixels) = decode(&qr_png(URI, module_pixels).unwrap());
            let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
                pixels[y * side + x]
            });
            let grids = prepared.detect_grids();
            assert_eq!(grids.len(), 1, "{module_pixels} pixel(s) per module");
            assert_eq!(grids[0].decode().unwrap().1, URI);
        }
    }
}
