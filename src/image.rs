//! Reading one 28×28 input image from a file: an 8-bit grayscale PNG or a `.npy` array of
//! shape (28, 28) and dtype uint8. Either way white (255) is ink on a black (0) background,
//! as in MNIST. The format is recognised by the file's magic bytes, not its name.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};

use npyz::{DType, NpyFile, Order, TypeChar};
use thiserror::Error;

use crate::mnist::{Image, SIDE};

/// Largest image file accepted, in bytes.
const MAX_FILE_BYTES: u64 = 16 << 20;
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// Why an image file could not be used.
#[derive(Debug, Error)]
pub enum ImageError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file is larger than any 28×28 image needs.
    #[error("{path}: larger than {MAX_FILE_BYTES} bytes, not a 28x28 image")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// Neither the PNG nor the NPY magic.
    #[error(
        "{path}: not a PNG or .npy file (expected a 28x28 8-bit grayscale PNG or a (28, 28) uint8 .npy)"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A PNG that does not decode.
    #[error("{path}: corrupt PNG")]
    Png {
        /// The file.
        path: PathBuf,
        /// The decoder's complaint.
        #[source]
        source: png::DecodingError,
    },
    /// A `.npy` whose header or data cannot be read.
    #[error("{path}: corrupt .npy file")]
    Npy {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A readable image of the wrong size or pixel format.
    #[error("{path}: {found}, expected {expected}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What the file holds.
        found: String,
        /// What is accepted.
        expected: &'static str,
    },
}

/// Reads a 28×28 grayscale image from a PNG or `.npy` file.
pub fn read_image(path: &Path) -> Result<Image, ImageError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|source| ImageError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ImageError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    if bytes.starts_with(PNG_MAGIC) {
        read_png(path, bytes)
    } else if bytes.starts_with(NPY_MAGIC) {
        read_npy(path, &bytes)
    } else {
        Err(ImageError::UnknownFormat {
            path: path.to_path_buf(),
        })
    }
}

fn read_png(path: &Path, bytes: Vec<u8>) -> Result<Image, ImageError> {
    const EXPECTED: &str = "a 28x28 8-bit grayscale PNG";
    let png_err = |source| ImageError::Png {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = png::Decoder::new(Cursor::new(bytes))
        .read_info()
        .map_err(png_err)?;
    let info = reader.info();
    let (width, height, color, depth) = (info.width, info.height, info.color_type, info.bit_depth);
    if (width, height) != (SIDE as u32, SIDE as u32)
        || color != png::ColorType::Grayscale
        || depth != png::BitDepth::Eight
    {
        return Err(ImageError::Unsupported {
            path: path.to_path_buf(),
            found: format!(
                "{width}x{height} {color:?} PNG with {} bits per sample",
                depth as u8
            ),
            expected: EXPECTED,
        });
    }
    let mut pixels = vec![0u8; SIDE * SIDE];
    reader.next_frame(&mut pixels).map_err(png_err)?;
    Ok(crate::mnist::to_image(&pixels))
}

fn read_npy(path: &Path, bytes: &[u8]) -> Result<Image, ImageError> {
    const EXPECTED: &str = "shape (28, 28), dtype uint8, C order";
    let npy_err = |source| ImageError::Npy {
        path: path.to_path_buf(),
        source,
    };
    let npy = NpyFile::new(bytes).map_err(npy_err)?;
    let unsigned_byte = matches!(
        npy.dtype(),
        DType::Plain(ts) if ts.type_char() == TypeChar::Uint && ts.size_field() == 1
    );
    if !unsigned_byte || npy.shape() != [SIDE as u64, SIDE as u64] || npy.order() != Order::C {
        return Err(ImageError::Unsupported {
            path: path.to_path_buf(),
            found: format!(
                "array of shape {:?}, dtype {}, {:?} order",
                npy.shape(),
                match npy.dtype() {
                    DType::Plain(ts) => ts.to_string(),
                    other => format!("{other:?}"),
                },
                npy.order()
            ),
            expected: EXPECTED,
        });
    }
    let pixels = npy.into_vec::<u8>().map_err(npy_err)?;
    Ok(crate::mnist::to_image(&pixels))
}
