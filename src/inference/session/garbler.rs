//! The garbler's side of a session: offline OTs and garbling, online corrections,
//! share differences and input labels.

use super::super::pipeline::Pipeline;
use super::super::ring;
use super::bits_of;
use crate::channel::{Channel, Counting};
use crate::crypto::{Block, Delta, Label, Prg, random_seed};
use crate::garble::{Garbler, decoding_bits};
use crate::ot::SoftSpokenSender;
use crate::ot::softspoken::DEFAULT_K;
use crate::protocol::{ProtocolError, SessionReport};
use std::time::Instant;
use zeroize::Zeroizing;

/// What the garbler keeps of one stage from the offline phase.
struct GarblerStage {
    /// Random-OT key pairs for the layer's products.
    keys: Zeroizing<Vec<[Block; 2]>>,
    /// Its correlated-OT ends `q` for the share bits.
    q: Zeroizing<Vec<Block>>,
    /// The zero labels the stage was garbled with for the evaluator's share bits.
    zeros: Zeroizing<Vec<Label>>,
    /// Its hard-wired share `S`.
    share: Zeroizing<Vec<u64>>,
    /// The masks on the stage's outputs (the next layer's inputs); empty for the last.
    masks: Zeroizing<Vec<bool>>,
}

/// The garbler's side, once the evaluator's handshake has been read from `channel` and
/// found to match ours ([`crate::inference::ModelOwner::admit`]): `values` are its weights and biases per weighted layer (see
/// [`crate::inference::ModelOwner`]). Learns nothing. The offline and the online phase
/// each begin a channel phase ([`Channel::begin_phase`]).
pub(in crate::inference) fn run_garbler<C: Channel>(
    mut channel: Counting<C>,
    pipeline: &Pipeline,
    values: &[(Vec<i64>, Vec<i64>)],
) -> Result<SessionReport, ProtocolError> {
    let start = Instant::now();
    pipeline.handshake().answer(&mut channel)?;
    channel.begin_phase();
    let delta = Delta::new(random_seed()?);
    let mut ot = SoftSpokenSender::setup(&mut channel, delta.clone(), DEFAULT_K)?;
    let mut prg = Prg::from_os()?;
    let mut offline = Vec::with_capacity(pipeline.stages.len());
    for stage in &pipeline.stages {
        let keys = ot.random(&mut channel, stage.choice_bits())?;
        let q = ot.extend_correlated(&mut channel, stage.share_bits())?;
        let mask = ring::mask(stage.ring_bits);
        let n = stage.fanout.outputs();
        let share = Zeroizing::new((0..n).map(|_| prg.block().0 as u64 & mask).collect());
        let outputs = if stage.last {
            0
        } else {
            stage.program.outputs().len()
        };
        let masks = Zeroizing::new((0..outputs).map(|_| prg.bit()).collect());
        let zeros = Zeroizing::new((0..q.len()).map(|_| Label(prg.block())).collect());
        offline.push(GarblerStage {
            keys,
            q,
            zeros,
            share,
            masks,
        });
    }
    let mut garbler = Garbler::new(&mut channel, delta.clone());
    for (stage, off) in pipeline.stages.iter().zip(&offline) {
        let mut hardwired = bits_of(&off.share, stage.ring_bits, off.masks.len());
        hardwired.extend_from_slice(&off.masks);
        let outputs = Zeroizing::new(garbler.garble(&stage.program, &hardwired, &off.zeros)?);
        garbler.channel().write_bits(&decoding_bits(&outputs))?;
    }
    garbler.channel().flush()?;
    drop(garbler);
    let setup = Instant::now();
    channel.begin_phase();

    // The pixels reach the first layer unmasked: the evaluator knows them. Each stage's
    // offline secrets are dropped (wiped) once its layer is done, its masks one layer later.
    let mut masks = Zeroizing::new(vec![false; pipeline.pixel_bits()]);
    let mut layers = Vec::with_capacity(pipeline.stages.len());
    for ((stage, (weights, bias)), mut off) in pipeline.stages.iter().zip(values).zip(offline) {
        let begin = Instant::now();
        let d = channel.read_bits(stage.choice_bits())?;
        let keys: Zeroizing<Vec<[Block; 2]>> = Zeroizing::new(
            off.keys
                .iter()
                .zip(&d)
                .map(|(&[k0, k1], &dj)| if dj { [k1, k0] } else { [k0, k1] })
                .collect(),
        );
        let g = stage.fanout.garbler_shares(
            &mut channel,
            (weights, bias),
            stage.in_bits,
            stage.ring_bits,
            &keys,
            &masks,
        )?;
        let mask = ring::mask(stage.ring_bits);
        let delta_share: Vec<u64> = g
            .iter()
            .zip(off.share.iter())
            .map(|(&g, &s)| g.wrapping_sub(s) & mask)
            .collect();
        ring::write(&mut channel, &delta_share, stage.ring_bits, &mut Vec::new())?;
        channel.flush()?;
        let e = channel.read_bits(stage.share_bits())?;
        for ((&l, &q), &ej) in off.zeros.iter().zip(off.q.iter()).zip(&e) {
            channel.write_block(l.0 ^ q ^ delta.select(ej))?;
        }
        channel.flush()?;
        masks = std::mem::take(&mut off.masks);
        layers.push((stage.name.clone(), begin.elapsed()));
    }
    Ok(SessionReport::new(
        &channel,
        [start, setup, Instant::now()],
        layers,
    ))
}
