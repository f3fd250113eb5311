//! Showing a person what the model sees: the 28×28 image in the terminal at the model's
//! input bit width, and as a PNG file.

use std::fmt::Write as _;
use std::path::Path;

use ::image::{GrayImage, ImageFormat};

use super::PictureError;
use crate::mnist::{Image, SIDE};

/// Shades from background to full ink; each pixel is drawn two characters wide so the
/// digit keeps its aspect ratio in a terminal.
const RAMP: [char; 5] = [' ', '░', '▒', '▓', '█'];

/// The image as the model's input quantization leaves it (`p >> (8 − bits)`), framed,
/// one text line per row.
pub fn render(image: &Image, bits: u32) -> String {
    let bits = bits.clamp(1, 8);
    let top = (1u32 << bits) - 1;
    let mut out = String::with_capacity((2 * SIDE + 3) * (SIDE + 2) * 3);
    let rule = format!("+{}+\n", "-".repeat(2 * SIDE));
    out.push_str(&rule);
    for row in image {
        out.push('|');
        for &p in row {
            let level = u32::from(p) >> (8 - bits);
            // Round to the nearest shade; level 0 is always blank, the top level full.
            let shade = RAMP[((level * 4 + top / 2) / top) as usize];
            out.push(shade);
            out.push(shade);
        }
        out.push_str("|\n");
    }
    out.push_str(&rule);
    let _ = write!(
        out,
        "{bits}-bit input: {}",
        if bits == 1 {
            "every pixel is ink (█) or background".to_string()
        } else {
            format!("{} levels of ink", top + 1)
        }
    );
    out
}

/// Writes the 8-bit image as a grayscale PNG (whatever the file's extension).
pub fn write_png(image: &Image, path: &Path) -> Result<(), PictureError> {
    let pixels: Vec<u8> = image.iter().flatten().copied().collect();
    let png = GrayImage::from_raw(SIDE as u32, SIDE as u32, pixels).expect("28×28 pixels");
    png.save_with_format(path, ImageFormat::Png)
        .map_err(|e| PictureError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}
