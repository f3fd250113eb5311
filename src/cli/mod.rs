//! The logic behind the `gcnn` subcommands; `src/main.rs` only parses arguments.

pub mod accuracy;
pub mod compile;
pub mod evaluator;
pub mod garbler;
pub mod infer;

use thiserror::Error;

use crate::image::ImageError;
use crate::mnist::MnistError;
use crate::model::ModelError;

/// Why a subcommand failed.
#[derive(Debug, Error)]
pub enum CliError {
    /// The model directory is unusable.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The MNIST files are unusable.
    #[error(transparent)]
    Mnist(#[from] MnistError),
    /// The `--image` file is unusable.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// `--mnist-index` is past the end of the test set.
    #[error("--mnist-index {index} is out of range: the test set has {len} images")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// Number of images available.
        len: usize,
    },
    /// Nothing to measure.
    #[error("no images to evaluate (--limit 0 or an empty test set)")]
    NoImages,
    /// Writing progress or results failed.
    #[error("cannot write output")]
    Output(#[source] std::io::Error),
    /// A file or directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The path.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The circuit file is unusable or inconsistent.
    #[error(transparent)]
    Inference(#[from] crate::inference::InferenceError),
    /// The circuit file could not be read or written.
    #[error(transparent)]
    File(#[from] crate::circuit::file::FileError),
    /// Connecting or listening failed.
    #[error(transparent)]
    Net(#[from] crate::twopc::TwoPcError),
    /// Accepting a client failed.
    #[error("cannot accept a connection: {0}")]
    Accept(#[source] std::io::Error),
    /// The session failed.
    #[error(transparent)]
    Protocol(#[from] crate::protocol::ProtocolError),
}
