//! `gcnn evaluator`: the client classifies one image privately.

use std::path::Path;
use std::time::Duration;

use super::CliError;
use super::infer::{ImageSource, load};
use crate::channel::TcpChannel;
use crate::inference::{Pipeline, classify};
use crate::mnist::Image;
use crate::protocol::{ProtocolError, SessionReport};
use crate::tls::ClientTls;

/// A private classification's outcome.
pub struct PrivateInference {
    /// The class the evaluator decoded.
    pub prediction: u8,
    /// The true class, for test-set images.
    pub label: Option<u8>,
    /// Costs seen by the evaluator.
    pub report: SessionReport,
}

/// Connects to the garbler at `addr` and classifies the image from `source`, with the
/// architecture in `model_dir/model.json` (the only file of the model it reads); over TLS
/// if `tls_ca` names the PEM file of the certificates to trust.
pub fn run(
    model_dir: &Path,
    addr: &str,
    source: &ImageSource,
    timeout: Duration,
    tls_ca: Option<&Path>,
) -> Result<PrivateInference, CliError> {
    let tls = tls_ca
        .map(|ca| ClientTls::load(ca, crate::tls::host_of(addr)))
        .transpose()?;
    let (image, label) = load(source)?;
    let pipeline = Pipeline::load(model_dir)?;
    let (prediction, report) = classify_at(&pipeline, addr, &image, timeout, tls.as_ref())?;
    Ok(PrivateInference {
        prediction,
        label,
        report,
    })
}

/// Connects to the garbler at `addr` (waiting at most `timeout` for it to listen) and
/// classifies `image` privately.
pub fn connect_and_classify(
    pipeline: &Pipeline,
    addr: &str,
    image: &Image,
    timeout: Duration,
) -> Result<(u8, SessionReport), CliError> {
    classify_at(pipeline, addr, image, timeout, None)
}

/// [`connect_and_classify`], over TLS with `tls` if given.
pub fn classify_at(
    pipeline: &Pipeline,
    addr: &str,
    image: &Image,
    timeout: Duration,
    tls: Option<&ClientTls>,
) -> Result<(u8, SessionReport), CliError> {
    let stream = crate::net::connect_within(addr, timeout)?;
    let channel = match tls {
        Some(tls) => tls.channel(stream, timeout),
        None => TcpChannel::new(stream, timeout),
    }
    .map_err(ProtocolError::from)?;
    Ok(classify(pipeline, channel, image)?)
}
