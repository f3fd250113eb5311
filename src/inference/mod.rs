//! Private inference: the model owner (garbler) and the client (evaluator) compute the
//! network's class without the client showing its image or the owner its weights.
//!
//! The protocol is mixed (the ABY/MiniONN idea, Demmler–Schneider–Zohner, NDSS 2015):
//! every weighted layer's sums of products are computed on additive shares by
//! oblivious transfer ([`linear`], Gilboa's multiplication), and only what is not
//! linear — requantization, ReLU, saturation, max and average pooling, arg-max — runs as a small
//! garbled circuit per layer ([`crate::compiler::stages`]), or, for a one-bit activation
//! of narrow shares and its pool, as table lookups by 1-out-of-`2^n` OT
//! ([`crate::ot::lookup`]). Between layers the evaluator
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

use crate::channel::{Channel, Counting};
use crate::compiler::network::{Arch, encode_image};
pub use crate::compiler::stages::Flow;
use crate::garble::GateScheme;
use crate::model::{Model, PixelView};
use crate::protocol::{Offer, ProtocolError, SessionReport, refuse_busy};

/// One weighted layer's private values: weights, bias.
type LayerValues = (Vec<i64>, Vec<i64>);

/// The model owner: the public pipelines of its model, one per [`Flow`], and its private
/// weights laid out for each.
pub struct ModelOwner {
    served: Vec<(Pipeline, Vec<LayerValues>)>,
}

impl ModelOwner {
    /// Plans `model`'s pipelines (every flow a client may ask for) and keeps its weights.
    pub fn new(model: &Model) -> Result<Self, InferenceError> {
        // The loader checks this too; a model built in code must not reach the sessions
        // with accumulators its ring would wrap.
        if let Err(e) = model.check_accumulators() {
            return Err(InferenceError::Unsupported(format!(
                "layer {}: {e}",
                e.layer
            )));
        }
        let arch = Arch::of(model);
        let mut served: Vec<(Pipeline, _)> = Vec::with_capacity(Flow::ALL.len());
        for flow in Flow::ALL {
            let pipeline = Pipeline::new_for(&arch, flow)?;
            // A model without a lookup stage compiles to one circuit whatever the flow.
            if served.iter().all(|(p, _)| p.hash() != pipeline.hash()) {
                let values = pipeline::layer_values(model, &pipeline);
                served.push((pipeline, values));
            }
        }
        Ok(ModelOwner { served })
    }

    /// The public pipeline this owner serves to a client of the default [`Flow`].
    pub fn pipeline(&self) -> &Pipeline {
        &self.served[0].0
    }

    /// Every pipeline this owner serves, the default's first: a client names one by
    /// its hash.
    pub fn pipelines(&self) -> impl Iterator<Item = &Pipeline> {
        self.served.iter().map(|(p, _)| p)
    }

    /// Serves one inference session over `channel`; learns nothing about the image.
    pub fn serve<C: Channel>(&self, channel: C) -> Result<SessionReport, ProtocolError> {
        self.admit(channel)?.serve()
    }

    /// Reads and checks a client's handshake from `channel`, so a server can decide
    /// whether to commit a worker to it before answering. The owner runs whichever gate
    /// scheme the client offers ([`GateScheme`]); a client whose handshake differs from
    /// ours otherwise gets ours, so it fails with the same reason; one asking for more
    /// than [`MAX_IMAGES`] images gets that number.
    pub fn admit<C: Channel>(&self, channel: C) -> Result<Admission<'_, C>, ProtocolError> {
        let mut channel = Counting::new(channel);
        let offer = Offer::read(&mut channel)?;
        let images = offer.images().clamp(1, MAX_IMAGES);
        let gate_scheme = offer.gate_scheme().unwrap_or_default();
        // The pipeline the client names, else the default's, so it fails saying so.
        let (pipeline, values) = self
            .served
            .iter()
            .find(|(p, _)| p.hash() == offer.circuit_hash())
            .unwrap_or(&self.served[0]);
        let ours = pipeline.handshake_for(gate_scheme, images);
        if let Err(e) = ours.check_offer(&offer) {
            // Best effort: the session fails with `e` whether or not the client hears.
            let _ = ours.answer(&mut channel);
            return Err(e);
        }
        Ok(Admission {
            pipeline,
            values,
            channel,
            images,
            gate_scheme,
        })
    }
}

/// A client whose handshake has been read and checked, not yet answered (see
/// [`ModelOwner::admit`]).
pub struct Admission<'a, C> {
    pipeline: &'a Pipeline,
    values: &'a [LayerValues],
    channel: Counting<C>,
    images: u32,
    gate_scheme: GateScheme,
}

impl<C: Channel> Admission<'_, C> {
    /// The client's channel, e.g. to give the session other limits than the handshake.
    pub fn channel_mut(&mut self) -> &mut C {
        self.channel.inner_mut()
    }

    /// The number of images the client asked for (at most [`MAX_IMAGES`]).
    pub fn images(&self) -> u32 {
        self.images
    }

    /// Answers the handshake and runs the session, all its images: the report sums
    /// them.
    pub fn serve(self) -> Result<SessionReport, ProtocolError> {
        session::run_garbler(
            self.channel,
            self.pipeline,
            self.values,
            self.images,
            self.gate_scheme,
        )
    }

    /// Tells the client that no worker is free.
    pub fn refuse_busy(mut self) -> Result<(), ProtocolError> {
        refuse_busy(&mut self.channel)
    }
}

/// Most images one session classifies: a server commits a worker to a session for as
/// long as its images take.
pub const MAX_IMAGES: u32 = 10_000;

/// Classifies `image` privately with the model owner on the other end of `channel`,
/// its ANDs garbled with half-gates. Returns the class, the only thing learnt.
pub fn classify<'a, C: Channel>(
    pipeline: &Pipeline,
    channel: C,
    image: impl Into<PixelView<'a>>,
) -> Result<(usize, SessionReport), ProtocolError> {
    classify_with(pipeline, channel, image, GateScheme::default())
}

/// [`classify`], offering the owner `gate_scheme` ([`prepare_with`]).
pub fn classify_with<'a, C: Channel>(
    pipeline: &Pipeline,
    channel: C,
    image: impl Into<PixelView<'a>>,
    gate_scheme: GateScheme,
) -> Result<(usize, SessionReport), ProtocolError> {
    let image = image.into();
    check_image(pipeline, image)?;
    prepare_with(pipeline, channel, gate_scheme)?.classify(image)
}

/// Runs a session's offline phase with the model owner on the other end of `channel`
/// before there is an image: then only the online phase, one round trip per weighted
/// layer (two for a layer on lookups with a pool), stands between an image and its class ([`Prepared::classify`]). The owner waits
/// for the image at most its per-message timeout. ANDs are garbled with half-gates
/// ([`prepare_with`] offers another scheme).
pub fn prepare<C: Channel>(
    pipeline: &Pipeline,
    channel: C,
) -> Result<Prepared<'_, C>, ProtocolError> {
    prepare_with(pipeline, channel, GateScheme::default())
}

/// [`prepare`], offering the owner `gate_scheme` for the session's ANDs: three halves
/// sends 25 bytes per AND instead of 32 and evaluates them a little slower.
pub fn prepare_with<C: Channel>(
    pipeline: &Pipeline,
    channel: C,
    gate_scheme: GateScheme,
) -> Result<Prepared<'_, C>, ProtocolError> {
    let link = session::connect(channel, pipeline, 1, gate_scheme)?;
    Ok(Prepared(link.prepare(pipeline)?))
}

/// A session whose offline phase is done (see [`prepare`]); good for one image.
pub struct Prepared<'p, C>(session::PreparedEvaluator<'p, C>);

impl<C: Channel> Prepared<'_, C> {
    /// Classifies `image` privately: the online phase only. The report's online time is
    /// the latency from the image to the class; the time spent waiting for the image
    /// counts in neither phase.
    pub fn classify<'a>(
        self,
        image: impl Into<PixelView<'a>>,
    ) -> Result<(usize, SessionReport), ProtocolError> {
        let (class, report, _) = finish(self.0, image.into())?;
        Ok((class, report))
    }
}

/// A session of several images with the model owner: one handshake and one set of base
/// OTs for all; each image then has its own offline and online phase, with fresh OTs,
/// labels and masks, under the session's Δ and a tweak counter that runs on.
pub struct Batch<'p, C> {
    pipeline: &'p Pipeline,
    link: Option<session::Link<C>>,
    images: u32,
    left: u32,
}

impl<'p, C: Channel> Batch<'p, C> {
    /// Opens a session of `images` images (1 to [`MAX_IMAGES`]) over `channel`, offering
    /// `gate_scheme`.
    pub fn open(
        pipeline: &'p Pipeline,
        channel: C,
        images: u32,
        gate_scheme: GateScheme,
    ) -> Result<Self, ProtocolError> {
        if !(1..=MAX_IMAGES).contains(&images) {
            return Err(ProtocolError::Handshake(format!(
                "a session classifies 1 to {MAX_IMAGES} images, not {images}"
            )));
        }
        Ok(Batch {
            pipeline,
            link: Some(session::connect(channel, pipeline, images, gate_scheme)?),
            images,
            left: images,
        })
    }

    /// Images the session has yet to classify.
    pub fn left(&self) -> u32 {
        self.left
    }

    /// Classifies the session's next image privately: its offline and online phase.
    /// The report is this image's (the first one's includes the handshake and base OTs).
    /// A failure ends the session: later calls return [`ProtocolError::SessionEnded`].
    pub fn classify<'a>(
        &mut self,
        image: impl Into<PixelView<'a>>,
    ) -> Result<(usize, SessionReport), ProtocolError> {
        let image = image.into();
        check_image(self.pipeline, image)?;
        let Some(link) = self.link.take() else {
            return Err(if self.left == 0 {
                ProtocolError::NoImagesLeft(self.images)
            } else {
                ProtocolError::SessionEnded
            });
        };
        let (class, report, link) = finish(link.prepare(self.pipeline)?, image)?;
        self.left -= 1;
        if self.left > 0 {
            self.link = Some(link);
        }
        Ok((class, report))
    }
}

/// The online phase of a prepared image: its class, its report, and the session.
fn finish<'p, C: Channel>(
    prepared: session::PreparedEvaluator<'p, C>,
    image: PixelView<'_>,
) -> Result<(usize, SessionReport, session::Link<C>), ProtocolError> {
    let pipeline = prepared.pipeline();
    check_image(pipeline, image)?;
    let pixels = zeroize::Zeroizing::new(encode_image(pipeline.input_bits(), image));
    let class_bits = pipeline.class_bits();
    let classes = pipeline.classes();
    let (bits, report, link) = prepared.finish(&pixels)?;
    if bits.len() != class_bits {
        return Err(ProtocolError::InvalidOutput(format!(
            "{} output bits, expected {class_bits}",
            bits.len(),
        )));
    }
    let class = bits
        .iter()
        .rev()
        .fold(0usize, |acc, &b| acc << 1 | usize::from(b));
    if class >= classes {
        return Err(ProtocolError::InvalidOutput(format!("class {class}")));
    }
    Ok((class, report, link))
}

fn check_image(pipeline: &Pipeline, image: PixelView<'_>) -> Result<(), ProtocolError> {
    if image.shape() != pipeline.input_shape() {
        return Err(ProtocolError::InputCount {
            expected: pipeline.pixel_bits(),
            got: image.shape().len() * pipeline.input_bits() as usize,
        });
    }
    Ok(())
}
