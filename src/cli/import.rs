//! `gcnn import`: an ONNX model becomes a gcnn model directory (see [`crate::import`]),
//! with the accuracy it had as a float network, the accuracy it has as integers, and what
//! one private inference costs.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{CliError, human_bytes};
use crate::import::quantize::{self, Widths};
use crate::import::{FloatNet, ImportError};
use crate::inference::Pipeline;
use crate::mnist::{self, Dataset, Image};
use crate::model::{Model, Pixels};

/// Standard file names (without `.gz`) of the 60k training images and labels.
const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";

/// What `gcnn import` is asked to do.
#[derive(Clone, Debug)]
pub struct Request {
    /// The ONNX file.
    pub onnx: PathBuf,
    /// Model directory to write.
    pub out: PathBuf,
    /// Directory with the MNIST training set for calibration; `None`: the test set.
    pub calibrate: Option<PathBuf>,
    /// How many calibration images (the first ones).
    pub calibration_images: usize,
    /// Directory with the MNIST test set, for the accuracies.
    pub mnist: PathBuf,
    /// Bit widths (`B0/W1e/A1/…`); `None`: [`DEFAULT_BITS`].
    pub bits: Option<String>,
    /// One public bias width for every layer; `None`: per layer, the widest that does not
    /// widen its accumulator.
    pub bias_bits: Option<u32>,
}

/// Default widths, the same for every network: 4-bit pixels, 4-bit odd weights, 4-bit
/// activations: the cheapest of a sweep on the notebook's Keras LeNet that stays within
/// 0.3 points of its float accuracy (README, "Bring your own model").
pub const DEFAULT_BITS: &str = "4/4o/4";

/// What the import measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The widths used.
    pub widths: String,
    /// Test images the float network classifies correctly.
    pub float_correct: usize,
    /// Test images the integer model classifies correctly.
    pub int_correct: usize,
    /// Test images evaluated.
    pub total: usize,
    /// Bytes of one private inference, both directions.
    pub bytes: u64,
    /// Biases clipped to their public width.
    pub clipped_biases: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pct = |c: usize| 100.0 * c as f64 / self.total as f64;
        writeln!(f, "widths: {}", self.widths)?;
        writeln!(
            f,
            "float accuracy: {:.2} % ({}/{})",
            pct(self.float_correct),
            self.float_correct,
            self.total
        )?;
        writeln!(
            f,
            "integer accuracy: {:.2} % ({}/{})",
            pct(self.int_correct),
            self.int_correct,
            self.total
        )?;
        writeln!(
            f,
            "bytes per private inference: {} ({})",
            self.bytes,
            human_bytes(self.bytes)
        )?;
        if self.clipped_biases > 0 {
            writeln!(
                f,
                "biases clipped to their public width: {} (widen with --bias-bits)",
                self.clipped_biases
            )?;
        }
        Ok(())
    }
}

/// Runs the import; progress goes to `log`.
pub fn run(req: &Request, log: &mut dyn Write) -> Result<Report, CliError> {
    let out = |e| CliError::Output(e);
    let net = FloatNet::read(&req.onnx)?;
    if net.input != [mnist::SIDE, mnist::SIDE, 1] {
        return Err(ImportError::Input(format!(
            "the model takes {:?} (height, width, channels) images; calibration and accuracy use MNIST, 28x28x1",
            net.input
        ))
        .into());
    }
    let weighted = net.weighted().count();
    let spec = req.bits.as_deref().unwrap_or(DEFAULT_BITS);
    let widths = Widths::parse(spec, weighted).map_err(ImportError::Input)?;
    // Every file is read before the first progress line, so a bad path is the only line.
    let test = mnist::read_test_set(&req.mnist)?;
    let calibration = match &req.calibrate {
        Some(dir) => read_train_set(dir)?,
        None => test.clone(),
    };
    let names: Vec<&str> = net.layers.iter().map(|l| l.name()).collect();
    writeln!(
        log,
        "imported {}: {}",
        req.onnx.display(),
        names.join(" → ")
    )
    .map_err(out)?;

    if req.calibrate.is_none() {
        writeln!(log, "calibrating on the test set; give --calibrate DIR (the training set) for an unbiased figure").map_err(out)?;
    }
    let n = req
        .calibration_images
        .clamp(1, calibration.images.len().max(1));
    let calib: Vec<Pixels> = calibration.images[..n.min(calibration.images.len())]
        .iter()
        .map(Pixels::from)
        .collect();
    let labels: Vec<usize> = calibration.labels.iter().map(|&l| usize::from(l)).collect();
    writeln!(log, "calibrating {widths} on {} images …", calib.len()).map_err(out)?;
    let (model, clipped_biases) =
        quantize::quantize(&net, &widths, &calib, &labels[..calib.len()], req.bias_bits);
    model.save(&req.out)?;
    writeln!(log, "wrote {}", req.out.display()).map_err(out)?;

    let float_correct = count_correct(&test, |image, label| {
        net.predict(image.as_flattened()) == usize::from(label)
    });
    let pct = 100.0 * float_correct as f64 / test.images.len().max(1) as f64;
    writeln!(log, "float accuracy on the test set: {pct:.2} %").map_err(out)?;
    let model = Model::load(&req.out)?;
    let pipeline = Pipeline::load(&req.out)?;
    let bytes = pipeline
        .layer_costs()
        .iter()
        .map(|c| c.to_garbler + c.to_evaluator)
        .sum();
    let int_correct = count_correct(&test, |image, label| {
        model.predict(image) == usize::from(label)
    });
    Ok(Report {
        widths: widths.to_string(),
        float_correct,
        int_correct,
        total: test.images.len(),
        bytes,
        clipped_biases,
    })
}

/// Test images for which `correct` holds, counted on two threads.
fn count_correct(test: &Dataset, correct: impl Fn(&Image, u8) -> bool + Sync) -> usize {
    let pairs: Vec<(&Image, u8)> = test
        .images
        .iter()
        .zip(test.labels.iter().copied())
        .collect();
    let half = pairs.len().div_ceil(2).max(1);
    let correct = &correct;
    std::thread::scope(|s| {
        let parts: Vec<_> = pairs
            .chunks(half)
            .map(|chunk| s.spawn(move || chunk.iter().filter(|&&(i, l)| correct(i, l)).count()))
            .collect();
        parts
            .into_iter()
            .map(|h| h.join().expect("accuracy thread"))
            .sum()
    })
}

/// The MNIST training set in `dir`.
fn read_train_set(dir: &Path) -> Result<Dataset, CliError> {
    let images = mnist::find_file(dir, TRAIN_IMAGES)?;
    let labels = mnist::find_file(dir, TRAIN_LABELS)?;
    Ok(mnist::read_dataset(&images, &labels)?)
}
