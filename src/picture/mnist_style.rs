//! Turning a picture of a digit into the 28×28 image the model was trained on, the way
//! MNIST itself was made (LeCun, Bottou, Bengio and Haffner, "Gradient-based learning
//! applied to document recognition", Proc. IEEE 1998, §III-A; and the MNIST page): the
//! digit is size-normalised to fit a 20×20 box keeping its aspect ratio, with an
//! anti-aliasing filter, then placed in a 28×28 field so that its centre of mass lies at
//! the centre (pixel (14, 14) in row/column indices, where the MNIST test set has it).
//!
//! Before that, because a person's picture is not NIST's scanned form: the background is
//! found from the border pixels and dark-on-light pictures are inverted so the ink is
//! bright; the ink is stretched to the full range, so faint strokes survive the model's
//! few-bit input; and everything below a noise floor is dropped before the bounding box.
//!
//! An image that already is an MNIST-style digit — 28×28, black background, ink at full
//! contrast, inside a 20×20 box, centre of mass within a pixel of the centre — comes out
//! unchanged (its colours inverted back if they were the wrong way round).

use ::image::imageops::{self, FilterType};
use ::image::{ImageBuffer, Luma};

use super::Gray;
use crate::mnist::{Image, SIDE};

/// Side of the box the digit is scaled to fit.
pub const BOX: usize = 20;
/// Where the centre of mass goes, in row and column indices of the 28×28 field.
pub const CENTRE: f64 = 14.0;
/// Below this range between background and brightest ink (of 1) there is no ink.
const BLANK_RANGE: f32 = 16.0 / 255.0;
/// After stretching, values below this fraction of the ink's range are background noise
/// (paper texture, JPEG ringing, shadows).
const NOISE_FLOOR: f32 = 0.2;
/// An ink bounding box smaller than this on both sides is nearly blank.
const SPECK: usize = 4;

/// A warning about a picture that is still classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// No ink at all: the picture is one colour.
    Blank,
    /// The ink is a speck of `width`×`height` pixels.
    NearlyBlank {
        /// Ink bounding-box width.
        width: usize,
        /// Ink bounding-box height.
        height: usize,
    },
    /// Ink reaches all four edges: a frame, a shadow, a crop through the digit or a
    /// background the border did not reveal.
    TouchesEveryEdge,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::Blank => write!(f, "the picture looks blank: no ink found"),
            Warning::NearlyBlank { width, height } => write!(
                f,
                "the picture looks nearly blank: the ink is only {width}x{height} pixels"
            ),
            Warning::TouchesEveryEdge => write!(
                f,
                "ink touches every edge of the picture: it may be cropped through the digit, \
                 framed, or on an uneven background"
            ),
        }
    }
}

/// What [`prepare`] made of a picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// The 28×28 MNIST-style image: ink bright on black.
    pub image: Image,
    /// The picture was dark ink on a light background and was inverted.
    pub inverted: bool,
    /// The picture already was an MNIST-style 28×28 digit and kept its pixels.
    pub unchanged: bool,
    /// Reasons to doubt the result; the image is classified all the same.
    pub warnings: Vec<Warning>,
}

/// Applies the MNIST recipe to a decoded picture.
pub fn prepare(picture: &Gray) -> Prepared {
    let background = border_median(picture);
    let inverted = background > 0.5;
    let mut values = picture.pixels.clone();
    if inverted {
        values.iter_mut().for_each(|v| *v = 1.0 - *v);
    }
    let background = if inverted {
        1.0 - background
    } else {
        background
    };
    let peak = values.iter().copied().fold(0.0f32, f32::max);
    let blank = |warning| Prepared {
        image: [[0; SIDE]; SIDE],
        inverted,
        unchanged: false,
        warnings: vec![warning],
    };
    if peak - background < BLANK_RANGE {
        return blank(Warning::Blank);
    }
    let gray = Gray {
        width: picture.width,
        height: picture.height,
        pixels: values,
    };
    if let Some(image) = already_mnist_style(&gray) {
        return Prepared {
            image,
            inverted,
            unchanged: true,
            warnings: Vec::new(),
        };
    }
    // Stretch the ink to [0, 1] and drop the noise floor.
    let range = peak - background;
    let ink: Vec<f32> = gray
        .pixels
        .iter()
        .map(|&v| {
            let s = ((v - background) / range).clamp(0.0, 1.0);
            ((s - NOISE_FLOOR) / (1.0 - NOISE_FLOOR)).max(0.0)
        })
        .collect();
    let (x0, y0, x1, y1) = bounding_box(&ink, gray.width).expect("the peak is above the floor");
    let (w, h) = (x1 - x0 + 1, y1 - y0 + 1);
    let mut warnings = Vec::new();
    if w < SPECK && h < SPECK {
        warnings.push(Warning::NearlyBlank {
            width: w,
            height: h,
        });
    }
    if x0 == 0 && y0 == 0 && x1 + 1 == gray.width && y1 + 1 == gray.height {
        warnings.push(Warning::TouchesEveryEdge);
    }
    let crop = ImageBuffer::<Luma<f32>, Vec<f32>>::from_fn(w as u32, h as u32, |x, y| {
        Luma([ink[(y0 + y as usize) * gray.width + x0 + x as usize]])
    });
    // The longer side becomes BOX pixels, the other keeps the aspect ratio.
    let scale = BOX as f64 / w.max(h) as f64;
    let side = |n: usize| ((n as f64 * scale).round() as u32).clamp(1, BOX as u32);
    let (bw, bh) = (side(w), side(h));
    let scaled = imageops::resize(&crop, bw, bh, FilterType::Lanczos3);
    let mut digit: Vec<f32> = scaled.pixels().map(|p| p.0[0].clamp(0.0, 1.0)).collect();
    let top = digit.iter().copied().fold(0.0f32, f32::max);
    if top > 0.0 {
        digit.iter_mut().for_each(|v| *v /= top);
    }
    let (bw, bh) = (bw as usize, bh as usize);
    let quantized: Vec<u8> = digit.iter().map(|&v| (v * 255.0).round() as u8).collect();
    let (cy, cx) = centre_of_mass(&quantized, bw).unwrap_or((bh as f64 / 2.0, bw as f64 / 2.0));
    // Translate so the centre of mass lands on CENTRE, keeping the box in the field.
    let place = |c: f64, n: usize| ((CENTRE - c).round().max(0.0) as usize).min(SIDE - n);
    let (oy, ox) = (place(cy, bh), place(cx, bw));
    let mut image = [[0u8; SIDE]; SIDE];
    for (y, row) in quantized.chunks_exact(bw).enumerate() {
        image[oy + y][ox..ox + bw].copy_from_slice(row);
    }
    Prepared {
        image,
        inverted,
        unchanged: false,
        warnings,
    }
}

/// The median of the outermost ring of pixels, a ring ~1/28 of the shorter side thick.
fn border_median(picture: &Gray) -> f32 {
    let (w, h) = (picture.width, picture.height);
    let t = (w.min(h) / SIDE).max(1);
    let mut ring: Vec<f32> = picture
        .pixels
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            let (y, x) = (i / w, i % w);
            y < t || x < t || y + t >= h || x + t >= w
        })
        .map(|(_, &v)| v)
        .collect();
    ring.sort_by(f32::total_cmp);
    ring[ring.len() / 2]
}

/// `(x0, y0, x1, y1)`, inclusive, of the pixels above zero.
fn bounding_box<T: Copy + Default + PartialOrd>(
    pixels: &[T],
    width: usize,
) -> Option<(usize, usize, usize, usize)> {
    let zero = T::default();
    pixels
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > zero)
        .fold(None, |b, (i, _)| {
            let (x, y) = (i % width, i / width);
            Some(match b {
                None => (x, y, x, y),
                Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
            })
        })
}

/// The centre of mass `(row, column)` of 8-bit pixels, `None` if all are zero.
pub fn centre_of_mass(pixels: &[u8], width: usize) -> Option<(f64, f64)> {
    let (mut m, mut my, mut mx) = (0f64, 0f64, 0f64);
    for (i, &p) in pixels.iter().enumerate() {
        let p = f64::from(p);
        m += p;
        my += p * (i / width) as f64;
        mx += p * (i % width) as f64;
    }
    (m > 0.0).then(|| (my / m, mx / m))
}

/// The picture's pixels, if it already is a 28×28 MNIST-style digit: black border, ink
/// reaching nearly full brightness, inside 20×20, centred within a pixel.
fn already_mnist_style(gray: &Gray) -> Option<Image> {
    if (gray.width, gray.height) != (SIDE, SIDE) {
        return None;
    }
    let pixels: Vec<u8> = gray
        .pixels
        .iter()
        .map(|&v| (v * 255.0).round() as u8)
        .collect();
    let peak = pixels.iter().copied().max()?;
    let (x0, y0, x1, y1) = bounding_box(&pixels, SIDE)?;
    let (cy, cx) = centre_of_mass(&pixels, SIDE)?;
    let fits = x1 - x0 < BOX && y1 - y0 < BOX;
    let centred = (cy - CENTRE).abs() <= 1.0 && (cx - CENTRE).abs() <= 1.0;
    (peak >= 250 && fits && centred).then(|| crate::mnist::to_image(&pixels))
}
