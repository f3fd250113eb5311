use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Why a model directory could not be loaded. Every variant names the file at fault and,
/// for tensors, which tensor it should hold.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A file could not be opened or read.
    #[error("{path}: cannot read")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A file of a model being saved could not be written.
    #[error("{path}: cannot write")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// `model.json` is not valid JSON or does not follow the schema.
    #[error("{path}: invalid model description")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's complaint, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// `model.json` parses but describes an unsupported or inconsistent network.
    #[error("{path}: {what}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The part at fault, e.g. `layer conv2` or `input`.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A tensor file is not a readable `.npy` file (bad header, truncated data).
    #[error("{path}: tensor {tensor}: not a readable .npy file")]
    Npy {
        /// The file.
        path: PathBuf,
        /// Which tensor, e.g. `conv1 weights`.
        tensor: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A tensor file has the wrong element type or memory order.
    #[error("{path}: tensor {tensor}: dtype {found}, expected {expected}")]
    Dtype {
        /// The file.
        path: PathBuf,
        /// Which tensor.
        tensor: String,
        /// The dtype (and order) found.
        found: String,
        /// The dtypes accepted.
        expected: &'static str,
    },
    /// A tensor file has the wrong shape.
    #[error("{path}: tensor {tensor}: shape {found:?}, expected {expected:?}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// Which tensor.
        tensor: String,
        /// The shape found.
        found: Vec<u64>,
        /// The shape implied by `model.json`.
        expected: Vec<usize>,
    },
    /// A tensor element is outside its declared encoding.
    #[error("{path}: tensor {tensor}: element {index} is {value}, not {allowed}")]
    OutOfRange {
        /// The file.
        path: PathBuf,
        /// Which tensor.
        tensor: String,
        /// Flat (C-order) index of the first bad element.
        index: usize,
        /// Its value.
        value: i64,
        /// What the declaration allows, e.g. `an odd integer in [-3, 3]`.
        allowed: String,
    },
    /// An image whose shape is not the model's input shape.
    #[error(
        "the image is {}x{}x{} (height x width x channels), the model takes {}x{}x{}",
        found.height, found.width, found.channels,
        expected.height, expected.width, expected.channels
    )]
    InputShape {
        /// The image's shape.
        found: super::Hwc,
        /// The model's input shape.
        expected: super::Hwc,
    },
}
