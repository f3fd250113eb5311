//! `gcnn accuracy`: the integer reference's accuracy on the MNIST test set.

use std::fmt;
use std::io::Write;
use std::path::Path;

use super::CliError;
use crate::mnist;
use crate::model::Model;

/// Images between two progress lines.
const PROGRESS_EVERY: usize = 1000;

/// Correct predictions out of images evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accuracy {
    /// Images predicted correctly.
    pub correct: usize,
    /// Images evaluated (at least 1).
    pub total: usize,
}

impl fmt::Display for Accuracy {
    /// `accuracy: 0.9912 (9912/10000)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ratio = self.correct as f64 / self.total as f64;
        write!(f, "accuracy: {ratio:.4} ({}/{})", self.correct, self.total)
    }
}

/// Evaluates the model in `model_dir` on the first `limit` (default all) test images in
/// `mnist_dir`, writing a progress line to `progress` every 1000 images.
pub fn run(
    model_dir: &Path,
    mnist_dir: &Path,
    limit: Option<usize>,
    progress: &mut dyn Write,
) -> Result<Accuracy, CliError> {
    let model = Model::load(model_dir)?;
    model.check_input(crate::model::Pixels::mnist_shape())?;
    let data = mnist::read_test_set(mnist_dir)?;
    let total = limit.map_or(data.images.len(), |n| n.min(data.images.len()));
    if total == 0 {
        return Err(CliError::NoImages);
    }
    let mut correct = 0;
    for (i, (image, &label)) in data.images.iter().zip(&data.labels).take(total).enumerate() {
        correct += usize::from(model.predict(image) == usize::from(label));
        if (i + 1) % PROGRESS_EVERY == 0 || i + 1 == total {
            writeln!(
                progress,
                "evaluated {}/{total} images, {correct} correct",
                i + 1
            )
            .map_err(CliError::Output)?;
        }
    }
    Ok(Accuracy { correct, total })
}

#[cfg(test)]
mod tests {
    use super::Accuracy;

    #[test]
    fn display_has_four_decimals() {
        let a = Accuracy {
            correct: 9912,
            total: 10000,
        };
        assert_eq!(a.to_string(), "accuracy: 0.9912 (9912/10000)");
        let b = Accuracy {
            correct: 2,
            total: 3,
        };
        assert_eq!(b.to_string(), "accuracy: 0.6667 (2/3)");
    }
}
