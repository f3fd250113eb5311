//! MNIST in the idx format of LeCun, Cortes and Burges: images (idx3, unsigned bytes,
//! 28×28) and labels (idx1, unsigned bytes 0..=9), each file gzipped or not.
//!
//! Every count in a header is checked against the bytes actually present before anything
//! is allocated from it, so a truncated file or a lying header is an error, not a crash.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use thiserror::Error;

/// Side of an MNIST image in pixels.
pub const SIDE: usize = 28;

/// One grayscale image, row-major: `image[y][x]`, 0 = black background, 255 = ink.
pub type Image = [[u8; SIDE]; SIDE];

/// Largest decompressed idx file accepted (the 60k training images are about 47 MB).
const MAX_FILE_BYTES: u64 = 128 << 20;

/// Standard file name (without `.gz`) of the 10k test images.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// Standard file name (without `.gz`) of the 10k test labels.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// Why an idx file could not be read.
#[derive(Debug, Error)]
pub enum MnistError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file starts with the gzip magic but does not decompress.
    #[error("{path}: corrupt gzip data")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The (decompressed) file is larger than any MNIST file.
    #[error("{path}: larger than {MAX_FILE_BYTES} bytes, not an MNIST file")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The header is missing, or its magic number is not the expected idx type.
    #[error("{path}: not an idx{expected_dims} unsigned-byte file ({found})")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// Number of dimensions expected (3 for images, 1 for labels).
        expected_dims: u8,
        /// What was found instead.
        found: String,
    },
    /// Images are not 28×28.
    #[error("{path}: images are {rows}x{cols}, expected {SIDE}x{SIDE}")]
    ImageSize {
        /// The file.
        path: PathBuf,
        /// Rows given in the header.
        rows: u32,
        /// Columns given in the header.
        cols: u32,
    },
    /// The header's item count does not match the data that follows it.
    #[error(
        "{path}: header declares {declared} items ({expected_bytes} bytes of data), file has {actual_bytes} bytes of data"
    )]
    LengthMismatch {
        /// The file.
        path: PathBuf,
        /// Items declared by the header.
        declared: u32,
        /// Data bytes implied by the header.
        expected_bytes: u64,
        /// Data bytes present.
        actual_bytes: u64,
    },
    /// A label is not a digit.
    #[error("{path}: label {index} is {value}, not a digit 0..=9")]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// Position of the label.
        index: usize,
        /// Its value.
        value: u8,
    },
    /// Images and labels files disagree on the number of items.
    #[error("{images} has {num_images} images but {labels} has {num_labels} labels")]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// Number of images.
        num_images: usize,
        /// The labels file.
        labels: PathBuf,
        /// Number of labels.
        num_labels: usize,
    },
    /// Neither `NAME` nor `NAME.gz` exists in the directory.
    #[error("{dir}: neither {name} nor {name}.gz exists")]
    Missing {
        /// The directory searched.
        dir: PathBuf,
        /// The standard file name.
        name: String,
    },
}

/// Images with their labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// The images.
    pub images: Vec<Image>,
    /// `labels[i]` is the digit shown by `images[i]`.
    pub labels: Vec<u8>,
}

/// Reads a whole file, decompressing it if it starts with the gzip magic, capped in size.
fn read_maybe_gzipped(path: &Path) -> Result<Vec<u8>, MnistError> {
    let io_err = |source| MnistError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut raw = Vec::new();
    File::open(path)
        .map_err(io_err)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(io_err)?;
    gunzip(path, raw)
}

/// Decompresses `raw` (named `path` in errors) if it starts with the gzip magic.
fn gunzip(path: &Path, mut raw: Vec<u8>) -> Result<Vec<u8>, MnistError> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(raw.as_slice())
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|source| MnistError::Gzip {
                path: path.to_path_buf(),
                source,
            })?;
        raw = out;
    }
    if raw.len() as u64 > MAX_FILE_BYTES {
        return Err(MnistError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(raw)
}

/// Parses an idx header of unsigned bytes with `dims` dimensions; returns the dimensions
/// and the data after the header.
fn parse_header<'a>(
    path: &Path,
    bytes: &'a [u8],
    dims: u8,
) -> Result<(Vec<u32>, &'a [u8]), MnistError> {
    let header_len = 4 + 4 * usize::from(dims);
    let bad = |found: String| MnistError::BadHeader {
        path: path.to_path_buf(),
        expected_dims: dims,
        found,
    };
    if bytes.len() < header_len {
        return Err(bad(format!(
            "{} bytes, shorter than the {header_len}-byte header",
            bytes.len()
        )));
    }
    let magic = [0, 0, 0x08, dims];
    if bytes[..4] != magic {
        return Err(bad(format!(
            "magic {:02x}{:02x}{:02x}{:02x}, expected {:02x}{:02x}{:02x}{:02x}",
            bytes[0], bytes[1], bytes[2], bytes[3], magic[0], magic[1], magic[2], magic[3]
        )));
    }
    let sizes = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((sizes, &bytes[header_len..]))
}

/// Checks that `data` holds exactly `count` items of `item_bytes` bytes.
fn check_length(path: &Path, data: &[u8], count: u32, item_bytes: u64) -> Result<(), MnistError> {
    let expected_bytes = u64::from(count) * item_bytes;
    if expected_bytes != data.len() as u64 {
        return Err(MnistError::LengthMismatch {
            path: path.to_path_buf(),
            declared: count,
            expected_bytes,
            actual_bytes: data.len() as u64,
        });
    }
    Ok(())
}

/// Reads an idx3 images file (28×28 unsigned bytes), gzipped or not.
pub fn read_images(path: &Path) -> Result<Vec<Image>, MnistError> {
    parse_images(path, &read_maybe_gzipped(path)?)
}

/// Parses the bytes of an idx3 images file (named `path` in errors).
fn parse_images(path: &Path, bytes: &[u8]) -> Result<Vec<Image>, MnistError> {
    let (dims, data) = parse_header(path, bytes, 3)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows as usize != SIDE || cols as usize != SIDE {
        return Err(MnistError::ImageSize {
            path: path.to_path_buf(),
            rows,
            cols,
        });
    }
    check_length(path, data, count, (SIDE * SIDE) as u64)?;
    Ok(data.chunks_exact(SIDE * SIDE).map(to_image).collect())
}

/// Copies `SIDE * SIDE` row-major pixels into an [`Image`].
pub fn to_image(pixels: &[u8]) -> Image {
    let mut image = [[0u8; SIDE]; SIDE];
    for (row, src) in image.iter_mut().zip(pixels.chunks_exact(SIDE)) {
        row.copy_from_slice(src);
    }
    image
}

/// Reads an idx1 labels file (unsigned bytes, each a digit), gzipped or not.
pub fn read_labels(path: &Path) -> Result<Vec<u8>, MnistError> {
    parse_labels(path, &read_maybe_gzipped(path)?)
}

/// Parses the bytes of an idx1 labels file (named `path` in errors).
fn parse_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, MnistError> {
    let (dims, data) = parse_header(path, bytes, 1)?;
    check_length(path, data, dims[0], 1)?;
    if let Some((index, &value)) = data.iter().enumerate().find(|(_, v)| **v > 9) {
        return Err(MnistError::BadLabel {
            path: path.to_path_buf(),
            index,
            value,
        });
    }
    Ok(data.to_vec())
}

/// The path of `name` or `name.gz` in `dir`, whichever exists (uncompressed first).
pub fn find_file(dir: &Path, name: &str) -> Result<PathBuf, MnistError> {
    [name.to_string(), format!("{name}.gz")]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| MnistError::Missing {
            dir: dir.to_path_buf(),
            name: name.to_string(),
        })
}

/// Reads an images file and a labels file and checks that they match in count.
pub fn read_dataset(images: &Path, labels: &Path) -> Result<Dataset, MnistError> {
    paired(images, read_images(images)?, labels, read_labels(labels)?)
}

/// Pairs images with labels, checking that their counts match.
fn paired(
    images: &Path,
    image_data: Vec<Image>,
    labels: &Path,
    label_data: Vec<u8>,
) -> Result<Dataset, MnistError> {
    if image_data.len() != label_data.len() {
        return Err(MnistError::CountMismatch {
            images: images.to_path_buf(),
            num_images: image_data.len(),
            labels: labels.to_path_buf(),
            num_labels: label_data.len(),
        });
    }
    Ok(Dataset {
        images: image_data,
        labels: label_data,
    })
}

/// Reads the 10k test set (`t10k-*-ubyte`, optionally `.gz`) from a directory.
pub fn read_test_set(dir: &Path) -> Result<Dataset, MnistError> {
    read_dataset(&find_file(dir, TEST_IMAGES)?, &find_file(dir, TEST_LABELS)?)
}

/// The 10k test set built into this executable (from `models/mnist/`), so the commands
/// that use it work from any directory and after `cargo install`.
pub fn bundled_test_set() -> Result<Dataset, MnistError> {
    const IMAGES: &[u8] = include_bytes!("../models/mnist/t10k-images-idx3-ubyte.gz");
    const LABELS: &[u8] = include_bytes!("../models/mnist/t10k-labels-idx1-ubyte.gz");
    let (images, labels) = (
        Path::new("(bundled)/t10k-images-idx3-ubyte.gz"),
        Path::new("(bundled)/t10k-labels-idx1-ubyte.gz"),
    );
    paired(
        images,
        parse_images(images, &gunzip(images, IMAGES.to_vec())?)?,
        labels,
        parse_labels(labels, &gunzip(labels, LABELS.to_vec())?)?,
    )
}

/// The test set in `dir`, or the bundled one for `None`.
pub fn test_set(dir: Option<&Path>) -> Result<Dataset, MnistError> {
    dir.map_or_else(bundled_test_set, read_test_set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 0x08, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write temp file");
        path
    }

    #[test]
    fn reads_plain_and_gzipped_images() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut pixels = vec![0u8; 2 * SIDE * SIDE];
        pixels[SIDE * SIDE + 3 * SIDE + 5] = 200;
        let plain = write(dir.path(), "a", &idx(&[2, 28, 28], &pixels));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &idx(&[2, 28, 28], &pixels)).expect("gzip");
        let zipped = write(dir.path(), "a.gz", &gz.finish().expect("gzip"));
        for path in [plain, zipped] {
            let images = read_images(&path).expect("valid file");
            assert_eq!(images.len(), 2);
            assert_eq!(images[1][3][5], 200);
            assert_eq!(images[0][3][5], 0);
        }
    }

    #[test]
    fn lying_header_count_is_rejected() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write(dir.path(), "a", &idx(&[u32::MAX, 28, 28], &[0u8; 784]));
        let err = read_images(&path).expect_err("lying header");
        assert!(
            matches!(
                err,
                MnistError::LengthMismatch {
                    declared: u32::MAX,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn truncated_and_wrong_files_are_rejected() {
        let dir = tempfile::tempdir().expect("temp dir");
        let short = write(dir.path(), "short", &[0, 0, 8]);
        assert!(matches!(
            read_images(&short),
            Err(MnistError::BadHeader { .. })
        ));
        let labels_as_images = write(dir.path(), "labels", &idx(&[1], &[3]));
        assert!(matches!(
            read_images(&labels_as_images),
            Err(MnistError::BadHeader { .. })
        ));
        let small = write(dir.path(), "small", &idx(&[1, 8, 8], &[0u8; 64]));
        assert!(matches!(
            read_images(&small),
            Err(MnistError::ImageSize { rows: 8, .. })
        ));
        let bad_label = write(dir.path(), "bad", &idx(&[2], &[3, 12]));
        assert!(matches!(
            read_labels(&bad_label),
            Err(MnistError::BadLabel {
                index: 1,
                value: 12,
                ..
            })
        ));
        let bad_gz = write(dir.path(), "bad.gz", &[0x1f, 0x8b, 1, 2, 3]);
        assert!(matches!(read_labels(&bad_gz), Err(MnistError::Gzip { .. })));
    }

    #[test]
    fn count_mismatch_between_files_is_rejected() {
        let dir = tempfile::tempdir().expect("temp dir");
        let images = write(dir.path(), "i", &idx(&[1, 28, 28], &[0u8; 784]));
        let labels = write(dir.path(), "l", &idx(&[2], &[1, 2]));
        assert!(matches!(
            read_dataset(&images, &labels),
            Err(MnistError::CountMismatch {
                num_images: 1,
                num_labels: 2,
                ..
            })
        ));
    }
}
