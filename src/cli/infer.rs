//! `gcnn infer --plain`: classify one image with the plaintext integer reference.

use std::path::{Path, PathBuf};

use super::CliError;
use crate::image::read_image;
use crate::mnist::{self, Image};
use crate::model::Model;

/// Where the image to classify comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageSource {
    /// Image `index` of the MNIST test set in directory `dir`.
    Mnist {
        /// Directory holding the t10k idx files.
        dir: PathBuf,
        /// Position in the test set.
        index: usize,
    },
    /// A PNG or `.npy` file.
    File(PathBuf),
}

/// The outcome of a plaintext inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inference {
    /// The predicted digit.
    pub prediction: usize,
    /// The true digit, when the image came from the labelled test set.
    pub label: Option<u8>,
}

/// Loads the image described by `source`, with its label if it has one.
pub(crate) fn load(source: &ImageSource) -> Result<(Image, Option<u8>), CliError> {
    match source {
        ImageSource::File(path) => Ok((read_image(path)?, None)),
        ImageSource::Mnist { dir, index } => {
            let data = mnist::read_test_set(dir)?;
            match (data.images.get(*index), data.labels.get(*index)) {
                (Some(image), Some(&label)) => Ok((*image, Some(label))),
                _ => Err(CliError::IndexOutOfRange {
                    index: *index,
                    len: data.images.len(),
                }),
            }
        }
    }
}

/// Classifies one image with the model in `model_dir`.
pub fn run_plain(model_dir: &Path, source: &ImageSource) -> Result<Inference, CliError> {
    let model = Model::load(model_dir)?;
    let (image, label) = load(source)?;
    model.check_input(crate::model::PixelView::from(&image).shape())?;
    Ok(Inference {
        prediction: model.predict(&image),
        label,
    })
}
