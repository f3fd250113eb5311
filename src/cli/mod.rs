//! The logic behind the `gcnn` subcommands; `src/main.rs` only parses arguments.

pub mod accuracy;
mod ahead;
pub mod bench;
pub mod compile;
pub mod demo;
pub mod evaluator;
pub mod garbler;
pub mod import;
pub mod infer;
pub mod preprocess;
pub mod web;

use std::io::Write;
use std::path::PathBuf;

use crate::model::ModelSource;

use thiserror::Error;

use crate::inference::{Flow, Pipeline};
use crate::mnist::{Dataset, MnistError};
use crate::model::{Model, ModelError};
use crate::picture::PictureError;

/// `bytes` for people: B, kB or MB (decimal units).
pub fn human_bytes(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => format!("{:.2} MB", bytes as f64 / 1e6),
    }
}

/// Where `gcnn demo` and `gcnn bench` find the model and the test set.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The model (model.json and .npy tensors).
    pub model: ModelSource,
    /// Directory with the MNIST test set; `None` for the bundled one.
    pub mnist: Option<PathBuf>,
    /// The flow the evaluator asks for (the garbler serves every flow).
    pub flow: Flow,
}

/// What [`Setup::load`] returns: the model, the test set and the public pipeline.
pub struct Loaded {
    /// The model, for plaintext predictions and the garbler's weights.
    pub model: Model,
    /// The MNIST test set.
    pub test_set: Dataset,
    /// The public pipeline the evaluator runs, planned from `model.json` alone.
    pub pipeline: Pipeline,
}

impl Setup {
    /// Loads everything; progress goes to `log`.
    pub fn load(&self, log: &mut impl Write) -> Result<Loaded, CliError> {
        writeln!(log, "planning the pipeline of {} …", self.model).map_err(CliError::Output)?;
        let pipeline = Pipeline::load_for(&self.model, self.flow)?;
        let model = Model::load_from(&self.model)?;
        let test_set = crate::mnist::test_set(self.mnist.as_deref())?;
        Ok(Loaded {
            model,
            test_set,
            pipeline,
        })
    }
}

/// Fails unless `1..=len` test images hold `asked`.
pub(crate) fn check_count(asked: usize, len: usize) -> Result<(), CliError> {
    if asked == 0 || asked > len {
        return Err(CliError::TooManyImages { asked, len });
    }
    Ok(())
}

/// Why a subcommand failed.
#[derive(Debug, Error)]
pub enum CliError {
    /// The model directory is unusable.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The MNIST files are unusable.
    #[error(transparent)]
    Mnist(#[from] MnistError),
    /// A picture file is unusable.
    #[error(transparent)]
    Picture(#[from] PictureError),
    /// `--mnist-index` is past the end of the test set.
    #[error("test image {index} is out of range: the test set has {len} images")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// Number of images available.
        len: usize,
    },
    /// `--images` is zero or more than the test set holds.
    #[error("--images {asked}: need 1 to {len} (the test set's size)")]
    TooManyImages {
        /// Images asked for.
        asked: usize,
        /// Images in the test set.
        len: usize,
    },
    /// The garbler child process of `gcnn bench` could not be started or failed.
    #[error("garbler process: {0}")]
    Garbler(String),
    /// The operating system's random generator failed.
    #[error("cannot draw random image indices: {0}")]
    Random(#[from] getrandom::Error),
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
    /// The model cannot be served by the protocol.
    #[error(transparent)]
    Inference(#[from] crate::inference::InferenceError),
    /// The circuit file could not be read or written.
    #[error(transparent)]
    File(#[from] crate::circuit::file::FileError),
    /// Connecting or listening failed.
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
    /// Accepting a client failed.
    #[error("cannot accept a connection: {0}")]
    Accept(#[source] std::io::Error),
    /// The TLS certificate, key or name is unusable.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The session failed.
    #[error(transparent)]
    Protocol(#[from] crate::protocol::ProtocolError),
    /// The page's HTTP server could not start.
    #[error("cannot serve the page on {0}")]
    Web(String),
    /// The garbler serves another circuit than the client's circuit file or `model.json`.
    #[error(
        "the garbler serves a different model: this client's circuit file or model.json \
         is not the garbler's (the circuit files differ: hash ours {ours}, garbler's \
         {theirs}); use the circuit file or model.json the model owner publishes"
    )]
    ModelMismatch {
        /// The start of our pipeline's hash, in hex.
        ours: String,
        /// The start of the garbler's.
        theirs: String,
    },
    /// Some of the pictures named on standard input could not be classified.
    #[error("{failed} of the {lines} pictures named on standard input could not be read")]
    UnreadLines {
        /// Lines whose picture failed.
        failed: usize,
        /// Lines read.
        lines: usize,
    },
    /// A directory given as a picture holds none.
    #[error("{}: no pictures in this directory (files ending in .{})", dir.display(),
        crate::picture::decode::extensions().collect::<Vec<_>>().join(", ."))]
    NoPictures {
        /// The directory.
        dir: PathBuf,
    },
    /// A directory given as a picture cannot be listed.
    #[error("{}: cannot list this directory: {source}", dir.display())]
    ListDirectory {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// More pictures than one session classifies.
    #[error("{count} pictures: one run classifies at most {max}")]
    TooManyPictures {
        /// Pictures given.
        count: usize,
        /// The most one session takes.
        max: u32,
    },
    /// Standard input could not be read.
    #[error("cannot read standard input: {0}")]
    Input(#[source] std::io::Error),
    /// The ONNX model could not be imported.
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    /// The garbler's circuit file is not its model's.
    #[error(
        "{} was not compiled from the model ({model}): the circuit files differ; run \
         gcnn compile with the same --model",
        circuit.display()
    )]
    CircuitMismatch {
        /// The circuit file given.
        circuit: PathBuf,
        /// The model, as a person would name it.
        model: String,
    },
}

/// Where a party finds the public circuit it runs.
#[derive(Clone, Debug)]
pub enum Public {
    /// A mixed circuit file written by `gcnn compile`.
    Circuit(PathBuf),
    /// A model (a directory, or the bundled one), of which only `model.json` is read and
    /// compiled here for the flow (to the same bytes `gcnn compile --flow` would write).
    Model(ModelSource, Flow),
}

impl Public {
    /// The pipeline it describes.
    pub fn pipeline(&self) -> Result<Pipeline, CliError> {
        Ok(match self {
            Public::Circuit(path) => Pipeline::load_circuit(path)?,
            Public::Model(source, flow) => Pipeline::load_for(source, *flow)?,
        })
    }
}
