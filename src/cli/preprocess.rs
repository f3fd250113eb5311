//! `gcnn preprocess`: what the model will see of a picture.

use std::io::Write;
use std::path::Path;

use super::CliError;
use super::infer::{ImageSource, load};
use crate::model::{Model, ModelSource};
use crate::picture::show;

/// Preprocesses the picture at `image`, writes the 28×28 result to `png` if given, and
/// prints it on `out` at the input width of `model`; warnings go to `log`.
pub fn run(
    image: &Path,
    png: Option<&Path>,
    model: &ModelSource,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<(), CliError> {
    let bits = Model::load_architecture_from(model)?.input_bits;
    let inputs = load(&[ImageSource::File(image.to_path_buf())], None)?;
    let input = &inputs[0];
    input.describe(bits, false, log)?;
    if let Some(path) = png {
        show::write_png(&input.image, path)?;
        writeln!(log, "wrote {}", path.display()).map_err(CliError::Output)?;
    }
    writeln!(out, "{}", show::render(&input.image, bits)).map_err(CliError::Output)
}
