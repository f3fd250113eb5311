//! Decoding any picture file into linear grayscale: PNG (every colour type and depth,
//! palette, alpha), JPEG, BMP, WebP, TIFF and GIF through the `image` crate, and the
//! `(H, W)` uint8 `.npy` arrays that NumPy users have. The format is recognised by the
//! file's magic bytes, never by its name.

use std::io::Cursor;
use std::path::Path;

use ::image::{DynamicImage, ImageFormat, ImageReader, Limits};
use npyz::{DType, NpyFile, Order, TypeChar};

use super::{Gray, PictureError};

/// Largest width or height accepted: far beyond any photo of a digit, small enough that
/// a hostile header cannot make the decoder allocate much.
pub const MAX_SIDE: u32 = 8192;
/// Largest number of pixels accepted (a 48-megapixel photo).
const MAX_PIXELS: u64 = 48 << 20;
/// Most bytes a decoder may allocate.
const MAX_ALLOC: u64 = 512 << 20;
/// Smallest width or height that can hold a digit.
const MIN_SIDE: u32 = 3;
const NPY_MAGIC: &[u8] = b"\x93NUMPY";
/// The formats decoded; anything else is refused by name.
const FORMATS: [ImageFormat; 6] = [
    ImageFormat::Png,
    ImageFormat::Jpeg,
    ImageFormat::Bmp,
    ImageFormat::WebP,
    ImageFormat::Tiff,
    ImageFormat::Gif,
];

/// The file-name extensions of what [`decode`] reads: its formats' and `npy`.
pub fn extensions() -> impl Iterator<Item = &'static str> {
    FORMATS
        .iter()
        .flat_map(|f| f.extensions_str().iter().copied())
        .chain(["npy"])
}

/// Whether `path`'s name ends in one of [`extensions`] (any case): how a directory's
/// pictures are told from its other files. [`decode`] itself goes by the magic bytes.
pub fn named_as_picture(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Decodes `bytes` (the contents of `path`, named in errors) to grayscale.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<Gray, PictureError> {
    if bytes.starts_with(NPY_MAGIC) {
        return decode_npy(path, bytes);
    }
    let (width, height) = reader(path, bytes)?
        .into_dimensions()
        .map_err(|e| decode_error(path, &e))?;
    check_size(path, width, height)?;
    let image = reader(path, bytes)?
        .decode()
        .map_err(|e| decode_error(path, &e))?;
    Ok(flatten(&image))
}

/// A reader of one of [`FORMATS`], with allocation and size limits set.
fn reader<'a>(path: &Path, bytes: &'a [u8]) -> Result<ImageReader<Cursor<&'a [u8]>>, PictureError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PictureError::Decode {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if !reader.format().is_some_and(|f| FORMATS.contains(&f)) {
        return Err(PictureError::UnknownFormat {
            path: path.to_path_buf(),
        });
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    Ok(reader)
}

fn decode_error(path: &Path, e: &::image::ImageError) -> PictureError {
    match e {
        ::image::ImageError::Limits(_) => PictureError::TooLarge {
            path: path.to_path_buf(),
            found: "more pixels than a decoder may allocate".into(),
        },
        other => PictureError::Decode {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    }
}

/// Refuses pictures too small to hold a digit or too large to be one.
fn check_size(path: &Path, width: u32, height: u32) -> Result<(), PictureError> {
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(PictureError::TooSmall {
            path: path.to_path_buf(),
            width,
            height,
        });
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PictureError::TooLarge {
            path: path.to_path_buf(),
            found: format!("{width}x{height} pixels"),
        });
    }
    Ok(())
}

/// Rec. 601 luma of every pixel, with any alpha composited over the background the ink
/// stands out from: the opaque content's mean decides whether that is white or black.
fn flatten(image: &DynamicImage) -> Gray {
    let rgba = image.to_rgba32f();
    let (width, height) = rgba.dimensions();
    let luma: Vec<(f32, f32)> = rgba
        .pixels()
        .map(|p| {
            let [r, g, b, a] = p.0;
            (0.299 * r + 0.587 * g + 0.114 * b, a.clamp(0.0, 1.0))
        })
        .collect();
    let opacity: f32 = luma.iter().map(|&(_, a)| a).sum();
    let translucent = luma.iter().any(|&(_, a)| a < 1.0);
    let background = if translucent && opacity > 0.0 {
        let content = luma.iter().map(|&(l, a)| l * a).sum::<f32>() / opacity;
        if content < 0.5 { 1.0 } else { 0.0 }
    } else {
        0.0
    };
    Gray {
        width: width as usize,
        height: height as usize,
        pixels: luma
            .into_iter()
            .map(|(l, a)| (a * l + (1.0 - a) * background).clamp(0.0, 1.0))
            .collect(),
    }
}

fn decode_npy(path: &Path, bytes: &[u8]) -> Result<Gray, PictureError> {
    let npy_err = |e: std::io::Error| PictureError::Decode {
        path: path.to_path_buf(),
        reason: format!("corrupt .npy file: {e}"),
    };
    let npy = NpyFile::new(bytes).map_err(npy_err)?;
    let unsigned_byte = matches!(
        npy.dtype(),
        DType::Plain(ts) if ts.type_char() == TypeChar::Uint && ts.size_field() == 1
    );
    let shape = npy.shape().to_vec();
    if !unsigned_byte || shape.len() != 2 || npy.order() != Order::C {
        return Err(PictureError::Npy {
            path: path.to_path_buf(),
            found: format!(
                "array of shape {shape:?}, dtype {}, {:?} order",
                match npy.dtype() {
                    DType::Plain(ts) => ts.to_string(),
                    other => format!("{other:?}"),
                },
                npy.order()
            ),
        });
    }
    let clamp = |d: u64| u32::try_from(d).unwrap_or(u32::MAX);
    let (height, width) = (clamp(shape[0]), clamp(shape[1]));
    check_size(path, width, height)?;
    // The header's shape is checked against the bytes present before anything is kept.
    let pixels = npy.into_vec::<u8>().map_err(npy_err)?;
    Ok(Gray {
        width: width as usize,
        height: height as usize,
        pixels: pixels.into_iter().map(|p| f32::from(p) / 255.0).collect(),
    })
}
