//! One private inference: the mixed protocol over a [`Channel`].
//!
//! Set-up (input-independent): handshake, 128 base OTs. Then per weighted layer:
//! 1. the layer's products on shares ([`super::linear`]): one random OT per choice bit
//!    (the evaluator's pixel bits, then its decoded masked activation bits), the
//!    garbler's correction vectors;
//! 2. the evaluator's shares into the stage circuit: Δ-correlated OTs give it their labels;
//! 3. the stage circuit, garbled with the garbler's shares and fresh output masks
//!    hard-wired, tables streamed, then the output decoding bits.
//!
//! One Δ, one IKNP instance and one garbler (so one tweak counter per domain) serve the
//! whole session, so no (input, tweak) pair is hashed twice; all are fresh per session.

use super::pipeline::{Pipeline, StagePlan};
use crate::channel::{Channel, Counting};
use crate::crypto::{Delta, Label, Prg, random_seed};
use crate::garble::{Evaluator, Garbler, decoding_bits};
use crate::ot::{IknpReceiver, IknpSender};
use crate::protocol::{ProtocolError, SessionReport};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The bits of `values` (each `m` bits, least significant first), with room for `extra`
/// more: allocated once, so no reallocation leaves a copy of a secret behind.
fn bits_of(values: &[u64], m: u32, extra: usize) -> Zeroizing<Vec<bool>> {
    let mut bits = Zeroizing::new(Vec::with_capacity(values.len() * m as usize + extra));
    for &v in values {
        bits.extend((0..m).map(|j| v >> j & 1 == 1));
    }
    bits
}

fn report<C: Channel>(
    channel: &Counting<C>,
    [start, setup, end]: [Instant; 3],
    layers: Vec<(String, Duration)>,
) -> SessionReport {
    SessionReport {
        bytes_sent: channel.sent(),
        bytes_received: channel.received(),
        setup: setup - start,
        online: end - setup,
        total: end - start,
        layers,
    }
}

/// The garbler's side: `values` are its weights and biases per weighted layer (see
/// [`super::ModelOwner`]). Learns nothing.
pub(super) fn run_garbler<C: Channel>(
    channel: C,
    pipeline: &Pipeline,
    values: &[(Vec<i64>, Vec<i64>)],
) -> Result<SessionReport, ProtocolError> {
    let pixels = pipeline.pixel_bits();
    let start = Instant::now();
    let mut channel = Counting::new(channel);
    pipeline.handshake().exchange(&mut channel)?;
    let delta = Delta::new(random_seed()?);
    let mut ot = IknpSender::setup(&mut channel, delta.clone())?;
    let mut masks_prg = Prg::from_os()?;
    let setup = Instant::now();

    let mut garbler = Garbler::new(&mut channel, delta);
    // The pixels reach the first layer unmasked: the evaluator knows them.
    let mut masks = Zeroizing::new(vec![false; pixels]);
    let mut layers = Vec::with_capacity(pipeline.stages.len());
    for (stage, (weights, bias)) in pipeline.stages.iter().zip(values) {
        let begin = Instant::now();
        let keys = ot.random(garbler.channel(), stage.choice_bits())?;
        let shares = stage.fanout.garbler_shares(
            garbler.channel(),
            (weights, bias),
            stage.in_bits,
            stage.ring_bits,
            &keys,
            &masks,
        )?;
        garbler.channel().flush()?;
        let zeros: Zeroizing<Vec<Label>> = Zeroizing::new(
            ot.extend_correlated(garbler.channel(), stage.share_bits())?
                .iter()
                .map(|&b| Label(b))
                .collect(),
        );
        let next = next_masks(stage, &mut masks_prg);
        let mut hardwired = bits_of(&shares, stage.ring_bits, next.len());
        hardwired.extend_from_slice(&next);
        let outputs = Zeroizing::new(garbler.garble(&stage.program, &hardwired, &zeros)?);
        garbler.channel().write_bits(&decoding_bits(&outputs))?;
        garbler.channel().flush()?;
        masks = next;
        layers.push((stage.name.clone(), begin.elapsed()));
    }
    drop(garbler);
    Ok(report(&channel, [start, setup, Instant::now()], layers))
}

/// Fresh masks for `stage`'s outputs (none for the last stage, whose output is the class).
fn next_masks(stage: &StagePlan, prg: &mut Prg) -> Zeroizing<Vec<bool>> {
    let n = if stage.last {
        0
    } else {
        stage.program.outputs().len()
    };
    Zeroizing::new((0..n).map(|_| prg.bit()).collect())
}

fn check_pixels(pipeline: &Pipeline, pixels: &[bool]) -> Result<(), ProtocolError> {
    if pixels.len() != pipeline.pixel_bits() {
        return Err(ProtocolError::InputCount {
            expected: pipeline.pixel_bits(),
            got: pixels.len(),
        });
    }
    Ok(())
}

/// The evaluator's side: `pixels` are its input bits (784 × input bits). Returns the
/// class bits, the only thing it learns.
pub(super) fn run_evaluator<C: Channel>(
    channel: C,
    pipeline: &Pipeline,
    pixels: &[bool],
) -> Result<(Vec<bool>, SessionReport), ProtocolError> {
    let start = Instant::now();
    let mut channel = Counting::new(channel);
    check_pixels(pipeline, pixels)?;
    pipeline.handshake().exchange(&mut channel)?;
    let mut ot = IknpReceiver::setup(&mut channel)?;
    let setup = Instant::now();

    let mut evaluator = Evaluator::new(&mut channel);
    let mut choices = Zeroizing::new(pixels.to_vec());
    let mut layers = Vec::with_capacity(pipeline.stages.len());
    for stage in &pipeline.stages {
        let begin = Instant::now();
        // Each stage's outputs are the next stage's choice bits, one per input bit.
        debug_assert_eq!(choices.len(), stage.choice_bits());
        let keys = ot.random(evaluator.channel(), &choices)?;
        let shares = stage.fanout.evaluator_shares(
            evaluator.channel(),
            stage.in_bits,
            stage.ring_bits,
            &keys,
            &choices,
        )?;
        let share_bits = bits_of(&shares, stage.ring_bits, 0);
        let own: Zeroizing<Vec<Label>> = Zeroizing::new(
            ot.extend_correlated(evaluator.channel(), &share_bits)?
                .iter()
                .map(|&b| Label(b))
                .collect(),
        );
        let labels = Zeroizing::new(evaluator.evaluate(&stage.program, &own)?);
        let decoding = evaluator.channel().read_bits(labels.len())?;
        choices = Zeroizing::new(
            labels
                .iter()
                .zip(decoding)
                .map(|(l, d)| l.pointer() ^ d)
                .collect(),
        );
        layers.push((stage.name.clone(), begin.elapsed()));
    }
    drop(evaluator);
    let end = Instant::now();
    Ok((
        choices.to_vec(),
        report(&channel, [start, setup, end], layers),
    ))
}
