//! The garbler's side of a session: offline OTs, corrections and garbling; online its
//! shares' input labels.

use super::super::linear::Products;
use super::super::pipeline::Pipeline;
use super::super::ring;
use super::{bits_of, random_bits};
use crate::channel::{Channel, Counting};
use crate::crypto::{Delta, Label, Prg, random_seed};
use crate::garble::{GateScheme, SchemeGarbler, decoding_bits};
use crate::ot::SoftSpokenSender;
use crate::ot::softspoken::DEFAULT_K;
use crate::protocol::{ProtocolError, SessionReport};
use std::time::Instant;
use zeroize::Zeroizing;

/// What the garbler keeps of one stage from the offline phase.
struct GarblerStage {
    /// Its side of the layer's products for the evaluator's random choices.
    products: Products,
    /// The zero labels the stage was garbled with for its own share bits.
    zeros: Zeroizing<Vec<Label>>,
}

/// The garbler's side, once the evaluator's handshake has been read from `channel` and
/// found to match ours ([`crate::inference::ModelOwner::admit`]): `values` are its weights and biases per weighted layer (see
/// [`crate::inference::ModelOwner`]). Learns nothing. The offline and the online phase
/// each begin a channel phase ([`Channel::begin_phase`]). ANDs are garbled with
/// `gate_scheme`, the one the evaluator offered.
pub(in crate::inference) fn run_garbler<C: Channel>(
    mut channel: Counting<C>,
    pipeline: &Pipeline,
    values: &[(Vec<i64>, Vec<i64>)],
    gate_scheme: GateScheme,
) -> Result<SessionReport, ProtocolError> {
    let start = Instant::now();
    // Flushed at once: the client waits for it, and its base-OT point is already on
    // the way, so the points follow without a round trip of their own.
    pipeline.handshake_for(gate_scheme).answer(&mut channel)?;
    channel.begin_phase();
    let delta = Delta::new(random_seed()?);
    let mut ot = SoftSpokenSender::setup(&mut channel, delta.clone(), DEFAULT_K)?;
    let mut prg = Prg::from_os()?;
    // The OTs first, all of them: their matrices are the evaluator's only offline
    // message after the base OTs, and the shares' OT ends are the zero labels of its
    // share inputs.
    let mut ots = Vec::with_capacity(pipeline.stages.len());
    for stage in &pipeline.stages {
        let keys = ot.random(&mut channel, stage.choice_bits())?;
        let q = ot.extend_correlated(&mut channel, stage.share_bits())?;
        ots.push((keys, q));
    }
    // The pixels reach the first layer unmasked: the evaluator knows them.
    let mut masks = Zeroizing::new(vec![false; pipeline.pixel_bits()]);
    let mut offline = Vec::with_capacity(pipeline.stages.len());
    let mut garbler = SchemeGarbler::new(gate_scheme, &mut channel, delta.clone(), random_seed()?);
    for ((stage, (weights, bias)), (keys, q)) in pipeline.stages.iter().zip(values).zip(ots) {
        let products = stage.fanout.garbler_products(
            garbler.channel(),
            (weights, bias),
            stage.in_bits,
            stage.ring_bits,
            &keys,
            &masks,
        )?;
        drop(keys);
        let outputs = if stage.last {
            0
        } else {
            stage.program.outputs().len()
        };
        masks = random_bits(&mut prg, outputs);
        let zeros: Zeroizing<Vec<Label>> =
            Zeroizing::new((0..q.len()).map(|_| Label(prg.block())).collect());
        // The evaluator's share bits take the OT ends `q` as zero labels: its own ends
        // `q ⊕ R·Δ` are then its labels for its random share `R`, with no message.
        let mut inputs = Zeroizing::new(Vec::with_capacity(2 * q.len()));
        inputs.extend(q.iter().map(|&q| Label(q)));
        inputs.extend_from_slice(zeros.as_slice());
        let outputs = Zeroizing::new(garbler.garble(&stage.program, &masks, &inputs)?);
        garbler.channel().write_bits(&decoding_bits(&outputs))?;
        offline.push(GarblerStage { products, zeros });
    }
    garbler.channel().flush()?;
    drop(garbler);
    let setup = Instant::now();
    channel.begin_phase();

    let mut layers = Vec::with_capacity(pipeline.stages.len());
    for (stage, off) in pipeline.stages.iter().zip(offline) {
        let begin = Instant::now();
        let d = channel.read_bits(stage.choice_bits())?;
        let mut f = vec![0u64; stage.fanout.outputs()];
        ring::read(&mut channel, &mut f, stage.ring_bits, &mut Vec::new())?;
        // `G + f = acc − R`, the word whose labels the garbler sends.
        let mut share = off.products.share(&stage.fanout, stage.in_bits, &d);
        let mask = ring::mask(stage.ring_bits);
        share
            .iter_mut()
            .zip(&f)
            .for_each(|(g, f)| *g = g.wrapping_add(*f) & mask);
        let bits = bits_of(&share, stage.ring_bits);
        for (&zero, &b) in off.zeros.iter().zip(bits.iter()) {
            channel.write_block(zero.0 ^ delta.select(b))?;
        }
        channel.flush()?;
        layers.push((stage.name.clone(), begin.elapsed()));
    }
    Ok(SessionReport::new(
        &channel,
        [start, setup, Instant::now()],
        layers,
    ))
}
