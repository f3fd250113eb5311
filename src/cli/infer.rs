//! The images every classifying command takes — picture files through the MNIST-style
//! preprocessing ([`crate::picture`]), or test-set images by index — and `gcnn infer`,
//! classification with the plaintext integer reference.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;

use super::CliError;
use crate::mnist::{self, Image};
use crate::model::{Hwc, Model, ModelError, ModelSource, argmax};
use crate::picture::{self, Prepared, show};

/// Where one image to classify comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageSource {
    /// Image `index` of the MNIST test set.
    Mnist(usize),
    /// A picture file (any common format or a uint8 `.npy`), preprocessed MNIST-style.
    File(PathBuf),
}

/// One image ready for the model, with where it came from.
#[derive(Clone, Debug)]
pub struct Input {
    /// Where it came from.
    pub source: ImageSource,
    /// The 28×28 image the model sees (before its input quantization).
    pub image: Image,
    /// The true digit, for test-set images.
    pub label: Option<u8>,
    /// What the preprocessing did, for picture files.
    pub prepared: Option<Prepared>,
}

impl Input {
    /// `digit.png` or `test image 12`, for people.
    pub fn name(&self) -> String {
        match &self.source {
            ImageSource::File(path) => path.display().to_string(),
            ImageSource::Mnist(index) => format!("test image {index}"),
        }
    }

    /// `"file": …` or `"index": …`, and the label if known, for JSON output.
    pub fn json_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut fields = serde_json::Map::new();
        match &self.source {
            ImageSource::File(path) => {
                fields.insert("file".into(), json!(path.display().to_string()));
            }
            ImageSource::Mnist(index) => {
                fields.insert("index".into(), json!(index));
            }
        }
        if let Some(label) = self.label {
            fields.insert("label".into(), json!(label));
        }
        fields
    }

    /// Writes the preprocessing's warnings to `log`, and with `verbose` what it did and
    /// the image at the model's input width `bits`.
    pub fn describe(&self, bits: u32, verbose: bool, log: &mut dyn Write) -> Result<(), CliError> {
        let name = self.name();
        let mut say = |line: String| writeln!(log, "{line}").map_err(CliError::Output);
        if let Some(prepared) = &self.prepared {
            for warning in &prepared.warnings {
                say(format!("warning: {name}: {warning}"))?;
            }
            if verbose {
                let what = match (prepared.unchanged, prepared.inverted) {
                    (true, false) => "already an MNIST-style digit, used as it is",
                    (true, true) => "an MNIST-style digit with its colours inverted back",
                    (false, true) => {
                        "dark on light: inverted, contrast stretched, fitted in 20x20, centred by mass"
                    }
                    (false, false) => "contrast stretched, fitted in 20x20, centred by mass",
                };
                say(format!("{name}: {what}"))?;
            }
        }
        if verbose {
            say(format!("{name}, as the model sees it:"))?;
            say(show::render(&self.image, bits))?;
        }
        Ok(())
    }
}

/// Loads every image in `sources`; the test set (from `mnist`, else the bundled one) is
/// read once, and only if an index asks for it.
pub fn load(sources: &[ImageSource], mnist: Option<&Path>) -> Result<Vec<Input>, CliError> {
    let sources = expand_directories(sources)?;
    let needs_test_set = sources.iter().any(|s| matches!(s, ImageSource::Mnist(_)));
    let test_set = needs_test_set.then(|| mnist::test_set(mnist)).transpose()?;
    sources
        .iter()
        .map(|source| match source {
            ImageSource::File(path) => {
                let prepared = picture::read(path)?;
                Ok(Input {
                    source: source.clone(),
                    image: prepared.image,
                    label: None,
                    prepared: Some(prepared),
                })
            }
            ImageSource::Mnist(index) => {
                let data = test_set.as_ref().expect("loaded when an index is given");
                match (data.images.get(*index), data.labels.get(*index)) {
                    (Some(image), Some(&label)) => Ok(Input {
                        source: source.clone(),
                        image: *image,
                        label: Some(label),
                        prepared: None,
                    }),
                    _ => Err(CliError::IndexOutOfRange {
                        index: *index,
                        len: data.images.len(),
                    }),
                }
            }
        })
        .collect()
}

/// `sources` with each directory replaced by the pictures in it (by their names'
/// extensions, [`picture::decode::named_as_picture`], not recursively), in the order of
/// their names; a directory without any is an error.
fn expand_directories(sources: &[ImageSource]) -> Result<Vec<ImageSource>, CliError> {
    let mut out = Vec::with_capacity(sources.len());
    for source in sources {
        match source {
            ImageSource::File(dir) if dir.is_dir() => {
                let list = |source| CliError::ListDirectory {
                    dir: dir.clone(),
                    source,
                };
                let mut pictures = Vec::new();
                for entry in std::fs::read_dir(dir).map_err(list)? {
                    let path = entry.map_err(list)?.path();
                    if path.is_file() && picture::decode::named_as_picture(&path) {
                        pictures.push(path);
                    }
                }
                if pictures.is_empty() {
                    return Err(CliError::NoPictures { dir: dir.clone() });
                }
                pictures.sort();
                out.extend(pictures.into_iter().map(ImageSource::File));
            }
            other => out.push(other.clone()),
        }
    }
    Ok(out)
}

/// The shape of every image these commands take: a picture preprocessed MNIST-style,
/// or an MNIST test image.
pub const IMAGE_SHAPE: Hwc = Hwc {
    height: mnist::SIDE,
    width: mnist::SIDE,
    channels: 1,
};

/// Fails unless a model taking `input` can classify 28×28 grayscale digits.
pub fn check_shape(input: Hwc) -> Result<(), CliError> {
    if input == IMAGE_SHAPE {
        Ok(())
    } else {
        Err(CliError::Model(ModelError::InputShape {
            found: IMAGE_SHAPE,
            expected: input,
        }))
    }
}

/// How `infer`, `evaluator` and `demo` print their results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Show {
    /// One JSON object per image on stdout instead of text.
    pub json: bool,
    /// Print on stderr what the preprocessing did and the image the model sees.
    pub verbose: bool,
}

/// `gcnn infer`: classifies each image with the plaintext integer reference, one line
/// (or JSON object) per image on `out`; warnings and `verbose` output go to `log`.
pub fn run(
    model: &ModelSource,
    sources: &[ImageSource],
    mnist: Option<&Path>,
    show: Show,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<(), CliError> {
    let model = Model::load_from(model)?;
    check_shape(model.input)?;
    for input in load(sources, mnist)? {
        input.describe(model.input_bits, show.verbose, log)?;
        let start = Instant::now();
        let logits = model.logits(&input.image);
        let prediction = argmax(&logits);
        let seconds = start.elapsed().as_secs_f64();
        let line = if show.json {
            let mut fields = input.json_fields();
            fields.insert("prediction".into(), json!(prediction));
            fields.insert("logits".into(), json!(logits));
            fields.insert("seconds".into(), json!(seconds));
            serde_json::Value::Object(fields).to_string()
        } else {
            text_line(&input, prediction)
        };
        writeln!(out, "{line}").map_err(CliError::Output)?;
    }
    Ok(())
}

/// `prediction: 7  (digit.png)`, with the label when known.
pub fn text_line(input: &Input, prediction: usize) -> String {
    match input.label {
        Some(label) => format!(
            "prediction: {prediction}  ({}, label {label})",
            input.name()
        ),
        None => format!("prediction: {prediction}  ({})", input.name()),
    }
}
