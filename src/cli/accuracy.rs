//! `gcnn accuracy`: the integer reference's accuracy on the MNIST test set.

use std::fmt;
use std::io::Write;
use std::path::Path;

use super::CliError;
use crate::mnist;
use crate::model::{Model, ModelSource, argmax};
use serde_json::json;

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

impl Accuracy {
    /// `{"correct": …, "total": …, "accuracy": …}`.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "correct": self.correct,
            "total": self.total,
            "accuracy": self.correct as f64 / self.total as f64,
        })
    }
}

impl fmt::Display for Accuracy {
    /// `accuracy: 0.9912 (9912/10000)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ratio = self.correct as f64 / self.total as f64;
        write!(f, "accuracy: {ratio:.4} ({}/{})", self.correct, self.total)
    }
}

/// Evaluates the model on the first `limit` (default all) test images in `mnist_dir`
/// (default the bundled set), writing a progress line to `progress` every 1000 images
/// and, given `per_image`, one JSON object per image to it.
pub fn run(
    model: &ModelSource,
    mnist_dir: Option<&Path>,
    limit: Option<usize>,
    mut per_image: Option<&mut dyn Write>,
    progress: &mut dyn Write,
) -> Result<Accuracy, CliError> {
    let model = Model::load_from(model)?;
    super::infer::check_shape(model.input)?;
    let data = mnist::test_set(mnist_dir)?;
    let total = limit.map_or(data.images.len(), |n| n.min(data.images.len()));
    if total == 0 {
        return Err(CliError::NoImages);
    }
    let mut correct = 0;
    for (i, (image, &label)) in data.images.iter().zip(&data.labels).take(total).enumerate() {
        let logits = model.logits(image);
        let prediction = argmax(&logits);
        correct += usize::from(prediction == usize::from(label));
        if let Some(out) = per_image.as_mut() {
            let object =
                json!({"index": i, "label": label, "prediction": prediction, "logits": logits});
            writeln!(out, "{object}").map_err(CliError::Output)?;
        }
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
