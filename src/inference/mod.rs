//! Private inference: the model owner (garbler) and the client (evaluator) compute the
//! network's class without the client showing its image or the owner its weights.
//!
//! The protocol is mixed (the ABY/MiniONN idea, Demmler–Schneider–Zohner, NDSS 2015):
//! every weighted layer's sums of products are computed on additive shares by
//! oblivious transfer ([`linear`], Gilboa's multiplication), and only what is not
//! linear — requantization, ReLU, saturation, max and average pooling, arg-max — runs as a small
//! garbled circuit per layer ([`crate::compiler::stages`]). Between layers the evaluator
//! decodes the activations XOR fresh garbler masks, uniformly random to it, and uses them
//! as its choice bits for the next layer's transfers.
//!
//! Who knows what (semi-honest): the architecture, bit widths and shifts are public
//! (both derive the [`Pipeline`] from `model.json`, and compare its hash in the
//! handshake). Weights and biases never leave the garbler: they enter only the
//! correction vectors, masked by OT keys the evaluator does not hold, and the garbler's
//! shares, hard-wired into garbled tables. Pixels never leave the evaluator: they are
//! its OT choice bits. The evaluator decodes only masked activations and, at the end,
//! the bits of the class. Each session draws a fresh Δ, labels, OTs and masks.

mod error;
pub mod linear;
mod pipeline;
mod ring;
mod session;

pub use error::InferenceError;
pub use pipeline::{LayerCost, Pipeline, SetupCost};

use crate::channel::Channel;
use crate::compiler::network::{Arch, encode_image};
use crate::model::{Model, PixelView};
use crate::protocol::{ProtocolError, SessionReport};

/// The model owner: the public pipeline and its private weights.
pub struct ModelOwner {
    pipeline: Pipeline,
    values: Vec<(Vec<i64>, Vec<i64>)>,
}

impl ModelOwner {
    /// Plans `model`'s pipeline and keeps its weights.
    pub fn new(model: &Model) -> Result<Self, InferenceError> {
        let pipeline = Pipeline::new(&Arch::of(model))?;
        Ok(ModelOwner {
            values: pipeline::layer_values(model, &pipeline),
            pipeline,
        })
    }

    /// The public pipeline this owner serves.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Serves one inference session over `channel`; learns nothing about the image.
    pub fn serve<C: Channel>(&self, channel: C) -> Result<SessionReport, ProtocolError> {
        session::run_garbler(channel, &self.pipeline, &self.values)
    }
}

/// Classifies `image` privately with the model owner on the other end of `channel`.
/// Returns the class, the only thing learnt.
pub fn classify<'a, C: Channel>(
    pipeline: &Pipeline,
    channel: C,
    image: impl Into<PixelView<'a>>,
) -> Result<(usize, SessionReport), ProtocolError> {
    let image = image.into();
    if image.shape() != pipeline.input_shape() {
        return Err(ProtocolError::InputCount {
            expected: pipeline.pixel_bits(),
            got: image.shape().len() * pipeline.input_bits() as usize,
        });
    }
    let pixels = zeroize::Zeroizing::new(encode_image(pipeline.input_bits(), image));
    let (bits, report) = session::run_evaluator(channel, pipeline, &pixels)?;
    if bits.len() != pipeline.class_bits() {
        return Err(ProtocolError::InvalidOutput(format!(
            "{} output bits, expected {}",
            bits.len(),
            pipeline.class_bits()
        )));
    }
    let class = bits
        .iter()
        .rev()
        .fold(0usize, |acc, &b| acc << 1 | usize::from(b));
    if class >= pipeline.classes() {
        return Err(ProtocolError::InvalidOutput(format!("class {class}")));
    }
    Ok((class, report))
}
