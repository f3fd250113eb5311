//! `gcnn evaluator`: the client classifies one image privately.

use std::time::Duration;

use super::infer::{ImageSource, load};
use super::{CliError, Public};
use crate::channel::TcpChannel;
use crate::inference::{Pipeline, classify};
use crate::model::PixelView;
use crate::protocol::{ProtocolError, SessionReport};

/// A private classification's outcome.
pub struct PrivateInference {
    /// The class the evaluator decoded.
    pub prediction: usize,
    /// The true class, for test-set images.
    pub label: Option<u8>,
    /// Costs seen by the evaluator.
    pub report: SessionReport,
}

/// Connects to the garbler at `addr` and classifies the image from `source`, running the
/// public circuit `public` (a mixed circuit file, or a model's `model.json`, the only
/// file of the model it reads).
pub fn run(
    public: &Public,
    addr: &str,
    source: &ImageSource,
    timeout: Duration,
) -> Result<PrivateInference, CliError> {
    let (image, label) = load(source)?;
    let pipeline = public.pipeline()?;
    let (prediction, report) = connect_and_classify(&pipeline, addr, &image, timeout)?;
    Ok(PrivateInference {
        prediction,
        label,
        report,
    })
}

/// Connects to the garbler at `addr` (waiting at most `timeout` for it to listen) and
/// classifies `image` privately.
pub fn connect_and_classify<'a>(
    pipeline: &Pipeline,
    addr: &str,
    image: impl Into<PixelView<'a>>,
    timeout: Duration,
) -> Result<(usize, SessionReport), CliError> {
    let stream = crate::net::connect_within(addr, timeout)?;
    let channel = TcpChannel::new(stream, timeout).map_err(ProtocolError::from)?;
    Ok(classify(pipeline, channel, image)?)
}
