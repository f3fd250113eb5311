//! A person's picture of a digit, as the model's 28×28 input: decoding any common image
//! file ([`decode`]), the MNIST preprocessing ([`mnist_style`]) and showing the result
//! ([`show`]). Every command that takes an image goes through [`read`].

pub mod decode;
pub mod mnist_style;
pub mod show;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use mnist_style::{Prepared, Warning, prepare};

/// Largest picture file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// A decoded picture in linear grayscale, row-major, 0 = black and 1 = white.
#[derive(Clone, Debug, PartialEq)]
pub struct Gray {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `width × height` values in `[0, 1]`.
    pub pixels: Vec<f32>,
}

/// Why a file cannot be used as a picture of a digit.
#[derive(Debug, Error)]
pub enum PictureError {
    /// The file could not be opened or read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Not a format gcnn decodes.
    #[error(
        "{}: not a picture gcnn can read (PNG, JPEG, BMP, WebP, TIFF, GIF, or a 2-D uint8 .npy)",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A known format that does not decode.
    #[error("{}: corrupt picture: {reason}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's complaint.
        reason: String,
    },
    /// A `.npy` array that is not a 2-D uint8 image.
    #[error("{}: {found}, expected a 2-D uint8 array in C order", path.display())]
    Npy {
        /// The file.
        path: PathBuf,
        /// What it holds.
        found: String,
    },
    /// Too few pixels to hold a digit.
    #[error("{}: {width}x{height} pixels is too small to hold a digit", path.display())]
    TooSmall {
        /// The file.
        path: PathBuf,
        /// Columns.
        width: u32,
        /// Rows.
        height: u32,
    },
    /// Larger than any picture of a digit needs.
    #[error("{}: {found}, too large for a picture of a digit", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What it holds.
        found: String,
    },
    /// The preprocessed image could not be written.
    #[error("cannot write {}: {reason}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Reads, decodes and preprocesses the picture in `path`.
pub fn read(path: &Path) -> Result<Prepared, PictureError> {
    let io_err = |source| PictureError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(PictureError::TooLarge {
            path: path.to_path_buf(),
            found: format!("a file of more than {MAX_FILE_BYTES} bytes"),
        });
    }
    Ok(prepare(&decode::decode(path, &bytes)?))
}
